"""The LLVM / kernel dialect: `r0 = *(u32 *)(r1 + 4)`, `if w1 s< 5 goto +2`, `lock *(u64 *)(r10 - 8) += r1`.

One parser reads what LLVM 14..20 prints (llvm-objdump, `clang -S`), cpu v4 included, and what the kernel's
verifier log prints (kernel/bpf/disasm.c: `(r10 -8)`, `goto pc+3`, `call bpf_map_lookup_elem#1`,
`r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)`, `r0 = *(u8 *)skb[r1 + 14]`). A line is split into tokens by one
precompiled regex; the first token (or, for `rX ...`, the operator after it) picks the handler from a table, so
no line is tried against a cascade of patterns. Token positions are computed only when something must be located
(an error or a symbolic name).
"""
from __future__ import annotations

import re
from typing import Callable

from pyebpf.abi.opcodes import AluOp, AtomicOp, JmpOp, PseudoSrc, Size
from pyebpf.isa import ops
from pyebpf.isa.asm_syntax import (
    ATOMIC_FETCH_OPS, MEM_TYPES, REGISTERS, Fixup, FixupKind, LineError, imm32, imm64, off16, parse_int,
    show_number,
)
from pyebpf.isa.instruction import Instruction

#: One token (group 1) after the blanks before it: skipping them in one step is cheaper than failing every
#: alternative at each blank. The alternatives start with different characters, except `s>=` before the name `s`.
_TOKEN = re.compile(
    r"\s*(s(?:>>=|>=|<=|/=|%=|>|<)|[A-Za-z_.$][\w.$]*|0[xX][0-9a-fA-F]+|\d+|<<=|>>=|[-+*/%|&^!=<>]=|\S)")
_BAD_REG = re.compile(r"[rwR]\d+$")
_NAME = re.compile(r"[A-Za-z_.$][\w.$]*$")

#: A pending symbolic reference inside the token list: (kind, name, token index, number).
FixSpec = tuple[FixupKind, str, int, "int | None"]
Result = tuple[Instruction, "FixSpec | None"]

#: operator -> (ALU op, signed: sdiv/smod of cpu v4)
_ALU_ASSIGN: dict[str, tuple[AluOp, bool]] = {
    "+=": (AluOp.ADD, False), "-=": (AluOp.SUB, False), "*=": (AluOp.MUL, False), "/=": (AluOp.DIV, False),
    "|=": (AluOp.OR, False), "&=": (AluOp.AND, False), "<<=": (AluOp.LSH, False), ">>=": (AluOp.RSH, False),
    "%=": (AluOp.MOD, False), "^=": (AluOp.XOR, False), "s>>=": (AluOp.ARSH, False),
    "s/=": (AluOp.DIV, True), "s%=": (AluOp.MOD, True),
}
_JMP_CMP: dict[str, JmpOp] = {
    "==": JmpOp.JEQ, "!=": JmpOp.JNE, ">": JmpOp.JGT, ">=": JmpOp.JGE, "<": JmpOp.JLT, "<=": JmpOp.JLE,
    "s>": JmpOp.JSGT, "s>=": JmpOp.JSGE, "s<": JmpOp.JSLT, "s<=": JmpOp.JSLE, "&": JmpOp.JSET,
}
_ATOMIC_ASSIGN: dict[str, AtomicOp] = {"+=": AtomicOp.ADD, "|=": AtomicOp.OR, "&=": AtomicOp.AND,
                                       "^=": AtomicOp.XOR}
_END_OPS: dict[str, tuple[Callable[[int, int], Instruction], int]] = {}
for _bits in (16, 32, 64):
    _END_OPS[f"be{_bits}"] = (ops.to_be, _bits)
    _END_OPS[f"le{_bits}"] = (ops.to_le, _bits)
    _END_OPS[f"bswap{_bits}"] = (ops.bswap, _bits)
_MOVSX = {"s8": 8, "s16": 16, "s32": 32}

