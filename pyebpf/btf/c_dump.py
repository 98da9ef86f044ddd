"""A whole BTF as a C header, `vmlinux.h`-style (what `bpftool btf dump file ... format c` gives BPF programs).

Order: every named struct/union is forward-declared first (so pointers never wait for a definition), then the
enums, then typedefs and struct/union definitions depth-first on what they need complete: a member held by value
needs its struct defined before, a member behind a pointer needs only the names. Anonymous structs, unions and
enums are written inline where they are used; names that two different types share get libbpf's `___2`, `___3`
suffixes. Layout is made exact rather than hoped for: where BTF puts a member later than C's natural alignment
would, unnamed bitfields (`long: 64;`) fill the hole; where a member sits below its natural alignment, the struct
is `__attribute__((packed))`; trailing bytes are padded the same way — so clang computes every offset and size that
BTF records (tests check this with _Static_assert over the running kernel's types).
"""
from __future__ import annotations

from pyebpf.abi.btf import BtfKind
from pyebpf.btf.c import COMPOSITES as _COMPOSITE, ENUMS as _ENUMS, MAX_DEPTH as _MAX_DEPTH, QUALIFIERS, Declarator
from pyebpf.btf.spec import MODIFIER_KINDS, Btf
_TAG_KINDS = (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FWD)
#: unnamed bitfields that fill a hole, widest first: (bits, C type)
_PAD_UNITS = ((64, "long"), (32, "int"), (16, "short"), (8, "char"))
#: typedefs the compiler already has: redefining them is an error, and the BPF target's own differ in size from
#: the kernel's (its va_list is a void *), so uses of them are written as what BTF says they are
COMPILER_BUILTINS = frozenset({"__builtin_va_list"})

HEADER = """#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
FOOTER = """#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""


