// BTF-typed tracing: tp_btf (attach_btf_id of btf_trace_sys_enter) and fentry (attach_btf_id of a kernel function).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u32 target_tgid = 0;
__u64 enter_hits = 0;
__u64 unlink_hits = 0;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&enter_hits, 1);
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlinkat, int dfd)
{
	__sync_fetch_and_add(&unlink_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
