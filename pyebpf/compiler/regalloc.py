"""Register allocation: liveness over the CFG, live intervals over the block layout, linear scan.

Values live across a helper call must sit in callee-saved r6-r9 (calls clobber r1-r5); others may also use r1-r4,
preferring the argument register a call will want them in. r0 and r5 are kept as scratch for the lowering (spill
reloads, 64-bit immediates, parallel moves). When registers run out, the interval ending last is spilled to an
8-byte stack slot (the verifier keeps pointer and scalar state through 8-byte spills).
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.compiler.ir import Block, Call, Function, StackSlot, VReg

CALLEE_SAVED = (6, 7, 8, 9)
CALLER_SAVED = (1, 2, 3, 4)
SCRATCH = (0, 5)


@dataclass(eq=False)
class Interval:
    vreg: VReg
    start: int
    end: int
    crosses_call: bool = False
    hint: int | None = None
    reg: int | None = None
    spill: StackSlot | None = None


@dataclass
class Allocation:
    """Where each VReg lives: `reg[v]` a register number, or `spill[v]` a stack slot."""

    reg: dict[VReg, int]
    spill: dict[VReg, StackSlot]
    order: list[Block]


def liveness(blocks: list[Block]) -> tuple[dict[int, set[VReg]], dict[int, set[VReg]]]:
    """live-in and live-out sets per block (keyed by id(block)), by the usual backward dataflow to a fixed point."""
    use: dict[int, set[VReg]] = {}
    defs: dict[int, set[VReg]] = {}
    for b in blocks:
        u: set[VReg] = set()
        d: set[VReg] = set()
        for insn in [*b.insns, *([b.term] if b.term else [])]:
            u.update(v for v in insn.uses() if v not in d)
            d.update(insn.defs())
        use[id(b)], defs[id(b)] = u, d
    live_in: dict[int, set[VReg]] = {id(b): set() for b in blocks}
    live_out: dict[int, set[VReg]] = {id(b): set() for b in blocks}
    changed = True
    while changed:
        changed = False
        for b in reversed(blocks):
            out: set[VReg] = set()
            for s in b.successors():
                out |= live_in.get(id(s), set())
            new_in = use[id(b)] | (out - defs[id(b)])
            if out != live_out[id(b)] or new_in != live_in[id(b)]:
                live_out[id(b)], live_in[id(b)] = out, new_in
                changed = True
    return live_in, live_out


def intervals(blocks: list[Block]) -> list[Interval]:
    """One conservative [start, end] range per VReg over the linear block order (no holes)."""
    live_in, live_out = liveness(blocks)
    ranges: dict[VReg, list[int]] = {}
    hints: dict[VReg, int] = {}
    calls: list[int] = []

    def touch(v: VReg, pos: int) -> None:
        r = ranges.get(v)
        if r is None:
            ranges[v] = [pos, pos]
        else:
            r[0] = min(r[0], pos)
            r[1] = max(r[1], pos)

    pos = 0
    for b in blocks:
        start = pos
        for v in live_in[id(b)]:
            touch(v, start)
        for insn in [*b.insns, *([b.term] if b.term else [])]:
            pos += 2
            for v in insn.uses():
                touch(v, pos)
            for v in insn.defs():
                touch(v, pos)
            if isinstance(insn, Call):
                calls.append(pos)
                for i, a in enumerate(insn.args[:4]):
                    if isinstance(a, VReg):
                        hints.setdefault(a, i + 1)
        pos += 1
        for v in live_out[id(b)]:
            touch(v, pos)
    out = []
    for v, (s, e) in ranges.items():
        crosses = any(s < c < e for c in calls)
        out.append(Interval(v, s, e, crosses, hints.get(v)))
    return out


def allocate(fn: Function, blocks: list[Block], new_slot) -> Allocation:
    """Linear scan over `blocks` (the layout order); `new_slot()` makes an 8-byte spill slot."""
    ivs = sorted(intervals(blocks), key=lambda i: (i.start, i.end))
    active: list[Interval] = []
    free = set(CALLEE_SAVED) | set(CALLER_SAVED)
    for iv in ivs:
        for old in [a for a in active if a.end <= iv.start]:
            active.remove(old)
            free.add(old.reg)  # type: ignore[arg-type]
        allowed = CALLEE_SAVED if iv.crosses_call else CALLER_SAVED + CALLEE_SAVED
        choices = [r for r in allowed if r in free]
        if choices:
            reg = iv.hint if iv.hint in choices else choices[0]
            iv.reg = reg
            free.discard(reg)
            active.append(iv)
            continue
        # spill the interval (this one or an active one it may take the register of) that ends last
        victims = [a for a in active if a.reg in allowed and a.end > iv.end]
        if victims:
            victim = max(victims, key=lambda a: a.end)
            iv.reg, victim.reg = victim.reg, None
            victim.spill = new_slot()
            active.remove(victim)
            active.append(iv)
        else:
            iv.spill = new_slot()
    reg = {iv.vreg: iv.reg for iv in ivs if iv.reg is not None}
    spill = {iv.vreg: iv.spill for iv in ivs if iv.spill is not None}
    return Allocation(reg, spill, blocks)


__all__ = ["Interval", "Allocation", "liveness", "intervals", "allocate", "CALLEE_SAVED", "CALLER_SAVED", "SCRATCH"]
