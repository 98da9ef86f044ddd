"""A small typed IR shared by every front end: virtual registers, stack slots, basic blocks.

Instructions are close to eBPF's (two front ends need nothing higher), but operate on unlimited typed virtual
registers (`VReg`) and named stack slots; `regalloc` maps VRegs to r1-r4/r6-r9 or spill slots, `lower` turns the
blocks into `isa` instructions. Operands are a VReg, a Python int (any 64-bit constant), `SlotAddr` (address of a
stack slot) or `MapRef` (a map's pseudo fd) — the last two only as helper-call arguments and `Mov` sources, where
the verifier wants them produced in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Union

from pyebpf.compiler.types import ValueType


class VReg:
    """A virtual register holding one typed value (identity is the register)."""

    __slots__ = ("id", "type", "name")

    def __init__(self, id: int, type: ValueType, name: str = ""):
        self.id = id
        self.type = type
        self.name = name

    def __repr__(self) -> str:
        return f"%{self.name or 'v'}{self.id}:{self.type!r}"


@dataclass(eq=False)
class StackSlot:
    """`size` bytes of the BPF stack; `offset` (negative, from r10) is assigned by the frame layout."""

    size: int
    align: int = 8
    name: str = ""
    offset: int | None = None

    def __repr__(self) -> str:
        return f"[{self.name or 'slot'}:{self.size}@{self.offset}]"


@dataclass(frozen=True, eq=False)
class SlotAddr:
    """The address r10 + slot.offset + off, as an operand."""

    slot: StackSlot
    off: int = 0


@dataclass(frozen=True)
class MapRef:
    """A map's pseudo fd (lddw src=BPF_PSEUDO_MAP_FD), or with `value_off` set a pointer into the value of an array
    map's element 0 (src=BPF_PSEUDO_MAP_VALUE: global data such as format strings)."""

    name: str
    value_off: int | None = None


@dataclass(frozen=True)
class FuncRef:
    """The address of subprogram `name` (ld_imm64 src=BPF_PSEUDO_FUNC): a callback for bpf_loop."""

    name: str


Operand = Union[VReg, int, SlotAddr, MapRef, FuncRef]
Base = Union[VReg, StackSlot]

ALU_OPS = ("add", "sub", "mul", "div", "mod", "or", "and", "xor", "lsh", "rsh", "arsh")
BRANCH_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "sgt", "sge", "slt", "sle", "set", "may_goto")
NEGATED = {"eq": "ne", "ne": "eq", "gt": "le", "le": "gt", "ge": "lt", "lt": "ge", "sgt": "sle", "sle": "sgt",
           "sge": "slt", "slt": "sge"}
SWAPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "lt": "gt", "ge": "le", "le": "ge", "sgt": "slt", "slt": "sgt",
           "sge": "sle", "sle": "sge"}


@dataclass(eq=False)
class Insn:
    """Base of IR instructions; `loc` is the source position (line, col) the front end attributes it to."""

    def uses(self) -> list[VReg]:
        return []

    def defs(self) -> list[VReg]:
        return []


def _vregs(*ops: Any) -> list[VReg]:
    return [o for o in ops if isinstance(o, VReg)]


@dataclass(eq=False)
class Mov(Insn):
    """dst = src; with `core` (a btf.core_local.CoreAccess) src is a kernel field offset the instruction must
    hold as an immediate, recorded as a CO-RE relocation of that instruction."""

    dst: VReg
    src: Operand
    core: Any = None

    def uses(self) -> list[VReg]:
        return _vregs(self.src)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Alu(Insn):
    """dst = a OP b in 64 bits (`wide`) or 32 bits (ALU32: the result is zero-extended); `signed` picks sdiv/smod."""

    op: str
    dst: VReg
    a: Operand
    b: Operand
    wide: bool = True
    signed: bool = False

    def uses(self) -> list[VReg]:
        return _vregs(self.a, self.b)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Neg(Insn):
    dst: VReg
    a: Operand
    wide: bool = True

    def uses(self) -> list[VReg]:
        return _vregs(self.a)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Ext(Insn):
    """dst = src's low `bits` bits, zero- or sign-extended to 64 (normalisation after narrow arithmetic, casts)."""

    dst: VReg
    src: Operand
    bits: int
    signed: bool

    def uses(self) -> list[VReg]:
        return _vregs(self.src)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Bswap(Insn):
    """dst = the low `bits` bits of src with their bytes reversed, zero-extended (network <-> host order)."""

    dst: VReg
    src: Operand
    bits: int

    def uses(self) -> list[VReg]:
        return _vregs(self.src)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Load(Insn):
    """dst = *(size *)(base + off), sign-extending (ldsx) when `signed`."""

    dst: VReg
    base: Base
    off: int
    size: int
    signed: bool = False
    core: Any = None
    """A btf.core_local.CoreAccess: `off` is a kernel field offset, recorded as a CO-RE relocation of the load."""

    def uses(self) -> list[VReg]:
        return _vregs(self.base)

    def defs(self) -> list[VReg]:
        return [self.dst]


@dataclass(eq=False)
class Store(Insn):
    base: Base
    off: int
    src: Operand
    size: int

    def uses(self) -> list[VReg]:
        return _vregs(self.base, self.src)


