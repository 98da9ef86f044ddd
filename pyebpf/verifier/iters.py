"""Open-coded iterators (kernel/bpf/verifier.c process_iter_arg, mark_stack_slots_iter, process_iter_next_call):
`struct bpf_iter_<type>` lives in STACK_ITER slots between bpf_iter_<type>_new() and _destroy(), holding a
reference the program must drop.

Each slot's spilled register carries the kernel's bpf_reg_state.iter in union fields: `mem_size` the iterator
struct's vmlinux BTF id, `range` the state (ACTIVE or DRAINED), `off` the depth (how many _next() calls returned
an element on this path); the first slot has the reference in `ref_obj_id`.

_next() forks: the current path sees the iterator drained (R0 = NULL) and goes on after the loop; a queued path
sees it active one level deeper (R0 not NULL), its imprecise scalars widened against the previous visit. The engine
forces a checkpoint at every _next() call, and a state there equal (RANGE_WITHIN) to an in-progress one whose
iterator is active closes the loop, as the kernel's is_state_visited() does.
"""
from __future__ import annotations

import errno

from pyebpf.abi.btf import BtfKind
from pyebpf.abi.kfuncs import KFUNC_ARG_IGNORE_SUFFIX, KfFlag
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_not_init, mark_reg_unknown
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.regstate import MEM_RDONLY, PTR_MAYBE_NULL, PTR_TO_MEM, PTR_TO_STACK, Reg
from pyebpf.verifier.state import BPF_REG_SIZE, STACK_INVALID, STACK_ITER, FuncState, VerifierState

ITER_PREFIX = "bpf_iter_"
BPF_ITER_STATE_ACTIVE, BPF_ITER_STATE_DRAINED = 1, 2
ITER_KFUNCS = KfFlag.ITER_NEW | KfFlag.ITER_NEXT | KfFlag.ITER_DESTROY


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def iter_struct(btf, proto) -> int:
    """btf_check_iter_arg(): the `struct bpf_iter_<type>` the first argument points to (0 when it does not)."""
    if not proto.members:
        return 0
    tid = btf.skip_modifiers(proto.members[0][1])
    t = btf[tid] if tid else None
    if t is None or t.kind != BtfKind.PTR:
        return 0
    sid = btf.skip_modifiers(t.size_type) if t.size_type else 0
    if not sid or btf[sid].kind != BtfKind.STRUCT or not btf.name(sid).startswith(ITER_PREFIX):
        return 0
    return sid


