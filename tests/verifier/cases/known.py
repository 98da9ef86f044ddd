"""Known disagreements between our verifier and the running kernel (6.18), by case id: each one is a bug or a
missing feature in the engine (pyebpf/verifier, not the CFG stage), kept as a strict xfail until fixed — when a
fix lands, the case XPASSes and fails: delete its line here.

Grouped by cause so the engine's owner can fix them a group at a time.
"""
from __future__ import annotations

GET_FUNC_IP = ("verdict (SOUNDNESS): bpf_get_func_ip is only for kprobe (and tracing/fentry) programs; 6.18 refuses it "
               "in tracepoint/raw_tracepoint/perf_event with ENOTSUPP 'func bpf_get_func_ip#173 not supported for "
               "program type N'; engine accepts (helper availability table lacks the per-type get_func_ip_proto)")
CALLBACK_RETURN = ("verdict (SOUNDNESS): bpf_loop callback returning 5: 6.18 rejects 'At callback return the register "
                   "R0 has smin=5 smax=5 should have been in [0, 1]'; engine does not check callback return ranges")
TOO_SLOW = ("no verdict in the 3 s budget: reaching the kernel's 1M-instruction limit takes the engine ~45 s "
            "(measured on a 3-instruction loop; the kernel needs 1-5 s), so the complexity-limit cases are "
            "xfail until the engine is ~15x faster on loops")
NO_BTF = ("verify() has no notion of BTF (it models programs loaded with func_info, as compiled ones are): the "
          "kernel's no-BTF subprogram rules ('... is not allowed in subprogs without BTF') are missing")
STACK_READ_VAR = ("message: helper reading a spilled pointer from the stack (unpriv): 6.18 says 'invalid read from "
                  "stack R2 off -8+0 size 4', engine says 'invalid read of stack ...'")

KNOWN: dict[str, str] = {
    **{f"helper_get_func_ip_in_{t}[priv]": GET_FUNC_IP for t in ("tracepoint", "raw_tracepoint", "perf_event")},
    "loop_bpf_loop_callback_bad_return[priv]": CALLBACK_RETURN,
    "loop_complexity_limit[priv]": TOO_SLOW,
    "loop_unconditional[priv]": TOO_SLOW,
    "loop_while_not_equal_odd[priv]": TOO_SLOW,
    "call_ld_abs_in_subprog_no_btf[priv]": NO_BTF,
    "call_tail_call_in_subprog_no_btf[priv]": NO_BTF,
    "leak_ptr_as_map_key[unpriv]": STACK_READ_VAR,
    "leak_ptr_as_update_value[unpriv]": STACK_READ_VAR,
}
