"""do_check: walk every path of the program with the kernel's abstract state, pruning equivalent states.

The loop mirrors kernel/bpf/verifier.c do_check(): processed-instruction accounting and its 1M limit, prune points
and checkpoints (is_state_visited), the pending-branch stack and its 8192 limit, and the level 1/2 log.
"""
from __future__ import annotations

import errno
import gc
from bisect import bisect_left
from contextlib import contextmanager
from contextvars import ContextVar

from pyebpf.abi.opcodes import (
    BPF_COMPLEXITY_LIMIT_INSNS, MAX_BPF_STACK, MAX_CALL_FRAMES, CLASS_MASK, MODE_MASK, OP_LD_IMM64, OP_MASK,
    SIZE_BYTES, SIZE_MASK, SOURCE_MASK,
    OP_MAY_GOTO, AtomicOp, CallSrc, InsnClass, JmpOp, Mode, PseudoSrc, Size,
)
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.maps import MapType
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.prog_kinds import may_ld_abs
from pyebpf.verifier.alu import _const_reg, check_alu_op
from pyebpf.verifier.kfunc import check_kfunc_call
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_not_init, mark_reg_unknown
from pyebpf.verifier.btf_record import spin_lock_off
from pyebpf.verifier.calls import (
    CALLER_SAVED, check_func_call, check_helper_call, check_reference_leak, check_return_code, for_each_reg,
    prepare_func_exit,
)
from pyebpf.verifier.env import (
    AT_PKT_END, BEYOND_PKT_END, DST_OP, DST_OP_NO_MARK, MAX_PACKET_OFF, SRC_OP, Env, Reject,
)
from pyebpf.verifier.jumps import (
    JEQ, JGE, JGT, JLE, JLT, JNE, is_branch_taken, reg_set_min_max, reg_set_min_max_imm,
)
from pyebpf.verifier.log import insn_str
from pyebpf.verifier.memory import check_mem_access, check_ptr_off_reg
from pyebpf.verifier.precision import (
    Backtrack, add_scc_backedge, compute_scc, transparent_insns, incomplete_read_marks, mark_all_scalars_imprecise,
    mark_chain_precision, maybe_enter_scc, maybe_exit_scc, propagate_precision, push_insn_history, register_insns,
)
from pyebpf.verifier.liveness import StackLiveness
from pyebpf.verifier.iters import active_at_next as iter_active_at_next, \
    active_depths_differ as iter_active_depths_differ
from pyebpf.verifier.prune import EXACT, NOT_EXACT, RANGE_WITHIN, compute_live_registers, cfg_successors, \
    states_equal
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, PTR_MAYBE_NULL, PTR_TO_CTX, PTR_TO_FLOW_KEYS, PTR_TO_MAP_VALUE, PTR_TO_PACKET,
    PTR_TO_PACKET_END, PTR_TO_PACKET_META, PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_STACK, PTR_TO_TCP_SOCK,
    SCALAR_VALUE, NOT_INIT,
    Reg, RegType, base_type, reg_type_str,
)
from pyebpf.verifier.state import VerifierState, initial_state

BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192
BPF_COMPLEXITY_LIMIT_STATES = 64
_EXIT = -1
_CALL_SRCS = frozenset(int(c) for c in CallSrc)
_SIZE_BYTES = {int(k): v for k, v in SIZE_BYTES.items()}
_ALU, _ALU64, _LDX, _STX, _ST, _JMP, _JMP32 = (int(InsnClass.ALU), int(InsnClass.ALU64), int(InsnClass.LDX),
                                               int(InsnClass.STX), int(InsnClass.ST), int(InsnClass.JMP),
                                               int(InsnClass.JMP32))
_OP_CALL, _OP_JA, _OP_EXIT, _OP_JCOND = int(JmpOp.CALL), int(JmpOp.JA), int(JmpOp.EXIT), int(JmpOp.JCOND)
_OP_CALL_INSN = int(InsnClass.JMP) | int(JmpOp.CALL)
_MODE_ATOMIC, _MODE_MEM, _MODE_MEMSX = int(Mode.ATOMIC), int(Mode.MEM), int(Mode.MEMSX)
_KFUNC, _PSEUDO_CALL, _SPIN_UNLOCK = int(CallSrc.KFUNC), int(CallSrc.PSEUDO_CALL), int(HelperId.SPIN_UNLOCK)
"""Enum members as plain ints where every instruction compares them (an Enum class attribute costs ~20x a
global's)."""


_NO_TYPE_MISMATCH = frozenset({PTR_TO_CTX, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK,
                               RegType.PTR_TO_XDP_SOCK, RegType.PTR_TO_BTF_ID, RegType.PTR_TO_ARENA})
"""reg_type_mismatch_ok() is false for these: an instruction that uses one of them must always use the same type."""
_MEM_OR_BTF_ID = frozenset({RegType.PTR_TO_MEM, RegType.PTR_TO_BTF_ID})

_PKT_ANY = frozenset({PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END})
"""reg_is_pkt_pointer_any(): only comparisons between these can bound packet pointers."""

_NO_ATOMIC_TYPES = (PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_FLOW_KEYS, PTR_TO_SOCKET,
                    PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK)
"""atomic_ptr_type_ok(): pointers an atomic instruction may not use."""


