#include "common.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); }
	mixed SEC(".maps");
static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b)
{
	__u64 x = a * 31 + b;
	return x ^ (x >> 7);
}
SEC("raw_tp/sys_enter")
int subprog(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *v = bpf_map_lookup_elem(&mixed, &k0);
	if (v)
		*v = mix(ctx->args[0], ctx->args[1]);
	v = bpf_map_lookup_elem(&mixed, &k1);
	if (v)
		*v = mix(ctx->args[1], ctx->args[0]);
	return 0;
}
