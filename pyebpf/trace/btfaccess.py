"""Kernel struct layouts for bpftrace's casts and `->` (`((struct task_struct *)curtask)->real_parent->pid`),
sizeof() and enum constants, read from the running kernel's BTF (/sys/kernel/btf/vmlinux).

Parsing the whole vmlinux BTF costs about half a second of CPU in Python (bpftrace's libbpf: milliseconds), and a
script asks only a handful of questions of it. The answers are kept in a small file per kernel build
($XDG_CACHE_HOME/pyebpf/, keyed by the kernel's release, version and BTF file size/mtime), so a script run again,
or another script asking the same questions, does not parse the BTF at all. PYEBPF_NO_CACHE=1 turns it off.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

VMLINUX = "/sys/kernel/btf/vmlinux"
CACHE_FORMAT = 1
MAX_CACHED = 20000  # answers kept per kernel (a script asks tens)


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


class _Answers:
    """Answers to BTF questions, from the cache file or computed (and then saved by flush())."""

    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.dirty = False

    def path(self) -> str | None:
        if os.environ.get("PYEBPF_NO_CACHE"):
            return None
        try:
            st = os.stat(VMLINUX)
        except OSError:
            return None
        u = os.uname()
        import hashlib

        key = hashlib.sha1(f"{CACHE_FORMAT}|{u.release}|{u.version}|{st.st_size}|{st.st_mtime_ns}".encode())
        from pyebpf.system.boot import cache_directory

        return os.path.join(cache_directory(), f"trace-btf-{key.hexdigest()[:16]}.json")

    def load(self) -> dict[str, Any]:
        if self.data is None:
            self.data = {}
            path = self.path()
            if path is not None:
                try:
                    with open(path) as f:
                        data = json.load(f)
                    if isinstance(data, dict):
                        self.data = data
                except (OSError, ValueError):
                    pass  # absent or damaged: answered from the BTF and written again
        return self.data

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        data = self.load()
        if key in data:
            return data[key]
        value = compute()
        if len(data) < MAX_CACHED:
            data[key] = value
            self.dirty = True
        return value

    def flush(self) -> None:
        """Write new answers (atomically: a concurrent run reads the old file or the new one, never half)."""
        path = self.path()
        if not self.dirty or path is None or self.data is None:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f)
            os.replace(tmp, path)
            self.dirty = False
        except OSError:
            pass  # a read-only home: the next run parses the BTF again


ANSWERS = _Answers()


def flush() -> None:
    ANSWERS.flush()


def _shape(type_id: int) -> list[Any]:
    from pyebpf.btf import types as T

    btf = kernel()
    if type_id == 0:
        return ["void", 0, False, 0, 0]
    t = btf.type(btf.skip_modifiers(type_id))
    if isinstance(t, (T.Int, T.Enum)):
        return ["int", t.byte_size, t.signed, 0, 0]
    if isinstance(t, T.Pointer):
        return ["ptr", 8, False, t.target_id, 0]
    if isinstance(t, T.Composite):
        return ["struct", t.byte_size, False, t.id, 0]
    if isinstance(t, T.Array):
        elem = btf.type(btf.skip_modifiers(t.elem_id))
        if isinstance(elem, T.Int) and elem.byte_size == 1:
            return ["chars", t.nelems, False, t.elem_id, t.nelems]
        return ["array", btf.size_of(t.id), False, t.elem_id, t.nelems]
    return ["void", 0, False, 0, 0]


def shape(type_id: int) -> Shape:
    if _LOCAL is not None and type_id >= LOCAL_BASE:
        return _LOCAL.shape(type_id)
    return Shape(*ANSWERS.get(f"shape:{type_id}", lambda: _shape(type_id)))


def _struct_id(name: str) -> int | None:
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


def struct_id(name: str, local: bool = True) -> int | None:
    """`struct task_struct` / `union x` / a typedef name -> its BTF id (None when the kernel has no such type);
    the script's own definitions first (`local`)."""
    name = " ".join(name.split())
    if local and _LOCAL is not None:
        found = _LOCAL.named(name)
        if found is not None:
            return found
    return ANSWERS.get(f"struct:{name}", lambda: _struct_id(name))


