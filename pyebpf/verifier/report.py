"""Pictures of an explanation: the CFG in basic blocks and a step-through of the states along the failing path.

`html_report` writes one self-contained page (inline CSS/SVG/JS, nothing fetched); `text_steps` is the same
step-through for a terminal. The DOM is part of the contract (tests/explain/test_explain_html.py reads it):
blocks are `.block#block-S`, instructions `tr.insn#insn-S` (`.onpath`, `.fail`, `.checkpoint` where a state was
stored, `.pruned` where a path was pruned), edges `.edge` with `data-from`/`data-to` (`.back-edge`, `.call-edge`,
`.onpath`), explored paths `option.path` of `select#path`, steps `tr.step` (`data-path`, `data-pos`, `data-insn`),
checkpoints `tr.ckpt#ckpt-N` and prunes `tr.prune` (`data-insn`, `data-path`, `data-checkpoint`).
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


def path_label(exp: Any, seg: Any) -> str:
    """'path 2: from insn 8 to 12, exit' / '..., pruned at insn 26 by checkpoint 1 (stored at insn 26 on path 0)'."""
    head = f"path {seg.index}: " + ("from the entry" if seg.pushed_at is None else
                                    f"from insn {seg.pushed_at} to {seg.start}")
    if seg.end == "pruned":
        tail = f"pruned at insn {seg.pruned_at}"
        if seg.pruned_by is not None:
            ck = exp.checkpoints[seg.pruned_by]
            tail += f" by checkpoint {ck.index} (stored at insn {ck.insn} on path {ck.segment})"
        return f"{head}, {tail}"
    return f"{head}, {'refused' if seg.end == 'rejected' else 'exit'}"


def text_exploration(exp: Any, path: int | None = None) -> str:
    """Every explored path in one line each, the pruning table, then the step-through of one full path (the
    failing one by default, else path 0): for people on a server."""
    out = [f"{len(exp.segments)} explored paths, {len(exp.checkpoints)} checkpoints stored, "
           f"{len(exp.prunes)} paths pruned:"]
    out += [f"  {path_label(exp, s)}" for s in exp.segments]
    if not exp.segments and not exp.result.accepted:
        out.append("  (refused by a check before do_check walked any path)")
    for pr in exp.prunes:
        ck = exp.checkpoints[pr.checkpoint]
        out.append(f"pruned at insn {pr.insn} on path {pr.segment}: the state {pr.current or '(empty)'} is within "
                   f"checkpoint {ck.index} {ck.state or '(no live registers)'}")
    if not exp.segments:
        return "\n".join(out) + "\n"
    if path is None:
        path = exp.failing_segment()
        path = 0 if path is None else path
    if not 0 <= path < len(exp.segments):
        from pyebpf.errors import InputError

        raise InputError(f"there is no explored path {path} (paths 0..{len(exp.segments) - 1})")
    out.append(f"step-through of {path_label(exp, exp.segments[path])} (state after each instruction; unchanged "
               f"registers omitted):")
    steps = exp.path(path)
    refused = exp.segments[path].end == "rejected"
    for n, step in enumerate(steps):
        if step.before:
            out.append(f"        state before: {' '.join(f'{k}={v}' for k, v in step.before.items())}")
        state = " ".join(f"{k}={v}" for k, v in step.state.items())
        mark = "  <-- refused" if refused and n == len(steps) - 1 else ""
        out.append(f"  {n:4d}  insn {step.idx:4d}: {step.text:<32s} {state}{mark}".rstrip() if not mark else
                   f"  {n:4d}  insn {step.idx:4d}: {step.text:<32s} {state}{mark}")
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
tr.insn.checkpoint td:first-child{border-left:4px solid #06c}
tr.insn.pruned td:first-child{border-left:4px solid #0a0}
tr.insn.current{outline:2px solid #06c}
ul.edges{font-family:monospace;font-size:.85em}
.edge.back-edge{color:#a0a}.edge.onpath{font-weight:bold;color:#c60}.edge.call-edge{font-style:italic}
table.steps,table.prunes,table.ckpts{border-collapse:collapse;font-family:monospace;font-size:.85em}
table.steps td,table.steps th,table.prunes td,table.prunes th,table.ckpts td,table.ckpts th{border:1px solid #ccc;
padding:.1em .4em;vertical-align:top}
tr.step.hidden{display:none}
tr.step.current{background:#def}
tr.step.resume td{border-top:2px solid #06c}
"""

