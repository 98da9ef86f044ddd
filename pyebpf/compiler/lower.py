"""IR -> eBPF instructions: frame layout, register allocation, instruction selection, linking of jumps.

`lower(fn, maps=..., prog_type=...)` returns a `Program`. Each IR instruction becomes a few eBPF instructions over
the registers `regalloc` chose; operands that live in spill slots are reloaded into the scratch registers r0/r5.
`Program.labels` keeps the block labels; `Lowered.lines` maps instruction indices to source positions (for
line_info and for reporting a verifier rejection at the source line).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import MAX_BPF_STACK
from pyebpf.errors import CompileError
from pyebpf.compiler import emit
from pyebpf.compiler.ir import (
    NEGATED, Alu, AtomicAdd, Block, Branch, Call, Ext, FuncRef, Function, Jump, Load, MapRef, Mov, Neg, Operand,
    Param,
    Return, SlotAddr, StackSlot, Store, VReg,
)
from pyebpf.compiler.regalloc import Allocation, allocate
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program

SCR0, SCR1 = 0, 5
FUNC_PREFIX = "func:"
"""Label of a subprogram's entry (its blocks' labels get `name.` in front, so they stay distinct)."""


@dataclass(frozen=True)
class Label:
    name: str
FP = 10


@dataclass
class Lowered:
    program: Program
    lines: list[tuple[int, int, int]] = field(default_factory=list)
    """(instruction index, source line, column) where the source position changes."""
    allocation: Allocation | None = None
    functions: list[tuple[str, int]] = field(default_factory=list)
    """(name, index of its first instruction): the main function at 0, then each subprogram."""


def layout_frame(slots: list[StackSlot]) -> int:
    """Assign negative r10 offsets, largest alignment first; returns the frame size (CompileError past 512)."""
    off = 0
    for s in sorted(slots, key=lambda s: -s.align):
        off += s.size
        off = (off + s.align - 1) // s.align * s.align
        s.offset = -off
    if off > MAX_BPF_STACK:
        raise CompileError(f"the probe needs {off} bytes of stack; eBPF allows {MAX_BPF_STACK}",
                           hint="use smaller records, or a per-CPU array map as scratch space")
    return off


class _Lowering:
    def __init__(self, fn: Function, alloc: Allocation, cpu_v4: bool = True):
        self.fn = fn
        self.alloc = alloc
        self.cpu_v4 = cpu_v4
        self.out: list[Any] = []  # Instruction | emit.Jmp | Label
        self.lines: list[tuple[int, int, int]] = []
        self.core: list[tuple[int, Any]] = []  # (instruction index, CoreAccess) of CO-RE relocated immediates
        self._loc: Any = None

    # -- operands ------------------------------------------------------------------------------------------------
    def reg_of(self, v: VReg) -> int | None:
        return self.alloc.reg.get(v)

    def slot_off(self, v: VReg) -> int:
        return self.alloc.spill[v].offset  # type: ignore[return-value]

    def put(self, insn: Any) -> None:
        self.out.append(insn)

    def materialize(self, op: Operand, into: int) -> None:
        """Write operand `op` into register `into` (no-op when it is already there)."""
        if isinstance(op, VReg):
            r = self.reg_of(op)
            if r is None:
                self.put(emit.ldx(into, FP, self.slot_off(op), 8))
            elif r != into:
                self.put(emit.mov_reg(into, r))
        elif isinstance(op, SlotAddr):
            self.put(emit.mov_reg(into, FP))
            self.put(emit.alu_imm("add", into, op.slot.offset + op.off))  # type: ignore[operator]
        elif isinstance(op, MapRef):
            self.put(emit.ld_map(into, op.name, op.value_off))
        elif isinstance(op, FuncRef):
            self.put(emit.FuncAddrRel(into, FUNC_PREFIX + op.name))
        else:
            self.put(emit.mov_imm(into, int(op)))

    def read(self, op: Operand, scratch: int) -> int:
        """A register holding `op`: its own register, or `scratch` loaded with it."""
        if isinstance(op, VReg) and self.reg_of(op) is not None:
            return self.reg_of(op)  # type: ignore[return-value]
        self.materialize(op, scratch)
        return scratch

    def target(self, v: VReg) -> int:
        r = self.reg_of(v)
        return SCR0 if r is None else r

    def flush(self, v: VReg, reg: int) -> None:
        if self.reg_of(v) is None:
            self.put(emit.stx(FP, self.slot_off(v), reg, 8))

    def base(self, b: VReg | StackSlot, off: int, scratch: int) -> tuple[int, int]:
        if isinstance(b, StackSlot):
            return FP, b.offset + off  # type: ignore[operator]
        return self.read(b, scratch), off

    # -- instructions --------------------------------------------------------------------------------------------
    def insn(self, i: Any) -> None:
        loc = getattr(i, "loc", None)
        if loc is not None and loc != self._loc:
            self._loc = loc
            self.lines.append((len([x for x in self.out if not isinstance(x, Label)]), *loc))
        getattr(self, "_" + type(i).__name__)(i)

    def _Mov(self, i: Mov) -> None:
        d = self.target(i.dst)
        if i.core is not None:  # a relocated field offset: always `mov dst, imm32`, the instruction CO-RE patches
            if not isinstance(i.src, int) or not emit.fits_imm(i.src):
                raise CompileError(f"a CO-RE relocated value must be a 32-bit constant, not {i.src!r}")
            self.core.append((len([x for x in self.out if not isinstance(x, Label)]), i.core))
            self.put(emit.mov_imm(d, i.src))
        else:
            self.materialize(i.src, d)
        self.flush(i.dst, d)

    def _Param(self, i: Param) -> None:
        d = self.target(i.dst)
        if d != i.index:
            self.put(emit.mov_reg(d, i.index))
        self.flush(i.dst, d)

    def _Alu(self, i: Alu) -> None:
        d = self.target(i.dst)
        b = i.b
        if isinstance(b, int) and i.op in ("div", "mod") and b & (0xFFFFFFFFFFFFFFFF if i.wide else 0xFFFFFFFF) == 0:
            # eBPF: x / 0 = 0, x % 0 = x; the kernel refuses a constant zero divisor, so fold it here
            if i.op == "div":
                self.put(emit.mov_imm(d, 0))
            else:
                self.materialize(i.a, d)
                if not i.wide:
                    self.put(emit.mov_reg(d, d, wide=False))
            self.flush(i.dst, d)
            return
        imm: int | None = None
        breg = 0
        if isinstance(b, int):
            if i.op in ("lsh", "rsh", "arsh"):
                imm = b & (63 if i.wide else 31)
            elif i.wide and emit.fits_imm(b):
                imm = b
            elif not i.wide:
                imm = emit.s32(b)
            if imm is None:
                self.put(emit.mov_imm(SCR1, b))
                breg = SCR1
        elif isinstance(b, VReg) and self.reg_of(b) == d and not (isinstance(i.a, VReg) and self.reg_of(i.a) == d):
            self.put(emit.mov_reg(SCR1, d))
            breg = SCR1
        else:
            breg = self.read(b, SCR1)
        self.materialize(i.a, d)
        if imm is not None:
            self.put(emit.alu_imm(i.op, d, imm, i.wide, i.signed))
        else:
            self.put(emit.alu_reg(i.op, d, breg, i.wide, i.signed))
        self.flush(i.dst, d)

    def _Neg(self, i: Neg) -> None:
        d = self.target(i.dst)
        self.materialize(i.a, d)
        self.put(emit.neg(d, i.wide))
        self.flush(i.dst, d)

    def _Ext(self, i: Ext) -> None:
        d = self.target(i.dst)
        if i.bits == 64:
            self.materialize(i.src, d)
        elif i.signed and self.cpu_v4:
            s = self.read(i.src, d)
            self.put(emit.movsx(d, s, i.bits))
        elif i.signed:  # before cpu v4 (Linux 6.6): shift the sign bit up, then arithmetically back down
            self.materialize(i.src, d)
            self.put(emit.alu_imm("lsh", d, 64 - i.bits))
            self.put(emit.alu_imm("arsh", d, 64 - i.bits))
        elif i.bits == 32:
            s = self.read(i.src, d)
            self.put(emit.mov_reg(d, s, wide=False))
        else:
            self.materialize(i.src, d)
            self.put(emit.alu_imm("and", d, (1 << i.bits) - 1))
        self.flush(i.dst, d)

    def _Bswap(self, i: Any) -> None:
        d = self.target(i.dst)
        self.materialize(i.src, d)
        self.put(emit.to_be(d, i.bits))
        self.flush(i.dst, d)

    def _Load(self, i: Load) -> None:
        d = self.target(i.dst)
        b, off = self.base(i.base, i.off, SCR1)
        if i.core is not None:  # the ldx whose offset CO-RE patches (a direct load through a PTR_TO_BTF_ID)
            self.core.append((len([x for x in self.out if not isinstance(x, Label)]), i.core))
        sx = i.signed and i.size < 8
        self.put(emit.ldx(d, b, off, i.size, sx and self.cpu_v4))
        if sx and not self.cpu_v4:
            self.put(emit.alu_imm("lsh", d, 64 - 8 * i.size))
            self.put(emit.alu_imm("arsh", d, 64 - 8 * i.size))
        self.flush(i.dst, d)

    def _Store(self, i: Store) -> None:
        b, off = self.base(i.base, i.off, SCR1)
        if isinstance(i.src, int):
            imm = i.src if i.size == 8 else emit.s32(i.src)
            if emit.fits_imm(imm):
                self.put(emit.st(b, off, imm, i.size))
                return
        s = self.read(i.src, SCR0)
        self.put(emit.stx(b, off, s, i.size))

    def _AtomicAdd(self, i: AtomicAdd) -> None:
        b, off = self.base(i.base, i.off, SCR1)
        s = self.read(i.src, SCR0)
        self.put(emit.atomic_add(b, off, s, i.size))

    def _Call(self, i: Call) -> None:
        self.parallel_args(i.args)
        self.put(emit.call(i.helper))
        if i.dst is not None:
            d = self.reg_of(i.dst)
            if d is None:
                self.put(emit.stx(FP, self.slot_off(i.dst), 0, 8))
            elif d != 0:
                self.put(emit.mov_reg(d, 0))

    def _LocalCall(self, i: Any) -> None:
        self.parallel_args(i.args)
        self.put(emit.CallRel(FUNC_PREFIX + i.target))
        if i.dst is not None:
            d = self.reg_of(i.dst)
            if d is None:
                self.put(emit.stx(FP, self.slot_off(i.dst), 0, 8))
            elif d != 0:
                self.put(emit.mov_reg(d, 0))

    def parallel_args(self, args: list[Operand]) -> None:
        """Move call arguments into r1..r5: register-to-register moves as a parallel move (r0 breaks cycles),
        then everything that reads no allocatable register (spills, constants, stack addresses, maps)."""
        moves: dict[int, int] = {}  # dst reg -> src reg
        later: list[tuple[int, Operand]] = []
        for n, a in enumerate(args, start=1):
            r = self.reg_of(a) if isinstance(a, VReg) else None
            if r is not None:
                if r != n:
                    moves[n] = r
            else:
                later.append((n, a))
        while moves:
            ready = [d for d in moves if d not in moves.values()]
            if ready:
                for d in ready:
                    self.put(emit.mov_reg(d, moves.pop(d)))
                continue
            d, s = next(iter(moves.items()))  # a cycle: park one source in r0
            self.put(emit.mov_reg(SCR0, s))
            for k, v in moves.items():
                if v == s:
                    moves[k] = SCR0
        for n, a in later:
            self.materialize(a, n)

    # -- terminators ---------------------------------------------------------------------------------------------
    def term(self, t: Any, next_block: Block | None) -> None:
        loc = getattr(t, "loc", None)
        if loc is not None and loc != self._loc:
            self._loc = loc
            self.lines.append((len([x for x in self.out if not isinstance(x, Label)]), *loc))
        if isinstance(t, Return):
            self.materialize(t.value, 0)
            self.put(emit.exit_())
        elif isinstance(t, Jump):
            if t.target is not next_block:
                self.put(emit.Jmp(t.target.label))
        elif isinstance(t, Branch):
            self.branch(t, next_block)
        else:
            raise CompileError(f"block without a terminator in {self.fn.name}")

    def branch(self, t: Branch, next_block: Block | None) -> None:
        op, a, b, then, orelse = t.op, t.a, t.b, t.then, t.orelse
        if op == "may_goto":  # `then` when the loop budget is spent; no operands
            self.put(emit.Jmp(then.label, "may_goto"))
            if orelse is not next_block:
                self.put(emit.Jmp(orelse.label))
            return
        if isinstance(a, int) and not isinstance(b, int):
            from pyebpf.compiler.ir import SWAPPED

            if op in SWAPPED:
                op, a, b = SWAPPED[op], b, a
        areg = self.read(a, SCR0)
        src: int | None = None
        imm = 0
        if isinstance(b, int) and emit.fits_imm(b):
            imm = b
        else:
            src = self.read(b, SCR1)
        if then is next_block and op in NEGATED:
            self.put(emit.Jmp(orelse.label, NEGATED[op], areg, src, imm))
            return
        self.put(emit.Jmp(then.label, op, areg, src, imm))
        if orelse is not next_block:
            self.put(emit.Jmp(orelse.label))


def link(items: list[Any]) -> tuple[list[Instruction], dict[str, int]]:
    """Resolve label jumps into slot offsets."""
    labels: dict[str, int] = {}
    slot = 0
    for it in items:
        if isinstance(it, Label):
            labels[it.name] = slot
        else:
            slot += it.slots if isinstance(it, Instruction) else getattr(it, "slots", 1)
    out: list[Instruction] = []
    slot = 0
    for it in items:
        if isinstance(it, Label):
            continue
        if isinstance(it, (emit.Jmp, emit.CallRel, emit.FuncAddrRel)):
            off = labels[it.label] - (slot + 1)
            if not -(1 << 15) <= off < (1 << 15):
                raise CompileError("the probe is too large: a jump spans more than 32767 instructions")
            out.append(it.resolve(off))
            slot += getattr(it, "slots", 1)
        else:
            out.append(it)
            slot += it.slots
    return out, labels


def simplify(fn: Function) -> None:
    """Thread jumps through empty blocks, and send every branch to an empty `return C` block to one block per C
    (a shared `r0 = C; exit`, as clang emits)."""
    def final(b: Block, seen: int = 0) -> Block:
        while not b.insns and isinstance(b.term, Jump) and b.term.target is not b and seen < 64:
            b, seen = b.term.target, seen + 1
        return b

    canonical: dict[int, Block] = {}
    for b in fn.blocks:
        if not b.insns and isinstance(b.term, Return) and isinstance(b.term.value, int):
            canonical.setdefault(b.term.value, b)

    def redirect(b: Block) -> Block:
        b = final(b)
        if not b.insns and isinstance(b.term, Return) and isinstance(b.term.value, int):
            return canonical[b.term.value]
        return b

    for b in fn.blocks:
        t = b.term
        if isinstance(t, Jump):
            t.target = redirect(t.target)
        elif isinstance(t, Branch):
            t.then, t.orelse = redirect(t.then), redirect(t.orelse)


def layout(blocks: list[Block]) -> list[Block]:
    """Block order for fall-through: after a block, place the target of its jump (or the `then` of its branch)
    when not placed yet, else the next unplaced block in creation (≈ source) order."""
    placed: list[Block] = []
    seen: set[int] = set()
    pending = list(blocks)
    while len(placed) < len(blocks):
        b = next(x for x in pending if id(x) not in seen)
        while b is not None and id(b) not in seen:
            placed.append(b)
            seen.add(id(b))
            t = b.term
            nxt = None
            if isinstance(t, Jump):
                nxt = t.target
            elif isinstance(t, Branch):
                nxt = t.then if id(t.then) not in seen else t.orelse
            b = nxt if nxt is not None and id(nxt) not in seen else None
    return placed


def _lower_function(fn: Function, cpu_v4: bool, prefix: str = "") -> tuple[_Lowering, int]:
    """One function's instructions (labels not yet linked) and its frame size."""
    simplify(fn)
    blocks = layout(fn.reachable())
    spills: list[StackSlot] = []

    def new_slot() -> StackSlot:
        s = StackSlot(8, 8, "spill")
        spills.append(s)
        return s

    alloc = allocate(fn, blocks, new_slot)
    frame = layout_frame(fn.slots + spills)
    lo = _Lowering(fn, alloc, cpu_v4)
    for b in blocks:
        b.label = prefix + b.label
    for n, b in enumerate(blocks):
        lo.out.append(Label(b.label))
        for i in b.insns:
            lo.insn(i)
        lo.term(b.term, blocks[n + 1] if n + 1 < len(blocks) else None)
    return lo, frame


