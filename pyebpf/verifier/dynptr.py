"""Dynptrs on the stack (kernel/bpf/verifier.c process_dynptr_func, mark_stack_slots_dynptr,
unmark_stack_slots_dynptr, destroy_if_dynptr_stack_slot): a `struct bpf_dynptr` is 16 bytes of STACK_DYNPTR slots
the program can only pass to dynptr helpers and kfuncs.

The two slots' spilled registers carry what the kernel keeps in bpf_reg_state.dynptr, in the union fields it
shares with other register kinds: `type` CONST_PTR_TO_DYNPTR, `range` the dynptr type (DYNPTR_TYPE_LOCAL,
_RINGBUF, ...), `mem_size` 1 on the first (lower) slot, `id` the dynptr's id (its slices carry it as their
dynptr id, in `range` of the PTR_TO_MEM slice), `ref_obj_id` the reference a ringbuf dynptr holds until it is
submitted or discarded.

What this buys: a helper reading an uninitialised or clobbered dynptr is refused, a referenced dynptr must be
released once (never overwritten), a helper writing raw memory over a dynptr is refused, and pruning compares
dynptr slots as the kernel's stacksafe() does.
"""
from __future__ import annotations

import errno

from pyebpf.abi.helpers import TypeFlag
from pyebpf.abi.kernel_versions import Fact
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_not_init, mark_reg_unknown
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.iters import checked_spi, stack_slot_obj_get_spi
from pyebpf.verifier.regstate import PTR_MAYBE_NULL, PTR_TO_MEM, PTR_TO_STACK, Reg, RegType
from pyebpf.verifier.state import BPF_REG_SIZE, STACK_DYNPTR, STACK_INVALID, FuncState

CONST_PTR_TO_DYNPTR = int(RegType.CONST_PTR_TO_DYNPTR)
BPF_DYNPTR_SIZE = 16
BPF_DYNPTR_NR_SLOTS = BPF_DYNPTR_SIZE // BPF_REG_SIZE
#: the arg/reg flag bits that name a dynptr type (DYNPTR_TYPE_FLAG_MASK)
DYNPTR_TYPES = {int(TypeFlag.DYNPTR_TYPE_LOCAL): "local", int(TypeFlag.DYNPTR_TYPE_RINGBUF): "ringbuf",
                int(TypeFlag.DYNPTR_TYPE_SKB): "skb", int(TypeFlag.DYNPTR_TYPE_XDP): "xdp",
                int(TypeFlag.DYNPTR_TYPE_SKB_META): "skb_meta"}
DYNPTR_TYPE_FLAG_MASK = sum(DYNPTR_TYPES)
#: dynptr_type_refcounted(): a dynptr holding a reference until released
REFCOUNTED = frozenset({int(TypeFlag.DYNPTR_TYPE_RINGBUF)})


def _frame(env: Env, reg: Reg) -> FuncState:
    return env.cur.frames[reg.frameno]


def get_spi(env: Env, reg: Reg) -> int:
    """dynptr_get_spi(): the stack slot index of the dynptr's first slot (see stack_slot_obj_get_spi)."""
    return stack_slot_obj_get_spi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS)


def _valid_uninit(env: Env, reg: Reg) -> bool:
    if reg.type == CONST_PTR_TO_DYNPTR:
        return False
    spi = checked_spi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS)
    if spi is None:
        return False
    if spi >= 0 and env.kernel is not None and not env.kernel.fact(Fact.DYNPTR_REINIT_UNREF):
        stack = _frame(env, reg).stack  # older is_dynptr_reg_valid_uninit: no dynptr slot at all, even unreferenced
        return STACK_DYNPTR not in stack[spi].slot_type and STACK_DYNPTR not in stack[spi - 1].slot_type
    return True


def _valid_init(env: Env, reg: Reg) -> bool:
    if reg.type == CONST_PTR_TO_DYNPTR:
        return True
    spi = checked_spi(env, reg, "dynptr", BPF_DYNPTR_NR_SLOTS)
    if spi is None:
        return False
    if spi < 0:
        return False
    stack = _frame(env, reg).stack
    if not stack[spi].spilled.mem_size:  # dynptr.first_slot
        return False
    return all(t == STACK_DYNPTR for t in stack[spi].slot_type) and all(
        t == STACK_DYNPTR for t in stack[spi - 1].slot_type)


