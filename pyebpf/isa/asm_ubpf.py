"""The uBPF / bpf_conformance dialect: `mov %r0, 1`, `ldxw %r0, [%r1+4]`, `jeq %r1, 0, +2`, `lock fetch add ...`.

Encodings follow the conformance suite's own assembler (src/bpf_assembler.cc of Alan-Jowett/bpf_conformance):
a `32` suffix selects the 32-bit class (ALU or JMP32), `sdiv`/`smod` set off=1, `movsxNM` sign-extends N bits into
an M-bit register (off=N), `swapN`/`bswapN` are ALU64 END, `ja32` is gotol (target in imm), `call local L` is a
pseudo call, `call runtime N` a kfunc call, and `call %rN` is callx with the register in dst (imm 0), as gcc,
LLVM 19+ and that suite encode it. Immediates may be written signed or as unsigned 32-bit values (they wrap).
Registers are `%rN` or `rN`. Forms the suite has no spelling for use the names pyebpf's disassembler prints:
`may_goto`, `ldabsw 4`, `ldindw %r2, 4`, `lock load_acquirew %r0, [%r1]`, `lock store_releasew [%r1], %r2`,
`addr_space_cast %r1, %r2, 0, 1`, `lddw %r1, 5, map_fd` and `lddw %r1, map[name]`.
"""
from __future__ import annotations

import re
from typing import Callable

from pyebpf.abi.opcodes import SIGNED_DIVMOD_OFF, AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoSrc, Size, Source
from pyebpf.isa import ops
from pyebpf.isa.asm_syntax import (
    ATOMIC_FETCH_OPS, ATOMIC_PLAIN_OPS, Fixup, FixupKind, LineError, imm32, imm64, off16, parse_int,
)
from pyebpf.isa.instruction import Instruction

Operands = list[tuple[str, int]]
Parsed = tuple[Instruction, "Fixup | None"]

_REGS: dict[str, int] = {}
for _n in range(11):
    _REGS[f"%r{_n}"] = _n
    _REGS[f"r{_n}"] = _n
_BAD_REG = re.compile(r"%?[rw]\d+$")
_MEM = re.compile(r"\[\s*(%?\w+)\s*(?:([+-])\s*(\w+))?\s*\]$")
_LABEL = re.compile(r"[A-Za-z_.$][\w.$]*$")

_SIZES = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
#: mnemonic -> (ALU op, signed: sdiv/smod of cpu v4)
_ALU_OPS = {
    "add": (AluOp.ADD, False), "sub": (AluOp.SUB, False), "mul": (AluOp.MUL, False), "div": (AluOp.DIV, False),
    "sdiv": (AluOp.DIV, True), "or": (AluOp.OR, False), "and": (AluOp.AND, False), "lsh": (AluOp.LSH, False),
    "rsh": (AluOp.RSH, False), "mod": (AluOp.MOD, False), "smod": (AluOp.MOD, True), "xor": (AluOp.XOR, False),
    "mov": (AluOp.MOV, False), "arsh": (AluOp.ARSH, False),
}
_JMP_OPS = {
    "jeq": JmpOp.JEQ, "jgt": JmpOp.JGT, "jge": JmpOp.JGE, "jset": JmpOp.JSET, "jne": JmpOp.JNE,
    "jsgt": JmpOp.JSGT, "jsge": JmpOp.JSGE, "jlt": JmpOp.JLT, "jle": JmpOp.JLE, "jslt": JmpOp.JSLT,
    "jsle": JmpOp.JSLE,
}
_PSEUDO_NAMES = {
    "map_fd": PseudoSrc.MAP_FD, "map_value": PseudoSrc.MAP_VALUE, "btf_id": PseudoSrc.BTF_ID,
    "func": PseudoSrc.FUNC, "map_idx": PseudoSrc.MAP_IDX, "map_idx_value": PseudoSrc.MAP_IDX_VALUE,
}
_MAP_REF = re.compile(r"(map|map_value)\[([^\]\s]+)\](?:\s*\+\s*(\w+))?$")


