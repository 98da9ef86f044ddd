"""Known disagreements between our verifier and the running kernel (6.18), by case id: each one is a bug or a
missing feature in the engine (pyebpf/verifier, not the CFG stage), kept as a strict xfail until fixed.

Grouped by cause so the engine's owner can fix them a group at a time.
"""
from __future__ import annotations

CALL_STACK_BANG = ("message: engine (calls.py) prints 'the call stack of N frames is too deep !'; "
                   "6.18 prints no ' !'")
TNUM_CONST = ("message: misaligned access prints var_off as '(0x0; 0x0)'; 6.18's tnum_strn prints a known "
              "constant as '0' ('misaligned stack access off 0+0+-12 size 8')")

STACK_READ_WORDING = ("message: helper reading uninitialized/out-of-range stack bytes: 6.18 says 'invalid read from "
                      "stack R2 off=-4 size=4', engine says 'invalid indirect access to stack ...'")
MEM_TYPES_LIST = ("message: the expected-types list for ARG_PTR_TO_MEM: 6.18 prints 'fp, pkt, pkt_meta, map_key, "
                  "map_value, mem, ringbuf_mem, buf, trusted_ptr_'; engine prints '..., buf, rdonly_buf, arena'")

STACK_WRITE_WORDING = ("message: helper writing past the stack: 6.18 says 'invalid write to stack R3 off=-8 size=16', "
                       "engine says 'invalid indirect access to stack ...'")
GET_FUNC_IP = ("verdict (SOUNDNESS): bpf_get_func_ip is only for kprobe (and tracing/fentry) programs; 6.18 refuses it "
               "in tracepoint/raw_tracepoint/perf_event with ENOTSUPP 'func bpf_get_func_ip#173 not supported for "
               "program type N'; engine accepts (helper availability table lacks the per-type get_func_ip_proto)")

KNOWN: dict[str, str] = {
    "cfg_depth_9_frames[priv]": CALL_STACK_BANG,
    "cfg_recursive_call[priv]": CALL_STACK_BANG,
    **{f"{name}[{p}]": TNUM_CONST for name in (
        "stack_write_straddles_512", "stack_write_straddles_fp", "stack_misaligned_write", "stack_misaligned_read",
        "stack_spill_ptr_misaligned") for p in ("priv", "unpriv")},
    "map_lookup_key_uninit_unpriv[unpriv]": STACK_READ_WORDING,
    "map_lookup_key_out_of_stack[priv]": STACK_READ_WORDING,
    "map_update_value_uninit[unpriv]": STACK_READ_WORDING,
    "map_update_value_short[priv]": STACK_READ_WORDING,
    "map_lookup_key_null[priv]": MEM_TYPES_LIST,
    "helper_load_bytes_to_ctx[priv]": MEM_TYPES_LIST,
    "helper_printk_fmt_scalar[priv]": MEM_TYPES_LIST,
    "helper_load_bytes_len_past_stack[priv]": STACK_WRITE_WORDING,
    "helper_comm_size_too_big[priv]": STACK_WRITE_WORDING,
    **{f"helper_get_func_ip_in_{t}[priv]": GET_FUNC_IP for t in ("tracepoint", "raw_tracepoint", "perf_event")},
    "map_lookup_key_scalar[priv]": MEM_TYPES_LIST,
}
