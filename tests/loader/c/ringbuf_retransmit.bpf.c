// Ring-buffer producer on the tcp:tcp_retransmit_skb tracepoint.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* /sys/kernel/tracing/events/tcp/tcp_retransmit_skb/format (stable since 4.16) */
struct tcp_retransmit_skb_args {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

struct event {
	__u32 pid;
	__u16 sport;
	__u16 dport;
	__u8 daddr[4];
	__u32 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_retransmit(struct tcp_retransmit_skb_args *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	__builtin_memcpy(e->daddr, ctx->daddr, 4);
	e->state = ctx->state;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
