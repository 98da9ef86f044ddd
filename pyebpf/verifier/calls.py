"""Calls: helper calls checked against their prototypes (check_helper_call / check_func_arg), bpf-to-bpf calls
with frames (check_func_call / prepare_func_exit), tail calls, and the exit checks (check_return_code)."""
from __future__ import annotations

import errno

from pyebpf.abi.context import return_range
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.helpers import Arg, ArgType, HelperId, RetType, TypeFlag, helper_allowed, helper_name, proto_for
from pyebpf.abi.maps import MapType
from pyebpf.abi.opcodes import MAX_CALL_FRAMES, OP_CALL, CallSrc
from pyebpf.verifier import btf_ptr, dynptr
from pyebpf.verifier.btf_record import map_has_btf, spin_lock_off
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_not_init, mark_reg_unknown, reg_bounds_sync
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.abi.uapi import ENOTSUPP
from pyebpf.system.cpus import nr_cpu_ids
from pyebpf.verifier.env import BPF_MAX_VAR_SIZ, DST_OP_NO_MARK, SRC_OP, Env, Reject
from pyebpf.verifier.memory import (
    READ, WRITE, check_helper_mem_write, check_map_access, check_map_access_type, check_mem_region_access,
    check_packet_access, check_ptr_alignment, check_ptr_off_reg, check_stack_range_initialized,
    may_access_direct_pkt_data,
)
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, MEM_RDONLY, MEM_RINGBUF, NOT_INIT, PTR_MAYBE_NULL, PTR_TO_CTX, PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_SOCK_COMMON, PTR_TO_SOCKET,
    PTR_TO_STACK, PTR_TO_TCP_SOCK, PTR_TO_FUNC, RegType, SCALAR_VALUE, Reg, base_type, reg_type_str,
    type_is_pkt_pointer,
)
from pyebpf.verifier.precision import mark_chain_precision
from pyebpf.verifier.state import FuncState
from pyebpf.verifier.tnum import U64, tnum_in, tnum_range

CALLER_SAVED = (0, 1, 2, 3, 4, 5)
MAX_ERRNO = 4095

PTR_TRUSTED, MEM_ALLOC = int(TypeFlag.PTR_TRUSTED), int(TypeFlag.MEM_ALLOC)
_MEM_TYPES = (PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM,
              PTR_TO_MEM | MEM_RINGBUF, RegType.PTR_TO_BUF, RegType.PTR_TO_BTF_ID | PTR_TRUSTED)
_COMPATIBLE: dict[int, tuple[int, ...]] = {
    ArgType.ARG_PTR_TO_MAP_KEY: _MEM_TYPES,
    ArgType.ARG_PTR_TO_MAP_VALUE: _MEM_TYPES,
    ArgType.ARG_CONST_SIZE: (SCALAR_VALUE,),
    ArgType.ARG_CONST_SIZE_OR_ZERO: (SCALAR_VALUE,),
    ArgType.ARG_CONST_ALLOC_SIZE_OR_ZERO: (SCALAR_VALUE,),
    ArgType.ARG_CONST_MAP_PTR: (CONST_PTR_TO_MAP,),
    ArgType.ARG_PTR_TO_CTX: (PTR_TO_CTX,),
    ArgType.ARG_PTR_TO_SOCK_COMMON: (PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK),
    ArgType.ARG_PTR_TO_BTF_ID_SOCK_COMMON: (PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_TCP_SOCK,
                                            RegType.PTR_TO_XDP_SOCK, RegType.PTR_TO_BTF_ID,
                                            RegType.PTR_TO_BTF_ID | (1 << 20)),
    ArgType.ARG_PTR_TO_SOCKET: (PTR_TO_SOCKET,),
    ArgType.ARG_PTR_TO_SPIN_LOCK: (PTR_TO_MAP_VALUE,),
    ArgType.ARG_PTR_TO_MEM: _MEM_TYPES,
    ArgType.ARG_PTR_TO_RINGBUF_MEM: (PTR_TO_MEM | MEM_RINGBUF,),
    ArgType.ARG_PTR_TO_FUNC: (PTR_TO_FUNC,),
    ArgType.ARG_PTR_TO_STACK: (PTR_TO_STACK,),
    ArgType.ARG_PTR_TO_CONST_STR: (PTR_TO_MAP_VALUE,),
    ArgType.ARG_PTR_TO_TIMER: (PTR_TO_MAP_VALUE,),
    ArgType.ARG_PTR_TO_DYNPTR: (PTR_TO_STACK, RegType.CONST_PTR_TO_DYNPTR),
    ArgType.ARG_KPTR_XCHG_DEST: (PTR_TO_MAP_VALUE, RegType.PTR_TO_BTF_ID | MEM_ALLOC),
    ArgType.ARG_PTR_TO_BTF_ID: btf_ptr.HELPER_BTF_ID_TYPES,
}
#: map_key_value_types of kernels before Fact.MAP_KEY_ARG_ANY_MEM
_MAP_KEY_VALUE_ARGS = (ArgType.ARG_PTR_TO_MAP_KEY, ArgType.ARG_PTR_TO_MAP_VALUE)
_MAP_KEY_VALUE_TYPES = (PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE)
_OFF_OK_TYPES = {PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM,
                 PTR_TO_MEM | MEM_RDONLY, PTR_TO_MEM | MEM_RINGBUF, RegType.PTR_TO_BUF, SCALAR_VALUE}

_H = HelperId
_RET_BASE = {RetType.RET_PTR_TO_SOCKET: PTR_TO_SOCKET, RetType.RET_PTR_TO_TCP_SOCK: PTR_TO_TCP_SOCK,
             RetType.RET_PTR_TO_SOCK_COMMON: PTR_TO_SOCK_COMMON}
_ACQUIRE = {_H.SK_LOOKUP_TCP, _H.SK_LOOKUP_UDP, _H.SKC_LOOKUP_TCP, _H.RINGBUF_RESERVE}
#: is_ptr_cast_function(): the result is the argument's object, so it shares its reference (bpf_get_listener_sock
#: is not one: listener sockets are not reference counted)
_PTR_CAST = {_H.TCP_SOCK, _H.SK_FULLSOCK, _H.SKC_TO_TCP_SOCK, _H.SKC_TO_TCP6_SOCK, _H.SKC_TO_UDP6_SOCK,
             _H.SKC_TO_MPTCP_SOCK, _H.SKC_TO_TCP_TIMEWAIT_SOCK, _H.SKC_TO_TCP_REQUEST_SOCK}
#: helpers whose RET_PTR_TO_BTF_ID result is modelled: the bpf_skc_to_*() casts, kernel socket structs that all
#: begin with sock_common (so they are only ever passed on as ARG_PTR_TO_BTF_ID_SOCK_COMMON; their fields, read
#: through btf_struct_access, are not modelled and refused)
_SOCK_BTF_RET = {_H.SKC_TO_TCP_SOCK, _H.SKC_TO_TCP6_SOCK, _H.SKC_TO_UDP6_SOCK, _H.SKC_TO_MPTCP_SOCK,
                 _H.SKC_TO_TCP_TIMEWAIT_SOCK, _H.SKC_TO_TCP_REQUEST_SOCK, _H.SKC_TO_UNIX_SOCK}