def _round_up(value: int, to: int) -> int:
    return -(-value // to) * to


class CDumper(Declarator):
    """C text for the types of one Btf (see the module docstring); `dump()` gives the whole header."""

    def __init__(self, btf: Btf):
        super().__init__(btf)
        self._names: dict[int, str] = {}
        self._enumerators: dict[tuple[int, int], str] = {}
        self._assign_names()
        self._inline: set[int] = self._anonymous_uses()
        self._align: dict[int, int] = {}
        self._packed: dict[int, bool] = {}

    # ---- names -----------------------------------------------------------------------------------------------
    def _assign_names(self) -> None:
        """C names, with `___N` where two different types would otherwise share one (tags and ordinary names are
        separate namespaces in C; enumerators share the ordinary one with typedefs)."""
        btf = self.btf
        seen: dict[tuple[str, str], int] = {}
        complete_tags = {btf.name(i) for i, t in enumerate(self.types) if t.kind in _COMPOSITE and t.name_off}
        for i, t in enumerate(self.types):
            if not i or not t.name_off:
                continue
            name = btf.name(i)
            if t.kind == BtfKind.FWD:
                if name in complete_tags or ("tag", name) in seen:
                    self._names[i] = name  # the same tag as its definition (or as another declaration)
                    continue
            if t.kind in _TAG_KINDS:
                space = "tag"
            elif t.kind == BtfKind.TYPEDEF:
                space = "ordinary"
            else:
                self._names[i] = name
                continue
            self._names[i] = self._unique(seen, space, name)
        for i, t in enumerate(self.types):
            if t.kind in _ENUMS:
                for n, (name_off, _) in enumerate(t.members):
                    self._enumerators[(i, n)] = self._unique(seen, "ordinary", btf.str_at(name_off))

    @staticmethod
    def _unique(seen: dict[tuple[str, str], int], space: str, name: str) -> str:
        count = seen.get((space, name), 0) + 1
        seen[(space, name)] = count
        return name if count == 1 else f"{name}___{count}"

    def name(self, type_id: int) -> str:
        return self._names.get(type_id, "")

    def _anonymous_uses(self) -> set[int]:
        """Anonymous enums some other type refers to: written inline there, not at the top level."""
        used: set[int] = set()
        for t in self.types:
            refs: list[int] = []
            if t.kind in _COMPOSITE:
                refs = [m.type for m in t.members]
            elif t.kind == BtfKind.FUNC_PROTO:
                refs = [ty for _, ty in t.members] + [t.size_type]
            elif t.kind == BtfKind.ARRAY:
                refs = [t.array[0]]  # type: ignore[index]
            elif t.kind in MODIFIER_KINDS or t.kind == BtfKind.PTR:
                refs = [t.size_type]
            used.update(r for r in refs if r and self.types[r].kind in _ENUMS and not self.types[r].name_off)
        return used

    # ---- layout ----------------------------------------------------------------------------------------------
    def align_of(self, type_id: int, depth: int = 0) -> int:
        """Alignment C gives the type as we write it (a struct we mark packed aligns to 1)."""
        found = self._align.get(type_id)
        if found is None:
            self._align[type_id] = 1  # while computing: a struct that contains itself (hostile BTF) ends here
            found = self._align[type_id] = self._compute_align(type_id, depth)
        return found

    def _compute_align(self, type_id: int, depth: int) -> int:
        t = self.types[type_id]
        if depth > _MAX_DEPTH or type_id == 0:
            return 1
        if t.kind in (BtfKind.INT, BtfKind.FLOAT, BtfKind.ENUM, BtfKind.ENUM64):
            return min(max(t.size_type, 1), 16)
        if t.kind == BtfKind.PTR:
            return 8
        if t.kind == BtfKind.ARRAY:
            return self.align_of(t.array[0], depth + 1)  # type: ignore[index]
        if t.kind in MODIFIER_KINDS:
            return self.align_of(t.size_type, depth + 1)
        if t.kind in _COMPOSITE:
            natural = max((self.align_of(m.type, depth + 1) for m in t.members), default=1)
            return 1 if self.is_packed(type_id, natural) else natural
        return 1

    def is_packed(self, type_id: int, natural: int | None = None) -> bool:
        """A member below its natural alignment, or a size that is not a multiple of it: `packed` in C."""
        if type_id not in self._packed:
            t = self.types[type_id]
            if natural is None:
                natural = max((self.align_of(m.type) for m in t.members), default=1)
            misaligned = any(not m.bitfield_size and m.bits_offset % (self.align_of(m.type) * 8)
                             for m in t.members)
            self._packed[type_id] = bool(misaligned or t.size_type % natural)
        return self._packed[type_id]

    def _builtin(self, type_id: int) -> bool:
        return self.types[type_id].kind == BtfKind.TYPEDEF and self.name(type_id) in COMPILER_BUILTINS

    def decl(self, type_id: int, inner: str, indent: int = 0, depth: int = 0) -> str:
        if type_id and self._builtin(type_id):
            type_id = self.types[type_id].size_type
        return super().decl(type_id, inner, indent, depth)

    def anonymous(self, type_id: int, indent: int, depth: int) -> str:
        """Anonymous structs, unions and enums are written out where they are used."""
        if self.types[type_id].kind in _ENUMS:
            return self.enum_body(type_id, indent)
        return self.composite_body(type_id, indent, depth)

    # ---- definitions -----------------------------------------------------------------------------------------
    def composite_body(self, type_id: int, indent: int = 0, depth: int = 0) -> str:
        """`struct name {...}` with its members one level deeper than `indent` (no trailing `;`)."""
        t = self.types[type_id]
        tag = "struct" if t.kind == BtfKind.STRUCT else "union"
        head = f"{tag} {self.name(type_id)} {{" if self.name(type_id) else f"{tag} {{"
        tabs = "\t" * (indent + 1)
        lines = [head]
        packed = self.is_packed(type_id)
        align = self.align_of(type_id)
        pos = 0
        for m in t.members:
            member = self.decl(m.type, self.btf.str_at(m.name_off), indent + 1, depth + 1)
            if t.kind == BtfKind.UNION:
                lines.append(f"{tabs}{member}{f': {m.bitfield_size}' if m.bitfield_size else ''};")
                continue
            if m.bitfield_size:
                lines.extend(f"{tabs}{p}" for p in self._padding(pos, m.bits_offset))
                lines.append(f"{tabs}{member}: {m.bitfield_size};")
                pos = max(pos, m.bits_offset + m.bitfield_size)
                continue
            natural = _round_up(pos, 8 * (1 if packed else self.align_of(m.type)))
            if m.bits_offset > natural:
                lines.extend(f"{tabs}{p}" for p in self._padding(pos, m.bits_offset))
            lines.append(f"{tabs}{member};")
            pos = max(pos, m.bits_offset + 8 * self._size(m.type))
        if t.kind == BtfKind.UNION:
            natural = _round_up(max((self._size(m.type) for m in t.members), default=0), align)
            if t.size_type > natural:
                lines.append(f"{tabs}char __pad[{t.size_type}];")
        elif t.size_type * 8 > _round_up(pos, 8 * align):
            lines.extend(f"{tabs}{p}" for p in self._padding(pos, t.size_type * 8))
        tail = ("\t" * indent if len(lines) > 1 else "") + "}" + (" __attribute__((packed))" if packed else "")
        return "\n".join(lines + [tail]) if len(lines) > 1 else f"{head}{tail}"

    def _padding(self, start: int, end: int) -> list[str]:
        self.steps_left -= (end - start) // 64  # a hole of gigabytes is hostile BTF: give up rather than print it
        self.step()
        return _padding(start, end)

    def enum_body(self, type_id: int, indent: int = 0) -> str:
        t = self.types[type_id]
        name = self.name(type_id)
        tabs = "\t" * (indent + 1)
        wide = t.kind == BtfKind.ENUM64
        lines = [f"enum {name} {{" if name else "enum {"]
        for n, (_, value) in enumerate(t.members):
            suffix = ("LL" if t.kind_flag else "ULL") if wide else ""
            lines.append(f"{tabs}{self._enumerators[(type_id, n)]} = {value}{suffix},")
        tail = "\t" * indent + "}"
        return "\n".join(lines + [tail + (" __attribute__((packed))" if t.size_type < 4 else "")])

    def _size(self, type_id: int) -> int:
        try:
            return self.btf.size_of(type_id)
        except Exception:  # noqa: BLE001 - a member without a size (BtfError): count it as empty
            return 0

    # ---- order -----------------------------------------------------------------------------------------------
    def _needs(self, type_id: int, by_value: bool, out: list[int], depth: int = 0) -> None:
        """Named types that must be written before a use of `type_id`: typedefs always (their names cannot be
        forward-declared), structs and unions only when held by value."""
        self.step()
        if depth > _MAX_DEPTH or type_id == 0:
            return
        t = self.types[type_id]
        kind = t.kind
        if kind == BtfKind.PTR:
            self._needs(t.size_type, False, out, depth + 1)
        elif kind == BtfKind.ARRAY:
            self._needs(t.array[0], True, out, depth + 1)  # type: ignore[index]  # elements are always complete
        elif kind in QUALIFIERS or kind == BtfKind.TYPE_TAG:
            self._needs(t.size_type, by_value, out, depth + 1)
        elif kind == BtfKind.TYPEDEF and self._builtin(type_id):
            self._needs(t.size_type, by_value, out, depth + 1)
        elif kind == BtfKind.TYPEDEF:
            out.append(type_id)
            if by_value:
                self._needs(t.size_type, True, out, depth + 1)
        elif kind in _COMPOSITE:
            if self.name(type_id):
                if by_value:
                    out.append(type_id)
            else:  # written inline: its members are held by value right there
                for m in t.members:
                    self._needs(m.type, True, out, depth + 1)
        elif kind == BtfKind.FUNC_PROTO:
            self._needs(t.size_type, False, out, depth + 1)
            for _, ty in t.members:
                self._needs(ty, False, out, depth + 1)

    def _definition(self, type_id: int) -> str:
        t = self.types[type_id]
        if t.kind == BtfKind.TYPEDEF:
            return f"typedef {self.decl(t.size_type, self.name(type_id))};\n\n"
        return f"{self.composite_body(type_id)};\n\n"

    def dump(self) -> str:
        out = [HEADER]
        for i, t in enumerate(self.types):
            if t.kind in _COMPOSITE and self.name(i) and self._first_of_name(i):
                out.append(f"{'struct' if t.kind == BtfKind.STRUCT else 'union'} {self.name(i)};\n")
            elif t.kind == BtfKind.FWD and self._first_of_name(i) and not self._defined_tag(i):
                out.append(f"{'union' if t.kind_flag else 'struct'} {self.name(i)};\n")
        out.append("\n")
        for i, t in enumerate(self.types):
            if t.kind in _ENUMS and (t.name_off or i not in self._inline):
                out.append(f"{self.enum_body(i)};\n\n")
        state: dict[int, int] = {}  # 1: being written, 2: written
        for i, t in enumerate(self.types):
            if (t.kind == BtfKind.TYPEDEF or t.kind in _COMPOSITE) and self.name(i) and not self._builtin(i):
                self._emit(i, state, out)
        out.append(FOOTER)
        return "".join(out)

    def _emit(self, root: int, state: dict[int, int], out: list[str]) -> None:
        """Write `root` after everything it needs, depth-first without recursion (kernel chains are deep)."""
        stack: list[tuple[int, list[int] | None]] = [(root, None)]
        while stack:
            type_id, pending = stack.pop()
            if state.get(type_id) == 2:
                continue
            if pending is None:
                if state.get(type_id) == 1:
                    continue  # a cycle through by-value members cannot be written in C; the compiler will say
                state[type_id] = 1
                needs: list[int] = []
                t = self.types[type_id]
                if t.kind == BtfKind.TYPEDEF:
                    self._needs(t.size_type, False, needs)
                else:
                    for m in t.members:
                        self._needs(m.type, True, needs)
                pending = [n for n in needs if n != type_id]
            while pending and state.get(pending[-1]) == 2:
                pending.pop()
            if pending:
                nxt = pending.pop()
                stack.append((type_id, pending))
                if state.get(nxt) != 1:
                    stack.append((nxt, None))
                continue
            out.append(self._definition(type_id))
            state[type_id] = 2

    def _first_of_name(self, type_id: int) -> bool:
        name = self.name(type_id)
        return self._tag_owner.setdefault(name, type_id) == type_id

    def _defined_tag(self, type_id: int) -> bool:
        owner = self._tag_owner.get(self.name(type_id))
        return owner is not None and self.types[owner].kind in _COMPOSITE

    @property
    def _tag_owner(self) -> dict[str, int]:
        if not hasattr(self, "_owners"):
            self._owners: dict[str, int] = {}
            for i, t in enumerate(self.types):  # a definition owns its tag before any bare declaration
                if t.kind in _COMPOSITE and self.name(i):
                    self._owners.setdefault(self.name(i), i)
        return self._owners


def _padding(start: int, end: int) -> list[str]:
    """Unnamed bitfields covering bits [start, end): the partial byte first, then the widest aligned units."""
    lines: list[str] = []
    pos = start
    while pos < end:
        gap = end - pos
        if pos % 8:
            bits = min(8 - pos % 8, gap)
            lines.append(f"char: {bits};")
            pos += bits
            continue
        for unit, ctype in _PAD_UNITS:
            if pos % unit == 0 and gap >= unit:
                lines.append(f"{ctype}: {unit};")
                pos += unit
                break
        else:
            lines.append(f"char: {min(gap, 8)};")
            pos += min(gap, 8)
    return lines


def c_dump(btf: Btf) -> str:
    """All types of `btf` as one C header (`bpftool btf dump file <f> format c` in spirit, vmlinux.h)."""
    return CDumper(btf).dump()


__all__ = ["CDumper", "c_dump", "HEADER", "FOOTER"]
