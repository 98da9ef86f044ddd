// Global data maps (.data, .bss, .rodata with a bpf_printk format, a named .data.* section, .kconfig for a
// __kconfig extern) as libbpf creates them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 limit = 7;
__u64 counter;
__u32 table[6] = {1, 2, 3};
__u32 extra SEC(".data.extra") = 5;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("xdp")
int globals(struct xdp_md *ctx)
{
	counter += limit + table[1] + extra + LINUX_KERNEL_VERSION;
	if (counter == 3)
		bpf_printk("counter %llu", counter);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
