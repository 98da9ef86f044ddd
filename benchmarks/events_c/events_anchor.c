/* libbpf anchor for benchmarks/events_speed.py: the same map, program and producer, read by libbpf instead of pyebpf.
 *
 *   events_anchor ring|perf drain|stream MAP_FD [PERF_PAGES]
 *
 * MAP_FD is inherited from the Python benchmark, which loaded and attached the program. Records are
 * {u64 ktime_ns, u32 seq, u32 pid} (events_speed.RECORD). Protocol on stdin/stdout:
 *   - the anchor sets up its reader (perf: its own BPF_OUTPUT events, put in the map) and prints "ready";
 *   - drain: it waits for one line on stdin, then times ring_buffer__consume / perf_buffer__consume of what the
 *     benchmark produced meanwhile, each record copied into a growing array (kept, as pyebpf's list keeps them);
 *   - stream: it polls (epoll, 50 ms timeout, as the Python reader does) until stdin reaches EOF, then consumes
 *     what is left; it samples the kernel-to-user latency of every 16th record, as the Python reader does.
 * It prints one line of key=value pairs: records, cpu_ns (process CPU of the reading), gaps (sequence
 * discontinuities), lost (perf LOST counts), lat_median_ns, lat_p99_ns, samples, passes (polls that returned
 * records).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct record {
	uint64_t ts;
	uint32_t seq;
	uint32_t pid;
};

static struct {
	uint64_t n, gaps, lost, passes;
	int64_t last_seq;
	int stream;
	struct record *kept;
	size_t kept_cap;
	int64_t *lat;
	size_t lat_n, lat_cap;
} st = { .last_seq = -1 };

static int64_t now_ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 1 << 16;
	while (*cap < need)
		*cap *= 2;
	p = realloc(p, *cap * elem);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	return p;
}

static void on_record(const void *data, size_t size)
{
	struct record r = {0};
	memcpy(&r, data, size < sizeof(r) ? size : sizeof(r));
	if (st.stream) {
		if ((st.n & 15) == 0) {
			st.lat = grow(st.lat, &st.lat_cap, st.lat_n + 1, sizeof(*st.lat));
			st.lat[st.lat_n++] = now_ns(CLOCK_MONOTONIC) - (int64_t)r.ts;
		}
	} else {
		st.kept = grow(st.kept, &st.kept_cap, st.n + 1, sizeof(*st.kept));
		st.kept[st.n] = r;
	}
	if ((int64_t)r.seq != st.last_seq + 1)
		st.gaps++;
	st.last_seq = r.seq;
	st.n++;
}

static int ring_cb(void *ctx, void *data, size_t size)
{
	on_record(data, size);
	return 0;
}

static void perf_cb(void *ctx, int cpu, void *data, __u32 size)
{
	on_record(data, size);
}

static void perf_lost_cb(void *ctx, int cpu, __u64 cnt)
{
	st.lost += cnt;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int stdin_closed(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char buf[64];
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return read(0, buf, sizeof(buf)) <= 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s ring|perf drain|stream MAP_FD [PERF_PAGES]\n", argv[0]);
		return 2;
	}
	int ring = !strcmp(argv[1], "ring");
	st.stream = !strcmp(argv[2], "stream");
	int map_fd = atoi(argv[3]);
	size_t pages = argc > 4 ? strtoul(argv[4], NULL, 0) : 256;
	struct ring_buffer *rb = NULL;
	struct perf_buffer *pb = NULL;
	if (ring)
		rb = ring_buffer__new(map_fd, ring_cb, NULL, NULL);
	else
		pb = perf_buffer__new(map_fd, pages, perf_cb, perf_lost_cb, NULL, NULL);
	if (!rb && !pb) {
		fprintf(stderr, "events_anchor: %s reader: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int64_t c0, c1;
	if (!st.stream) {
		char line[64];
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		int err = ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
		c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		if (err < 0) {
			fprintf(stderr, "events_anchor: consume: %s\n", strerror(-err));
			return 1;
		}
	} else {
		c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		while (!stdin_closed()) {
			int err = ring ? ring_buffer__poll(rb, 50) : perf_buffer__poll(pb, 50);
			st.passes += err > 0;
			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "events_anchor: poll: %s\n", strerror(-err));
				return 1;
			}
		}
		while ((ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb)) > 0)
			;
		c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	}
	qsort(st.lat, st.lat_n, sizeof(*st.lat), cmp64);
	printf("records=%llu cpu_ns=%lld gaps=%llu lost=%llu lat_median_ns=%lld lat_p99_ns=%lld samples=%zu "
	       "passes=%llu\n",
	       (unsigned long long)st.n, (long long)(c1 - c0), (unsigned long long)st.gaps,
	       (unsigned long long)st.lost, st.lat_n ? (long long)st.lat[st.lat_n / 2] : -1LL,
	       st.lat_n ? (long long)st.lat[(size_t)(st.lat_n * 0.99)] : -1LL, st.lat_n,
	       (unsigned long long)st.passes);
	ring_buffer__free(rb);
	perf_buffer__free(pb);
	return 0;
}
