/* Dynptr helpers (bpf_dynptr_from_mem/read/write/data, bpf_ringbuf_{reserve,submit,discard}_dynptr): a dynptr
 * lives in 16 bytes of stack the program may only hand to these helpers. Built by
 * tests/verifier/test_kfunc_objects_kernel.py, which compares each program's verdict with the running kernel's. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
struct __sk_buff { __u32 len; };
struct bpf_dynptr { __u64 a, b; } __attribute__((aligned(8)));
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static long (*bpf_dynptr_from_mem)(void *data, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *)197;
static long (*bpf_ringbuf_reserve_dynptr)(void *rb, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *)198;
static void (*bpf_ringbuf_submit_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *)199;
static void (*bpf_ringbuf_discard_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *)200;
static long (*bpf_dynptr_read)(void *dst, __u32 len, const struct bpf_dynptr *src, __u32 off, __u64 fl) = (void *)201;
static long (*bpf_dynptr_write)(const struct bpf_dynptr *dst, __u32 off, void *src, __u32 len, __u64 fl) = (void *)202;
static void *(*bpf_dynptr_data)(const struct bpf_dynptr *ptr, __u32 offset, __u32 len) = (void *)203;
struct { int (*type)[27]; int (*max_entries)[4096]; } rb SEC(".maps");
char buf[64];
volatile int cond;

#define PROG(name) SEC("socket") int name(struct __sk_buff *skb)
PROG(read_uninit) { struct bpf_dynptr d; char x[8]; return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(read_ok) { struct bpf_dynptr d; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(write_ok)
{ struct bpf_dynptr d; char x[8] = {}; bpf_dynptr_from_mem(buf, 64, 0, &d); return bpf_dynptr_write(&d, 0, x, 8, 0); }
PROG(data_ok)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8); return p ? p[7] : 0; }
PROG(data_oob)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8); return p ? p[8] : 0; }
PROG(data_nocheck)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8); return p[0]; }
PROG(reinit_ok)
{ struct bpf_dynptr d; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); bpf_dynptr_from_mem(buf, 8, 0, &d);
  return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(clobbered)
{ struct bpf_dynptr d; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); *(volatile long *)&d = 0;
  return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(clobbered_half)
{ struct bpf_dynptr d; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); *((volatile char *)&d + 12) = 0;
  return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(slice_after_clobber)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8);
  if (!p) return 0; *(volatile long *)&d = 0; return p[0]; }
PROG(read_dynptr_bytes)
{ struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); return *(volatile long *)&d; }
PROG(raw_write_over)
{ struct bpf_dynptr d; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); bpf_probe_read_kernel(&d, 8, 0);
  return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(misaligned)
{ struct bpf_dynptr d[2]; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, (void *)((char *)d + 4));
  return bpf_dynptr_read(x, 8, (void *)((char *)d + 4), 0, 0); }
PROG(maybe_init)
{ struct bpf_dynptr d; char x[8]; if (cond) bpf_dynptr_from_mem(buf, 64, 0, &d); return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(both_paths_init)
{ struct bpf_dynptr d; char x[8]; if (cond) bpf_dynptr_from_mem(buf, 64, 0, &d); else bpf_dynptr_from_mem(buf, 8, 0, &d);
  return bpf_dynptr_read(x, 8, &d, 0, 0); }
PROG(rb_leak) { struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); return 0; }
PROG(rb_ok)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8);
  if (p) p[0] = 1; bpf_ringbuf_submit_dynptr(&d, 0); return 0; }
PROG(rb_discard_ok) { struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); bpf_ringbuf_discard_dynptr(&d, 0); return 0; }
PROG(rb_double)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); bpf_ringbuf_submit_dynptr(&d, 0);
  bpf_ringbuf_discard_dynptr(&d, 0); return 0; }
PROG(rb_slice_after_submit)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); char *p = bpf_dynptr_data(&d, 0, 8);
  bpf_ringbuf_submit_dynptr(&d, 0); return p ? p[0] : 0; }
PROG(rb_overwrite)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); *(volatile long *)&d = 0;
  bpf_ringbuf_discard_dynptr(&d, 0); return 0; }
PROG(rb_reinit)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); bpf_dynptr_from_mem(buf, 8, 0, &d); return 0; }
PROG(local_submit) { struct bpf_dynptr d; bpf_dynptr_from_mem(buf, 64, 0, &d); bpf_ringbuf_submit_dynptr(&d, 0); return 0; }
PROG(rb_maybe_released)
{ struct bpf_dynptr d; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); if (cond) bpf_ringbuf_submit_dynptr(&d, 0);
  else bpf_ringbuf_discard_dynptr(&d, 0); return 0; }
PROG(from_stack_mem) { struct bpf_dynptr d; int x = 0; bpf_dynptr_from_mem(&x, sizeof(x), 0, &d); return 0; }
char _license[] SEC("license") = "GPL";

/* dynptr kfuncs: a packet dynptr from the context, read-only slices of it */
#define __ksym __attribute__((section(".ksyms")))
struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym __attribute__((weak));
extern int bpf_dynptr_from_skb(struct __sk_buff *s, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym __attribute__((weak));
extern void *bpf_dynptr_slice(const struct bpf_dynptr *p, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym __attribute__((weak));
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *p) __ksym __attribute__((weak));
extern int bpf_dynptr_adjust(const struct bpf_dynptr *p, __u32 start, __u32 end) __ksym __attribute__((weak));
static long (*bpf_xdp_adjust_head)(struct xdp_md *xdp_md, int delta) = (void *)44;
#define XDP(name) SEC("xdp") int name(struct xdp_md *ctx)
XDP(xdp_slice_ok)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 0, buf, 4);
  return p ? p[3] : 0; }
