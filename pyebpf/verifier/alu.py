"""ALU instructions: check_alu_op, adjust_reg_min_max_vals and pointer arithmetic (adjust_ptr_min_max_vals)."""
from __future__ import annotations

import errno

from pyebpf.abi.opcodes import CLASS_MASK, OP_MASK, SOURCE_MASK, AluOp, InsnClass
from pyebpf.verifier.bounds import (
    adjust_scalar_min_max_vals, coerce_reg_to_size_sx, coerce_subreg_to_size_sx, mark_reg32_unbounded,
    mark_reg_known, mark_reg_unknown, reg_bounds_sync, zext_32_to_64,
)
from pyebpf.verifier.env import BPF_MAX_VAR_OFF, DST_OP, DST_OP_NO_MARK, SRC_OP, Env, Reject
from pyebpf.isa.disasm_kernel import BPF_ALU_STRING as _ALU_STR  # the kernel names operators by bpf_alu_string[]
from pyebpf.verifier.precision import mark_chain_precision
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, PTR_MAYBE_NULL, PTR_TO_FLOW_KEYS, PTR_TO_MAP_VALUE, PTR_TO_STACK, S64_MAX, S64_MIN,
    SCALAR_VALUE, Reg, base_type, reg_type_str, type_is_pkt_pointer, RegType,
)
from pyebpf.verifier.tnum import U64, Tnum, tnum_add, tnum_sub

_PTR_ARITH_OK = {RegType.PTR_TO_CTX, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_STACK,
                 RegType.PTR_TO_PACKET_META, RegType.PTR_TO_PACKET, RegType.PTR_TO_TP_BUFFER, RegType.PTR_TO_BTF_ID,
                 RegType.PTR_TO_MEM, RegType.PTR_TO_BUF, RegType.PTR_TO_FUNC, RegType.CONST_PTR_TO_DYNPTR}


_CONSTS: dict[int, Reg] = {}


def _const_reg(imm: int) -> Reg:
    """A known-constant scalar for BPF_K operands (shared: transfer functions never write their source)."""
    r = _CONSTS.get(imm)
    if r is None:
        r = Reg()
        r.type = SCALAR_VALUE
        mark_reg_known(r, imm)
        if len(_CONSTS) < 4096:
            _CONSTS[imm] = r
    return r


def assign_scalar_id_before_mov(env: Env, src: Reg) -> None:
    if src.type != SCALAR_VALUE:
        return
    if not src.id and src.var_off.mask:
        src.id = env.new_id()


_END, _NEG, _MOV, _DIV, _MOD, _LSH, _RSH, _ARSH = (int(AluOp.END), int(AluOp.NEG), int(AluOp.MOV),
                                                   int(AluOp.DIV), int(AluOp.MOD), int(AluOp.LSH),
                                                   int(AluOp.RSH), int(AluOp.ARSH))
_CLS_ALU64 = int(InsnClass.ALU64)
_ADD, _SUB, _MUL, _OR, _AND, _XOR = (int(AluOp.ADD), int(AluOp.SUB), int(AluOp.MUL), int(AluOp.OR), int(AluOp.AND),
                                  int(AluOp.XOR))
_FOLD_IMM = frozenset({_ADD, _SUB, _MUL, _OR, _AND, _LSH, _RSH})
"""the `rX op= imm` operations below BPF_NEG that bounds.py folds when both operands are constants (not DIV)"""
_U64, _U32 = (1 << 64) - 1, (1 << 32) - 1