_CHANGES_PKT_DATA = {
    _H.SKB_STORE_BYTES, _H.SKB_CHANGE_HEAD, _H.SKB_CHANGE_TAIL, _H.SKB_PULL_DATA, _H.SKB_CHANGE_PROTO,
    _H.SKB_VLAN_PUSH, _H.SKB_VLAN_POP, _H.SKB_ADJUST_ROOM, _H.XDP_ADJUST_HEAD, _H.XDP_ADJUST_META,
    _H.XDP_ADJUST_TAIL, _H.L3_CSUM_REPLACE, _H.L4_CSUM_REPLACE, _H.CLONE_REDIRECT, _H.MSG_PULL_DATA,
    _H.MSG_PUSH_DATA, _H.MSG_POP_DATA, _H.LWT_PUSH_ENCAP, _H.LWT_SEG6_STORE_BYTES, _H.LWT_SEG6_ADJUST_SRH,
    _H.LWT_SEG6_ACTION, _H.STORE_HDR_OPT, _H.SKB_CHANGE_TYPE,
}

# check_map_func_compatibility: map types that only certain helpers accept, and helpers that need certain maps
_MT = MapType
_STORAGE_FUNCS = {_MT.SK_STORAGE: {_H.SK_STORAGE_GET, _H.SK_STORAGE_DELETE},
                  _MT.INODE_STORAGE: {_H.INODE_STORAGE_GET, _H.INODE_STORAGE_DELETE},
                  _MT.TASK_STORAGE: {_H.TASK_STORAGE_GET, _H.TASK_STORAGE_DELETE},
                  _MT.CGRP_STORAGE: {_H.CGRP_STORAGE_GET, _H.CGRP_STORAGE_DELETE}}
_MAP_ONLY_FUNCS: dict[MapType, set[HelperId]] = {
    _MT.PROG_ARRAY: {_H.TAIL_CALL},
    _MT.PERF_EVENT_ARRAY: {_H.PERF_EVENT_READ, _H.PERF_EVENT_OUTPUT, _H.SKB_OUTPUT, _H.PERF_EVENT_READ_VALUE,
                           _H.XDP_OUTPUT},
    _MT.RINGBUF: {_H.RINGBUF_OUTPUT, _H.RINGBUF_RESERVE, _H.RINGBUF_QUERY, _H.RINGBUF_RESERVE_DYNPTR,
                  _H.RINGBUF_SUBMIT_DYNPTR, _H.RINGBUF_DISCARD_DYNPTR},
    _MT.USER_RINGBUF: {_H.USER_RINGBUF_DRAIN},
    _MT.STACK_TRACE: {_H.GET_STACKID},
    _MT.CGROUP_ARRAY: {_H.SKB_UNDER_CGROUP, _H.CURRENT_TASK_UNDER_CGROUP},
    _MT.CGROUP_STORAGE: {_H.GET_LOCAL_STORAGE},
    _MT.PERCPU_CGROUP_STORAGE: {_H.GET_LOCAL_STORAGE},
    _MT.DEVMAP: {_H.REDIRECT_MAP, _H.MAP_LOOKUP_ELEM},
    _MT.DEVMAP_HASH: {_H.REDIRECT_MAP, _H.MAP_LOOKUP_ELEM},
    _MT.CPUMAP: {_H.REDIRECT_MAP},
    _MT.XSKMAP: {_H.REDIRECT_MAP, _H.MAP_LOOKUP_ELEM},
    _MT.ARRAY_OF_MAPS: {_H.MAP_LOOKUP_ELEM},
    _MT.HASH_OF_MAPS: {_H.MAP_LOOKUP_ELEM},
    # sockmap/sockhash: plus update/delete where may_update_sockmap allows them
    _MT.SOCKMAP: {_H.SK_REDIRECT_MAP, _H.SOCK_MAP_UPDATE, _H.MSG_REDIRECT_MAP, _H.SK_SELECT_REUSEPORT,
                  _H.MAP_LOOKUP_ELEM},
    _MT.SOCKHASH: {_H.SK_REDIRECT_HASH, _H.SOCK_HASH_UPDATE, _H.MSG_REDIRECT_HASH, _H.SK_SELECT_REUSEPORT,
                   _H.MAP_LOOKUP_ELEM},
    _MT.REUSEPORT_SOCKARRAY: {_H.SK_SELECT_REUSEPORT},
    _MT.QUEUE: {_H.MAP_PEEK_ELEM, _H.MAP_POP_ELEM, _H.MAP_PUSH_ELEM},
    _MT.STACK: {_H.MAP_PEEK_ELEM, _H.MAP_POP_ELEM, _H.MAP_PUSH_ELEM},
    _MT.BLOOM_FILTER: {_H.MAP_PEEK_ELEM, _H.MAP_PUSH_ELEM},
    **{mt: funcs | {_H.KPTR_XCHG} for mt, funcs in _STORAGE_FUNCS.items()},
}
_FUNC_NEEDS_MAP: dict[HelperId, set[MapType]] = {
    _H.TAIL_CALL: {_MT.PROG_ARRAY},
    _H.PERF_EVENT_READ: {_MT.PERF_EVENT_ARRAY}, _H.PERF_EVENT_OUTPUT: {_MT.PERF_EVENT_ARRAY},
    _H.PERF_EVENT_READ_VALUE: {_MT.PERF_EVENT_ARRAY}, _H.SKB_OUTPUT: {_MT.PERF_EVENT_ARRAY},
    _H.XDP_OUTPUT: {_MT.PERF_EVENT_ARRAY},
    _H.RINGBUF_OUTPUT: {_MT.RINGBUF}, _H.RINGBUF_RESERVE: {_MT.RINGBUF}, _H.RINGBUF_QUERY: {_MT.RINGBUF},
    _H.RINGBUF_RESERVE_DYNPTR: {_MT.RINGBUF}, _H.RINGBUF_SUBMIT_DYNPTR: {_MT.RINGBUF},
    _H.RINGBUF_DISCARD_DYNPTR: {_MT.RINGBUF},
    _H.USER_RINGBUF_DRAIN: {_MT.USER_RINGBUF},
    _H.GET_STACKID: {_MT.STACK_TRACE},
    _H.CURRENT_TASK_UNDER_CGROUP: {_MT.CGROUP_ARRAY}, _H.SKB_UNDER_CGROUP: {_MT.CGROUP_ARRAY},
    _H.REDIRECT_MAP: {_MT.DEVMAP, _MT.DEVMAP_HASH, _MT.CPUMAP, _MT.XSKMAP},
    _H.SK_REDIRECT_MAP: {_MT.SOCKMAP}, _H.MSG_REDIRECT_MAP: {_MT.SOCKMAP}, _H.SOCK_MAP_UPDATE: {_MT.SOCKMAP},
    _H.SK_REDIRECT_HASH: {_MT.SOCKHASH}, _H.MSG_REDIRECT_HASH: {_MT.SOCKHASH},
    _H.SOCK_HASH_UPDATE: {_MT.SOCKHASH},
    _H.GET_LOCAL_STORAGE: {_MT.CGROUP_STORAGE, _MT.PERCPU_CGROUP_STORAGE},
    _H.SK_SELECT_REUSEPORT: {_MT.REUSEPORT_SOCKARRAY, _MT.SOCKMAP, _MT.SOCKHASH},
    _H.MAP_PEEK_ELEM: {_MT.QUEUE, _MT.STACK, _MT.BLOOM_FILTER}, _H.MAP_POP_ELEM: {_MT.QUEUE, _MT.STACK},
    _H.MAP_PUSH_ELEM: {_MT.QUEUE, _MT.STACK, _MT.BLOOM_FILTER},
    _H.MAP_LOOKUP_PERCPU_ELEM: {_MT.PERCPU_ARRAY, _MT.PERCPU_HASH, _MT.LRU_PERCPU_HASH},
    **{f: {mt} for mt, funcs in _STORAGE_FUNCS.items() for f in funcs},
}
#: may_update_sockmap: program types that may update/delete sockmap entries with the generic map helpers
#: (SOCK_OPS deletes only; TRACING only as a sockmap iterator)
_SOCKMAP_UPDATERS = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP,
                               ProgType.SK_REUSEPORT, ProgType.FLOW_DISSECTOR, ProgType.SK_LOOKUP})


