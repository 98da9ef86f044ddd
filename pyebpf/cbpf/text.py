"""Text to classic BPF: `tcpdump -d`, `-dd`, `-ddd`, bpf_asm's source syntax and its `N,c jt jf k,...` output.

`detect_format` decides from the first meaningful line; `parse` reads any of them. Every mistake is an AsmError
with line:column (all of them, not only the first), never a silently dropped line.
"""
from __future__ import annotations

import re
from typing import Callable

from pyebpf.abi.cbpf import (
    BPF_MAXINSNS, SKF_AD_ASM_ALIASES, SKF_AD_ASM_NAMES, SKF_AD_OFF, SKF_AD_PCAP_NAMES, CClass, CMode, CSize, CSrc,
    MiscOp, RetVal,
)
from pyebpf.abi.opcodes import AluOp, JmpOp
from pyebpf.cbpf.disasm import _ALU_NAMES, _JMP_NAMES, _LD_NAMES
from pyebpf.cbpf.insn import ClassicProgram, SockFilter
from pyebpf.errors import AsmDiagnostic, AsmError

MAX_TEXT = 4 << 20  # characters; a classic program of 4096 instructions is far smaller
_U32 = 0xFFFFFFFF

_PCAP_LINE = re.compile(r"^\(([0-9]+)\)\s+(\S+)\s*(.*?)\s*$")
_PCAP_JUMPS = re.compile(r"^(.*?)\s*jt\s+([0-9]+)\s+jf\s+([0-9]+)$")
_C_LINE = re.compile(r"^\{\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\}\s*,?$")
_RAW_HEAD = re.compile(r"^[0-9]+\s*,")
_DDD_LINE = re.compile(r"^[0-9]+\s+[0-9]+\s+[0-9]+\s+[0-9]+$")
#: str.isdigit() also takes "²" and other digits int() refuses; tcpdump prints ASCII digits only
_ASCII_DIGITS = re.compile(r"[0-9]+")
_LABEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*")
_NUMBER = r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)"

_EXT_NAMES = {**{v: k for k, v in SKF_AD_ASM_NAMES.items()}, **SKF_AD_ASM_ALIASES,
              **{v: k for k, v in SKF_AD_PCAP_NAMES.items()}}
_LD_SIZES = {v: k for k, v in _LD_NAMES.items()}
_ALU_OPS = {v: k for k, v in _ALU_NAMES.items()}
_JMP_OPS = {v: k for k, v in _JMP_NAMES.items()}
#: bpf_asm's one-target jumps that invert: `jne #k, L` is `jeq #k, next, L` (jt 0, jf L)
_INVERTED = {"jne": JmpOp.JEQ, "jneq": JmpOp.JEQ, "jlt": JmpOp.JGE, "jle": JmpOp.JGT}


class _Bad(Exception):
    """A problem at (column, message) within the current line."""

    def __init__(self, message: str, column: int = 1):
        super().__init__(message)
        self.message, self.column = message, column


def _number(text: str, column: int = 1) -> int:
    t = text.strip()
    if len(t) > 40 or not re.fullmatch(_NUMBER, t):
        raise _Bad(f"expected a number, got {t!r}", column)
    neg = t.startswith("-")
    body = t.lstrip("+-")
    if body[:2].lower() == "0x":
        v = int(body[2:], 16)
    elif body[:2].lower() == "0b":
        v = int(body[2:], 2)
    elif len(body) > 1 and body.startswith("0"):
        v = int(body, 8) if re.fullmatch(r"[0-7]+", body) else _raise(f"bad octal number {t!r}", column)
    else:
        v = int(body)
    if v > _U32 or (neg and v > 1 << 31):
        raise _Bad(f"{t} does not fit in 32 bits", column)
    return (-v if neg else v) & _U32


def _raise(message: str, column: int) -> int:
    raise _Bad(message, column)


