"""Where a register's type and bounds came from, along one path the verifier walked.

The inputs are the verifier's own printouts (a level-1 or level-2 log parsed into `Step`s: the instruction and the
registers/stack slots printed after it, and the full state printed when a path resumes at it) and the program's
instructions. `origin` follows a register back through copies, arithmetic, spills and fills to the instruction
that gave it its type (a helper call, a load, a constant); `checks` lists the comparisons on the path that narrowed
its bounds. Both answer in a learner's words and name each instruction's source line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pyebpf.abi.opcodes import (CLASS_MASK, MODE_MASK, OP_MASK, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, AluOp,
                                InsnClass, JmpOp, Mode, Size, Source)

_ALU = (int(InsnClass.ALU), int(InsnClass.ALU64))
_JUMPS = (int(InsnClass.JMP), int(InsnClass.JMP32))
_COND = frozenset(int(op) for op in JmpOp if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND))
_FP = re.compile(r"^fp(-?\d+)$")
_MAX_DEPTH = 6


@dataclass
class Step:
    """One instruction on a path: its text, the registers/stack slots printed after it, and the full state the
    verifier printed before it when a path resumed there (`from X to Y: ...`)."""

    idx: int
    text: str
    state: dict[str, str] = field(default_factory=dict)
    before: dict[str, str] = field(default_factory=dict)
    #: the whole state just before the instruction, when an observer recorded it (explore.py's watched slots)
    full: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Effect:
    """What one instruction does to registers and the stack, as provenance needs it."""

    kind: str  # 'call' 'mov' 'movk' 'alu' 'aluk' 'load' 'store' 'storek' 'ldimm' 'jump' 'other'
    dst: int | None = None
    src: int | None = None
    size: int = 8
    off: int = 0


def effect(insn: Any) -> Effect:
    cls = insn.opcode & CLASS_MASK
    if cls in _ALU:
        op = insn.opcode & OP_MASK
        by_reg = insn.opcode & SOURCE_MASK == Source.X and op not in (AluOp.NEG, AluOp.END)
        if op == AluOp.MOV:
            return Effect("mov" if by_reg else "movk", insn.dst, insn.src if by_reg else None)
        return Effect("alu" if by_reg else "aluk", insn.dst, insn.src if by_reg else None)
    size = SIZE_BYTES.get(Size(insn.opcode & SIZE_MASK), 8)
    if cls == InsnClass.LDX:
        return Effect("load", insn.dst, insn.src, size, insn.off)
    if cls in (InsnClass.STX, InsnClass.ST):
        if insn.opcode & MODE_MASK == Mode.ATOMIC:
            return Effect("other")
        return Effect("store" if cls == InsnClass.STX else "storek", insn.dst, insn.src if cls == InsnClass.STX
                      else None, size, insn.off)
    if cls == InsnClass.LD:
        return Effect("ldimm", insn.dst)
    if cls in _JUMPS:
        op = insn.opcode & OP_MASK
        if op == JmpOp.CALL:
            return Effect("call", 0)
        if op in _COND:
            return Effect("jump", insn.dst, insn.src if insn.opcode & SOURCE_MASK == Source.X else None)
    return Effect("other")


class PathView:
    """One path: its steps, the program's instructions, and a `where(step)` that names an instruction."""

    def __init__(self, program: Any, steps: list[Step], where: Callable[[Step], str]) -> None:
        self.insns = program.slot_map()
        self.steps = steps
        self.where = where

    def insn(self, pos: int) -> Any:
        return self.insns.get(self.steps[pos].idx)

    def value(self, name: str, pos: int) -> str | None:
        """The printed value of register/slot `name` just before step `pos` (None when never printed)."""
        if self.steps[pos].full:
            return self.steps[pos].full.get(name)
        if name in self.steps[pos].before:
            return self.steps[pos].before[name]
        for k in range(pos - 1, -1, -1):
            s = self.steps[k]
            if name in s.state:
                return s.state[name]
            ins = self.insns.get(s.idx)
            if ins is not None and effect(ins).kind == "call" and name in ("R1", "R2", "R3", "R4", "R5"):
                return None  # a call leaves r1-r5 unreadable
            if name in s.before:
                return s.before[name]
        return None

    def after(self, name: str, pos: int) -> str | None:
        return self.value(name, pos + 1) if pos + 1 < len(self.steps) else self.steps[pos].state.get(name)

    def writer(self, reg: int, before: int) -> int | None:
        """Position of the last step before `before` that wrote register `reg`."""
        for k in range(before - 1, -1, -1):
            ins = self.insn(k)
            if ins is None:
                continue
            e = effect(ins)
            if e.kind == "call" and (reg == 0 or 1 <= reg <= 5):
                return k
            if e.kind in ("mov", "movk", "alu", "aluk", "load", "ldimm") and e.dst == reg:
                return k
        return None

    def stack_slot(self, base: int, off: int, pos: int) -> int | None:
        """The frame offset `base + off` addresses at step `pos` (None unless base is a constant stack pointer)."""
        if base == 10:
            return off
        v = self.value(f"R{base}", pos)
        m = _FP.match(v or "")
        return int(m.group(1)) + off if m else None

    def stack_writer(self, slot: int, before: int) -> tuple[int, Effect] | None:
        """The last store on the path, before `before`, that wrote a byte of the 8-byte slot holding `slot`."""
        lo = slot - slot % 8 if slot % 8 else slot
        for k in range(before - 1, -1, -1):
            ins = self.insn(k)
            if ins is None:
                continue
            e = effect(ins)
            if e.kind in ("store", "storek"):
                at = self.stack_slot(e.dst, e.off, k)
                if at is not None and at < lo + 8 and at + e.size > lo:
                    return k, e
        return None

    def step_text(self, pos: int) -> str:
        s = self.steps[pos]
        return f"`{s.text}` at {self.where(s)}"

    # ---- the two questions --------------------------------------------------------------------------------------
    def origin(self, reg: int, before: int, depth: int = 0) -> list[str]:
        """How register `reg` got the value it has just before step `before`, back to where its type came from,
        with the comparisons that narrowed it on the way."""
        k = self.writer(reg, before)
        lines = self._origin_at(reg, k, depth)
        if k is not None:
            lines += self.checks(reg, before, k + 1)
        return lines

    def _origin_at(self, reg: int, k: int | None, depth: int) -> list[str]:
        r = f"r{reg}"
        if k is None:
            if reg == 1:
                return ["r1 is the context pointer the program was called with"]
            if reg == 10:
                return ["r10 is the read-only frame pointer"]
            return [f"{r} was never written on this path"]
        e = effect(self.insn(k))
        now = self.steps[k].state.get(f"R{reg}") or self.after(f"R{reg}", k) or "?"
        deeper = depth < _MAX_DEPTH
        if e.kind == "call":
            if reg != 0:
                return [f"{r} was scratched by {self.step_text(k)}: calls leave r1-r5 unreadable"]
            return [f"r0 is the result of {self.step_text(k)}: {now}"]
        if e.kind == "movk":
            return [f"{r} was set by {self.step_text(k)}: {now}"]
        if e.kind == "ldimm":
            return [f"{r} was loaded by {self.step_text(k)}: {now}"]
        if e.kind == "mov":
            return [f"{r} is a copy of r{e.src} made by {self.step_text(k)}"] + \
                (self.origin(e.src, k, depth + 1) if deeper else [])
        if e.kind == "aluk":
            # a run of constant operations on the same register (clang's `<<= 32; >>= 32` zero extension): the
            # last one says what they left
            j = k
            while True:
                p = self.writer(reg, j)
                if p is None or effect(self.insn(p)).kind != "aluk":
                    break
                j = p
            return [f"{r} became {now} at {self.step_text(k)}"] + (self.origin(reg, j, depth + 1) if deeper else [])
        if e.kind == "alu":
            out = [f"{r} became {now} at {self.step_text(k)}"]
            if not deeper:
                return out
            src_val = self.value(f"R{e.src}", k) or ""
            if e.src is not None and e.src != reg and _is_pointer(self.value(f"R{reg}", k) or "") \
                    and _is_scalar(src_val):
                # pointer += scalar: the offset (and its bounds) came from the scalar
                return out + [f"r{e.src} was {src_val} there"] + self.origin(e.src, k, depth + 1)
            return out + self.origin(reg, k, depth + 1)
        if e.kind == "load":
            slot = self.stack_slot(e.src, e.off, k)
            if slot is None:
                known = ": the verifier knows only the value's size" if _is_scalar(now) else ""
                base = (self.value(f"R{e.src}", k) or "").lstrip("P").split("(", 1)[0]
                src = f"from a {base}" if base and not base[:1].isdigit() else "from memory"
                return [f"{r} was read {src} by {self.step_text(k)}{known}: {now}"]
            return self._fill(reg, k, slot, e, now, depth)
        return [f"{r} was written by {self.step_text(k)}: {now}"]

    def _fill(self, reg: int, k: int, slot: int, e: Effect, now: str, depth: int) -> list[str]:
        r = f"r{reg}"
        w = self.stack_writer(slot, k)
        if w is None:
            return [f"{r} was filled by {self.step_text(k)} from the stack slot fp{slot}, which was never written "
                    f"on this path: {now}"]
        j, se = w
        if se.kind == "storek":
            return [f"{r} was filled by {self.step_text(k)} from fp{slot}, where {self.step_text(j)} stored a "
                    f"constant: {now}"]
        at = self.stack_slot(se.dst, se.off, j)
        if se.size != e.size or at != slot:
            return [f"{r}'s bounds were lost at {self.step_text(k)}: fp{slot} was spilled as {se.size} bytes by "
                    f"{self.step_text(j)} and filled as {e.size} bytes; a fill keeps the spilled register's type "
                    f"and bounds only when it reads the spill at its own offset and at least its width, so {r} is "
                    f"now {now}"]
        out = [f"{r} was filled by {self.step_text(k)} from fp{slot}, spilled by {self.step_text(j)}"]
        return out + (self.origin(se.src, j, depth + 1) if se.src is not None and depth < _MAX_DEPTH else [])

    def checks(self, reg: int, before: int, since: int = 0) -> list[str]:
        """The comparisons on the path (between `since` and `before`) that changed register `reg`'s bounds or
        type, with the branch they took and what they left; copies of `reg` compared count too (same id)."""
        out = []
        name = f"R{reg}"
        for k in range(since, before):
            ins = self.insn(k)
            if ins is None or effect(ins).kind != "jump" or k + 1 >= len(self.steps):
                continue
            prev = self.value(name, k)
            nxt = self.value(name, k + 1)
            if prev is None or nxt is None or prev == nxt:
                continue
            taken = self.steps[k + 1].idx != self.steps[k].idx + ins.slots
            out.append(f"{self.step_text(k)} ({'taken' if taken else 'not taken'}) narrowed r{reg} from {prev} "
                       f"to {nxt}")
        return out


def _is_scalar(value: str) -> bool:
    """A printed register value that is a number: `scalar(...)`, `Pscalar(...)` or a constant."""
    return value.startswith(("scalar", "Pscalar")) or bool(re.match(r"^P?-?(0x)?[0-9a-f]+$", value))


def _is_pointer(value: str) -> bool:
    return bool(value) and not _is_scalar(value)


def operand_register(insn: Any, message: str) -> int | None:
    """The register a rejection is about: the one the message names, else the failing instruction's scalar
    operand (`rP += rS` refused for rS) or the base of its memory access."""
    m = re.search(r"\bR(\d+)\b", message)
    if m:
        return int(m.group(1))
    if insn is None:
        return None
    e = effect(insn)
    if e.kind == "alu":
        return e.src
    if e.kind == "aluk":  # `rP += K` refused: the register the constant was applied to
        return e.dst
    if e.kind == "load":
        return e.src
    if e.kind in ("store", "storek"):
        return e.dst
    return None


__all__ = ["Step", "Effect", "PathView", "effect", "operand_register"]