#: `r2 = atomic_fetch_add(...)` (LLVM), `atomic64_fetch_add` (kernel, 64-bit) -> op.
_FETCH_NAMES: dict[str, AtomicOp] = {}
for _name, _op in ATOMIC_FETCH_OPS.items():
    _FETCH_NAMES[f"atomic_fetch_{_name}"] = _op
    _FETCH_NAMES[f"atomic64_fetch_{_name}"] = _op
#: name -> (atomic op, size implied by the name or None when the `(uNN *)` cast gives it)
_XCHG_NAMES: dict[str, tuple[AtomicOp, "Size | None"]] = {
    "xchg_64": (AtomicOp.XCHG, Size.DW), "xchg32_32": (AtomicOp.XCHG, Size.W),
    "atomic_xchg": (AtomicOp.XCHG, None), "atomic64_xchg": (AtomicOp.XCHG, None),
    "cmpxchg_64": (AtomicOp.CMPXCHG, Size.DW), "cmpxchg32_32": (AtomicOp.CMPXCHG, Size.W),
    "atomic_cmpxchg": (AtomicOp.CMPXCHG, None), "atomic64_cmpxchg": (AtomicOp.CMPXCHG, None),
}


# ---- token helpers ----------------------------------------------------------------------------------------------

def _expect(toks: list[str], i: int, text: str) -> int:
    # Reading past the last token raises IndexError, which parse_llvm reports as "unexpected end".
    if toks[i] != text:
        raise LineError(f"expected '{text}', got '{toks[i]}'", token=i)
    return i + 1


def _reg(toks: list[str], i: int) -> tuple[int, bool]:
    t = toks[i]
    r = REGISTERS.get(t)
    if r is None:
        if _BAD_REG.match(t):
            raise LineError(f"invalid register {t} (registers are r0..r10)", token=i)
        raise LineError(f"expected a register, got '{t}'", token=i)
    return r


def _is_reg(t: str) -> bool:
    return t in REGISTERS or bool(_BAD_REG.match(t))


def _number(toks: list[str], i: int) -> tuple[int, int]:
    """An integer with an optional sign token; returns (value, next index)."""
    t = toks[i]
    neg = False
    j = i
    if t in ("-", "+"):
        neg = t == "-"
        j += 1
        t = toks[j]
    value = parse_int(t)
    if value is None:
        raise LineError(f"expected a number, got '{t}'", token=j)
    return (-value if neg else value), j + 1


def _imm32(toks: list[str], i: int) -> tuple[int, int]:
    value, j = _number(toks, i)
    v = imm32(value)
    if v is None:
        raise LineError(f"immediate {show_number(value)} out of 32-bit range", token=j - 1)
    return v, j


def _end(toks: list[str], i: int) -> None:
    if i < len(toks):
        raise LineError(f"unexpected '{toks[i]}'", token=i)


def _mem(toks: list[str], i: int) -> tuple[int, int, int]:
    """`rN`, `rN + off`, `rN - off` or `rN -off` up to (not including) the closing parenthesis."""
    reg, is32 = _reg(toks, i)
    if is32:
        raise LineError(f"a memory address takes a 64-bit register (r{reg}), not w{reg}", token=i)
    j = i + 1
    t = toks[j]
    if t not in ("+", "-"):
        return reg, 0, j
    value, k = _number(toks, j + 1)
    if t == "-":
        value = -value
    off = off16(value)
    if off is None:
        raise LineError(f"offset {show_number(value)} out of 16-bit range", token=k - 1)
    return reg, off, k


def _typed(toks: list[str], i: int) -> tuple[Size, bool, int]:
    """`(u32 *)`: returns (size, sign-extending, next index)."""
    i = _expect(toks, i, "(")
    t = toks[i]
    kind = MEM_TYPES.get(t)
    if kind is None:
        raise LineError(f"expected a memory type (u8, u16, u32, u64, s8, s16, s32), got '{t}'", token=i)
    i = _expect(toks, i + 1, "*")
    i = _expect(toks, i, ")")
    return kind[0], kind[1], i


