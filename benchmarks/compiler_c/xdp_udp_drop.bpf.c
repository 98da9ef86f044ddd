#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } drops SEC(".maps");
SEC("xdp")
int xdp_udp_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = data + sizeof(*eth);
	if ((void *)(ip + 1) > end || ip->protocol != 17)
		return XDP_PASS;
	struct udphdr *udp = data + sizeof(*eth) + (ip->ihl & 0xF) * 4;
	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	if (udp->dest == bpf_htons(9999)) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&drops, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}
