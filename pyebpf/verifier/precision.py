"""Scalar precision tracking (kernel/bpf/verifier.c: mark_chain_precision, backtrack_insn, propagate_precision).

Every scalar starts imprecise. When a scalar's exact range decides something — a branch the verifier resolves, an
offset added to a pointer, a helper's size or flag argument, a return value that must be in range — the
instructions that produced it are walked backwards through the path's jump history, across stored checkpoints
(parent states), call frames and stack spills, and every register or spilled slot that contributed is marked
precise in those checkpoints. Pruning then compares only precise scalars by range (regsafe): two paths that differ
in a counter nothing decides on merge. Loops (strongly connected components of the CFG) are handled as the kernel
does since 6.17: while a loop's visit is open its checkpoints are compared range-for-range, and the back edges
found equal are replayed (propagate_backedges) when the visit ends so precision reaches every path into the loop.
"""
from __future__ import annotations

import errno

from pyebpf.abi.opcodes import CLASS_MASK, MODE_MASK, OP_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc, InsnClass, \
    JmpOp, Mode
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.regstate import SCALAR_VALUE
from pyebpf.verifier.state import BPF_REG_SIZE, VerifierState

BPF_REGMASK_ARGS = 0x3E  # r1-r5
_FP = 10
_MAX_FRAMES = 8
MAX_BACKEDGE_ITERS = 64
_ALU, _ALU64, _LDX, _STX, _ST, _JMP, _JMP32, _LD = (int(InsnClass.ALU), int(InsnClass.ALU64), int(InsnClass.LDX),
                                                    int(InsnClass.STX), int(InsnClass.ST), int(InsnClass.JMP),
                                                    int(InsnClass.JMP32), int(InsnClass.LD))
_NOTSUPP = object()
_OP_CALL, _OP_EXIT, _OP_JA, _OP_JCOND = int(JmpOp.CALL), int(JmpOp.EXIT), int(JmpOp.JA), int(JmpOp.JCOND)
_CALL_INSN = int(InsnClass.JMP) | int(JmpOp.CALL)
_PSEUDO_CALL, _KFUNC = int(CallSrc.PSEUDO_CALL), int(CallSrc.KFUNC)
_ATOMIC, _IMM, _ABS, _IND = int(Mode.ATOMIC), int(Mode.IMM), int(Mode.ABS), int(Mode.IND)
_LOAD_ACQ, _CMPXCHG = int(AtomicOp.LOAD_ACQ), int(AtomicOp.CMPXCHG)
"""Enum members as plain ints where backtracking compares them per instruction."""
_END, _NEG, _MOV = int(AluOp.END), int(AluOp.NEG), int(AluOp.MOV)
_ATOMIC_LOADS = frozenset({AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR, AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR,
                           AtomicOp.XCHG, AtomicOp.CMPXCHG, AtomicOp.LOAD_ACQ})
"""Atomic instructions that write a register from memory (is_atomic_fetch_insn / is_atomic_load_insn)."""


class HistEntry:
    """struct bpf_insn_hist_entry: an instruction reached non-linearly (prev_idx), or one that spilled to or
    filled from a stack slot, or compared PTR_TO_STACK registers, or refined linked scalars."""

    __slots__ = ("idx", "prev_idx", "stack", "dst_stack", "src_stack", "linked")

    def __init__(self, idx: int, prev_idx: int) -> None:
        self.idx = idx
        self.prev_idx = prev_idx
        self.stack: tuple[int, int] | None = None  # (frameno, spi) of a register spill / fill
        self.dst_stack = False
        self.src_stack = False
        self.linked: tuple | None = None  # ((frameno, regno_or_spi, is_reg), ...)


def push_insn_history(env: Env, st: VerifierState, stack: tuple[int, int] | None = None, dst_stack: bool = False,
                      src_stack: bool = False, linked: tuple | None = None) -> None:
    """Record the current instruction in `st`'s history; a second record for the same instruction merges."""
    ent = env.cur_hist_ent
    if ent is None:
        ent = HistEntry(env.insn_idx, env.prev_insn_idx)
        st.hist.append(ent)
        env.cur_hist_ent = ent
    if stack is not None:
        ent.stack = stack
    ent.dst_stack |= dst_stack
    ent.src_stack |= src_stack
    if linked is not None:
        ent.linked = linked
        st.seg_opaque += 1


