"""The value types of a bpftrace script and how each crosses into user space (its C layout in maps and records).

Integers and everything user space resolves from an integer (probe and func names, stack ids, kernel addresses for
ksym(), nsecs for strftime()) travel as one int64; strings and buf() as char arrays; usym() and ustack as an int64
pair (address or stack id, pid: user symbols are per process); ntop() as an address family and 16 bytes; tuples as
a structure of their elements.
"""
from __future__ import annotations

from dataclasses import dataclass

STRLEN = 64  # bpftrace's default string size (BPFTRACE_STRLEN)
COMM_LEN = 16
INT_LIKE = frozenset({"int", "probe", "func", "kstack", "ksym", "strftime", "ptr"})


@dataclass(frozen=True)
class Type:
    """The type of a bpftrace value: its kind and size, with what printing it needs. (A docstring also spares
    dataclasses computing one from the signature through inspect at start-up.)"""

    kind: str  # int str probe func kstack ustack ksym usym inet buf mac tuple strftime ptr lit
    size: int = 8  # str/buf: bytes; kstack/ustack: frames printed
    elems: tuple["Type", ...] = ()  # tuple
    fmt: str = ""  # strftime
    btf: int = 0  # ptr: BTF id of the pointee (0: none known)
    user: bool = False  # ptr: into user memory

    @property
    def int_like(self) -> bool:
        return self.kind in INT_LIKE

    def ctype(self) -> str:
        if self.int_like:
            return "ctypes.c_int64"
        if self.kind in ("str", "buf"):
            return f"(ctypes.c_char * {self.size})"
        if self.kind == "mac":  # (bytes, not chars: ctypes cuts a char array at its first NUL when read)
            return f"(ctypes.c_uint8 * {self.size})"
        if self.kind in ("usym", "ustack"):
            return "Pair"
        if self.kind == "inet":
            return "Inet"
        if self.kind == "tuple":
            return tuple_class(self)
        raise AssertionError(self.kind)

    def text(self) -> str:
        """How bpftrace names the type in its messages."""
        if self.kind == "str":
            return f"string[{self.size}]"
        if self.kind == "tuple":
            return "(" + ", ".join(e.text() for e in self.elems) + ")"
        return {"int": "int64", "ptr": "pointer", "mac": "macaddr"}.get(self.kind, self.kind)


INT = Type("int")
PTR = Type("ptr")  # a pointer without a known pointee (curtask, uaddr(), a key made of a pointer)
MAC = Type("mac", 6)  # macaddr(): six bytes, printed XX:XX:XX:XX:XX:XX


def tuple_class(t: Type) -> str:
    """A stable class name for a tuple type's structure."""
    def code(e: Type) -> str:
        return e.kind + (str(e.size) if e.kind in ("str", "buf") else "") + \
            ("_" + "_".join(code(x) for x in e.elems) + "_E" if e.kind == "tuple" else "")

    return "Tup_" + "_".join(code(e) for e in t.elems)


def merge(a: Type, b: Type) -> Type:
    """The type that holds both (strings of different sizes: the longer)."""
    if a.kind == "tuple" and b.kind == "tuple" and len(a.elems) == len(b.elems):
        return Type("tuple", elems=tuple(merge(x, y) for x, y in zip(a.elems, b.elems)))
    if a.kind in ("str", "buf") and a.kind == b.kind:
        return a if a.size >= b.size else b
    return a


def compatible(a: Type, b: Type) -> bool:
    if a.int_like and b.int_like:
        return a.kind == b.kind or {a.kind, b.kind} <= {"int", "ptr"}
    if a.kind == "tuple" and b.kind == "tuple":
        return len(a.elems) == len(b.elems) and all(compatible(x, y) for x, y in zip(a.elems, b.elems))
    return a.kind == b.kind


__all__ = ["Type", "INT", "PTR", "MAC", "STRLEN", "COMM_LEN", "tuple_class", "merge", "compatible"]
