// Global data maps (.data, .bss, .rodata, a named .data.* section) as libbpf creates them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 limit = 7;
__u64 counter;
__u32 table[6] = {1, 2, 3};
__u32 extra SEC(".data.extra") = 5;

SEC("xdp")
int globals(struct xdp_md *ctx)
{
	counter += limit + table[1] + extra;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
