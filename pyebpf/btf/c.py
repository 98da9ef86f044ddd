"""BTF as C: how a type is spelled (`c_type_name`) and a declaration of a name with it (`c_decl`); the whole-header
dump (pyebpf.btf.c_dump) builds on the same `Declarator`.

C declarators read inside out (`char (*p)[16]` is a pointer to an array), so a declaration is built from the name
outwards: a pointer prefixes `*`, an array or function suffixes `[n]` / `(args)`, with parentheses where a `*` would
otherwise bind to the wrong side — the way bpftool's btf_dump emits them. A qualifier on an array qualifies its
elements (`const char name[4]`), as C has it.
"""
from __future__ import annotations

from pyebpf.abi.btf import BtfKind
from pyebpf.btf.spec import Btf
from pyebpf.errors import BtfError

QUALIFIERS = {BtfKind.CONST: "const", BtfKind.VOLATILE: "volatile", BtfKind.RESTRICT: "restrict"}
COMPOSITES = (BtfKind.STRUCT, BtfKind.UNION)
ENUMS = (BtfKind.ENUM, BtfKind.ENUM64)
MAX_DEPTH = 64


class Declarator:
    """C declarations of the types of one Btf. Subclasses choose names (`name`) and how an anonymous struct, union
    or enum is written (`anonymous`: here `struct {...}`; the header dump writes the body inline)."""

    def __init__(self, btf: Btf, max_steps: int | None = None):
        self.btf = btf
        self.types = btf.types
        #: work allowed before giving up: hostile BTF can share types so that printing them grows exponentially
        self.steps_left = max_steps if max_steps is not None else 100_000 + 50 * len(btf.types)

    def step(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise BtfError(f"{self.btf.source}: types nest or share too much to print as C")

    def name(self, type_id: int) -> str:
        return self.btf.name(type_id)

    def anonymous(self, type_id: int, indent: int, depth: int) -> str:
        kind = self.types[type_id].kind
        return f"{'enum' if kind in ENUMS else 'union' if kind == BtfKind.UNION else 'struct'} {{...}}"

    def decl(self, type_id: int, inner: str, indent: int = 0, depth: int = 0) -> str:
        """C declaration of `inner` (a name, or '' for a type name) with type `type_id`."""
        self.step()
        if depth > MAX_DEPTH or type_id == 0:
            return join("void", inner)
        t = self.types[type_id]
        kind = t.kind
        if kind == BtfKind.PTR:
            return self.decl(t.size_type, f"*{inner}", indent, depth + 1)
        if kind == BtfKind.ARRAY:
            elem, _, nelems = t.array  # type: ignore[misc]
            return self.decl(elem, f"{wrap(inner)}[{nelems}]", indent, depth + 1)
        if kind == BtfKind.FUNC_PROTO:
            params = [self.decl(ty, self.btf.str_at(n), indent, depth + 1) for n, ty in t.members if ty or n]
            if t.members and t.members[-1] == (0, 0):
                params.append("...")
            return self.decl(t.size_type, f"{wrap(inner)}({', '.join(params) or 'void'})", indent, depth + 1)
        if kind in (BtfKind.FUNC, BtfKind.VAR):
            return self.decl(t.size_type, inner or self.btf.name(type_id), indent, depth + 1)
        if kind in QUALIFIERS:
            return self._qualified(kind, t.size_type, inner, indent, depth)
        if kind == BtfKind.TYPE_TAG:
            return self.decl(t.size_type, inner, indent, depth + 1)
        return join(self._base(type_id, indent, depth), inner)

    def _qualified(self, qualifier: BtfKind, target: int, inner: str, indent: int, depth: int) -> str:
        word = QUALIFIERS[qualifier]
        t = self.types[target] if target else None
        if t is not None and t.kind == BtfKind.ARRAY:  # const on an array is const on its elements
            elem, _, nelems = t.array  # type: ignore[misc]
            inner = f"{wrap(inner)}[{nelems}]"
            if self.types[elem].kind == qualifier:
                return self.decl(elem, inner, indent, depth + 1)
            return self._qualified(qualifier, elem, inner, indent, depth + 1)
        if t is not None and t.kind in (BtfKind.PTR, BtfKind.FUNC_PROTO):
            return self.decl(target, join(word, inner), indent, depth + 1)
        return f"{word} {self.decl(target, inner, indent, depth + 1)}"

    def _base(self, type_id: int, indent: int, depth: int) -> str:
        t = self.types[type_id]
        name = self.name(type_id)
        if t.kind in COMPOSITES or t.kind in ENUMS:
            if not name:
                return self.anonymous(type_id, indent, depth)
            tag = "struct" if t.kind == BtfKind.STRUCT else "union" if t.kind == BtfKind.UNION else "enum"
            return f"{tag} {name}"
        if t.kind == BtfKind.FWD:
            return f"{'union' if t.kind_flag else 'struct'} {name}"
        return name or "void"


def join(base: str, inner: str) -> str:
    return f"{base} {inner}" if inner else base


def wrap(inner: str) -> str:
    """Parenthesise a pointer declarator before an array or function suffix binds to it."""
    return f"({inner})" if inner.startswith("*") else inner


def c_type_name(btf: Btf, type_id: int) -> str:
    """How C spells type `type_id`: 'struct task_struct *', 'const char *', 'char [16]', 'u32'."""
    return Declarator(btf).decl(type_id, "")


def c_decl(btf: Btf, type_id: int, name: str) -> str:
    """A C declaration of `name` with type `type_id` ('char comm[16]', 'int (*fn)(void *)'); `name` may be ''."""
    return Declarator(btf).decl(type_id, name)


__all__ = ["Declarator", "c_type_name", "c_decl", "QUALIFIERS"]
