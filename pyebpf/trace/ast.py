"""The syntax tree of a bpftrace script (positions are offsets into the source, for errors).

Plain classes with a `_fields` tuple, not dataclasses: generating two dozen dataclasses' methods (with exec) costs
milliseconds of start-up, and `pyebpf trace`'s start-up is measured against bpftrace's. Nodes compare by identity.
"""
from __future__ import annotations

from typing import Any, Optional


class Node:
    """Every node has `pos` and `end`, then its own `_fields` (positional or by keyword); `_defaults` gives the
    trailing ones that may be left out (a list default is copied)."""

    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}

    def __init__(self, pos: int, end: int, *args: Any, **kw: Any) -> None:
        self.pos = pos
        self.end = end
        names = self._fields
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields after pos/end, {len(args)} given")
        for name, value in zip(names, args):
            setattr(self, name, value)
        for name in names[len(args):]:
            if name in kw:
                setattr(self, name, kw.pop(name))
            elif name in self._defaults:
                d = self._defaults[name]
                setattr(self, name, list(d) if isinstance(d, list) else d)
            else:
                raise TypeError(f"{type(self).__name__} needs {name}")
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(kw)}")

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in ("pos", "end") + self._fields)
        return f"{type(self).__name__}({inner})"


class Int(Node):
    _fields = ("value",)
    value: int


class Str(Node):
    _fields = ("value",)
    value: str


class Builtin(Node):
    _fields = ("name",)
    name: str


class Var(Node):
    _fields = ("name",)
    name: str


class MapRef(Node):
    _fields = ("name", "keys")
    _defaults = {"keys": []}
    name: str
    keys: list[Node]


class Field(Node):
    _fields = ("obj", "name", "arrow")
    _defaults = {"arrow": False}
    obj: Node
    name: str
    arrow: bool


class Call(Node):
    _fields = ("name", "args")
    _defaults = {"args": []}
    name: str
    args: list[Node]


class Unary(Node):
    _fields = ("op", "arg")
    op: str
    arg: Node


class Binary(Node):
    _fields = ("op", "left", "right")
    op: str
    left: Node
    right: Node


class Cast(Node):
    """`(struct task_struct *)expr`, `(uint64)expr`: `type` is the C type's text, `ptr` its number of `*`."""

    _fields = ("type", "ptr", "arg")
    type: str
    ptr: int
    arg: Node


class Sizeof(Node):
    """`sizeof(struct task_struct)`, `sizeof(uint32)` (a type, `ptr` its `*`s) or `sizeof(expr)` (`arg`)."""

    _fields = ("type", "ptr", "arg")
    _defaults = {"type": "", "ptr": 0, "arg": None}
    type: str
    ptr: int
    arg: Optional[Node]


class Tuple(Node):
    _fields = ("elems",)
    elems: list[Node]


class Index(Node):
    _fields = ("obj", "index")
    obj: Node
    index: Node


class Ternary(Node):
    _fields = ("cond", "then", "orelse")
    cond: Node
    then: Node
    orelse: Node


# statements
class ExprStmt(Node):
    _fields = ("expr",)
    expr: Node


class Assign(Node):
    _fields = ("target", "op", "value")
    target: Node
    op: str
    value: Optional[Node]


class If(Node):
    _fields = ("cond", "then", "orelse")
    cond: Node
    then: list[Node]
    orelse: list[Node]


class Unroll(Node):
    _fields = ("count", "body")
    count: int
    body: list[Node]


class While(Node):
    _fields = ("cond", "body")
    cond: Node
    body: list[Node]


class Jump(Node):
    _fields = ("kind",)
    kind: str  # return / break / continue


class AttachPoint(Node):
    _fields = ("text",)
    text: str


class Probe(Node):
    _fields = ("points", "pred", "body")
    points: list[AttachPoint]
    pred: Optional[Node]
    body: list[Node]


class Program(Node):
    _fields = ("probes", "structs")
    _defaults = {"structs": []}
    probes: list[Probe]
    structs: list[Any]  # pyebpf.trace.cdefs.StructDef: C definitions before the probes
