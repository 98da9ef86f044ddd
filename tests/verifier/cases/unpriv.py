"""Unprivileged rules: pointer leaks (into maps, return values, helper args), pointer comparisons, pointer
arithmetic restrictions, and the same programs privileged for contrast."""
from __future__ import annotations

from cases import REJECT, Case
from cases._util import LOOKUP_HASH, MAP_HASH

H = MAP_HASH + LOOKUP_HASH
RET = "  r0 = 0\n  exit\n"


def pair(name: str, body: str, priv_ok: bool, unpriv_ok: bool) -> list[Case]:
    return [Case(name, body + RET, expect="accept" if priv_ok else REJECT),
            Case(name, body + RET, privileged=False, expect="accept" if unpriv_ok else REJECT)]


CASES = [
    *pair("leak_fp_into_map", H + "  if r0 == 0 goto +1\n  *(u64 *)(r0 + 0) = r10\n", True, False),
    *pair("leak_ctx_into_map", "  r6 = r1\n" + H + "  if r0 == 0 goto +1\n  *(u64 *)(r0 + 0) = r6\n", True, False),
    *pair("leak_map_value_into_itself", H + "  if r0 == 0 goto +1\n  *(u64 *)(r0 + 0) = r0\n", True, False),
    *pair("leak_ptr_via_stack_spill", "  *(u64 *)(r10 - 8) = r1\n  r0 = *(u64 *)(r10 - 8)\n  r0 += 0\n", True, True),
    Case("leak_ptr_via_stack_fill_return", "  *(u64 *)(r10 - 8) = r1\n  r0 = *(u64 *)(r10 - 8)\n  exit\n",
         privileged=False, expect=REJECT),
    *pair("leak_ptr_as_map_key", MAP_HASH + "  *(u64 *)(r10 - 8) = r1\n  r2 = r10\n  r2 += -8\n  r1 = map[m] ll\n"
          "  call bpf_map_lookup_elem\n", True, False),
    *pair("leak_ptr_as_update_value", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  *(u64 *)(r10 - 16) = r10\n"
          "  r2 = r10\n  r2 += -4\n  r3 = r10\n  r3 += -16\n  r4 = 0\n  r1 = map[m] ll\n  call bpf_map_update_elem\n",
          True, False),
    *pair("cmp_ptr_ptr", "  r2 = r10\n  if r1 == r2 goto +0\n", True, False),
    *pair("cmp_ptr_imm", "  if r1 == 0 goto +0\n", True, False),
    *pair("cmp_ptr_scalar_reg", "  r2 = 5\n  if r1 > r2 goto +0\n", True, False),
    *pair("cmp_fp_imm", "  if r10 != 0 goto +0\n", True, False),
    *pair("cmp_map_value_null_check", H + "  if r0 == 0 goto +0\n", True, True),
    *pair("cmp_map_value_vs_imm", H + "  if r0 == 0 goto +1\n  if r0 > 100 goto +0\n", True, False),
    *pair("ptr_add_unknown_scalar_to_fp", "  r2 = *(u32 *)(r1 + 0)\n  r2 &= 7\n  r3 = r10\n  r3 += r2\n",
          True, False),
    *pair("ptr_sub_from_map_value_const", H + "  if r0 == 0 goto +1\n  r0 += 4\n", True, True),
    *pair("ptr_map_value_var_add", H + "  if r0 == 0 goto +3\n  r1 = *(u64 *)(r0 + 0)\n  r1 &= 7\n  r0 += r1\n",
          True, True),
    *pair("ptr_mov32", "  w2 = w10\n", True, False),
    *pair("ptr_neg_fp", "  r2 = r10\n  r2 = -r2\n", True, False),
    *pair("ptr_store_ctx_to_ctx_cb", "  *(u64 *)(r1 + 48) = r1\n", True, False),
    *pair("ptr_xor_self", "  r2 = r1\n  r2 ^= r2\n", False, False),
    *pair("ptr_printk_arg", "  r1 = 0\n  *(u64 *)(r10 - 8) = r1\n  r1 = r10\n  r1 += -8\n  r2 = 8\n  r3 = r10\n"
          "  call bpf_trace_printk\n", True, False),
    *pair("uninit_stack_helper_read", MAP_HASH + "  r2 = r10\n  r2 += -4\n  r1 = map[m] ll\n"
          "  call bpf_map_lookup_elem\n", True, False),
    *pair("array_value_read_unpriv", ".map a array key=4 value=16 max_entries=1\n"
          + LOOKUP_HASH.replace("map[m]", "map[a]") + "  if r0 == 0 goto +1\n  r1 = *(u64 *)(r0 + 8)\n", True, True),
    # bpf_prog_load: only socket filters and cgroup_skb load without CAP_BPF (EPERM, no log, for the others)
    *[Case(f"unpriv_prog_type_{t}", "  r0 = 0\n  exit\n", prog_type=t, privileged=False,
           expect="accept" if t == "cgroup_skb" else REJECT)
      for t in ("kprobe", "tracepoint", "raw_tracepoint", "xdp", "sched_cls", "sched_act", "cgroup_skb", "perf_event")],
    Case("unpriv_cgroup_skb_return_2", "  r0 = 2\n  exit\n", prog_type="cgroup_skb", privileged=False,
         expect=REJECT),
    Case("unpriv_cgroup_skb_read_data", "  r2 = *(u32 *)(r1 + 76)\n  r0 = 1\n  exit\n", prog_type="cgroup_skb",
         privileged=False, expect=REJECT),
    Case("unpriv_cgroup_skb_read_len", "  r2 = *(u32 *)(r1 + 0)\n  r0 = 1\n  exit\n", prog_type="cgroup_skb",
         privileged=False),
    *pair("ld_abs", "  r6 = r1\n  r0 = *(u8 *)skb[0]\n", True, True),
    *pair("ld_abs_without_r6_ctx", "  r6 = 0\n  r0 = *(u8 *)skb[0]\n", False, False),
]