def _paren_mem(toks: list[str], i: int) -> tuple[int, int, int]:
    i = _expect(toks, i, "(")
    reg, off, i = _mem(toks, i)
    return reg, off, _expect(toks, i, ")")


def _target(toks: list[str], i: int, bits: int) -> tuple[int, "FixSpec | None", int]:
    """`+N`, `-N`, `N`, `pc+N` (kernel) or a label; an llvm-objdump `<LBB0_2>` annotation after it is skipped."""
    t = toks[i]
    fix: FixSpec | None = None
    if t == "pc" and i + 1 < len(toks) and toks[i + 1] in ("+", "-"):
        i += 1
        t = toks[i]
    if t in ("+", "-") or t[0].isdigit():
        value, j = _number(toks, i)
        if bits == 16:
            if off16(value) is None:
                raise LineError(f"jump offset {show_number(value)} out of 16-bit range", token=j - 1)
        elif not -(1 << 31) <= value < (1 << 31):
            raise LineError(f"jump offset {show_number(value)} out of 32-bit range", token=j - 1)
    elif _NAME.match(t):
        value, j = 0, i + 1
        fix = (FixupKind.LABEL_OFF if bits == 16 else FixupKind.LABEL_IMM, t, i, None)
    else:
        raise LineError(f"expected a jump target (+N, -N or a label), got '{t}'", token=i)
    if j < len(toks) and toks[j] == "<":  # llvm-objdump: `goto +3 <LBB0_3>`
        while j < len(toks) and toks[j] != ">":
            j += 1
        j += 1
    return value, fix, j


# ---- instruction handlers ------------------------------------------------------------------------------------

def _if(toks: list[str], kernel: bool) -> Result:
    dst, d32 = _reg(toks, 1)
    cmp = toks[2]
    op = _JMP_CMP.get(cmp)
    if op is None:
        raise LineError(f"expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), got '{cmp}'", token=2)
    t = toks[3]
    src: int | None
    if _is_reg(t):
        src, s32 = _reg(toks, 3)
        if s32 != d32:
            raise LineError("mixed 32-bit and 64-bit registers in a comparison", token=3)
        imm, j = 0, 4
    else:
        src = None
        imm, j = _imm32(toks, 3)
    j = _expect(toks, j, "goto")
    off, fix, j = _target(toks, j, 16)
    _end(toks, j)
    return (ops.jmp32 if d32 else ops.jmp)(op, dst, src, imm, off), fix


def _goto(toks: list[str], kernel: bool) -> Result:
    head = toks[0]
    if head == "gotol":
        value, fix, j = _target(toks, 1, 32)
        _end(toks, j)
        return ops.gotol(value), fix
    value, fix, j = _target(toks, 1, 16)
    _end(toks, j)
    return (ops.may_goto if head == "may_goto" else ops.ja)(value), fix


def _exit(toks: list[str], kernel: bool) -> Result:
    _end(toks, 1)
    return ops.exit(), None


def _callx(toks: list[str], kernel: bool) -> Result:
    reg, _ = _reg(toks, 1)
    _end(toks, 2)
    return ops.callx(reg), None


