#include "common.h"
struct proc { __u32 pid; char comm[16]; };
HASH(by_proc, struct proc, __u64, 10240);
SEC("tracepoint/syscalls/sys_enter_openat")
int count_by_proc(void *ctx)
{
	struct proc key;
	key.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	INCREMENT(by_proc, &key, 1);
	return 0;
}