# ---- operands ----------------------------------------------------------------------------------------------------

def split_operands(rest: str, base: int) -> Operands:
    """Comma-separated operands with their start column in the instruction text."""
    out: Operands = []
    pos = base
    for part in rest.split(","):
        stripped = part.strip()
        lead = len(part) - len(part.lstrip())
        out.append((stripped, pos + lead))
        pos += len(part) + 1
    return out


def _err(message: str, op: tuple[str, int]) -> LineError:
    return LineError(message, start=op[1], length=max(1, len(op[0])))


def _reg(op: tuple[str, int]) -> int:
    r = _REGS.get(op[0])
    if r is None:
        if _BAD_REG.match(op[0]):
            raise _err(f"invalid register {op[0]} (registers are r0..r10)", op)
        raise _err(f"expected a register, got {op[0]!r}" if op[0] else "expected a register", op)
    return r


def _imm(op: tuple[str, int]) -> int:
    value = parse_int(op[0])
    if value is None:
        raise _err(f"expected an immediate, got {op[0]!r}" if op[0] else "expected an immediate", op)
    v = imm32(value)
    if v is None:
        raise _err(f"immediate {op[0]} out of 32-bit range", op)
    return v


def _mem(op: tuple[str, int]) -> tuple[int, int]:
    m = _MEM.match(op[0])
    if m is None:
        raise _err(f"expected a memory operand [%rN+off], got {op[0]!r}", op)
    reg = _reg((m.group(1), op[1] + m.start(1)))
    if m.group(2) is None:
        return reg, 0
    value = parse_int(m.group(3))
    if value is None:
        raise LineError(f"bad offset {m.group(3)!r}", start=op[1] + m.start(3), length=len(m.group(3)))
    off = off16(-value if m.group(2) == "-" else value, allow_unsigned=m.group(2) == "+")
    if off is None:
        raise LineError(f"offset {m.group(2)}{m.group(3)} out of 16-bit range", start=op[1] + m.start(2),
                        length=m.end(3) - m.start(2))
    return reg, off


def _target(op: tuple[str, int], field_bits: int) -> tuple[int, "Fixup | None"]:
    """A jump target: `+N`/`-N` (or a bare number) relative slots, or a label resolved later."""
    text = op[0]
    if text[:1] in "+-" or text[:1].isdigit():
        value = parse_int(text)
        if value is None:
            raise _err(f"bad jump offset {text!r}", op)
        if field_bits == 16:
            checked = off16(value)
        else:
            checked = value if -(1 << 31) <= value < (1 << 31) else None
        if checked is None:
            raise _err(f"jump offset {text} out of {field_bits}-bit range", op)
        return checked, None
    if not _LABEL.match(text):
        raise _err(f"expected a jump target (+N, -N or a label), got {text!r}", op)
    kind = FixupKind.LABEL_OFF if field_bits == 16 else FixupKind.LABEL_IMM
    return 0, Fixup(kind, text, op[1], len(text))


def _count(operands: Operands, n: int, mnemonic: str, mstart: int, end: int) -> None:
    if len(operands) != n:
        if len(operands) > n:
            extra = operands[n]
            raise LineError(f"'{mnemonic}' takes {n} operand{'s' if n != 1 else ''}, got {len(operands)}",
                            start=extra[1], length=max(1, end - extra[1]))
        raise LineError(f"'{mnemonic}' takes {n} operand{'s' if n != 1 else ''}, got {len(operands)}",
                        start=mstart, length=len(mnemonic))


# ---- handlers: (mnemonic, operands, arg) -> Parsed -------------------------------------------------------------

def _alu(operands: Operands, arg: tuple[Callable[..., Instruction], AluOp, bool]) -> Parsed:
    make, op, signed = arg
    dst = _reg(operands[0])
    src_text = operands[1][0]
    if src_text in _REGS or (src_text[:1] in ("%", "r", "w") and _BAD_REG.match(src_text)):
        return make(op, dst, _reg(operands[1]), signed=signed), None
    return make(op, dst, imm=_imm(operands[1]), signed=signed), None


