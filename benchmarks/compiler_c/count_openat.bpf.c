#include "common.h"
HASH(counts, __u32, __u64, 10240);
SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	INCREMENT(counts, &pid, 1);
	return 0;
}
