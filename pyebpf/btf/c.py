"""BTF as C: how a type is spelled (`c_type_name`), a declaration of a name with it (`c_decl`), and later a whole
`vmlinux.h`-style dump.

C declarators read inside out (`char (*p)[16]` is a pointer to an array), so a declaration is built from the name
outwards: a pointer prefixes `*`, an array or function suffixes `[n]` / `(args)`, with parentheses where a `*` would
otherwise bind to the wrong side — the way bpftool's btf_dump emits them.
"""
from __future__ import annotations

from pyebpf.abi.btf import BtfKind
from pyebpf.btf.spec import Btf

_TAGS = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union", BtfKind.ENUM: "enum", BtfKind.ENUM64: "enum"}
_QUALIFIERS = {BtfKind.CONST: "const", BtfKind.VOLATILE: "volatile", BtfKind.RESTRICT: "restrict"}
_MAX_DEPTH = 64


def c_type_name(btf: Btf, type_id: int) -> str:
    """How C spells type `type_id`: 'struct task_struct *', 'const char *', 'char [16]', 'u32'."""
    return c_decl(btf, type_id, "")


def c_decl(btf: Btf, type_id: int, name: str) -> str:
    """A C declaration of `name` with type `type_id` ('char comm[16]', 'int (*fn)(void *)'); `name` may be ''."""
    return _decl(btf, type_id, name, 0)


def _base_name(btf: Btf, type_id: int) -> str:
    t = btf.types[type_id]
    name = btf.name(type_id)
    tag = _TAGS.get(t.kind)
    if tag:
        return f"{tag} {name}" if name else f"{tag} {{...}}"
    if t.kind == BtfKind.FWD:
        return f"{'union' if t.kind_flag else 'struct'} {name}"
    return name or "void"


def _join(base: str, inner: str) -> str:
    return f"{base} {inner}" if inner else base


def _wrap(inner: str) -> str:
    """Parenthesise a pointer declarator before an array or function suffix binds to it."""
    return f"({inner})" if inner.startswith("*") else inner


def _decl(btf: Btf, type_id: int, inner: str, depth: int) -> str:
    if depth > _MAX_DEPTH:
        return _join("void", inner)
    if type_id == 0:
        return _join("void", inner)
    t = btf.types[type_id]
    kind = t.kind
    if kind == BtfKind.PTR:
        return _decl(btf, t.size_type, f"*{inner}", depth + 1)
    if kind == BtfKind.ARRAY:
        elem, _, nelems = t.array  # type: ignore[misc]
        return _decl(btf, elem, f"{_wrap(inner)}[{nelems}]", depth + 1)
    if kind == BtfKind.FUNC_PROTO:
        params = [_decl(btf, ty, btf.str_at(n), depth + 1) for n, ty in t.members if ty or n]
        if t.members and t.members[-1] == (0, 0):
            params.append("...")
        return _decl(btf, t.size_type, f"{_wrap(inner)}({', '.join(params) or 'void'})", depth + 1)
    if kind == BtfKind.FUNC:
        return _decl(btf, t.size_type, inner or btf.name(type_id), depth + 1)
    if kind in _QUALIFIERS:
        target = btf.types[t.size_type].kind if t.size_type else BtfKind.UNKN
        if target in (BtfKind.PTR, BtfKind.ARRAY, BtfKind.FUNC_PROTO):
            return _decl(btf, t.size_type, _join(_QUALIFIERS[kind], inner), depth + 1)
        return f"{_QUALIFIERS[kind]} {_decl(btf, t.size_type, inner, depth + 1)}"
    if kind == BtfKind.TYPE_TAG:
        return _decl(btf, t.size_type, inner, depth + 1)
    if kind == BtfKind.VAR:
        return _decl(btf, t.size_type, inner or btf.name(type_id), depth + 1)
    return _join(_base_name(btf, type_id), inner)


__all__ = ["c_type_name", "c_decl"]
