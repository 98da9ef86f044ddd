// Global data in all three sections: a constant the loader freezes (.rodata), initialised data (.data), zeroed
// data (.bss). The same object runs in pyebpf's VM and in the kernel (tests/integration/test_globals.py).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 factor = 2;
__u64 base = 1000;
__u64 result;
__u32 hits;

SEC("xdp")
int globals(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;

	result = base + factor * len;
	hits++;
	return factor > 2 ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
