"""Conditional jumps: is_branch_taken() and the range refinement of both branches (regs_refine_cond_op)."""
from __future__ import annotations

from pyebpf.abi.opcodes import JmpOp
from pyebpf.verifier.bounds import reg_bounds_sync, s32, s64
from pyebpf.verifier.env import AT_PKT_END, BEYOND_PKT_END, BPF_MAX_VAR_OFF as _MAX_VAR_OFF
from pyebpf.verifier.regstate import (
    PTR_MAYBE_NULL, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_SOCK_COMMON, PTR_TO_SOCKET,
    PTR_TO_TCP_SOCK, SCALAR_VALUE, NOT_INIT, Reg, reg_is_pkt_pointer_any, BASE_TYPE_MASK as _BASE_MASK, RegFlag,
    RegType,
)
from pyebpf.verifier.tnum import U32, U64, tnum_and, tnum_const, tnum_intersect, tnum_or, tnum_subreg, tnum_with_subreg

JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, JLT, JLE, JSLT, JSLE = (int(op) for op in (  # plain ints: compared per jump
    JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE,
    JmpOp.JSLT, JmpOp.JSLE))
JSET_X = JSET | 0x08  # rev_opcode(BPF_JSET): "no bit of the mask is set"

_FLIP = {JEQ: JEQ, JNE: JNE, JSET: JSET, JGT: JLT, JLT: JGT, JGE: JLE, JLE: JGE, JSGT: JSLT, JSLT: JSGT,
         JSGE: JSLE, JSLE: JSGE}
_REV = {JEQ: JNE, JNE: JEQ, JGT: JLE, JLE: JGT, JGE: JLT, JLT: JGE, JSGT: JSLE, JSLE: JSGT, JSGE: JSLT,
        JSLT: JSGE, JSET: JSET_X}


def flip_opcode(op: int) -> int:
    return _FLIP[op]


def rev_opcode(op: int) -> int:
    return _REV[op]


def is_reg_const(reg: Reg, is_jmp32: bool) -> bool:
    return reg.type == SCALAR_VALUE and not (reg.var_off.mask & U32 if is_jmp32 else reg.var_off.mask)


def reg_const_value(reg: Reg, is_jmp32: bool) -> int:
    return reg.var_off.value & U32 if is_jmp32 else reg.var_off.value


_NOT_NULL_BASES = frozenset(int(t) for t in (
    RegType.PTR_TO_SOCKET, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK, RegType.PTR_TO_BUF,
    RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_SOCK_COMMON, RegType.CONST_PTR_TO_MAP))


def reg_not_null(reg: Reg) -> bool:
    """reg_not_null(): a pointer type that is never NULL (by base type: a read-only element of an iterator or a
    dynptr slice is still memory), unless an unbounded offset could wrap it to zero."""
    t = reg.type
    if t & PTR_MAYBE_NULL:
        return False
    if reg.smin <= -_MAX_VAR_OFF or reg.smax >= _MAX_VAR_OFF:
        return False
    b = t & _BASE_MASK
    if b in _NOT_NULL_BASES:
        return True
    if b == RegType.PTR_TO_MEM:
        return not t & RegFlag.PTR_UNTRUSTED
    if b == RegType.PTR_TO_BTF_ID:
        from pyebpf.verifier.btf_ptr import is_trusted_reg
        return is_trusted_reg(reg)
    return False


def is_scalar_branch_taken(r1: Reg, r2: Reg, op: int, is_jmp32: bool) -> int:
    if is_jmp32:
        t1, t2 = tnum_subreg(r1.var_off), tnum_subreg(r2.var_off)
        umin1, umax1, smin1, smax1 = r1.u32_min, r1.u32_max, r1.s32_min, r1.s32_max
        umin2, umax2, smin2, smax2 = r2.u32_min, r2.u32_max, r2.s32_min, r2.s32_max
    else:
        t1, t2 = r1.var_off, r2.var_off
        umin1, umax1, smin1, smax1 = r1.umin, r1.umax, r1.smin, r1.smax
        umin2, umax2, smin2, smax2 = r2.umin, r2.umax, r2.smin, r2.smax
    # `if r1 > r1` is not decided from the register's identity: check_cond_jmp_op compares copies of the two
    # operands (env->true_reg1/true_reg2), so the kernel explores both branches of an unknown scalar (measured)
    if op == JEQ or op == JNE:
        eq = op == JEQ
        if not t1.mask and not t2.mask:
            return int((t1.value == t2.value) == eq)
        mu = ~t1.mask & ~t2.mask
        if t1.value & mu != t2.value & mu:  # tnum_overlap: a known bit differs
            return 0 if eq else 1
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return 0 if eq else 1
        if not is_jmp32:
            if r1.u32_min > r2.u32_max or r1.u32_max < r2.u32_min or r1.s32_min > r2.s32_max \
                    or r1.s32_max < r2.s32_min:
                return 0 if eq else 1
        return -1
    if op == JSET:
        if not is_reg_const(r2, is_jmp32):
            r1, r2, t1, t2 = r2, r1, t2, t1
        if not is_reg_const(r2, is_jmp32):
            return -1
        if t1.value & ~t1.mask & t2.value:
            return 1
        if not ((t1.mask | t1.value) & t2.value):
            return 0
        return -1
    if op == JGT:
        return 1 if umin1 > umax2 else 0 if umax1 <= umin2 else -1
    if op == JSGT:
        return 1 if smin1 > smax2 else 0 if smax1 <= smin2 else -1
    if op == JLT:
        return 1 if umax1 < umin2 else 0 if umin1 >= umax2 else -1
    if op == JSLT:
        return 1 if smax1 < smin2 else 0 if smin1 >= smax2 else -1
    if op == JGE:
        return 1 if umin1 >= umax2 else 0 if umax1 < umin2 else -1
    if op == JSGE:
        return 1 if smin1 >= smax2 else 0 if smax1 < smin2 else -1
    if op == JLE:
        return 1 if umax1 <= umin2 else 0 if umin1 > umax2 else -1
    if op == JSLE:
        return 1 if smax1 <= smin2 else 0 if smin1 > smax2 else -1
    return -1


