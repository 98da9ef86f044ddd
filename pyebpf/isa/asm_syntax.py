"""What both assembly dialects share: numbers, registers, range checks, and how a parser reports a problem.

A dialect parser turns the text of one instruction into an `Instruction` plus at most one `Fixup` (a name that
can only be resolved once the whole file is read: a label, a map, a helper or function name). It reports a bad
line by raising `LineError` with the character span of the offending token, so the assembler can put a caret
under it and carry on with the next line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pyebpf.abi.opcodes import AtomicOp, Size
from pyebpf.abi.widths import S16_MAX, S16_MIN, S32_MIN, S64_MIN, U32, U64, s32, s64

U32_MAX, U64_MAX = U32, U64


class LineError(Exception):
    """A problem in one instruction: `start`/`length` index the instruction text (0-based), or `token` indexes
    the parser's token list and the dialect module converts it to characters."""

    def __init__(self, message: str, token: int | None = None, start: int | None = None, length: int = 1):
        super().__init__(message)
        self.message = message
        self.token = token
        self.start = start
        self.length = length


class FixupKind(Enum):
    LABEL_OFF = "label_off"  # branch target into `off` (16-bit)
    LABEL_IMM = "label_imm"  # gotol / pseudo call / pseudo func target into `imm` (32-bit)
    CALL_NAME = "call_name"  # `call NAME`: a local function, a kfunc declared with .kfunc, or a helper
    MAP = "map"  # lddw map[NAME] / map_value[NAME]: NAME must be a declared map
    RELOC = "reloc"  # llvm-objdump relocation record naming the symbol of the previous instruction


@dataclass(frozen=True)
class Fixup:
    """A name in an instruction to resolve after every line is read; `start`/`length` locate it in the text."""

    kind: FixupKind
    name: str
    start: int = 0
    length: int = 1
    number: int | None = None  # kernel `call name#N`: the number printed after the name


# ---- numbers ----------------------------------------------------------------------------------------------------

#: Longer digit strings are no eBPF value (a 64-bit value needs at most 66 characters, `0b` and 64 binary digits):
#: they are read as "too large" without converting them, so a hostile 1 MB number costs nothing.
MAX_NUMBER_CHARS = 100
#: What parse_int returns for an over-long number: beyond every field's range, so each caller reports it as out of
#: range in its own words.
TOO_LARGE = 1 << (8 * MAX_NUMBER_CHARS)


def parse_int(text: str) -> int | None:
    """Decimal, hex (0x), octal (0o) or binary (0b) integer with an optional sign; None if it is not one.

    ASCII digits only (`str.isdigit` is true for `²`, which `int()` refuses); an over-long number is +/-TOO_LARGE.
    """
    if text.isdigit() and text.isascii() and len(text) <= MAX_NUMBER_CHARS:
        return int(text)
    if text[:1] == "-" and text[1:].isdigit() and text.isascii() and len(text) <= MAX_NUMBER_CHARS:
        return -int(text[1:])  # (the common negative immediate, without the general path below)
    t = text.strip()
    neg = False
    if t[:1] in ("+", "-"):
        neg = t[0] == "-"
        t = t[1:].lstrip()
    if not t or not t.isascii():
        return None
    head = t[:2]
    if head in ("0x", "0X"):
        digits, base = t[2:], 16
    elif head in ("0o", "0O"):
        digits, base = t[2:], 8
    elif head in ("0b", "0B"):
        digits, base = t[2:], 2
    elif t.isdigit():
        digits, base = t, 10
    else:
        return None
    if len(digits) > MAX_NUMBER_CHARS:
        if not _DIGITS[base].fullmatch(digits):
            return None
        value = TOO_LARGE
    else:
        try:
            value = int(digits, base)
        except ValueError:
            return None
    return -value if neg else value


_DIGITS = {16: re.compile(r"[0-9a-fA-F_]+"), 8: re.compile(r"[0-7_]+"), 2: re.compile(r"[01_]+"),
           10: re.compile(r"[0-9_]+")}


def imm32(value: int) -> int | None:
    """A 32-bit immediate as the signed field value: -2^31..2^32-1 accepted (unsigned spellings wrap), else None."""
    if S32_MIN <= value <= U32_MAX:
        return s32(value)
    return None


def imm64(value: int) -> int | None:
    if S64_MIN <= value <= U64_MAX:
        return s64(value)
    return None


def off16(value: int, allow_unsigned: bool = False) -> int | None:
    """A 16-bit signed offset; `allow_unsigned` lets 0x8000..0xffff wrap as the conformance assembler does."""
    if S16_MIN <= value <= S16_MAX:
        return value
    if allow_unsigned and 0 <= value <= 0xFFFF:
        return value - 0x10000
    return None


# ---- registers --------------------------------------------------------------------------------------------------

#: `r0`..`r10` (64-bit view) and `w0`..`w10` (32-bit view) -> (number, is_32bit).
REGISTERS: dict[str, tuple[int, bool]] = {}
for _n in range(11):
    REGISTERS[f"r{_n}"] = (_n, False)
    REGISTERS[f"w{_n}"] = (_n, True)
    REGISTERS[f"R{_n}"] = (_n, False)

# ---- tables both dialects name ------------------------------------------------------------------------------------

#: The C type in `*(u32 *)` -> (size, sign-extending).
MEM_TYPES: dict[str, tuple[Size, bool]] = {
    "u8": (Size.B, False), "u16": (Size.H, False), "u32": (Size.W, False), "u64": (Size.DW, False),
    "s8": (Size.B, True), "s16": (Size.H, True), "s32": (Size.W, True),
}

ATOMIC_FETCH_OPS: dict[str, AtomicOp] = {
    "add": AtomicOp.FETCH_ADD, "or": AtomicOp.FETCH_OR, "and": AtomicOp.FETCH_AND, "xor": AtomicOp.FETCH_XOR,
}
ATOMIC_PLAIN_OPS: dict[str, AtomicOp] = {
    "add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR,
}


def shorten(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` characters for a message (hostile input may be megabytes long)."""
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def show_number(value: int) -> str:
    """A parsed number for a message: over-long input shows as such instead of as TOO_LARGE's digits."""
    if abs(value) >= TOO_LARGE:
        return f"{'-' if value < 0 else ''}(more than {MAX_NUMBER_CHARS} digits)"
    return str(value)


def out_of_range(what: str, text: str, bits: int) -> str:
    return f"{what} {shorten(text)} out of {bits}-bit range"