def _call(toks: list[str], kernel: bool) -> Result:
    t = toks[1]
    if _is_reg(t):  # kernel's spelling of callx
        return _callx(toks, kernel)
    if t == "pc" and len(toks) > 2 and toks[2] in ("+", "-"):
        value, _, j = _target(toks, 1, 32)
        _end(toks, j)
        return ops.call_local(value), None
    if t == "local" and len(toks) > 2:
        value, fix, j = _target(toks, 2, 32)
        _end(toks, j)
        return ops.call_local(value), fix
    if t in ("kfunc", "runtime") and len(toks) > 2:
        n = toks[2]
        if _NAME.match(n):
            _end(toks, 3)
            return ops.kfunc_call(0), (FixupKind.CALL_NAME, n, 2, -1)
        imm, j = _imm32(toks, 2)
        _end(toks, j)
        return ops.kfunc_call(imm), None
    if t == "kernel" and toks[2:4] == ["-", "function"]:
        return _call_unnamed_kfunc(toks)
    if t in ("local", "helper", "runtime", "kfunc") and len(toks) == 2:
        raise LineError(f"'call {t}' needs a target", token=1)
    start = 2 if t == "helper" and len(toks) > 2 else 1
    t = toks[start]
    if t in ("-", "+") or t[0].isdigit():
        imm, j = _imm32(toks, start)
        _end(toks, j)
        return ops.call(imm), None
    if not _NAME.match(t):
        raise LineError(f"expected a helper, function or kfunc after 'call', got '{t}'", token=start)
    number = None
    j = start + 1
    if j < len(toks) and toks[j] == "#":  # kernel: `call bpf_map_lookup_elem#1`
        number, j = _imm32(toks, j + 1)
    _end(toks, j)
    return ops.call(number or 0), (FixupKind.CALL_NAME, t, start, number)


def _call_unnamed_kfunc(toks: list[str]) -> Result:
    """The kernel's `call kernel-function#N`: a kfunc call the verifier could not name from BTF
    (__func_get_name's fallback); N is the BTF id in imm."""
    if len(toks) < 6 or toks[4] != "#":
        raise LineError("expected the kfunc's BTF id: call kernel-function#N", token=min(4, len(toks)))
    imm, j = _imm32(toks, 5)
    _end(toks, j)
    return ops.kfunc_call(imm), None


def _lock(toks: list[str], kernel: bool) -> Result:
    i = _expect(toks, 1, "*")
    size, signed, i = _typed(toks, i)
    if signed or size not in (Size.W, Size.DW):
        raise LineError("atomic operations take u32 or u64", token=3)
    dst, off, i = _paren_mem(toks, i)
    t = toks[i]
    op = _ATOMIC_ASSIGN.get(t)
    if op is None:
        raise LineError(f"expected an atomic operator (+=, |=, &=, ^=), got '{t}'", token=i)
    src, s32 = _reg(toks, i + 1)
    if s32 and size == Size.DW:
        raise LineError(f"a 64-bit atomic operation takes r{src}, not w{src}", token=i + 1)
    _end(toks, i + 2)
    return ops.atomic(op, size, dst, src, off), None


def _store(toks: list[str], kernel: bool) -> Result:
    size, signed, i = _typed(toks, 1)
    if signed:
        raise LineError("stores take an unsigned type (u8, u16, u32, u64)", token=2)
    dst, off, i = _paren_mem(toks, i)
    i = _expect(toks, i, "=")
    t = toks[i]
    if _is_reg(t):
        src, s32 = _reg(toks, i)
        if s32 and size == Size.DW:
            raise LineError(f"a 64-bit store takes r{src}, not w{src}", token=i)
        _end(toks, i + 1)
        return ops.stx(size, dst, src, off), None
    imm, j = _imm32(toks, i)
    _end(toks, j)
    return ops.st(size, dst, off, imm), None


def _store_release(toks: list[str], kernel: bool) -> Result:
    i = _expect(toks, 1, "(")
    size, signed, i = _typed(toks, i)
    if signed:
        raise LineError("store_release takes an unsigned type", token=3)
    dst, off, i = _paren_mem(toks, i)
    i = _expect(toks, i, ",")
    src, _ = _reg(toks, i)
    i = _expect(toks, i + 1, ")")
    _end(toks, i)
    return ops.store_release(size, dst, src, off), None


