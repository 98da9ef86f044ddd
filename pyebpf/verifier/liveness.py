"""Stack slot liveness as 6.18 computes it (kernel/bpf/liveness.c): call-chain sensitive, learnt while verifying.

Every instruction's stack reads (`may_read`) and whole-slot writes (`must_write`, the intersection over visits) are
recorded per function instance — a call chain and the function it reaches — for each frame it touches. When a
path ends, live slots are solved backwards over the function's instructions (live_before = (live_after minus
must_write) | may_read) and what a callee reads or surely writes of its callers' frames is carried to the call
site. A stored checkpoint, once finished, drops the stack slots no later instruction can read (clean_func_state),
so two paths that differ only in dead spills are the same state.
"""
from __future__ import annotations

from heapq import heapify, heappop, heappush

from pyebpf.verifier.bounds import mark_reg_not_init
from pyebpf.verifier.env import Env
from pyebpf.verifier.state import STACK_INVALID, VerifierState

_MAYREAD, _MUSTWRITE, _ACC, _LIVE = range(4)
_MAX_FRAMES = 8


def _fmt_mask(mask: int) -> str:
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


class FuncInstance:
    """One (call chain, function) pair: per frame and instruction [may_read, must_write, must_write_acc,
    live_before]."""

    __slots__ = ("callsites", "sp_starts", "curframe", "start", "size", "frames", "must_write_set", "updated",
                 "must_write_dropped", "dirty", "must_write_zero")

    def __init__(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...], size: int) -> None:
        self.callsites = callsites
        self.sp_starts = sp_starts
        self.curframe = len(callsites) - 1
        self.start = sp_starts[-1]
        self.size = size
        self.frames: list[list[list[int]] | None] = [None] * (self.curframe + 1)
        self.must_write_set = [False] * size
        #: must_write is 0 in every frame at this slot and set: an intersection, so it stays 0 for good, and a
        #: visit that writes nothing there has nothing to commit (the engine tests this before calling commit)
        self.must_write_zero = bytearray(size)
        self.updated = False
        self.must_write_dropped = False
        #: per frame, the slots (relative to start) whose may_read or must_write changed since the last solve:
        #: every other slot still satisfies its equation, so the solver re-evaluates only these and what they
        #: change (see StackLiveness._solve_dirty)
        self.dirty: list[set[int]] = [set() for _ in range(self.curframe + 1)]

    def masks(self, frame: int, insn_idx: int) -> list[int] | None:
        arr = self.frames[frame]
        return None if arr is None else arr[insn_idx - self.start]

    def alloc(self, frame: int, insn_idx: int) -> list[int]:
        arr = self.frames[frame]
        if arr is None:
            arr = self.frames[frame] = [[0, 0, 0, 0] for _ in range(self.size)]
        return arr[insn_idx - self.start]


