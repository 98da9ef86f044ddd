"""State pruning: states_equal / regsafe / stacksafe, and static register liveness (compute_live_registers).

Scalars are compared by range only where a stored state marked them precise (precision.py); register liveness
comes from a static backward analysis as in 6.15+ kernels. Stack slots are compared whole (6.18 also drops stack
slots its call-chain-sensitive liveness finds dead: not modelled, which prunes a little less).
"""
from __future__ import annotations

from pyebpf.abi.helpers import HelperId, HELPER_PROTOS
from pyebpf.abi.opcodes import CLASS_MASK, MODE_MASK, OP_LD_IMM64, OP_MASK, SOURCE_MASK, AluOp, AtomicOp, \
    InsnClass, JmpOp, Mode
from pyebpf.verifier.regstate import (
    NOT_INIT, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_STACK, SCALAR_VALUE, Reg, base_type, RegType,
)
from pyebpf.verifier.dynptr import slots_equal as dynptr_slots_equal
from pyebpf.verifier.iters import slots_equal as iter_slots_equal
from pyebpf.verifier.state import BPF_REG_SIZE, STACK_DYNPTR, STACK_INVALID, STACK_ITER, STACK_MISC, STACK_SPILL, STACK_ZERO, FuncState, \
    VerifierState
from pyebpf.verifier.tnum import tnum_in

NOT_EXACT, EXACT, RANGE_WITHIN = 0, 1, 2


class IdMap:
    __slots__ = ("map", "tmp")

    def __init__(self) -> None:
        self.map: dict[int, int] = {}
        self.tmp = 1 << 40

    def check_ids(self, old: int, cur: int) -> bool:
        if not old and not cur:
            return True
        if not old or not cur:
            return False
        seen = self.map.get(old)
        if seen is None:
            if cur in self.map.values():
                return False
            self.map[old] = cur
            return True
        return seen == cur

    def check_scalar_ids(self, old: int, cur: int) -> bool:
        if not old:
            self.tmp += 1
            old = self.tmp
        if not cur:
            self.tmp += 1
            cur = self.tmp
        return self.check_ids(old, cur)


_MEM_LIKE = frozenset(int(t) for t in (RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM,
                                         RegType.PTR_TO_BUF))
"""regsafe(): pointers into memory of a known size, compared by offset range (plain ints: checked per register)"""

def range_within(old: Reg, cur: Reg) -> bool:
    return (old.umin <= cur.umin and old.umax >= cur.umax and old.smin <= cur.smin and old.smax >= cur.smax
            and old.u32_min <= cur.u32_min and old.u32_max >= cur.u32_max and old.s32_min <= cur.s32_min
            and old.s32_max >= cur.s32_max)


def _same_fields(a: Reg, b: Reg) -> bool:
    return (a.type == b.type and a.off == b.off and a.map is b.map and a.range == b.range
            and a.mem_size == b.mem_size and a.frameno == b.frameno and a.subprogno == b.subprogno)


def _same_values(old: Reg, cur: Reg) -> bool:
    """memcmp(rold, rcur, offsetof(struct bpf_reg_state, id)): everything but ids and liveness/precision."""
    return (_same_fields(old, cur) and old.var_off == cur.var_off and old.smin == cur.smin
            and old.smax == cur.smax and old.umin == cur.umin and old.umax == cur.umax
            and old.s32_min == cur.s32_min and old.s32_max == cur.s32_max and old.u32_min == cur.u32_min
            and old.u32_max == cur.u32_max)


def regs_exact(old: Reg, cur: Reg, idmap: IdMap) -> bool:
    return (_same_values(old, cur) and idmap.check_ids(old.id, cur.id)
            and idmap.check_ids(old.ref_obj_id, cur.ref_obj_id))