def dynptr_reg(env: Env, reg: Reg) -> Reg:
    """The register that describes the dynptr `reg` points to: itself (CONST_PTR_TO_DYNPTR) or its first slot."""
    if reg.type == CONST_PTR_TO_DYNPTR:
        return reg
    return _frame(env, reg).stack[get_spi(env, reg)].spilled


def type_str(dtype: int) -> str:
    return DYNPTR_TYPES.get(dtype, "unknown")


def process_dynptr_func(env: Env, regno: int, arg_flags: int, clone_ref_obj_id: int = 0) -> None:
    """process_dynptr_func(): an uninitialised dynptr to construct (MEM_UNINIT), or an initialised one of the
    expected type to read (MEM_RDONLY) or use and mutate."""
    from pyebpf.verifier.memory import check_mem_access
    reg = env.regs[regno]
    if reg.type not in (PTR_TO_STACK, CONST_PTR_TO_DYNPTR):
        raise Reject(f"arg#{regno - 1} expected pointer to stack or const struct bpf_dynptr", errno.EINVAL)
    want = arg_flags & DYNPTR_TYPE_FLAG_MASK
    if arg_flags & TypeFlag.MEM_UNINIT:
        if not _valid_uninit(env, reg):
            raise Reject("Dynptr has to be an uninitialized dynptr", errno.EINVAL)
        for i in range(0, BPF_DYNPTR_SIZE, BPF_REG_SIZE):  # BPF_DW writes, 8 bytes at a time
            check_mem_access(env, regno, i, BPF_REG_SIZE, True, -1)
        mark_stack_slots(env, reg, want, clone_ref_obj_id)
        return
    if reg.type == CONST_PTR_TO_DYNPTR and not arg_flags & TypeFlag.MEM_RDONLY:
        raise Reject("cannot pass pointer to const bpf_dynptr, the helper mutates it", errno.EINVAL)
    if not _valid_init(env, reg):
        raise Reject(f"Expected an initialized dynptr as arg #{regno - 1}", errno.EINVAL)
    if want and dynptr_reg(env, reg).range != want:
        raise Reject(f"Expected a dynptr of type {type_str(want)} as arg #{regno - 1}", errno.EINVAL)
    if reg.type == PTR_TO_STACK:  # mark_dynptr_read: both slots are read
        spi = get_spi(env, reg)
        env.liveness.mark_read(reg.frameno, env.insn_idx, (1 << spi) | (1 << (spi - 1)))


def mark_dynptr_reg(sreg: Reg, dtype: int, first_slot: bool, dynptr_id: int) -> None:
    """__mark_dynptr_reg(): a CONST_PTR_TO_DYNPTR register (a stack slot's, or a global function's argument)."""
    mark_reg_unknown(sreg)
    mark_reg_known(sreg, 0)
    sreg.type = CONST_PTR_TO_DYNPTR
    sreg.id = dynptr_id
    sreg.range = dtype
    sreg.mem_size = 1 if first_slot else 0


def mark_stack_slots(env: Env, reg: Reg, dtype: int, clone_ref_obj_id: int = 0) -> None:
    """mark_stack_slots_dynptr()."""
    state = _frame(env, reg)
    spi = get_spi(env, reg)
    destroy_if_dynptr_stack_slot(env, state, spi)
    destroy_if_dynptr_stack_slot(env, state, spi - 1)
    for s in (spi, spi - 1):
        state.stack[s].slot_type[:] = [STACK_DYNPTR] * BPF_REG_SIZE
    if not dtype:
        raise Reject("verifier internal error: dynptr without a type", errno.EINVAL)
    dynptr_id = env.new_id()
    mark_dynptr_reg(state.stack[spi].spilled, dtype, True, dynptr_id)
    mark_dynptr_reg(state.stack[spi - 1].spilled, dtype, False, dynptr_id)
    if dtype in REFCOUNTED:
        rid = clone_ref_obj_id
        if not rid:
            rid = env.new_id()
            env.cur.refs.append((rid, env.insn_idx))
        state.stack[spi].spilled.ref_obj_id = rid
        state.stack[spi - 1].spilled.ref_obj_id = rid
    env.liveness.mark_write(state.frameno, (1 << spi) | (1 << (spi - 1)))
    if state is env.cur.frame:
        env.scratched_stack |= (1 << spi) | (1 << (spi - 1))