class CallMeta:
    """struct bpf_call_arg_meta (the parts we use)."""

    __slots__ = ("map", "raw_mode", "access_size", "regno", "mem_size", "msize_max_value", "ref_obj_id",
                 "release_regno", "const_map_key", "subprogno", "dynptr_id", "dynptr_type")

    def __init__(self) -> None:
        self.map = None
        self.raw_mode = False
        self.access_size = 0
        self.regno = -1
        self.mem_size = 0
        self.msize_max_value = 0
        self.ref_obj_id = 0
        self.release_regno = 0
        self.const_map_key = -1
        self.subprogno = -1
        self.dynptr_id = 0
        self.dynptr_type = 0


def _tn(reg: Reg) -> str:
    return f"({reg.var_off.value:#x}; {reg.var_off.mask:#x})"


def register_is_null(reg: Reg) -> bool:
    return reg.type == SCALAR_VALUE and not reg.var_off.mask and reg.var_off.value == 0


def check_helper_mem_access(env: Env, regno: int, size: int, access: int, zero_size_allowed: bool,
                            meta: CallMeta | None) -> None:
    reg = env.regs[regno]
    bt = base_type(reg.type)
    if bt in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        check_packet_access(env, regno, reg.off, size, zero_size_allowed)
    elif bt == PTR_TO_MAP_KEY:
        if access == WRITE:
            raise Reject(f"R{regno} cannot write into {reg_type_str(reg.type)}")
        check_mem_region_access(env, regno, reg.off, size, reg.map.key_size, False)
    elif bt == PTR_TO_MAP_VALUE:
        check_map_access_type(reg.map, reg.off, size, access == WRITE)
        check_map_access(env, regno, reg.off, size, zero_size_allowed)
    elif bt == PTR_TO_MEM:
        if reg.type & MEM_RDONLY and access == WRITE:
            raise Reject(f"R{regno} cannot write into {reg_type_str(reg.type)}")
        check_mem_region_access(env, regno, reg.off, size, reg.mem_size, zero_size_allowed)
    elif bt == PTR_TO_STACK:
        check_stack_range_initialized(env, regno, reg.off, size, zero_size_allowed, access, meta)
    else:
        if zero_size_allowed and size == 0 and register_is_null(reg):
            return
        raise Reject(f"R{regno} type={reg_type_str(reg.type)} expected=fp")


