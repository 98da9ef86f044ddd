// bpf_loop with a static callback (lddw of a function address), and a string literal in .rodata.str1.1 used by
// bpf_strncmp (which demands a constant string in a frozen read-only map).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 loop_sum = 0;
__u32 name_matches = 0;
char name[16] = "pyebpf";

static int add_index(__u32 index, void *ctx)
{
	__u64 *sum = ctx;

	*sum += index;
	return 0;
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	__u64 sum = 0;

	bpf_loop(10, add_index, &sum, 0);
	loop_sum = sum;
	name_matches = bpf_strncmp(name, sizeof(name), "pyebpf") == 0;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