def _invalidate(env: Env, state: FuncState, spi: int) -> None:
    """invalidate_dynptr(): both slots back to STACK_INVALID."""
    for s in (spi, spi - 1):
        state.stack[s].slot_type[:] = [STACK_INVALID] * BPF_REG_SIZE
        mark_reg_not_init(state.stack[s].spilled)
    env.liveness.mark_write(state.frameno, (1 << spi) | (1 << (spi - 1)))


def destroy_if_dynptr_stack_slot(env: Env, state: FuncState, spi: int) -> None:
    """A write into a dynptr's slot destroys the whole (unreferenced) dynptr and the slices taken from it; a
    referenced one cannot be overwritten."""
    if spi < 0 or spi >= len(state.stack) or state.stack[spi].slot_type[0] != STACK_DYNPTR:
        return
    if not state.stack[spi].spilled.mem_size:
        spi += 1  # reposition to the first slot
    first = state.stack[spi].spilled
    if first.range in REFCOUNTED:
        raise Reject("cannot overwrite referenced dynptr", errno.EINVAL)
    if state is env.cur.frame:
        env.scratched_stack |= (1 << spi) | (1 << (spi - 1))
    dynptr_id = first.id
    from pyebpf.verifier.calls import for_each_reg
    for r in for_each_reg(env.cur):
        if r.type in (PTR_TO_MEM, PTR_TO_MEM | PTR_MAYBE_NULL) and dynptr_id and r.range == dynptr_id:
            _mark_reg_invalid(env, r)
    _invalidate(env, state, spi)


def _mark_reg_invalid(env: Env, reg: Reg) -> None:
    """mark_reg_invalid(): an unknown scalar when pointers may leak, else not initialised."""
    if env.allow_ptr_leaks:
        mark_reg_unknown(reg)
    else:
        mark_reg_not_init(reg)


def check_release_arg(env: Env, regno: int) -> None:
    """check_func_arg() for a dynptr argument that releases: only a referenced dynptr on the stack."""
    reg = env.regs[regno]
    if reg.type != PTR_TO_STACK:
        raise Reject("cannot release unowned const bpf_dynptr", errno.EINVAL)
    try:
        spi = get_spi(env, reg)
    except Reject:
        spi = -1
    if spi < 0 or not _frame(env, reg).stack[spi].spilled.ref_obj_id:
        raise Reject(f"arg {regno} is an unacquired reference", errno.EINVAL)