def check_mem_size_reg(env: Env, reg: Reg, regno: int, access: int, zero_size_allowed: bool,
                       meta: CallMeta) -> None:
    meta.msize_max_value = reg.umax
    use_meta = meta if not reg.var_off.mask else None
    if reg.smin < 0:
        raise Reject(f"R{regno} min value is negative, either use unsigned or 'var &= const'")
    if reg.umin == 0 and not zero_size_allowed:
        raise Reject(f"R{regno} invalid zero-sized read: u64=[{reg.umin},{reg.umax}]")
    if reg.umax >= BPF_MAX_VAR_SIZ:
        raise Reject(f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
    check_helper_mem_access(env, regno - 1, reg.umax, access, zero_size_allowed, use_meta)
    mark_chain_precision(env, regno)


def check_reg_type(env: Env, regno: int, arg) -> None:
    reg = env.regs[regno]
    compatible = _COMPATIBLE.get(arg.type)
    if compatible is None:
        raise Reject(f"verifier internal error: unsupported arg type {arg.raw}", errno.EFAULT)
    if arg.type in _MAP_KEY_VALUE_ARGS and env.kernel is not None and not env.kernel.fact(Fact.MAP_KEY_ARG_ANY_MEM):
        compatible = _MAP_KEY_VALUE_TYPES
    elif arg.type == ArgType.ARG_PTR_TO_BTF_ID:
        compatible = btf_ptr.helper_btf_id_types(env)
    t = reg.type
    if arg.flags & TypeFlag.MEM_RDONLY:
        t &= ~MEM_RDONLY
    if arg.flags & TypeFlag.PTR_MAYBE_NULL:
        t &= ~PTR_MAYBE_NULL
    if arg.type == ArgType.ARG_PTR_TO_MEM:
        t &= ~dynptr.DYNPTR_TYPE_FLAG_MASK  # a dynptr slice is memory like any other
    if t in compatible:
        if arg.type == ArgType.ARG_PTR_TO_BTF_ID:
            btf_ptr.check_helper_btf_arg(env, regno, arg)
        return
    expected = ", ".join("trusted_ptr_" if x & PTR_TRUSTED else "ptr_" if x & MEM_ALLOC else reg_type_str(x)
                         for x in compatible)
    raise Reject(f"R{regno} type={reg_type_str(reg.type)} expected={expected}")


def check_func_arg(env: Env, argno: int, meta: CallMeta, proto, hid: HelperId) -> None:
    regno = argno + 1
    arg = proto.args[argno]
    at = arg.type
    if at == ArgType.ARG_DONTCARE:
        return
    reg = env.check_reg_arg(regno, SRC_OP)
    if at == ArgType.ARG_PTR_TO_MAP_VALUE:
        arg = resolve_map_arg_type(meta, arg)
        at = arg.type
    if at == ArgType.ARG_ANYTHING:
        if env.is_pointer_value(reg):
            raise Reject(f"R{regno} leaks addr into helper function")
        return
    if type_is_pkt_pointer(reg.type) and not (may_access_direct_pkt_data(env, False) and (
            proto.pkt_access or env.prog_type == ProgType.CGROUP_SOCKOPT)):
        # may_access_direct_pkt_data(env, meta, BPF_READ): with a call's meta, only helpers marked pkt_access
        raise Reject("helper access to the packet is not allowed")
    if register_is_null(reg) and arg.flags & TypeFlag.PTR_MAYBE_NULL:
        mark_chain_precision(env, regno)  # NULL is accepted only because the scalar is exactly 0
    else:
        check_reg_type(env, regno, arg)
        if arg.flags & TypeFlag.OBJ_RELEASE and not (at == ArgType.ARG_PTR_TO_DYNPTR and reg.type == PTR_TO_STACK):
            # check_func_arg_reg_off: what is released must be the object itself
            if reg.off:
                raise Reject(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc",
                             errno.EINVAL)
            check_ptr_off_reg(env, reg, regno)
        elif reg.type not in _OFF_OK_TYPES:
            check_ptr_off_reg(env, reg, regno)
    if arg.flags & TypeFlag.OBJ_RELEASE:
        if at == ArgType.ARG_PTR_TO_DYNPTR:
            dynptr.check_release_arg(env, regno)
        elif not reg.ref_obj_id and not register_is_null(reg):
            raise Reject(f"R{regno} must be referenced when passed to release function")
        meta.release_regno = regno
        meta.ref_obj_id = reg.ref_obj_id
    elif reg.ref_obj_id:
        meta.ref_obj_id = reg.ref_obj_id
    if at == ArgType.ARG_PTR_TO_DYNPTR:
        dynptr.process_dynptr_func(env, regno, int(arg.flags))
        if not arg.flags & TypeFlag.MEM_UNINIT:
            meta.dynptr_type = dynptr.dynptr_reg(env, reg).range
        if hid == _H.DYNPTR_DATA:  # the slice keeps the dynptr's id and reference
            dreg = dynptr.dynptr_reg(env, reg)
            meta.dynptr_id = dreg.id
            meta.ref_obj_id = dreg.ref_obj_id
    elif at == ArgType.ARG_CONST_MAP_PTR:
        meta.map = reg.map
    elif at == ArgType.ARG_PTR_TO_FUNC:
        meta.subprogno = reg.subprogno
    elif at == ArgType.ARG_PTR_TO_SPIN_LOCK:
        process_spin_lock(env, regno, hid == _H.SPIN_LOCK)
    elif at == ArgType.ARG_PTR_TO_TIMER:
        # process_timer_func: a bpf_timer lives in a map value described by BTF; verify() models maps without
        # BTF (as MapSpec creates them), so every timer use ends here, before its callback
        if reg.var_off.mask:
            raise Reject(f"R{regno} doesn't have constant offset. bpf_timer has to be at the constant offset",
                         errno.EINVAL)
        raise Reject(f"map '{reg.map.name[:15]}' has to have BTF in order to use bpf_timer", errno.EINVAL)
    elif at == ArgType.ARG_PTR_TO_MAP_KEY:
        if meta.map is None:
            raise Reject("invalid map_ptr to access map->key")
        check_helper_mem_access(env, regno, meta.map.key_size, READ, False, None)
        if meta.map.spec.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            meta.const_map_key = get_constant_map_key(env, reg, meta.map.key_size)
    elif at == ArgType.ARG_PTR_TO_MAP_VALUE:
        if arg.flags & TypeFlag.PTR_MAYBE_NULL and register_is_null(reg):
            return
        if meta.map is None:
            raise Reject("invalid map_ptr to access map->value")
        meta.raw_mode = bool(arg.flags & TypeFlag.MEM_UNINIT)
        check_helper_mem_access(env, regno, meta.map.value_size,
                                WRITE if arg.flags & TypeFlag.MEM_WRITE else READ, False, meta)
    elif at == ArgType.ARG_PTR_TO_MEM:
        if register_is_null(reg) and arg.flags & TypeFlag.PTR_MAYBE_NULL:
            return
        meta.raw_mode = bool(arg.flags & TypeFlag.MEM_UNINIT)
        if arg.flags & TypeFlag.MEM_FIXED_SIZE:
            check_helper_mem_access(env, regno, arg.size, WRITE if arg.flags & TypeFlag.MEM_WRITE else READ,
                                    False, meta)
            if arg.flags & TypeFlag.MEM_ALIGNED:
                check_ptr_alignment(env, reg, 0, arg.size, True)
    elif at in (ArgType.ARG_CONST_SIZE, ArgType.ARG_CONST_SIZE_OR_ZERO):
        prev = proto.args[argno - 1]
        check_mem_size_reg(env, reg, regno, WRITE if prev.flags & TypeFlag.MEM_WRITE else READ,
                           at == ArgType.ARG_CONST_SIZE_OR_ZERO, meta)
    elif at == ArgType.ARG_CONST_ALLOC_SIZE_OR_ZERO:
        if reg.var_off.mask:
            raise Reject(f"R{regno} is not a known constant'")
        meta.mem_size = reg.var_off.value
        mark_chain_precision(env, regno)


def resolve_map_arg_type(meta: CallMeta, arg):
    """resolve_map_arg_type(): the value a sockmap/sockhash stores is a socket, so its update takes one."""
    if meta.map is None:
        raise Reject("invalid map_ptr to access map->type")
    if meta.map.spec.type in (MapType.SOCKMAP, MapType.SOCKHASH):
        if arg.flags:
            raise Reject("invalid arg_type for sockmap/sockhash", errno.EINVAL)
        return Arg(ArgType.ARG_PTR_TO_BTF_ID_SOCK_COMMON)
    return arg


def get_constant_map_key(env: Env, key: Reg, key_size: int) -> int:
    """The key's value when the stack holds it as a known constant (zeroed bytes or a constant spill), else -1."""
    from pyebpf.verifier.state import BPF_REG_SIZE, STACK_SPILL, STACK_ZERO
    if not env.bpf_capable or key.type != PTR_TO_STACK or key.var_off.mask:
        return -1
    value = key.var_off.value
    stack_off = key.off + (value - (1 << 64) if value >> 63 else value)
    slot = -stack_off - 1
    spi, off = slot // BPF_REG_SIZE, slot % BPF_REG_SIZE
    frame = env.cur.frames[key.frameno]
    if spi >= len(frame.stack):
        return -1
    sslot = frame.stack[spi]
    stype = sslot.slot_type
    zero = 0
    i = off
    while i >= 0 and stype[i] == STACK_ZERO:
        zero += 1
        i -= 1
    if zero >= key_size:
        return 0
    if not sslot.is_spilled_scalar:
        return -1
    spill = 0
    i = off
    while i >= 0 and stype[i] == STACK_SPILL:
        spill += 1
        i -= 1
    if spill != key_size or sslot.spilled.var_off.mask:
        return -1
    return sslot.spilled.var_off.value


def check_helper_call(env: Env, insn) -> int | None:
    """check_helper_call(); returns the next slot when it is not the next instruction (a callback entered on
    the current path, by a kernel that visits callbacks once)."""
    func_id = insn.imm
    try:
        hid = HelperId(func_id)
    except ValueError:
        raise Reject(f"invalid func unknown#{func_id}", errno.EINVAL) from None
    kernel = env.kernel
    if kernel is not None and func_id > kernel.fact(Fact.LAST_HELPER_ID):
        raise Reject(f"invalid func unknown#{func_id}", errno.EINVAL)
    name = helper_name(hid)
    proto = None
    try:
        if helper_allowed(env.prog_type, hid, env.privileged, env.attach_type) and (
                kernel is None or kernel.helper_available(env.prog_type, hid)):
            proto = proto_for(env.prog_type, hid, env.attach_type)
            if proto is not None and kernel is not None:
                proto = kernel.helper_proto(env.prog_type, hid, proto)
    except ValueError:
        proto = None
    if proto is None:
        refused = ("program of this type cannot use helper {name}#{id}" if kernel is None
                   else kernel.fact(Fact.HELPER_REFUSED_MSG))
        raise Reject(refused.format(name=name, id=func_id), errno.EINVAL)
    if not env.gpl and proto.gpl_only:
        raise Reject("cannot call GPL-restricted function from non-GPL compatible program", errno.EINVAL)
    if proto.might_sleep and not env.sleepable:
        raise Reject("helper call might sleep in a non-sleepable prog", errno.EINVAL)
    meta = CallMeta()
    for argno in range(len(proto.args)):
        check_func_arg(env, argno, meta, proto, hid)
    if hid == HelperId.TAIL_CALL and meta.map is not None and meta.map.spec.type != MapType.PROG_ARRAY:
        raise Reject("expected prog array map for tail call", errno.EINVAL, newline=False)
    if meta.map is not None:
        check_map_func_compatibility(env, meta.map, hid, name)
    regs = env.regs
    if hid == HelperId.TAIL_CALL and meta.map is not None:
        # record_func_key: a constant in-range index is relied on (the JIT patches a direct jump)
        r3 = regs[3]
        if r3.type == SCALAR_VALUE and not r3.var_off.mask and r3.var_off.value < meta.map.spec.max_entries:
            mark_chain_precision(env, 3)
    if meta.access_size:
        check_helper_mem_write(env, meta.regno, meta.access_size)
    if meta.release_regno:
        reg = regs[meta.release_regno]
        if proto.args[meta.release_regno - 1].type == ArgType.ARG_PTR_TO_DYNPTR:
            dynptr.unmark_stack_slots(env, reg)
        elif not register_is_null(reg):
            release_reference(env, meta.ref_obj_id)
    if hid == HelperId.TAIL_CALL and env.cur.refs:
        check_reference_leak(env, "tail_call")
    if hid == _H.DYNPTR_FROM_MEM and regs[1].type != PTR_TO_MAP_VALUE:
        raise Reject(f"Unsupported reg type {reg_type_str(regs[1].type)} for bpf_dynptr_from_mem data",
                     errno.EACCES)
    if hid == _H.GET_LOCAL_STORAGE and not register_is_null(regs[2]):
        # get_local_storage() cannot fail, so it has no flags to honour
        raise Reject("get_local_storage() doesn't support non-zero flags", errno.EINVAL)
    callback = None
    if hid in _CALLBACK_STATE and kernel is not None and not kernel.fact(Fact.CALLBACKS_ITERATED):
        if hid == _H.LOOP and env.insn_idx not in env.loop_inline_seen:
            env.loop_inline_seen.add(env.insn_idx)
            if register_is_null(regs[4]):
                mark_chain_precision(env, 4)
        callback = callback_frame(env, hid, meta)
    elif hid in _CALLBACK_STATE:
        if hid == _H.LOOP:
            if env.insn_idx not in env.loop_inline_seen:
                # update_loop_inline_state -> loop_flag_is_zero: a zero flags argument is relied on
                env.loop_inline_seen.add(env.insn_idx)
                if register_is_null(regs[4]):
                    mark_chain_precision(env, 4)
            mark_chain_precision(env, 1)  # the iteration count decides when the callback visits stop
            # bpf_loop: one more visit of the callback while fewer than R1's umax were pushed from this frame
            # since the last return; the visits converge when a return meets an equal state at the call
            if env.cur.frame.callback_depth < regs[1].umax:
                push_callback_call(env, hid, meta)
            else:
                env.cur.frame.callback_depth = 0
                if env.level2:
                    env.verbose(f"frame{env.cur.curframe} bpf_loop iteration limit reached\n")
        else:
            push_callback_call(env, hid, meta)
    for r in CALLER_SAVED:
        mark_reg_not_init(regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK)
    r0 = regs[0]
    ret = proto.ret
    rt = ret.type
    flag = int(ret.flags) & (PTR_MAYBE_NULL | MEM_RDONLY | MEM_RINGBUF)
    if rt == RetType.RET_INTEGER:
        mark_reg_unknown(r0)
    elif rt == RetType.RET_VOID:
        r0.type = NOT_INIT
    elif rt == RetType.RET_PTR_TO_MAP_VALUE:
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        if meta.map is None:
            raise Reject("kernel subsystem misconfigured verifier", errno.EINVAL)
        r0.map = meta.map
        if hid == HelperId.MAP_LOOKUP_ELEM and 0 <= meta.const_map_key < meta.map.spec.max_entries:
            flag &= ~PTR_MAYBE_NULL  # can_elide_value_nullness: constant in-range key into an array
        inner = env.inner_map_ref(meta.map)
        if inner is not None and (env.kernel is None or env.kernel.fact(Fact.MAP_IN_MAP_LOOKUP_INNER)):
            # a lookup in a map of maps returns the inner map itself (its inner_map_meta), maybe NULL:
            # `R0=map_ptr_or_null(id=1,ks=..,vs=..)` as 6.18 prints it
            r0.type = CONST_PTR_TO_MAP | flag
            r0.map = inner
        else:
            r0.type = PTR_TO_MAP_VALUE | flag
            if not flag & PTR_MAYBE_NULL and spin_lock_off(meta.map.spec) is not None:
                r0.id = env.new_id()  # a value holding a lock is told apart by its id, even when never NULL
    elif rt in _RET_BASE:
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        r0.type = _RET_BASE[rt] | flag
    elif rt == RetType.RET_PTR_TO_MEM:
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        r0.type = PTR_TO_MEM | flag
        r0.mem_size = meta.mem_size
    elif rt == RetType.RET_PTR_TO_BTF_ID and (hid in _SOCK_BTF_RET or ret.btf_id):
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        # ret_btf_id: the kernel struct by name in vmlinux BTF (btf_ptr reads through it); PTR_TRUSTED is kept
        r0.type = RegType.PTR_TO_BTF_ID | flag | btf_ptr.trust_flag(env, int(ret.flags) & PTR_TRUSTED)
        r0.mem_size = btf_ptr.struct_id(ret.btf_id)
    else:
        raise Reject(f"unknown return type {ret.raw} of func {name}#{func_id}", errno.EINVAL)
    if r0.type & PTR_MAYBE_NULL:
        r0.id = env.new_id()
    if hid in _PTR_CAST or hid == _H.DYNPTR_DATA:
        r0.ref_obj_id = meta.ref_obj_id
        if hid == _H.DYNPTR_DATA:
            r0.range = meta.dynptr_id  # reg->dynptr_id (the PTR_TO_MEM union slot): dies with the dynptr
    elif hid in _ACQUIRE or (hid == _H.MAP_LOOKUP_ELEM and meta.map is not None
                             and meta.map.spec.type in (MapType.SOCKMAP, MapType.SOCKHASH)):
        rid = env.new_id()
        env.cur.refs.append((rid, env.insn_idx))
        r0.id = rid
        r0.ref_obj_id = rid
    if rt == RetType.RET_INTEGER:
        if hid in (_H.GET_STACK, _H.GET_TASK_STACK, _H.PROBE_READ_STR, _H.PROBE_READ_KERNEL_STR,
                   _H.PROBE_READ_USER_STR):
            r0.smax = r0.s32_max = meta.msize_max_value
            r0.smin = r0.s32_min = -MAX_ERRNO
            reg_bounds_sync(r0)
        elif hid == _H.GET_SMP_PROCESSOR_ID and (env.kernel is None or env.kernel.fact(Fact.SMP_ID_BOUNDED)):
            n = nr_cpu_ids() - 1
            r0.umax = r0.u32_max = r0.smax = r0.s32_max = n
            r0.umin = r0.u32_min = r0.smin = r0.s32_min = 0
            reg_bounds_sync(r0)
    if hid == _H.GET_FUNC_IP:
        check_get_func_ip(env)
    if hid in _CHANGES_PKT_DATA or (hid == _H.DYNPTR_WRITE and meta.dynptr_type & (
            TypeFlag.DYNPTR_TYPE_SKB | TypeFlag.DYNPTR_TYPE_SKB_META)):
        clear_all_pkt_pointers(env)  # writing into an skb dynptr may move the packet data
    if callback is not None:
        return enter_frame(env, callback)
    return None


_GET_FUNC_IP_TYPES = frozenset({ProgType.KPROBE})
"""check_get_func_ip(): bpf_tracing_func_proto() offers bpf_get_func_ip to every tracing program type, but only
kprobes (and trampoline-based tracing programs, which verify() does not model) know the function's address: the
others are refused after the arguments are checked, with ENOTSUPP."""


def check_get_func_ip(env: Env) -> None:
    if env.prog_type == ProgType.TRACING:
        if env.attach_type not in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN):
            hid = _H.GET_FUNC_IP  # bpf_prog_has_trampoline()
            raise Reject(f"func {helper_name(hid)}#{int(hid)} supported only for fentry/fexit/fmod_ret programs",
                         ENOTSUPP)
        return
    if env.prog_type not in _GET_FUNC_IP_TYPES:
        hid = _H.GET_FUNC_IP
        raise Reject(f"func {helper_name(hid)}#{int(hid)} not supported for program type {int(env.prog_type)}",
                     ENOTSUPP)