def regsafe(old: Reg, cur: Reg, idmap: IdMap, exact: int) -> bool:
    """Is `cur` within what `old` was proven safe with? An imprecise scalar in `old` (NOT_EXACT) accepts any
    scalar; RANGE_WITHIN compares every scalar as if precise (loops whose marks are not final)."""
    if exact == EXACT:
        return regs_exact(old, cur, idmap)
    if old.type == NOT_INIT and (exact == NOT_EXACT or cur.type == NOT_INIT):
        return True
    if old.type != cur.type:
        return False
    bt = base_type(old.type)
    if bt == SCALAR_VALUE:
        if regs_exact(old, cur, idmap):
            return True
        if not old.precise and exact == NOT_EXACT:
            return True
        return idmap.check_scalar_ids(old.id, cur.id) and range_within(old, cur) and tnum_in(old.var_off,
                                                                                            cur.var_off)
    if bt in _MEM_LIKE:
        return (_same_fields(old, cur) and range_within(old, cur) and tnum_in(old.var_off, cur.var_off)
                and idmap.check_ids(old.id, cur.id) and idmap.check_ids(old.ref_obj_id, cur.ref_obj_id))
    if bt in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if old.range > cur.range or old.off != cur.off:
            return False
        if not idmap.check_ids(old.id, cur.id):
            return False
        return range_within(old, cur) and tnum_in(old.var_off, cur.var_off)
    if bt == PTR_TO_STACK:
        return regs_exact(old, cur, idmap) and old.frameno == cur.frameno
    return regs_exact(old, cur, idmap)


_UNBOUND = Reg()
_UNBOUND.type = SCALAR_VALUE


def _scalar_for_stack(slot, allow_uninit: bool) -> Reg | None:
    """scalar_reg_for_stack: a 64-bit spilled scalar, or an unbounded scalar for an all-STACK_MISC slot."""
    if slot.is_spilled_scalar and all(t == STACK_SPILL for t in slot.slot_type):
        return slot.spilled
    if all(t == STACK_MISC or (t == STACK_INVALID and allow_uninit) for t in slot.slot_type):
        return _UNBOUND
    return None


_ALL_INVALID = [STACK_INVALID] * BPF_REG_SIZE
_ALL_SPILL = [STACK_SPILL] * BPF_REG_SIZE


def stacksafe(old: FuncState, cur: FuncState, idmap: IdMap, exact: int, allow_uninit: bool) -> bool:
    """The kernel's stacksafe, byte by byte in its order (so that scalar ids are paired as it pairs them)."""
    ncur = len(cur.stack)
    for spi, oslot in enumerate(old.stack):
        cslot = cur.stack[spi] if spi < ncur else None
        ot = oslot.slot_type
        if exact != EXACT:
            # whole-slot answers of the byte loop below for the common slots (same verdict, same regsafe calls in
            # the same order): an all-invalid old slot is skipped; equal byte types without a spill, dynptr or
            # iterator byte are safe; two whole spills compare their registers once
            if ot == _ALL_INVALID:
                continue
            if cslot is not None and ot == cslot.slot_type:
                if ot == _ALL_SPILL:
                    if not regsafe(oslot.spilled, cslot.spilled, idmap, exact):
                        return False
                    continue
                if STACK_SPILL not in ot and max(ot) <= STACK_ZERO:
                    continue
        i = 0
        while i < BPF_REG_SIZE:
            o = ot[i]
            if exact == EXACT and (cslot is None or o != cslot.slot_type[i]):
                return False
            if o == STACK_INVALID or (allow_uninit and o == STACK_MISC):
                i += 1
                continue
            if cslot is None:
                return False
            o_reg = _scalar_for_stack(oslot, allow_uninit)
            c_reg = _scalar_for_stack(cslot, allow_uninit) if o_reg is not None else None
            if o_reg is not None and c_reg is not None:
                if not regsafe(o_reg, c_reg, idmap, exact):
                    return False
                break  # i += BPF_REG_SIZE - 1: the rest of this slot is covered
            c = cslot.slot_type[i]
            if not (o == STACK_MISC and c == STACK_ZERO):
                if o != c:
                    return False
                if i == BPF_REG_SIZE - 1 and ot[i] == STACK_SPILL:
                    if not regsafe(oslot.spilled, cslot.spilled, idmap, exact):
                        return False
                elif i == BPF_REG_SIZE - 1 and ot[i] == STACK_DYNPTR:
                    if not dynptr_slots_equal(oslot.spilled, cslot.spilled, idmap):
                        return False
                elif i == BPF_REG_SIZE - 1 and ot[i] == STACK_ITER:
                    if not iter_slots_equal(oslot.spilled, cslot.spilled, idmap):
                        return False
                elif i == BPF_REG_SIZE - 1 and ot[i] not in (STACK_MISC, STACK_ZERO, STACK_INVALID):
                    return False
            i += 1
    return True


def refsafe(old: VerifierState, cur: VerifierState, idmap: IdMap) -> bool:
    if len(old.refs) != len(cur.refs):
        return False
    return all(idmap.check_ids(a[0], b[0]) for a, b in zip(old.refs, cur.refs))