_NO_BITS = (0,) * _MAX_FRAMES


class Backtrack:
    """struct backtrack_state: per frame, the registers and stack slots still looking for their origin."""

    __slots__ = ("frame", "regs", "stack", "memo_hist", "memo")

    def __init__(self) -> None:
        self.frame = 0
        self.regs = [0] * _MAX_FRAMES
        self.stack = [0] * _MAX_FRAMES
        #: _walk_segment's answers for the current path's segment (the history list they were walked in)
        self.memo_hist: list | None = None
        self.memo: dict = {}

    def reset(self) -> None:
        self.regs[:] = _NO_BITS
        self.stack[:] = _NO_BITS

    def empty(self) -> bool:
        return not any(self.regs[:self.frame + 1]) and not any(self.stack[:self.frame + 1])

    def set_reg(self, r: int) -> None:
        self.regs[self.frame] |= 1 << r

    def clear_reg(self, r: int) -> None:
        self.regs[self.frame] &= ~(1 << r)

    def is_reg_set(self, r: int) -> bool:
        return bool(self.regs[self.frame] >> r & 1)


def _fmt_regs(mask: int) -> str:
    return ",".join(f"r{i}" for i in range(32) if mask >> i & 1)


def _fmt_stack(mask: int) -> str:
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


def _bug(env: Env, what: str) -> Reject:
    return Reject(f"verifier backtracking bug: {what}", errno.EFAULT)


def _sync_linked_regs(bt: Backtrack, hist: HistEntry | None) -> None:
    """If one register of a linked set is wanted precise, all of them are (they were refined together)."""
    if hist is None or not hist.linked:
        return
    if not any((bt.regs[fr] >> n & 1) if is_reg else (bt.stack[fr] >> n & 1) for fr, n, is_reg in hist.linked):
        return
    for fr, n, is_reg in hist.linked:
        if is_reg:
            bt.regs[fr] |= 1 << n
        else:
            bt.stack[fr] |= 1 << n


def _subprog_enter(env: Env, bt: Backtrack) -> None:
    if bt.frame == _MAX_FRAMES - 1:
        raise _bug(env, f"subprog enter from frame {bt.frame}")
    bt.frame += 1


def _subprog_exit(env: Env, bt: Backtrack) -> None:
    if bt.frame == 0:
        raise _bug(env, "subprog exit from frame 0")
    bt.frame -= 1


def _is_pseudo_call(insn) -> bool:
    return insn is not None and insn.opcode == _CALL_INSN and insn.src == _PSEUDO_CALL


def _calls_global(env: Env, idx: int, insn) -> bool:
    from pyebpf.verifier.global_func import global_funcs
    funcs = global_funcs(env)
    return bool(funcs) and env.cfg.subprog_starts.index(idx + insn.imm + 1) in funcs


