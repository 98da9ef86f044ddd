"""Context access per program type: offsets, sizes (narrow loads), alignment, writes — __sk_buff for socket
filter, sched_cls, sched_act and cgroup_skb; pt_regs (kprobe); tracepoint records; raw tracepoint args; xdp_md;
bpf_perf_event_data. The documented verdict is a letter set: the program types that allow the access."""
from __future__ import annotations

from cases import ACCEPT, REJECT, Case

SKB_TYPES = {"S": "socket_filter", "C": "sched_cls", "A": "sched_act", "G": "cgroup_skb"}

# (label, instruction, letters of the __sk_buff program types that allow it)
SKB_ACCESSES = [
    ("len_r32", "r0 = *(u32 *)(r1 + 0)", "SCAG"),
    ("len_r16", "r0 = *(u16 *)(r1 + 0)", "SCAG"),
    ("len_r8_byte3", "r0 = *(u8 *)(r1 + 3)", "SCAG"),
    ("len_r64", "r0 = *(u64 *)(r1 + 0)", ""),
    ("len_misaligned", "r0 = *(u32 *)(r1 + 2)", ""),
    ("len_w32", "*(u32 *)(r1 + 0) = r2", ""),
    ("pkt_type_r32", "r0 = *(u32 *)(r1 + 4)", "SCAG"),
    ("mark_r32", "r0 = *(u32 *)(r1 + 8)", "SCAG"),
    ("mark_w32", "*(u32 *)(r1 + 8) = r2", "CAG"),
    ("queue_mapping_w32", "*(u32 *)(r1 + 12) = r2", "CA"),
    ("protocol_r8", "r0 = *(u8 *)(r1 + 16)", "SCAG"),
    ("vlan_tci_r32", "r0 = *(u32 *)(r1 + 24)", "SCAG"),
    ("priority_w32", "*(u32 *)(r1 + 32) = r2", "CAG"),
    ("ifindex_r32", "r0 = *(u32 *)(r1 + 40)", "SCAG"),
    ("tc_index_r32", "r0 = *(u32 *)(r1 + 44)", "SCAG"),
    ("tc_index_w32", "*(u32 *)(r1 + 44) = r2", "CA"),
    ("cb0_w32", "*(u32 *)(r1 + 48) = r2", "SCAG"),
    ("cb4_w32", "*(u32 *)(r1 + 64) = r2", "SCAG"),
    ("cb0_w8", "*(u8 *)(r1 + 49) = r2", "SCAG"),
    ("cb0_w64", "*(u64 *)(r1 + 48) = r2", "SCAG"),
    ("cb_st_imm", "*(u32 *)(r1 + 48) = 5", "SCAG"),
    ("cb_atomic", "lock *(u32 *)(r1 + 48) += r2", ""),
    ("hash_r32", "r0 = *(u32 *)(r1 + 68)", "SCAG"),
    ("tc_classid_r32", "r0 = *(u32 *)(r1 + 72)", "CA"),
    ("tc_classid_w32", "*(u32 *)(r1 + 72) = r2", "CA"),
    ("data_r32", "r0 = *(u32 *)(r1 + 76)", "CAG"),
    ("data_end_r32", "r0 = *(u32 *)(r1 + 80)", "CAG"),
    ("data_r16", "r0 = *(u16 *)(r1 + 76)", ""),
    ("napi_id_r32", "r0 = *(u32 *)(r1 + 84)", "SCAG"),
    ("family_r32", "r0 = *(u32 *)(r1 + 88)", "G"),
    ("remote_ip4_r32", "r0 = *(u32 *)(r1 + 92)", "G"),
    ("local_port_r32", "r0 = *(u32 *)(r1 + 136)", "G"),
    ("data_meta_r32", "r0 = *(u32 *)(r1 + 140)", "CA"),
    ("flow_keys_r64", "r0 = *(u64 *)(r1 + 144)", ""),
    ("tstamp_r64", "r0 = *(u64 *)(r1 + 152)", "CAG"),
    ("tstamp_w64", "*(u64 *)(r1 + 152) = r2", "CAG"),
    ("wire_len_r32", "r0 = *(u32 *)(r1 + 160)", "CA"),
    ("gso_segs_r32", "r0 = *(u32 *)(r1 + 164)", "SCAG"),
    ("sk_r64", "r0 = *(u64 *)(r1 + 168)", "SCAG"),
    ("tstamp_type_r8", "r0 = *(u8 *)(r1 + 180)", "CA"),
    ("hwtstamp_r64", "r0 = *(u64 *)(r1 + 184)", "CAG"),
    ("past_end_r32", "r0 = *(u32 *)(r1 + 192)", ""),
    ("negative_r32", "r0 = *(u32 *)(r1 - 4)", ""),
]


def _skb_cases() -> list[Case]:
    out = []
    for label, op, allowed in SKB_ACCESSES:
        for letter, ptype in SKB_TYPES.items():
            src = f"  r2 = 0\n  {op}\n  r0 = 1\n  exit\n"
            out.append(Case(f"ctx_{ptype}_{label}", src, prog_type=ptype,
                            expect=ACCEPT if letter in allowed else REJECT))
    return out


def _reads(ptype: str, accesses: list[tuple[str, str, bool]]) -> list[Case]:
    return [Case(f"ctx_{ptype}_{label}", f"  r2 = 0\n  {op}\n  r0 = 0\n  exit\n", prog_type=ptype,
                 expect=ACCEPT if good else REJECT) for label, op, good in accesses]


