"""Verifier state: stack slots, function frames and the whole state of one path (bpf_func_state,
bpf_verifier_state). States are forked by `copy()` at branches and checkpoints only."""
from __future__ import annotations

from pyebpf.abi.opcodes import MAX_BPF_STACK
from pyebpf.verifier.bounds import mark_reg_not_init
from pyebpf.verifier.regstate import NOT_INIT, PTR_TO_CTX, PTR_TO_STACK, Reg
from pyebpf.verifier.tnum import Tnum

BPF_REG_SIZE = 8
STACK_INVALID, STACK_SPILL, STACK_MISC, STACK_ZERO, STACK_DYNPTR, STACK_ITER, STACK_IRQ_FLAG = range(7)
SLOT_TYPE_CHAR = "?rm0dif"
MAX_BPF_REG = 11


class StackSlot:
    """struct bpf_stack_state: 8 byte types (index 0 is the highest address) and the spilled register."""

    __slots__ = ("slot_type", "spilled")

    def __init__(self) -> None:
        self.slot_type = [STACK_INVALID] * BPF_REG_SIZE
        self.spilled = Reg()

    def copy(self) -> "StackSlot":
        s = _new(StackSlot)
        s.slot_type = self.slot_type[:]
        s.spilled = _reg_copy(self.spilled)
        return s

    @property
    def is_spilled_reg(self) -> bool:
        return self.slot_type[BPF_REG_SIZE - 1] == STACK_SPILL

    @property
    def is_spilled_scalar(self) -> bool:
        return self.is_spilled_reg and self.spilled.type == 1


class FuncState:
    """One call frame: registers, stack (list indexed by spi = slot / 8) and where it was called from."""

    __slots__ = ("regs", "stack", "frameno", "callsite", "subprogno", "allocated_stack", "in_callback_fn",
                 "callback_ret_range", "callback_depth")

    def __init__(self, frameno: int = 0, callsite: int = -1, subprogno: int = 0) -> None:
        self.regs = [Reg() for _ in range(MAX_BPF_REG)]
        self.stack: list[StackSlot] = []
        self.frameno = frameno
        self.callsite = callsite
        self.subprogno = subprogno
        self.allocated_stack = 0
        #: a frame a helper calls back into (bpf_loop, for_each_map_elem, ...): it returns to the helper's call
        #: instruction, and its R0 must be a scalar within callback_ret_range (min, max)
        self.in_callback_fn = False
        self.callback_ret_range = (0, 0)
        #: how many callback visits this frame's current callback-calling helper has pushed (bpf_loop stops at
        #: its R1's umax)
        self.callback_depth = 0
        fp = self.regs[10]
        fp.type = PTR_TO_STACK
        fp.var_off = Tnum(0, 0)
        fp.smin = fp.smax = fp.umin = fp.umax = 0
        fp.s32_min = fp.s32_max = fp.u32_min = fp.u32_max = 0
        fp.frameno = frameno

    def copy(self) -> "FuncState":
        f = _new(FuncState)
        # R10 is shared, not copied: it is written only when the frame is created (check_reg_arg refuses every
        # write to the frame pointer, and no pass that rewrites registers touches it)
        # (a NOT_INIT register, most of a frame's, is built from constants rather than read field by field)
        f.regs = [_reg_copy(x) if x.type or x.subprogno else _not_init() for x in self.regs[:10]]
        f.regs.append(self.regs[10])
        f.stack = list(map(_slot_copy, self.stack)) if self.stack else []
        f.frameno = self.frameno
        f.callsite = self.callsite
        f.subprogno = self.subprogno
        f.allocated_stack = self.allocated_stack
        f.in_callback_fn = self.in_callback_fn
        f.callback_ret_range = self.callback_ret_range
        f.callback_depth = self.callback_depth
        return f

    def grow_stack(self, size: int) -> None:
        """grow_stack_state: allocated_stack rounds up to whole 8-byte slots."""
        n = (size + BPF_REG_SIZE - 1) // BPF_REG_SIZE
        while len(self.stack) < n:
            self.stack.append(StackSlot())
        if n * BPF_REG_SIZE > self.allocated_stack:
            self.allocated_stack = n * BPF_REG_SIZE