def stack_slot_obj_get_spi(env: Env, reg: Reg, obj: str, nr_slots: int) -> int:
    """stack_slot_obj_get_spi(): the stack slot index of a stack object's (an iterator's, a dynptr's) first slot;
    raises with the kernel's line when the pointer cannot hold one, -1 (-ERANGE) when not allocated yet."""
    if reg.var_off.mask:
        raise Reject(f"{obj} has to be at a constant offset", errno.EINVAL)
    off = reg.off + _s64(reg.var_off.value)
    if off % BPF_REG_SIZE:
        raise Reject(f"cannot pass in {obj} at an offset={off}", errno.EINVAL)
    spi = (-off - 1) // BPF_REG_SIZE
    if spi + 1 < nr_slots:
        raise Reject(f"cannot pass in {obj} at an offset={off}", errno.EINVAL)
    state = env.cur.frames[reg.frameno]
    if not (spi - nr_slots + 1 >= 0 and spi < state.allocated_stack // BPF_REG_SIZE):
        return -1
    return spi


def _get_spi(env: Env, reg: Reg, nr_slots: int) -> int:
    return stack_slot_obj_get_spi(env, reg, "iter", nr_slots)


def checked_spi(env: Env, reg: Reg, obj: str, nr_slots: int) -> int | None:
    """The stack object's first slot index (-1: not on the stack yet), or None (logged) when it cannot be one."""
    try:
        return stack_slot_obj_get_spi(env, reg, obj, nr_slots)
    except Reject as r:
        env.verbose(r.message + "\n")
        return None


def _valid_uninit(env: Env, reg: Reg, nr_slots: int) -> bool:
    spi = checked_spi(env, reg, "iter", nr_slots)
    if spi is None:
        return False
    if spi < 0:
        return True
    stack = env.cur.frames[reg.frameno].stack
    return not any(STACK_ITER in stack[spi - i].slot_type for i in range(nr_slots))


def _valid_init(env: Env, reg: Reg, btf_id: int, nr_slots: int) -> bool:
    spi = checked_spi(env, reg, "iter", nr_slots)
    if spi is None or spi < 0:
        return False
    stack = env.cur.frames[reg.frameno].stack
    for i in range(nr_slots):
        slot = stack[spi - i]
        st = slot.spilled
        if (i == 0) != bool(st.ref_obj_id) or st.mem_size != btf_id:
            return False
        if any(t != STACK_ITER for t in slot.slot_type):
            return False
    return True


def _mark_slots(env: Env, state: FuncState, spi: int, btf_id: int, nr_slots: int) -> None:
    """mark_stack_slots_iter(): the iterator is active at depth 0 and holds a fresh reference."""
    rid = env.new_id()
    env.cur.refs.append((rid, env.insn_idx))
    for i in range(nr_slots):
        slot = state.stack[spi - i]
        st = slot.spilled
        mark_reg_unknown(st)
        mark_reg_known(st, 0)
        st.type = PTR_TO_STACK  # the kernel has no register type of its own for it
        st.ref_obj_id = rid if i == 0 else 0
        st.mem_size = btf_id
        st.range = BPF_ITER_STATE_ACTIVE
        st.off = 0
        slot.slot_type[:] = [STACK_ITER] * BPF_REG_SIZE
        env.liveness.mark_write(state.frameno, 1 << (spi - i))
        if state is env.cur.frame:
            env.scratched_stack |= 1 << (spi - i)


def _unmark_slots(env: Env, state: FuncState, spi: int, nr_slots: int) -> None:
    """unmark_stack_slots_iter(): the reference is dropped and the slots are free again."""
    from pyebpf.verifier.calls import release_reference
    for i in range(nr_slots):
        slot = state.stack[spi - i]
        if i == 0:
            release_reference(env, slot.spilled.ref_obj_id)
        mark_reg_not_init(slot.spilled)
        slot.slot_type[:] = [STACK_INVALID] * BPF_REG_SIZE
        env.liveness.mark_write(state.frameno, 1 << (spi - i))
        if state is env.cur.frame:
            env.scratched_stack |= 1 << (spi - i)


def kfunc_call_result(env: Env, btf, proto) -> tuple[Reg, object]:
    """The end of check_kfunc_call: R0-R5 clobbered (caller-saved), and R0 with the callee's BTF return type
    (None for void), for the caller to type it."""
    from pyebpf.verifier.env import DST_OP_NO_MARK
    regs = env.regs
    for r in range(6):
        mark_reg_not_init(regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK)
    rid = btf.skip_modifiers(proto.size_type) if proto.size_type else 0
    return regs[0], (btf[rid] if rid else None)


def check_iter_kfunc(env: Env, btf, name: str, flags: KfFlag, proto) -> None:
    """check_kfunc_call() for bpf_iter_<type>_new/_next/_destroy: the iterator argument (process_iter_arg), the
    scalar arguments after it, and the result (an int from _new, a maybe-NULL read-only element from _next)."""
    from pyebpf.verifier.env import SRC_OP
    from pyebpf.verifier.memory import check_mem_access
    from pyebpf.verifier.regstate import SCALAR_VALUE
    reg = env.check_reg_arg(1, SRC_OP)
    if reg.type != PTR_TO_STACK:
        raise Reject("arg#0 expected pointer to an iterator on stack", errno.EINVAL)
    if name == CSS_TASK_NEW and not _css_task_iter_allowed(env):
        raise Reject("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs", errno.EINVAL)
    btf_id = iter_struct(btf, proto)
    if not btf_id:
        raise Reject("expected valid iter pointer as arg #0", errno.EINVAL)
    nr_slots = btf.size_of(btf_id) // BPF_REG_SIZE
    kind = btf.name(btf_id)[len(ITER_PREFIX):]
    state = env.cur.frames[reg.frameno]
    spi = -1
    if flags & KfFlag.ITER_NEW:
        if not _valid_uninit(env, reg, nr_slots):
            raise Reject(f"expected uninitialized iter_{kind} as arg #0", errno.EINVAL)
        for i in range(0, nr_slots * BPF_REG_SIZE, BPF_REG_SIZE):
            check_mem_access(env, 1, i, BPF_REG_SIZE, True, -1)
        _mark_slots(env, state, _get_spi(env, reg, nr_slots), btf_id, nr_slots)
    else:
        if not _valid_init(env, reg, btf_id, nr_slots):
            raise Reject(f"expected an initialized iter_{kind} as arg #0", errno.EINVAL)
        spi = _get_spi(env, reg, nr_slots)
        env.liveness.mark_read(reg.frameno, env.insn_idx, sum(1 << (spi - i) for i in range(nr_slots)))
        if flags & KfFlag.ITER_DESTROY:
            _unmark_slots(env, state, spi, nr_slots)
    for i, (name_off, tid) in enumerate(proto.members[1:], 1):
        if name_off and btf.str_at(name_off).endswith(KFUNC_ARG_IGNORE_SUFFIX):
            continue  # is_kfunc_arg_ignore(): an `__ign` argument is not checked at all (bpf_iter_bits_new's pointer)
        r = env.check_reg_arg(i + 1, SRC_OP)
        t = btf[btf.skip_modifiers(tid)] if tid else None
        sid = btf.skip_modifiers(t.size_type) if t is not None and t.kind == BtfKind.PTR and t.size_type else 0
        if sid and btf[sid].kind in (BtfKind.STRUCT, BtfKind.UNION):  # KF_ARG_PTR_TO_BTF_ID: the object iterated
            _check_kernel_ptr_arg(env, btf, name, i, r, sid, flags)
            continue
        if t is None or t.kind not in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
            raise Reject(f"kernel function {name} arg#{i}: only scalar arguments after the iterator are modelled "
                         f"by this verifier", errno.EINVAL)
        if r.type != SCALAR_VALUE:
            raise Reject(f"R{i + 1} is not a scalar", errno.EINVAL)
    r0, rt = kfunc_call_result(env, btf, proto)
    if rt is None:
        r0.type = 0
    elif rt.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
        mark_reg_unknown(r0)
    elif rt.kind == BtfKind.PTR and rt.size_type and btf[btf.skip_modifiers(rt.size_type)].kind == BtfKind.STRUCT:
        from pyebpf.verifier.btf_ptr import PTR_TRUSTED
        from pyebpf.verifier.regstate import PTR_TO_BTF_ID
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        from pyebpf.abi.kernel_versions import Fact
        from pyebpf.verifier.regstate import RegFlag
        trusted = env.kernel is None or env.kernel.fact(Fact.ITER_NEXT_PTR_TRUSTED)
        r0.type = PTR_TO_BTF_ID | (PTR_TRUSTED if trusted else int(RegFlag.PTR_UNTRUSTED))
        r0.mem_size = btf.skip_modifiers(rt.size_type)
        if flags & KfFlag.RET_NULL:
            r0.type |= PTR_MAYBE_NULL
            r0.id = env.new_id()
    elif rt.kind == BtfKind.PTR:
        eid = btf.skip_modifiers(rt.size_type) if rt.size_type else 0
        if not eid or btf[eid].kind not in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
            raise Reject(f"kernel function {name} returns a pointer to a kernel object: not modelled by this "
                         f"verifier", errno.EINVAL)
        mark_reg_unknown(r0)
        mark_reg_known(r0, 0)
        r0.type = PTR_TO_MEM | MEM_RDONLY  # btf_resolve_size() of the element: r0_size, r0_rdonly
        r0.mem_size = btf.size_of(eid)
        if flags & KfFlag.RET_NULL:
            r0.type |= PTR_MAYBE_NULL
            r0.id = env.new_id()
        if spi >= 0:  # the element dies with the iterator (destroy releases this reference)
            r0.ref_obj_id = state.stack[spi].spilled.ref_obj_id
    else:
        raise Reject(f"kernel function {name} returns a {rt.kind.name}: not modelled by this verifier",
                     errno.EINVAL)
    if flags & KfFlag.ITER_NEXT:
        process_iter_next_call(env, state, spi)


CSS_TASK_NEW = "bpf_iter_css_task_new"


def _css_task_iter_allowed(env: Env) -> bool:
    """check_css_task_iter_allowlist(): LSM programs, TRACING iterators, and sleepable programs."""
    from pyebpf.abi.prog_types import AttachType, ProgType
    if env.prog_type == ProgType.LSM:
        return True
    if env.prog_type == ProgType.TRACING and env.attach_type == AttachType.TRACE_ITER:
        return True
    return bool(env.sleepable)


def _check_kernel_ptr_arg(env: Env, btf, name: str, i: int, reg: Reg, struct_id: int, flags: KfFlag) -> None:
    """A kernel-struct argument of an iterator's _new (the task of task_vma, the css of css_task): NULL and trust
    as check_kfunc_args checks them (KF_TRUSTED_ARGS / KF_RCU), then its type."""
    from pyebpf.verifier.calls import register_is_null
    from pyebpf.verifier.kfunc import _check_btf_id_arg
    trusted, rcu = bool(flags & KfFlag.TRUSTED_ARGS), bool(flags & KfFlag.RCU)
    if (trusted or rcu) and (register_is_null(reg) or reg.type & PTR_MAYBE_NULL):
        raise Reject(f"Possibly NULL pointer passed to trusted arg{i}", errno.EACCES)
    _check_btf_id_arg(env, btf, name, i, reg, struct_id, trusted, rcu, False)


def process_iter_next_call(env: Env, state: FuncState, spi: int) -> None:
    """_next(): queue the path where the iterator is active one level deeper (R0 not NULL), follow the one where
    it is drained (R0 = 0)."""
    from pyebpf.verifier.engine import mark_ptr_not_null_reg, widen_scalars
    cur_iter = state.stack[spi].spilled
    frameno = state.frameno
    if cur_iter.range == BPF_ITER_STATE_ACTIVE:
        prev = env.find_prev_entry(env.insn_idx)
        queued = env.push_stack(env.insn_idx + 1, env.insn_idx)
        q_iter = queued.frames[frameno].stack[spi].spilled
        q_iter.range = BPF_ITER_STATE_ACTIVE
        q_iter.off += 1
        if prev is not None:
            widen_scalars(prev, queued)
        mark_ptr_not_null_reg(queued.frames[queued.curframe].regs[0])
    cur_iter.range = BPF_ITER_STATE_DRAINED
    r0 = env.regs[0]
    mark_reg_unknown(r0)
    mark_reg_known(r0, 0)


def active_at_next(cur: VerifierState) -> bool:
    """is_state_visited() at a _next() call: the iterator R1 points to is active in `cur`."""
    frame = cur.frames[cur.curframe]
    r1 = frame.regs[1]
    if r1.type != PTR_TO_STACK or r1.var_off.mask:
        return False
    spi = (-(r1.off + _s64(r1.var_off.value)) - 1) // BPF_REG_SIZE
    stack = cur.frames[r1.frameno].stack
    return 0 <= spi < len(stack) and stack[spi].spilled.range == BPF_ITER_STATE_ACTIVE


def active_depths_differ(old: VerifierState, cur: VerifierState) -> bool:
    """iter_active_depths_differ(): an active iterator at another depth is progress, not an infinite loop."""
    for fo, fc in zip(old.frames, cur.frames):
        for so, sc in zip(fo.stack, fc.stack):
            if so.slot_type[0] != STACK_ITER:
                continue
            if so.spilled.range == BPF_ITER_STATE_ACTIVE and so.spilled.off != sc.spilled.off:
                return True
    return False


def slots_equal(old: Reg, cur: Reg, idmap) -> bool:
    """stacksafe() for a STACK_ITER slot: same iterator type and state (not depth), references mapped."""
    return old.mem_size == cur.mem_size and old.range == cur.range and idmap.check_ids(old.ref_obj_id,
                                                                                       cur.ref_obj_id)


def is_iter_next_kfunc(name: str) -> bool:
    """Whether kfunc `name` is an iterator's _next() (the engine forces a checkpoint at its calls)."""
    from pyebpf.abi.kfuncs import COMMON_KFUNCS
    return bool(COMMON_KFUNCS.get(name, KfFlag.NONE) & KfFlag.ITER_NEXT)


__all__ = ["check_iter_kfunc", "process_iter_next_call", "active_at_next", "active_depths_differ", "slots_equal",
           "is_iter_next_kfunc", "iter_struct", "ITER_KFUNCS", "BPF_ITER_STATE_ACTIVE", "BPF_ITER_STATE_DRAINED"]
