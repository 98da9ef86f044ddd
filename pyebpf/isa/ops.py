"""Instruction constructors: one small function per instruction form, in the style of cilium/ebpf's `asm` package.

Every front end (the Builder, both assemblers, the Python-probe compiler) makes instructions here, so the opcode
byte of each form is composed in exactly one place from the `abi.opcodes` enums. Registers are plain ints (an
`abi.opcodes.Reg` member works too). An operand is a register when `src=` is given and the immediate `imm` otherwise,
as the kernel's BPF_X / BPF_K source bit says.

The constructors do not range-check numbers: each caller reports an out-of-range value in its own terms (line:col for
the assemblers, a BuildError for the builder), and `Instruction.encode` names any field that still does not fit.
Names (ALU and jump operators, access sizes, helpers, atomic operations) are resolved here and an unknown name is an
`OpsError`.
"""
from __future__ import annotations

from typing import Any

from pyebpf.abi.helpers import HELPER_BY_NAME, HelperId
from pyebpf.abi.opcodes import (
    ATOMIC_FETCH, BPF_ADDR_PERCPU, BPF_ADDR_SPACE_CAST, BYTES_SIZE, OP_CALL, OP_CALLX, OP_EXIT, OP_JA, OP_JA32,
    OP_LD_IMM64, OP_MAY_GOTO, SIGNED_DIVMOD_OFF, AluOp, AtomicOp, CallSrc, EndSource, InsnClass, JmpOp, Mode,
    PseudoSrc, Size, Source,
)
from pyebpf.errors import BuildError
from pyebpf.isa.instruction import Instruction

#: Instructions of the hot constructors are made with tuple.__new__ (all six fields given): NamedTuple's own
#: __new__ is a Python function, a third of the cost of a short constructor.
_new = tuple.__new__

class OpsError(BuildError, ValueError):
    """An instruction constructor was given a name or form that does not exist (unknown operator, size, helper)."""


# ---- names ------------------------------------------------------------------------------------------------------

_ALU_NAMES: dict[str, AluOp] = {op.name.lower(): op for op in AluOp}
_ALU_NAMES.update({"+": AluOp.ADD, "-": AluOp.SUB, "*": AluOp.MUL, "/": AluOp.DIV, "|": AluOp.OR, "&": AluOp.AND,
                   "<<": AluOp.LSH, ">>": AluOp.RSH, "%": AluOp.MOD, "^": AluOp.XOR, "=": AluOp.MOV,
                   "s>>": AluOp.ARSH})
_JMP_NAMES: dict[str, JmpOp] = {op.name.lower(): op for op in JmpOp}
_JMP_NAMES.update({"==": JmpOp.JEQ, "!=": JmpOp.JNE, ">": JmpOp.JGT, ">=": JmpOp.JGE, "<": JmpOp.JLT,
                   "<=": JmpOp.JLE, "&": JmpOp.JSET, "s>": JmpOp.JSGT, "s>=": JmpOp.JSGE, "s<": JmpOp.JSLT,
                   "s<=": JmpOp.JSLE})