KPROBE = [  # struct pt_regs, 168 bytes on x86_64, read-only, naturally aligned
    ("regs_r64_0", "r0 = *(u64 *)(r1 + 0)", True),
    ("regs_r64_160", "r0 = *(u64 *)(r1 + 160)", True),
    ("regs_r32_4", "r0 = *(u32 *)(r1 + 4)", True),
    ("regs_r8_7", "r0 = *(u8 *)(r1 + 7)", True),
    ("regs_r64_168", "r0 = *(u64 *)(r1 + 168)", False),
    ("regs_r64_misaligned", "r0 = *(u64 *)(r1 + 4)", False),
    ("regs_w64", "*(u64 *)(r1 + 0) = r2", False),
    ("regs_negative", "r0 = *(u64 *)(r1 - 8)", False),
]
TRACEPOINT = [  # the record after its 8-byte common header, up to PERF_MAX_TRACE_SIZE, read-only
    ("rec_r64_0_common_header", "r0 = *(u64 *)(r1 + 0)", False),
    ("rec_r64_16", "r0 = *(u64 *)(r1 + 16)", True),
    ("rec_r32_2044", "r0 = *(u32 *)(r1 + 2044)", True),
    ("rec_r8_5", "r0 = *(u8 *)(r1 + 5)", False),
    ("rec_r8_9", "r0 = *(u8 *)(r1 + 9)", True),
    ("rec_r64_2048", "r0 = *(u64 *)(r1 + 2048)", True),
    ("rec_r64_8192", "r0 = *(u64 *)(r1 + 8192)", False),
    ("rec_r64_8184", "r0 = *(u64 *)(r1 + 8184)", True),
    ("rec_r32_misaligned", "r0 = *(u32 *)(r1 + 2)", False),
    ("rec_w64", "*(u64 *)(r1 + 16) = r2", False),
]
RAW_TP = [  # u64 args[12], 8-byte reads only
    ("arg0_r64", "r0 = *(u64 *)(r1 + 0)", True),
    ("arg11_r64", "r0 = *(u64 *)(r1 + 88)", True),
    ("arg12_r64", "r0 = *(u64 *)(r1 + 96)", False),
    ("arg0_r32", "r0 = *(u32 *)(r1 + 0)", True),
    ("arg_misaligned", "r0 = *(u64 *)(r1 + 4)", False),
    ("arg_w64", "*(u64 *)(r1 + 0) = r2", False),
]
XDP = [  # struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    ("data_r32", "r0 = *(u32 *)(r1 + 0)", True),
    ("data_end_r32", "r0 = *(u32 *)(r1 + 4)", True),
    ("data_meta_r32", "r0 = *(u32 *)(r1 + 8)", True),
    ("ingress_ifindex_r32", "r0 = *(u32 *)(r1 + 12)", True),
    ("rx_queue_index_r32", "r0 = *(u32 *)(r1 + 16)", True),
    ("egress_ifindex_r32", "r0 = *(u32 *)(r1 + 20)", False),
    ("past_end_r32", "r0 = *(u32 *)(r1 + 24)", False),
    ("data_r64", "r0 = *(u64 *)(r1 + 0)", False),
    ("ingress_ifindex_r16", "r0 = *(u16 *)(r1 + 12)", False),
    ("data_r16", "r0 = *(u16 *)(r1 + 0)", False),
    ("data_w32", "*(u32 *)(r1 + 0) = r2", False),
    ("rx_queue_index_w32", "*(u32 *)(r1 + 16) = r2", False),
]
PERF_EVENT = [  # struct bpf_perf_event_data: pt_regs regs; u64 sample_period; u64 addr
    ("regs_r64", "r0 = *(u64 *)(r1 + 8)", True),
    ("sample_period_r64", "r0 = *(u64 *)(r1 + 168)", True),
    ("sample_period_r32", "r0 = *(u32 *)(r1 + 168)", True),
    ("addr_r64", "r0 = *(u64 *)(r1 + 176)", True),
    ("past_end_r64", "r0 = *(u64 *)(r1 + 184)", False),
    ("sample_period_w64", "*(u64 *)(r1 + 168) = r2", False),
    ("regs_misaligned", "r0 = *(u64 *)(r1 + 12)", False),
]

CASES = [
    *_skb_cases(),
    *_reads("kprobe", KPROBE),
    *_reads("tracepoint", TRACEPOINT),
    *_reads("raw_tracepoint", RAW_TP),
    *_reads("xdp", XDP),
    *_reads("perf_event", PERF_EVENT),
    Case("ctx_socket_filter_len_unpriv", "  r0 = *(u32 *)(r1 + 0)\n  exit\n", privileged=False),
    Case("ctx_socket_filter_cb_write_unpriv", "  r2 = 0\n  *(u32 *)(r1 + 48) = r2\n  r0 = 0\n  exit\n",
         privileged=False),
    Case("ctx_socket_filter_mark_write_unpriv", "  r2 = 0\n  *(u32 *)(r1 + 8) = r2\n  r0 = 0\n  exit\n",
         privileged=False, expect=REJECT),
    Case("ctx_socket_filter_spilled_ctx_read", "  *(u64 *)(r10 - 8) = r1\n  r2 = *(u64 *)(r10 - 8)\n"
         "  r0 = *(u32 *)(r2 + 8)\n  exit\n"),
    Case("ctx_xdp_ptr_copy_read", "  r2 = r1\n  r0 = *(u32 *)(r2 + 12)\n  r0 = 2\n  exit\n", prog_type="xdp"),
]