XDP(xdp_slice_oob)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 0, buf, 4);
  return p ? p[4] : 0; }
XDP(xdp_slice_write)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 0, buf, 4);
  if (p) p[0] = 1; return 0; }
XDP(xdp_slice_after_adjust)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 0, buf, 4);
  if (!p) return 0; bpf_xdp_adjust_head(ctx, 0); return p[0]; }
XDP(xdp_slice_small_buf)
{ struct bpf_dynptr d; char buf[2]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 0, buf, 4);
  return p ? p[0] : 0; }
XDP(xdp_size_uninit) { struct bpf_dynptr d; return bpf_dynptr_size(&d); }
XDP(xdp_size_adjust_ok)
{ struct bpf_dynptr d; bpf_dynptr_from_xdp(ctx, 0, &d); bpf_dynptr_adjust(&d, 1, 2); return bpf_dynptr_size(&d); }
XDP(skb_kfunc_in_xdp) { struct bpf_dynptr d; bpf_dynptr_from_skb((void *)ctx, 0, &d); return 0; }
SEC("tc") int skb_slice_ok(struct __sk_buff *skb)
{ struct bpf_dynptr d; char buf[8]; bpf_dynptr_from_skb(skb, 0, &d); unsigned char *p = bpf_dynptr_slice(&d, 2, buf, 8);
  return p ? p[7] : 0; }
extern int bpf_dynptr_clone(const struct bpf_dynptr *p, struct bpf_dynptr *clone__uninit) __ksym __attribute__((weak));
PROG(clone_ok)
{ struct bpf_dynptr d, c; char x[8]; bpf_dynptr_from_mem(buf, 64, 0, &d); bpf_dynptr_clone(&d, &c);
  return bpf_dynptr_read(x, 8, &c, 0, 0); }
PROG(clone_uninit_parent) { struct bpf_dynptr d, c; bpf_dynptr_clone(&d, &c); return 0; }
PROG(rb_clone_submit_then_use)
{ struct bpf_dynptr d, c; char x[8]; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); bpf_dynptr_clone(&d, &c);
  bpf_ringbuf_submit_dynptr(&d, 0); return bpf_dynptr_read(x, 8, &c, 0, 0); }
PROG(rb_clone_submit_clone)
{ struct bpf_dynptr d, c; bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &d); bpf_dynptr_clone(&d, &c);
  bpf_ringbuf_submit_dynptr(&c, 0); return 0; }
/* bpf_dynptr_slice_rdwr: a writable slice, for program types that may write packet data (refused outright by some
 * builds once its arguments are checked: the kernel in front of the test decides) */
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *p, __u32 offset, void *buffer__opt,
                                   __u32 buffer__szk) __ksym __attribute__((weak));
volatile __u32 slice_len;
XDP(xdp_slice_rdwr_write)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_xdp(ctx, 0, &d); unsigned char *p = bpf_dynptr_slice_rdwr(&d, 0, buf, 4);
  if (p) p[3] = 1; return 2; }
XDP(xdp_slice_rdwr_var_len)
{ struct bpf_dynptr d; char buf[4]; __u32 n = slice_len; bpf_dynptr_from_xdp(ctx, 0, &d);
  if (n > 4) return 2; unsigned char *p = bpf_dynptr_slice_rdwr(&d, 0, buf, n); return p ? 1 : 2; }
SEC("cgroup_skb/ingress") int cgskb_slice_rdwr(struct __sk_buff *skb)
{ struct bpf_dynptr d; char buf[4]; bpf_dynptr_from_skb(skb, 0, &d); unsigned char *p = bpf_dynptr_slice_rdwr(&d, 0, buf, 4);
  return p ? 1 : 0; }
/* a packet dynptr from a tp_btf program's trusted sk_buff argument (not the program's context): read-only slices */
SEC("tp_btf/kfree_skb") int skb_tp_btf_slice(unsigned long long *ctx)
{ struct bpf_dynptr d; char buf[4]; unsigned char *p;
  if (bpf_dynptr_from_skb((void *)ctx[0], 0, &d)) return 0; p = bpf_dynptr_slice(&d, 0, buf, 4); return p ? p[0] : 0; }
SEC("tp_btf/kfree_skb") int skb_tp_btf_null(unsigned long long *ctx)
{ struct bpf_dynptr d; bpf_dynptr_from_skb((void *)0, 0, &d); return 0; }