_SIZE_NAMES: dict[str, Size] = {"u8": Size.B, "u16": Size.H, "u32": Size.W, "u64": Size.DW,
                                "s8": Size.B, "s16": Size.H, "s32": Size.W,
                                "b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
_ATOMIC_NAMES: dict[str, AtomicOp] = {op.name.lower(): op for op in AtomicOp}


def _by_name(enum: type, names: dict, op: Any, what: str) -> Any:
    """An `enum` member from itself, a name in `names` (case-insensitive) or its number; OpsError naming `what`."""
    if op.__class__ is enum:  # the common case, first: assemblers pass enum members
        return op
    if isinstance(op, str):
        found = names.get(op.lower())
        if found is None:
            raise OpsError(f"unknown {what} {op!r}")
        return found
    try:
        return enum(op)
    except ValueError:
        raise OpsError(f"unknown {what} {op!r}") from None


def alu_op(op: "AluOp | str | int") -> AluOp:
    """An AluOp from the enum, its name ("add", "ARSH") or its C operator ("+", "s>>")."""
    return _by_name(AluOp, _ALU_NAMES, op, "ALU operation")


def jmp_op(op: "JmpOp | str | int") -> JmpOp:
    """A JmpOp from the enum, its name ("jeq", "JSGT") or its operator ("==", "s>")."""
    return _by_name(JmpOp, _JMP_NAMES, op, "jump condition")


def size_of(size: "Size | str | int") -> Size:
    """A Size from the enum, a C type name ("u32", "s16"), a letter ("w", "dw") or a byte count (1, 2, 4, 8)."""
    if size.__class__ is Size:
        return size  # type: ignore[return-value]
    if isinstance(size, str):
        found = _SIZE_NAMES.get(size.lower())
    else:
        found = BYTES_SIZE.get(size)
    if found is None:
        raise OpsError(f"unknown access size {size!r} (u8/u16/u32/u64, 1/2/4/8)")
    return found


def atomic_op(op: "AtomicOp | str | int") -> AtomicOp:
    """An AtomicOp from the enum or its name ("add", "fetch_or", "xchg", "cmpxchg")."""
    return _by_name(AtomicOp, _ATOMIC_NAMES, op, "atomic operation")


def helper_id(helper: "HelperId | str | int") -> int:
    """The call immediate of a helper given as HelperId, number or name ("map_lookup_elem", "bpf_trace_printk")."""
    if isinstance(helper, str):
        found = HELPER_BY_NAME.get(helper) or HELPER_BY_NAME.get(helper.lower())
        if found is None:
            raise OpsError(f"unknown helper {helper!r}")
        return int(found)
    return int(helper)


# ---- ALU --------------------------------------------------------------------------------------------------------

def _alu(cls: int, op: "AluOp | str | int", dst: int, src: int | None, imm: int, off: int) -> Instruction:
    code = alu_op(op)
    if src is None:
        return _new(Instruction, (cls | code | Source.K, dst, 0, off, imm, None))
    return _new(Instruction, (cls | code | Source.X, dst, src, off, 0, None))


def alu(op: "AluOp | str", dst: int, src: int | None = None, imm: int = 0, *, signed: bool = False) -> Instruction:
    """64-bit `dst op= src` (src given) or `dst op= imm`; signed=True makes DIV/MOD sdiv/smod (cpu v4)."""
    return _alu(InsnClass.ALU64, op, dst, src, imm, SIGNED_DIVMOD_OFF if signed else 0)


def alu32(op: "AluOp | str", dst: int, src: int | None = None, imm: int = 0, *, signed: bool = False) -> Instruction:
    """32-bit `wdst op= wsrc` / `wdst op= imm` (the upper half of dst is zeroed)."""
    return _alu(InsnClass.ALU, op, dst, src, imm, SIGNED_DIVMOD_OFF if signed else 0)


def mov(dst: int, src: int | None = None, imm: int = 0) -> Instruction:
    """`dst = src` or `dst = imm` (imm sign-extended to 64 bits)."""
    return _alu(InsnClass.ALU64, AluOp.MOV, dst, src, imm, 0)


def mov32(dst: int, src: int | None = None, imm: int = 0) -> Instruction:
    """`wdst = wsrc` or `wdst = imm` (zero-extended)."""
    return _alu(InsnClass.ALU, AluOp.MOV, dst, src, imm, 0)


def movsx(dst: int, src: int, bits: int) -> Instruction:
    """`dst = (sN)src`: sign-extend the low 8, 16 or 32 bits of src to 64 (cpu v4)."""
    return Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, bits, 0)


def movsx32(dst: int, src: int, bits: int) -> Instruction:
    """`wdst = (sN)wsrc`: sign-extend the low 8 or 16 bits of src to 32 (cpu v4)."""
    return Instruction(InsnClass.ALU | AluOp.MOV | Source.X, dst, src, bits, 0)


def neg(dst: int) -> Instruction:
    """`dst = -dst`."""
    return Instruction(InsnClass.ALU64 | AluOp.NEG, dst)


def neg32(dst: int) -> Instruction:
    """`wdst = -wdst`."""
    return Instruction(InsnClass.ALU | AluOp.NEG, dst)


def endian(dst: int, bits: int, big: bool) -> Instruction:
    """`dst = be16/32/64 dst` (big=True) or `le16/32/64`: convert from host order (ALU class BPF_END)."""
    return Instruction(InsnClass.ALU | AluOp.END | (EndSource.TO_BE if big else EndSource.TO_LE), dst, 0, 0, bits)


def to_be(dst: int, bits: int) -> Instruction:
    return endian(dst, bits, True)


def to_le(dst: int, bits: int) -> Instruction:
    return endian(dst, bits, False)


def bswap(dst: int, bits: int) -> Instruction:
    """Unconditional byte swap of the low 16/32/64 bits (cpu v4: ALU64 | BPF_END | BPF_TO_LE)."""
    return Instruction(InsnClass.ALU64 | AluOp.END | EndSource.TO_LE, dst, 0, 0, bits)


def addr_space_cast(dst: int, src: int, dst_as: int, src_as: int) -> Instruction:
    """`dst = addr_space_cast(src, dst_as, src_as)` (arena pointers): imm holds dst_as << 16 | src_as."""
    return Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, BPF_ADDR_SPACE_CAST,
                       (dst_as << 16) | src_as)


