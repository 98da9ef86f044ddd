"""Every path the verifier explored, the checkpoints it stored and which checkpoint pruned which path.

`explore()` runs our verifier with the level-2 log (every instruction of every path, with the state after it)
and an observer of is_state_visited (engine.STATE_OBSERVER: a checkpoint stored, a checkpoint that prunes), and
cuts the log into segments: the walk from the entry, then each pushed branch (`from X to Y:`) until it exits, is
pruned (`safe`) or is refused. A segment's full path is its parent's path up to the branch that pushed it, then its
own steps. This is what the step-through, the pruning table of the HTML report and `--why-accepted` read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyebpf.verifier.provenance import Step

_INSN = re.compile(r"^(\d+): \([0-9a-f]{2}\) (.*?)(?:\s+; (.*))?$")
_FROM = re.compile(r"^from (\d+) to (\d+):\s*(safe)?\s*(.*)$")
_SAFE = re.compile(r"^(\d+): safe$")
_STATE = re.compile(r"^(\d+): ((?:R\d|fp-).*)$")


@dataclass
class Segment:
    """One stretch of the walk: from the entry or a branch target to an exit, a prune or the rejection."""

    index: int
    start: int  # first instruction
    pushed_at: int | None = None  # the branch instruction that pushed it (None: the entry)
    parent: int | None = None
    parent_pos: int | None = None  # position in the parent's steps of the branch that pushed it
    steps: list[Step] = field(default_factory=list)
    end: str = "exit"  # 'exit' | 'pruned' | 'rejected'
    pruned_at: int | None = None
    pruned_by: int | None = None  # Checkpoint index
    entry_state: dict[str, str] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """A state the verifier stored at a prune point (a bpf_verifier_state_list entry)."""

    index: int
    insn: int
    state: str  # the stored state as the verifier prints it (at the time it pruned, if it did)
    segment: int | None = None
    pos: int | None = None


@dataclass
class Prune:
    insn: int
    checkpoint: int
    current: str  # the state that was pruned
    segment: int | None = None


@dataclass
class Exploration:
    result: Any
    segments: list[Segment]
    checkpoints: list[Checkpoint]
    prunes: list[Prune]

    def path(self, seg: int) -> list[Step]:
        """The full path of segment `seg`: its ancestors' steps up to the branches that pushed it, then its own."""
        chain = []
        s: Segment | None = self.segments[seg]
        cut = None
        while s is not None:
            chain.append(s.steps if cut is None else s.steps[:cut + 1])
            cut = s.parent_pos
            s = self.segments[s.parent] if s.parent is not None else None
        out: list[Step] = []
        for part in reversed(chain):
            out.extend(part)
        # the state printed when the branch resumed belongs to the branch target's step
        return out

    def failing_segment(self) -> int | None:
        return next((s.index for s in self.segments if s.end == "rejected"), None)


class _Observer:
    """Receives the engine's checkpoint events and remembers where in the log they happened."""

    def __init__(self, watch: frozenset[int] = frozenset()) -> None:
        self.watch = watch
        self.events: list[tuple[int, str, int, Any, str]] = []  # (log pos, kind, insn, state object, state text)
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []

    def stored(self, env: Any, insn_idx: int, state: Any) -> None:
        self.ids[id(state)] = len(self.keep)
        self.keep.append(state)
        self.events.append((env.log.end_pos, "stored", insn_idx, state, env.state_str(state, state.curframe, True)))

    def at_insn(self, env: Any, insn_idx: int, cur: Any) -> None:
        self.events.append((env.log.end_pos, "at", insn_idx, None, env.state_str(cur, cur.curframe, True)))

    def pruned(self, env: Any, insn_idx: int, old: Any, cur: Any) -> None:
        self.events.append((env.log.end_pos, "pruned", insn_idx, old,
                            env.state_str(old, cur.curframe, True) + "\x00" + env.state_str(cur, cur.curframe, True)))


def explore(program: Any, prog_type: Any = None, privileged: bool = True, watch: frozenset[int] = frozenset(),
            **kw: Any) -> Exploration:
    """Verify with the level-2 log and the checkpoint observer, and cut the log into segments. Before each
    instruction in `watch` the whole state is recorded too (the log prints only what an instruction changed)."""
    from pyebpf.verifier.api import verify
    from pyebpf.verifier.engine import STATE_OBSERVER

    obs = _Observer(frozenset(watch))
    token = STATE_OBSERVER.set(obs)
    try:
        result = verify(program, prog_type=prog_type, privileged=privileged, log_level=2, raise_on_reject=False,
                        **kw)
    finally:
        STATE_OBSERVER.reset(token)
    return parse_exploration(result, obs)