def _neg(operands: Operands, make: Callable[[int], Instruction]) -> Parsed:
    return make(_reg(operands[0])), None


def _movsx(operands: Operands, arg: tuple[Callable[[int, int, int], Instruction], int]) -> Parsed:
    make, bits = arg
    return make(_reg(operands[0]), _reg(operands[1]), bits), None


def _end(operands: Operands, arg: tuple[Callable[[int, int], Instruction], int]) -> Parsed:
    make, bits = arg
    return make(_reg(operands[0]), bits), None


def _addr_space_cast(operands: Operands, _: None) -> Parsed:
    dst, src = _reg(operands[0]), _reg(operands[1])
    dst_as, src_as = _imm(operands[2]), _imm(operands[3])
    if not 0 <= dst_as <= 0xFFFF:
        raise _err("address space must be 0..65535", operands[2])
    if not 0 <= src_as <= 0xFFFF:
        raise _err("address space must be 0..65535", operands[3])
    return ops.addr_space_cast(dst, src, dst_as, src_as), None


def _lddw(operands: Operands, _: None) -> Parsed:
    if len(operands) not in (2, 3):
        raise _err(f"'lddw' takes 2 or 3 operands, got {len(operands)}", operands[-1])
    dst = _reg(operands[0])
    text, start = operands[1]
    m = _MAP_REF.match(text)
    if m is not None:
        if len(operands) == 3:
            raise _err("a map reference takes no pseudo source", operands[2])
        name = m.group(2)
        fix = Fixup(FixupKind.MAP, name, start + m.start(2), len(name))
        if m.group(1) == "map":
            if m.group(3) is not None:
                raise LineError("map[NAME] takes no offset; use map_value[NAME] + N", start=start + m.start(3),
                                length=len(m.group(3)))
            return ops.ld_map_fd(dst, ref=name), fix
        offset = 0
        if m.group(3) is not None:
            parsed = parse_int(m.group(3))
            if parsed is None or imm32(parsed) is None or parsed < 0:
                raise LineError(f"bad map value offset {m.group(3)!r}", start=start + m.start(3),
                                length=len(m.group(3)))
            offset = parsed
        return ops.ld_map_value(dst, offset=offset, ref=name), fix
    value = parse_int(text)
    if value is None:
        raise _err(f"expected a 64-bit immediate, got {text!r}", operands[1])
    v = imm64(value)
    if v is None:
        raise _err(f"immediate {text} out of 64-bit range", operands[1])
    src = PseudoSrc.IMM
    if len(operands) == 3:
        name = operands[2][0]
        if name in _PSEUDO_NAMES:
            src = _PSEUDO_NAMES[name]
        else:
            n = parse_int(name)
            if n is None or n not in PseudoSrc._value2member_map_:
                raise _err(f"unknown lddw pseudo source {name!r} (map_fd, map_value, btf_id, func, map_idx, "
                           f"map_idx_value)", operands[2])
            src = PseudoSrc(n)
    return ops.lddw(dst, v, src), None


def _ldx(operands: Operands, arg: tuple[Size, bool]) -> Parsed:
    size, signed = arg
    dst = _reg(operands[0])
    src, off = _mem(operands[1])
    return ops.ldx(size, dst, src, off, signed=signed), None


def _st(operands: Operands, size: Size) -> Parsed:
    dst, off = _mem(operands[0])
    return ops.st(size, dst, off, _imm(operands[1])), None


def _stx(operands: Operands, size: Size) -> Parsed:
    dst, off = _mem(operands[0])
    return ops.stx(size, dst, _reg(operands[1]), off), None


def _ldabs(operands: Operands, size: Size) -> Parsed:
    return ops.ld_abs(size, _imm(operands[0])), None


