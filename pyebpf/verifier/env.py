"""The verifier environment (struct bpf_verifier_env): the program, its settings, the current path and the log.

Kept separate from the engine so that the per-topic modules (alu, memory, calls, prune) can take `env` without
importing the engine.
"""
from __future__ import annotations

import errno as _errno

from pyebpf.verifier.log import VerifierLog, reg_state_str, vlog_alignment
from pyebpf.verifier.regstate import NOT_INIT, Reg
from pyebpf.verifier.state import BPF_REG_SIZE, SLOT_TYPE_CHAR, STACK_INVALID, STACK_SPILL, VerifierState

SRC_OP, DST_OP, DST_OP_NO_MARK = 0, 1, 2
BPF_MAX_VAR_OFF = 1 << 29
BPF_MAX_VAR_SIZ = 1 << 29
MAX_PACKET_OFF = 0xFFFF
AT_PKT_END, BEYOND_PKT_END = -1, -2


class Reject(Exception):
    """A verification failure: the kernel's message and errno (the engine adds the slot)."""

    def __init__(self, message: str, err: int = _errno.EACCES, newline: bool = True, logged: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.errno = err
        self.newline = newline  # a few kernel messages lack their "\n" and run into the next line
        self.logged = logged  # the message (and more) is already in the log


class Env:
    """Everything one verification run needs; attributes follow struct bpf_verifier_env."""

    def __init__(self, program, cfg, prog_type, maps, privileged: bool, log_level: int,
                 attach_type=None) -> None:
        self.program = program
        self.kernel = None  # KernelModel: the release answered for (verifier/kernel_model.py), set by verify()
        self.isa_refused: dict[int, str] = {}  # slot -> do_check's refusal of an instruction the kernel predates
        self.cfg = cfg
        self.insns = cfg.insns
        self.prog_type = prog_type
        self.attach_type = attach_type
        self.maps = maps
        self.privileged = privileged
        self.bpf_capable = privileged
        self.allow_ptr_leaks = privileged
        self.allow_uninit_stack = privileged
        self.bypass_spec_v1 = privileged
        #: BPF_F_STRICT_ALIGNMENT (api.verify sets it): every access's alignment is checked
        self.strict_alignment = False
        #: BPF_F_SLEEPABLE (api.verify sets it); the BTF prototype a tp_btf/fentry/fexit program's context is
        #: (btf_ptr.AttachTarget, set by api.verify for those programs, else None)
        self.sleepable = False
        self.attach_target = None
        self.log = VerifierLog(log_level)
        self.logging = log_level & 3 != 0
        self.level2 = bool(log_level & 2)
        self.id_gen = 0
        self.insn_idx = 0
        self.prev_insn_idx = -1
        self.insn_processed = 0
        self.prev_insn_processed = 0
        self.jmps_processed = 0
        self.prev_jmps_processed = 0
        self.total_states = 0
        self.peak_states = 0
        self.explored_states_size = 0
        self.free_list_size = 0
        self.num_backedges = 0
        self.max_states_per_insn = 0
        self.cur: VerifierState = None  # type: ignore[assignment]
        self.regs: list[Reg] = []
        self.scratched_regs = 0
        self.scratched_stack = 0
        self.prev_log_pos = 0
        self.prev_insn_print_pos = 0
        self.subprog_stack_depth = [0] * len(cfg.subprog_starts)
        #: a kfunc call with BTF id 0 was reached (check_kfunc_call skips it; fixup_kfunc_call refuses it later)
        self.kfunc_call_not_eliminated = False
        #: precision tracking (precision.py): the backtracking masks, the history entry of the instruction being
        #: checked, loops (scc id per slot) and their open visits; set up by the engine
        self.bt = None
        self.bt_transparent: list[bool] = []
        self.bt_reg_only: list = []  # precision.register_insns: register-only ALU instructions, walked inline
        self.cur_hist_ent = None
        self.scc_of: list[int] = []
        self.scc_visits: dict = {}
        self.liveness = None  # liveness.StackLiveness
        #: bpf_loop call sites whose inline state was initialised (update_loop_inline_state)
        self.loop_inline_seen: set[int] = set()
        self.gpl = program.license in ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                                       "Dual MIT/GPL", "Dual MPL/GPL")

    # ---- registers -------------------------------------------------------------------------------------------
    def set_state(self, state: VerifierState) -> None:
        """Make `state` the current path (and cache its current frame's registers as `regs`)."""
        self.cur = state
        self.regs = state.frames[state.curframe].regs

    def sync_regs(self) -> None:
        """After a call or return changed the current frame."""
        cur = self.cur
        self.regs = cur.frames[cur.curframe].regs

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    def check_reg_arg(self, regno: int, t: int) -> Reg:
        """check_reg_arg: reading an uninitialised register or writing r10 is an error."""
        if regno >= 11:
            raise Reject(f"R{regno} is invalid", _errno.EINVAL)
        self.scratched_regs |= 1 << regno
        reg = self.regs[regno]
        if t == SRC_OP:
            if reg.type == NOT_INIT:
                raise Reject(f"R{regno} !read_ok")
        else:
            if regno == 10:
                raise Reject("frame pointer is read only")
            if t == DST_OP:
                from pyebpf.verifier.bounds import mark_reg_unknown
                mark_reg_unknown(reg)
        return reg

    def is_pointer_value(self, reg: Reg) -> bool:
        """__is_pointer_value(env->allow_ptr_leaks, reg)."""
        if self.allow_ptr_leaks:
            return False
        return reg.type not in (0, 1)

    # ---- log ----------------------------------------------------------------------------------------------------
    def verbose(self, text: str) -> None:
        if self.log.level:
            self.log.write(text)

    def state_str(self, state: VerifierState, frameno: int, print_all: bool) -> str:
        """print_verifier_state(): registers and stack slots (scratched ones only unless print_all)."""
        f = state.frames[frameno]
        out = []
        if f.frameno:
            out.append(f" frame{f.frameno}:")
        sregs = self.scratched_regs
        for i, reg in enumerate(f.regs):
            if reg.type == NOT_INIT:
                continue
            if not print_all and not sregs >> i & 1:
                continue
            out.append(f" R{i}={reg_state_str(reg, f.frameno)}")
        sstack = self.scratched_stack
        for spi, slot in enumerate(f.stack):
            if not print_all and not sstack >> spi & 1:
                continue
            types = slot.slot_type
            if all(t == STACK_INVALID for t in types):
                continue
            chars = "".join(SLOT_TYPE_CHAR[t] for t in types)
            off = (-spi - 1) * BPF_REG_SIZE
            if types[BPF_REG_SIZE - 1] == STACK_SPILL:
                j = types.index(STACK_SPILL)
                out.append(f" fp{off}={chars[:j]}{reg_state_str(slot.spilled, f.frameno)}")
            else:
                out.append(f" fp{off}={chars}")
        if state.refs:
            out.append(" refs=" + ",".join(str(r[0]) for r in state.refs))
        return "".join(out)

    def print_verifier_state(self, state: VerifierState, frameno: int, print_all: bool) -> None:
        if not self.logging:
            return
        self.log.write(self.state_str(state, frameno, print_all) + "\n")
        if not print_all:
            self.scratched_regs = 0
            self.scratched_stack = 0

    def print_insn_state(self, state: VerifierState, frameno: int) -> None:
        if not self.logging:
            return
        log = self.log
        if self.prev_log_pos and self.prev_log_pos == log.end_pos:
            log.reset(self.prev_log_pos - 1)
            log.write(" " * vlog_alignment(self.prev_insn_print_pos) + ";")
        else:
            log.write(f"{self.insn_idx}:")
        self.print_verifier_state(state, frameno, False)

    def state_scratched(self) -> bool:
        return bool(self.scratched_regs or self.scratched_stack)

    def mark_all_scratched(self) -> None:
        self.scratched_regs = (1 << 11) - 1
        self.scratched_stack = (1 << 64) - 1


