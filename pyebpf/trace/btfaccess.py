"""Kernel struct layouts for bpftrace's casts and `->` (`((struct task_struct *)curtask)->real_parent->pid`),
read from the running kernel's BTF (/sys/kernel/btf/vmlinux) once, on the first script that needs it."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@functools.lru_cache(maxsize=1)
def kernel() -> Any:
    from pyebpf.btf import kernel_btf

    return kernel_btf()


@dataclass(frozen=True)
class Shape:
    """What a BTF type is to a script: kind int (size, signed), ptr (to `target`), struct (id, size), array
    (elem shape, count), char array (a string of `count` bytes) or void."""

    kind: str
    size: int = 0
    signed: bool = False
    target: int = 0  # ptr: pointee id; struct: its own id; array: element id
    count: int = 0


def shape(type_id: int) -> Shape:
    from pyebpf.btf import types as T

    btf = kernel()
    if type_id == 0:
        return Shape("void")
    t = btf.type(btf.skip_modifiers(type_id))
    if isinstance(t, T.Int):
        return Shape("int", t.byte_size, t.signed)
    if isinstance(t, T.Enum):
        return Shape("int", t.byte_size, t.signed)
    if isinstance(t, T.Pointer):
        return Shape("ptr", 8, False, t.target_id)
    if isinstance(t, T.Composite):
        return Shape("struct", t.byte_size, False, t.id)
    if isinstance(t, T.Array):
        elem = btf.type(btf.skip_modifiers(t.elem_id))
        if isinstance(elem, T.Int) and elem.byte_size == 1:
            return Shape("chars", t.nelems, False, t.elem_id, t.nelems)
        return Shape("array", btf.size_of(t.id), False, t.elem_id, t.nelems)
    return Shape("void")


def struct_id(name: str) -> int | None:
    """`struct task_struct` / `union x` / a typedef name -> its BTF id (None when the kernel has no such type)."""
    from pyebpf.btf.types import Struct, Union

    btf = kernel()
    words = name.split()
    kind = {"struct": Struct, "union": Union}.get(words[0]) if len(words) == 2 else None
    base = words[-1]
    for i in btf.ids_by_name(base):
        t = btf.type(i)
        if kind is None or isinstance(t, kind):
            return i
    return None


def member(struct: int, name: str) -> tuple[int, int] | None:
    """(byte offset, type id) of member `name` of struct/union `struct` (anonymous members looked into)."""
    from pyebpf.btf.types import Composite

    t = kernel().type(kernel().skip_modifiers(struct))
    if not isinstance(t, Composite):
        return None
    m = t.find_member(name)
    if m is None or m.bitfield_size:
        return None
    return m.bit_offset // 8, m.type_id


@functools.lru_cache(maxsize=1)
def _enum_values() -> dict[str, int]:
    from pyebpf.abi.btf import BtfKind

    btf = kernel()
    out: dict[str, int] = {}
    for t in btf.types:
        if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
            for name_off, value in t.members:
                out.setdefault(btf.str_at(name_off), value)
    return out


def enum_value(name: str) -> int | None:
    """The value of enumerator `name` in the kernel's BTF (TCP_CLOSE, TASK_COMM_LEN's enum cousins...): bpftrace
    resolves a bare identifier so when the kernel has BTF. None when no enum has it."""
    return _enum_values().get(name)


def type_name(type_id: int) -> str:
    return kernel().type(type_id).c_type()


__all__ = ["kernel", "Shape", "shape", "struct_id", "member", "type_name", "enum_value"]