def _ldind(operands: Operands, size: Size) -> Parsed:
    return ops.ld_ind(size, _reg(operands[0]), _imm(operands[1])), None


def _ja(operands: Operands, arg: tuple[Callable[[int], Instruction], int]) -> Parsed:
    """ja / may_goto (16-bit offset in off) and ja32 = gotol (32-bit offset in imm)."""
    make, bits = arg
    value, fix = _target(operands[0], bits)
    return make(value), fix


def _jcond(operands: Operands, arg: tuple[Callable[..., Instruction], JmpOp]) -> Parsed:
    make, op = arg
    dst = _reg(operands[0])
    off, fix = _target(operands[2], 16)
    src_text = operands[1][0]
    if src_text in _REGS or (src_text[:1] in ("%", "r", "w") and _BAD_REG.match(src_text)):
        return make(op, dst, _reg(operands[1]), off=off), fix
    return make(op, dst, imm=_imm(operands[1]), off=off), fix


def _exit(operands: Operands, _: None) -> Parsed:
    return ops.exit(), None


def _callx(operands: Operands, _: None) -> Parsed:
    return ops.callx(_reg(operands[0])), None


def _call(operands: Operands, _: None) -> Parsed:
    """`call N`, `call helper N`, `call NAME`, `call local L|+N`, `call runtime N`, `call %rN` (callx)."""
    if len(operands) == 1 and " " in operands[0][0]:
        mode, _, rest = operands[0][0].partition(" ")
        rest = rest.strip()
        operands = [(mode, operands[0][1]), (rest, operands[0][1] + operands[0][0].index(rest, len(mode)))]
    if len(operands) == 1:
        text = operands[0][0]
        if text in _REGS or _BAD_REG.match(text):
            return _callx(operands, None)
        value = parse_int(text)
        if value is not None:
            v = imm32(value)
            if v is None:
                raise _err(f"helper id {text} out of 32-bit range", operands[0])
            return ops.call(v), None
        if not _LABEL.match(text):
            raise _err(f"expected a helper number or name, got {text!r}", operands[0])
        if text in ("local", "helper", "runtime", "kfunc"):
            raise _err(f"'call {text}' needs a target", operands[0])
        return ops.call(0), Fixup(FixupKind.CALL_NAME, text, operands[0][1], len(text))
    if len(operands) != 2:
        raise _err(f"'call' takes 1 or 2 operands, got {len(operands)}", operands[-1])
    mode = operands[0][0]
    if mode == "local":
        value, fix = _target(operands[1], 32)
        return ops.call_local(value), fix
    if mode == "helper":
        return _call([operands[1]], None)
    if mode in ("runtime", "kfunc"):
        text = operands[1][0]
        if parse_int(text) is None and _LABEL.match(text):
            return (ops.kfunc_call(0),
                    Fixup(FixupKind.CALL_NAME, text, operands[1][1], len(text), number=-1))
        return ops.kfunc_call(_imm(operands[1])), None
    raise _err(f"unknown call mode {mode!r} (helper, local, runtime)", operands[0])


_LOCK_WORDS = re.compile(r"(fetch\s+)?(\w+)\s+")


