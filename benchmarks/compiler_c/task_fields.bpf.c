#include "common.h"
#include <bpf/bpf_core_read.h>
/* only the members read, CO-RE relocated by libbpf (BPF_CORE_READ: bpf_probe_read_kernel, as the probe) */
struct task_struct { int tgid; struct task_struct *real_parent; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); }
	parents SEC(".maps");
SEC("raw_tp/sched_switch")
int task_fields(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	if (BPF_CORE_READ(prev, tgid) == 4242) {
		__u32 zero = 0;
		__u64 *v = bpf_map_lookup_elem(&parents, &zero);
		if (v)
			*v = BPF_CORE_READ(prev, real_parent, tgid);
	}
	return 0;
}
