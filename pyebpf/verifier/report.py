"""Pictures of an explanation: the CFG in basic blocks and a step-through of the states along the failing path.

`html_report` writes one self-contained page (inline CSS/SVG/JS, nothing fetched); `text_steps` is the same
step-through for a terminal. The DOM is part of the contract (tests/verifier/test_explain_html.py reads it):
blocks are `.block#block-S`, instructions `tr.insn#insn-S` (`.onpath`, `.fail`), edges `.edge` with
`data-from`/`data-to` (`.back-edge`, `.call-edge`, `.onpath`), steps `tr.step`.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from pyebpf.abi.opcodes import CLASS_MASK, OP_MASK, InsnClass, JmpOp
from pyebpf.verifier.log import insn_str

_JUMPS = (int(InsnClass.JMP), int(InsnClass.JMP32))


@dataclass
class Block:
    start: int
    end: int  # last slot
    subprog: int
    succ: list[int] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)  # successor -> "fall", "jump", "call"


def successors(insns: dict[int, Any], slot: int) -> list[tuple[int, str]]:
    """Where control goes after `slot`: (target, 'fall' | 'jump' | 'call'); a call also falls through."""
    insn = insns[slot]
    cls = insn.opcode & CLASS_MASK
    nxt = slot + insn.slots
    if cls not in _JUMPS:
        return [(nxt, "fall")]
    op = insn.opcode & OP_MASK
    if op == JmpOp.EXIT:
        return []
    if op == JmpOp.CALL:
        return [(nxt, "fall")] + ([(slot + 1 + insn.imm, "call")] if insn.src == 1 else [])
    if op == JmpOp.JA:
        return [(slot + 1 + (insn.imm if cls == InsnClass.JMP32 else insn.off), "jump")]
    return [(nxt, "fall"), (slot + 1 + insn.off, "jump")]


def _is_branch(insn: Any) -> bool:
    """A jump, exit or branch ends a basic block; a call returns to the next instruction, so it does not."""
    return insn.opcode & CLASS_MASK in _JUMPS and insn.opcode & OP_MASK != JmpOp.CALL


def basic_blocks(program: Any) -> list[Block]:
    """Split the program at jump targets, after jumps and at subprogram entries (bpf-to-bpf call targets)."""
    insns = program.slot_map()
    slots = sorted(insns)
    leaders = {0}
    entries = [0]
    for s in slots:
        for t, kind in successors(insns, s):
            if t in insns and (kind != "fall" or _is_branch(insns[s])):
                leaders.add(t)
                if kind == "call":
                    entries.append(t)
    blocks: list[Block] = []
    entries = sorted(set(entries))
    for i, s in enumerate(slots):
        if s in leaders or not blocks:
            sub = max(j for j, e in enumerate(entries) if e <= s)
            blocks.append(Block(s, s, sub))
        b = blocks[-1]
        b.end = s
        nxt_leader = i + 1 < len(slots) and slots[i + 1] in leaders
        succ = successors(insns, s)
        if _is_branch(insns[s]) or nxt_leader or any(k == "call" for _, k in succ):
            for t, kind in succ:
                if t in insns and not (kind == "fall" and not _is_branch(insns[s]) and not nxt_leader):
                    b.succ.append(t)
                    b.kinds[t] = kind
    return blocks


def text_steps(ex: Any) -> str:
    """The step-through as plain text: each instruction of the failing path and the state printed after it."""
    out = ["step-through of the failing path (state after each instruction; unchanged registers omitted):"]
    for n, step in enumerate(ex.steps):
        mark = "  <-- refused" if n == len(ex.steps) - 1 and step.idx == ex.insn else ""
        state = " ".join(f"{k}={v}" for k, v in step.state.items())
        out.append(f"  {n:4d}  insn {step.idx:4d}: {step.text:<32s} {state}{mark}")
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:sans-serif;margin:1em;color:#222}
h1{font-size:1.3em} h2{font-size:1.1em;margin-top:1.2em}
.explanation{background:#fff4f4;border-left:4px solid #c00;padding:.5em 1em;white-space:pre-wrap;font-family:monospace}
.accepted{background:#f4fff4;border-left-color:#080}
.cfg{display:flex;gap:2em;align-items:flex-start}
.subprog{border:1px dashed #999;padding:.4em;margin-bottom:.6em}
.block{border:1px solid #555;margin:.4em 0;background:#fafafa}
.block.onpath{border-color:#c60;border-width:2px}
.block table{border-collapse:collapse;font-family:monospace;font-size:.9em}
tr.insn td{padding:0 .4em}
tr.insn.onpath{background:#fff0d0}
tr.insn.fail{background:#f88;font-weight:bold}
tr.insn.current{outline:2px solid #06c}
ul.edges{font-family:monospace;font-size:.85em}
.edge.back-edge{color:#a0a}.edge.onpath{font-weight:bold;color:#c60}.edge.call-edge{font-style:italic}
table.steps{border-collapse:collapse;font-family:monospace;font-size:.85em}
table.steps td,table.steps th{border:1px solid #ccc;padding:.1em .4em;vertical-align:top}
tr.step.current{background:#def}
"""

