// bpf_printk on write() for one PID, chosen before load through a const volatile global.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;
const volatile __u32 marker = 0;

SEC("tracepoint/syscalls/sys_enter_write")
int trace_write(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != target_pid)
		return 0;
	bpf_printk("pyebpf write pid=%d marker=%u", pid, marker);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
