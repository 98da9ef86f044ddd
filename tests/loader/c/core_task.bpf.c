// CO-RE: field offsets/existence/sizes, type existence/size and enum values resolved against vmlinux BTF.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct core_result {
	__u32 pid;
	__u32 ppid;
	__u32 tgid_exists;
	__u32 bogus_exists;
	__u32 pid_size;
	__u32 task_type_exists;
	__u32 task_size;
	__u32 enum_value;
	__u32 enum_exists;
	__u32 comm_off;
	__u32 mini_tgid;
	__u32 mini_ppid;
	__u32 mini_tgid_off;
};

/* A cut-down local view of task_struct: its offsets (tgid at 4, real_parent at 8) are NOT the kernel's, so every
 * access must be relocated to the kernel's layout by CO-RE. */
struct task_struct___mini {
	int pid;
	int tgid;
	struct task_struct___mini *real_parent;
} __attribute__((preserve_access_index));

/* a field that does not exist in the kernel's task_struct: its existence must resolve to 0 */
struct task_struct___fake {
	int no_such_field_pyebpf;
};

__u32 target_tgid = 0;
struct core_result result = {};

SEC("raw_tp/sys_enter")
int core_probe(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (tgid != target_tgid)
		return 0;
	result.pid = tgid;
	result.ppid = BPF_CORE_READ(task, real_parent, tgid);
	result.tgid_exists = bpf_core_field_exists(task->tgid);
	result.bogus_exists = bpf_core_field_exists(((struct task_struct___fake *)task)->no_such_field_pyebpf);
	result.pid_size = bpf_core_field_size(task->pid);
	result.task_type_exists = bpf_core_type_exists(struct task_struct);
	result.task_size = bpf_core_type_size(struct task_struct);
	result.enum_value = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	result.enum_exists = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	result.comm_off = bpf_core_field_offset(task->comm);
	{
		struct task_struct___mini *mini = (void *)task;

		result.mini_tgid = BPF_CORE_READ(mini, tgid);
		result.mini_ppid = BPF_CORE_READ(mini, real_parent, tgid);
		result.mini_tgid_off = bpf_core_field_offset(mini->tgid);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