class VerifierState:
    """struct bpf_verifier_state: the frames of one path plus the bookkeeping pruning needs."""

    __slots__ = ("frames", "curframe", "parent", "branches", "insn_idx", "refs", "speculative", "loop_entry",
                 "may_goto_depth", "callback_unroll_depth", "first_insn_idx", "last_insn_idx", "hist",
                 "equal_state", "cleaned", "seg_opaque", "active_lock")

    def __init__(self) -> None:
        self.frames: list[FuncState] = []
        self.curframe = 0
        self.parent: VerifierState | None = None
        self.branches = 1
        self.insn_idx = 0
        self.refs: list[tuple[int, int]] = []  # (ref id, insn that acquired it)
        self.speculative = False
        self.loop_entry = None
        self.may_goto_depth = 0
        self.callback_unroll_depth = 0
        #: the instructions this state's segment of the path covers (first at its checkpoint, last before it) and
        #: the jump history of that segment (HistEntry list, see precision.py): what backtracking walks
        self.first_insn_idx = 0
        self.last_insn_idx = -1
        self.hist: list = []
        #: instructions of this segment that backtracking must look at (0: the walk may skip the segment)
        self.seg_opaque = 0
        #: a loop back-edge copy: the checkpoint it was found equal to (propagate_backedges)
        self.equal_state: "VerifierState | None" = None
        #: clean_live_states ran on this stored checkpoint (its dead registers no longer count)
        self.cleaned = False
        #: the bpf_spin_lock held (process_spin_lock): (map uid, register id), or None
        self.active_lock: tuple[int, int] | None = None
        #: the last backtracking walk of this segment, where it started and how it ended (precision.py); it
        #: names the history list it walked, so a new segment (a new list) never matches it

    def copy(self) -> "VerifierState":
        s = _new(VerifierState)
        s.frames = list(map(_frame_copy, self.frames))
        s.curframe = self.curframe
        s.parent = self.parent
        s.branches = 1
        s.insn_idx = self.insn_idx
        s.refs = list(self.refs)
        s.speculative = self.speculative
        s.loop_entry = None  # the state-list entry of a stored checkpoint (engine.StateEntry)
        s.may_goto_depth = self.may_goto_depth
        s.callback_unroll_depth = self.callback_unroll_depth
        s.first_insn_idx = self.first_insn_idx
        s.last_insn_idx = self.last_insn_idx
        s.hist = self.hist[:]
        s.seg_opaque = self.seg_opaque
        s.equal_state = self.equal_state
        s.cleaned = False
        s.active_lock = self.active_lock
        return s

    @property
    def frame(self) -> FuncState:
        return self.frames[self.curframe]

    @property
    def regs(self) -> list[Reg]:
        return self.frames[self.curframe].regs


_new = object.__new__
_reg_copy = Reg.copy
_not_init = Reg.not_init
_slot_copy = StackSlot.copy
_frame_copy = FuncState.copy


def initial_state() -> VerifierState:
    """Entry of the main program: R1 = ctx, R10 = fp, everything else not initialised."""
    st = VerifierState()
    frame = FuncState(0, -1, 0)
    r1 = frame.regs[1]
    r1.type = PTR_TO_CTX
    r1.var_off = Tnum(0, 0)
    r1.smin = r1.smax = r1.umin = r1.umax = 0
    r1.s32_min = r1.s32_max = r1.u32_min = r1.u32_max = 0
    st.frames.append(frame)
    return st


__all__ = [
    "BPF_REG_SIZE", "STACK_INVALID", "STACK_SPILL", "STACK_MISC", "STACK_ZERO", "SLOT_TYPE_CHAR", "StackSlot",
    "FuncState", "VerifierState", "initial_state", "MAX_BPF_STACK", "NOT_INIT", "mark_reg_not_init",
]