def backtrack_insn(env: Env, idx: int, subseq_idx: int, hist: HistEntry | None, bt: Backtrack):
    """One instruction backwards: which registers / slots need precision before it (None, or _NOTSUPP when the
    walk cannot follow, e.g. a scalar used to address memory, and everything must be made precise instead)."""
    insn = env.insns[idx]
    if insn is None:  # second slot of a 64-bit immediate load
        return None
    code = insn.opcode
    cls = code & CLASS_MASK
    op = code & OP_MASK
    dreg, sreg = insn.dst, insn.src
    if env.level2:
        from pyebpf.verifier.log import insn_str
        env.verbose(f"mark_precise: frame{bt.frame}: regs={_fmt_regs(bt.regs[bt.frame])} "
                    f"stack={_fmt_stack(bt.stack[bt.frame])} before {idx}: {insn_str(insn)}\n")
    linked = hist is not None and hist.linked
    if linked:
        _sync_linked_regs(bt, hist)
    if cls == _ALU or cls == _ALU64:
        regs = bt.regs
        fr = bt.frame
        if not regs[fr] >> dreg & 1:
            return None
        if op == _END or op == _NEG:
            return None
        if op == _MOV:
            regs[fr] &= ~(1 << dreg)
            if code & SOURCE_MASK and sreg != _FP:
                regs[fr] |= 1 << sreg
        elif code & SOURCE_MASK and sreg != _FP:
            regs[fr] |= 1 << sreg
    elif cls == _LDX or (cls == _STX and code & MODE_MASK == _ATOMIC and insn.imm in _ATOMIC_LOADS):
        load_reg = dreg
        if cls == _STX and insn.imm != _LOAD_ACQ:
            load_reg = 0 if insn.imm == _CMPXCHG else sreg
        if not bt.is_reg_set(load_reg):
            return None
        bt.clear_reg(load_reg)
        if hist is None or hist.stack is None:
            return None
        fr, spi = hist.stack
        bt.stack[fr] |= 1 << spi
    elif cls == _STX or cls == _ST:
        if bt.is_reg_set(dreg):
            return _NOTSUPP
        if hist is None or hist.stack is None:
            return None
        fr, spi = hist.stack
        if not bt.stack[fr] >> spi & 1:
            return None
        bt.stack[fr] &= ~(1 << spi)
        if cls == _STX:
            bt.set_reg(sreg)
    elif cls == _JMP or cls == _JMP32:
        if _is_pseudo_call(insn) and _calls_global(env, idx, insn):
            # a global function was not entered (verified on its own): it sets R0, r1-r5 are clobbered
            if bt.regs[bt.frame] & BPF_REGMASK_ARGS:
                raise _bug(env, f"regs {bt.regs[bt.frame]:x} at global call {idx}")
            bt.clear_reg(0)
            return None
        if _is_pseudo_call(insn):
            # a static subprogram's call: going back out of its frame, only r1-r5 may still be wanted
            if bt.regs[bt.frame] & ~BPF_REGMASK_ARGS:
                raise _bug(env, f"regs {bt.regs[bt.frame]:x} at call {idx}")
            if bt.stack[bt.frame]:
                raise _bug(env, f"stack slots {bt.stack[bt.frame]:x} at call {idx}")
            for i in range(1, 6):
                if bt.is_reg_set(i):
                    bt.clear_reg(i)
                    bt.regs[bt.frame - 1] |= 1 << i
            _subprog_exit(env, bt)
            return None
        if op == _OP_CALL and insn.src == 0 and idx in env.cfg.callback_calls and idx != subseq_idx - 1:
            # leaving a callback backwards into the helper that called it: its r1-r5 were set by the helper
            if bt.regs[bt.frame] & ~BPF_REGMASK_ARGS:
                raise _bug(env, f"regs {bt.regs[bt.frame]:x} at callback call {idx}")
            if bt.stack[bt.frame]:
                raise _bug(env, f"stack slots {bt.stack[bt.frame]:x} at callback call {idx}")
            bt.regs[bt.frame] &= ~BPF_REGMASK_ARGS
            _subprog_exit(env, bt)
            return None
        if op == _OP_CALL:
            if insn.src == _KFUNC and insn.imm == 0:
                return _NOTSUPP
            bt.clear_reg(0)
            if bt.regs[bt.frame] & BPF_REGMASK_ARGS:
                raise _bug(env, f"regs {bt.regs[bt.frame]:x} at helper call {idx}")
        elif op == _OP_EXIT:
            from_call = subseq_idx - 1 >= 0 and _is_pseudo_call(env.insns[subseq_idx - 1])
            r0_precise = from_call and bt.is_reg_set(0)
            if from_call and bt.regs[bt.frame] & BPF_REGMASK_ARGS:
                raise _bug(env, f"regs {bt.regs[bt.frame]:x} at exit {idx}")
            bt.clear_reg(0)
            _subprog_enter(env, bt)
            if r0_precise:
                bt.set_reg(0)
            return None
        elif code & SOURCE_MASK and op != _OP_JA and op != _OP_JCOND:
            if not bt.is_reg_set(dreg) and not bt.is_reg_set(sreg):
                return None
            if hist is None or not hist.src_stack:
                bt.set_reg(sreg)
            if hist is None or not hist.dst_stack:
                bt.set_reg(dreg)
    elif cls == _LD:
        mode = code & MODE_MASK
        if mode == _IMM:
            bt.clear_reg(dreg)
            return None
        if mode == _ABS or mode == _IND:
            if bt.is_reg_set(dreg):
                return _NOTSUPP
            return None
    if linked:
        _sync_linked_regs(bt, hist)
    return None