def _lock(operands: Operands, _: None) -> Parsed:
    """`lock [fetch] add|and|or|xor[32] [dst+off], src`, `lock xchg|cmpxchg[32] ...`, acquire/release loads."""
    first, start = operands[0]
    m = _LOCK_WORDS.match(first)
    if m is None:
        raise _err(f"expected an atomic operation after 'lock', got {first!r}", operands[0])
    fetch, name = m.group(1) is not None, m.group(2)
    mem_op = (first[m.end():].strip(), start + m.end())
    if len(operands) != 2:
        raise LineError(f"'lock {name}' takes 2 operands, got {len(operands)}", start=start + m.start(2),
                        length=len(name))
    name_span = (name, start + m.start(2))
    if name.startswith("load_acquire") or name.startswith("store_release"):
        base = "load_acquire" if name.startswith("load_acquire") else "store_release"
        size = _SIZES.get(name[len(base):])
        if size is None or fetch:
            raise _err(f"unknown atomic operation {name!r}", name_span)
        if base == "load_acquire":
            # `lock load_acquirew %r0, [%r1+off]`: the loaded register is first, the address second.
            dst = _reg(mem_op)
            src, off = _mem(operands[1])
            return ops.load_acquire(size, dst, src, off), None
        dst, off = _mem(mem_op)
        return ops.store_release(size, dst, _reg(operands[1]), off), None
    size = Size.DW
    base = name
    if name.endswith("32"):
        size, base = Size.W, name[:-2]
    elif name.endswith("64"):
        base = name[:-2]
    if base == "xchg":
        imm = AtomicOp.XCHG
    elif base == "cmpxchg":
        imm = AtomicOp.CMPXCHG
    elif base in ATOMIC_PLAIN_OPS:
        imm = ATOMIC_FETCH_OPS[base] if fetch else ATOMIC_PLAIN_OPS[base]
    else:
        raise _err(f"unknown atomic operation {name!r}", name_span)
    dst, off = _mem(mem_op)
    return ops.atomic(imm, size, dst, _reg(operands[1]), off), None


Handler = Callable[[Operands, object], Parsed]
#: mnemonic -> (handler, argument, operand count or None when the handler checks it).
MNEMONICS: dict[str, tuple[Handler, object, "int | None"]] = {}


def _build() -> None:
    t = MNEMONICS
    for name, (op, signed) in _ALU_OPS.items():
        for suffix, make in (("", ops.alu), ("64", ops.alu), ("32", ops.alu32)):
            t[name + suffix] = (_alu, (make, op, signed), 2)
    for suffix, make in (("", ops.neg), ("64", ops.neg), ("32", ops.neg32)):
        t["neg" + suffix] = (_neg, make, 1)
    for bits, widths in ((8, (32, 64)), (16, (32, 64)), (32, (64,))):
        for width in widths:
            t[f"movsx{bits}{width}"] = (_movsx, (ops.movsx if width == 64 else ops.movsx32, bits), 2)
    for bits in (16, 32, 64):
        t[f"be{bits}"] = (_end, (ops.to_be, bits), 1)
        t[f"le{bits}"] = (_end, (ops.to_le, bits), 1)
        t[f"swap{bits}"] = (_end, (ops.bswap, bits), 1)
        t[f"bswap{bits}"] = (_end, (ops.bswap, bits), 1)
    t["addr_space_cast"] = (_addr_space_cast, None, 4)
    t["lddw"] = (_lddw, None, None)
    for sfx, size in _SIZES.items():
        t["ldx" + sfx] = (_ldx, (size, False), 2)
        t["st" + sfx] = (_st, size, 2)
        t["stx" + sfx] = (_stx, size, 2)
        t["ldabs" + sfx] = (_ldabs, size, 1)
        t["ldind" + sfx] = (_ldind, size, 2)
        if size != Size.DW:
            t["ldxs" + sfx] = (_ldx, (size, True), 2)
    t["ja"] = (_ja, (ops.ja, 16), 1)
    t["ja32"] = (_ja, (ops.gotol, 32), 1)
    t["may_goto"] = (_ja, (ops.may_goto, 16), 1)
    for name, op in _JMP_OPS.items():
        t[name] = (_jcond, (ops.jmp, op), 3)
        t[name + "32"] = (_jcond, (ops.jmp32, op), 3)
    t["exit"] = (_exit, None, 0)
    t["call"] = (_call, None, None)
    t["callx"] = (_callx, None, 1)
    t["lock"] = (_lock, None, None)


_build()


