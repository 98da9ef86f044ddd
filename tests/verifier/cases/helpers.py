"""Helper availability per program type, and argument checks (types, sizes, ctx, unknown helpers)."""
from __future__ import annotations

from cases import ACCEPT, REJECT, Case
from cases._util import EXIT, MOV0, I, raw

TYPES = ["socket_filter", "kprobe", "tracepoint", "raw_tracepoint", "xdp", "sched_cls", "cgroup_skb", "perf_event"]
_SOCK, _KP, _TP, _RTP, _XDP, _TC, _CG, _PE = TYPES
_TRACING = {_KP, _TP, _RTP, _PE}
_ALL = set(TYPES)

# (helper, argument setup, program types that have it)
AVAILABILITY = [
    ("bpf_ktime_get_ns", "", _ALL),
    ("bpf_get_prandom_u32", "", _ALL),
    ("bpf_get_smp_processor_id", "", _ALL),
    ("bpf_get_current_pid_tgid", "", _ALL),
    ("bpf_get_current_comm", "  r1 = r10\n  r1 += -16\n  r2 = 16\n", _ALL),
    ("bpf_get_socket_cookie", "", {_SOCK, _TC, _CG}),
    ("bpf_redirect", "  r1 = 1\n  r2 = 0\n", {_XDP, _TC}),
    ("bpf_skb_load_bytes", "  r2 = 0\n  r3 = r10\n  r3 += -8\n  r4 = 8\n", {_SOCK, _TC, _CG}),
    ("bpf_xdp_adjust_head", "  r2 = 0\n", {_XDP}),
    ("bpf_trace_printk", "  r1 = 0\n  *(u64 *)(r10 - 8) = r1\n  r1 = r10\n  r1 += -8\n  r2 = 8\n", _ALL),
    ("bpf_probe_read_kernel", "  r1 = r10\n  r1 += -8\n  r2 = 8\n  r3 = 0\n", _ALL),
    ("bpf_send_signal", "  r1 = 9\n", _ALL),
    ("bpf_get_func_ip", "", {_KP}),
    ("bpf_skb_store_bytes", "  r2 = 0\n  r3 = 0\n  *(u64 *)(r10 - 8) = r3\n  r3 = r10\n  r3 += -8\n  r4 = 8\n"
     "  r5 = 0\n", {_TC}),
    ("bpf_csum_diff", "  r1 = 0\n  r2 = 0\n  r3 = 0\n  r4 = 0\n  r5 = 0\n", {_XDP, _TC}),
    ("bpf_get_stack", "  r2 = r10\n  r2 += -64\n  r3 = 64\n  r4 = 0\n", _TRACING),
]


def _availability() -> list[Case]:
    out = []
    for helper, setup, types in AVAILABILITY:
        for ptype in TYPES:
            src = setup + f"  call {helper}\n  r0 = 1\n  exit\n"
            out.append(Case(f"helper_{helper[4:]}_in_{ptype}", src, prog_type=ptype,
                            expect=ACCEPT if ptype in types else REJECT))
    return out


LOAD = "  r2 = 0\n  r3 = r10\n  r3 += -8\n"