def check_alu_op(env: Env, insn) -> None:
    code = insn.opcode
    op = code & 0xF0
    alu64 = code & 0x07 == _CLS_ALU64
    is_x = code & 0x08
    regs = env.regs
    if op != _MOV and op < _NEG and not is_x and not insn.src and not insn.off and insn.dst < 10:
        # fast path for the common `rX op= imm` on a scalar (same checks as below, in order)
        dst = regs[insn.dst]
        if dst.type == SCALAR_VALUE:
            env.scratched_regs |= 1 << insn.dst
            if op == _DIV and insn.imm == 0:
                raise Reject("div by zero", errno.EINVAL)
            if op in (_LSH, _RSH) and not 0 <= insn.imm < (64 if alu64 else 32):
                raise Reject(f"invalid shift {insn.imm}", errno.EINVAL)
            if not dst.var_off.mask and op in _FOLD_IMM:
                # a constant op= imm stays a constant: adjust_scalar_min_max_vals' folding, without the shared
                # source register (the shift amount was checked just above)
                a = dst.var_off.value
                if alu64:
                    b = insn.imm & _U64
                    v = (a + b if op == _ADD else a - b if op == _SUB else a * b if op == _MUL else a | b
                         if op == _OR else a & b if op == _AND else a << b if op == _LSH else a >> b) & _U64
                else:
                    a &= _U32
                    b = insn.imm & _U32
                    v = (a + b if op == _ADD else a - b if op == _SUB else a * b if op == _MUL else a | b
                         if op == _OR else a & b if op == _AND else a << b if op == _LSH else a >> b) & _U32
                mark_reg_known(dst, v)
                dst.id = 0
                return
            adjust_scalar_min_max_vals(op, dst, _const_reg(insn.imm), not alu64)
            dst.id = 0
            return
    elif is_x and not insn.imm and not insn.off and insn.src < 11 and insn.dst < 10:
        # fast paths for `rD = rS` and `rD op= rS` on initialised registers (the checks below pass, in order)
        src = regs[insn.src]
        if op == _MOV:
            if alu64 and src.type:
                env.scratched_regs |= (1 << insn.src) | (1 << insn.dst)
                if src.type == SCALAR_VALUE and not src.id and src.var_off.mask:
                    src.id = env.new_id()  # assign_scalar_id_before_mov
                regs[insn.dst].assign(src)
                return
        elif op < _NEG or op == _MOD or op == _XOR or op == _ARSH:
            dst = regs[insn.dst]
            if src.type == SCALAR_VALUE and dst.type == SCALAR_VALUE:
                env.scratched_regs |= (1 << insn.src) | (1 << insn.dst)
                if dst.precise:
                    mark_chain_precision(env, insn.src)  # a precise result needs a precise operand
                if src is dst:
                    src = src.copy()  # the kernel passes the source register by value
                adjust_scalar_min_max_vals(op, dst, src, not alu64)
                dst.id = 0
                return
    if op == _END or op == _NEG:
        if op == _NEG:
            if is_x or insn.src or insn.off or insn.imm:
                raise Reject("BPF_NEG uses reserved fields", errno.EINVAL)
        elif insn.src or insn.off or insn.imm not in (16, 32, 64) or (alu64 and is_x):
            raise Reject("BPF_END uses reserved fields", errno.EINVAL)
        dst = env.check_reg_arg(insn.dst, SRC_OP)
        if env.is_pointer_value(dst):
            raise Reject(f"R{insn.dst} pointer arithmetic prohibited")
        if op == AluOp.NEG and dst.type == SCALAR_VALUE:
            env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
            dst.id = 0
            adjust_scalar_min_max_vals(op, dst, dst, not alu64)
        elif dst.type == SCALAR_VALUE:  # BPF_END: bswap, or to_be on this little-endian host, swaps
            env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
            adjust_scalar_min_max_vals(op, dst, dst, not alu64, insn.imm, alu64 or bool(code & SOURCE_MASK))
        else:
            env.check_reg_arg(insn.dst, DST_OP)
        return
    if op == AluOp.MOV:
        if is_x:
            if not alu64:
                if insn.off not in (0, 8, 16) or insn.imm:
                    raise Reject("BPF_MOV uses reserved fields", errno.EINVAL)
            elif insn.off == 1:
                raise Reject("addr_space_cast insn can only be used in a program that has an associated arena",
                             errno.EINVAL)
            elif insn.off not in (0, 8, 16, 32) or insn.imm:
                raise Reject("BPF_MOV uses reserved fields", errno.EINVAL)
            env.check_reg_arg(insn.src, SRC_OP)
        elif insn.src or insn.off:
            raise Reject("BPF_MOV uses reserved fields", errno.EINVAL)
        dst = env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
        if is_x:
            src = regs[insn.src]
            if alu64:
                if insn.off == 0:
                    assign_scalar_id_before_mov(env, src)
                    dst.assign(src)
                else:
                    if env.is_pointer_value(src):
                        raise Reject(f"R{insn.src} sign-extension part of pointer")
                    if src.type == SCALAR_VALUE:
                        no_sext = src.umax < 1 << (insn.off - 1)
                        if no_sext:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not no_sext:
                            dst.id = 0
                        coerce_reg_to_size_sx(dst, insn.off >> 3)
                    else:
                        mark_reg_unknown(dst)
            else:
                if env.is_pointer_value(src):
                    raise Reject(f"R{insn.src} partial copy of pointer")
                if src.type == SCALAR_VALUE:
                    if insn.off == 0:
                        fits = src.umax.bit_length() <= 32
                        if fits:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not fits:
                            dst.id = 0
                    else:
                        no_sext = src.umax < 1 << (insn.off - 1)
                        if no_sext:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not no_sext:
                            dst.id = 0
                        coerce_subreg_to_size_sx(dst, insn.off >> 3)
                else:
                    mark_reg_unknown(dst)
                zext_32_to_64(dst)
                reg_bounds_sync(dst)
        else:
            mark_reg_unknown(dst)
            mark_reg_known(dst, insn.imm if alu64 else insn.imm & 0xFFFFFFFF)
        return
    if op > AluOp.END:
        raise Reject(f"invalid BPF_ALU opcode {op:x}", errno.EINVAL)
    divmod_ = op in (AluOp.DIV, AluOp.MOD)
    if is_x:
        if insn.imm or insn.off not in (0, 1) or (insn.off == 1 and not divmod_):
            raise Reject("BPF_ALU uses reserved fields", errno.EINVAL)
        env.check_reg_arg(insn.src, SRC_OP)
    elif insn.src or insn.off not in (0, 1) or (insn.off == 1 and not divmod_):
        raise Reject("BPF_ALU uses reserved fields", errno.EINVAL)
    env.check_reg_arg(insn.dst, SRC_OP)
    if divmod_ and not is_x and insn.imm == 0:
        raise Reject("div by zero", errno.EINVAL)
    if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and not is_x:
        if not 0 <= insn.imm < (64 if alu64 else 32):
            raise Reject(f"invalid shift {insn.imm}", errno.EINVAL)
    env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
    adjust_reg_min_max_vals(env, insn, op, alu64, is_x)