@contextmanager
def gc_paused():
    """The cyclic garbage collector off for a verification (verify() holds it across the whole call, so that the
    run's objects are gone when it comes back on). A run allocates millions of short-lived states and registers
    and keeps thousands of checkpoints alive: the collector would traverse them again and again (10-30% of a
    run, most of it in the collections that follow it) and find nothing, because reference counting frees every
    state once Checker.release() has broken the run's few cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_KIND_OTHER, _KIND_ALU, _KIND_COND_JMP, _KIND_EXIT = 0, 1, 2, 3
_F_PRUNE, _F_JMP_POINT, _F_OPAQUE, _KIND_SHIFT = 1, 2, 4, 3
_NOT_COND_JMP_OPS = frozenset({_OP_CALL, _OP_JA, _OP_EXIT, _OP_JCOND})
_EXIT_INSN = int(InsnClass.JMP) | int(JmpOp.EXIT)


def _insn_kind(insn, refused: bool) -> int:
    """How the main loop dispatches one slot (do_check_insn's own order of tests: refused slots go through it)."""
    if insn is None or refused:
        return _KIND_OTHER
    cls = insn.opcode & CLASS_MASK
    if cls == _ALU or cls == _ALU64:
        return _KIND_ALU
    if (cls == _JMP or cls == _JMP32) and insn.opcode & OP_MASK not in _NOT_COND_JMP_OPS:
        return _KIND_COND_JMP
    if insn.opcode == _EXIT_INSN and not (insn.imm or insn.src or insn.dst or insn.off):
        return _KIND_EXIT  # a well-formed BPF_EXIT (a malformed one is refused by do_check_insn)
    return _KIND_OTHER


class StateEntry:
    """struct bpf_verifier_state_list: a stored checkpoint with its hit/miss statistics."""

    __slots__ = ("state", "hit", "miss", "in_free_list")

    def __init__(self, state: VerifierState) -> None:
        self.state = state
        self.hit = 0
        self.miss = 0
        #: evicted from its bucket but still referenced (in-progress children, or loop marks not final): it
        #: counts in peak_states until freed
        self.in_free_list = False


def live_regs_same(old: VerifierState, cur: VerifierState, live_idx: tuple[int, ...]) -> bool:
    """A necessary condition for exact equality of two states at one instruction, cheap enough to run first:
    the current frame's live registers (the only ones states_equal compares there) hold the same values."""
    if old.curframe != cur.curframe:
        return False
    oregs = old.frames[old.curframe].regs
    cregs = cur.frames[cur.curframe].regs
    for r in live_idx:
        o = oregs[r]
        c = cregs[r]
        ov = o.var_off
        cv = c.var_off
        if o.type != c.type or ov.value != cv.value or ov.mask != cv.mask or o.smin != c.smin \
                or o.smax != c.smax or o.umin != c.umin or o.umax != c.umax or o.off != c.off:
            return False
    return True


#: An observer of checkpoints and pruning (verifier/explore.py sets one to draw the states; None: no cost):
#: `stored(env, insn_idx, state)` when a checkpoint is stored, `pruned(env, insn_idx, old, cur)` when one prunes,
#: `at_insn(env, insn_idx, cur)` before each instruction whose slot is in its `watch` set
STATE_OBSERVER: ContextVar = ContextVar("pyebpf_state_observer", default=None)


_ATOMIC_OPS = frozenset(int(op) for op in AtomicOp)


class Checker:
    """One run of do_check over a program."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.observer = STATE_OBSERVER.get()
        self.live_regs = compute_live_registers(env.cfg)
        by_mask: dict[int, tuple[int, ...]] = {}
        for m in set(self.live_regs):
            by_mask[m] = tuple(r for r in range(11) if m >> r & 1)
        self.live_idx = [by_mask[m] for m in self.live_regs]
        self.insn_text: dict[int, str] = {}
        #: explored_states: hash buckets of stored checkpoints, newest first, keyed as the kernel keys them
        #: ((insn ^ callsite) % prog_len), so that states_cnt and max_states_per_insn count what it counts
        self.buckets: dict[int, list[StateEntry]] = {}
        #: evicted checkpoints not freed yet (their state and entry still refer to each other)
        self.evicted: set[StateEntry] = set()
        self.nslots = len(env.insns)
        self.stack: list[tuple[VerifierState, int, int, int]] = []
        self.prune_points = env.cfg.prune_points
        self.force_checkpoints = env.cfg.force_checkpoints
        self.jmp_points = env.cfg.jmp_points
        self.callback_calls = env.cfg.callback_calls
        #: per slot, how _run dispatches it: _KIND_ALU / _KIND_COND_JMP go straight to their checks (after the
        #: same reserved-field and ISA checks as do_check_insn makes first), _KIND_OTHER through do_check_insn
        refused = env.isa_refused
        kinds: dict = {}  # per distinct instruction (programs repeat a few hundred)
        self.insn_kind = insn_kind = []
        for idx, insn in enumerate(env.insns):
            k = kinds.get(insn)
            if k is None:
                k = kinds[insn] = _insn_kind(insn, False)
            insn_kind.append(_KIND_OTHER if refused and idx in refused else k)
        #: insn_aux_data[].ptr_type: the pointer type each load/store instruction was first checked with
        self.aux_ptr_type: dict[int, int] = {}
        #: unprivileged: every scalar counts as precise (no precision tracking without CAP_BPF)
        self.inexact = NOT_EXACT if env.bpf_capable else RANGE_WITHIN
        env.bt = Backtrack()
        env.bt_transparent = transparent_insns(env.insns)
        env.bt_reg_only = register_insns(env.insns)
        #: opaque_before[k]: instructions before slot k that backtracking must look at (skips straight runs)
        env.bt_opaque_before = [0]
        for t in env.bt_transparent:
            env.bt_opaque_before.append(env.bt_opaque_before[-1] + (not t))
        env.cur_hist_ent = None
        succ = cfg_successors(env.cfg)
        env.scc_of = compute_scc(env.cfg, succ)
        env.liveness = StackLiveness(env, succ)
        env.scc_visits = {}
        env.push_stack = self.push_stack  # push_callback_call (calls.py) queues callback visits on our stack
        # per slot, the questions every visit asks, as bits of one int (and the dispatch kind above them)
        prune_points, jmp_points, transparent = self.prune_points, self.jmp_points, env.bt_transparent
        self.flags = [(_F_PRUNE if i in prune_points else 0) | (_F_JMP_POINT if i in jmp_points else 0)
                      | (0 if transparent[i] else _F_OPAQUE) | k << _KIND_SHIFT for i, k in enumerate(insn_kind)]
        env.find_prev_entry = self.find_prev_entry  # iters.process_iter_next_call widens against it
        self.iter_next_calls = env.cfg.iter_next_calls

    # ---- the pending-branch stack --------------------------------------------------------------------------
    def push_stack(self, insn_idx: int, prev_idx: int) -> VerifierState:
        env = self.env
        st = env.cur.copy()
        st.last_insn_idx = prev_idx
        self.stack.append((st, insn_idx, prev_idx, env.log.end_pos if env.logging else 0))
        if len(self.stack) > BPF_COMPLEXITY_LIMIT_JMP_SEQ:
            raise Reject(f"The sequence of {len(self.stack)} jumps is too complex.",
                         self.env.kernel.fact(Fact.JMP_SEQ_LIMIT_ERRNO) if self.env.kernel else errno.E2BIG)
        if st.parent is not None:
            st.parent.branches += 1
        return st

    def update_branch_counts(self, st: VerifierState | None) -> None:
        while st is not None:
            st.branches -= 1
            if st.branches:
                break
            maybe_exit_scc(self.env, st, self.live_regs)
            if st.loop_entry is not None:
                self.maybe_free(st.loop_entry)
            st = st.parent

    def maybe_free(self, sl: StateEntry) -> None:
        """maybe_free_verifier_state: an evicted checkpoint is gone once nothing depends on it any more."""
        if sl.in_free_list and not sl.state.branches and not incomplete_read_marks(self.env, sl.state):
            sl.in_free_list = False
            self.env.free_list_size -= 1
            sl.state.loop_entry = None  # no reference cycle left: reference counting frees both (see run())
            self.evicted.discard(sl)

    def update_peak_states(self) -> None:
        env = self.env
        n = env.explored_states_size + env.free_list_size + env.num_backedges
        if env.peak_states < n:
            env.peak_states = n

    # ---- pruning --------------------------------------------------------------------------------------------
    def _bucket(self, insn_idx: int, state: VerifierState) -> list[StateEntry]:
        key = ((insn_idx ^ state.frames[state.curframe].callsite) & 0xFFFFFFFF) % self.nslots
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = []
        return b

    def _same_callsites(self, a: VerifierState, b: VerifierState) -> bool:
        return a.curframe == b.curframe and all(x.callsite == y.callsite for x, y in zip(a.frames, b.frames))

    def is_state_visited(self, insn_idx: int) -> bool:
        """The kernel's is_state_visited: prune if a stored checkpoint subsumes the current state (propagating
        its precision back along this path), detect infinite loops against in-progress ones, and decide whether
        to store the current state."""
        env = self.env
        cur = env.cur
        live = self.live_regs
        allow_uninit = env.allow_uninit_stack
        force_ckpt = insn_idx in self.force_checkpoints
        force_new = force_ckpt or len(cur.hist) > 40
        jmps_since = env.jmps_processed - env.prev_jmps_processed
        insns_since = env.insn_processed - env.prev_insn_processed
        add_new = force_new or (jmps_since >= 2 and insns_since >= 8)
        curframe = cur.curframe
        key = ((insn_idx ^ cur.frames[curframe].callsite) & 0xFFFFFFFF) % self.nslots
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = []
        # clean_live_states: finished checkpoints here forget their dead registers and stack slots
        for sl in bucket:
            st = sl.state
            if not st.branches and not st.cleaned and st.insn_idx == insn_idx and st.curframe == curframe \
                    and (st.frames[0].callsite == cur.frames[0].callsite if not curframe
                         else self._same_callsites(st, cur)) \
                    and not (env.num_backedges and incomplete_read_marks(env, st)):
                env.liveness.clean_state(st, live)
        states_cnt = 0
        is_may_goto = env.insns[insn_idx].opcode == OP_MAY_GOTO
        is_callback_call = insn_idx in self.callback_calls
        live_idx = self.live_idx[insn_idx]
        cregs = cur.frames[curframe].regs
        for sl in tuple(bucket):
            states_cnt += 1
            old = sl.state
            if old.insn_idx != insn_idx:
                continue
            loop = False
            hit = False
            if old.branches:
                if is_may_goto and old.may_goto_depth != cur.may_goto_depth \
                        and states_equal(old, cur, RANGE_WITHIN, live, allow_uninit):
                    loop = hit = True
                elif is_callback_call:
                    if states_equal(old, cur, RANGE_WITHIN, live, allow_uninit):
                        loop = hit = True
                elif insn_idx in self.iter_next_calls:  # open-coded iterator loop: no infinite-loop check
                    if states_equal(old, cur, RANGE_WITHIN, live, allow_uninit) and iter_active_at_next(cur):
                        loop = hit = True
                else:
                    # live_regs_same(), inlined: in a loop every visit compares against each in-progress
                    # checkpoint here, and a live register that differs is the usual answer
                    same = old.curframe == curframe
                    if same:
                        oregs = old.frames[curframe].regs
                        for r in live_idx:
                            o = oregs[r]
                            c = cregs[r]
                            if o is c:
                                continue
                            ov = o.var_off
                            cv = c.var_off
                            if o.type != c.type or ov.value != cv.value or ov.mask != cv.mask or o.smin != c.smin \
                                    or o.smax != c.smax or o.umin != c.umin or o.umax != c.umax or o.off != c.off:
                                same = False
                                break
                    if same \
                            and not (self.iter_next_calls and iter_active_depths_differ(old, cur)) \
                            and old.may_goto_depth == cur.may_goto_depth \
                            and old.callback_unroll_depth == cur.callback_unroll_depth \
                            and states_equal(old, cur, EXACT, live, allow_uninit):
                        if env.logging:
                            env.verbose(f"infinite loop detected at insn {insn_idx}\n")
                            env.verbose("cur state:")
                            env.print_verifier_state(cur, cur.curframe, True)
                            env.verbose("old state:")
                            env.print_verifier_state(old, cur.curframe, True)
                        raise Reject(f"infinite loop detected at insn {insn_idx}", errno.EINVAL, logged=True)
                if not hit:
                    if not force_new and jmps_since < 20 and insns_since < 100:
                        add_new = False
            else:
                loop = bool(env.num_backedges) and incomplete_read_marks(env, old)
                hit = states_equal(old, cur, RANGE_WITHIN if loop else self.inexact, live, allow_uninit)
            if hit:
                sl.hit += 1
                if self.observer is not None:
                    self.observer.pruned(env, insn_idx, old, cur)
                if insn_idx in self.jmp_points:
                    push_insn_history(env, cur)
                propagate_precision(env, old, cur, live)
                if loop:
                    bk = cur.copy()
                    bk.parent = cur.parent
                    bk.equal_state = old
                    bk.insn_idx = insn_idx
                    add_scc_backedge(env, old, bk)
                    env.num_backedges += 1
                    self.update_peak_states()
                return True
            if add_new:
                sl.miss += 1
            n = 64 if force_ckpt and old.branches > 0 else 3
            if sl.miss > sl.hit * n + n:
                bucket.remove(sl)
                env.explored_states_size -= 1
                sl.in_free_list = True
                env.free_list_size += 1
                self.evicted.add(sl)
                self.maybe_free(sl)
        if env.max_states_per_insn < states_cnt:
            env.max_states_per_insn = states_cnt
        if not env.bpf_capable and states_cnt > BPF_COMPLEXITY_LIMIT_STATES:
            return False
        if not add_new:
            return False
        env.total_states += 1
        env.explored_states_size += 1
        self.update_peak_states()
        env.prev_jmps_processed = env.jmps_processed
        env.prev_insn_processed = env.insn_processed
        if env.bpf_capable:
            mark_all_scalars_imprecise(cur)
        new = cur.copy()
        new.insn_idx = insn_idx
        new.branches = 1
        new.parent = cur.parent
        maybe_enter_scc(env, new)
        cur.parent = new
        cur.first_insn_idx = insn_idx
        cur.hist = []
        cur.seg_opaque = 0 if env.bt_transparent[insn_idx] else 1
        entry = StateEntry(new)
        if self.observer is not None:
            self.observer.stored(env, insn_idx, new)
        new.loop_entry = entry
        bucket.insert(0, entry)
        return False

    # ---- main loop ------------------------------------------------------------------------------------------
    def run(self, entry: VerifierState | None = None, start: int = 0) -> None:
        """do_check_common from `entry` at slot `start` (default: the main program's entry). verify() calls it for
        the main program and then once per global function, and calls release() after the last run."""
        with gc_paused():
            self._run(entry, start)

    def release(self) -> None:
        """Break the run's reference cycles (checkpoint <-> its state-list entry, env <-> checker and stack
        liveness) so that the states go with the last reference to them rather than with a cyclic collection."""
        for bucket in self.buckets.values():
            for sl in bucket:
                sl.state.loop_entry = None
        for sl in self.evicted:
            sl.state.loop_entry = None
        self.evicted.clear()
        self.env.push_stack = None
        self.env.find_prev_entry = None
        if self.env.liveness is not None:
            self.env.liveness.env = None

    def _run(self, entry: VerifierState | None = None, start: int = 0) -> None:
        env = self.env
        insns = env.insns
        n = len(insns)
        if entry is not None:  # another entry point (a global function): explored states are not shared
            self.buckets = {}
            self.stack = []
        env.set_state(entry if entry is not None else initial_state())
        env.mark_all_scratched()
        do_print_state = False
        prev_idx = -1
        env.insn_idx = start
        logging = env.logging
        level2 = env.level2
        log = env.log
        jmp_points = self.jmp_points
        transparent = env.bt_transparent
        liveness = env.liveness
        watch = self.observer.watch if self.observer is not None else ()
        prune_points = self.prune_points
        check_cond_jmp_op = self.check_cond_jmp_op
        do_check_insn = self.do_check_insn
        flags = self.flags
        while True:
            idx = env.insn_idx
            env.prev_insn_idx = prev_idx
            insn = insns[idx] if idx < n else None
            if insn is None:
                raise Reject(f"invalid insn idx {idx} insn_cnt {n}", errno.EFAULT)
            if idx in watch:
                self.observer.at_insn(env, idx, env.cur)
            env.cur_hist_ent = None
            processed = env.insn_processed = env.insn_processed + 1
            if processed > BPF_COMPLEXITY_LIMIT_INSNS:
                raise Reject(f"BPF program is too large. Processed {processed} insn", errno.E2BIG)
            cur = env.cur
            cur.insn_idx = idx
            cur.last_insn_idx = prev_idx
            f = flags[idx]
            if f & _F_OPAQUE:
                cur.seg_opaque += 1
            if f & _F_PRUNE and self.is_state_visited(idx):
                if logging:
                    if do_print_state:
                        env.verbose(f"\nfrom {prev_idx} to {idx}: safe\n")
                    else:
                        env.verbose(f"{idx}: safe\n")
            else:
                if f & _F_JMP_POINT:
                    push_insn_history(env, cur)
                if logging:
                    if level2 and do_print_state:
                        env.verbose(f"\nfrom {prev_idx} to {idx}:")
                        env.print_verifier_state(env.cur, env.cur.curframe, True)
                        do_print_state = False
                    if env.state_scratched():
                        env.print_insn_state(env.cur, env.cur.curframe)
                    env.prev_log_pos = log.end_pos
                    text = self.insn_text.get(idx)
                    if text is None:
                        text = self.insn_text[idx] = f"{idx}: {insn_str(insn)}\n"
                    log.write(text)
                    env.prev_insn_print_pos = len(text)
                    env.prev_log_pos = log.end_pos
                # liveness.reset_writes(idx), inlined: it runs for every instruction
                inst = liveness.cur_instance
                if inst is None:
                    inst = liveness._ensure_cur()
                liveness.write_insn_idx = idx
                if liveness.write_dirty and liveness.write_dirty & ((2 << inst.curframe) - 1):
                    liveness._reset_writes(inst, idx)
                # dispatch: the most frequent kinds straight to their checks, the rest through do_check_insn
                k = f >> _KIND_SHIFT
                if k == _KIND_ALU:
                    check_alu_op(env, insn)
                    nxt = idx + 1
                elif k == _KIND_COND_JMP:
                    env.jmps_processed += 1
                    nxt = check_cond_jmp_op(insn, idx)
                elif k == _KIND_EXIT and not cur.curframe:  # the main program's exit (do_check_insn's checks)
                    env.jmps_processed += 1
                    check_reference_leak(env)
                    check_return_code(env)
                    nxt = _EXIT
                else:
                    nxt = do_check_insn(insn, idx)
                # liveness.commit_writes(), its nothing-to-do case inlined
                inst = liveness.cur_instance
                if inst is not None:
                    if not (liveness.write_dirty and liveness.write_dirty & ((2 << inst.curframe) - 1)) \
                            and inst.must_write_zero[liveness.write_insn_idx - inst.start]:
                        liveness.write_insn_idx = 0
                    else:
                        liveness._commit(inst)
                if nxt >= 0:
                    prev_idx = idx
                    env.insn_idx = nxt
                    continue
                if nxt != _EXIT:  # returned from a subprogram: print the full state next
                    do_print_state = True
                    prev_idx = idx
                    env.insn_idx = -nxt - 2
                    continue
            # process_bpf_exit
            env.mark_all_scratched()
            self.update_branch_counts(env.cur)
            liveness.update()
            if not self.stack:
                break
            st, insn_idx, prev, log_pos = self.stack.pop()
            if logging and not level2:
                log.reset(log_pos)
            env.set_state(st)
            env.insn_idx = insn_idx
            prev_idx = prev
            do_print_state = True

    def save_aux_ptr_type(self, idx: int, t: int, allow_trust_mismatch: bool) -> None:
        """One memory instruction, one kind of pointer on every path (the JIT rewrites ctx and socket accesses
        per instruction): a ctx/socket pointer here and another pointer type on another path is refused."""
        prev = self.aux_ptr_type.get(idx)
        if prev is None:
            self.aux_ptr_type[idx] = t
            return
        if t != prev and (base_type(t) in _NO_TYPE_MISMATCH or base_type(prev) in _NO_TYPE_MISMATCH):
            if allow_trust_mismatch and base_type(t) in _MEM_OR_BTF_ID and base_type(prev) in _MEM_OR_BTF_ID:
                return
            raise Reject("same insn cannot be used with different pointers", errno.EINVAL)

    # ---- one instruction -------------------------------------------------------------------------------------
    def do_check_insn(self, insn, idx: int) -> int:
        env = self.env
        if env.isa_refused and idx in env.isa_refused:  # newer than the kernel answered for (kernel_model.py)
            raise Reject(env.isa_refused[idx], errno.EINVAL)
        code = insn.opcode
        cls = code & CLASS_MASK
        if cls == _ALU or cls == _ALU64:
            check_alu_op(env, insn)
            return idx + 1
        if cls == _LDX:
            mode = code & MODE_MASK
            src_type = env.check_reg_arg(insn.src, SRC_OP).type
            env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
            check_mem_access(env, insn.src, insn.off, _SIZE_BYTES[code & SIZE_MASK], False, insn.dst,
                             is_ldsx=mode == _MODE_MEMSX)
            self.save_aux_ptr_type(idx, src_type, True)
            return idx + 1
        if cls == _STX:
            if code & MODE_MASK == _MODE_ATOMIC:
                self.check_atomic(insn)
                return idx + 1
            if code & MODE_MASK != _MODE_MEM or insn.imm:
                raise Reject("BPF_STX uses reserved fields", errno.EINVAL)
            env.check_reg_arg(insn.src, SRC_OP)
            dst_type = env.check_reg_arg(insn.dst, SRC_OP).type
            check_mem_access(env, insn.dst, insn.off, _SIZE_BYTES[code & SIZE_MASK], True, insn.src)
            self.save_aux_ptr_type(idx, dst_type, False)
            return idx + 1
        if cls == _ST:
            if code & MODE_MASK != _MODE_MEM or insn.src:
                raise Reject("BPF_ST uses reserved fields", errno.EINVAL)
            dst_type = env.check_reg_arg(insn.dst, SRC_OP).type
            if dst_type == PTR_TO_CTX and env.kernel is not None and not env.kernel.fact(Fact.ST_INTO_CTX):
                raise Reject(f"BPF_ST stores into R{insn.dst} ctx is not allowed")
            check_mem_access(env, insn.dst, insn.off, _SIZE_BYTES[code & SIZE_MASK], True, -1,
                             st_imm=insn.imm)
            self.save_aux_ptr_type(idx, dst_type, False)
            return idx + 1
        if cls == _JMP or cls == _JMP32:
            op = code & OP_MASK
            env.jmps_processed += 1
            if op == _OP_CALL:
                if cls == _JMP32 or code & SOURCE_MASK or insn.off or insn.dst \
                        or insn.src not in _CALL_SRCS:
                    raise Reject("BPF_CALL uses reserved fields", errno.EINVAL)
                if env.cur.active_lock is not None and (
                        insn.src == _KFUNC or (insn.src == 0 and insn.imm != _SPIN_UNLOCK)):
                    raise Reject("function calls are not allowed while holding a lock", errno.EINVAL)
                if insn.src == _PSEUDO_CALL:
                    return check_func_call(env, insn, idx)
                if insn.src == _KFUNC:
                    return self.check_kfunc_call(insn, idx)
                nxt = check_helper_call(env, insn)  # a callback entered on this path: its first slot
                return idx + 1 if nxt is None else nxt
            if op == _OP_JA:
                if code & SOURCE_MASK or insn.src or insn.dst or (insn.imm if cls == _JMP else insn.off):
                    raise Reject("BPF_JA uses reserved fields", errno.EINVAL)
                return idx + 1 + (insn.off if cls == _JMP else insn.imm)
            if op == _OP_EXIT:
                if code & SOURCE_MASK or insn.imm or insn.src or insn.dst or insn.off or cls == _JMP32:
                    raise Reject("BPF_EXIT uses reserved fields", errno.EINVAL)
                if env.cur.curframe == 0:
                    check_reference_leak(env)
                    check_return_code(env)
                    return _EXIT
                # a subprogram may return with R0 unset: the caller's first read of R0 is what fails
                env.liveness.update()
                in_callback = env.cur.frames[env.cur.curframe].in_callback_fn
                ret = prepare_func_exit(env)
                if in_callback and ret in self.callback_calls:
                    # back at the helper's call for its next callback visit: scalars that changed since the
                    # previous visit and decide nothing are widened so that the visits converge (bpf_loop
                    # counters), as prepare_func_exit() does with find_prev_entry() + widen_imprecise_scalars()
                    prev = self.find_prev_entry(ret, skip_parent=False)
                    if prev is not None:
                        widen_scalars(prev, env.cur)
                env.scratched_regs = env.scratched_stack = 0
                return -ret - 2
            if op == _OP_JCOND:
                return self.check_may_goto(insn, idx)
            return self.check_cond_jmp_op(insn, idx)
        # BPF_LD
        mode = code & MODE_MASK
        if mode in (Mode.ABS, Mode.IND):
            return self.check_ld_abs(insn, mode, idx)
        if code == OP_LD_IMM64:
            self.check_ld_imm(insn)
            return idx + 2
        raise Reject("invalid BPF_LD mode", errno.EINVAL)

    def check_kfunc_call(self, insn, idx: int) -> int:
        """check_kfunc_call(): id 0 is skipped (refused after do_check if reached); the rest in kfunc.py (the
        kfuncs abi/kfuncs.py tables; others are refused as not modelled, never accepted unchecked)."""
        env = self.env
        if not insn.imm:
            env.kfunc_call_not_eliminated = True
            return idx + 1
        check_kfunc_call(env, insn.imm & 0xFFFFFFFF)
        return idx + 1

    # ---- loads of 64-bit immediates and legacy packet loads ---------------------------------------------------
    def check_ld_imm(self, insn) -> None:
        env = self.env
        if insn.off:
            raise Reject("BPF_LD_IMM64 uses reserved fields", errno.EINVAL)
        dst = env.check_reg_arg(insn.dst, DST_OP)
        if insn.src == PseudoSrc.IMM:
            mark_reg_known(dst, insn.imm)
            return
        if insn.src == PseudoSrc.FUNC:
            if not env.cfg.func_info:  # check_ld_imm: a callback's address needs the load's BTF func_info
                raise Reject("missing btf func_info", errno.EINVAL)
            from pyebpf.verifier.regstate import PTR_TO_FUNC
            mark_reg_known(dst, 0)
            dst.type = PTR_TO_FUNC
            lo = insn.imm & 0xFFFFFFFF
            target = env.insn_idx + 1 + (lo - (1 << 32) if lo >> 31 else lo)
            dst.subprogno = env.cfg.subprog_starts.index(target)
            return
        mapref = env.resolve_map(insn)
        mark_reg_known(dst, 0)
        dst.map = mapref
        if insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            dst.type = PTR_TO_MAP_VALUE
            dst.off = (insn.imm >> 32) & 0xFFFFFFFF
        elif insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            dst.type = CONST_PTR_TO_MAP
        else:
            raise Reject("unrecognized bpf_ld_imm64 insn", errno.EINVAL)

    def check_ld_abs(self, insn, mode: int, idx: int) -> int:
        """The next slot: idx + 1, or in a subprogram the caller's, after queueing idx + 1 (the load's hidden
        BPF_EXIT with R0 = 0, which bpf_gen_ld_abs emits, is explored first)."""
        env = self.env
        if not may_ld_abs(env.prog_type):
            raise Reject("BPF_LD_[ABS|IND] instructions not allowed for this program type", errno.EINVAL)
        if any(f.in_callback_fn for f in env.cur.frames[1:env.cur.curframe + 1]):
            raise Reject("cannot use BPF_LD_[ABS|IND] within callback", errno.EINVAL)
        if insn.dst or insn.off or (insn.opcode & SIZE_MASK) == Size.DW or (mode == Mode.ABS and insn.src):
            raise Reject("BPF_LD_[ABS|IND] uses reserved fields", errno.EINVAL)
        env.check_reg_arg(6, SRC_OP)
        check_reference_leak(env, "BPF_LD_[ABS|IND]")
        r6 = env.regs[6]
        if r6.type != PTR_TO_CTX:
            raise Reject("at the time of BPF_LD_ABS|IND R6 != pointer to skb", errno.EINVAL)
        if mode == Mode.IND:
            env.check_reg_arg(insn.src, SRC_OP)
        check_ptr_off_reg(env, r6, 6)
        regs = env.regs
        for r in CALLER_SAVED:
            mark_reg_not_init(regs[r])
            env.check_reg_arg(r, DST_OP_NO_MARK)
        mark_reg_unknown(regs[0])
        if not env.cur.curframe:
            return idx + 1
        self.push_stack(idx + 1, idx)
        mark_reg_known(regs[0], 0)
        env.liveness.update()
        ret = prepare_func_exit(env)
        env.scratched_regs = env.scratched_stack = 0
        return -ret - 2

    # ---- atomics ------------------------------------------------------------------------------------------------
    def check_atomic(self, insn) -> None:
        env = self.env
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        imm = insn.imm
        if imm not in _ATOMIC_OPS:  # a Program built or read without validation (ELF path) may hold any imm
            raise Reject(f"BPF_ATOMIC uses invalid atomic opcode {imm & 0xFFFFFFFF:02x}", errno.EINVAL)
        if imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            if imm == AtomicOp.LOAD_ACQ:
                src = env.check_reg_arg(insn.src, SRC_OP)
                env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
                src_type = src.type
                check_mem_access(env, insn.src, insn.off, size, False, insn.dst, strict_once=True)
                if src_type in _NO_ATOMIC_TYPES:
                    raise Reject(f"BPF_ATOMIC loads from R{insn.src} {reg_type_str(src_type)} is not allowed")
            else:
                env.check_reg_arg(insn.src, SRC_OP)
                dst = env.check_reg_arg(insn.dst, SRC_OP)
                check_mem_access(env, insn.dst, insn.off, size, True, insn.src, strict_once=True)
                if dst.type in _NO_ATOMIC_TYPES:
                    raise Reject(f"BPF_ATOMIC stores into R{insn.dst} {reg_type_str(dst.type)} is not allowed")
            return
        if size not in (4, 8):
            raise Reject("invalid atomic operand size", errno.EINVAL)
        env.check_reg_arg(insn.src, SRC_OP)
        env.check_reg_arg(insn.dst, SRC_OP)
        regs = env.regs
        if imm == AtomicOp.CMPXCHG:
            env.check_reg_arg(0, SRC_OP)
            if env.is_pointer_value(regs[0]):
                raise Reject("R0 leaks addr into mem")
        if env.is_pointer_value(regs[insn.src]):
            raise Reject(f"R{insn.src} leaks addr into mem")
        dst_t = regs[insn.dst].type
        if dst_t in _NO_ATOMIC_TYPES:
            raise Reject(f"BPF_ATOMIC stores into R{insn.dst} {reg_type_str(dst_t)} is not allowed")
        load_reg = -1
        if imm & 1:
            load_reg = 0 if imm == AtomicOp.CMPXCHG else insn.src
            env.check_reg_arg(load_reg, DST_OP)
        check_mem_access(env, insn.dst, insn.off, size, False, -1, strict_once=True)
        if load_reg >= 0:
            check_mem_access(env, insn.dst, insn.off, size, False, load_reg, strict_once=True)
        check_mem_access(env, insn.dst, insn.off, size, True, -1, strict_once=True)

    # ---- may_goto -----------------------------------------------------------------------------------------------
    def check_may_goto(self, insn, idx: int) -> int:
        """may_goto: queue the fall-through (one level deeper) and follow the jump; scalars that differ from the
        previous visit of this instruction are widened so that the loop converges (widen_imprecise_scalars)."""
        env = self.env
        if insn.src or insn.dst or insn.imm:
            raise Reject(f"invalid may_goto imm {insn.imm}", errno.EINVAL)
        prev = self.find_prev_entry(idx)
        queued = self.push_stack(idx + 1, idx)
        queued.may_goto_depth += 1
        if prev is not None:
            widen_scalars(prev, queued)
        return idx + 1 + insn.off

    def find_prev_entry(self, idx: int, skip_parent: bool = True) -> VerifierState | None:
        """The most recent in-progress checkpoint at `idx` on this path (in-progress checkpoints are the current
        path's ancestors, all of a smaller dfs_depth): with `skip_parent`, other than the one this very visit just
        stored (the kernel's find_prev_entry(cur->parent) for may_goto and iterators)."""
        cur = self.env.cur
        for sl in self._bucket(idx, cur):
            st = sl.state
            if st.insn_idx == idx and st.branches and not (skip_parent and st is cur.parent) \
                    and self._same_callsites(st, cur):
                return st
        return None

    # ---- conditional jumps -------------------------------------------------------------------------------------
    def check_cond_jmp_op(self, insn, idx: int) -> int:
        env = self.env
        code = insn.opcode
        op = code & OP_MASK
        is_jmp32 = code & CLASS_MASK == _JMP32
        if op > 0xD0:
            raise Reject(f"invalid BPF_JMP/JMP32 opcode {op:x}", errno.EINVAL)
        dst = env.check_reg_arg(insn.dst, SRC_OP)
        is_x = bool(code & SOURCE_MASK)
        if is_x:
            if insn.imm:
                raise Reject("BPF_JMP/JMP32 uses reserved fields", errno.EINVAL)
            src = env.check_reg_arg(insn.src, SRC_OP)
            if not (dst.type in _PKT_ANY and src.type in _PKT_ANY) and env.is_pointer_value(src):
                raise Reject(f"R{insn.src} pointer comparison prohibited")
        else:
            if insn.src:
                raise Reject("BPF_JMP/JMP32 uses reserved fields", errno.EINVAL)
            src = _const_reg(insn.imm)  # the kernel's fake_reg (shared and read-only: refining gets copies)
        this = env.cur
        src_stack = is_x and src.type == PTR_TO_STACK
        if src_stack or dst.type == PTR_TO_STACK:
            push_insn_history(env, this, dst_stack=dst.type == PTR_TO_STACK, src_stack=src_stack)
        target = idx + 1 + insn.off
        pred = is_branch_taken(dst, src, op, is_jmp32)
        if pred >= 0:
            # the outcome rests on the exact values compared: they must be precise wherever they came from
            if dst.type == SCALAR_VALUE:
                mark_chain_precision(env, insn.dst)
            if is_x and src.type == SCALAR_VALUE:
                mark_chain_precision(env, insn.src)
        if pred == 1:
            if env.logging:
                env.print_insn_state(env.cur, env.cur.curframe)
            return target
        if pred == 0:
            if env.logging:
                env.print_insn_state(env.cur, env.cur.curframe)
            return idx + 1
        src_linked = is_x and src.type == SCALAR_VALUE and src.id
        dst_linked = dst.type == SCALAR_VALUE and dst.id
        if src_linked or dst_linked:
            linked = []
            if src_linked:
                collect_linked_regs(this, src.id, linked)
            if dst_linked and dst.id:  # (collecting src's may have dropped the id: more than 6 linked)
                collect_linked_regs(this, dst.id, linked)
            if len(linked) > 1:
                # both branches share this record: precision of one linked register reaches all of them
                push_insn_history(env, this, linked=tuple(linked))
        other = self.push_stack(target, idx)
        oregs = other.frames[other.curframe].regs
        if is_x:
            reg_set_min_max(oregs[insn.dst], oregs[insn.src], dst, src, op, is_jmp32)
        else:
            reg_set_min_max_imm(oregs[insn.dst], dst, src, op, is_jmp32)
        if src_linked and src.id:
            sync_linked_regs(this, src)
            sync_linked_regs(other, oregs[insn.src])
        if dst_linked and dst.id:
            sync_linked_regs(this, dst)
            sync_linked_regs(other, oregs[insn.dst])
        if dst.type == SCALAR_VALUE and src.type == SCALAR_VALUE:
            # two scalars: none of the pointer rules below applies (and refining never changes a type)
            if env.logging:
                env.print_insn_state(this, this.curframe)
            return idx + 1
        if not is_jmp32 and is_x and op in (JEQ, JNE) and _is_ptr(src) and _is_ptr(dst) \
                and bool(src.type & PTR_MAYBE_NULL) != bool(dst.type & PTR_MAYBE_NULL) \
                and base_type(src.type) != RegType.PTR_TO_BTF_ID and base_type(dst.type) != RegType.PTR_TO_BTF_ID:
            # `if ptr == non_null_ptr`: where they are equal, the maybe-NULL one is not NULL (that register only)
            eq_state = other if op == JEQ else this
            eq_regs = eq_state.frames[eq_state.curframe].regs
            mark_ptr_not_null_reg(eq_regs[insn.src if src.type & PTR_MAYBE_NULL else insn.dst])
        if (not is_jmp32 and not is_x and insn.imm == 0 and op in (JEQ, JNE) and dst.type & PTR_MAYBE_NULL):
            mark_ptr_or_null_regs(env, this, insn.dst, op == JNE)
            mark_ptr_or_null_regs(env, other, insn.dst, op == JEQ)
        elif not (is_x and (dst.type in _PKT_ANY or src.type in _PKT_ANY)
                  and try_match_pkt_pointers(insn, op, is_jmp32, dst, src, this, other)) \
                and env.is_pointer_value(dst):
            raise Reject(f"R{insn.dst} pointer comparison prohibited")
        if env.logging:
            env.print_insn_state(this, this.curframe)
        return idx + 1


def widen_scalars(old: VerifierState, cur: VerifierState) -> None:
    """widen_imprecise_scalars: every imprecise scalar (register or spill) that changed since `old` becomes
    unknown, so that the loop's next visit can converge; precise ones keep their values."""
    from pyebpf.verifier.prune import IdMap, regs_exact
    idmap = IdMap()
    for fo, fc in reversed(list(zip(old.frames, cur.frames))):
        for ro, rc in zip(fo.regs, fc.regs):
            if ro.type == SCALAR_VALUE and rc.type == SCALAR_VALUE and not ro.precise and not rc.precise \
                    and not regs_exact(ro, rc, idmap):
                mark_reg_unknown(rc)
        for so, sc in zip(fo.stack, fc.stack):
            if so.is_spilled_reg and sc.is_spilled_reg:
                ro, rc = so.spilled, sc.spilled
                if ro.type == SCALAR_VALUE and rc.type == SCALAR_VALUE and not ro.precise and not rc.precise \
                        and not regs_exact(ro, rc, idmap):
                    mark_reg_unknown(rc)


_LINKED_REGS_MAX = 6


def collect_linked_regs(state: VerifierState, rid: int, out: list) -> None:
    """Scalars sharing id `rid` (registers then spilled slots, innermost frame first), at most LINKED_REGS_MAX
    of them; one more loses its id as in the kernel."""
    for fr in range(state.curframe, -1, -1):
        func = state.frames[fr]
        for j in range(10):
            reg = func.regs[j]
            if reg.type == SCALAR_VALUE and reg.id == rid:
                if len(out) < _LINKED_REGS_MAX:
                    out.append((fr, j, True))
                else:
                    reg.id = 0
        for j, slot in enumerate(func.stack):
            if not slot.is_spilled_reg:
                continue
            reg = slot.spilled
            if reg.type == SCALAR_VALUE and reg.id == rid:
                if len(out) < _LINKED_REGS_MAX:
                    out.append((fr, j, False))
                else:
                    reg.id = 0


def sync_linked_regs(state: VerifierState, known: Reg) -> None:
    kid = known.id
    for reg in for_each_reg(state):
        if reg is not known and reg.type == SCALAR_VALUE and reg.id == kid:
            reg.assign(known)


def mark_ptr_or_null_regs(env: Env, state: VerifierState, regno: int, is_null: bool) -> None:
    regs = state.frames[state.curframe].regs
    rid = regs[regno].id
    ref_obj_id = regs[regno].ref_obj_id
    if ref_obj_id and ref_obj_id == rid and is_null:
        state.refs = [r for r in state.refs if r[0] != rid]
    for reg in for_each_reg(state):
        if reg.type & PTR_MAYBE_NULL and reg.id == rid:
            if is_null:
                reg.type = SCALAR_VALUE
                reg.id = 0
                reg.ref_obj_id = 0
                reg.map = None
            else:
                mark_ptr_not_null_reg(reg)
                if not reg_may_point_to_spin_lock(reg):
                    reg.id = 0  # a map value holding a lock keeps its id: bpf_spin_unlock must match it
                if reg.type == PTR_TO_MAP_VALUE and reg.map is not None:  # older kernels: map-in-map lookup
                    inner = env.inner_map_ref(reg.map)  # results become the inner map once checked
                    if inner is not None:
                        reg.type, reg.map = CONST_PTR_TO_MAP, inner
                        reg.id = 0


#: mark_ptr_not_null_reg: a non-NULL lookup result in these maps is the socket it holds, not a map value
_MAP_ELEM_TYPES = {MapType.SOCKMAP: PTR_TO_SOCKET, MapType.SOCKHASH: PTR_TO_SOCKET,
                   MapType.XSKMAP: RegType.PTR_TO_XDP_SOCK}


def _is_ptr(reg) -> bool:
    return reg.type not in (SCALAR_VALUE, NOT_INIT)


def mark_ptr_not_null_reg(reg) -> None:
    if not reg.type & PTR_MAYBE_NULL:
        return
    if base_type(reg.type) == PTR_TO_MAP_VALUE and reg.map is not None and reg.map.spec.type in _MAP_ELEM_TYPES:
        reg.type = _MAP_ELEM_TYPES[reg.map.spec.type]
        return
    reg.type &= ~PTR_MAYBE_NULL


def reg_may_point_to_spin_lock(reg) -> bool:
    return base_type(reg.type) == PTR_TO_MAP_VALUE and reg.map is not None and spin_lock_off(reg.map.spec) is not None


def find_good_pkt_pointers(state: VerifierState, dst: Reg, t: int, range_right_open: bool) -> None:
    if dst.off < 0 or (dst.off == 0 and range_right_open):
        return
    if dst.umax > MAX_PACKET_OFF or dst.umax + dst.off > MAX_PACKET_OFF:
        return
    new_range = dst.off + (1 if range_right_open else 0)
    did = dst.id
    for reg in for_each_reg(state):
        if reg.type == t and reg.id == did:
            reg.range = max(reg.range, new_range)


def mark_pkt_end(state: VerifierState, regno: int, range_open: bool) -> None:
    reg = state.frames[state.curframe].regs[regno]
    if reg.type != PTR_TO_PACKET:
        return
    reg.range = BEYOND_PKT_END if range_open else AT_PKT_END


def _is_init_pkt(reg: Reg | None, t: int) -> bool:
    return reg is not None and reg.type == t and reg.off == 0 and not reg.var_off.mask and reg.var_off.value == 0


def try_match_pkt_pointers(insn, op: int, is_jmp32: bool, dst: Reg, src: Reg | None, this: VerifierState,
                           other: VerifierState) -> bool:
    if src is None or is_jmp32:
        return False
    d_pkt = (dst.type == PTR_TO_PACKET and src.type == PTR_TO_PACKET_END) or \
        (dst.type == PTR_TO_PACKET_META and _is_init_pkt(src, PTR_TO_PACKET))
    s_pkt = (dst.type == PTR_TO_PACKET_END and src.type == PTR_TO_PACKET) or \
        (_is_init_pkt(dst, PTR_TO_PACKET) and src.type == PTR_TO_PACKET_META)
    if not (d_pkt or s_pkt):
        return False
    # (branch holding the "in bounds" outcome, right-open?), then the mark_pkt_end side
    table = {
        (JGT, True): (this, dst, False, other, insn.dst, True),
        (JGT, False): (other, src, True, this, insn.src, False),
        (JLT, True): (other, dst, True, this, insn.dst, False),
        (JLT, False): (this, src, False, other, insn.src, True),
        (JGE, True): (this, dst, True, other, insn.dst, False),
        (JGE, False): (other, src, False, this, insn.src, True),
        (JLE, True): (other, dst, False, this, insn.dst, True),
        (JLE, False): (this, src, True, other, insn.src, False),
    }
    entry = table.get((op, d_pkt))
    if entry is None:
        return False
    good_state, ref_reg, right_open, end_state, end_regno, end_open = entry
    regs = good_state.frames[good_state.curframe].regs
    which = insn.dst if ref_reg is dst else insn.src
    find_good_pkt_pointers(good_state, regs[which], regs[which].type, right_open)
    mark_pkt_end(end_state, end_regno, end_open)
    return True


def check_max_stack_depth(env: Env) -> None:
    """check_max_stack_depth_subprog of the main program: walk every call chain in instruction order with an
    explicit stack (never Python recursion: a self-calling program must fail as the kernel fails it), adding each
    frame's rounded stack depth; more than MAX_CALL_FRAMES frames or MAX_BPF_STACK bytes is refused."""
    cfg = env.cfg
    insns = cfg.insns
    starts = cfg.subprog_starts
    ends = starts[1:] + [len(insns)]
    # the kernel's rounding differs by release; ask only when some rounding could reach the limit
    could_exceed = MAX_CALL_FRAMES * (max(env.subprog_stack_depth, default=0) + 32) > MAX_BPF_STACK
    step, least = env.kernel.fact(Fact.STACK_FRAME_ROUND) if env.kernel and could_exceed else (16, 0)
    depth_of = [(max(d, least) + step - 1) // step * step for d in env.subprog_stack_depth]
    ret_insn = [0] * MAX_CALL_FRAMES
    ret_prog = [0] * MAX_CALL_FRAMES
    # the slots that call or take the address of a subprogram, in order: the walk below only stops at those
    call, lddw, pseudo_call, pseudo_func = _OP_CALL_INSN, int(OP_LD_IMM64), int(CallSrc.PSEUDO_CALL), \
        int(PseudoSrc.FUNC)
    calls = [i for i, insn in enumerate(insns) if insn is not None and (
        (insn.opcode == call and insn.src == pseudo_call) or (insn.opcode == lddw and insn.src == pseudo_func))]
    frame = depth = 0
    idx = 0
    i = starts[0]
    entering = True
    while True:
        if entering:
            depth += depth_of[idx]
            if depth > MAX_BPF_STACK:
                raise Reject(f"combined stack size of {frame + 1} calls is {depth}. Too large", errno.EACCES)
        entering = False
        called = False
        end = ends[idx]
        while i < end:
            k = bisect_left(calls, i)
            if k == len(calls) or calls[k] >= end:
                i = end
                break
            i = calls[k]
            insn = insns[i]
            ret_insn[frame] = i + 1
            ret_prog[frame] = idx
            imm = insn.imm & 0xFFFFFFFF
            target = i + 1 + (imm - (1 << 32) if imm >> 31 else imm)
            idx = starts.index(target)
            i = target
            frame += 1
            if frame >= MAX_CALL_FRAMES:
                raise Reject(f"the call stack of {frame} frames is too deep !", errno.E2BIG)
            called = entering = True
            break
        if called:
            continue
        if frame == 0:
            return
        depth -= depth_of[idx]
        frame -= 1
        i = ret_insn[frame]
        idx = ret_prog[frame]


__all__ = ["Checker", "check_max_stack_depth", "BPF_COMPLEXITY_LIMIT_JMP_SEQ", "gc_paused"]