def may_update_sockmap(env: Env, hid: HelperId) -> bool:
    if hid not in (_H.MAP_UPDATE_ELEM, _H.MAP_DELETE_ELEM):
        return False
    pt = env.prog_type
    if pt in _SOCKMAP_UPDATERS or (pt == ProgType.SOCK_OPS and hid == _H.MAP_DELETE_ELEM):
        return True
    if pt == ProgType.TRACING and env.attach_type == AttachType.TRACE_ITER:
        return True
    env.verbose("cannot update sockmap in this context\n")
    return False


def process_spin_lock(env: Env, regno: int, is_lock: bool) -> None:
    """bpf_spin_lock/unlock(R1): a constant offset onto the value's bpf_spin_lock, one lock held at a time, and
    the unlock of the very value (map and register id) that was locked."""
    reg = env.regs[regno]
    if reg.var_off.mask:
        raise Reject(f"R{regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset",
                     errno.EINVAL)
    spec = reg.map.spec
    if not map_has_btf(spec):
        raise Reject(f"map '{reg.map.name[:15]}' has to have BTF in order to use bpf_spin_lock", errno.EINVAL)
    lock_off = spin_lock_off(spec)
    if lock_off is None:
        raise Reject(f"map '{reg.map.name[:15]}' has no valid bpf_spin_lock", errno.EINVAL)
    off = reg.var_off.value + reg.off
    if off != lock_off:
        raise Reject(f"off {off} doesn't point to 'struct bpf_spin_lock' that is at {lock_off}", errno.EINVAL)
    cur = env.cur
    if is_lock:
        if cur.active_lock is not None:
            raise Reject("Locking two bpf_spin_locks are not allowed", errno.EINVAL)
        cur.active_lock = (reg.map.uid, reg.id)
        return
    if cur.active_lock is None:
        raise Reject("bpf_spin_unlock without taking a lock", errno.EINVAL)
    if cur.active_lock != (reg.map.uid, reg.id):
        raise Reject("bpf_spin_unlock of different lock", errno.EINVAL)
    cur.active_lock = None