def transparent_insns(insns) -> list[bool]:
    """Per slot: backtrack_insn leaves every mask as it is (ALU with an immediate other than mov, byte swaps,
    negation, jumps on an immediate, unconditional jumps): the walk may step over it without looking."""
    out = []
    memo: dict[int, bool] = {}
    for insn in insns:
        if insn is None:
            out.append(True)
            continue
        code = insn.opcode
        known = memo.get(code)
        if known is not None:
            out.append(known)
            continue
        cls = code & CLASS_MASK
        op = code & OP_MASK
        if cls == _ALU or cls == _ALU64:
            out.append(op in (AluOp.END, AluOp.NEG) or (not code & SOURCE_MASK and op != AluOp.MOV))
        elif cls == _JMP or cls == _JMP32:
            out.append(op in (JmpOp.JA, JmpOp.JCOND) or (op not in (JmpOp.CALL, JmpOp.EXIT)
                                                           and not code & SOURCE_MASK))
        else:
            out.append(False)
        memo[code] = out[-1]
    return out


_BT_MOVX, _BT_MOVK, _BT_ALUX, _BT_LDX, _BT_ST, _BT_JX = 1, 2, 3, 4, 5, 6
_MEM, _MEMSX = int(Mode.MEM), int(Mode.MEMSX)


def register_insns(insns) -> list:
    """Per slot: how backtrack_insn treats the common instructions, as (kind, dst bit, src bit), so the walk can
    apply it inline — `rD = rS` moves the wanted bit from rD to rS, `rD = imm` (or `rD = r10`) clears it,
    `rD op= rS` adds rS; a load clears rD (and wants the filled slot); a store of a wanted slot wants rS (ST: nothing);
    `if rD op rS` wants both — or None for every other instruction (the walk calls backtrack_insn for those)."""
    out = []
    for insn in insns:
        if insn is None:
            out.append(None)
            continue
        code = insn.opcode
        cls = code & CLASS_MASK
        op = code & OP_MASK
        mode = code & MODE_MASK
        if cls == _LDX and mode in (_MEM, _MEMSX):
            out.append((_BT_LDX, 1 << insn.dst, 0))
            continue
        if (cls == _STX or cls == _ST) and mode == _MEM:
            out.append((_BT_ST, 1 << insn.dst, 1 << insn.src if cls == _STX else 0))
            continue
        if cls == _JMP or cls == _JMP32:
            if code & SOURCE_MASK and op not in (_OP_JA, _OP_JCOND, _OP_CALL, _OP_EXIT):
                out.append((_BT_JX, 1 << insn.dst, 1 << insn.src))
            else:
                out.append(None)
            continue
        if cls != _ALU and cls != _ALU64 or op in (_END, _NEG):
            out.append(None)
            continue
        is_x = bool(code & SOURCE_MASK) and insn.src != _FP
        if op == _MOV:
            out.append((_BT_MOVX, 1 << insn.dst, 1 << insn.src) if is_x else (_BT_MOVK, 1 << insn.dst, 0))
        elif is_x:
            out.append((_BT_ALUX, 1 << insn.dst, 1 << insn.src))
        else:
            out.append(None)  # `rD op= imm`: transparent, never walked
    return out


def get_prev_insn_idx(st: VerifierState, insn_idx: int, hist_end: int) -> tuple[int, int]:
    """(previous instruction, new history end); -1 when the segment of `st` is exhausted."""
    if insn_idx == st.first_insn_idx:
        if hist_end == 0:
            return -1, hist_end
        if hist_end == 1 and st.hist[0].idx == insn_idx:
            return -1, hist_end
    if hist_end and st.hist[hist_end - 1].idx == insn_idx:
        return st.hist[hist_end - 1].prev_idx, hist_end - 1
    return insn_idx - 1, hist_end


