/* Global subprograms whose parameters carry `arg:<tag>` BTF decl tags (bpf_helpers.h's __arg_ctx, __arg_nonnull,
 * __arg_nullable, __arg_trusted, __arg_untrusted, __arg_arena): the tag, not the C type, says what the kernel
 * verifies the function for and what each call must pass. Built by tests/verifier/test_global_func_kernel.py. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __global __attribute__((noinline))
#define __tag(x) __attribute__((btf_decl_tag("arg:" x)))
struct __sk_buff { __u32 len; };
struct pt_regs { unsigned long di; };
struct whatever { int x; };
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
volatile int sink; /* a side effect keeps clang from deleting calls to functions it can evaluate */
struct { int (*type)[2]; int (*max_entries)[1]; int *key; long *value; } arr SEC(".maps");

/* __arg_ctx */
__global int ctx_void(void *ctx __tag("ctx")) { return ctx != 0; }
__global int ctx_skb(struct __sk_buff *skb __tag("ctx")) { return skb->len; }
__global int ctx_other(struct whatever *ctx __tag("ctx")) { sink = 1; return 0; }
__global int ctx_regs(struct pt_regs *ctx __tag("ctx")) { return ctx->di != 0; }
SEC("socket") int ctx_ok(struct __sk_buff *skb) { return ctx_void(skb) + ctx_skb(skb); }
SEC("socket") int ctx_wrong_type(struct __sk_buff *skb) { return ctx_other((void *)skb); }
SEC("socket") int ctx_not_ctx(struct __sk_buff *skb) { int v = 1; return ctx_void(&v); }
SEC("kprobe") int ctx_kprobe(struct pt_regs *regs) { return ctx_regs(regs) + ctx_void(regs); }
SEC("kprobe") int ctx_kprobe_skb(struct pt_regs *regs) { return ctx_skb((void *)regs); }

/* __arg_nonnull (and __arg_nullable alone, which needs __arg_trusted) */
__global int nonnull_deref(int *p __tag("nonnull")) { return *p + 1; }
__global int nullable_mem(int *p __tag("nullable")) { return p != 0; }
SEC("socket") int nonnull_ok(struct __sk_buff *skb) { int v = 5; return nonnull_deref(&v); }
SEC("socket") int nonnull_maybe_null(struct __sk_buff *skb)
{
	int k = 0;
	long *v = bpf_map_lookup_elem(&arr, &k);
	return nonnull_deref((int *)v);
}
SEC("socket") int nonnull_checked(struct __sk_buff *skb)
{
	int k = 0;
	long *v = bpf_map_lookup_elem(&arr, &k);
	return v ? nonnull_deref((int *)v) : 0;
}
SEC("socket") int nonnull_small(struct __sk_buff *skb) { char c = 0; return nonnull_deref((int *)&c); }
SEC("socket") int nullable_alone(struct __sk_buff *skb) { int v = 5; return nullable_mem(&v); }

/* tags the kernel refuses whatever the call */
__global int tag_on_scalar(int x __tag("nonnull")) { sink = x; return x; }
__global int tag_unknown(int *p __tag("bogus")) { return p != 0; }
SEC("socket") int scalar_tagged(struct __sk_buff *skb) { return tag_on_scalar(3); }
SEC("socket") int unknown_tag(struct __sk_buff *skb) { int v = 5; return tag_unknown(&v); }

/* __arg_trusted (+ __arg_nullable), __arg_untrusted */
__global int trusted_checked(struct task_struct *t __tag("trusted") __tag("nullable"))
{
	return t ? t->pid : 0;
}
__global int trusted_unchecked(struct task_struct *t __tag("trusted") __tag("nullable")) { return t->pid; }
__global int trusted_nonnull(struct task_struct *t __tag("trusted")) { return t->tgid; }
__global int trusted_bad_combo(struct task_struct *t __tag("trusted") __tag("nonnull")) { sink = 1; return 0; }
__global int untrusted_read(struct task_struct *t __tag("untrusted")) { return t->pid; }
__global int untrusted_combo(struct task_struct *t __tag("untrusted") __tag("nullable")) { sink = 1; return 0; }
SEC("kprobe") int trusted_ok(struct pt_regs *regs)
{
	struct task_struct *t = bpf_get_current_task_btf();
	return trusted_checked(t) + trusted_nonnull(t) + trusted_checked(0);
}
SEC("kprobe") int trusted_deref_unchecked(struct pt_regs *regs) { return trusted_unchecked(bpf_get_current_task_btf()); }
SEC("kprobe") int trusted_gets_scalar(struct pt_regs *regs) { return trusted_nonnull((struct task_struct *)regs->di); }
SEC("kprobe") int trusted_gets_null(struct pt_regs *regs) { return trusted_nonnull(0); }
SEC("kprobe") int trusted_gets_stack(struct pt_regs *regs) { int v[2] = {}; return trusted_nonnull((void *)v); }
SEC("kprobe") int trusted_combo(struct pt_regs *regs) { return trusted_bad_combo(bpf_get_current_task_btf()); }
SEC("kprobe") int untrusted_ok(struct pt_regs *regs)
{
	return untrusted_read((struct task_struct *)regs->di) + untrusted_read(bpf_get_current_task_btf());
}
SEC("kprobe") int untrusted_with_nullable(struct pt_regs *regs) { return untrusted_combo(0); }

/* __arg_arena: the callee sees a scalar; a caller passes a scalar (or an arena pointer) */
__global int arena_arg(int *p __tag("arena")) { return p != 0; }
SEC("socket") int arena_scalar(struct __sk_buff *skb) { return arena_arg((int *)(long)skb->len); }
SEC("socket") int arena_stack(struct __sk_buff *skb) { int v = 5; return arena_arg(&v); }

/* a struct bpf_dynptr * parameter: the caller passes an initialised dynptr, the callee sees a const LOCAL one */
struct bpf_dynptr { __u64 a, b; } __attribute__((aligned(8)));
static long (*bpf_dynptr_from_mem)(void *data, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *)197;
static long (*bpf_dynptr_read)(void *dst, __u32 len, const struct bpf_dynptr *src, __u32 off, __u64 fl) = (void *)201;
static void (*bpf_ringbuf_discard_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *)200;
char dbuf[32];
__global int dynptr_reader(struct bpf_dynptr *d) { char x[4]; return bpf_dynptr_read(x, 4, d, 0, 0); }
__global int dynptr_releaser(struct bpf_dynptr *d) { bpf_ringbuf_discard_dynptr(d, 0); return 0; }
SEC("socket") int dynptr_arg_ok(struct __sk_buff *skb)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(dbuf, 32, 0, &d); return dynptr_reader(&d); }
SEC("socket") int dynptr_arg_uninit(struct __sk_buff *skb) { struct bpf_dynptr d; return dynptr_reader(&d); }
SEC("socket") int dynptr_arg_released(struct __sk_buff *skb)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(dbuf, 32, 0, &d); return dynptr_releaser(&d); }

/* a tag on a static function: not fatal, the function is verified as static */
static __attribute__((noinline)) int static_tagged(int *p __tag("nonnull")) { return *p; }
SEC("socket") int static_with_tag(struct __sk_buff *skb) { int v = 5; return static_tagged(&v); }
char _license[] SEC("license") = "GPL";
