"""The LLVM dialect's common lines read without tokens: what clang and llvm-objdump print, spelled their way.

`parse_llvm` tokenizes every line and walks a handler table, which accepts any spacing and explains every mistake.
Most lines of a large program are a handful of shapes written exactly one way (`r1 += r2`, `w3 = -5`,
`r0 = *(u32 *)(r1 + 4)`, `if r1 > r2 goto LBB0_3`, `call 12`, `exit`): `fast_llvm` recognises those by splitting on
single spaces and a few anchored regexes, and returns None for anything else — another spacing, a number out of
range, a register mix, any error — so the full parser decides and words every diagnostic. It only ever returns what
`parse_llvm` returns for the same text (tests/isa/test_asm_fast.py checks this on generated lines), so assembling
with or without it gives the same program and the same AsmError.
"""
from __future__ import annotations

import re

from pyebpf.abi.opcodes import SIGNED_DIVMOD_OFF, AluOp, InsnClass, Mode, Size, Source
from pyebpf.isa import ops
from pyebpf.isa.asm_llvm import _ALU_ASSIGN, _ATOMIC_ASSIGN, _END_OPS, _FETCH_NAMES, _JMP_CMP, _MOVSX, _NAME
from pyebpf.isa.asm_syntax import MEM_TYPES, REGISTERS, Fixup, FixupKind, imm64
from pyebpf.isa.instruction import Instruction

_new = tuple.__new__
#: A number as LLVM prints one: optional minus, decimal or 0x hex, ASCII, short (longer ones: the full parser).
_NUM = re.compile(r"-?(?:0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})", re.ASCII)
#: `(rN)`, `(rN + 8)`, `(rN - 8)` and the kernel's `(rN -8)`: (register, sign, offset digits).
_ADDR = r"\((r(?:10|[0-9]))(?: ([-+]) ?([0-9]{1,5}))?\)"
_LOAD = re.compile(r"\*\((u8|u16|u32|u64|s8|s16|s32) \*\)" + _ADDR, re.ASCII)
_STORE = re.compile(r"\*\((u8|u16|u32|u64) \*\)" + _ADDR + r" = (\S+)", re.ASCII)
_LOCK = re.compile(r"lock \*\((u32|u64) \*\)" + _ADDR + r" (\S+) (\S+)", re.ASCII)
_FETCH = re.compile(r"(atomic(?:64)?_fetch_(?:add|or|and|xor))\(\((u32|u64) \*\)" + _ADDR + r", (\S+)\)", re.ASCII)
_MOVSX_RHS = re.compile(r"\((s8|s16|s32)\)(\S+)", re.ASCII)
#: `call WORD` words the full parser reads as something other than a helper or function name.
_CALL_WORDS = frozenset(("local", "helper", "runtime", "kfunc", "pc"))
_ALU64, _ALU32 = int(InsnClass.ALU64), int(InsnClass.ALU)
_K, _X = int(Source.K), int(Source.X)
_SDIV_OFF = int(SIGNED_DIVMOD_OFF)
_MOV = int(AluOp.MOV)
_JMP64, _JMP32 = int(InsnClass.JMP), int(InsnClass.JMP32)
_LDX, _MEM, _MEMSX = int(InsnClass.LDX), int(Mode.MEM), int(Mode.MEMSX)
_DW = int(Size.DW)
_STX_MEM, _ST_MEM = int(InsnClass.STX) | _MEM, int(InsnClass.ST) | _MEM
_ALU_CODES = {op: (int(code), _SDIV_OFF if signed else 0) for op, (code, signed) in _ALU_ASSIGN.items()}

Parsed = tuple[Instruction, "Fixup | None"]


def _num(text: str) -> int | None:
    if text.isdigit():  # the common case first (isascii: `str.isdigit` also holds for digits int() refuses)
        return int(text) if text.isascii() and len(text) <= 20 else None
    if _NUM.fullmatch(text) is None:
        return None
    return int(text, 16) if "x" in text or "X" in text else int(text)


def _imm32(value: int | None) -> int | None:
    """asm_syntax.imm32 of a number that may be missing, written out (it runs for most lines)."""
    if value is None or not -0x80000000 <= value <= 0xFFFFFFFF:
        return None
    return value - 0x100000000 if value > 0x7FFFFFFF else value


def _offset(sign: str | None, digits: str | None) -> int | None:
    """A memory offset in 16-bit range (None: out of range, the full parser reports it)."""
    if sign is None:
        return 0
    value = int(digits) if sign == "+" else -int(digits)  # type: ignore[arg-type]
    return value if -32768 <= value <= 32767 else None


def _target(text: str, word: str) -> tuple[int, "Fixup | None"] | None:
    """A jump's last word: `+N`/`-N`/`N` in 16-bit range, or a label (fixed up later); None otherwise."""
    c = word[:1]
    if not c:
        return None
    if c == "+" or c == "-" or c.isdigit():
        body = word[1:] if c == "+" else word
        value = None if body[:1] == "-" and c == "+" else _num(body)
        if value is None or not -32768 <= value <= 32767:
            return None
        return value, None
    if word in REGISTERS or _NAME.match(word) is None:
        return None
    return 0, Fixup(FixupKind.LABEL_OFF, word, len(text) - len(word), len(word), None)