def _spilled_scalar(slot) -> bool:
    return slot.is_spilled_reg and slot.spilled.type == SCALAR_VALUE


def mark_all_scalars_precise(env: Env, st: VerifierState) -> None:
    """The big hammer when backtracking cannot follow: every scalar in every parent checkpoint is precise."""
    if env.level2:
        env.verbose(f"mark_precise: frame{st.curframe}: falling back to forcing all scalars precise\n")
    st = st.parent
    while st is not None:
        for i, func in enumerate(st.frames):
            for j in range(_FP):
                reg = func.regs[j]
                if reg.type != SCALAR_VALUE or reg.precise:
                    continue
                reg.precise = True
                if env.level2:
                    env.verbose(f"force_precise: frame{i}: forcing r{j} to be precise\n")
            for j, slot in enumerate(func.stack):
                if not slot.is_spilled_reg:
                    continue
                reg = slot.spilled
                if reg.type != SCALAR_VALUE or reg.precise:
                    continue
                reg.precise = True
                if env.level2:
                    env.verbose(f"force_precise: frame{i}: forcing fp{-(j + 1) * 8} to be precise\n")
        st = st.parent


def mark_all_scalars_imprecise(st: VerifierState) -> None:
    for func in st.frames:
        for j in range(_FP):
            reg = func.regs[j]
            if reg.type == SCALAR_VALUE:
                reg.precise = False
        for slot in func.stack:
            if slot.is_spilled_reg and slot.spilled.type == SCALAR_VALUE:
                slot.spilled.precise = False


def mark_chain_precision(env: Env, regno: int = -1, starting_state: VerifierState | None = None) -> bool:
    """__mark_chain_precision: backtrack from `starting_state` (the current path) for `regno` and whatever `env.bt`
    already holds; returns whether a precise mark was newly set in some checkpoint."""
    if not env.bpf_capable:
        return False
    bt: Backtrack = env.bt
    st = env.cur if starting_state is None else starting_state
    first_idx = st.first_insn_idx
    last_idx = st.insn_idx
    subseq_idx = -1
    changed = False
    skip_first = True
    level2 = env.level2
    regs, stack = bt.regs, bt.stack
    bt.frame = st.curframe
    if regno >= 0:
        if st.frames[bt.frame].regs[regno].type != SCALAR_VALUE:
            raise _bug(env, "backtracking misuse")
        bt.set_reg(regno)
    if bt.empty():
        return False
    try:
        while True:
            if env.level2:
                env.verbose(f"mark_precise: frame{bt.frame}: last_idx {last_idx} first_idx {first_idx} "
                            f"subseq_idx {subseq_idx} \n")
            if last_idx < 0:
                # the entry of the main program (or of a global function): only its arguments may be left
                if st.curframe == 0 and st.frames[0].subprogno > 0 and not bt.stack[0] \
                        and not bt.regs[0] & ~BPF_REGMASK_ARGS:
                    for i in range(1, 6):
                        if bt.regs[0] >> i & 1:
                            reg = st.frames[0].regs[i]
                            if reg.type == SCALAR_VALUE and not reg.precise:
                                reg.precise = True
                                changed = True
                    return changed
                raise _bug(env, f"func entry subprog {st.frames[0].subprogno} reg_mask {bt.regs[bt.frame]:x} "
                                f"stack_mask {bt.stack[bt.frame]:x}")
            if st.seg_opaque or level2:
                if _walk_segment(env, st, last_idx, subseq_idx, skip_first, bt) is _NOTSUPP:
                    mark_all_scalars_precise(env, env.cur if starting_state is None else starting_state)
                    return changed
                if not any(regs) and not any(stack):
                    return changed
            # else: nothing in this segment can change what is wanted
            skip_first = False
            st = st.parent
            if st is None:
                break
            changed |= _mark_parent(env, st, bt)
            if not any(regs) and not any(stack):
                return changed
            subseq_idx = first_idx
            last_idx = st.last_insn_idx
            first_idx = st.first_insn_idx
        # requested registers or slots are left (e.g. a stack access through another register than r10)
        if not bt.empty():
            mark_all_scalars_precise(env, env.cur if starting_state is None else starting_state)
        return changed
    finally:
        bt.reset()