def adjust_reg_min_max_vals(env: Env, insn, op: int, alu64: bool, is_x: bool) -> None:
    regs = env.regs
    dst = regs[insn.dst]
    ptr_reg = dst if dst.type != SCALAR_VALUE else None
    if is_x:
        src = regs[insn.src]
        if src.type != SCALAR_VALUE:
            if dst.type != SCALAR_VALUE:
                if op == AluOp.SUB and env.allow_ptr_leaks:
                    mark_reg_unknown(dst)
                    return
                raise Reject(f"R{insn.dst} pointer {_ALU_STR[op]} pointer prohibited")
            mark_chain_precision(env, insn.dst)  # scalar += pointer: the offset must be exact
            adjust_ptr_min_max_vals(env, insn, op, alu64, src, dst, dst_is_off=True)
            return
        if ptr_reg is not None:
            mark_chain_precision(env, insn.src)  # pointer += scalar
            adjust_ptr_min_max_vals(env, insn, op, alu64, ptr_reg, src)
            return
        if dst.precise:
            mark_chain_precision(env, insn.src)  # a precise result needs a precise operand
    else:
        src = _const_reg(insn.imm)
        if ptr_reg is not None:
            adjust_ptr_min_max_vals(env, insn, op, alu64, ptr_reg, src)
            return
    if src is dst:
        src = src.copy()  # the kernel passes the source register by value
    adjust_scalar_min_max_vals(op, dst, src, not alu64)
    dst.id = 0