def is_pkt_ptr_branch_taken(r1: Reg, r2: Reg, op: int) -> int:
    from pyebpf.verifier.regstate import PTR_TO_PACKET_END
    if r2.type == PTR_TO_PACKET_END:
        pkt = r1
    elif r1.type == PTR_TO_PACKET_END:
        pkt = r2
        op = flip_opcode(op)
    else:
        return -1
    if pkt.range >= 0:
        return -1
    # range is a marker a previous pkt/pkt_end comparison left (mark_pkt_end)
    if op in (JLE, JGT):
        if pkt.range == BEYOND_PKT_END:  # pkt has at least one byte beyond pkt_end
            return int(op == JGT)
    elif op in (JLT, JGE):
        if pkt.range in (BEYOND_PKT_END, AT_PKT_END):
            return int(op == JGE)
    return -1


def is_branch_taken(r1: Reg, r2: Reg, op: int, is_jmp32: bool) -> int:
    """1: always taken, 0: never taken, -1: unknown."""
    if r1.type == SCALAR_VALUE and r2.type == SCALAR_VALUE:  # the usual case, before the pointer tests
        return is_scalar_branch_taken(r1, r2, op, is_jmp32)
    if reg_is_pkt_pointer_any(r1.type) and reg_is_pkt_pointer_any(r2.type) and not is_jmp32:
        return is_pkt_ptr_branch_taken(r1, r2, op)
    p1 = r1.type not in (SCALAR_VALUE, NOT_INIT)
    p2 = r2.type not in (SCALAR_VALUE, NOT_INIT)
    if p1 or p2:
        if not is_reg_const(r2, is_jmp32):
            op = flip_opcode(op) if op in _FLIP else op
            r1, r2 = r2, r1
        if not is_reg_const(r2, is_jmp32):
            return -1
        if not reg_not_null(r1):
            return -1
        if reg_const_value(r2, is_jmp32) != 0:
            return -1
        return 0 if op == JEQ else 1 if op == JNE else -1
    return is_scalar_branch_taken(r1, r2, op, is_jmp32)


_SWAPPED_OPS = frozenset({JGE, JGT, JSGE, JSGT})


