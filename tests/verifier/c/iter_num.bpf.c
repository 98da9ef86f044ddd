/* Open-coded numbers iterator (bpf_iter_num_new/_next/_destroy kfuncs): a struct bpf_iter_num on the stack between
 * _new and _destroy, _next returning a read-only int or NULL. Built by tests/verifier/test_kfunc_objects_kernel.py, which
 * compares each program's verdict, error and processed count with the running kernel's. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __ksym __attribute__((section(".ksyms")))
struct __sk_buff { __u32 len; };
struct bpf_iter_num { __u64 __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym __attribute__((weak));
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym __attribute__((weak));
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym __attribute__((weak));
volatile int cond;
int arr[16];

#define PROG(name) SEC("socket") int name(struct __sk_buff *skb)
PROG(sum_ok)
{ struct bpf_iter_num it; int *v, sum = 0; bpf_iter_num_new(&it, 0, 10);
  while ((v = bpf_iter_num_next(&it))) sum += *v; bpf_iter_num_destroy(&it); return sum; }
PROG(leak) { struct bpf_iter_num it; bpf_iter_num_new(&it, 0, 10); bpf_iter_num_next(&it); return 0; }
PROG(next_uninit) { struct bpf_iter_num it; int *v = bpf_iter_num_next(&it); return v ? *v : 0; }
PROG(destroy_uninit) { struct bpf_iter_num it; bpf_iter_num_destroy(&it); return 0; }
PROG(double_new)
{ struct bpf_iter_num it; bpf_iter_num_new(&it, 0, 10); bpf_iter_num_new(&it, 0, 10); bpf_iter_num_destroy(&it); return 0; }
PROG(double_destroy)
{ struct bpf_iter_num it; bpf_iter_num_new(&it, 0, 10); bpf_iter_num_destroy(&it); bpf_iter_num_destroy(&it); return 0; }
PROG(no_null_check)
{ struct bpf_iter_num it; int *v, s; bpf_iter_num_new(&it, 0, 10); v = bpf_iter_num_next(&it); s = *v;
  bpf_iter_num_destroy(&it); return s; }
PROG(write_elem)
{ struct bpf_iter_num it; int *v; bpf_iter_num_new(&it, 0, 10); v = bpf_iter_num_next(&it); if (v) *v = 1;
  bpf_iter_num_destroy(&it); return 0; }
PROG(clobber_iter)
{ struct bpf_iter_num it; int *v; bpf_iter_num_new(&it, 0, 10); *(volatile __u64 *)&it = 0;
  v = bpf_iter_num_next(&it); bpf_iter_num_destroy(&it); return v ? 1 : 0; }
PROG(bounded_index_ok)
{ struct bpf_iter_num it; int *v, i = 0, s = 0; bpf_iter_num_new(&it, 0, 100);
  while ((v = bpf_iter_num_next(&it))) { if (i >= 16) break; s += arr[i]; i++; }
  bpf_iter_num_destroy(&it); return s; }
PROG(unbounded_index)
{ struct bpf_iter_num it; int *v, i = 0, s = 0; bpf_iter_num_new(&it, 0, 100);
  while ((v = bpf_iter_num_next(&it))) { s += arr[i & 31]; i++; }
  bpf_iter_num_destroy(&it); return s; }
PROG(nested_ok)
{ struct bpf_iter_num a, b; int *x, *y, s = 0; bpf_iter_num_new(&a, 0, 3);
  while ((x = bpf_iter_num_next(&a))) { bpf_iter_num_new(&b, 0, 4); while ((y = bpf_iter_num_next(&b))) s += *x * *y;
    bpf_iter_num_destroy(&b); }
  bpf_iter_num_destroy(&a); return s; }
PROG(elem_as_index)
{ struct bpf_iter_num it; int *v, s = 0; bpf_iter_num_new(&it, 0, 16);
  while ((v = bpf_iter_num_next(&it))) s += arr[*v]; bpf_iter_num_destroy(&it); return s; }
PROG(cond_destroy)
{ struct bpf_iter_num it; bpf_iter_num_new(&it, 0, 10); if (cond) bpf_iter_num_destroy(&it); return 0; }
PROG(read_iter_bytes)
{ struct bpf_iter_num it; __u64 x; bpf_iter_num_new(&it, 0, 10); x = *(volatile __u64 *)&it; bpf_iter_num_destroy(&it);
  return x; }
PROG(use_after_destroy)
{ struct bpf_iter_num it; int *v; bpf_iter_num_new(&it, 0, 10); v = bpf_iter_num_next(&it); bpf_iter_num_destroy(&it);
  return v ? *v : 0; }
char _license[] SEC("license") = "GPL";
