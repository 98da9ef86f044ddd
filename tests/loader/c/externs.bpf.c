// Externs resolved at load: Kconfig values (.kconfig), a kfunc pair (.ksyms) and a typed per-CPU ksym.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_KPROBES __kconfig __weak;
extern int CONFIG_PYEBPF_DOES_NOT_EXIST __kconfig __weak;

__s32 lookup_pid = 1;

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern const struct rq runqueues __ksym;

struct ext_result {
	__u32 kernel_version;
	__s32 hz;
	__u32 bpf_syscall;
	__u32 kprobes;
	__s32 missing;
	__s32 init_pid;
	__u32 rq_cpu;
};

struct ext_result ext = {};

SEC("syscall")
int read_externs(void *ctx)
{
	struct task_struct *t;

	ext.kernel_version = LINUX_KERNEL_VERSION;
	ext.hz = CONFIG_HZ;
	ext.bpf_syscall = CONFIG_BPF_SYSCALL;
	ext.kprobes = CONFIG_KPROBES;
	ext.missing = CONFIG_PYEBPF_DOES_NOT_EXIST;
	t = bpf_task_from_pid(lookup_pid);
	if (t) {
		ext.init_pid = t->pid;
		bpf_task_release(t);
	}
	return 0;
}

/* A typed per-CPU ksym: resolved to lddw src=BPF_PSEUDO_BTF_ID. (Loading needs the kernel to find the symbol's
 * address, which takes CONFIG_KALLSYMS_ALL; the test only checks how it is resolved.) */
SEC("syscall")
int read_rq(void *ctx)
{
	struct rq *rq = (struct rq *)bpf_this_cpu_ptr(&runqueues);

	ext.rq_cpu = rq->cpu + 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