def parse_exploration(result: Any, obs: _Observer | None = None) -> Exploration:
    segments: list[Segment] = []
    pending: dict[str, str] = {}
    line_pos: list[tuple[int, int, int]] = []  # (log offset of the line, segment, step count before it)
    pos = 0
    started = False
    for line in result.log.splitlines(keepends=True):
        here = pos
        pos += len(line)
        text = line.rstrip("\n")
        cur = segments[-1] if segments else None
        m = _FROM.match(text)
        if m:
            frm, to = int(m.group(1)), int(m.group(2))
            seg = Segment(len(segments), to, frm)
            segments.append(seg)
            if m.group(3):
                seg.end, seg.pruned_at = "pruned", to
            else:
                pending = _state_of(m.group(4))
            seg.entry_state = _state_of(m.group(4))
            line_pos.append((here, seg.index, 0))
            continue
        m = _SAFE.match(text)
        if m and cur is not None:
            cur.end, cur.pruned_at = "pruned", int(m.group(1))
            line_pos.append((here, cur.index, len(cur.steps)))
            continue
        m = _INSN.match(text)
        if m and (started or int(m.group(1)) == 0):
            if cur is None:
                cur = Segment(0, int(m.group(1)))
                segments.append(cur)
            started = True
            line_pos.append((here, cur.index, len(cur.steps)))
            cur.steps.append(Step(int(m.group(1)), m.group(2).strip(), _state_of(m.group(3) or ""), pending))
            pending = {}
            continue
        m = _STATE.match(text)
        if m and not text.startswith(("0: .", " ")):
            if cur is None and int(m.group(1)) == 0:
                started = True
            pending = _state_of(m.group(2))
    if segments and not result.accepted:
        segments[-1].end = "rejected"
    exp = Exploration(result, segments, [], [])
    if obs is not None:
        _attach_events(exp, obs, line_pos)
    _resolve_parents(exp)
    return exp


def _resolve_parents(exp: "Exploration") -> None:
    """Find, for each `from X to Y` segment, the earlier segment and the visit of X whose branch pushed it: the
    visit whose state agrees best with the state printed at `from X to Y` (registers the branch did not compare
    keep their values), the latest one on a tie. Branches are popped last in, first out, so the pusher is earlier."""
    memo: dict[int, tuple[int, list[dict[str, str]]]] = {}
    for seg in exp.segments:
        if seg.pushed_at is None:
            continue
        best: tuple[tuple[int, bool], int, int] | None = None  # ((score, went elsewhere), segment, position)
        for cand in exp.segments[:seg.index]:
            if not any(st.idx == seg.pushed_at for st in cand.steps):
                continue
            if cand.index not in memo:
                full = exp.path(cand.index)
                memo[cand.index] = (len(full) - len(cand.steps), _running_states(full))
            base, states = memo[cand.index]
            for k, st in enumerate(cand.steps):
                if st.idx != seg.pushed_at:
                    continue
                nxt = cand.steps[k + 1].idx if k + 1 < len(cand.steps) else None
                known = states[base + k]
                # the visit whose state the pushed one agrees with best; one that went the other way there
                # (a `goto +0` goes to the same place both ways) and the latest one win ties
                score = (sum(known.get(r) == v for r, v in seg.entry_state.items()), nxt != seg.start)
                if best is None or score >= best[0]:
                    best = (score, cand.index, k)
        if best is not None:
            seg.parent, seg.parent_pos = best[1], best[2]


def _running_states(steps: list[Step]) -> list[dict[str, str]]:
    """The printed state after each step of a path, accumulated (a call leaves r1-r5 unreadable)."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for st in steps:
        cur = {**cur, **st.before, **st.full}
        if st.text.startswith("call "):
            for r in ("R1", "R2", "R3", "R4", "R5"):
                cur.pop(r, None)
        cur = {**cur, **st.state}
        out.append(cur)
    return out


def _attach_events(exp: Exploration, obs: _Observer, line_pos: list[tuple[int, int, int]]) -> None:
    """Place each stored checkpoint at the step where it was stored and each prune in its segment."""
    import bisect

    offsets = [p for p, _s, _k in line_pos]
    index_of: dict[int, int] = {}
    for pos, kind, insn, state, text in obs.events:
        i = bisect.bisect_left(offsets, pos)
        seg, step = (line_pos[i][1], line_pos[i][2]) if i < len(line_pos) else (None, None)
        if kind == "at":
            # the state before a watched instruction belongs to the next instruction line, if it is that one
            if i < len(line_pos) and seg is not None and step < len(exp.segments[seg].steps) \
                    and exp.segments[seg].steps[step].idx == insn:
                exp.segments[seg].steps[step].full = _state_of(text)
            continue
        if kind == "stored":
            index_of[id(state)] = len(exp.checkpoints)
            exp.checkpoints.append(Checkpoint(len(exp.checkpoints), insn, text.strip(), seg, step))
        else:
            old_text, cur_text = text.split("\x00")
            ck = index_of.get(id(state))
            if ck is None:  # stored before the observer saw it (cannot happen in one run): keep the state anyway
                ck = len(exp.checkpoints)
                index_of[id(state)] = ck
                exp.checkpoints.append(Checkpoint(ck, insn, old_text))
            exp.checkpoints[ck].state = old_text.strip()  # as it pruned: liveness has cleaned dead registers
            exp.prunes.append(Prune(insn, ck, cur_text.strip(), seg))
            if seg is not None and exp.segments[seg].end == "pruned":
                exp.segments[seg].pruned_by = ck


def _state_of(text: str) -> dict[str, str]:
    from pyebpf.verifier.explain import _state

    return _state(text)


__all__ = ["explore", "parse_exploration", "Exploration", "Segment", "Checkpoint", "Prune"]