def check_map_func_compatibility(env: Env, mapref, hid: HelperId, name: str) -> None:
    """Two-way check: a map type only some helpers take, and a helper that takes only some map types."""
    mt = mapref.spec.type
    only = _MAP_ONLY_FUNCS.get(mt)
    ok = only is None or hid in only or (mt in (_MT.SOCKMAP, _MT.SOCKHASH) and may_update_sockmap(env, hid))
    need = _FUNC_NEEDS_MAP.get(hid)
    if not ok or (need is not None and mt not in need):
        raise Reject(f"cannot pass map_type {int(mt)} into func {name}#{int(hid)}", errno.EINVAL)


def for_each_reg(state):
    for f in state.frames:
        yield from f.regs
        for s in f.stack:
            if s.is_spilled_reg:
                yield s.spilled


def subprog_changes_pkt_data(env: Env, subprog: int) -> bool:
    """subprog_info[].changes_pkt_data: the subprogram, or one it calls, calls a helper that may move the packet
    data, or a tail call (whose target may); a call to such a global function invalidates the caller's packet
    pointers (check_func_call, after mark_subprog_changes_pkt_data and merge_callee_effects)."""
    memo = env.__dict__.setdefault("_changes_pkt_data", {})
    if subprog in memo:
        return memo[subprog]
    cfg = env.cfg
    seen = {subprog}
    todo = [subprog]
    changes = False
    while todo and not changes:
        sub = todo.pop()
        for slot in range(cfg.subprog_starts[sub], cfg.subprog_end(sub)):
            insn = cfg.insns[slot]
            if insn is None or insn.opcode != OP_CALL:
                continue
            if insn.src == 0 and (insn.imm in _CHANGES_PKT_DATA or insn.imm == HelperId.TAIL_CALL):
                changes = True
                break
            if insn.src == CallSrc.PSEUDO_CALL:
                callee = cfg.subprog_of(slot + insn.imm + 1)
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
    memo[subprog] = changes
    return changes


