// Map declaration styles libbpf accepts in SEC(".maps"), for the libbpf comparison (test_libbpf_maps.py):
// typed key/value, sizes only, typed key + sized value, map_flags, long names, LRU/per-CPU/LPM families.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair { __u32 a; __u64 b; };
struct lpm_key { __u32 prefixlen; __u8 addr[4]; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, struct pair); } typed SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __uint(key_size, 8); __uint(value_size, 12); } sized SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __uint(value_size, 24); } mixed SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, __u64); __type(value, __u64); } no_prealloc SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __uint(map_flags, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG); __type(key, __u32); __type(value, __u64); } mmapable_ro SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 3); __type(key, __u32); __type(value, __u64); } percpu_array SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH); __uint(max_entries, 32); __type(key, __u32); __type(value, __u32); } lru_percpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 32); __type(key, __u32); __type(value, __u32); } a_map_with_a_rather_long_name SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 16); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, struct lpm_key); __type(value, __u32); } lpm SEC(".maps");
typedef struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 5); __type(key, int); __type(value, long); } array_t;
array_t via_typedef SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __uint(map_flags, BPF_F_NUMA_NODE); __uint(numa_node, 0); __type(key, __u32); __type(value, __u32); } on_node0 SEC(".maps");

SEC("xdp")
int use_typed(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct pair *p = bpf_map_lookup_elem(&typed, &k);

	return p ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
