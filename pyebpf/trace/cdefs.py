"""C struct and union definitions at the top of a script (`struct foo { int a; char b[16]; }`), as bpftrace 0.17
accepts before its probes, then `((struct foo *)arg0)->a` and `sizeof(struct foo)`.

bpftrace hands them to clang; pyebpf reads the subset scripts use: members of C integer types (`unsigned long`,
`u32`, `int64_t`...), `char` arrays, arrays, pointers, other structs (defined earlier in the script, or the
kernel's from BTF: `struct task_struct *`), and kernel typedefs (`pid_t`). The layout is C's (each member at its
alignment, the struct rounded to its largest), and the types join the kernel's in pyebpf.trace.btfaccess under ids
of their own, so casts, `->`, `.` and sizeof read them exactly as kernel types.
"""
from __future__ import annotations

import re
from typing import Any

from pyebpf.trace import ast as A
from pyebpf.trace.errors import Source, TraceError

MAX_MEMBERS = 1024
MAX_ELEMS = 1 << 24
#: C integer type words -> (size, signed)
INT_WORDS = {
    ("char",): (1, True), ("signed", "char"): (1, True), ("unsigned", "char"): (1, False),
    ("short",): (2, True), ("short", "int"): (2, True), ("unsigned", "short"): (2, False),
    ("unsigned", "short", "int"): (2, False), ("signed", "short"): (2, True),
    ("int",): (4, True), ("signed",): (4, True), ("signed", "int"): (4, True), ("unsigned",): (4, False),
    ("unsigned", "int"): (4, False),
    ("long",): (8, True), ("long", "int"): (8, True), ("signed", "long"): (8, True), ("unsigned", "long"): (8, False),
    ("unsigned", "long", "int"): (8, False), ("long", "long"): (8, True), ("long", "long", "int"): (8, True),
    ("signed", "long", "long"): (8, True), ("unsigned", "long", "long"): (8, False),
    ("unsigned", "long", "long", "int"): (8, False), ("_Bool",): (1, False), ("bool",): (1, False),
}
#: fixed-width names scripts use without a header (the kernel's u8..s64, __u8..__s64, <stdint.h>'s)
for _bits in (8, 16, 32, 64):
    for _names, _signed in ((("u", "__u", "uint"), False), (("s", "__s", "int"), True)):
        for _p in _names:
            INT_WORDS[(f"{_p}{_bits}" + ("_t" if _p in ("uint", "int") else ""),)] = (_bits // 8, _signed)
INT_KEYWORDS = {"char", "short", "int", "long", "signed", "unsigned", "_Bool", "bool"}
QUALIFIERS = {"const", "volatile", "restrict", "__restrict"}
_TOKEN = re.compile(r"\s+|//[^\n]*|/\*.*?\*/|([A-Za-z_]\w*)|(0[xX][0-9a-fA-F]+|\d+)|([{}\[\];,*():])|(.)", re.DOTALL)


class StructDef(A.Node):
    """`struct NAME { members }`: members are (type words, pointer depth, member name, array dimensions, pos, end)."""

    _fields = ("kind", "name", "members")
    kind: str
    name: str
    members: list[tuple[list[str], int, str, list[int], int, int]]


class CDefinitionError(TraceError):
    """A definition clang would refuse: printed as bpftrace prints clang's diagnostic (in its definitions.h, one
    line below the script's), then bpftrace's own line."""

    def __init__(self, message: str, line: int, column: int, note: tuple[int, int, str] | None = None,
                 tail: str = "ERROR: Include headers with missing type definitions or install BTF information to your "
                             "system."):
        self.def_line, self.def_column, self.note, self.tail = line, column, note, tail
        super().__init__(message)

    def render(self) -> str:
        text = f"definitions.h:{self.def_line + 1}:{self.def_column}: error: {self.message}"
        if self.note is not None:
            text += f"\ndefinitions.h:{self.note[0] + 1}:{self.note[1]}: note: {self.note[2]}"
        return text + (f"\n{self.tail}" if self.tail else "")


def starts_definition(text: str, i: int) -> bool:
    return re.match(r"(struct|union)\s+[A-Za-z_]\w*\s*\{", text[i:i + 300]) is not None


class _Tokens:
    def __init__(self, src: Source, text: str, i: int):
        self.src, self.text, self.i = src, text, i
        self.tok: tuple[str, int, int] = ("", i, i)
        self.next()

    def next(self) -> tuple[str, int, int]:
        prev = self.tok
        while True:
            if self.i >= len(self.text):
                self.tok = ("", self.i, self.i)
                return prev
            m = _TOKEN.match(self.text, self.i)
            assert m is not None
            self.i = m.end()
            if m.lastindex is None:  # blank or comment
                continue
            self.tok = (m.group(), m.start(), m.end())
            return prev

    def expect(self, text: str, what: str = "") -> tuple[str, int, int]:
        if self.tok[0] != text:
            raise self.error(f"expected '{text}'{what}")
        return self.next()

    def ident(self) -> tuple[str, int, int]:
        if not re.fullmatch(r"[A-Za-z_]\w*", self.tok[0]):
            raise self.error("expected identifier")
        return self.next()

    def error(self, message: str) -> TraceError:
        pos = self.tok[1]
        return self.src.error(message if self.tok[0] else f"{message} before end of file", pos,
                              max(self.tok[2], pos + 1))


def parse_definition(src: Source, text: str, i: int) -> tuple[StructDef, int]:
    """The definition starting at offset `i` and the offset after it (and its optional ';')."""
    t = _Tokens(src, text, i)
    kind, start, _ = t.next()
    name = t.ident()[0]
    t.expect("{")
    members: list[tuple[list[str], int, str, list[int], int, int]] = []
    while t.tok[0] != "}":
        if not t.tok[0]:
            raise t.error("expected '}'")
        words: list[str] = []
        wpos = t.tok[1]
        while t.tok[0] in QUALIFIERS:
            t.next()
        if t.tok[0] in ("struct", "union", "enum"):
            words = [t.next()[0], t.ident()[0]]
            if t.tok[0] == "{":
                raise t.error("nested struct definitions are not supported by pyebpf trace: define it first")
        else:
            while t.tok[0] in INT_KEYWORDS or (not words and re.fullmatch(r"[A-Za-z_]\w*", t.tok[0])):
                words.append(t.next()[0])
                if words[0] not in INT_KEYWORDS:
                    break  # a typedef name: one word
            if not words:
                raise t.error("expected a type")
        while t.tok[0] in QUALIFIERS:
            t.next()
        while True:  # declarators: `*name[2][3]`, comma-separated
            depth = 0
            while t.tok[0] == "*":
                t.next()
                depth += 1
            while t.tok[0] in QUALIFIERS:
                t.next()
            mname, mpos, mend = t.ident()
            dims = []
            while t.tok[0] == "[":
                t.next()
                n = t.tok[0]
                if not re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", n) or not 0 <= int(n, 0) <= MAX_ELEMS:
                    raise t.error("expected an array size")
                dims.append(int(t.next()[0], 0))
                t.expect("]")
            if t.tok[0] == ":":
                raise t.error("bit-fields are not supported by pyebpf trace")
            members.append((words, depth, mname, dims, wpos, mend))
            if len(members) > MAX_MEMBERS:
                raise t.error("too many members")
            if t.tok[0] != ",":
                break
            t.next()
        t.expect(";", " after member declaration")
    end = t.next()[2]
    if t.tok[0] == ";":
        end = t.next()[2]
    return StructDef(start, end, kind, name, members), end


def register(src: Source, defs: list[StructDef]) -> None:
    """Lay the script's definitions out and give them to pyebpf.trace.btfaccess (which answers for them from
    now on, beside the kernel's types): an unknown type name is clang's error, as bpftrace prints it."""
    from pyebpf.trace import btfaccess as B

    local = B.LocalTypes()
    for d in defs:
        offset = size = align = 0
        sid = local.named(f"{d.kind} {d.name}")
        if sid is not None and local.complete(sid):
            line, col = src.position(d.pos)
            first = next(x for x in defs if x.kind == d.kind and x.name == d.name)
            pline, pcol = src.position(first.pos)
            raise CDefinitionError(f"redefinition of '{d.name}'", line, col + len(d.kind) + 1,
                                   (pline, pcol + len(d.kind) + 1, "previous definition is here"),
                                   "WARNING: Cannot take type definitions from BTF since there is a redefinition "
                                   "conflict with user-defined types.")
        sid = sid or local.declare(f"{d.kind} {d.name}")
        members: dict[str, tuple[int, int]] = {}
        for words, depth, mname, dims, wpos, mend in d.members:
            tid, msize, malign = _resolve(local, src, words, wpos, depth > 0, mend - len(mname))
            if depth:
                for _ in range(depth):
                    tid = local.add(["ptr", 8, False, tid, 0], "pointer")
                msize = malign = 8
            for n in reversed(dims):
                elem_shape = local.shape(tid)
                kind = "chars" if elem_shape.kind == "int" and elem_shape.size == 1 else "array"
                tid = local.add([kind, msize * n if kind == "array" else n, False, tid, n], "array")
                msize *= n
            if d.kind == "union":
                mo = 0
                size = max(size, msize)
            else:
                offset = (offset + malign - 1) // malign * malign
                mo = offset
                offset += msize
                size = offset
            align = max(align, malign)
            members.setdefault(mname, (mo, tid))
        align = align or 1
        size = (size + align - 1) // align * align
        local.define(sid, size, align, members)
    B.use_local(local)


def _resolve(local: Any, src: Source, words: list[str], pos: int, pointee: bool = False, name_pos: int = 0
             ) -> tuple[int, int, int]:
    """(type id, size, alignment) of a member's type words (`pointee`: only pointed to, so a struct not defined
    (yet) is fine, as in C)."""
    from pyebpf.trace import btfaccess as B

    key = tuple(words)
    if key in INT_WORDS:
        size, signed = INT_WORDS[key]
        return local.add(["int", size, signed, 0, 0], " ".join(words)), size, size
    name = " ".join(words)
    tid = local.named(name) if words[0] in ("struct", "union") else None
    if tid is None and words[0] != "enum":
        tid = B.struct_id(name, local=False)
    if tid is None and words[0] == "enum":
        return local.add(["int", 4, False, 0, 0], name), 4, 4
    if pointee and words[0] in ("struct", "union") and (tid is None or not local.complete(tid)):
        return tid or local.declare(name), 0, 1
    if tid is not None and not local.complete(tid):
        tid = None
    if tid is None and words[0] in ("struct", "union"):  # clang: at the member, a note at the type's name
        line, col = src.position(name_pos)
        tline, tcol = src.position(src.text.index(words[1], pos))
        raise CDefinitionError(f"field has incomplete type '{name}'", line, col,
                               (tline, tcol, f"forward declaration of '{name}'"), "")
    if tid is None:
        line, col = src.position(pos)
        raise CDefinitionError(f"unknown type name '{words[-1]}'", line, col)
    size = local.size_of(tid)
    sh = local.shape(tid)
    align = local.align_of(tid) if sh.kind == "struct" else (size if sh.kind in ("int", "ptr") else
                                                              min(8, size & -size if size else 1))
    return tid, size, max(1, align)


__all__ = ["StructDef", "CDefinitionError", "starts_definition", "parse_definition", "register"]
