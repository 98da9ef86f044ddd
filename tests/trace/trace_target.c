/* uprobe / uretprobe / USDT target for tests/trace: `trace_target N [MS]` calls add(i, 2*i) and greet() N times and fires
 * USDT trace:tick(i, -i) and run_cb(tick_cb) each time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

static volatile long sink;

__attribute__((noinline)) int add(int a, int b)
{
	sink += a;
	return a + b;
}

__attribute__((noinline)) const char *greet(const char *who)
{
	sink++;
	return who;
}

__attribute__((noinline)) void tick_cb(void)
{
	sink++;
}

__attribute__((noinline)) void run_cb(void (*cb)(void))
{
	cb();
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long total = 0;
	for (int i = 0; i < n; i++) {
		total += add(i, 2 * i);
		greet(i % 2 ? "odd" : "even");
		DTRACE_PROBE2(trace, tick, i, (long)-i);
		run_cb(tick_cb);
	}
	printf("%ld\n", total);
	fflush(stdout);
	if (argc > 2) /* linger (ms): user symbols resolve while the process lives */
		usleep(atoi(argv[2]) * 1000);
	return 0;
}