def states_equal(old: VerifierState, cur: VerifierState, exact: int, live_regs, allow_uninit: bool) -> bool:
    if old.curframe != cur.curframe:
        return False
    if old.speculative and not cur.speculative:
        return False
    idmap = IdMap()
    if (old.refs or cur.refs) and not refsafe(old, cur, idmap):
        return False
    if old.active_lock != cur.active_lock and (
            old.active_lock is None or cur.active_lock is None or old.active_lock[0] != cur.active_lock[0]
            or not idmap.check_ids(old.active_lock[1], cur.active_lock[1])):
        return False  # the same lock held (or none), ids mapped as the registers' are
    for i in range(old.curframe + 1):
        of, cf = old.frames[i], cur.frames[i]
        if of.callsite != cf.callsite:
            return False
        if of.callback_depth > cf.callback_depth:
            return False  # func_states_equal: a frame deeper into its bpf_loop callback visits does not cover cur
        insn = old.insn_idx if i == old.curframe else old.frames[i + 1].callsite
        live = live_regs[insn]
        oregs, cregs = of.regs, cf.regs
        for r in range(11):
            if not live >> r & 1:
                continue
            o, c = oregs[r], cregs[r]
            if o is c and not o.id and not o.ref_obj_id:
                # one register object in both states (the frame pointer, shared by copies): regsafe of a
                # register against itself is true in every mode when it maps no ids
                continue
            if exact != EXACT and o.type == SCALAR_VALUE and c.type == SCALAR_VALUE:
                # regsafe's scalar case, inlined: it is by far the most frequent comparison
                ov, cv = o.var_off, c.var_off
                same = (o.umin == c.umin and o.umax == c.umax and o.smin == c.smin and o.smax == c.smax
                        and o.u32_min == c.u32_min and o.u32_max == c.u32_max and o.s32_min == c.s32_min
                        and o.s32_max == c.s32_max and ov.value == cv.value and ov.mask == cv.mask)
                if same and ((not o.id and not c.id) or idmap.check_ids(o.id, c.id)) \
                        and (not (o.ref_obj_id or c.ref_obj_id) or idmap.check_ids(o.ref_obj_id, c.ref_obj_id)):
                    continue
                if not o.precise and exact == NOT_EXACT:
                    continue
                if not (o.umin <= c.umin and o.umax >= c.umax and o.smin <= c.smin and o.smax >= c.smax
                        and o.u32_min <= c.u32_min and o.u32_max >= c.u32_max and o.s32_min <= c.s32_min
                        and o.s32_max >= c.s32_max):
                    return False
                if cv.mask & ~ov.mask or ov.value != cv.value & ~ov.mask:
                    return False
                if (o.id or c.id) and not idmap.check_scalar_ids(o.id, c.id):
                    return False
                continue
            if exact == NOT_EXACT and o.type == NOT_INIT:
                continue
            if not regsafe(o, c, idmap, exact):
                return False
        if (of.stack or cf.stack) and not stacksafe(of, cf, idmap, exact, allow_uninit):
            return False
    return True


def states_maybe_looping(old: VerifierState, cur: VerifierState) -> bool:
    if old.curframe != cur.curframe:
        return False
    fo, fc = old.frames[old.curframe], cur.frames[cur.curframe]
    for a, b in zip(fo.regs, fc.regs):
        if a.type != b.type or a.var_off.value != b.var_off.value or a.var_off.mask != b.var_off.mask \
                or a.off != b.off or a.umin != b.umin or a.umax != b.umax or a.smin != b.smin \
                or a.smax != b.smax or a.id != b.id or a.map is not b.map or a.range != b.range:
            return False
    return True


# ---- static liveness ---------------------------------------------------------------------------------------------

ALL_CALLER_SAVED = 0x3F
_R10 = 1 << 10