_JS = """
const sel=document.getElementById('path');const all=[...document.querySelectorAll('tr.step')];let steps=[],cur=-1;
function chain(p){const out=[];let cut=null;while(p!==''&&p!==undefined&&p!==null){const o=sel.querySelector(
'option[value="'+p+'"]');out.push([p,cut]);cut=o.dataset.parentPos===''?null:+o.dataset.parentPos;
p=o.dataset.parent===''?null:o.dataset.parent;}return out;}
function choose(){const keep=new Map(chain(sel.value));steps=[];all.forEach(r=>{const ok=keep.has(r.dataset.path)
&&(keep.get(r.dataset.path)===null||+r.dataset.pos<=keep.get(r.dataset.path));r.classList.toggle('hidden',!ok);});
const order=[...keep.keys()].reverse();order.forEach(p=>all.forEach(r=>{if(r.dataset.path===p&&!r.classList
.contains('hidden'))steps.push(r);}));cur=-1;show(0);}
function show(i){document.querySelectorAll('.current').forEach(s=>s.classList.remove('current'));if(!steps.length)
return;cur=Math.max(0,Math.min(steps.length-1,i));const s=steps[cur];s.classList.add('current');
const r=document.getElementById('insn-'+s.dataset.insn);if(r)r.classList.add('current');
document.getElementById('stepno').textContent=(cur+1)+'/'+steps.length;}
document.getElementById('prev').onclick=()=>show(cur-1);document.getElementById('next').onclick=()=>show(cur+1);
sel.onchange=choose;choose();
"""

#: a report stays readable (and bounded) on programs with very many explored paths
MAX_STEP_ROWS = 20000


def _regs(state: dict[str, str], prefix: str) -> str:
    return " ".join(f"{k}={v}" for k, v in state.items() if k.startswith(prefix))