def _walk_segment(env: Env, st: VerifierState, i: int, subseq_idx: int, skip_first: bool, bt: Backtrack):
    """Backtrack through the instructions of `st`'s segment, last to first, following its jump history.

    In the current path's own segment, where a loop asks for precision at every iteration, each walk goes back
    over the iterations the previous walks already crossed: the walk is a function of where it stands in the
    history and what it still wants, so that answer is kept per jump in the history (frame 0 only, where every
    wanted bit is in bt.regs[0] / bt.stack[0]) for the segment, and a later walk arriving there takes it."""
    sthist = st.hist
    if env.level2 or sthist is not env.cur.hist:
        return _walk(env, st, i, subseq_idx, skip_first, bt, None, None)
    if bt.memo_hist is not sthist:
        bt.memo_hist = sthist
        bt.memo = {}
    pending: list = []
    result = _walk(env, st, i, subseq_idx, skip_first, bt, bt.memo, pending)
    if pending:
        done = (result, bt.frame, tuple(bt.regs), tuple(bt.stack))
        memo = bt.memo
        for key in pending:
            memo[key] = done
    return result


def _walk(env: Env, st: VerifierState, i: int, subseq_idx: int, skip_first: bool, bt: Backtrack, memo, pending):
    transparent = env.bt_transparent
    opaque_before = env.bt_opaque_before
    reg_only = env.bt_reg_only
    level2 = env.level2
    ninsns = len(env.insns)
    regs, stack = bt.regs, bt.stack
    sthist = st.hist
    hist_end = len(sthist)
    first = st.first_insn_idx
    while True:
        if skip_first:
            skip_first = False
        else:
            hist = sthist[hist_end - 1] if hist_end and sthist[hist_end - 1].idx == i else None
            fast = reg_only[i]
            if fast is not None and not level2 and (hist is None or not hist.linked):
                # backtrack_insn of a register ALU instruction, a load, a store or a register compare, inlined
                # (most of what loops walk)
                fr = bt.frame
                mask = regs[fr]
                kind, dbit, sbit = fast
                if kind == _BT_LDX:
                    if mask & dbit:
                        regs[fr] = mask & ~dbit
                        if hist is not None and hist.stack is not None:
                            hfr, spi = hist.stack
                            stack[hfr] |= 1 << spi
                        elif not any(regs) and not any(stack):
                            return None
                elif kind == _BT_ST:
                    if mask & dbit:
                        return _NOTSUPP
                    if hist is not None and hist.stack is not None:
                        hfr, spi = hist.stack
                        if stack[hfr] >> spi & 1:
                            stack[hfr] &= ~(1 << spi)
                            if sbit:
                                regs[fr] = mask | sbit
                            elif not any(regs) and not any(stack):
                                return None
                elif kind == _BT_JX:
                    if mask & (dbit | sbit):
                        if hist is None or not hist.src_stack:
                            mask |= sbit
                        if hist is None or not hist.dst_stack:
                            mask |= dbit
                        regs[fr] = mask
                elif mask & dbit:
                    if kind == _BT_MOVX:
                        regs[fr] = (mask & ~dbit) | sbit
                    elif kind == _BT_MOVK:
                        regs[fr] = mask & ~dbit
                        if not any(regs) and not any(stack):
                            return None
                    else:
                        regs[fr] = mask | sbit
            elif not transparent[i] or level2 or (hist is not None and hist.linked):
                if backtrack_insn(env, i, subseq_idx, hist, bt) is _NOTSUPP:
                    return _NOTSUPP
                if not any(regs) and not any(stack):
                    return None
        subseq_idx = i
        # get_prev_insn_idx, inlined: the history says where a non-linear step came from
        if i == first and (hist_end == 0 or (hist_end == 1 and sthist[0].idx == i)):
            return None
        if hist_end and sthist[hist_end - 1].idx == i:
            hist_end -= 1
            ent = sthist[hist_end]
            i = ent.prev_idx
            if memo is not None and i != ent.idx - 1 and not bt.frame:
                # a jump (a loop's back edge) taken backwards: about to walk sthist[:hist_end] from its source;
                # asked before in this segment?
                key = (hist_end, regs[0], stack[0])
                done = memo.get(key)
                if done is not None:
                    result, bt.frame, regs[:], stack[:] = done
                    return result
                pending.append(key)
        else:
            i -= 1
        if i < 0:
            return None
        if i >= ninsns:
            raise _bug(env, f"idx {i}")
        if transparent[i] and not level2:
            # a straight run of instructions that change no mask: step to its first one at once
            stop = sthist[hist_end - 1].idx if hist_end else first
            if 0 <= stop < i and opaque_before[i + 1] == opaque_before[stop + 1]:
                subseq_idx = stop + 1
                i = stop