def _ld_pseudo(toks: list[str], kernel: bool) -> Result:
    """LLVM's `ld_pseudo r1, 2, 3`: lddw with an explicit pseudo source."""
    dst, d32 = _reg(toks, 1)
    i = _expect(toks, 2, ",")
    src, i = _number(toks, i)
    if src not in PseudoSrc._value2member_map_:
        raise LineError(f"unknown lddw pseudo source {show_number(src)}", token=i - 1)
    i = _expect(toks, i, ",")
    value, j = _number(toks, i)
    v = imm64(value)
    if v is None:
        raise LineError(f"immediate {show_number(value)} out of 64-bit range", token=j - 1)
    _end(toks, j)
    return ops.lddw(dst, v, src), None


def _alu_op(toks: list[str], kernel: bool) -> Result:
    dst, d32 = _reg(toks, 0)
    op, signed = _ALU_ASSIGN[toks[1]]
    make = ops.alu32 if d32 else ops.alu
    t = toks[2]
    if _is_reg(t):
        src, s32 = _reg(toks, 2)
        if s32 != d32:
            raise LineError("mixed 32-bit and 64-bit registers", token=2)
        _end(toks, 3)
        return make(op, dst, src, signed=signed), None
    imm, j = _imm32(toks, 2)
    _end(toks, j)
    return make(op, dst, imm=imm, signed=signed), None


def _assign(toks: list[str], kernel: bool) -> Result:
    """`rX = ...`: mov, neg, movsx, loads, byte swaps, lddw forms, fetching atomics."""
    dst, d32 = _reg(toks, 0)
    t = toks[2]
    handler = _RHS.get(t)
    if handler is not None:
        return handler(toks, dst, d32, kernel)
    if _is_reg(t):
        src, s32 = _reg(toks, 2)
        if s32 != d32:
            raise LineError("mixed 32-bit and 64-bit registers", token=2)
        _end(toks, 3)
        return (ops.mov32 if d32 else ops.mov)(dst, src), None
    if t[0].isdigit():
        return _mov_imm(toks, dst, d32, kernel)
    if _NAME.match(t):
        return _func_ref(toks, 2, dst, d32, t)
    raise LineError(f"unexpected '{t}'", token=2)


