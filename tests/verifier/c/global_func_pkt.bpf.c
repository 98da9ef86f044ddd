/* Packet pointers across a call to a global function (subprog changes_pkt_data, verifier/global_func.py): the callee,
 * or one it calls, may move the packet (bpf_skb_pull_data) or tail-call, so the caller's packet pointers die at the
 * call on kernels that track it. Built by tests/verifier/test_global_func_pkt_kernel.py. */
typedef unsigned int __u32;
#define SEC(x) __attribute__((section(x), used))
struct __sk_buff { __u32 pad[19]; __u32 data; __u32 data_end; };
static long (*bpf_skb_pull_data)(struct __sk_buff *skb, __u32 len) = (void *)39;
static long (*bpf_tail_call)(void *ctx, void *map, __u32 index) = (void *)12;
struct { int (*type)[3]; int (*max_entries)[4]; int (*key_size)[4]; int (*value_size)[4]; } jmp SEC(".maps");
volatile int cond;

__attribute__((noinline)) int pulls(struct __sk_buff *skb) { return bpf_skb_pull_data(skb, 0); }
__attribute__((noinline)) int pulls_below(struct __sk_buff *skb) { return cond ? pulls(skb) : 0; }
__attribute__((noinline)) int tail_calls(struct __sk_buff *skb) { bpf_tail_call(skb, &jmp, 0); return 0; }
__attribute__((noinline)) int reads_only(struct __sk_buff *skb) { return skb->pad[0] + cond; }

#define PKT_AFTER(name, callee) SEC("tc") int name(struct __sk_buff *skb) \
{ unsigned char *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end; \
  if (data + 4 > end) return 0; callee(skb); return *(volatile unsigned char *)data; }
PKT_AFTER(pkt_after_pull, pulls)
PKT_AFTER(pkt_after_nested_pull, pulls_below)
PKT_AFTER(pkt_after_tail_call, tail_calls)
PKT_AFTER(pkt_after_read_only, reads_only)
SEC("tc") int pkt_reloaded_after_pull(struct __sk_buff *skb)
{ unsigned char *data, *end; pulls(skb); data = (void *)(long)skb->data; end = (void *)(long)skb->data_end;
  if (data + 4 > end) return 0; return data[3]; }
char _license[] SEC("license") = "GPL";