def parse_ubpf(text: str) -> Parsed:
    """One instruction in the uBPF dialect (comments and labels already removed)."""
    parts = text.split(None, 1)
    mnemonic = parts[0]
    entry = MNEMONICS.get(mnemonic)
    if entry is None:
        lowered = MNEMONICS.get(mnemonic.lower())
        if lowered is None:
            raise LineError(f"unknown mnemonic {mnemonic!r}", start=0, length=len(mnemonic))
        entry = lowered
    handler, arg, count = entry
    if len(parts) == 1:
        operands: Operands = []
    else:
        rest = parts[1]
        operands = split_operands(rest, len(text) - len(rest))
    if count is not None:
        _count(operands, count, mnemonic, 0, len(text))
    elif not operands:
        raise LineError(f"'{mnemonic}' needs operands", start=0, length=len(mnemonic))
    for op in operands:
        if not op[0]:
            raise LineError("empty operand", start=op[1], length=1)
    return handler(operands, arg)


def fast_ubpf(text: str) -> Parsed | None:
    """parse_ubpf for a line written the usual way (`mnemonic a, b, c`: one space after the mnemonic, `, ` between
    operands, exact-case mnemonic); None for any other spelling and for any line parse_ubpf refuses (it then words
    the diagnostic). Common operands go through a shortcut (_FAST_HANDLERS) that reads only exact tokens (a
    register name, decimal digits, `[%rN+off]`), anything else through the same handler with the same operands and
    columns as parse_ubpf gives it."""
    mnemonic, sep, rest = text.partition(" ")
    entry = MNEMONICS.get(mnemonic)
    if entry is None:
        return None
    handler, arg, count = entry
    operands: Operands = []
    if sep:
        parts = rest.split(", ")
        fast = _FAST_HANDLERS.get(handler)
        if fast is not None and len(parts) == count:
            parsed = fast(parts, arg, len(mnemonic) + 1)
            if parsed is not None:
                return parsed
        if len(parts) != rest.count(",") + 1:
            return None  # a comma without its space
        pos = len(mnemonic) + 1
        for part in parts:
            if not part or part.strip() != part:
                return None
            operands.append((part, pos))
            pos += len(part) + 2
    if (count is not None and len(operands) != count) or (count is None and not operands):
        return None
    try:
        return handler(operands, arg)
    except LineError:
        return None


def _fast_imm(text: str) -> int | None:
    """A decimal immediate in 32-bit range as _imm reads it (None: let _imm decide)."""
    if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
        if text.isascii() and len(text) <= 12:
            value = int(text)  # (imm32 written out)
            if -0x80000000 <= value <= 0xFFFFFFFF:
                return value - 0x100000000 if value > 0x7FFFFFFF else value
    return None


# The shortcuts build instructions as the ops constructors their handlers call do, from plain ints (an enum member
# costs a class-attribute lookup, a constructor call more).
_new = tuple.__new__
_K, _X, _SDIV = int(Source.K), int(Source.X), int(SIGNED_DIVMOD_OFF)
_LDX, _STX_MEM, _ST_MEM = int(InsnClass.LDX), int(InsnClass.STX | Mode.MEM), int(InsnClass.ST | Mode.MEM)
_MODE_MEM, _MODE_MEMSX = int(Mode.MEM), int(Mode.MEMSX)
#: The class each ALU/jump constructor of the mnemonic table puts in the opcode.
_CLASS_OF: dict[Callable[..., Instruction], int] = {ops.alu: int(InsnClass.ALU64), ops.alu32: int(InsnClass.ALU),
                                                    ops.jmp: int(InsnClass.JMP), ops.jmp32: int(InsnClass.JMP32)}


def _fast_alu(parts: list[str], arg: tuple[Callable[..., Instruction], AluOp, bool], base: int) -> Parsed | None:
    dst = _REGS.get(parts[0])
    if dst is None:
        return None
    make, op, signed = arg
    code = _CLASS_OF[make] | op  # (ops.alu / ops.alu32)
    off = _SDIV if signed else 0
    src_text = parts[1]
    src = _REGS.get(src_text)
    if src is not None:
        return _new(Instruction, (code | _X, dst, src, off, 0, None)), None
    imm = _fast_imm(src_text)
    return None if imm is None else (_new(Instruction, (code | _K, dst, 0, off, imm, None)), None)