def _use_def(insn) -> tuple[int, int]:
    code = insn.opcode
    cls = code & CLASS_MASK
    d, s = 1 << insn.dst, 1 << insn.src
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        op = code & OP_MASK
        if op == AluOp.MOV:
            return (s if code & SOURCE_MASK else 0), d
        if op in (AluOp.NEG, AluOp.END):
            return d, d
        return d | (s if code & SOURCE_MASK else 0), d
    if cls == InsnClass.LDX:
        return s, d
    if cls == InsnClass.ST:
        return d, 0
    if cls == InsnClass.STX:
        if code & MODE_MASK == Mode.ATOMIC:
            imm = insn.imm
            if imm == AtomicOp.CMPXCHG:
                return d | s | 1, 1
            if imm == AtomicOp.LOAD_ACQ:
                return s, d
            if imm & 1:
                return d | s, s
            return d | s, 0
        return d | s, 0
    if cls == InsnClass.LD:
        if code == OP_LD_IMM64:
            return 0, d
        mode = code & MODE_MASK
        return (1 << 6) | (s if mode == Mode.IND else 0), ALL_CALLER_SAVED
    op = code & OP_MASK
    if op == JmpOp.EXIT:
        return 1, 0
    if op == JmpOp.CALL:
        if insn.src == 0:
            try:
                proto = HELPER_PROTOS.get(HelperId(insn.imm))
            except ValueError:
                proto = None
            nargs = len(proto.args) if proto is not None else 5
            return ((1 << (nargs + 1)) - 2), ALL_CALLER_SAVED
        return 0x3E, ALL_CALLER_SAVED
    if op in (JmpOp.JA, JmpOp.JCOND):
        return 0, 0
    return d | (s if code & SOURCE_MASK else 0), 0


_JMP_CLASSES = (int(InsnClass.JMP), int(InsnClass.JMP32))
_EXIT, _CALL, _JA = int(JmpOp.EXIT), int(JmpOp.CALL), int(JmpOp.JA)


def cfg_successors(cfg) -> list[tuple[int, ...]]:
    """bpf_insn_successors: the intraprocedural successors of every slot (a call continues after itself).
    Computed once per CfgInfo (cached on it): liveness, loops and stack liveness all walk the same graph."""
    cached = getattr(cfg, "_pyebpf_succ", None)
    if cached is not None:
        return cached
    succ: list[tuple[int, ...]] = []
    append = succ.append
    jmp32 = int(InsnClass.JMP32)
    jmp_classes = _JMP_CLASSES
    lddw = int(OP_LD_IMM64)
    for t, insn in enumerate(cfg.insns):
        if insn is None:
            append(())
            continue
        code = insn.opcode
        cls = code & 0x07
        if cls in jmp_classes:
            op = code & 0xF0
            if op == _EXIT:
                append(())
            elif op == _CALL:
                append((t + 1,))
            elif op == _JA:
                append((t + 1 + (insn.imm if cls == jmp32 else insn.off),))
            else:
                append((t + 1, t + 1 + insn.off))
        else:
            append((t + 2,) if code == lddw else (t + 1,))
    cfg._pyebpf_succ = succ
    return succ


def has_back_edges(succ: list[tuple[int, ...]]) -> bool:
    """Some edge goes back (or to itself): the graph may have loops."""
    return any(w <= t for t, ws in enumerate(succ) for w in ws)


def compute_live_registers(cfg) -> list[int]:
    """live_regs_before for every slot: registers that may be read before being written (r10 always)."""
    insns = cfg.insns
    n = len(insns)
    succ = cfg_successors(cfg)
    use = [0] * n
    defs = [0] * n
    cache = _USE_DEF_BY_INSN
    for t, insn in enumerate(insns):
        if insn is not None:
            r = cache.get(insn)  # (an Instruction is a NamedTuple: hashed in C, whole)
            if r is None:
                r = _use_def_cached(insn)
                if len(cache) >= 1 << 14:
                    cache.clear()
                cache[insn] = r
            use[t], defs[t] = r
    live = [0] * n
    # without back edges one pass in reverse order reaches the fixed point (the second pass would change nothing)
    changed = True
    loops = any(w <= t for t, ws in enumerate(succ) for w in ws)  # has_back_edges(succ)
    while changed:
        changed = False
        for t in range(n - 1, -1, -1):
            if insns[t] is None:
                continue
            out = 0
            for w in succ[t]:
                if 0 <= w < n:
                    out |= live[w]
            new = (out & ~defs[t]) | use[t]
            if new != live[t]:
                live[t] = new
                changed = True
        if not loops:
            break
    return [v | _R10 for v in live]


_USE_DEF_CACHE: dict[tuple, tuple[int, int]] = {}
_USE_DEF_BY_INSN: dict = {}


def _use_def_cached(insn) -> tuple[int, int]:
    key = (insn.opcode, insn.dst, insn.src, insn.imm)
    r = _USE_DEF_CACHE.get(key)
    if r is None:
        r = _use_def(insn)
        if len(_USE_DEF_CACHE) < 1 << 14:
            _USE_DEF_CACHE[key] = r
    return r


__all__ = ["states_equal", "regsafe", "stacksafe", "compute_live_registers", "cfg_successors", "states_maybe_looping",
           "NOT_EXACT", "EXACT", "RANGE_WITHIN"]
