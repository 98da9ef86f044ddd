#include "common.h"
struct open_event { __u32 pid; __u32 flags; char comm[16]; char filename[128]; };
struct sys_enter_openat { __u64 common; __u64 dfd; const char *filename; __u64 flags; __u64 mode; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } events SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_openat")
int opensnoop(struct sys_enter_openat *ctx)
{
	struct open_event e;
	__builtin_memset(e.filename, 0, sizeof(e.filename));
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.flags = ctx->flags;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(e.filename, sizeof(e.filename), ctx->filename);
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}