_JS = """
let cur=-1;const steps=[...document.querySelectorAll('tr.step')];
function show(i){if(!steps.length)return;cur=Math.max(0,Math.min(steps.length-1,i));
steps.forEach(s=>s.classList.remove('current'));document.querySelectorAll('tr.insn.current')
.forEach(s=>s.classList.remove('current'));const s=steps[cur];s.classList.add('current');
const r=document.getElementById('insn-'+s.dataset.insn);if(r)r.classList.add('current');
document.getElementById('stepno').textContent=(cur+1)+'/'+steps.length;}
document.getElementById('prev').onclick=()=>show(cur-1);document.getElementById('next').onclick=()=>show(cur+1);
"""


def html_report(program: Any, ex: Any, title: str = "program") -> str:
    """One self-contained HTML page: explanation, CFG (blocks, edges, failing path) and the step-through."""
    e = html.escape
    insns = program.slot_map()
    blocks = basic_blocks(program)
    steps = ex.steps if ex is not None else []
    on_path = {s.idx for s in steps}
    path_edges = {(a.idx, b.idx) for a, b in zip(steps, steps[1:])}
    fail = ex.insn if ex is not None else None
    block_of = {s: b.start for b in blocks for s in insns if b.start <= s <= b.end}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>pyebpf explain: {e(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>pyebpf explain: {e(title)}</h1>"]
    if ex is None:
        parts.append("<div class='explanation accepted' id='explanation'>accepted: nothing to explain</div>")
    else:
        parts.append(f"<div class='explanation' id='explanation'>{e(ex.text())}</div>")
    parts.append("<h2>Control-flow graph</h2><div class='cfg'><div class='blocks'>")
    edges: list[str] = []
    sub = None
    for b in blocks:
        if b.subprog != sub:
            if sub is not None:
                parts.append("</div>")
            sub = b.subprog
            parts.append(f"<div class='subprog' id='subprog-{sub}'><b>subprogram {sub} @ insn {b.start}</b>")
        bcls = "block onpath" if any(b.start <= s <= b.end for s in on_path) else "block"
        parts.append(f"<div class='{bcls}' id='block-{b.start}' data-start='{b.start}' data-end='{b.end}'><table>")
        for s in sorted(x for x in insns if b.start <= x <= b.end):
            cls = "insn" + (" onpath" if s in on_path else "") + (" fail" if s == fail else "")
            src = getattr(program, "source_lines", {}).get(s, "")
            parts.append(f"<tr class='{cls}' id='insn-{s}'><td>{s}</td><td>{e(insn_str(insns[s]))}</td>"
                         f"<td class='src'>{e(src)}</td></tr>")
        parts.append("</table></div>")
        for t in b.succ:
            kind = b.kinds[t]
            ecls = "edge" + (" back-edge" if t <= b.end and kind != "call" else "") + \
                (" call-edge" if kind == "call" else "") + (" onpath" if (b.end, t) in path_edges else "")
            edges.append(f"<li class='{ecls}' data-from='{b.start}' data-to='{block_of.get(t, t)}'>"
                         f"block {b.start} &rarr; block {block_of.get(t, t)} ({kind}"
                         f"{', back-edge' if 'back-edge' in ecls else ''})</li>")
    if sub is not None:
        parts.append("</div>")
    parts.append("</div><div><b>edges</b><ul class='edges'>" + "".join(edges) + "</ul></div></div>")
    parts.append("<h2>Step-through of the failing path</h2><div><button id='prev'>&larr; prev</button> "
                 "<span id='stepno'>-</span> <button id='next'>next &rarr;</button></div>")
    parts.append("<table class='steps'><tr><th>#</th><th>insn</th><th>instruction</th><th>registers</th>"
                 "<th>stack</th></tr>")
    for n, st in enumerate(steps):
        regs = " ".join(f"{k}={v}" for k, v in st.state.items() if k.startswith("R"))
        stack = " ".join(f"{k}={v}" for k, v in st.state.items() if k.startswith("fp"))
        parts.append(f"<tr class='step' data-insn='{st.idx}'><td>{n}</td><td>{st.idx}</td><td>{e(st.text)}</td>"
                     f"<td>{e(regs)}</td><td>{e(stack)}</td></tr>")
    parts.append(f"</table><script>{_JS}</script></body></html>")
    return "\n".join(parts)


__all__ = ["html_report", "text_steps", "basic_blocks", "Block"]