def regs_refine_cond_op(r1: Reg, r2: Reg, op: int, is_jmp32: bool) -> None:
    # (min/max written as conditional expressions: this runs for both branches of every undecided jump)
    if op in _SWAPPED_OPS:
        op = _FLIP[op]
        r1, r2 = r2, r1
    if op == JEQ:
        if is_jmp32:
            r1.u32_min = r2.u32_min = max(r1.u32_min, r2.u32_min)
            r1.u32_max = r2.u32_max = min(r1.u32_max, r2.u32_max)
            r1.s32_min = r2.s32_min = max(r1.s32_min, r2.s32_min)
            r1.s32_max = r2.s32_max = min(r1.s32_max, r2.s32_max)
            t = tnum_intersect(tnum_subreg(r1.var_off), tnum_subreg(r2.var_off))
            r1.var_off = tnum_with_subreg(r1.var_off, t)
            r2.var_off = tnum_with_subreg(r2.var_off, t)
        else:
            a, b = r1.umin, r2.umin
            r1.umin = r2.umin = a if a > b else b
            a, b = r1.umax, r2.umax
            r1.umax = r2.umax = a if a < b else b
            a, b = r1.smin, r2.smin
            r1.smin = r2.smin = a if a > b else b
            a, b = r1.smax, r2.smax
            r1.smax = r2.smax = a if a < b else b
            r1.var_off = r2.var_off = tnum_intersect(r1.var_off, r2.var_off)
    elif op == JNE:
        if not is_reg_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not is_reg_const(r2, is_jmp32):
            return
        if is_jmp32:
            val = r2.var_off.value & U32
            sval = val - (1 << 32) if val >> 31 else val
            if r1.u32_min == val:
                r1.u32_min += 1
            if r1.u32_max == val:
                r1.u32_max -= 1
            if r1.s32_min == sval:
                r1.s32_min += 1
            if r1.s32_max == sval:
                r1.s32_max -= 1
        else:
            val = r2.var_off.value
            sval = val - (1 << 64) if val >> 63 else val
            if r1.umin == val:
                r1.umin += 1
            if r1.umax == val:
                r1.umax -= 1
            if r1.smin == sval:
                r1.smin += 1
            if r1.smax == sval:
                r1.smax -= 1
    elif op == JSET or op == JSET_X:
        if not is_reg_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not is_reg_const(r2, is_jmp32):
            return
        val = reg_const_value(r2, is_jmp32)
        if op == JSET:
            if not val or val & (val - 1):
                return
            if is_jmp32:
                r1.var_off = tnum_with_subreg(r1.var_off, tnum_or(tnum_subreg(r1.var_off), tnum_const(val)))
            else:
                r1.var_off = tnum_or(r1.var_off, tnum_const(val))
        else:
            if is_jmp32:
                r1.var_off = tnum_with_subreg(r1.var_off, tnum_and(tnum_subreg(r1.var_off), tnum_const(~val & U32)))
            else:
                r1.var_off = tnum_and(r1.var_off, tnum_const(~val))
    elif op == JLE:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, r2.u32_max)
            r2.u32_min = max(r1.u32_min, r2.u32_min)
        else:
            r1.umax = min(r1.umax, r2.umax)
            r2.umin = max(r1.umin, r2.umin)
    elif op == JLT:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, (r2.u32_max - 1) & U32)
            r2.u32_min = max((r1.u32_min + 1) & U32, r2.u32_min)
        else:
            r1.umax = min(r1.umax, (r2.umax - 1) & U64)
            r2.umin = max((r1.umin + 1) & U64, r2.umin)
    elif op == JSLE:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, r2.s32_max)
            r2.s32_min = max(r1.s32_min, r2.s32_min)
        else:
            r1.smax = min(r1.smax, r2.smax)
            r2.smin = max(r1.smin, r2.smin)
    elif op == JSLT:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, s32(r2.s32_max - 1))
            r2.s32_min = max(s32(r1.s32_min + 1), r2.s32_min)
        else:
            r1.smax = min(r1.smax, s64(r2.smax - 1))
            r2.smin = max(s64(r1.smin + 1), r2.smin)


def reg_set_min_max(true1: Reg, true2: Reg, false1: Reg, false2: Reg, op: int, is_jmp32: bool) -> bool:
    """Refine both branches; returns False if a branch became impossible (bounds crossed)."""
    if false1.type != SCALAR_VALUE or false2.type != SCALAR_VALUE:
        return True
    if false1 is false2:  # one register on both sides: is_scalar_branch_taken decided what it could
        return True
    regs_refine_cond_op(false1, false2, _REV[op], is_jmp32)
    reg_bounds_sync(false1)
    reg_bounds_sync(false2)
    regs_refine_cond_op(true1, true2, op, is_jmp32)
    reg_bounds_sync(true1)
    reg_bounds_sync(true2)
    return True


def reg_set_min_max_imm(true1: Reg, false1: Reg, imm_reg: Reg, op: int, is_jmp32: bool) -> None:
    """reg_set_min_max() against an immediate (the kernel's fake_reg): each branch refines its own copy of the
    constant, and only the register's side is synced (the copies are dropped afterwards, and a sync changes
    nothing but the register it is given)."""
    if false1.type != SCALAR_VALUE:
        return
    rev = _REV[op]
    # (JNE and JSET/JSET_X never write the constant side: no copy for them)
    regs_refine_cond_op(false1, imm_reg if rev in _CONST_SIDE_UNTOUCHED else imm_reg.copy(), rev, is_jmp32)
    reg_bounds_sync(false1)
    regs_refine_cond_op(true1, imm_reg if op in _CONST_SIDE_UNTOUCHED else imm_reg.copy(), op, is_jmp32)
    reg_bounds_sync(true1)


_CONST_SIDE_UNTOUCHED = frozenset({JNE, JSET, JSET_X})
"""regs_refine_cond_op() against a constant writes only the other register for these ops (they swap the two
only to put the constant second)"""