def check_reg_sane_offset(env: Env, reg: Reg, t: int) -> None:
    known = not reg.var_off.mask
    val = reg.var_off.value
    if val >> 63:
        val -= 1 << 64
    if known and (val >= BPF_MAX_VAR_OFF or val <= -BPF_MAX_VAR_OFF):
        raise Reject(f"math between {reg_type_str(t)} pointer and {val} is not allowed", errno.EINVAL)
    if reg.off >= BPF_MAX_VAR_OFF or reg.off <= -BPF_MAX_VAR_OFF:
        raise Reject(f"{reg_type_str(t)} pointer offset {reg.off} is not allowed", errno.EINVAL)
    if reg.smin == S64_MIN:
        raise Reject(f"math between {reg_type_str(t)} pointer and register with unbounded min value is not "
                     f"allowed", errno.EINVAL)
    if reg.smin >= BPF_MAX_VAR_OFF or reg.smin <= -BPF_MAX_VAR_OFF:
        raise Reject(f"value {reg.smin} makes {reg_type_str(t)} pointer be out of bounds", errno.EINVAL)


def _s32_ok(v: int) -> bool:
    return -(1 << 31) <= v < (1 << 31)


def adjust_ptr_min_max_vals(env: Env, insn, op: int, alu64: bool, ptr: Reg, off: Reg,
                            dst_is_off: bool = False) -> None:
    dst_regno = insn.dst
    dst = env.regs[dst_regno]
    off = off.copy()
    known = not off.var_off.mask
    smin_val, smax_val, umin_val, umax_val = off.smin, off.smax, off.umin, off.umax
    smin_ptr, smax_ptr, umin_ptr, umax_ptr = ptr.smin, ptr.smax, ptr.umin, ptr.umax
    if not alu64:
        if op == AluOp.SUB and env.allow_ptr_leaks:
            mark_reg_unknown(dst)
            return
        raise Reject(f"R{dst_regno} 32-bit pointer arithmetic prohibited")
    if ptr.type & PTR_MAYBE_NULL:
        raise Reject(f"R{dst_regno} pointer arithmetic on {reg_type_str(ptr.type)} prohibited, null-check it first")
    bt = base_type(ptr.type)
    if bt not in _PTR_ARITH_OK:
        ok = (bt == PTR_TO_FLOW_KEYS and known) or (bt == CONST_PTR_TO_MAP and known and smin_val == 0
                                                      and op == AluOp.ADD)
        if not ok:
            raise Reject(f"R{dst_regno} pointer arithmetic on {reg_type_str(ptr.type)} prohibited")
    check_reg_sane_offset(env, off, ptr.type)
    check_reg_sane_offset(env, ptr, ptr.type)
    if op in (AluOp.AND, AluOp.OR, AluOp.XOR):
        raise Reject(f"R{dst_regno} bitwise operator {_ALU_STR[op]} on pointer prohibited")
    if op not in (AluOp.ADD, AluOp.SUB):
        raise Reject(f"R{dst_regno} pointer arithmetic with {_ALU_STR[op]} operator prohibited")
    saved = ptr.copy()
    ptr = saved
    dst.type = ptr.type
    dst.id = ptr.id
    mark_reg32_unbounded(dst)
    if op == AluOp.ADD:
        if known and _s32_ok(ptr.off + smin_val):
            dst.smin, dst.smax, dst.umin, dst.umax = smin_ptr, smax_ptr, umin_ptr, umax_ptr
            dst.var_off = ptr.var_off
            dst.off = ptr.off + smin_val
            _copy_raw(dst, ptr)
        else:
            a, b = smin_ptr + smin_val, smax_ptr + smax_val
            if not (S64_MIN <= a <= S64_MAX and S64_MIN <= b <= S64_MAX):
                a, b = S64_MIN, S64_MAX
            dst.smin, dst.smax = a, b
            a, b = umin_ptr + umin_val, umax_ptr + umax_val
            if a > U64 or b > U64:
                a, b = 0, U64
            dst.umin, dst.umax = a, b
            dst.var_off = tnum_add(ptr.var_off, off.var_off)
            dst.off = ptr.off
            _copy_raw(dst, ptr)
            if type_is_pkt_pointer(ptr.type):
                dst.id = env.new_id()
                dst.range = 0
    else:
        if dst_is_off:
            raise Reject(f"R{dst_regno} tried to subtract pointer from scalar")
        if ptr.type == PTR_TO_STACK:
            raise Reject(f"R{dst_regno} subtraction from stack pointer prohibited")
        if known and _s32_ok(ptr.off - smin_val):
            dst.smin, dst.smax, dst.umin, dst.umax = smin_ptr, smax_ptr, umin_ptr, umax_ptr
            dst.var_off = ptr.var_off
            dst.id = ptr.id
            dst.off = ptr.off - smin_val
            _copy_raw(dst, ptr)
        else:
            a, b = smin_ptr - smax_val, smax_ptr - smin_val
            if not (S64_MIN <= a <= S64_MAX and S64_MIN <= b <= S64_MAX):
                a, b = S64_MIN, S64_MAX
            dst.smin, dst.smax = a, b
            if umin_ptr < umax_val:
                dst.umin, dst.umax = 0, U64
            else:
                dst.umin, dst.umax = umin_ptr - umax_val, umax_ptr - umin_val
            dst.var_off = tnum_sub(ptr.var_off, off.var_off)
            dst.off = ptr.off
            _copy_raw(dst, ptr)
            if type_is_pkt_pointer(ptr.type):
                dst.id = env.new_id()
                if smin_val < 0:
                    dst.range = 0
    check_reg_sane_offset(env, dst, ptr.type)
    reg_bounds_sync(dst)
    if not env.bypass_spec_v1:
        sanitize_check_bounds(env, dst_regno, dst)


