/* Global (non-static) subprograms: the kernel verifies each once, for any arguments its BTF prototype allows.
 * A pointer argument to a sized type is PTR_TO_MEM_OR_NULL there, so dereferencing it unchecked is refused even
 * though every caller passes a valid pointer. Built by tests/verifier/test_global_func_kernel.py. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __global __attribute__((noinline))
struct __sk_buff { __u32 len; };
struct pair { __u64 a, b; };

__global int deref_unchecked(int *p) { return *p + 1; }
__global int deref_checked(int *p) { if (!p) return 0; return *p + 1; }
__global int read_ctx(struct __sk_buff *skb, int x) { return skb->len + x; }
__global int pair_sum(struct pair *p) { if (!p) return 0; return p->a + p->b; }
__global int pair_past_end(struct pair *p) { if (!p) return 0; return ((int *)p)[4]; }
__global int calls_other(int *p, int n) { return deref_checked(p) + n; }
static __attribute__((noinline)) int static_deref(int *p) { return *p + 1; }
struct fwd;
__global int takes_void(void *p) { return p != 0; }
__global int takes_fwd(struct fwd *p) { return p != 0; }
__global void returns_void(int *p) { if (p) *p = 1; }

SEC("socket") int unchecked(struct __sk_buff *skb) { int v = 5; return deref_unchecked(&v); }
SEC("socket") int checked(struct __sk_buff *skb) { int v = 5; return deref_checked(&v) + read_ctx(skb, 3); }
SEC("socket") int sized(struct __sk_buff *skb) { struct pair p = {1, 2}; return pair_sum(&p); }
SEC("socket") int past_end(struct __sk_buff *skb) { struct pair p = {1, 2}; return pair_past_end(&p); }
SEC("socket") int nested(struct __sk_buff *skb) { int v = 5; return calls_other(&v, 2); }
SEC("socket") int null_arg(struct __sk_buff *skb) { return deref_checked(0); }
SEC("socket") int static_call(struct __sk_buff *skb) { int v = 5; return static_deref(&v); }
SEC("socket") int small_buffer(struct __sk_buff *skb) { char c[4] = {0}; return pair_sum((struct pair *)c); }
SEC("socket") int void_ptr(struct __sk_buff *skb) { int v = 5; return takes_void(&v); }
SEC("socket") int fwd_ptr(struct __sk_buff *skb) { int v = 5; return takes_fwd((struct fwd *)&v); }
SEC("socket") int void_return(struct __sk_buff *skb) { int v = 5; returns_void(&v); return v; }
char _license[] SEC("license") = "GPL";