CASES = [
    *_availability(),
    Case("helper_unknown_id", raw(I(0x85, 0, 0, 0, 10000), MOV0, EXIT), expect=REJECT),
    Case("helper_id_zero", raw(I(0x85, 0, 0, 0, 0), MOV0, EXIT), expect=REJECT),
    Case("helper_negative_id", raw(I(0x85, 0, 0, 0, -3), MOV0, EXIT), expect=REJECT),
    Case("helper_ctx_arg_scalar", "  r1 = 0\n  call bpf_get_socket_cookie\n  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_ctx_arg_fp", "  r1 = r10\n  call bpf_get_socket_cookie\n  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_ctx_arg_modified", "  r1 += 8\n  call bpf_get_socket_cookie\n  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_load_bytes_zero_len", LOAD + "  r4 = 0\n  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n",
         expect=REJECT),
    Case("helper_load_bytes_len_past_stack", LOAD + "  r4 = 16\n  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n",
         expect=REJECT),
    Case("helper_load_bytes_len_unbounded", LOAD + "  r4 = *(u32 *)(r1 + 0)\n  call bpf_skb_load_bytes\n"
         "  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_load_bytes_len_bounded", LOAD + "  r4 = *(u32 *)(r1 + 0)\n  r4 &= 7\n  r4 += 1\n"
         "  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n"),
    Case("helper_load_bytes_len_may_be_zero", LOAD + "  r4 = *(u32 *)(r1 + 0)\n  r4 &= 7\n"
         "  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_load_bytes_len_negative", LOAD + "  r4 = -1\n  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n",
         expect=REJECT),
    Case("helper_load_bytes_to_ctx", "  r2 = 0\n  r3 = r1\n  r4 = 8\n  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n",
         expect=REJECT),
    Case("helper_load_bytes_uninit_len", LOAD + "  call bpf_skb_load_bytes\n  r0 = 0\n  exit\n", expect=REJECT),
    Case("helper_printk_fmt_scalar", "  r1 = 0\n  r2 = 8\n  call bpf_trace_printk\n  r0 = 0\n  exit\n",
         prog_type="kprobe", expect=REJECT),
    Case("helper_printk_fmt_uninit_priv", "  r1 = r10\n  r1 += -8\n  r2 = 8\n  call bpf_trace_printk\n  r0 = 0\n"
         "  exit\n", prog_type="kprobe"),
    Case("helper_comm_size_too_big", "  r1 = r10\n  r1 += -16\n  r2 = 32\n  call bpf_get_current_comm\n  r0 = 0\n"
         "  exit\n", prog_type="kprobe", expect=REJECT),
    Case("helper_comm_size_not_const", "  r6 = r1\n  r1 = r10\n  r1 += -16\n  r2 = *(u64 *)(r6 + 0)\n"
         "  call bpf_get_current_comm\n  r0 = 0\n  exit\n", prog_type="kprobe", expect=REJECT),
    Case("helper_probe_read_dst_map_value", ".map a array key=4 value=16 max_entries=1\n  r1 = 0\n"
         "  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n  r1 = map[a] ll\n  call bpf_map_lookup_elem\n"
         "  if r0 == 0 goto +4\n  r1 = r0\n  r2 = 16\n  r3 = 0\n  call bpf_probe_read_kernel\n  r0 = 0\n  exit\n",
         prog_type="kprobe"),
    Case("helper_probe_read_dst_map_value_too_long", ".map a array key=4 value=16 max_entries=1\n  r1 = 0\n"
         "  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n  r1 = map[a] ll\n  call bpf_map_lookup_elem\n"
         "  if r0 == 0 goto +4\n  r1 = r0\n  r2 = 17\n  r3 = 0\n  call bpf_probe_read_kernel\n  r0 = 0\n  exit\n",
         prog_type="kprobe", expect=REJECT),
    Case("helper_perf_output_wrong_map", ".map m hash key=4 value=8 max_entries=4\n  r2 = map[m] ll\n  r3 = 0\n"
         "  r4 = r10\n  r4 += -8\n  r5 = 8\n  *(u64 *)(r10 - 8) = r3\n  call bpf_perf_event_output\n  r0 = 0\n"
         "  exit\n", prog_type="kprobe", expect=REJECT),
    Case("helper_perf_output_ok", ".map ev perf_event_array key=4 value=4 max_entries=4\n  r2 = map[ev] ll\n"
         "  r3 = 0\n  *(u64 *)(r10 - 8) = r3\n  r3 = 0xffffffff ll\n  r4 = r10\n  r4 += -8\n  r5 = 8\n"
         "  call bpf_perf_event_output\n  r0 = 0\n  exit\n", prog_type="kprobe"),
    Case("helper_ringbuf_output", ".map rb ringbuf key=0 value=0 max_entries=4096\n  r1 = map[rb] ll\n  r2 = 0\n"
         "  *(u64 *)(r10 - 8) = r2\n  r2 = r10\n  r2 += -8\n  r3 = 8\n  r4 = 0\n  call bpf_ringbuf_output\n"
         "  r0 = 0\n  exit\n", prog_type="kprobe"),
    Case("helper_ringbuf_reserve_unreleased", ".map rb ringbuf key=0 value=0 max_entries=4096\n  r1 = map[rb] ll\n"
         "  r2 = 8\n  r3 = 0\n  call bpf_ringbuf_reserve\n  r0 = 0\n  exit\n", prog_type="kprobe", expect=REJECT),
    Case("helper_ringbuf_reserve_submit", ".map rb ringbuf key=0 value=0 max_entries=4096\n  r1 = map[rb] ll\n"
         "  r2 = 8\n  r3 = 0\n  call bpf_ringbuf_reserve\n  if r0 == 0 goto +3\n  r1 = r0\n  r2 = 0\n"
         "  call bpf_ringbuf_submit\n  r0 = 0\n  exit\n", prog_type="kprobe"),
    Case("helper_ringbuf_submit_null", ".map rb ringbuf key=0 value=0 max_entries=4096\n  r1 = map[rb] ll\n"
         "  r2 = 8\n  r3 = 0\n  call bpf_ringbuf_reserve\n  r1 = r0\n  r2 = 0\n  call bpf_ringbuf_submit\n"
         "  r0 = 0\n  exit\n", prog_type="kprobe", expect=REJECT),
]