def _mark_parent(env: Env, st: VerifierState, bt: Backtrack) -> bool:
    """Entering parent checkpoint `st`: what is wanted becomes precise there (what already is stops the walk)."""
    changed = False
    for fr in range(bt.frame, -1, -1):
        func = st.frames[fr]
        mask = bt.regs[fr]
        i = 0
        while mask >> i:
            if mask >> i & 1:
                reg = func.regs[i]
                if reg.type != SCALAR_VALUE or reg.precise:
                    bt.regs[fr] &= ~(1 << i)
                else:
                    reg.precise = True
                    changed = True
            i += 1
        mask = bt.stack[fr]
        i = 0
        while mask >> i:
            if mask >> i & 1:
                if i >= len(func.stack):
                    raise _bug(env, f"stack slot {i}, total slots {len(func.stack)}")
                slot = func.stack[i]
                if not _spilled_scalar(slot) or slot.spilled.precise:
                    bt.stack[fr] &= ~(1 << i)
                else:
                    slot.spilled.precise = True
                    changed = True
            i += 1
        if env.level2:
            env.verbose(f"mark_precise: frame{fr}: parent state regs={_fmt_regs(bt.regs[fr])} "
                        f"stack={_fmt_stack(bt.stack[fr])}: ")
            env.log.write(env.state_str(st, fr, True) + "\n")
    return changed


def propagate_precision(env: Env, old: VerifierState, cur: VerifierState, live_regs=None) -> bool:
    """A path pruned against `old` needs, back along its own history, the precision `old` has (once `old` is
    cleaned, its dead registers and slots are no longer part of it)."""
    bt: Backtrack = env.bt
    for fr in range(old.curframe, -1, -1):
        func = old.frames[fr]
        names = []
        for i in range(_FP):
            reg = func.regs[i]
            if reg.type != SCALAR_VALUE or not reg.precise:
                continue
            names.append(f"r{i}")
            bt.regs[fr] |= 1 << i
        for i, slot in enumerate(func.stack):
            if not slot.is_spilled_reg or slot.spilled.type != SCALAR_VALUE or not slot.spilled.precise:
                continue
            names.append(f"fp{(-i - 1) * BPF_REG_SIZE}")
            bt.stack[fr] |= 1 << i
        if names and env.level2:
            env.verbose(f"frame {fr}: propagating {','.join(names)}\n")
    return mark_chain_precision(env, -1, cur)


# ---- loops: strongly connected components of the CFG and their visits -----------------------------------------

def compute_scc(cfg, succ: list[tuple[int, ...]]) -> list[int]:
    """Tarjan over instructions (intraprocedural edges): scc id per slot, 0 outside any loop. A component counts
    with two or more instructions, a self edge, or a callback-calling helper call (an implicit loop)."""
    n = len(cfg.insns)
    scc = [0] * n
    if not cfg.callback_calls and not any(w <= t for t, ws in enumerate(succ) for w in ws):
        return scc  # no edge goes back and no helper calls back: no loop at all
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    next_id = 1
    for root in range(n):
        if index[root] >= 0 or cfg.insns[root] is None:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, k = work[-1]
            edges = succ[v]
            if k < len(edges):
                work[-1] = (v, k + 1)
                w = edges[k]
                if not 0 <= w < n:
                    continue
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                assign = stack[-1] != v or v in edges or v in cfg.callback_calls
                while True:
                    t = stack.pop()
                    on_stack[t] = False
                    if assign:
                        scc[t] = next_id
                    if t == v:
                        break
                if assign:
                    next_id += 1
    return scc


