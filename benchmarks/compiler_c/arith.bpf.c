#include "common.h"
HASH(lat, __u32, __u64, 64);
SEC("raw_tp/sys_enter")
int arith(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 a = ctx->args[0];
	__u32 b = ctx->args[1];
	__s32 slot = 0;
	__u64 v = a;
	while (v > 1 && slot < 63) {
		v >>= 1;
		slot++;
	}
	__u32 key = slot;
	INCREMENT(lat, &key, (a * 3 + b) / 7);
	return 0;
}
