// XDP packet and byte counter (per-CPU array), passes every packet; drops packets shorter than Ethernet + IPv4 headers (34 bytes).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct datarec {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);	/* one per XDP action */
	__type(key, __u32);
	__type(value, struct datarec);
} xdp_stats SEC(".maps");

SEC("xdp")
int xdp_counter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = XDP_PASS;
	struct datarec *rec;

	if (data + 34 > data_end)
		key = XDP_DROP;
	rec = bpf_map_lookup_elem(&xdp_stats, &key);
	if (!rec)
		return XDP_ABORTED;
	__sync_fetch_and_add(&rec->packets, 1);
	__sync_fetch_and_add(&rec->bytes, data_end - data);
	return key;
}

char LICENSE[] SEC("license") = "GPL";