class SccVisit:
    __slots__ = ("entry_state", "backedges")

    def __init__(self) -> None:
        self.entry_state: VerifierState | None = None
        self.backedges: list[VerifierState] = []


def scc_callchain(env: Env, st: VerifierState) -> tuple | None:
    """The call sites leading to the outermost frame that is inside a loop, and that loop's id."""
    if not st.curframe:
        scc = env.scc_of[st.insn_idx]
        return ((), scc) if scc else None
    sites = []
    for i in range(st.curframe + 1):
        insn = st.insn_idx if i == st.curframe else st.frames[i + 1].callsite
        scc = env.scc_of[insn]
        if scc:
            return (tuple(sites), scc)
        if i < st.curframe:
            sites.append(insn)
    return None


def maybe_enter_scc(env: Env, st: VerifierState) -> None:
    chain = scc_callchain(env, st)
    if chain is None:
        return
    visit = env.scc_visits.get(chain)
    if visit is None:
        visit = env.scc_visits[chain] = SccVisit()
    if visit.entry_state is None:
        visit.entry_state = st
        if env.level2:
            env.verbose(f"SCC enter ({''.join(f'{c},' for c in chain[0])}{chain[1]})\n")


def maybe_exit_scc(env: Env, st: VerifierState, live_regs) -> None:
    if not st.curframe and not env.scc_of[st.insn_idx]:  # scc_callchain()'s first answer, without the call
        return
    chain = scc_callchain(env, st)
    if chain is None:
        return
    visit = env.scc_visits.get(chain)
    if visit is None or visit.entry_state is not st:
        return
    if env.level2:
        env.verbose(f"SCC exit ({''.join(f'{c},' for c in chain[0])}{chain[1]})\n")
    visit.entry_state = None
    propagate_backedges(env, visit, live_regs)


def add_scc_backedge(env: Env, old: VerifierState, backedge: VerifierState) -> None:
    chain = scc_callchain(env, old)
    visit = env.scc_visits.get(chain) if chain is not None else None
    if visit is None:
        raise Reject(f"verifier bug: add backedge: no visit for insn {old.insn_idx}", errno.EFAULT)
    if env.level2:
        env.verbose(f"SCC backedge ({''.join(f'{c},' for c in chain[0])}{chain[1]})\n")
    visit.backedges.append(backedge)


def incomplete_read_marks(env: Env, st: VerifierState) -> bool:
    """A checkpoint inside a loop whose visit has back edges waiting: its precision marks are not final."""
    if not env.num_backedges:
        return False
    chain = scc_callchain(env, st)
    if chain is None:
        return False
    visit = env.scc_visits.get(chain)
    return visit is not None and bool(visit.backedges)


def propagate_backedges(env: Env, visit: SccVisit, live_regs) -> None:
    for _ in range(MAX_BACKEDGE_ITERS + 1):
        changed = False
        for bk in reversed(visit.backedges):  # the kernel's list is newest first
            changed |= propagate_precision(env, bk.equal_state, bk, live_regs)
        if not changed:
            break
    else:
        if env.level2:
            env.verbose("propagate_backedges: too many iterations\n")
        for bk in visit.backedges:
            mark_all_scalars_precise(env, bk)
    env.num_backedges -= len(visit.backedges)
    visit.backedges = []


__all__ = ["HistEntry", "Backtrack", "push_insn_history", "mark_chain_precision", "mark_all_scalars_precise",
           "mark_all_scalars_imprecise", "propagate_precision", "compute_scc", "maybe_enter_scc", "maybe_exit_scc",
           "add_scc_backedge", "incomplete_read_marks"]