def _member(struct: int, name: str) -> list[int] | None:
    from pyebpf.btf.types import Composite

    t = kernel().type(kernel().skip_modifiers(struct))
    if not isinstance(t, Composite):
        return None
    m = t.find_member(name)
    if m is None or m.bitfield_size:
        return None
    return [m.bit_offset // 8, m.type_id]


def member(struct: int, name: str) -> tuple[int, int] | None:
    """(byte offset, type id) of member `name` of struct/union `struct` (anonymous members looked into)."""
    if _LOCAL is not None and struct >= LOCAL_BASE:
        return _LOCAL.member(struct, name)
    found = ANSWERS.get(f"member:{struct}:{name}", lambda: _member(struct, name))
    return (found[0], found[1]) if found is not None else None


def size_of(type_id: int) -> int:
    if _LOCAL is not None and type_id >= LOCAL_BASE:
        return _LOCAL.size_of(type_id)
    return ANSWERS.get(f"size:{type_id}", lambda: kernel().size_of(type_id))


def type_name(type_id: int) -> str:
    if _LOCAL is not None and type_id >= LOCAL_BASE:
        return _LOCAL.text[type_id]
    return ANSWERS.get(f"name:{type_id}", lambda: kernel().type(type_id).c_type())


LOCAL_BASE = 1 << 40
"""Ids of the script's own types (pyebpf.trace.cdefs) start here: above any BTF id, never in the answers file."""


class LocalTypes:
    """The types a script defines (struct/union definitions and the pointers, arrays and integers their members
    have), answered like the kernel's: shapes, members, sizes; other ids go to the kernel's BTF."""

    def __init__(self) -> None:
        self.shapes: dict[int, list[Any]] = {}
        self.text: dict[int, str] = {}
        self.names: dict[str, int] = {}
        self.members: dict[int, dict[str, tuple[int, int]]] = {}
        self.aligns: dict[int, int] = {}
        self.next = LOCAL_BASE

    def add(self, shape_row: list[Any], text: str) -> int:
        tid = self.next
        self.next += 1
        self.shapes[tid] = shape_row
        self.text[tid] = text
        return tid

    def declare(self, name: str) -> int:
        """A struct known by name, its members not yet (a pointer to it is fine, a member of it is not)."""
        tid = self.add(["struct", 0, False, 0, 0], name)
        self.shapes[tid][3] = tid
        self.names[name] = tid
        return tid

    def define(self, tid: int, size: int, align: int, members: dict[str, tuple[int, int]]) -> None:
        self.shapes[tid] = ["struct", size, False, tid, 0]
        self.aligns[tid] = align
        self.members[tid] = members

    def named(self, name: str) -> int | None:
        return self.names.get(name)

    def complete(self, tid: int) -> bool:
        return tid < LOCAL_BASE or tid in self.members

    def shape(self, tid: int) -> Shape:
        return Shape(*self.shapes[tid]) if tid >= LOCAL_BASE else shape(tid)

    def member(self, tid: int, name: str) -> tuple[int, int] | None:
        return self.members.get(tid, {}).get(name)

    def size_of(self, tid: int) -> int:
        if tid < LOCAL_BASE:
            return size_of(tid)
        s = Shape(*self.shapes[tid])
        return 8 if s.kind == "ptr" else s.size

    def align_of(self, tid: int) -> int:
        """A struct's alignment: its largest member's (the kernel's structs: the largest power of two dividing
        the size, at most 8 — BTF keeps no alignment)."""
        if tid >= LOCAL_BASE:
            return self.aligns.get(tid, 1)
        size = size_of(tid)
        return min(8, size & -size) if size else 1


_LOCAL: LocalTypes | None = None


def use_local(types: LocalTypes | None) -> None:
    """The script's own types from now on (None: the kernel's only)."""
    global _LOCAL
    _LOCAL = types


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
    """The value of enumerator `name` in the kernel's BTF (TCP_CLOSE...): bpftrace resolves a bare identifier so
    when the kernel has BTF. None when no enum has it."""
    return ANSWERS.get(f"enum:{name}", lambda: _enum_values().get(name))


__all__ = ["kernel", "Shape", "shape", "struct_id", "member", "size_of", "type_name", "enum_value", "flush",
           "LocalTypes", "use_local", "LOCAL_BASE"]
