"""Map helpers and map values: lookups with and without null checks, value bounds (constant and variable
offsets), keys and values from the stack, wrong argument types, map-value pointers in lddw, read-only maps."""
from __future__ import annotations

import textwrap

from cases import REJECT, Case
from cases._util import LOOKUP_ARRAY, LOOKUP_HASH, MAP_ARRAY, MAP_HASH
from pyebpf.abi.maps import MapSpec, MapType

RET = "  r0 = 0\n  exit\n"
H = MAP_HASH + LOOKUP_HASH
A = MAP_ARRAY + LOOKUP_ARRAY


def ok(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, **kw)


def bad(name: str, body: str, **kw) -> Case:
    return Case(name, body + RET, expect=REJECT, **kw)


def _value_access(name: str, prefix: str, op: str, good: bool, **kw) -> Case:
    return (ok if good else bad)(name, prefix + "  if r0 == 0 goto +1\n  " + op + "\n", **kw)


def _outer(kind: MapType, inner_type: str) -> MapSpec:
    """A map of maps `outer` (4 slots) whose inner maps are 4-entry `inner_type` maps of u32 -> u64."""
    return MapSpec("outer", kind, 4, 4, 4, inner_map=MapSpec.of("inner", inner_type, 4, 8, 4))


def _map_in_map(name: str, body: str, kind: MapType = MapType.ARRAY_OF_MAPS, inner_type: str = "array",
                **kw) -> Case:
    """A case on `outer`, a map of maps (assembly's .map cannot declare the inner map's template)."""
    from pyebpf.isa.assembler import assemble
    text = textwrap.dedent(LOOKUP_HASH.replace("map[m]", "map[outer]") + body + RET)
    return Case(name, lambda: assemble(text, maps={"outer": _outer(kind, inner_type)}), **kw)


#: r1 = the null-checked inner map, key still 0 at fp-4: look it up (r0 = the inner map's value)
INNER_LOOKUP = "  r1 = r0\n  r2 = r10\n  r2 += -4\n  call bpf_map_lookup_elem\n"

_RO = ".map ro array key=4 value=8 entries=1 flags=0x80\n"  # BPF_F_RDONLY_PROG
_WO = ".map wo array key=4 value=8 entries=1 flags=0x100\n"  # BPF_F_WRONLY_PROG