_FAST_MEM = re.compile(r"\[(%?r(?:10|[0-9]))(?:([+-])([0-9]{1,5}))?\]$", re.ASCII)


def _fast_mem(text: str) -> tuple[int, int] | None:
    """`[%rN]`, `[%rN+off]`, `[%rN-off]` with a decimal offset in 16-bit range, as _mem reads them (None: _mem)."""
    m = _FAST_MEM.match(text)
    if m is None:
        return None
    sign = m.group(2)
    if sign is None:
        return _REGS[m.group(1)], 0
    off = off16(-int(m.group(3)) if sign == "-" else int(m.group(3)), allow_unsigned=sign == "+")
    return None if off is None else (_REGS[m.group(1)], off)


def _fast_ldx(parts: list[str], arg: tuple[Size, bool], base: int) -> Parsed | None:
    dst, mem = _REGS.get(parts[0]), _fast_mem(parts[1])
    if dst is None or mem is None:
        return None
    opcode = _LDX | (_MODE_MEMSX if arg[1] else _MODE_MEM) | arg[0]  # (ops.ldx)
    return _new(Instruction, (opcode, dst, mem[0], mem[1], 0, None)), None


def _fast_stx(parts: list[str], size: Size, base: int) -> Parsed | None:
    mem, src = _fast_mem(parts[0]), _REGS.get(parts[1])
    if mem is None or src is None:
        return None
    return _new(Instruction, (_STX_MEM | size, mem[0], src, mem[1], 0, None)), None  # (ops.stx)


def _fast_st(parts: list[str], size: Size, base: int) -> Parsed | None:
    mem, imm = _fast_mem(parts[0]), _fast_imm(parts[1])
    if mem is None or imm is None:
        return None
    return _new(Instruction, (_ST_MEM | size, mem[0], 0, mem[1], imm, None)), None  # (ops.st)


def _fast_jcond(parts: list[str], arg: tuple[Callable[..., Instruction], JmpOp], base: int) -> Parsed | None:
    """`jeq %r1, %r2, +3` / `jeq32 %r1, 5, L`: decimal offsets in 16-bit range or a label (None: _jcond decides)."""
    dst, target = _REGS.get(parts[0]), parts[2]
    if dst is None:
        return None
    make, op = arg
    c = target[:1]
    fix = None
    if c == "+" or c == "-":
        if not target[1:].isdigit() or not target.isascii() or len(target) > 7:
            return None
        off = off16(int(target))
        if off is None:
            return None
    elif target in _REGS or _LABEL.match(target) is None:
        return None
    else:
        off = 0
        fix = Fixup(FixupKind.LABEL_OFF, target, base + len(parts[0]) + len(parts[1]) + 4, len(target))
    code = _CLASS_OF[make] | op  # (ops.jmp / ops.jmp32)
    src = _REGS.get(parts[1])
    if src is not None:
        return _new(Instruction, (code | _X, dst, src, off, 0, None)), fix
    imm = _fast_imm(parts[1])
    return None if imm is None else (_new(Instruction, (code | _K, dst, 0, off, imm, None)), fix)


#: Handlers with a shortcut for their usual operands (each returns what the handler returns, or None: ask it).
_FAST_HANDLERS: dict[Callable[..., Parsed], Callable[..., "Parsed | None"]] = {
    _alu: _fast_alu, _ldx: _fast_ldx, _stx: _fast_stx, _st: _fast_st, _jcond: _fast_jcond,
}


def looks_ubpf(first_word: str) -> bool:
    """True when a line starting with this word can only be the uBPF dialect."""
    return first_word in MNEMONICS and first_word not in ("exit", "call", "callx", "may_goto", "lock")


__all__ = ["parse_ubpf", "fast_ubpf", "looks_ubpf", "MNEMONICS", "split_operands"]