def addr_percpu(dst: int, src: int) -> Instruction:
    """`dst = &(void __percpu *)(src)`: the verifier's internal per-CPU address move, as xlated dumps show it."""
    return Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, BPF_ADDR_PERCPU, 0)


# ---- 64-bit immediates ------------------------------------------------------------------------------------------

def lddw(dst: int, value: int, src: "PseudoSrc | int" = PseudoSrc.IMM, ref: str | None = None) -> Instruction:
    """`dst = value ll` (BPF_LD | BPF_IMM | BPF_DW, two slots); `src` says what the value means (PseudoSrc)."""
    return _new(Instruction, (OP_LD_IMM64, dst, src, 0, value, ref))


def ld_map_fd(dst: int, fd: int = 0, ref: str | None = None) -> Instruction:
    """`dst = map` (BPF_PSEUDO_MAP_FD); `ref` names the map until a loader patches in its fd."""
    return Instruction(OP_LD_IMM64, dst, PseudoSrc.MAP_FD, 0, fd, ref)


def ld_map_value(dst: int, fd: int = 0, offset: int = 0, ref: str | None = None) -> Instruction:
    """`dst = &map_value[offset]` (BPF_PSEUDO_MAP_VALUE): fd in the low 32 bits, the offset in the high 32."""
    return Instruction(OP_LD_IMM64, dst, PseudoSrc.MAP_VALUE, 0, ((offset & 0xFFFFFFFF) << 32) | (fd & 0xFFFFFFFF),
                       ref)


def ld_func(dst: int, offset: int = 0, ref: str | None = None) -> Instruction:
    """`dst = &subprogram` (BPF_PSEUDO_FUNC): imm is the relative slot offset of the function (callbacks)."""
    return Instruction(OP_LD_IMM64, dst, PseudoSrc.FUNC, 0, offset, ref)


def ld_btf_id(dst: int, btf_id: int, ref: str | None = None) -> Instruction:
    """`dst = &ksym` (BPF_PSEUDO_BTF_ID): the address of a kernel variable named by BTF id."""
    return Instruction(OP_LD_IMM64, dst, PseudoSrc.BTF_ID, 0, btf_id, ref)


# ---- memory -----------------------------------------------------------------------------------------------------

def ldx(size: "Size | str | int", dst: int, src: int, off: int = 0, *, signed: bool = False) -> Instruction:
    """`dst = *(size *)(src + off)`; signed=True (or a signed size name "s8"/"s16"/"s32") sign-extends (MEMSX)."""
    if isinstance(size, str) and size[:1] in ("s", "S"):
        signed = True
    return _new(Instruction, (InsnClass.LDX | (Mode.MEMSX if signed else Mode.MEM) | size_of(size), dst, src, off, 0,
                              None))


