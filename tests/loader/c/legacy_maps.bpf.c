// Old-style map definitions in SEC("maps") (struct bpf_map_def), as pre-BTF objects have them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 16,
};

SEC("socket")
int legacy_socket(struct __sk_buff *skb)
{
	__u32 key = 0, len = skb->len;
	__u64 *v = bpf_map_lookup_elem(&legacy_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_map_update_elem(&legacy_hash, &key, &len, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060c00;
