// bpf-to-bpf calls (a .text subprogram shared by two programs, and a static one) plus .data/.bss/.rodata.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 multiplier = 3;     /* .rodata, settable before load */
const char greeting[] = "hello";          /* .rodata */
__u64 calls = 0;                          /* .bss */
__u32 last_len = 0;                       /* .bss */
__u64 base = 100;                         /* .data */
__u32 table[4] = {1, 2, 3, 4};            /* .data */

__noinline int scaled(int x)
{
	return x * multiplier + greeting[1];
}

static __noinline int sum_table(void)
{
	int i, s = 0;

	for (i = 0; i < 4; i++)
		s += table[i];
	return s;
}

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	calls++;
	last_len = len;
	base += scaled(len) + sum_table();
	return XDP_PASS;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	table[0] += 1;
	return scaled(1) == 3 + 'e' ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