def ldxsx(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`dst = *(sN *)(src + off)`: sign-extending load (cpu v4)."""
    return ldx(size, dst, src, off, signed=True)


def st(size: "Size | str | int", dst: int, off: int, imm: int) -> Instruction:
    """`*(size *)(dst + off) = imm` (BPF_ST)."""
    return _new(Instruction, (InsnClass.ST | Mode.MEM | size_of(size), dst, 0, off, imm, None))


def stx(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`*(size *)(dst + off) = src` (BPF_STX)."""
    return _new(Instruction, (InsnClass.STX | Mode.MEM | size_of(size), dst, src, off, 0, None))


def atomic(op: "AtomicOp | str | int", size: "Size | str | int", dst: int, src: int, off: int = 0, *,
           fetch: bool = False) -> Instruction:
    """BPF_STX | BPF_ATOMIC at `dst + off` with operand `src`; fetch=True adds BPF_FETCH (src gets the old value).

    `op` is add/or/and/xor (with fetch), or fetch_add..., xchg, cmpxchg, load_acq, store_rel."""
    code = int(atomic_op(op)) | (ATOMIC_FETCH if fetch else 0)
    return Instruction(InsnClass.STX | Mode.ATOMIC | size_of(size), dst, src, off, code)


def xchg(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`src = xchg(dst + off, src)`."""
    return atomic(AtomicOp.XCHG, size, dst, src, off)


def cmpxchg(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`r0 = cmpxchg(dst + off, r0, src)`."""
    return atomic(AtomicOp.CMPXCHG, size, dst, src, off)


def load_acquire(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`dst = load_acquire((size *)(src + off))`."""
    return Instruction(InsnClass.STX | Mode.ATOMIC | size_of(size), dst, src, off, AtomicOp.LOAD_ACQ)


def store_release(size: "Size | str | int", dst: int, src: int, off: int = 0) -> Instruction:
    """`store_release((size *)(dst + off), src)`."""
    return Instruction(InsnClass.STX | Mode.ATOMIC | size_of(size), dst, src, off, AtomicOp.STORE_REL)


def ld_abs(size: "Size | str | int", imm: int) -> Instruction:
    """Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))` (socket filters; u8/u16/u32)."""
    return Instruction(InsnClass.LD | Mode.ABS | size_of(size), 0, 0, 0, imm)


def ld_ind(size: "Size | str | int", src: int, imm: int = 0) -> Instruction:
    """Legacy packet load `r0 = ntoh(*(size *)(skb->data + src + imm))`."""
    return Instruction(InsnClass.LD | Mode.IND | size_of(size), 0, src, 0, imm)


# ---- control flow -----------------------------------------------------------------------------------------------

def _jmp(cls: int, cond: "JmpOp | str | int", dst: int, src: int | None, imm: int, off: int,
         ref: str | None) -> Instruction:
    code = jmp_op(cond)
    if src is None:
        return _new(Instruction, (cls | code | Source.K, dst, 0, off, imm, ref))
    return _new(Instruction, (cls | code | Source.X, dst, src, off, 0, ref))


def jmp(cond: "JmpOp | str", dst: int, src: int | None = None, imm: int = 0, off: int = 0,
        ref: str | None = None) -> Instruction:
    """`if dst cond src/imm goto +off` on 64-bit registers; `ref` names the target label until it is resolved."""
    return _jmp(InsnClass.JMP, cond, dst, src, imm, off, ref)


def jmp32(cond: "JmpOp | str", dst: int, src: int | None = None, imm: int = 0, off: int = 0,
          ref: str | None = None) -> Instruction:
    """`if wdst cond wsrc/imm goto +off` on the 32-bit sub-registers."""
    return _jmp(InsnClass.JMP32, cond, dst, src, imm, off, ref)


def ja(off: int = 0, ref: str | None = None) -> Instruction:
    """`goto +off`."""
    return Instruction(OP_JA, 0, 0, off, 0, ref)


def gotol(imm: int = 0, ref: str | None = None) -> Instruction:
    """`gotol +imm`: the long jump of cpu v4 (JMP32 | JA, offset in imm)."""
    return Instruction(OP_JA32, 0, 0, 0, imm, ref)


def may_goto(off: int = 0, ref: str | None = None) -> Instruction:
    """`may_goto +off` (BPF_JCOND): the verifier-bounded loop exit."""
    return Instruction(OP_MAY_GOTO, 0, 0, off, 0, ref)


def call(helper: "HelperId | str | int") -> Instruction:
    """`call helper` by HelperId, number or name."""
    return Instruction(OP_CALL, 0, CallSrc.HELPER, 0, helper_id(helper))


def call_local(offset: int = 0, ref: str | None = None) -> Instruction:
    """bpf-to-bpf call `call pc+offset` (BPF_PSEUDO_CALL); `ref` names the function until it is resolved."""
    return Instruction(OP_CALL, 0, CallSrc.PSEUDO_CALL, 0, offset, ref)


def kfunc_call(btf_id: int = 0, module: int = 0, ref: str | None = None) -> Instruction:
    """Call a kernel function by BTF id (BPF_PSEUDO_KFUNC_CALL); `module` is the fd_array index of a module's BTF."""
    return Instruction(OP_CALL, 0, CallSrc.KFUNC, module, btf_id, ref)


def callx(reg: int) -> Instruction:
    """`callx reg` (RFC 9669 indirect call, target register in dst as LLVM encodes it; Linux refuses it)."""
    return Instruction(OP_CALLX, reg, 0, 0, 0)


def exit() -> Instruction:  # noqa: A001 - the instruction's name; shadows the builtin only inside this module
    """`exit`: return r0."""
    return _EXIT


_EXIT = Instruction(OP_EXIT)

__all__ = [
    "OpsError", "alu_op", "jmp_op", "size_of", "atomic_op", "helper_id",
    "alu", "alu32", "mov", "mov32", "movsx", "movsx32", "neg", "neg32", "endian", "to_be", "to_le", "bswap",
    "addr_space_cast", "addr_percpu", "lddw", "ld_map_fd", "ld_map_value", "ld_func", "ld_btf_id",
    "ldx", "ldxsx", "st", "stx", "atomic", "xchg", "cmpxchg", "load_acquire", "store_release",
    "ld_abs", "ld_ind", "jmp", "jmp32", "ja", "gotol", "may_goto", "call", "call_local", "kfunc_call", "callx",
    "exit",
]
