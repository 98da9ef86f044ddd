"""Why an accepted program's access at one source line is safe: on every explored path that reached it, the type
and bounds of the register it goes through, and where they came from (the comparison that established the range,
the helper whose result was NULL-checked, ...). `pyebpf explain --why-accepted LINE` prints it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyebpf.errors import InputError
from pyebpf.verifier.log import insn_str
from pyebpf.verifier.provenance import PathView, effect

_LINE = re.compile(r"^(?:line |.*?:)(\d+): ?(.*)$")
_ITEM = re.compile(r"^([a-z0-9_=]+)=([^=]+)$")


@dataclass
class Reason:
    """One way the access was proven safe, and the explored paths on which it was proven that way."""

    paths: list[int]
    bounds: str
    provenance: list[str] = field(default_factory=list)


@dataclass
class AccessProof:
    insn: int
    disasm: str
    source: str
    what: str  # 'load', 'store', 'call', 'instruction'
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class WhyAccepted:
    line: str
    accepted: bool
    accesses: list[AccessProof] = field(default_factory=list)

    def text(self) -> str:
        out = [f"why it is safe: {self.line}"]
        if not self.accepted:
            out.append("(the program is rejected: these are the paths explored before the rejection)")
        if not self.accesses:
            out.append("no explored path reached an instruction of this line")
        for a in self.accesses:
            out.append(f"insn {a.insn}: {a.disasm}" + (f"  ({a.source})" if a.source else ""))
            for r in a.reasons:
                paths = ", ".join(str(p) for p in r.paths)
                out.append(f"  on path{'s' if len(r.paths) > 1 else ''} {paths}: {r.bounds}")
                out.extend(f"    because {p}" for p in r.provenance)
        return "\n".join(out) + "\n"

    __str__ = text


def source_map(program: Any) -> dict[int, tuple[int, str]]:
    """slot -> (line number, 'file:line: text') for every slot with a known source line."""
    from pyebpf.verifier.explain import source_line

    out = {}
    for slot in program.slot_map():
        src = source_line(program, slot)
        m = _LINE.match(src)
        if m:
            out[slot] = (int(m.group(1)), src)
    return out


def slots_of(program: Any, line: str | int) -> tuple[list[int], str]:
    """The slots a LINE argument names: a source line number, or `@SLOT` for one instruction."""
    text = str(line).strip()
    if text.startswith("@"):
        try:
            slot = int(text[1:])
        except ValueError:
            raise InputError(f"--why-accepted: {text!r} is not @SLOT (an instruction number)") from None
        if slot not in program.slot_map():
            raise InputError(f"--why-accepted: there is no instruction at slot {slot}")
        return [slot], f"insn {slot}"
    try:
        want = int(text)
    except ValueError:
        raise InputError(f"--why-accepted: {text!r} is neither a line number nor @SLOT") from None
    smap = source_map(program)
    slots = sorted(s for s, (n, _src) in smap.items() if n == want)
    if not slots:
        known = sorted({n for n, _src in smap.values()})
        hint = (f" (lines with code: {', '.join(map(str, known[:40]))})" if known
                else " (the program has no source lines)")
        raise InputError(f"--why-accepted: no instruction comes from line {want}{hint}")
    return slots, smap[slots[0]][1]


def _fields(value: str) -> tuple[str, dict[str, int | str]]:
    """`map_value(map=a,ks=4,vs=16,smin=smin32=0,umax=15)` -> ('map_value', {'map': 'a', 'vs': 16, ...})."""
    m = re.match(r"^P?([a-z_]+)\((.*)\)$", value)
    if not m:
        return value, {}
    kind, body = m.group(1), m.group(2)
    items, depth, cur = [], 0, []
    for ch in body:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    out: dict[str, int | str] = {}
    for item in items:
        names = item.split("=")
        if len(names) < 2:
            continue
        val = names[-1]
        try:
            num: int | str = int(val, 0)
        except ValueError:
            num = val
        for n in names[:-1]:
            out[n] = num
    return kind, out


def bounds_sentence(reg: int, value: str, off: int, size: int) -> str:
    """What the register's type and bounds prove about an access of `size` bytes at `off` from it."""
    r = f"r{reg}"
    m = re.match(r"^fp(-?\d+)$", value)
    if m:
        at = int(m.group(1)) + off
        return f"{r}={value}: the access is fp{at}..fp{at + size - 1}, inside the 512-byte stack frame"
    kind, f = _fields(value)
    fixed = f.get("off", 0) if isinstance(f.get("off", 0), int) else 0
    umin = f.get("umin", f.get("smin", 0)) if "var_off" in f or "umax" in f else 0
    umax = f.get("umax", 0) if "var_off" in f or "umax" in f else 0
    if kind == "map_value" and isinstance(f.get("vs"), int):
        lo = fixed + (umin if isinstance(umin, int) else 0) + off
        hi = fixed + (umax if isinstance(umax, int) else 0) + off + size
        return (f"{r}={value}: every offset it may hold gives bytes {lo}..{hi - 1} of map {f.get('map')}'s value, "
                f"within value_size {f['vs']} ({hi} <= {f['vs']})")
    if kind == "pkt" and "r" in f:
        hi = fixed + off + size
        return (f"{r}={value}: a comparison with data_end proved {f['r']} bytes from the packet pointer readable; "
                f"this access ends at {hi} <= {f['r']}")
    if kind == "ctx":
        return f"{r}={value}: the context field at offset {fixed + off} of size {size} is one this program type exposes"
    return f"{r}={value}"


