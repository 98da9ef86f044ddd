#include "common.h"
HASH(lin, __u32, __u64, 1010);
SEC("raw_tp/sys_enter")
int lhist(struct bpf_raw_tracepoint_args *ctx)
{
	__s64 v = ctx->args[1];
	__u32 bucket = v < 0 ? 0 : v >= 1000 ? 21 : 1 + (__u64)v / 50;
	INCREMENT(lin, &bucket, 1);
	return 0;
}