def _mov_imm(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    value, j = _number(toks, 2)
    wide = j < len(toks) and toks[j] == "ll"
    if wide:
        _end(toks, j + 1)
    else:
        _end(toks, j)
    v32 = imm32(value)
    # The kernel prints lddw without `ll` and in hex, ALU immediates in decimal; LLVM always writes `ll`.
    if not wide and not d32:
        if v32 is None:
            wide = kernel is not False  # only a 64-bit load can hold it (kernel log: map addresses)
        elif kernel is True and toks[j - 1][:2] in ("0x", "0X"):
            wide = True
    if wide:
        if d32:
            raise LineError(f"a 64-bit load needs a 64-bit register (r{dst})", token=0)
        v = imm64(value)
        if v is None:
            raise LineError(f"immediate {show_number(value)} out of 64-bit range", token=j - 1)
        return ops.lddw(dst, v), None
    if v32 is None:
        raise LineError(f"immediate {show_number(value)} out of 32-bit range (add ' ll' for a 64-bit load)",
                        token=j - 1)
    return (ops.mov32 if d32 else ops.mov)(dst, imm=v32), None


def _rhs_minus(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    t = toks[3]
    if _is_reg(t):
        src, s32 = _reg(toks, 3)
        if src != dst or s32 != d32:
            raise LineError(f"neg negates a register in place: write {toks[0]} = -{toks[0]}", token=3)
        _end(toks, 4)
        return (ops.neg32 if d32 else ops.neg)(dst), None
    return _mov_imm(toks, dst, d32, kernel)


def _rhs_movsx(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    t = toks[3]
    bits = _MOVSX.get(t)
    if bits is None:
        raise LineError(f"expected a sign-extension cast (s8, s16, s32), got '{t}'", token=3)
    if d32 and bits == 32:
        raise LineError("a 32-bit register can sign-extend only from s8 or s16", token=3)
    i = _expect(toks, 4, ")")
    src, s32 = _reg(toks, i)
    if s32 != d32:
        raise LineError("mixed 32-bit and 64-bit registers", token=i)
    _end(toks, i + 1)
    return (ops.movsx32 if d32 else ops.movsx)(dst, src, bits), None


def _rhs_load(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    size, signed, i = _typed(toks, 3)
    if toks[i] == "skb":
        return _ld_legacy(toks, i, dst, size, signed)
    src, off, i = _paren_mem(toks, i)
    _end(toks, i)
    if d32 and size == Size.DW:
        raise LineError(f"a 64-bit load needs r{dst}, not w{dst}", token=0)
    return ops.ldx(size, dst, src, off, signed=signed), None


def _ld_legacy(toks: list[str], i: int, dst: int, size: Size, signed: bool) -> Result:
    """`r0 = *(u8 *)skb[14]` (BPF_ABS), `r0 = *(u16 *)skb[r1]` / `skb[r1 + 14]` (BPF_IND)."""
    if dst != 0:
        raise LineError("legacy packet loads (skb[...]) always load into r0", token=0)
    if signed or size == Size.DW:
        raise LineError("legacy packet loads take u8, u16 or u32", token=4)
    i = _expect(toks, i + 1, "[")
    t = toks[i]
    if _is_reg(t):
        return _ld_ind(toks, i, size)
    imm, j = _imm32(toks, i)
    j = _expect(toks, j, "]")
    _end(toks, j)
    return ops.ld_abs(size, imm), None


def _ld_ind(toks: list[str], i: int, size: Size) -> Result:
    """`skb[r1]`, `skb[r1 + 14]`, `skb[r6 + -37081]` (the kernel prints `%d`): BPF_IND keeps K in the 32-bit
    imm, so K is an immediate with imm32's range, not a 16-bit memory offset."""
    src, s32 = _reg(toks, i)
    if s32:
        raise LineError(f"a packet index takes a 64-bit register (r{src}), not w{src}", token=i)
    j = i + 1
    imm = 0
    t = toks[j]
    if t in ("+", "-"):
        value, j = _number(toks, j + 1)
        if t == "-":
            value = -value
        v = imm32(value)
        if v is None:
            raise LineError(f"immediate {show_number(value)} out of 32-bit range", token=j - 1)
        imm = v
    j = _expect(toks, j, "]")
    _end(toks, j)
    return ops.ld_ind(size, src, imm), None


def _rhs_end(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    make, bits = _END_OPS[toks[2]]
    src, _ = _reg(toks, 3)
    if src != dst:
        raise LineError(f"a byte swap works in place: write {toks[0]} = {toks[2]} {toks[0]}", token=3)
    _end(toks, 4)
    return make(dst, bits), None


def _rhs_fetch(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    """`r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)` and the kernel's `atomic64_fetch_add`."""
    name = toks[2]
    op = _FETCH_NAMES[name]
    i = _expect(toks, 3, "(")
    size, signed, i = _typed(toks, i)
    if signed or size not in (Size.W, Size.DW):
        raise LineError("atomic operations take u32 or u64", token=5)
    base, off, i = _paren_mem(toks, i)
    i = _expect(toks, i, ",")
    src, _ = _reg(toks, i)
    if src != dst:
        raise LineError(f"{name} returns the old value in its value register: write {toks[i]} = {name}(...)",
                        token=0)
    i = _expect(toks, i + 1, ")")
    _end(toks, i)
    return ops.atomic(op, size, base, src, off), None


def _rhs_xchg(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    """`r2 = xchg_64(r1 + 0, r2)`, `r0 = cmpxchg_64(r1 + 0, r0, r2)` and the kernel's `atomic64_xchg((u64 *)...)`."""
    name = toks[2]
    op, size = _XCHG_NAMES[name]
    i = _expect(toks, 3, "(")
    if toks[i] == "(":
        typed_size, signed, i = _typed(toks, i)
        if signed or typed_size not in (Size.W, Size.DW):
            raise LineError("atomic operations take u32 or u64", token=i - 3)
        size = size or typed_size
        base, off, i = _paren_mem(toks, i)
    else:
        if size is None:
            raise LineError(f"expected '(' and a type cast after {name}(", token=i)
        base, off, i = _mem(toks, i)
    i = _expect(toks, i, ",")
    if op == AtomicOp.CMPXCHG:
        if dst != 0:
            raise LineError(f"cmpxchg compares with and returns in r0: write {toks[0][0]}0 = {name}(...)", token=0)
        old, _ = _reg(toks, i)
        if old != 0:
            raise LineError("cmpxchg's expected value is r0", token=i)
        i = _expect(toks, i + 1, ",")
    src, _ = _reg(toks, i)
    if op == AtomicOp.XCHG and src != dst:
        raise LineError(f"xchg returns the old value in its value register: write {toks[i]} = {name}(...)",
                        token=0)
    i = _expect(toks, i + 1, ")")
    _end(toks, i)
    return ops.atomic(op, size, base, src, off), None


def _rhs_load_acquire(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    i = _expect(toks, 3, "(")
    size, signed, i = _typed(toks, i)
    if signed:
        raise LineError("load_acquire takes an unsigned type", token=5)
    src, off, i = _paren_mem(toks, i)
    i = _expect(toks, i, ")")
    _end(toks, i)
    return ops.load_acquire(size, dst, src, off), None


def _rhs_map(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    """`r1 = map[name] ll`, `r1 = map_value[name] + 8 ll`, `r1 = func[name] ll`."""
    kind = toks[2]
    if d32:
        raise LineError(f"a 64-bit load needs a 64-bit register (r{dst})", token=0)
    i = _expect(toks, 3, "[")
    name = toks[i]
    if name == "id" and i + 1 < len(toks) and toks[i + 1] == ":":
        raise LineError("a map id from a kernel log cannot be assembled: declare the map with .map and write "
                        "map[NAME]", token=i)
    if not _NAME.match(name):
        raise LineError(f"expected a name, got '{name}'", token=i)
    i = _expect(toks, i + 1, "]")
    offset = 0
    if kind == "map_value" and i < len(toks) and toks[i] in ("+", "-"):
        offset, i = _number(toks, i)
        if not 0 <= offset <= 0xFFFFFFFF:
            raise LineError(f"map value offset {show_number(offset)} out of range", token=i - 1)
    if i < len(toks) and toks[i] == "ll":
        i += 1
    _end(toks, i)
    if kind == "func":
        return ops.ld_func(dst), (FixupKind.LABEL_IMM, name, 4, None)
    if kind == "map":
        return ops.ld_map_fd(dst, ref=name), (FixupKind.MAP, name, 4, None)
    return ops.ld_map_value(dst, offset=offset, ref=name), (FixupKind.MAP, name, 4, None)


def _func_ref(toks: list[str], i: int, dst: int, d32: bool, name: str) -> Result:
    """`r1 = my_func ll`: the address of a local function (lddw src=BPF_PSEUDO_FUNC)."""
    if i + 1 >= len(toks) or toks[i + 1] != "ll":
        raise LineError(f"unexpected '{name}' (a function address is written `{toks[0]} = {name} ll`)", token=i)
    if d32:
        raise LineError(f"a 64-bit load needs a 64-bit register (r{dst})", token=0)
    _end(toks, i + 2)
    return ops.ld_func(dst), (FixupKind.LABEL_IMM, name, i, None)


def _rhs_addr_space_cast(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    i = _expect(toks, 3, "(")
    src, _ = _reg(toks, i)
    i = _expect(toks, i + 1, ",")
    dst_as, i = _number(toks, i)
    i = _expect(toks, i, ",")
    src_as, i = _number(toks, i)
    if not (0 <= dst_as <= 0xFFFF and 0 <= src_as <= 0xFFFF):
        raise LineError("address spaces must be 0..65535", token=i - 1)
    i = _expect(toks, i, ")")
    _end(toks, i)
    return ops.addr_space_cast(dst, src, dst_as, src_as), None


def _rhs_percpu(toks: list[str], dst: int, d32: bool, kernel: bool) -> Result:
    """The kernel's `rX = &(void __percpu *)(rY)` (internal per-CPU address mov)."""
    i = 3
    for word in ("(", "void", "__percpu", "*", ")", "("):
        i = _expect(toks, i, word)
    src, _ = _reg(toks, i)
    i = _expect(toks, i + 1, ")")
    _end(toks, i)
    return ops.addr_percpu(dst, src), None


RhsHandler = Callable[[list[str], int, bool, "bool | None"], Result]
_RHS: dict[str, RhsHandler] = {
    "-": _rhs_minus, "+": _mov_imm,
    "(": _rhs_movsx, "*": _rhs_load, "load_acquire": _rhs_load_acquire, "map": _rhs_map,
    "map_value": _rhs_map, "func": _rhs_map, "addr_space_cast": _rhs_addr_space_cast, "&": _rhs_percpu,
}
for _name in _END_OPS:
    _RHS[_name] = _rhs_end
for _name in _FETCH_NAMES:
    _RHS[_name] = _rhs_fetch
for _name in _XCHG_NAMES:
    _RHS[_name] = _rhs_xchg

Handler = Callable[[list[str], "bool | None"], Result]
_FIRST: dict[str, Handler] = {
    "if": _if, "goto": _goto, "gotol": _goto, "may_goto": _goto, "exit": _exit, "call": _call,
    "callx": _callx, "lock": _lock, "*": _store, "store_release": _store_release, "ld_pseudo": _ld_pseudo,
}


def token_spans(text: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in _TOKEN.finditer(text)]


def parse_llvm(text: str, kernel: bool | None = None) -> tuple[Instruction, "Fixup | None"]:
    """One instruction in the LLVM/kernel dialect. `kernel=True` reads `rX = 0x...` (no `ll`) as lddw the way
    the verifier log prints it; None (auto) does so only when the value does not fit in 32 bits."""
    toks = _TOKEN.findall(text)
    try:
        try:
            return _dispatch(toks, kernel, text)
        except IndexError:
            raise LineError("unexpected end of instruction", token=len(toks)) from None
    except LineError as e:
        if e.token is not None:
            spans = token_spans(text)
            if e.token < len(spans):
                start, end = spans[e.token]
            else:
                start = end = len(text.rstrip())
            e.start, e.length = start, max(1, end - start)
            e.token = None
        raise


def _dispatch(toks: list[str], kernel: bool | None, text: str) -> tuple[Instruction, "Fixup | None"]:
    head = toks[0]
    handler = _FIRST.get(head)
    if handler is not None:
        insn, spec = handler(toks, kernel)
    elif len(toks) > 1 and toks[1] in _ALU_ASSIGN:
        insn, spec = _alu_op(toks, kernel)
    elif len(toks) > 1 and toks[1] == "=":
        insn, spec = _assign(toks, kernel)
    elif _is_reg(head):
        _reg(toks, 0)
        raise LineError(f"expected an assignment operator after {head}", token=1)
    else:
        raise LineError(f"unknown instruction '{head}'", token=0)
    if spec is None:
        return insn, None
    kind, name, index, number = spec
    tok = toks[index]
    end = len(text.rstrip())
    if index == len(toks) - 1 and text.startswith(tok, end - len(tok)):  # the last token (a jump's label)
        return insn, Fixup(kind, name, end - len(tok), len(tok), number)
    start, end = token_spans(text)[index]
    return insn, Fixup(kind, name, start, end - start, number)


def first_token(text: str) -> str:
    m = _TOKEN.match(text)
    return m.group(1) if m else ""


__all__ = ["parse_llvm", "token_spans", "first_token"]