CASES = [
    # program access rights of BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG maps (check_map_access_type)
    Case("map_rdonly_prog_write", _RO + "r1 = map_value[ro] + 0 ll\nr2 = 1\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit\n",
         expect=REJECT),
    Case("map_rdonly_prog_st", _RO + "r1 = map_value[ro] + 0 ll\n*(u32 *)(r1 + 4) = 7\nr0 = 0\nexit\n", expect=REJECT),
    Case("map_rdonly_prog_atomic", _RO + "r1 = map_value[ro] + 0 ll\nr2 = 1\nlock *(u64 *)(r1 + 0) += r2\n"
         "r0 = 0\nexit\n", expect=REJECT),
    Case("map_rdonly_prog_read", _RO + "r1 = map_value[ro] + 0 ll\nr0 = *(u64 *)(r1 + 0)\nexit\n"),
    Case("map_wronly_prog_read", _WO + "r1 = map_value[wo] + 0 ll\nr0 = *(u64 *)(r1 + 0)\nexit\n", expect=REJECT),
    Case("map_wronly_prog_write", _WO + "r1 = map_value[wo] + 0 ll\nr2 = 1\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit\n"),
    Case("map_rdonly_prog_helper_write", _RO + "r1 = map_value[ro] + 0 ll\nr2 = 8\nr3 = 0\n"
         "call bpf_probe_read_kernel\nr0 = 0\nexit\n", prog_type="kprobe", expect=REJECT),
    bad("map_lookup_no_null_check", H + "  r1 = *(u64 *)(r0 + 0)\n"),
    bad("map_lookup_no_null_check_write", H + "  r1 = 1\n  *(u64 *)(r0 + 0) = r1\n"),
    ok("map_lookup_null_check_eq", H + "  if r0 == 0 goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    ok("map_lookup_null_check_ne", H + "  if r0 != 0 goto +1\n  goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    bad("map_lookup_wrong_branch", H + "  if r0 != 0 goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    ok("map_lookup_null_check_on_copy", H + "  r6 = r0\n  if r6 == 0 goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    bad("map_lookup_null_check_then_clobbered_copy",
        H + "  r6 = r0\n  r6 += 0\n  r0 = 0\n  if r6 == 0 goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    bad("map_lookup_check_gt_zero", H + "  if r0 > 0 goto +1\n  goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    _value_access("map_value_read_last_byte", H, "r1 = *(u8 *)(r0 + 7)", True),
    _value_access("map_value_read_past_end", H, "r1 = *(u64 *)(r0 + 8)", False),
    _value_access("map_value_read_straddles_end", H, "r1 = *(u32 *)(r0 + 6)", False),
    _value_access("map_value_read_negative", H, "r1 = *(u8 *)(r0 - 1)", False),
    _value_access("map_value_read_misaligned_priv", H, "r1 = *(u32 *)(r0 + 2)", True),
    _value_access("map_value_write_u64", H, "*(u64 *)(r0 + 0) = r0", True),
    _value_access("map_value_store_ptr_unpriv", H, "*(u64 *)(r0 + 0) = r0", False, privileged=False),
    _value_access("map_value_st_imm", H, "*(u32 *)(r0 + 4) = 7", True),
    _value_access("map_value_atomic_r1_clobbered", H, "lock *(u64 *)(r0 + 0) += r1", False),
    ok("map_value_atomic_scalar", H + "  if r0 == 0 goto +2\n  r1 = 1\n  lock *(u64 *)(r0 + 0) += r1\n"),
    _value_access("array_value_read_15", A, "r1 = *(u8 *)(r0 + 15)", True),
    _value_access("array_value_read_16", A, "r1 = *(u8 *)(r0 + 16)", False),
    _value_access("array_value_read_u64_8", A, "r1 = *(u64 *)(r0 + 8)", True),
    ok("array_value_var_index_ok", A + "  if r0 == 0 goto +4\n  r1 = *(u64 *)(r0 + 0)\n  r1 &= 8\n  r0 += r1\n"
       "  r1 = *(u64 *)(r0 + 0)\n"),
    bad("array_value_var_index_oob", A + "  if r0 == 0 goto +4\n  r1 = *(u64 *)(r0 + 0)\n  r1 &= 12\n  r0 += r1\n"
        "  r1 = *(u64 *)(r0 + 0)\n"),
    ok("array_value_var_index_jmp_bounded", A + "  if r0 == 0 goto +4\n  r1 = *(u32 *)(r0 + 0)\n"
       "  if r1 > 8 goto +2\n  r0 += r1\n  r1 = *(u64 *)(r0 + 0)\n"),
    bad("array_value_var_index_signed", A + "  if r0 == 0 goto +4\n  r1 = *(u64 *)(r0 + 0)\n"
        "  if r1 s> 8 goto +2\n  r0 += r1\n  r1 = *(u64 *)(r0 + 0)\n"),
    # keys and values on the stack
    ok("map_lookup_key_uninit_priv", MAP_HASH + "  r2 = r10\n  r2 += -4\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n"),
    bad("map_lookup_key_uninit_unpriv", MAP_HASH + "  r2 = r10\n  r2 += -4\n  r1 = map[m] ll\n"
        "  call bpf_map_lookup_elem\n", privileged=False),
    bad("map_lookup_key_out_of_stack", MAP_HASH + "  r2 = r10\n  r2 += -2\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n"),
    bad("map_lookup_key_null", MAP_HASH + "  r2 = 0\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n"),
    bad("map_lookup_key_scalar", MAP_HASH + "  r2 = 4\n  r1 = map[m] ll\n  call bpf_map_lookup_elem\n"),
    ok("map_lookup_key_from_map_value", H + "  if r0 == 0 goto +4\n  r2 = r0\n  r1 = map[m] ll\n"
       "  call bpf_map_lookup_elem\n"),
    bad("map_lookup_map_arg_scalar", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n"
        "  call bpf_map_lookup_elem\n"),
    bad("map_lookup_map_arg_ctx", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n"
        "  r1 = r10\n  call bpf_map_lookup_elem\n"),
    ok("map_update_elem", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  *(u64 *)(r10 - 16) = r1\n  r2 = r10\n"
       "  r2 += -4\n  r3 = r10\n  r3 += -16\n  r4 = 0\n  r1 = map[m] ll\n  call bpf_map_update_elem\n"),
    bad("map_update_value_uninit", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n"
        "  r3 = r10\n  r3 += -16\n  r4 = 0\n  r1 = map[m] ll\n  call bpf_map_update_elem\n", privileged=False),
    bad("map_update_value_short", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  *(u64 *)(r10 - 16) = r1\n"
        "  r2 = r10\n  r2 += -4\n  r3 = r10\n  r3 += -4\n  r4 = 0\n  r1 = map[m] ll\n  call bpf_map_update_elem\n"),
    bad("map_update_flags_uninit", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  *(u64 *)(r10 - 16) = r1\n"
        "  r2 = r10\n  r2 += -4\n  r3 = r10\n  r3 += -16\n  r1 = map[m] ll\n  call bpf_map_update_elem\n"),
    ok("map_delete_elem", MAP_HASH + "  r1 = 0\n  *(u32 *)(r10 - 4) = r1\n  r2 = r10\n  r2 += -4\n  r1 = map[m] ll\n"
       "  call bpf_map_delete_elem\n"),
    bad("map_lookup_result_r0_then_exit_ptr_unpriv", H + "  exit\n", privileged=False),
    ok("map_ptr_lddw_unused", MAP_ARRAY + "  r1 = map[a] ll\n"),
    ok("map_lookup_result_dropped", H),
    bad("map_call_clobbers_r1", H + "  r0 = r1\n"),
    bad("map_call_clobbers_r5", H + "  r0 = r5\n"),
    ok("map_call_keeps_r6", "  r6 = 5\n" + H + "  r0 = r6\n"),
    # maps of maps: the looked-up value is the inner map (map_ptr) once null-checked (mark_ptr_not_null_reg)
    _map_in_map("map_in_map_inner_lookup", "  if r0 == 0 goto +6\n" + INNER_LOOKUP
                + "  if r0 == 0 goto +1\n  r1 = *(u64 *)(r0 + 0)\n"),
    _map_in_map("map_in_map_hash_inner_value_past_end", "  if r0 == 0 goto +6\n" + INNER_LOOKUP
                + "  if r0 == 0 goto +1\n  r1 = *(u64 *)(r0 + 24)\n", kind=MapType.HASH_OF_MAPS,
                inner_type="hash", expect=REJECT),
    _map_in_map("map_in_map_inner_value_no_null_check", "  if r0 == 0 goto +5\n" + INNER_LOOKUP
                + "  r1 = *(u64 *)(r0 + 0)\n", kind=MapType.HASH_OF_MAPS, inner_type="hash", expect=REJECT),
    _map_in_map("map_in_map_outer_no_null_check", INNER_LOOKUP, expect=REJECT),
    _map_in_map("map_in_map_outer_value_as_memory", "  r1 = *(u32 *)(r0 + 0)\n", expect=REJECT),
    _map_in_map("map_in_map_inner_ptr_write", "  if r0 == 0 goto +2\n  r1 = 0\n  *(u64 *)(r0 + 0) = r1\n",
                expect=REJECT),
    _map_in_map("map_in_map_outer_ptr_negative_write", "  r1 = map[outer] ll\n  r2 = 0\n  *(u64 *)(r1 - 8) = r2\n",
                kind=MapType.HASH_OF_MAPS, inner_type="hash", expect=REJECT),
]