def lower(fn: Function, maps: dict[str, MapSpec] | None = None, prog_type: Any = None, name: str = "",
          attach_to: str | None = None, expected_attach_type: Any = None, license: str = "GPL",
          cpu_v4: bool = True, subprograms: list[Function] | None = None) -> Lowered:
    """Allocate, select and link `fn` into a Program; cpu_v4=False avoids Linux 6.6's instructions (movsx, ldsx;
    the front end expands signed division). `subprograms` follow the main function, each with its own frame,
    called with `call pc+off` (bpf-to-bpf); `Lowered.functions` gives their entry indices."""
    lo, frame = _lower_function(fn, cpu_v4)
    items = list(lo.out)
    lines = list(lo.lines)
    core = list(lo.core)
    functions = [(fn.name, 0)]
    frames = frame
    for sub in subprograms or []:
        slo, sframe = _lower_function(sub, cpu_v4, f"{sub.name}.")
        frames += sframe
        start = len([x for x in items if not isinstance(x, Label)])
        functions.append((sub.name, start))
        items.append(Label(FUNC_PREFIX + sub.name))
        items += slo.out
        lines += [(idx + start, line, col) for idx, line, col in slo.lines]
        core += [(idx + start, acc) for idx, acc in slo.core]
    if frames > MAX_BPF_STACK:
        raise CompileError(f"the probe and its subprograms need {frames} bytes of stack together; eBPF allows "
                           f"{MAX_BPF_STACK} along a call chain", hint="inline small helpers, or use smaller locals")
    insns, labels = link(items)
    program = Program(insns, dict(maps or {}), prog_type, license, name or fn.name, labels, expected_attach_type,
                      attach_to)
    program.core_relos = [acc.at(program.slot_of(idx)) for idx, acc in core]
    return Lowered(program, lines, lo.alloc, functions)


__all__ = ["lower", "Lowered", "layout_frame", "link"]
