// Maps of maps and program arrays as libbpf reads them: `__array(values, struct inner)` gives the inner map's
// shape, `.values = { [i] = &x }` the initial slots; a hash of maps is keyed by the slot index.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_array { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); };
struct inner_hash { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u64); __type(value, __u64); };

struct inner_array slot_a SEC(".maps");
struct inner_array slot_b SEC(".maps");
struct inner_hash slot_h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_array SEC(".maps") = { .values = { [0] = &slot_a, [2] = &slot_b } };

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_hash);
} outer_hash SEC(".maps") = { .values = { [1] = &slot_h } };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_hash);
} outer_empty SEC(".maps");

int tail(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = { .values = { [3] = (void *)&tail } };

SEC("xdp")
int tail(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int entry(struct xdp_md *ctx)
{
	__u32 k = 2, z = 0;
	void *inner = bpf_map_lookup_elem(&outer_array, &k);

	if (inner && bpf_map_lookup_elem(inner, &z))
		bpf_tail_call(ctx, &jumps, 3);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