@dataclass(eq=False)
class AtomicAdd(Insn):
    """lock *(size *)(base + off) += src (size 4 or 8)."""

    base: Base
    off: int
    src: Operand
    size: int

    def uses(self) -> list[VReg]:
        return _vregs(self.base, self.src)


@dataclass(eq=False)
class Call(Insn):
    """dst = helper(args...): arguments go to r1..r5; r1-r5 are clobbered."""

    helper: int
    args: list[Operand]
    dst: VReg | None = None

    def uses(self) -> list[VReg]:
        return _vregs(*self.args)

    def defs(self) -> list[VReg]:
        return [self.dst] if self.dst is not None else []


@dataclass(eq=False)
class LocalCall(Call):
    """dst = target(args...): a bpf-to-bpf call of subprogram `target` (clobbers r1-r5 as a helper call does;
    r6-r9 survive it, as the kernel saves them per frame). `helper` is unused (-1)."""

    target: str = ""


@dataclass(eq=False)
class Param(Insn):
    """dst = the register argument `index` the program was entered with (r1 = ctx). Only at the entry."""

    dst: VReg
    index: int = 1

    def defs(self) -> list[VReg]:
        return [self.dst]


# ---- terminators -------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Jump(Insn):
    target: "Block"


@dataclass(eq=False)
class Branch(Insn):
    """if (a OP b) goto then else goto orelse; compares 64-bit registers (values are normalised)."""

    op: str
    a: Operand
    b: Operand
    then: "Block"
    orelse: "Block"

    def uses(self) -> list[VReg]:
        return _vregs(self.a, self.b)


@dataclass(eq=False)
class Return(Insn):
    value: Operand

    def uses(self) -> list[VReg]:
        return _vregs(self.value)


Terminator = Union[Jump, Branch, Return]


@dataclass(eq=False)
class Block:
    label: str
    insns: list[Insn] = field(default_factory=list)
    term: Terminator | None = None

    def successors(self) -> list["Block"]:
        if isinstance(self.term, Jump):
            return [self.term.target]
        if isinstance(self.term, Branch):
            return [self.term.then, self.term.orelse]
        return []

    def __repr__(self) -> str:
        return f"<Block {self.label}>"


@dataclass(eq=False)
class Function:
    """One program: blocks in layout order (entry first), its stack slots, the maps it names."""

    name: str
    blocks: list[Block] = field(default_factory=list)
    slots: list[StackSlot] = field(default_factory=list)
    vreg_count: int = 0

    def reachable(self) -> list[Block]:
        """Blocks reachable from the entry, in layout order (unreachable ones are dropped before lowering)."""
        seen: set[int] = set()
        work = [self.blocks[0]]
        while work:
            b = work.pop()
            if id(b) in seen:
                continue
            seen.add(id(b))
            work.extend(b.successors())
        return [b for b in self.blocks if id(b) in seen]

    def dump(self) -> str:
        lines = [f"function {self.name}:"]
        for b in self.blocks:
            lines.append(f"{b.label}:")
            lines.extend(f"    {i}" for i in b.insns)
            lines.append(f"    {b.term}")
        return "\n".join(lines)


class IRBuilder:
    """Appends instructions to a current block; front ends create vregs, slots and blocks through it."""

    def __init__(self, name: str):
        self.fn = Function(name)
        self.block = self.new_block("entry")
        self.loc: tuple[int, int] | None = None
        self.on_emit: Any = None
        """Called with every instruction emitted (a front end watching what changes registers and maps)."""

    def vreg(self, type: ValueType, name: str = "") -> VReg:
        self.fn.vreg_count += 1
        return VReg(self.fn.vreg_count, type, name)

    def slot(self, size: int, align: int = 8, name: str = "") -> StackSlot:
        s = StackSlot(size, align, name)
        self.fn.slots.append(s)
        return s

    def new_block(self, hint: str = "bb") -> Block:
        b = Block(f"{hint}{len(self.fn.blocks)}")
        self.fn.blocks.append(b)
        return b

    def set_block(self, block: Block) -> None:
        self.block = block

    @property
    def terminated(self) -> bool:
        return self.block.term is not None

    def emit(self, insn: Insn) -> Insn:
        if self.block.term is not None:  # code after return/break: a fresh unreachable block keeps the IR well formed
            self.block = self.new_block("dead")
        insn.loc = self.loc  # type: ignore[attr-defined]
        self.block.insns.append(insn)
        if self.on_emit is not None:
            self.on_emit(insn)
        return insn

    def terminate(self, term: Terminator) -> None:
        if self.block.term is None:
            term.loc = self.loc  # type: ignore[attr-defined]
            self.block.term = term

    def jump(self, target: Block) -> None:
        self.terminate(Jump(target))

    def branch(self, op: str, a: Operand, b: Operand, then: Block, orelse: Block) -> None:
        self.terminate(Branch(op, a, b, then, orelse))

    def blocks(self) -> Iterator[Block]:
        return iter(self.fn.blocks)


__all__ = [
    "VReg", "StackSlot", "SlotAddr", "MapRef", "Operand", "Insn", "Mov", "Alu", "Neg", "Ext", "Load", "Bswap",
    "Store", "AtomicAdd", "Call", "LocalCall", "FuncRef", "Param", "Jump", "Branch", "Return", "Block", "Function",
    "IRBuilder", "ALU_OPS", "BRANCH_OPS", "NEGATED", "SWAPPED",
]
