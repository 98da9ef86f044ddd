/* kfuncs taking the program's context and memory/size pairs (KF_ARG_PTR_TO_CTX, KF_ARG_PTR_TO_MEM_SIZE) and
 * returning an acquired kernel object: conntrack lookups (bpf_xdp_ct_lookup, bpf_ct_release), as
 * xdp_synproxy_kern.c uses them. Built by tests/verifier/test_kfunc_objects_kernel.py. */
typedef unsigned int __u32;
typedef unsigned short __u16;
typedef unsigned char __u8;
typedef int __s32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __ksym __attribute__((section(".ksyms")))
struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
struct bpf_sock_tuple { union { struct { __u32 saddr, daddr; __u16 sport, dport; } ipv4;
                                struct { __u32 saddr[4], daddr[4]; __u16 sport, dport; } ipv6; }; };
struct bpf_ct_opts { __s32 netns_id; __s32 error; __u8 l4proto; __u8 dir; __u16 ct_zone_id; __u8 ct_zone_dir; __u8 reserved[3]; };
struct nf_conn { unsigned long status; } __attribute__((preserve_access_index));
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple, __u32 tuple__sz,
                                         struct bpf_ct_opts *opts, __u32 opts__sz) __ksym __attribute__((weak));
extern void bpf_ct_release(struct nf_conn *ct) __ksym __attribute__((weak));
volatile __u32 sz;

#define XDP(name) SEC("xdp") int name(struct xdp_md *ctx)
XDP(ct_ok)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &t, sizeof(t.ipv4), &o, sizeof(o));
  if (ct) { int s = ct->status & 1; bpf_ct_release(ct); return s; } return 0; }
XDP(ct_leak)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &t, sizeof(t.ipv4), &o, sizeof(o)); return ct != 0; }
XDP(ct_release_unchecked)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &t, sizeof(t.ipv4), &o, sizeof(o)); bpf_ct_release(ct); return 0; }
XDP(ct_tuple_past_stack)
{ struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 }; __u32 small[2] = {};
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, (void *)small, 12, &o, sizeof(o));
  if (ct) bpf_ct_release(ct); return 0; }
XDP(ct_unbounded_size)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &t, sz, &o, sizeof(o)); if (ct) bpf_ct_release(ct); return 0; }
XDP(ct_not_ctx)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup((void *)&t, &t, sizeof(t.ipv4), &o, sizeof(o));
  if (ct) bpf_ct_release(ct); return 0; }
XDP(ct_use_after_release)
{ struct bpf_sock_tuple t = {}; struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
  struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &t, sizeof(t.ipv4), &o, sizeof(o));
  if (!ct) return 0; bpf_ct_release(ct); return ct->status & 1; }
char _license[] SEC("license") = "GPL";