def detect_format(text: str) -> str:
    """'tcpdump' (-d), 'c' (-dd / bpf_asm -c), 'ddd' (-ddd), 'bpf_asm_raw' (bpf_asm's default output) or 'bpf_asm'."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("#", ";", "//"))]
    if not lines:
        return "bpf_asm"
    first = lines[0]
    if _PCAP_LINE.match(first):
        return "tcpdump"
    if first.startswith("{"):
        return "c"
    if _RAW_HEAD.match(first) and "," in first:
        return "bpf_asm_raw"
    if (_ASCII_DIGITS.fullmatch(first) and len(lines) > 1 and len(first) <= 6 and int(first) == len(lines) - 1
            and all(_DDD_LINE.match(ln) for ln in lines[1:])):
        return "ddd"
    return "bpf_asm"


def looks_classic(text: str) -> bool:
    """True for text only classic tools print (tcpdump -d / -dd / -ddd, bpf_asm output): the CLI's auto-detection.
    bpf_asm source is not claimed (its mnemonics overlap eBPF assembly's); `--classic` selects it."""
    return detect_format(text) in ("tcpdump", "c", "ddd", "bpf_asm_raw")


# ---- operands (shared by the tcpdump and bpf_asm syntaxes) ----------------------------------------------------------
def _ext(word: str, column: int) -> int | None:
    w = word.lower().lstrip("#")
    if w in _EXT_NAMES:
        return (SKF_AD_OFF + _EXT_NAMES[w]) & _U32
    return None


def _load(mnem: str, operand: str, col: int) -> tuple[int, int]:
    """LD/LDX forms -> (code, k)."""
    o = operand.replace(" ", "").replace("\t", "")
    low = o.lower()
    is_x = mnem.startswith("ldx")
    cls = CClass.LDX if is_x else CClass.LD
    if mnem in ("ldi", "ldxi"):
        return cls | CMode.IMM, _number(o.lstrip("#"), col)
    if low in ("#len", "len", "#pktlen") and mnem in ("ld", "ldx"):
        return cls | CSize.W | CMode.LEN, 0
    m = re.fullmatch(r"4\*\(\[(.+)\]&(.+)\)", o)
    if m and mnem in ("ldx", "ldxb"):
        if _number(m.group(2), col) != 0xF:
            raise _Bad("only 4*([k]&0xf) exists", col)
        return CClass.LDX | CSize.B | CMode.MSH, _number(m.group(1), col)
    m = re.fullmatch(r"[mM]\[(.+)\]", o)
    if m and mnem in ("ld", "ldx"):
        return cls | CMode.MEM, _number(m.group(1), col)
    if o.startswith("#") and mnem in ("ld", "ldx") and _ext(o, col) is None:
        return cls | CMode.IMM, _number(o[1:], col)
    if mnem in _LD_SIZES:
        size = _LD_SIZES[mnem]
        ext = _ext(o[1:-1] if o.startswith("[") and o.endswith("]") else o, col)
        if ext is not None:
            return CClass.LD | size | CMode.ABS, ext
        m = re.fullmatch(r"\[%?[xX]\+(.+)\]", o)
        if m:
            return CClass.LD | size | CMode.IND, _number(m.group(1), col)
        m = re.fullmatch(r"\[(.+)\]", o)
        if m:
            return CClass.LD | size | CMode.ABS, _number(m.group(1), col)
    raise _Bad(f"`{mnem}` does not take operand {operand!r}", col)


def _k_or_x(mnem: str, operand: str, col: int) -> tuple[int, int]:
    o = operand.strip()
    if o.lower() in ("x", "%x"):
        return CSrc.X, 0
    if o.startswith("#"):
        return CSrc.K, _number(o[1:], col)
    raise _Bad(f"`{mnem}` takes #k or x, not {operand!r}", col)


def _insn(mnem: str, operand: str, col: int) -> tuple[int, int]:
    """Non-jump instruction -> (code, k)."""
    if mnem in ("ld", "ldh", "ldb", "ldi", "ldx", "ldxi", "ldxb"):
        return _load(mnem, operand, col)
    if mnem in ("st", "stx"):
        m = re.fullmatch(r"\s*[mM]\s*\[(.+)\]\s*", operand)
        if not m:
            raise _Bad(f"`{mnem}` takes M[k], not {operand!r}", col)
        return (CClass.ST if mnem == "st" else CClass.STX), _number(m.group(1), col)
    if mnem in _ALU_OPS:
        src, k = _k_or_x(mnem, operand, col)
        return CClass.ALU | _ALU_OPS[mnem] | src, k
    if mnem in ("neg", "tax", "txa"):
        if operand.strip():
            raise _Bad(f"`{mnem}` takes no operand", col)
        return {"neg": CClass.ALU | AluOp.NEG, "tax": CClass.MISC | MiscOp.TAX,
                "txa": CClass.MISC | MiscOp.TXA}[mnem], 0
    if mnem == "ret":
        o = operand.strip().lower()
        if o in ("", "a", "%a"):
            return CClass.RET | RetVal.A, 0
        if o in ("x", "%x"):
            return CClass.RET | RetVal.X, 0
        if o.startswith("#"):
            return CClass.RET | RetVal.K, _number(o[1:], col)
        raise _Bad(f"`ret` takes #k, a or x, not {operand!r}", col)
    if mnem == "unimp":  # tcpdump's line for a code it cannot name: keep the code (k is not printed)
        return _number(operand, col) & 0xFFFF, 0
    raise _Bad(f"unknown classic instruction `{mnem}`", 1)


# ---- whole texts -----------------------------------------------------------------------------------------------------
def _collect(lines: list[tuple[int, str]], one: Callable[[str, int], SockFilter], filename: str) -> ClassicProgram:
    diags: list[AsmDiagnostic] = []
    out: list[SockFilter] = []
    for lineno, line in lines:
        try:
            out.append(one(line, len(out)))
        except _Bad as e:
            diags.append(AsmDiagnostic(lineno, e.column, e.message, line))
        if len(out) > BPF_MAXINSNS * 16:
            diags.append(AsmDiagnostic(lineno, 1, f"more than {BPF_MAXINSNS * 16} instructions", line))
            break
    if diags:
        raise AsmError(diags, filename)
    if not out:
        raise AsmError(AsmDiagnostic(1, 1, "no instructions"), filename)
    return ClassicProgram(out)


def _meaningful(text: str) -> list[tuple[int, str]]:
    if len(text) > MAX_TEXT:
        raise AsmError(AsmDiagnostic(1, 1, f"input of {len(text)} characters is longer than {MAX_TEXT}"))
    return [(n, ln.rstrip()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]


def parse_tcpdump(text: str, filename: str = "<input>") -> ClassicProgram:
    def one(line: str, index: int) -> SockFilter:
        m = _PCAP_LINE.match(line.strip())
        if not m:
            raise _Bad("expected `(NNN) op operand` as tcpdump -d prints it")
        n, mnem, rest = int(m.group(1)), m.group(2).lower(), m.group(3)
        col = line.find(rest) + 1 if rest else len(line) + 1
        if n != index:
            raise _Bad(f"line numbered ({n:03d}) where instruction {index} was expected")
        if mnem == "ja":
            target = _number(rest, col)
            if target <= n:
                raise _Bad(f"ja to {target}: classic jumps go forward only", col)
            return SockFilter(CClass.JMP | JmpOp.JA, 0, 0, target - n - 1)
        if mnem in _JMP_OPS:
            j = _PCAP_JUMPS.match(rest)
            if not j:
                raise _Bad(f"`{mnem}` needs `jt N jf N`", col)
            src, k = _k_or_x(mnem, j.group(1), col)
            jt, jf = int(j.group(2)) - n - 1, int(j.group(3)) - n - 1
            if not (0 <= jt <= 255 and 0 <= jf <= 255):
                raise _Bad(f"jump targets {j.group(2)}/{j.group(3)} are not 1..256 instructions ahead", col)
            return SockFilter(CClass.JMP | _JMP_OPS[mnem] | src, jt, jf, k)
        code, k = _insn(mnem, rest, col)
        return SockFilter(code, 0, 0, k)
    return _collect(_meaningful(text), one, filename)


def parse_c_array(text: str, filename: str = "<input>") -> ClassicProgram:
    def one(line: str, index: int) -> SockFilter:
        m = _C_LINE.match(line.strip())
        if not m:
            raise _Bad("expected `{ code, jt, jf, k },` as tcpdump -dd prints it")
        vals = [_number(g, line.find(g) + 1) for g in m.groups()]
        return _fitted(vals, line)
    lines = [(n, ln) for n, ln in _meaningful(text) if not ln.strip().startswith(("//", "/*", "#"))]
    return _collect(lines, one, filename)


def _fitted(vals: list[int], line: str) -> SockFilter:
    for name, v, high in zip(("code", "jt", "jf", "k"), vals, (0xFFFF, 0xFF, 0xFF, _U32)):
        if v > high:
            raise _Bad(f"{name} {v} does not fit in [0, {high}]", 1)
    return SockFilter(*vals)


def parse_ddd(text: str, filename: str = "<input>") -> ClassicProgram:
    lines = _meaningful(text)
    if not lines:
        raise AsmError(AsmDiagnostic(1, 1, "no instructions"), filename)
    count_line, body = lines[0], lines[1:]

    def one(line: str, index: int) -> SockFilter:
        fields = line.split()
        if len(fields) != 4:
            raise _Bad("expected `code jt jf k` as tcpdump -ddd prints it")
        return _fitted([_number(t) for t in fields], line)
    prog = _collect(body, one, filename)
    if not _ASCII_DIGITS.fullmatch(count_line[1].strip()) or int(count_line[1].strip()) != len(prog):
        raise AsmError(AsmDiagnostic(count_line[0], 1, f"count {count_line[1].strip()} but {len(prog)} "
                                     "instructions follow", count_line[1]), filename)
    return prog


def parse_bpf_asm_raw(text: str, filename: str = "<input>") -> ClassicProgram:
    flat = " ".join(text.split("\n")).strip().rstrip(",")
    parts = [p.strip() for p in flat.split(",")]
    try:
        count = _number(parts[0])
        if any(len(p.split()) != 4 for p in parts[1:]):
            raise _Bad("each instruction is `code jt jf k`")
        insns = [_fitted([_number(t) for t in p.split()], p) for p in parts[1:]]
    except (_Bad, ValueError) as e:
        raise AsmError(AsmDiagnostic(1, getattr(e, "column", 1), str(e), text.strip()[:200]), filename) from None
    if count != len(insns):
        raise AsmError(AsmDiagnostic(1, 1, f"count {count} but {len(insns)} instructions follow"), filename)
    if not insns:
        raise AsmError(AsmDiagnostic(1, 1, "no instructions"), filename)
    return ClassicProgram(insns)


def _strip_asm_comment(line: str) -> str:
    if line.startswith("#"):  # bpf_asm's `^#.*` (cpp leftovers); operands start with `#` only after a mnemonic
        return ""
    line = re.sub(r"/\*.*?\*/", " ", line)
    for marker in (";", "//"):
        pos = line.find(marker)
        if pos >= 0:
            line = line[:pos]
    return line


def parse_bpf_asm(text: str, filename: str = "<input>") -> ClassicProgram:
    """tools/bpf bpf_asm source: `label:` definitions, jumps naming labels, `;` and /* */ comments, case-insensitive
    mnemonics; numbers in decimal, 0x hex, 0b binary or 0-prefixed octal."""
    pending: list[tuple[int, str, str, int]] = []  # lineno, source line, instruction text, column
    labels: dict[str, int] = {}
    diags: list[AsmDiagnostic] = []
    for lineno, raw in _meaningful(text):
        line = _strip_asm_comment(raw)
        col = 1
        while True:
            m = _LABEL.match(line.lstrip())
            if not m:
                break
            name = m.group(1)
            if name in labels:
                diags.append(AsmDiagnostic(lineno, col, f"label `{name}` defined twice", raw))
            labels[name] = len(pending)
            offset = len(line) - len(line.lstrip()) + m.end()
            col += offset
            line = line[offset:]
        if line.strip():
            pending.append((lineno, raw, line.strip(), raw.find(line.strip()) + 1))
        if len(pending) > BPF_MAXINSNS * 16:
            diags.append(AsmDiagnostic(lineno, 1, f"more than {BPF_MAXINSNS * 16} instructions", raw))
            break
    out: list[SockFilter] = []
    for index, (lineno, raw, body, col) in enumerate(pending):
        try:
            out.append(_asm_insn(body, index, labels, col))
        except _Bad as e:
            diags.append(AsmDiagnostic(lineno, e.column, e.message, raw))
    if diags:
        raise AsmError(diags, filename)
    if not out:
        raise AsmError(AsmDiagnostic(1, 1, "no instructions"), filename)
    return ClassicProgram(out)


def _target(label: str, index: int, labels: dict[str, int], col: int) -> int:
    name = label.strip()
    if name not in labels:
        raise _Bad(f"no such label `{name}`", col)
    delta = labels[name] - index - 1
    if delta < 0:
        raise _Bad(f"jump to `{name}` goes backwards: classic jumps go forward only", col)
    return delta


def _asm_insn(body: str, index: int, labels: dict[str, int], col: int) -> SockFilter:
    parts = body.split(None, 1)
    mnem = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    ocol = col + (body.find(rest) if rest else len(body))
    if mnem in ("ja", "jmp"):
        delta = _target(rest, index, labels, ocol)
        return SockFilter(CClass.JMP | JmpOp.JA, 0, 0, delta)
    if mnem in _JMP_OPS or mnem in _INVERTED:
        fields = [f.strip() for f in rest.split(",")]
        cols, pos = [], 0
        for f in rest.split(","):  # the column of each field, for errors about one label
            cols.append(ocol + pos + len(f) - len(f.lstrip()))
            pos += len(f) + 1
        src, k = _k_or_x(mnem, fields[0], ocol)
        if mnem in _INVERTED:
            if len(fields) != 2:
                raise _Bad(f"`{mnem}` takes an operand and one label", ocol)
            return SockFilter(CClass.JMP | _INVERTED[mnem] | src, 0,
                              _fit8(_target(fields[1], index, labels, cols[1])), k)
        if len(fields) not in (2, 3):
            raise _Bad(f"`{mnem}` takes an operand and one or two labels", ocol)
        jt = _fit8(_target(fields[1], index, labels, cols[1]))
        jf = _fit8(_target(fields[2], index, labels, cols[2])) if len(fields) == 3 else 0
        return SockFilter(CClass.JMP | _JMP_OPS[mnem] | src, jt, jf, k)
    code, k = _insn(mnem, rest, ocol)
    return SockFilter(code, 0, 0, k)


def _fit8(delta: int) -> int:
    if delta > 255:
        raise _Bad(f"jump of {delta} instructions is out of range (jt/jf skip at most 255)")
    return delta


PARSERS = {"tcpdump": parse_tcpdump, "c": parse_c_array, "ddd": parse_ddd, "bpf_asm_raw": parse_bpf_asm_raw,
           "bpf_asm": parse_bpf_asm}


def parse(text: str, fmt: str | None = None, filename: str = "<input>") -> ClassicProgram:
    """Read classic BPF text in `fmt` (one of PARSERS), or in the format detect_format finds."""
    fmt = fmt or detect_format(text)
    if fmt not in PARSERS:
        raise AsmError(AsmDiagnostic(1, 1, f"unknown classic format {fmt!r} (choose from {', '.join(PARSERS)})"),
                       filename)
    return PARSERS[fmt](text, filename)


__all__ = ["detect_format", "looks_classic", "parse", "parse_tcpdump", "parse_c_array", "parse_ddd",
           "parse_bpf_asm_raw", "parse_bpf_asm", "PARSERS"]
