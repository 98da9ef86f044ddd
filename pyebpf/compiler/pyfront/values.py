"""What a front-end expression evaluates to (Int, Ptr, Mem, Obj, Ctx, ...) and the per-function Frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyebpf.compiler.context import ContextSpec, Field
from pyebpf.compiler.ir import Block, Operand, StackSlot, VReg
from pyebpf.compiler.types import S64, IntType

MAX_INLINE_DEPTH = 8
MAX_RANGE = 1 << 20
NAMED_CONSTANTS = {"True": 1, "False": 0}


@dataclass
class Int:
    """An integer: a VReg or a constant; `t` None for an untyped literal (typed as C types literals on use)."""

    op: Operand
    t: IntType | None
    rng: tuple[int, int] | None = None
    """Known bounds of the value (inclusive), narrower than its type's when arithmetic proved so."""
    kt: Any = None
    """For a kernel pointer (a BTF-typed argument, current_task(), a pointer field): the BTF type it points to,
    so `p.field` reads kernel memory; arithmetic and conversions drop it (the result is a plain integer)."""
    kdirect: bool = False
    """The kernel pointer is one the verifier tracks as PTR_TO_BTF_ID (a tp_btf/fentry argument, or a struct
    pointer loaded through one): its fields are read with plain loads (BPF_PROBE_MEM), not bpf_probe_read_kernel."""

    @property
    def const(self) -> int | None:
        return self.op if isinstance(self.op, int) else None

    def bounds(self) -> tuple[int, int]:
        if isinstance(self.op, int):
            return self.op, self.op
        if self.rng is not None:
            return self.rng
        t = self.t or S64
        return t.min, t.max


@dataclass
class Ptr:
    """A pointer the program may compare and offset (packet pointers, a nullable map value)."""

    v: VReg
    kind: str
    target: Any = None


@dataclass
class Mem:
    """An object in memory: `ctype` at base + off (a stack slot, or a pointer VReg: map value, packet, ctx)."""

    base: VReg | StackSlot
    off: int
    ctype: Any
    big_endian: bool = False


@dataclass
class KRef:
    """An object of BTF type `type` in kernel memory at `addr` + `off`, not read yet (an embedded struct or array
    reached through a kernel pointer: `task.signal`, `task.comm`); its scalar members are read by probe_read."""

    addr: Operand
    off: int
    type: Any
    core: Any = None
    """(root BTF type, clang access path) from the pointer `addr` was read from to this object: what a CO-RE
    relocation of `off` names; None when the root cannot be matched by name on another kernel."""
    direct: bool = False
    """`addr` is a PTR_TO_BTF_ID (see Int.kdirect): members are read with plain loads."""


@dataclass
class Obj:
    """A Python object named by the source that is not a value (map, intrinsic, type, function, module)."""

    value: Any


@dataclass
class Ctx:
    v: VReg
    spec: ContextSpec | None


@dataclass
class CtxArray:
    ctx: Ctx
    field: Field


@dataclass
class Str:
    text: str


Value = Int | Ptr | Mem | Obj | Ctx | CtxArray | Str | KRef


@dataclass
class Frame:
    """One function being lowered (the probe, or an inlined helper)."""

    globals: dict[str, Any]
    filename: str
    first_line: int
    col_shift: int
    lines: list[str]
    vars: dict[str, Value] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    loops: list[tuple[Block, Block]] = field(default_factory=list)
    ret_block: Block | None = None
    ret_var: Int | None = None
    ret_type: IntType | None = None
    name: str = ""
    fn: Any = None


def kind_of(v: Any) -> str:
    if isinstance(v, Int):
        return "integer"
    if isinstance(v, Mem):
        return getattr(v.ctype, "__name__", "memory object")
    if isinstance(v, Ctx):
        return "context"
    if isinstance(v, Ptr):
        return f"{v.kind} pointer"
    if isinstance(v, Str):
        return "string"
    if isinstance(v, CtxArray):
        return "context array"
    if isinstance(v, Obj):
        return getattr(v.value, "__name__", type(v.value).__name__)
    if isinstance(v, KRef):
        return f"kernel {v.type.c_type()}"
    return type(v).__name__



def is_bound(frame: Frame, v: VReg) -> bool:
    return any(isinstance(x, Int) and x.op is v for x in frame.vars.values())
