/* Open-coded iterators over kernel objects (verifier/iters.py): bpf_iter_task_vma_* (a task's memory areas; _new takes
 * a trusted or RCU task, KF_RCU) and bpf_iter_css_task_* (a cgroup's tasks; KF_TRUSTED_ARGS, LSM/iterator/sleepable
 * programs only), whose _next returns a trusted kernel pointer or NULL. Built by
 * tests/verifier/test_kfunc_objects_kernel.py, which compares each program with the running kernel. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))
#define CORE __attribute__((preserve_access_index))
struct task_struct { int pid; struct task_struct *group_leader; } CORE;
struct vm_area_struct { unsigned long vm_start; unsigned long vm_end; } CORE;
struct cgroup_subsys_state { int id; } CORE;
struct cgroup { struct cgroup_subsys_state self; } CORE;
struct bpf_iter_meta { void *seq; } CORE;
struct bpf_iter__cgroup { struct bpf_iter_meta *meta; struct cgroup *cgroup; } CORE;
struct bpf_iter_task_vma { __u64 __opaque[1]; } __attribute__((aligned(8)));
struct bpf_iter_css_task { __u64 __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task, __u64 addr) __ksym __weak;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __ksym __weak;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __ksym __weak;
extern int bpf_iter_css_task_new(struct bpf_iter_css_task *it, struct cgroup_subsys_state *css,
                                 unsigned int flags) __ksym __weak;
extern struct task_struct *bpf_iter_css_task_next(struct bpf_iter_css_task *it) __ksym __weak;
extern void bpf_iter_css_task_destroy(struct bpf_iter_css_task *it) __ksym __weak;
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
#define CSS_TASK_ITER_PROCS 1
int last_pid;

#define VMA(name) SEC("raw_tp/sys_enter") int name(void *ctx)
VMA(vma_sum_ok)
{ struct bpf_iter_task_vma it; struct vm_area_struct *v; __u64 s = 0;
  bpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0);
  while ((v = bpf_iter_task_vma_next(&it))) s += v->vm_end - v->vm_start;
  bpf_iter_task_vma_destroy(&it); return s > 4096; }
VMA(vma_leak) { struct bpf_iter_task_vma it; bpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0); return 0; }
VMA(vma_null_task)
{ struct bpf_iter_task_vma it; bpf_iter_task_vma_new(&it, (void *)0, 0); bpf_iter_task_vma_destroy(&it); return 0; }
VMA(vma_walked_task)
{ struct bpf_iter_task_vma it; bpf_iter_task_vma_new(&it, bpf_get_current_task_btf()->group_leader, 0);
  bpf_iter_task_vma_destroy(&it); return 0; }
VMA(vma_no_null_check)
{ struct bpf_iter_task_vma it; struct vm_area_struct *v; unsigned long s;
  bpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0); v = bpf_iter_task_vma_next(&it); s = v->vm_start;
  bpf_iter_task_vma_destroy(&it); return s > 4096; }
VMA(vma_write_elem)
{ struct bpf_iter_task_vma it; struct vm_area_struct *v;
  bpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0); v = bpf_iter_task_vma_next(&it);
  if (v) v->vm_start = 0; bpf_iter_task_vma_destroy(&it); return 0; }
VMA(vma_next_uninit)
{ struct bpf_iter_task_vma it; struct vm_area_struct *v = bpf_iter_task_vma_next(&it); return v ? 1 : 0; }
VMA(css_task_in_raw_tp)
{ struct bpf_iter_css_task it; bpf_iter_css_task_new(&it, (void *)0, CSS_TASK_ITER_PROCS);
  bpf_iter_css_task_destroy(&it); return 0; }

SEC("iter/cgroup") int css_task_count_ok(struct bpf_iter__cgroup *ctx)
{ struct bpf_iter_css_task it; struct task_struct *t; struct cgroup *cgrp = ctx->cgroup;
  if (!cgrp) return 0;
  bpf_iter_css_task_new(&it, &cgrp->self, CSS_TASK_ITER_PROCS);
  while ((t = bpf_iter_css_task_next(&it))) last_pid = t->pid;
  bpf_iter_css_task_destroy(&it); return 0; }
SEC("iter/cgroup") int css_task_maybe_null_css(struct bpf_iter__cgroup *ctx)
{ struct bpf_iter_css_task it; struct cgroup *cgrp = ctx->cgroup;
  bpf_iter_css_task_new(&it, &cgrp->self, CSS_TASK_ITER_PROCS); bpf_iter_css_task_destroy(&it); return 0; }
SEC("iter/cgroup") int css_task_leak(struct bpf_iter__cgroup *ctx)
{ struct bpf_iter_css_task it; struct cgroup *cgrp = ctx->cgroup;
  if (!cgrp) return 0;
  bpf_iter_css_task_new(&it, &cgrp->self, CSS_TASK_ITER_PROCS); return 0; }
char _license[] SEC("license") = "GPL";