def clear_all_pkt_pointers(env: Env) -> None:
    for reg in for_each_reg(env.cur):
        if base_type(reg.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META, RegType.PTR_TO_PACKET_END) \
                or dynptr.is_pkt_slice(reg):
            mark_reg_unknown(reg)


def release_reference(env: Env, ref_obj_id: int) -> None:
    refs = env.cur.refs
    for i, (rid, _) in enumerate(refs):
        if rid == ref_obj_id:
            del refs[i]
            break
    else:
        raise Reject(f"verifier internal error: reference {ref_obj_id} not found", errno.EFAULT)
    for reg in for_each_reg(env.cur):
        if reg.ref_obj_id == ref_obj_id:
            mark_reg_unknown(reg)


def check_reference_leak(env: Env, prefix: str = "BPF_EXIT instruction in main prog", check_lock: bool = True
                         ) -> None:
    """check_resource_leak: no bpf_spin_lock held (`check_lock`), every acquired reference released (one line per
    leak, then the verdict)."""
    if check_lock and env.cur.active_lock is not None:
        raise Reject(f"{prefix} cannot be used inside bpf_spin_lock-ed region", errno.EINVAL)
    if env.cur.refs:
        lines = [f"Unreleased reference id={rid} alloc_insn={at}" for rid, at in env.cur.refs]
        if prefix.startswith("BPF_EXIT") and env.kernel is not None and env.kernel.fact(Fact.REF_LEAK_AS_ID):
            env.verbose("".join(ln + "\n" for ln in lines[:-1]))
            raise Reject(lines[-1], errno.EINVAL)
        env.verbose("".join(ln + "\n" for ln in lines))
        raise Reject(f"{prefix} would lead to reference leak", errno.EINVAL)


# ---- bpf-to-bpf calls --------------------------------------------------------------------------------------------

def check_func_call(env: Env, insn, slot: int) -> int:
    """Push a callee frame; returns the slot of the callee's first instruction (of the next one for a global
    function, which is verified on its own: global_func.py)."""
    from pyebpf.verifier.global_func import call_global, global_funcs
    cur = env.cur
    if cur.curframe + 1 >= MAX_CALL_FRAMES:
        raise Reject(f"the call stack of {cur.curframe + 2} frames is too deep", errno.E2BIG)
    target = slot + 1 + insn.imm
    subprog = env.cfg.subprog_starts.index(target)
    func = global_funcs(env).get(subprog)
    if func is not None:
        return call_global(env, func, slot)
    caller = cur.frame
    callee = FuncState(cur.curframe + 1, slot, subprog)
    for i in range(1, 6):
        callee.regs[i].assign(caller.regs[i])
    for r in CALLER_SAVED:
        mark_reg_not_init(caller.regs[r])
        env.scratched_regs |= 1 << r
    return enter_frame(env, callee)


def enter_frame(env: Env, callee: FuncState) -> int:
    """Make `callee` the current frame (its caller's registers already set up); returns its first slot."""
    cur = env.cur
    caller = cur.frame
    cur.frames.append(callee)
    cur.curframe += 1
    env.sync_regs()
    env.liveness.reset_callchain()
    env.mark_all_scratched()
    if env.logging:
        env.verbose("caller:\n")
        env.print_verifier_state(cur, caller.frameno, True)
        env.verbose("callee:\n")
        env.print_verifier_state(cur, callee.frameno, True)
    return env.cfg.subprog_starts[callee.subprogno]


# ---- callbacks ---------------------------------------------------------------------------------------------------

_FOR_EACH_MAP_TYPES = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH, MapType.PERCPU_HASH,
                                 MapType.LRU_HASH, MapType.LRU_PERCPU_HASH})
"""Maps whose ops have map_set_for_each_callback_args (array and hash families)."""


def _known_zero_ptr(reg: Reg, t: int, mapref) -> None:
    mark_reg_known(reg, 0)
    reg.type = t
    reg.map = mapref


def set_loop_callback_state(env: Env, caller: FuncState, callee: FuncState) -> None:
    """bpf_loop(nr, cb, ctx, flags) calls cb(u64 index, void *ctx)."""
    mark_reg_unknown(callee.regs[1])
    callee.regs[1].type = SCALAR_VALUE
    callee.regs[2].assign(caller.regs[3])


def set_map_elem_callback_state(env: Env, caller: FuncState, callee: FuncState) -> None:
    """bpf_for_each_map_elem(map, cb, ctx, flags) calls cb(map, key, value, ctx) for each element."""
    mapref = caller.regs[1].map
    if mapref.spec.type not in _FOR_EACH_MAP_TYPES:
        raise Reject("callback function not allowed for map", ENOTSUPP)
    callee.regs[1].assign(caller.regs[1])
    _known_zero_ptr(callee.regs[2], PTR_TO_MAP_KEY, mapref)
    _known_zero_ptr(callee.regs[3], PTR_TO_MAP_VALUE, mapref)
    callee.regs[4].assign(caller.regs[3])


def set_user_ringbuf_callback_state(env: Env, caller: FuncState, callee: FuncState) -> None:
    """bpf_user_ringbuf_drain(map, cb, ctx, flags) calls cb(const struct bpf_dynptr *sample, void *ctx)."""
    _known_zero_ptr(callee.regs[1], RegType.CONST_PTR_TO_DYNPTR, None)
    callee.regs[2].assign(caller.regs[3])


def _unmodelled_callback(env: Env, caller: FuncState, callee: FuncState) -> None:
    raise Reject("verifier does not model this helper's callback (its arguments are BTF objects), so the "
                 "program is refused rather than accepted unchecked", errno.EINVAL)


_CALLBACK_STATE = {
    _H.LOOP: set_loop_callback_state,
    _H.FOR_EACH_MAP_ELEM: set_map_elem_callback_state,
    _H.USER_RINGBUF_DRAIN: set_user_ringbuf_callback_state,
    _H.FIND_VMA: _unmodelled_callback,          # cb(task, vma, ctx): needs vmlinux BTF types
    _H.TIMER_SET_CALLBACK: _unmodelled_callback,  # async cb(map, key, timer); unreachable: timer args need BTF
}
"""Helpers that call a bpf function back (is_callback_calling_function) -> the set_*_callback_state that types
the callback's arguments from the caller's registers."""
CALLBACK_CALLING_HELPERS = frozenset(int(h) for h in _CALLBACK_STATE)