def html_report(program: Any, ex: Any, title: str = "program", exp: Any = None) -> str:
    """One self-contained page: explanation, CFG (blocks, edges, failing path, checkpoints and prune points), the
    explored paths with a step-through of each, and the pruning table. `exp` is an explore.Exploration; without
    one the step-through shows the failing path of the explanation only."""
    e = html.escape
    insns = program.slot_map()
    blocks = basic_blocks(program)
    fail_path = ex.steps if ex is not None else []
    on_path = {s.idx for s in fail_path}
    path_edges = {(a.idx, b.idx) for a, b in zip(fail_path, fail_path[1:])}
    fail = ex.insn if ex is not None else None
    stored = {c.insn for c in exp.checkpoints} if exp is not None else set()
    pruned = {p.insn for p in exp.prunes} if exp is not None else set()
    block_of = {s: b.start for b in blocks for s in insns if b.start <= s <= b.end}
    sources = _sources(program, insns)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>pyebpf explain: {e(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>pyebpf explain: {e(title)}</h1>"]
    if ex is None:
        parts.append("<div class='explanation accepted' id='explanation'>accepted: nothing to explain</div>")
    else:
        parts.append(f"<div class='explanation' id='explanation'>{e(ex.text())}</div>")
    if exp is not None:
        r = exp.result
        parts.append(f"<p id='stats'>processed {r.processed} insns, {len(exp.segments)} explored paths, "
                     f"{r.total_states} states stored (peak {r.peak_states}), {len(exp.prunes)} paths pruned</p>")
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
            cls = "insn" + (" onpath" if s in on_path else "") + (" fail" if s == fail else "") + \
                (" checkpoint" if s in stored else "") + (" pruned" if s in pruned else "")
            src = sources.get(s, "")
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
    parts.append("</div><div><b>edges</b><ul class='edges'>" + "".join(edges) + "</ul>"
                 "<p>blue bar: a checkpoint was stored here; green bar: a path was pruned here</p></div></div>")
    parts.extend(_step_through(exp, ex, fail_path))
    if exp is not None:
        parts.extend(_pruning(exp))
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def _sources(program: Any, insns: dict[int, Any]) -> dict[int, str]:
    """slot -> its source line (assembly line, BTF line_info's C line, a probe's Python line), shown where it
    changes from the previous instruction's."""
    from pyebpf.verifier.explain import source_line

    out, prev = {}, None
    for s in sorted(insns):
        src = source_line(program, s)
        if src != prev:
            out[s] = src
        prev = src
    return out


def _step_through(exp: Any, ex: Any, fail_path: list) -> list[str]:
    e = html.escape
    out = ["<h2>Step-through of an explored path</h2>"]
    if exp is None or not exp.segments:
        segs = [(0, None, None, "failing path" if ex is not None else "no path", fail_path)]
        chosen = 0
    else:
        segs = [(s.index, s.parent, s.parent_pos, path_label(exp, s), s.steps) for s in exp.segments]
        failing = exp.failing_segment()
        chosen = failing if failing is not None else 0
    out.append("<div><select id='path'>")
    for idx, parent, ppos, label, _steps in segs:
        out.append(f"<option class='path' value='{idx}' data-parent='{'' if parent is None else parent}' "
                   f"data-parent-pos='{'' if ppos is None else ppos}'{' selected' if idx == chosen else ''}>"
                   f"{e(label)}</option>")
    out.append("</select> <button id='prev'>&larr; prev</button> <span id='stepno'>-</span> "
               "<button id='next'>next &rarr;</button></div>")
    out.append("<table class='steps'><tr><th>path</th><th>#</th><th>insn</th><th>instruction</th>"
               "<th>registers</th><th>stack</th></tr>")
    rows = 0
    for idx, _parent, _ppos, _label, steps in segs:
        for n, st in enumerate(steps):
            rows += 1
            if rows > MAX_STEP_ROWS:
                break
            if st.before:
                what = "(path resumes here)" if n == 0 else "(state before)"
                out.append(f"<tr class='step resume' data-path='{idx}' data-pos='{n}' data-insn='{st.idx}'>"
                           f"<td>{idx}</td><td>{n}</td><td>{st.idx}</td><td>{what}</td>"
                           f"<td>{e(_regs(st.before, 'R'))}</td><td>{e(_regs(st.before, 'fp'))}</td></tr>")
            out.append(f"<tr class='step' data-path='{idx}' data-pos='{n}' data-insn='{st.idx}'><td>{idx}</td>"
                       f"<td>{n}</td><td>{st.idx}</td><td>{e(st.text)}</td><td>{e(_regs(st.state, 'R'))}</td>"
                       f"<td>{e(_regs(st.state, 'fp'))}</td></tr>")
    out.append("</table>")
    if rows > MAX_STEP_ROWS:
        out.append(f"<p class='truncated'>step rows after the first {MAX_STEP_ROWS} are left out</p>")
    return out


def _pruning(exp: Any) -> list[str]:
    e = html.escape
    out = ["<h2>Pruning</h2><p>At a prune point the verifier compares the current state with the states it stored "
           "there (checkpoints); when a stored state is at least as general in every live register and stack "
           "slot, the current path is safe and is not walked again.</p>",
           "<table class='ckpts'><tr><th>checkpoint</th><th>insn</th><th>stored on</th><th>state</th></tr>"]
    for c in exp.checkpoints:
        where = f"path {c.segment}, step {c.pos}" if c.segment is not None else "-"
        out.append(f"<tr class='ckpt' id='ckpt-{c.index}' data-insn='{c.insn}'><td>{c.index}</td><td>{c.insn}</td>"
                   f"<td>{where}</td><td>{e(c.state)}</td></tr>")
    out.append("</table><table class='prunes'><tr><th>insn</th><th>path pruned</th><th>by checkpoint</th>"
               "<th>its state</th><th>pruned state</th></tr>")
    for p in exp.prunes:
        ck = exp.checkpoints[p.checkpoint]
        out.append(f"<tr class='prune' data-insn='{p.insn}' data-path='{'' if p.segment is None else p.segment}' "
                   f"data-checkpoint='{p.checkpoint}'><td>{p.insn}</td><td>{p.segment}</td>"
                   f"<td><a href='#ckpt-{p.checkpoint}'>{p.checkpoint}</a> (stored on path {ck.segment})</td>"
                   f"<td>{e(ck.state)}</td><td>{e(p.current)}</td></tr>")
    out.append("</table>")
    return out


__all__ = ["html_report", "text_steps", "text_exploration", "path_label", "basic_blocks", "Block", "MAX_STEP_ROWS"]