def unmark_stack_slots(env: Env, reg: Reg) -> None:
    """unmark_stack_slots_dynptr(): a released dynptr, its clones and its slices are gone."""
    from pyebpf.verifier.calls import release_reference
    state = _frame(env, reg)
    spi = get_spi(env, reg)
    first = state.stack[spi].spilled
    if first.range not in REFCOUNTED:
        _invalidate(env, state, spi)
        return
    ref_obj_id = first.ref_obj_id
    release_reference(env, ref_obj_id)
    for i in range(1, state.allocated_stack // BPF_REG_SIZE):
        s = state.stack[i]
        if s.spilled.ref_obj_id == ref_obj_id and s.slot_type[0] == STACK_DYNPTR and s.spilled.mem_size:
            _invalidate(env, state, i)


def check_raw_write(env: Env, state: FuncState, min_off: int, max_off: int) -> None:
    """check_stack_range_initialized() in raw mode: a helper writing memory may not write over a dynptr."""
    for i in range(min_off, max_off):
        stack_off = -i - 1
        if state.allocated_stack <= stack_off:
            continue
        if state.stack[stack_off // BPF_REG_SIZE].slot_type[stack_off % BPF_REG_SIZE] == STACK_DYNPTR:
            raise Reject(f"potential write to dynptr at off={i} disallowed")


def slots_equal(old: Reg, cur: Reg, idmap) -> bool:
    """stacksafe() for a STACK_DYNPTR slot: same type and slot, the reference mapped consistently."""
    return old.range == cur.range and old.mem_size == cur.mem_size and idmap.check_ids(old.ref_obj_id,
                                                                                       cur.ref_obj_id)





# ---- dynptr kfuncs (check_kfunc_args' KF_ARG_PTR_TO_DYNPTR, KF_ARG_PTR_TO_CTX, KF_ARG_PTR_TO_MEM_SIZE) ----------

#: the kfuncs modelled here -> the dynptr type their `__uninit` dynptr argument becomes (0: none constructed)
DYNPTR_KFUNCS = {"bpf_dynptr_from_skb": int(TypeFlag.DYNPTR_TYPE_SKB), "bpf_dynptr_from_xdp": int(TypeFlag.DYNPTR_TYPE_XDP),
                 "bpf_dynptr_slice": 0, "bpf_dynptr_slice_rdwr": 0, "bpf_dynptr_adjust": 0, "bpf_dynptr_is_null": 0, "bpf_dynptr_is_rdonly": 0,
                 "bpf_dynptr_size": 0, "bpf_dynptr_clone": 0}
SLICE_RDWR = "bpf_dynptr_slice_rdwr"
#: pointer types a packet-data change invalidates (reg_is_dynptr_slice_pkt)
PKT_DYNPTR_TYPES = int(TypeFlag.DYNPTR_TYPE_SKB) | int(TypeFlag.DYNPTR_TYPE_XDP) | int(TypeFlag.DYNPTR_TYPE_SKB_META)


def _param_name(btf, name_off: int) -> str:
    return btf.str_at(name_off) if name_off else ""


def check_dynptr_kfunc(env: Env, btf, name: str, flags, proto) -> None:
    """check_kfunc_call() for the dynptr kfuncs of DYNPTR_KFUNCS: bpf_dynptr_from_skb/xdp build a packet dynptr
    from the context, bpf_dynptr_slice returns a read-only view of `buffer__szk` bytes (maybe NULL), bpf_dynptr_clone
    makes a second dynptr of its parent's type (sharing a ringbuf reference), the others read or adjust one."""
    from pyebpf.abi.kfuncs import KfFlag
    from pyebpf.verifier.calls import register_is_null
    from pyebpf.verifier.env import SRC_OP
    from pyebpf.verifier.memory import check_ptr_off_reg
    from pyebpf.verifier.regstate import MEM_RDONLY, PTR_TO_CTX, SCALAR_VALUE, reg_type_str
    from pyebpf.abi.btf import BtfKind
    from pyebpf.abi.context import CONTEXTS
    params = proto.members
    dynptr_type = dynptr_id = parent_ref = 0
    const_size = None
    i = 0
    while i < len(params):
        name_off, tid = params[i]
        regno = i + 1
        reg = env.check_reg_arg(regno, SRC_OP)
        t = btf[btf.skip_modifiers(tid)] if tid else None
        if t is not None and t.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
            if reg.type != SCALAR_VALUE:
                raise Reject(f"R{regno} is not a scalar", errno.EINVAL)
            i += 1
            continue
        if t is None or t.kind != BtfKind.PTR:
            raise Reject(f"kernel function {name} arg#{i}: not modelled by this verifier", errno.EINVAL)
        pointee_id = btf.skip_modifiers(t.size_type) if t.size_type else 0
        pointee = btf[pointee_id] if pointee_id else None
        pname = btf.name(pointee_id) if pointee_id else ""
        if flags & KfFlag.TRUSTED_ARGS and (register_is_null(reg) or reg.type & PTR_MAYBE_NULL):
            raise Reject(f"Possibly NULL pointer passed to trusted arg{i}", errno.EACCES)
        if pointee is not None and pname == "bpf_dynptr":
            arg_flags = clone_ref = 0
            if _param_name(btf, name_off).endswith("__uninit"):
                arg_flags |= int(TypeFlag.MEM_UNINIT) | DYNPTR_KFUNCS[name]
                if name == "bpf_dynptr_clone":  # the clone is of its parent's type and shares its reference
                    arg_flags |= dynptr_type
                    clone_ref = parent_ref
            elif btf[t.size_type].kind == BtfKind.CONST:
                arg_flags |= int(TypeFlag.MEM_RDONLY)
            if reg.type not in (PTR_TO_STACK, CONST_PTR_TO_DYNPTR):
                check_ptr_off_reg(env, reg, regno)
            process_dynptr_func(env, regno, arg_flags, clone_ref)
            if not arg_flags & TypeFlag.MEM_UNINIT:
                dreg = dynptr_reg(env, reg)
                dynptr_type, dynptr_id, parent_ref = dreg.range, dreg.id, dreg.ref_obj_id
            i += 1
            continue
        if pointee is not None and pointee.kind == BtfKind.STRUCT and pname in ("__sk_buff", "xdp_md"):
            layout = CONTEXTS.get(env.prog_type)
            if layout is None or layout.name != pname:  # KF_ARG_PTR_TO_BTF_ID of the kernel's sk_buff
                from pyebpf.verifier.regstate import PTR_TO_BTF_ID, base_type
                kid = btf.find("sk_buff", BtfKind.STRUCT) if pname == "__sk_buff" else None
                if not kid or base_type(reg.type) != PTR_TO_BTF_ID:
                    raise Reject(f"kernel function {name} arg#{i}: a {pname} that is not the program's context is "
                                 f"not modelled by this verifier", errno.EINVAL)
                from pyebpf.verifier.kfunc import _check_btf_id_arg
                _check_btf_id_arg(env, btf, name, i, reg, kid, bool(flags & KfFlag.TRUSTED_ARGS), False, False)
                i += 1
                continue
            if reg.type != PTR_TO_CTX:
                raise Reject(f"arg#{i} expected pointer to ctx, but got {reg_type_str(reg.type)}", errno.EINVAL)
            check_ptr_off_reg(env, reg, regno)
            i += 1
            continue
        if i + 1 < len(params) and _param_name(btf, params[i + 1][0]).endswith(("__sz", "__szk")):
            from pyebpf.verifier.kfunc import check_kfunc_mem_size
            size = check_kfunc_mem_size(env, btf, params, i, _param_name(btf, name_off).endswith("__opt"))
            if size is not None:
                const_size = size
            i += 2
            continue
        raise Reject(f"kernel function {name} arg#{i}: not modelled by this verifier", errno.EINVAL)
    from pyebpf.verifier.iters import kfunc_call_result
    r0, rt = kfunc_call_result(env, btf, proto)
    if rt is None:
        r0.type = 0
    elif rt.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
        mark_reg_unknown(r0)
    elif name in ("bpf_dynptr_slice", SLICE_RDWR) and const_size is not None:
        if name == SLICE_RDWR:
            from pyebpf.abi.kernel_versions import Fact
            from pyebpf.verifier.memory import may_access_direct_pkt_data
            if env.kernel is not None and env.kernel.fact(Fact.DYNPTR_SLICE_RDWR_REFUSED):
                raise Reject(f"{SLICE_RDWR}() is not allowed", errno.EINVAL)
            if not may_access_direct_pkt_data(env, True):
                raise Reject("the prog does not allow writes to packet data", errno.EINVAL)
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        r0.type = PTR_TO_MEM | (dynptr_type & DYNPTR_TYPE_FLAG_MASK) | (MEM_RDONLY if name != SLICE_RDWR else 0)
        r0.mem_size = const_size
        if flags & KfFlag.RET_NULL:
            r0.type |= PTR_MAYBE_NULL
            r0.id = env.new_id()
        r0.range = dynptr_id  # the slice dies with its dynptr
    else:
        raise Reject(f"kernel function {name}: its result is not modelled by this verifier", errno.EINVAL)


def is_pkt_slice(reg: Reg) -> bool:
    """reg_is_dynptr_slice_pkt(): a slice of a packet dynptr, which a packet-data change invalidates."""
    return reg.type & 0xFF == PTR_TO_MEM and bool(reg.type & PKT_DYNPTR_TYPES)


__all__ = ["process_dynptr_func", "mark_dynptr_reg", "mark_stack_slots", "unmark_stack_slots", "destroy_if_dynptr_stack_slot",
           "check_release_arg", "check_raw_write", "slots_equal", "dynptr_reg", "get_spi", "type_str",
           "CONST_PTR_TO_DYNPTR", "BPF_DYNPTR_SIZE", "DYNPTR_TYPE_FLAG_MASK", "REFCOUNTED", "DYNPTR_KFUNCS",
           "check_dynptr_kfunc", "is_pkt_slice"]