def _resolve_map(self: Env, insn):
    """The MapRef an lddw map instruction names: by `ref` (map name), else by fd/index in `maps`."""
    from pyebpf.verifier.regstate import MapRef
    key = insn.ref
    spec = None
    if key is not None:
        spec = self.maps.get(key)
    else:
        key = insn.imm & 0xFFFFFFFF
        spec = self.maps.get(key)
        if spec is None and isinstance(self.maps, dict):
            specs = [v for k, v in self.maps.items()]
            if 0 <= key < len(specs) and not any(isinstance(k, int) for k in self.maps):
                spec = specs[key]
    if spec is None:
        raise Reject(f"fd {insn.imm & 0xFFFFFFFF} is not pointing to valid bpf_map", _errno.EBADF)
    cache = self.__dict__.setdefault("_maprefs", {})
    ref = cache.get(id(spec))
    if ref is None:
        ref = MapRef(getattr(spec, "name", "") or "", spec, len(cache) + 1)
        cache[id(spec)] = ref
    return ref


Env.resolve_map = _resolve_map


def _inner_map_ref(self, outer: MapRef) -> MapRef | None:
    """The inner map a lookup in a map of maps points to once null-checked (map->inner_map_meta): one per outer
    map, nameless as the kernel's meta copy is, so a register's map compares equal across lookups in that map."""
    from pyebpf.verifier.regstate import MapRef
    inner = getattr(outer.spec, "inner_map", None)
    if inner is None:
        return None
    cache = self.__dict__.setdefault("_inner_maprefs", {})
    ref = cache.get(outer.uid)
    if ref is None:
        ref = MapRef("", inner, -outer.uid)
        cache[outer.uid] = ref
    return ref


Env.inner_map_ref = _inner_map_ref
