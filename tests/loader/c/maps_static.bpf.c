// A map defined `static`: libbpf refuses it (unsupported map linkage), and so must we.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } hidden SEC(".maps");

SEC("xdp")
int p(struct xdp_md *ctx)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&hidden, &k) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