def fast_llvm(text: str, kernel: bool | None) -> Parsed | None:
    """(instruction, fixup) for a common line written the common way, or None: ask parse_llvm."""
    parts = text.split(" ")
    n = len(parts)
    head = parts[0]
    reg = REGISTERS.get(head)
    if reg is not None:
        if n < 3:
            return None
        dst, d32 = reg
        op = parts[1]
        if n == 3:
            rhs = parts[2]
            code = _ALU_CODES.get(op)
            if code is not None:
                cls = _ALU32 if d32 else _ALU64
                src = REGISTERS.get(rhs)
                if src is not None:
                    if src[1] != d32:
                        return None
                    return _new(Instruction, (cls | code[0] | _X, dst, src[0], code[1], 0, None)), None
                value = _imm32(_num(rhs))
                if value is None:
                    return None
                return _new(Instruction, (cls | code[0] | _K, dst, 0, code[1], value, None)), None
            if op != "=":
                return None
            src = REGISTERS.get(rhs)
            if src is not None:
                if src[1] != d32:
                    return None
                return _new(Instruction, ((_ALU32 if d32 else _ALU64) | _MOV | _X, dst, src[0], 0, 0, None)), None
            value = _num(rhs)
            if value is not None:
                if kernel is True and not d32 and ("x" in rhs or "X" in rhs):
                    return None  # the kernel's lddw spelling: the full parser decides
                if (value := _imm32(value)) is None:
                    return None
                return _new(Instruction, ((_ALU32 if d32 else _ALU64) | _MOV | _K, dst, 0, 0, value, None)), None
            m = _MOVSX_RHS.fullmatch(rhs)
            if m is not None:
                bits = _MOVSX[m.group(1)]
                src = REGISTERS.get(m.group(2))
                if src is None or src[1] != d32 or (d32 and bits == 32):
                    return None
                return (ops.movsx32 if d32 else ops.movsx)(dst, src[0], bits), None
            return None
        if op != "=":
            return None
        word = parts[2]
        if n == 4:
            last = parts[3]
            if last == "ll":
                value = _num(word)
                if value is None or d32 or (value := imm64(value)) is None:
                    return None
                return ops.lddw(dst, value), None
            end = _END_OPS.get(word)
            if end is not None:
                src = REGISTERS.get(last)
                if src is None or src[0] != dst:
                    return None
                return end[0](dst, end[1]), None
            return None
        rhs = text[len(head) + 3:]
        if word[:1] == "*":
            m = _LOAD.fullmatch(rhs)
            if m is None:
                return None
            size, signed = MEM_TYPES[m.group(1)]
            off = _offset(m.group(3), m.group(4))
            if off is None or (d32 and size == _DW):
                return None
            return _new(Instruction, (_LDX | (_MEMSX if signed else _MEM) | size, dst, REGISTERS[m.group(2)][0], off,
                                      0, None)), None
        m = _FETCH.fullmatch(rhs)
        if m is not None:
            src = REGISTERS.get(m.group(6))
            off = _offset(m.group(4), m.group(5))
            if src is None or src[0] != dst or off is None:
                return None
            size = MEM_TYPES[m.group(2)][0]
            return ops.atomic(_FETCH_NAMES[m.group(1)], size, REGISTERS[m.group(3)][0], dst, off), None
        return None
    if head == "if":
        if n != 6 or parts[4] != "goto":
            return None
        reg = REGISTERS.get(parts[1])
        op = _JMP_CMP.get(parts[2])
        if reg is None or op is None:
            return None
        target = _target(text, parts[5])
        if target is None:
            return None
        dst, d32 = reg
        src = REGISTERS.get(parts[3])
        if src is not None:
            if src[1] != d32:
                return None
            return _new(Instruction, ((_JMP32 if d32 else _JMP64) | op | _X, dst, src[0], target[0], 0, None)), \
                target[1]
        value = _imm32(_num(parts[3]))
        if value is None:
            return None
        return _new(Instruction, ((_JMP32 if d32 else _JMP64) | op | _K, dst, 0, target[0], value, None)), target[1]
    if n == 1:
        return (ops.exit(), None) if head == "exit" else None
    if head == "goto":
        if n != 2:
            return None
        target = _target(text, parts[1])
        return None if target is None else (ops.ja(target[0]), target[1])
    if head == "call":
        if n != 2:
            return None
        word = parts[1]
        value = _num(word)
        if value is not None:
            value = _imm32(value)
            return None if value is None else (ops.call(value), None)
        if word in _CALL_WORDS or word in REGISTERS or word[:1] in "rwR" and word[1:].isdigit() or \
                _NAME.fullmatch(word) is None:
            return None
        return ops.call(0), Fixup(FixupKind.CALL_NAME, word, 5, len(word), None)
    if head[:1] == "*":
        m = _STORE.fullmatch(text)
        if m is None:
            return None
        size = MEM_TYPES[m.group(1)][0]
        off = _offset(m.group(3), m.group(4))
        if off is None:
            return None
        dst = REGISTERS[m.group(2)][0]
        value = m.group(5)
        src = REGISTERS.get(value)
        if src is not None:
            if src[1] and size == _DW:  # a 64-bit store of a w register: refused by the full parser
                return None
            return _new(Instruction, (_STX_MEM | size, dst, src[0], off, 0, None)), None  # (ops.stx)
        imm = _imm32(_num(value))
        if imm is None:
            return None
        return _new(Instruction, (_ST_MEM | size, dst, 0, off, imm, None)), None  # (ops.st)
    if head == "lock":
        m = _LOCK.fullmatch(text)
        if m is None:
            return None
        op = _ATOMIC_ASSIGN.get(m.group(5))
        src = REGISTERS.get(m.group(6))
        off = _offset(m.group(3), m.group(4))
        size = MEM_TYPES[m.group(1)][0]
        if op is None or src is None or off is None or (src[1] and size == _DW):
            return None
        return ops.atomic(op, size, REGISTERS[m.group(2)][0], src[0], off), None
    return None


__all__ = ["fast_llvm"]
