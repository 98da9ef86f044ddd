"""The syntax tree of a bpftrace script (positions are offsets into the source, for errors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(eq=False)
class Node:
    pos: int
    end: int


@dataclass(eq=False)
class Int(Node):
    value: int


@dataclass(eq=False)
class Str(Node):
    value: str


@dataclass(eq=False)
class Builtin(Node):
    name: str


@dataclass(eq=False)
class Var(Node):
    name: str


@dataclass(eq=False)
class MapRef(Node):
    name: str
    keys: list["Node"] = field(default_factory=list)


@dataclass(eq=False)
class Field(Node):
    obj: Node
    name: str
    arrow: bool = False


@dataclass(eq=False)
class Call(Node):
    name: str
    args: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class Unary(Node):
    op: str
    arg: Node


@dataclass(eq=False)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Cast(Node):
    """`(struct task_struct *)expr`, `(uint64)expr`: `type` is the C type's text, `ptr` its number of `*`."""

    type: str
    ptr: int
    arg: Node


@dataclass(eq=False)
class Tuple(Node):
    elems: list[Node]


@dataclass(eq=False)
class Index(Node):
    obj: Node
    index: Node


@dataclass(eq=False)
class Ternary(Node):
    cond: Node
    then: Node
    orelse: Node


# statements
@dataclass(eq=False)
class ExprStmt(Node):
    expr: Node


@dataclass(eq=False)
class Assign(Node):
    target: Node
    op: str
    value: Optional[Node]


@dataclass(eq=False)
class If(Node):
    cond: Node
    then: list[Node]
    orelse: list[Node]


@dataclass(eq=False)
class Unroll(Node):
    count: int
    body: list[Node]


@dataclass(eq=False)
class While(Node):
    cond: Node
    body: list[Node]


@dataclass(eq=False)
class Jump(Node):
    kind: str  # return / break / continue


@dataclass(eq=False)
class AttachPoint(Node):
    text: str


@dataclass(eq=False)
class Probe(Node):
    points: list[AttachPoint]
    pred: Optional[Node]
    body: list[Node]


@dataclass(eq=False)
class Program(Node):
    probes: list[Probe]