class StackLiveness:
    """struct bpf_liveness."""

    def __init__(self, env: Env, succ: list[tuple[int, ...]]) -> None:
        self.env = env
        self.succ = succ
        self.instances: dict[tuple[int, ...], FuncInstance] = {}
        #: the outermost frame's instance per subprogram number (lookup()'s most frequent question, answered
        #: without building its key)
        self.outermost: dict[int, FuncInstance] = {}
        self.cur_instance: FuncInstance | None = None
        self.write_acc = [0] * _MAX_FRAMES
        #: frames whose write_acc may be non-zero (mark_write since their last reset)
        self.write_dirty = 0
        #: some instance may have updated marks (update() has something to solve)
        self.any_updated = False
        self.write_insn_idx = 0
        starts = env.cfg.subprog_starts
        self.ends = {s: e for s, e in zip(starts, starts[1:] + [len(env.insns)])}
        #: per function start, its instructions in DFS post-order (computed when a function is first solved)
        self.postorder: dict[int, list[int]] = {}
        #: per function start, [(slot - start, successors - start)] in the same order, for the fast sweep
        self.postorder_local: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        self.positions: dict[int, tuple[dict[int, int], dict[int, list[int]]]] = {}

    def _postorder(self, start: int, end: int) -> list[int]:
        """Depth-first post-order of a function's instructions (fall-through explored before the jump)."""
        seen = {start}
        order: list[int] = []
        work = [(start, 0)]
        while work:
            t, k = work[-1]
            edges = [w for w in self.succ[t] if start <= w < end]
            if k < len(edges):
                work[-1] = (t, k + 1)
                w = edges[k]
                if w not in seen:
                    seen.add(w)
                    work.append((w, 0))
                continue
            work.pop()
            order.append(t)
        return order

    # ---- instances ------------------------------------------------------------------------------------------
    def _lookup(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...]) -> FuncInstance:
        inst = self.instances.get(callsites)
        if inst is None:
            start = sp_starts[-1]
            inst = self.instances[callsites] = FuncInstance(callsites, sp_starts, self.ends[start] - start)
        return inst

    def lookup(self, st: VerifierState, frameno: int) -> FuncInstance:
        starts = self.env.cfg.subprog_starts
        if frameno == 0:  # the main program's frame (the most frequent by far): its call chain is its start
            subprogno = st.frames[0].subprogno
            inst = self.outermost.get(subprogno)
            if inst is None:
                key = (starts[subprogno],)
                inst = self.outermost[subprogno] = self._lookup(key, key)
            return inst
        sp = tuple(starts[st.frames[i].subprogno] for i in range(frameno + 1))
        callsites = tuple(st.frames[i + 1].callsite for i in range(frameno)) + (sp[-1],)
        return self._lookup(callsites, sp)

    def _outer(self, inst: FuncInstance) -> FuncInstance:
        sp = inst.sp_starts[:-1]
        return self._lookup(inst.callsites[:-2] + (sp[-1],), sp)

    def reset_callchain(self) -> None:
        self.cur_instance = None

    def _ensure_cur(self) -> FuncInstance:
        if self.cur_instance is None:
            cur = self.env.cur
            self.cur_instance = self.lookup(cur, cur.curframe)
        return self.cur_instance

    # ---- marks ------------------------------------------------------------------------------------------------
    def _mark_read(self, inst: FuncInstance, frame: int, insn_idx: int, mask: int) -> None:
        m = inst.alloc(frame, insn_idx)
        new = m[_MAYREAD] | mask
        if new != m[_MAYREAD]:
            inst.dirty[frame].add(insn_idx - inst.start)
            if (new | m[_LIVE]) != m[_LIVE]:
                inst.updated = True
                self.any_updated = True
        m[_MAYREAD] = new

    def mark_read(self, frame: int, insn_idx: int, mask: int) -> None:
        self._mark_read(self._ensure_cur(), frame, insn_idx, mask)

    def _reset_writes(self, inst: FuncInstance, insn_idx: int) -> None:
        self.write_insn_idx = insn_idx
        frames = (2 << inst.curframe) - 1
        if self.write_dirty & frames:
            for i in range(inst.curframe + 1):
                self.write_acc[i] = 0
            self.write_dirty &= ~frames

    def reset_writes(self, insn_idx: int) -> None:
        inst = self.cur_instance
        self._reset_writes(inst if inst is not None else self._ensure_cur(), insn_idx)

    def mark_write(self, frame: int, mask: int) -> None:
        self.write_acc[frame] |= mask
        self.write_dirty |= 1 << frame

    def _commit(self, inst: FuncInstance | None) -> None:
        if inst is None:
            return
        idx = self.write_insn_idx - inst.start
        if not self.write_dirty & ((2 << inst.curframe) - 1):
            # nothing written by this instruction (write_acc[0..curframe] are all 0): the loop below reduces to
            # dropping any must_write mark an earlier visit left
            if inst.must_write_zero[idx]:
                pass
            elif inst.must_write_set[idx]:
                for frame in range(inst.curframe + 1):
                    arr = inst.frames[frame]
                    m = arr[idx] if arr is not None else inst.alloc(frame, self.write_insn_idx)
                    if m[_MUSTWRITE]:
                        m[_MUSTWRITE] = 0
                        inst.dirty[frame].add(idx)
                        inst.updated = True
                        inst.must_write_dropped = True
                        self.any_updated = True
                inst.must_write_zero[idx] = 1
            else:
                inst.must_write_set[idx] = True
            self.write_insn_idx = 0
            return
        for frame in range(inst.curframe + 1):
            mask = self.write_acc[frame]
            if mask == 0 and not inst.must_write_set[idx]:
                continue
            m = inst.alloc(frame, self.write_insn_idx)
            old = m[_MUSTWRITE]
            if inst.must_write_set[idx]:
                mask &= old
            if old != mask:
                m[_MUSTWRITE] = mask
                inst.dirty[frame].add(idx)
                inst.updated = True
                self.any_updated = True
            if old & ~mask:
                inst.must_write_dropped = True
        inst.must_write_set[idx] = True
        self.write_insn_idx = 0

    def commit_writes(self) -> None:
        self._commit(self.cur_instance)

    # ---- solving ---------------------------------------------------------------------------------------------
    def _fmt_chain(self, inst: FuncInstance) -> str:
        return "(" + ",".join(str(c) for c in inst.callsites) + ")"

    def _update_insn(self, inst: FuncInstance, frame: int, insn_idx: int) -> bool:
        succ = self.succ[insn_idx]
        if not succ:
            return False
        m = inst.masks(frame, insn_idx)
        after = 0
        acc = -1
        for s in succ:
            sm = inst.masks(frame, s)
            after |= sm[_LIVE]
            acc &= sm[_ACC]
        acc = (acc | m[_MUSTWRITE]) & ((1 << 64) - 1)
        before = (after & ~m[_MUSTWRITE]) | m[_MAYREAD]
        changed = before != m[_LIVE] or acc != m[_ACC]
        env = self.env
        if env.level2 and (m[_MAYREAD] or m[_MUSTWRITE] or insn_idx == inst.start
                           or insn_idx in env.cfg.prune_points):
            self._log_change(inst, "live", frame, insn_idx, m[_LIVE], before)
            self._log_change(inst, "written", frame, insn_idx, m[_ACC], acc)
        m[_LIVE] = before
        m[_ACC] = acc
        return changed

    def _log_change(self, inst: FuncInstance, pfx: str, frame: int, insn_idx: int, old: int, new: int) -> None:
        changed = old ^ new
        if not changed:
            return
        text = f"{self._fmt_chain(inst)} frame {frame} insn {insn_idx} "
        if new & changed:
            text += f"+{pfx} {_fmt_mask(new & changed)} "
        if ~new & changed:
            text += f"-{pfx} {_fmt_mask(~new & changed)}"
        self.env.verbose(text + "\n")

    def _update_instance(self, inst: FuncInstance) -> None:
        if inst.must_write_dropped:
            for arr in inst.frames:
                if arr is not None:
                    for m in arr:
                        m[_ACC] = 0
        start = inst.start
        order = self.postorder.get(start)
        if order is None:
            order = self.postorder[start] = self._postorder(start, self.ends[start])
            # the same walk in slots relative to the function's start, instructions without successors left out
            # (they never change): what the fast sweep below runs over
            self.postorder_local[start] = [(i - start, tuple(w - start for w in self.succ[i]))
                                           for i in order if self.succ[i]]
        local = self.postorder_local[start]
        level2 = self.env.level2
        cnt = 0
        solved = False
        if not level2 and not inst.must_write_dropped:
            cnt = self._solve_dirty(inst)
            solved = True
        while not solved:
            cnt += 1
            changed = False
            for frame in range(inst.curframe + 1):
                arr = inst.frames[frame]
                if arr is None:
                    continue
                if level2:
                    for i in order:
                        changed |= self._update_insn(inst, frame, i)
                    continue
                # _update_insn inlined over local slots (the sweep dominates large programs): [may_read,
                # must_write, must_write_acc, live_before] per instruction, as _update_insn reads and writes them
                for i, succ in local:
                    m = arr[i]
                    if len(succ) == 1:
                        sm = arr[succ[0]]
                        after = sm[3]
                        acc = sm[2]
                    else:
                        after = 0
                        acc = -1
                        for w in succ:
                            sm = arr[w]
                            after |= sm[3]
                            acc &= sm[2]
                    mw = m[1]
                    acc = (acc | mw) & 0xFFFFFFFFFFFFFFFF
                    before = (after & ~mw) | m[0]
                    if before != m[3] or acc != m[2]:
                        m[3] = before
                        m[2] = acc
                        changed = True
            if not changed:
                break
        for d in inst.dirty:
            d.clear()
        if self.env.level2:
            self.env.verbose(f"{self._fmt_chain(inst)} live stack update done in {cnt} iterations\n")
        if inst.curframe > 0:
            # what the function reads of, and surely writes to, its callers' frames happens at the call site
            outer = self._outer(inst)
            callsite = inst.callsites[inst.curframe - 1]
            self._reset_writes(outer, callsite)
            for frame in range(inst.curframe):
                m = inst.masks(frame, inst.start)
                if m is None:
                    continue
                self.mark_write(frame, m[_ACC])
                self._mark_read(outer, frame, callsite, m[_LIVE])
            self._commit(outer)

    def _solve_dirty(self, inst: FuncInstance) -> int:
        """The sweeps of _update_instance, evaluating only slots that may change: the dirty ones and the
        predecessors of a slot whose value changed (in this sweep if they come later in the post-order, else in
        the next). Every slot it skips would have kept its value, so the marks are the full sweeps' exactly.
        Returns the number of sweeps (at least 1)."""
        start = inst.start
        local = self.postorder_local[start]
        pos, preds = self._positions(start)
        sweeps = 1
        for frame in range(inst.curframe + 1):
            arr = inst.frames[frame]
            dirty = inst.dirty[frame]
            if arr is None or not dirty:
                continue
            heap = [pos[i] for i in dirty if i in pos]
            heapify(heap)
            queued = set(heap)
            n = 1
            while heap:
                later: set[int] = set()
                while heap:
                    p = heappop(heap)
                    queued.discard(p)
                    i, succ = local[p]
                    m = arr[i]
                    if len(succ) == 1:
                        sm = arr[succ[0]]
                        after = sm[3]
                        acc = sm[2]
                    else:
                        after = 0
                        acc = -1
                        for w in succ:
                            sm = arr[w]
                            after |= sm[3]
                            acc &= sm[2]
                    mw = m[1]
                    acc = (acc | mw) & 0xFFFFFFFFFFFFFFFF
                    before = (after & ~mw) | m[0]
                    if before != m[3] or acc != m[2]:
                        m[3] = before
                        m[2] = acc
                        for q in preds[i]:
                            if q > p:
                                if q not in queued:
                                    queued.add(q)
                                    heappush(heap, q)
                            else:
                                later.add(q)
                if later:
                    n += 1
                    heap = list(later)
                    heapify(heap)
                    queued = set(later)
            sweeps = max(sweeps, n)
        return sweeps

    def _positions(self, start: int) -> tuple[dict[int, int], dict[int, list[int]]]:
        """({slot: its position in postorder_local}, {slot: positions of its predecessors}), slots relative to
        the function's start."""
        got = self.positions.get(start)
        if got is None:
            local = self.postorder_local[start]
            pos = {i: p for p, (i, _) in enumerate(local)}
            preds: dict[int, list[int]] = {i: [] for i, _ in local}
            for p, (i, succ) in enumerate(local):
                for w in succ:
                    if w in preds:
                        preds[w].append(p)
            got = self.positions[start] = (pos, preds)
        return got

    def update(self) -> None:
        """bpf_update_live_stack: solve every instance of the current path that learnt something."""
        self.cur_instance = None
        cur = self.env.cur
        if not self.any_updated:
            return
        for frame in range(cur.curframe, -1, -1):
            inst = self.lookup(cur, frame)
            if inst.updated:
                self._update_instance(inst)
                inst.updated = False
                inst.must_write_dropped = False
        self.any_updated = any(inst.updated for inst in self.instances.values())

    # ---- queries ----------------------------------------------------------------------------------------------
    def clean_state(self, st: VerifierState, live_regs: list[int]) -> None:
        """clean_verifier_state: a finished checkpoint forgets what no instruction after it can read — registers
        dead at each frame's instruction become NOT_INIT, stack slots no longer live become STACK_INVALID."""
        st.cleaned = True
        frames = st.frames
        curframe = st.curframe
        for i, func in enumerate(frames):
            live = live_regs[st.insn_idx if i == curframe else frames[i + 1].callsite] & 0x3FF
            dead = _DEAD_REGS.get(live)
            if dead is None:
                dead = _DEAD_REGS[live] = tuple(r for r in range(10) if not live >> r & 1)
            regs = func.regs
            for r in dead:
                mark_reg_not_init(regs[r])
        instances = [self.lookup(st, f) for f in range(curframe + 1)]
        if curframe == 0 and not frames[0].stack:
            return  # (no slot to forget; the instance lookup above is kept: it may create the instance)
        top = instances[st.curframe]
        callbacks = self.env.cfg.callback_calls
        for func in st.frames:
            fno = func.frameno
            for spi, slot in enumerate(func.stack):
                if self._alive(instances, top, st, fno, spi, callbacks):
                    continue
                mark_reg_not_init(slot.spilled)
                slot.slot_type[:] = [STACK_INVALID] * len(slot.slot_type)

    @staticmethod
    def _live_before(inst: FuncInstance, insn_idx: int, frameno: int, spi: int) -> bool:
        if frameno >= len(inst.frames):
            return False
        m = inst.masks(frameno, insn_idx)
        return m is not None and bool(m[_LIVE] >> spi & 1)

    def _alive(self, instances, top: FuncInstance, st: VerifierState, frameno: int, spi: int, callbacks) -> bool:
        if self._live_before(top, st.insn_idx, frameno, spi):
            return True
        for i in range(frameno, st.curframe):
            callsite = top.callsites[i]
            at = callsite if callsite in callbacks else callsite + 1
            if self._live_before(instances[i], at, frameno, spi):
                return True
        return False


_DEAD_REGS: dict[int, tuple[int, ...]] = {}
"""per live mask of r0-r9, the registers it leaves dead (clean_state's question per stored checkpoint)"""

__all__ = ["StackLiveness", "FuncInstance"]
