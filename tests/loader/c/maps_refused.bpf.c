// A map definition libbpf refuses (a member it does not know): both loaders must refuse the object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); __uint(colour, 3); } odd SEC(".maps");

SEC("xdp")
int p(struct xdp_md *ctx)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&odd, &k) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