def why_accepted(program: Any, line: str | int, prog_type: Any = None, privileged: bool = True,
                 source: dict[int, str] | None = None, **kw: Any) -> WhyAccepted:
    """For every instruction of `line`, the bounds that made it safe on each explored path and their provenance."""
    from pyebpf.verifier.explain import _where
    from pyebpf.verifier.explore import explore

    if source is not None:
        program = program.replace_instructions(program.instructions)
        program.source_lines = source  # type: ignore[attr-defined]
    slots, label = slots_of(program, line)
    exp = explore(program, prog_type, privileged, watch=frozenset(slots), **kw)
    insns = program.slot_map()
    smap = source_map(program)
    out = WhyAccepted(label, exp.result.accepted)
    for slot in slots:
        insn = insns[slot]
        e = effect(insn)
        if e.kind == "load":
            what, reg, off = "load", e.src, e.off
        elif e.kind in ("store", "storek"):
            what, reg, off = "store", e.dst, e.off
        elif e.kind == "call":
            what, reg, off = "call", None, 0
        else:
            what, reg, off = "instruction", None, 0
        proof = AccessProof(slot, re.sub(r"^\([0-9a-f]{2}\) ", "", insn_str(insn)), smap.get(slot, (0, ""))[1], what)
        groups: dict[tuple, Reason] = {}
        for seg in exp.segments:
            if not any(s.idx == slot for s in seg.steps):
                continue
            steps = exp.path(seg.index)
            view = PathView(program, steps, _where(program))
            for pos, st in enumerate(steps):
                if st.idx != slot or (seg.parent is not None and pos < len(steps) - len(seg.steps)):
                    continue
                if reg is not None:
                    value = view.value(f"R{reg}", pos) or "?"
                    bounds = bounds_sentence(reg, value, off, e.size)
                    prov = tuple(view.origin(reg, pos)) if reg != 10 else ()
                else:
                    regs = range(1, 6) if what == "call" else range(0, 11)
                    args = [f"r{a}={view.value(f'R{a}', pos)}" for a in regs if view.value(f"R{a}", pos)]
                    bounds = ("arguments " if what == "call" else "state before it: ") + (" ".join(args) or "-")
                    prov = ()
                key = (bounds, prov)
                if key not in groups:
                    groups[key] = Reason([], bounds, list(prov))
                if seg.index not in groups[key].paths:
                    groups[key].paths.append(seg.index)
        proof.reasons = list(groups.values())
        if proof.reasons:
            out.accesses.append(proof)
    return out


__all__ = ["why_accepted", "WhyAccepted", "AccessProof", "Reason", "bounds_sentence", "slots_of", "source_map"]
