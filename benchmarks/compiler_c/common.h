#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define HASH(name, K, V, N) struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, N); __type(key, K); \
	__type(value, V); } name SEC(".maps")
/* m[k] += v as the probe compiler generates it: add in place, else insert, else (another CPU inserted) add */
#define INCREMENT(map, key, by) do { \
	__u64 *v_ = bpf_map_lookup_elem(&map, key); \
	if (v_) { __sync_fetch_and_add(v_, by); break; } \
	__u64 init_ = by; \
	if (bpf_map_update_elem(&map, key, &init_, BPF_NOEXIST)) { \
		v_ = bpf_map_lookup_elem(&map, key); \
		if (v_) __sync_fetch_and_add(v_, by); \
	} } while (0)
char LICENSE[] SEC("license") = "GPL";