def _copy_raw(dst: Reg, ptr: Reg) -> None:
    """The union 'raw' of bpf_reg_state: map pointer / packet range / mem size / stack frame."""
    dst.map = ptr.map
    dst.range = ptr.range
    dst.mem_size = ptr.mem_size
    dst.frameno = ptr.frameno
    dst.ref_obj_id = ptr.ref_obj_id
    dst.subprogno = ptr.subprogno


def sanitize_check_bounds(env: Env, regno: int, dst: Reg) -> None:
    """Unprivileged pointer arithmetic must stay inside the object (sanitize_check_bounds)."""
    if dst.type == PTR_TO_STACK:
        if dst.var_off.mask:
            raise Reject(f"R{regno} variable stack access prohibited for !root, var_off="
                         f"({dst.var_off.value:#x}; {dst.var_off.mask:#x}) off={dst.off}")
        off = dst.off + (dst.var_off.value if dst.var_off.value < 1 << 63 else dst.var_off.value - (1 << 64))
        if off >= 0 or off < -512:
            raise Reject(f"R{regno} stack pointer arithmetic goes out of range, prohibited for !root; off={off}")
    elif dst.type == PTR_TO_MAP_VALUE:
        vs = dst.map.value_size if dst.map else 0
        if dst.smin + dst.off < 0 or dst.umax + dst.off > vs:
            raise Reject(f"R{regno} pointer arithmetic of map value goes out of range, prohibited for !root")