def callback_frame(env: Env, hid: HelperId, meta: CallMeta) -> FuncState:
    """Before 6.7 (__check_func_call from check_helper_call): the callback is verified once, on the current path,
    as a call from the helper's call site; its arguments come from the caller's registers before the helper
    clobbers them, and its exit returns past the call (prepare_func_exit)."""
    cur = env.cur
    if cur.curframe + 1 >= MAX_CALL_FRAMES:
        raise Reject(f"the call stack of {cur.curframe + 2} frames is too deep", errno.E2BIG)
    callee = FuncState(cur.curframe + 1, env.insn_idx, meta.subprogno)
    _CALLBACK_STATE[hid](env, cur.frame, callee)
    callee.in_callback_fn = True
    callee.callback_ret_range = (0, 1)
    return callee


def push_callback_call(env: Env, hid: HelperId, meta: CallMeta) -> None:
    """push_callback_call(): queue a visit of the callback as a new frame on a copy of the current state (the
    current path goes on past the helper call). The callback's exit returns to the call instruction, which pushes
    the next visit, until a return finds an equal state there (is_state_visited prunes it)."""
    cur = env.cur
    subprog = meta.subprogno
    callsite = env.insn_idx
    st = env.push_stack(env.cfg.subprog_starts[subprog], callsite)
    if st.curframe + 1 >= MAX_CALL_FRAMES:
        raise Reject(f"the call stack of {st.curframe + 2} frames is too deep", errno.E2BIG)
    caller = st.frames[st.curframe]
    callee = FuncState(st.curframe + 1, callsite, subprog)
    _CALLBACK_STATE[hid](env, caller, callee)
    callee.in_callback_fn = True
    callee.callback_ret_range = (0, 1)
    st.frames.append(callee)
    st.curframe += 1
    st.callback_unroll_depth += 1
    caller.callback_depth += 1
    cur.frame.callback_depth = 0


def prepare_func_exit(env: Env) -> int:
    cur = env.cur
    callee = cur.frame
    r0 = callee.regs[0]
    if r0.type == PTR_TO_STACK:
        raise Reject("cannot return stack pointer to the caller", errno.EINVAL)
    caller = cur.frames[cur.curframe - 1]
    if callee.in_callback_fn:
        # the helper gets R0 back, not the caller: it must be a scalar in the callback's range, and the path goes
        # back to the helper's call instruction, which may call the callback again
        if r0.type != SCALAR_VALUE:
            raise Reject("R0 not a scalar value", errno.EACCES)
        iterated = env.kernel is None or env.kernel.fact(Fact.CALLBACKS_ITERATED)
        lo, hi = callee.callback_ret_range
        if iterated:
            mark_chain_precision(env, 0)
            out_of_range = r0.smin < lo or r0.smax > hi
        else:  # visited once (before 6.7): R0's tnum within the range's, no precision asked for
            out_of_range = not tnum_in(tnum_range(lo, hi), r0.var_off)
        if out_of_range:
            raise Reject(invalid_scalar_message("At callback return", "R0", r0, lo, hi, _tnum_words(env)),
                         errno.EINVAL)
        # back to the helper's call for its next visit; visited once: past the call
        ret_slot = callee.callsite if iterated else callee.callsite + 1
    else:
        caller.regs[0].assign(r0)
        ret_slot = callee.callsite + 1
    if env.logging:
        env.verbose("returning from callee:\n")
        env.print_verifier_state(cur, callee.frameno, True)
        env.verbose(f"to caller at {ret_slot}:\n")
        env.print_verifier_state(cur, caller.frameno, True)
    cur.frames.pop()
    cur.curframe -= 1
    env.sync_regs()
    return ret_slot


_UNSET = object()


def check_return_code(env: Env) -> None:
    target = env.attach_target
    if env.prog_type == ProgType.LSM and target.returns_void and not env.cur.frames[0].subprogno:
        return  # a void LSM hook: R0 is not even read
    reg = env.check_reg_arg(0, SRC_OP)
    if env.is_pointer_value(reg):
        raise Reject("R0 leaks addr as return value")
    rng = env.__dict__.get("_return_range", _UNSET)  # looked up once per run: this runs at every exit of every path
    if rng is _UNSET:
        try:
            rng = return_range(env.prog_type, env.attach_type, hook=getattr(target, "lsm_hook", None),
                               returns_void=getattr(target, "returns_void", False))  # LSM: the hook's range
        except ValueError:
            rng = None
        if env.prog_type == ProgType.LSM and env.kernel is not None and not env.kernel.fact(Fact.LSM_RETVAL_RANGE):
            rng = None  # releases before the LSM return-value check
        env._return_range = rng
    if env.cur.frames[0].subprogno:  # the exit of a global function verified on its own
        if reg.type != SCALAR_VALUE:
            raise Reject(f"At subprogram exit the register R0 is not a scalar value ({reg_type_str(reg.type)})",
                         errno.EINVAL)
        return
    if rng is None:
        return
    if reg.type != SCALAR_VALUE:
        raise Reject(f"At program exit the register R0 is not a known value ({reg_type_str(reg.type)})",
                     errno.EINVAL)
    mark_chain_precision(env, 0)
    lo, hi = (reg.s32_min, reg.s32_max) if rng.bits32 else (reg.smin, reg.smax)  # return_32bit: LSM int hooks
    if lo < rng.min or hi > rng.max:
        raise Reject(invalid_scalar_message("At program exit", "R0", reg, rng.min, rng.max, _tnum_words(env)),
                     errno.EINVAL)


def _tnum_words(env: Env) -> bool:
    return env.kernel is not None and env.kernel.fact(Fact.RETVAL_AS_TNUM)


def invalid_scalar_message(ctx: str, reg_name: str, reg: Reg, lo: int, hi: int, tnums: bool = False) -> str:
    """verbose_invalid_scalar(): the bounds the register has, against the range it should have been in (as
    tnums on the kernels that printed them so, `tnums`)."""
    from pyebpf.verifier.regstate import S64_MAX, S64_MIN
    from pyebpf.verifier.tnum import tnum_range, tnum_strn
    if tnums:
        has = "unknown scalar value" if reg.var_off.mask == (1 << 64) - 1 else f"value {tnum_strn(reg.var_off)}"
        return f"{ctx} the register {reg_name} has {has} should have been in {tnum_strn(tnum_range(lo, hi))}"
    parts = [f"{ctx} the register {reg_name} has"]
    if reg.smin > S64_MIN:
        parts.append(f" smin={reg.smin}")
    if reg.smax < S64_MAX:
        parts.append(f" smax={reg.smax}")
    if reg.smin <= S64_MIN and reg.smax >= S64_MAX:
        parts.append(" unknown scalar value")
    parts.append(f" should have been in [{lo}, {hi}]")
    return "".join(parts)


__all__ = ["CALLBACK_CALLING_HELPERS", "push_callback_call", "invalid_scalar_message", "check_helper_call", "check_func_call", "prepare_func_exit", "check_return_code",
           "check_reference_leak", "release_reference", "for_each_reg"]
