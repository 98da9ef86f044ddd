#include "common.h"
struct pending { int tpid; int sig; };
struct event { __u32 pid; int tpid; int sig; int ret; char comm[16]; };
HASH(pending, __u32, struct pending, 10240);
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } kills SEC(".maps");
struct exit_args { __u64 common; long nr; long ret; };
SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct exit_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	struct event e = {};
	e.pid = id >> 32;
	e.tpid = p->tpid;
	e.sig = p->sig;
	e.ret = ctx->ret;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &kills, BPF_F_CURRENT_CPU, &e, sizeof(e));
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}
