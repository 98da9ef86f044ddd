"""`verify()`: run the CFG pass and do_check on a Program and report like the kernel (verdict, statistics, log)."""
from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field

from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.opcodes import BPF_COMPLEXITY_LIMIT_INSNS, OP_LD_IMM64, CallSrc, InsnClass, JmpOp, PseudoSrc
from pyebpf.abi.prog_kinds import unprivileged_may_load
from pyebpf.abi.context import BTF_CTX_ATTACH_TYPES, ITER_CTX_ARGS
from pyebpf.abi.prog_type_spec import BTF_CONTEXT_PROG_TYPES, MODELLED_PROG_TYPES, models
from pyebpf.abi.prog_types import (NO_ATTACH_TYPE, PROG_TYPE_SINCE, VALID_ATTACH_TYPES, AttachType, ProgType,
                                   attach_type_valid, parse_prog_type)
from pyebpf.abi.maps import MapType
from pyebpf.abi.uapi import ENOTSUPP, ProgLoadFlags
from pyebpf.errors import VerifierError
from pyebpf.isa.program import Program
from pyebpf.abi.btf import BtfKind
from pyebpf.btf import kernel_btf_or_none
from pyebpf.verifier.btf_ptr import check_attach_btf_id
from pyebpf.verifier.btf_record import btf_record
from pyebpf.verifier.cfg import check_cfg, subprog_starts
from pyebpf.verifier.engine import Checker, check_max_stack_depth, gc_paused
from pyebpf.verifier.env import BPF_MAX_VAR_OFF, Env, Reject
from pyebpf.verifier.global_func import check_global_funcs
from pyebpf.verifier.kernel_model import KernelModel, kernel_model
from pyebpf.verifier.log import LOG_LEVEL2, LOG_STATS, insn_str
from pyebpf.verifier.precision import compute_scc
from pyebpf.verifier.prune import cfg_successors, compute_live_registers

SUPPORTED_PROG_TYPES = MODELLED_PROG_TYPES | BTF_CONTEXT_PROG_TYPES
"""The program types verify() accepts: those abi models completely (abi/prog_type_spec.py), and TRACING and LSM,
whose context comes from the attach target's BTF prototype (abi.context.BTF_CTX_ATTACH_TYPES: tp_btf, fentry, fexit,
fmod_ret, iterators; LSM_MAC)."""


def supports(prog_type, attach_type=None, attach_to: str | None = None) -> bool:
    """Whether verify() models programs of `prog_type` (for TRACING and LSM: of `attach_type`; for an iterator
    named by `attach_to` ('task', 'bpf_map', ...): of that target)."""
    if not models(prog_type, attach_type):
        return False
    if attach_type == AttachType.TRACE_ITER and attach_to is not None:
        return attach_to in ITER_CTX_ARGS
    return True


@dataclass
class VerifierResult:
    """Outcome of one verification: verdict, the kernel's statistics and the log text."""

    accepted: bool
    processed: int
    peak_states: int
    total_states: int
    max_states_per_insn: int
    log: str = ""
    error: VerifierError | None = None
    stack_depth: list[int] = field(default_factory=list)
    verification_time_usec: int = 0
    #: the kernel release answered for, and the version-dependent facts this run asked (kernel_model.py)
    kernel: KernelModel | None = None

    def __bool__(self) -> bool:
        return self.accepted

    def explain(self, language: str | None = None):
        """Why it was rejected, in five parts (verifier/explain.py); None when accepted or the program is unknown."""
        inputs = getattr(self, "_inputs", None)
        if self.accepted or inputs is None:
            return None
        from pyebpf.verifier.explain import explain

        program, prog_type, privileged, maps, attach_type = inputs
        return explain(program, prog_type, privileged, language, maps=maps, attach_type=attach_type)

    @property
    def stats_line(self) -> str:
        return (f"processed {self.processed} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn "
                f"{self.max_states_per_insn} total_states {self.total_states} peak_states {self.peak_states} "
                f"mark_read 0")


def _prog_type(value, program: Program) -> ProgType:
    if value is None:
        value = program.prog_type
    if value is None:
        return ProgType.SOCKET_FILTER
    if isinstance(value, str):
        return parse_prog_type(value)
    return ProgType(value)


def verify(program: Program, prog_type=None, maps=None, privileged: bool = True, log_level: int = 0,
           raise_on_reject: bool = True, attach_type=None, prog_flags: int | None = None,
           kernel=None) -> VerifierResult:
    """Verify `program` as the kernel would load it; raises VerifierError on rejection unless told not to.

    `prog_flags` are BPF_PROG_LOAD's (ProgLoadFlags; default the program's own): BPF_F_STRICT_ALIGNMENT makes
    every access's alignment checked as on an architecture without efficient unaligned access.
    `kernel` is the release to answer for ('6.1', (6, 1), a KernelModel; default: the running kernel's, or the
    newest modelled one off Linux): its instruction set, helpers, rules, limits and messages."""
    with gc_paused():  # the run's states are freed by reference counting before the collector is back on
        return _verify(program, prog_type, maps, privileged, log_level, raise_on_reject, attach_type, prog_flags,
                       kernel)


def _verify(program: Program, prog_type, maps, privileged: bool, log_level: int, raise_on_reject: bool,
            attach_type, prog_flags: int | None, kernel) -> VerifierResult:
    model = kernel_model(kernel)
    pt = _prog_type(prog_type, program)
    if pt not in SUPPORTED_PROG_TYPES:
        raise VerifierError(f"program type {pt.name} is not supported by the verifier "
                            f"(supported: {', '.join(sorted(p.name.lower() for p in SUPPORTED_PROG_TYPES))})",
                            errno=errno.EINVAL)
    since = PROG_TYPE_SINCE.get(pt)
    if since is not None and model.release < since:
        error = VerifierError(f"program type {pt.name.lower()} arrived in Linux {since[0]}.{since[1]}, after "
                              f"{model.release}", errno=errno.EINVAL)
        if raise_on_reject:
            raise error
        return VerifierResult(False, 0, 0, 0, 0, "", error, kernel=model)
    if not privileged and not unprivileged_may_load(pt):
        # bpf_prog_load(): without CAP_BPF only socket filters and cgroup skb programs may be loaded at all
        error = VerifierError(f"loading a {pt.name.lower()} program needs CAP_BPF (unprivileged loads allow "
                              f"socket_filter and cgroup_skb only)", errno=errno.EPERM)
        if raise_on_reject:
            raise error
        return VerifierResult(False, 0, 0, 0, 0, "", error)
    if maps is None:
        maps = program.maps
    if attach_type is None:
        attach_type = program.expected_attach_type
    try:
        check_map_types(maps, model)
        check_kfuncs(program, model)
    except VerifierError as e:  # no program load happens: no verifier log
        result = VerifierResult(False, 0, 0, 0, 0, "", e, kernel=model)
        result._inputs = (program, pt, privileged, maps, attach_type)  # type: ignore[attr-defined]
        if raise_on_reject:
            raise
        return result
    if not attach_type_valid(pt, attach_type):
        # bpf_prog_load_check_attach(): refused before the verifier runs, with an empty log
        allowed = "0" if pt in NO_ATTACH_TYPE else ", ".join(sorted(a.name.lower() for a in VALID_ATTACH_TYPES[pt]))
        error = VerifierError(f"a {pt.name.lower()} program needs an expected_attach_type of {allowed}",
                              errno=errno.EINVAL)
        if raise_on_reject:
            raise error
        return VerifierResult(False, 0, 0, 0, 0, "", error, kernel=model)
    if pt in BTF_CTX_ATTACH_TYPES and attach_type not in BTF_CTX_ATTACH_TYPES[pt]:
        names = ", ".join(sorted(a.name.lower() for a in BTF_CTX_ATTACH_TYPES[pt]))
        raise VerifierError(f"{pt.name.lower()} programs of attach type {getattr(attach_type, 'name', attach_type)} "
                            f"are not supported by the verifier (supported: {names})", errno=errno.EINVAL)
    start = time.perf_counter()
    log_text = ""
    env = None
    try:
        cfg = check_cfg(program, privileged, model)
    except VerifierError as e:
        older = model.reword(e.message, e.errno)  # a cfg-stage refusal the release words differently
        if older != e.message:
            e = VerifierError(older, e.insn, e.errno, e.log.replace(e.message, older))
        lines = e.log if e.log.endswith(e.message + "\n") else e.message + "\n"
        if log_level & LOG_LEVEL2 and not e.message.startswith(_BEFORE_SUBPROG_LIST):
            lines = "".join(f"func#{i} @{s}\n" for i, s in enumerate(subprog_starts(program))) + lines
        stats = (f"processed 0 insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn 0 total_states 0 "
                 f"peak_states 0 mark_read 0\n")
        e.log = (lines + stats) if log_level else ""
        result = VerifierResult(False, 0, 0, 0, 0, e.log, e, kernel=model)
        result._inputs = (program, pt, privileged, maps, attach_type)  # type: ignore[attr-defined]
        if raise_on_reject:
            raise
        return result
    env = Env(program, cfg, pt, maps, privileged, log_level, attach_type)
    flags = ProgLoadFlags(program.prog_flags if prog_flags is None else prog_flags)
    # bpf_check(): x86 has efficient unaligned access, so only the flag asks for strictness; ANY_ALIGNMENT wins
    env.strict_alignment = bool(flags & ProgLoadFlags.STRICT_ALIGNMENT) and not flags & ProgLoadFlags.ANY_ALIGNMENT
    env.kernel = model
    env.sleepable = bool(flags & ProgLoadFlags.SLEEPABLE)
    if env.allow_uninit_stack and not model.fact(Fact.UNINIT_STACK_READ):
        env.allow_uninit_stack = False
    env.isa_refused = _isa_refused(model, cfg.insns)
    if log_level & LOG_LEVEL2:
        for i, start_slot in enumerate(cfg.subprog_starts):
            env.verbose(f"func#{i} @{start_slot}\n")
        _print_live_regs(env, cfg)
    checker = Checker(env)
    error: VerifierError | None = None
    try:
        # check_attach_btf_id(): sleepable rules; TRACING/LSM: the context is the target's BTF prototype
        env.attach_target = check_attach_btf_id(env, program.attach_btf_id, program.attach_to)
        resolve_pseudo_ldimm64(env)
        try:
            checker.run()
            check_global_funcs(env, checker.run)
        finally:
            checker.release()
        check_max_stack_depth(env)
        if env.kfunc_call_not_eliminated:
            # do_misc_fixups -> fixup_kfunc_call: a reachable kfunc call with BTF id 0 survived dead-code removal
            raise Reject("invalid kernel function call not eliminated in verifier pass", errno.EINVAL)
    except Reject as r:
        r.message = model.reword(r.message, r.errno)
        if r.message:
            env.verbose(r.message + ("\n" if r.newline else ""))
        error = VerifierError(r.message, insn=env.insn_idx, errno=r.errno)
    if error is None and env.logging and not log_level & LOG_LEVEL2:
        env.log.reset(0)  # do_check_common: a level-1 log keeps only the failing path, so nothing on success
    elapsed_us = int((time.perf_counter() - start) * 1e6)
    if log_level & LOG_STATS:
        env.verbose(f"verification time {elapsed_us} usec\n")
        env.verbose("stack depth " + "+".join(str(d) for d in env.subprog_stack_depth) + "\n")
    result = VerifierResult(error is None, env.insn_processed, env.peak_states, env.total_states,
                            env.max_states_per_insn, "", error, list(env.subprog_stack_depth), elapsed_us,
                            model)
    if log_level:
        env.verbose(result.stats_line + "\n")
        log_text = env.log.text()
    result.log = log_text
    result._inputs = (program, pt, privileged, maps, attach_type)  # type: ignore[attr-defined]
    if error is not None:
        error.log = log_text
        if raise_on_reject:
            raise error
    return result


def _isa_refused(model, insns) -> dict[int, str]:
    """{slot: message} of the instructions `model`'s release does not decode, asked once per distinct
    instruction (programs repeat the same few hundred; the per-instruction question was ~10% of a verify())."""
    answers: dict = {}
    out = {}
    for slot, insn in enumerate(insns):
        if insn is None:
            continue
        key = (insn.opcode, insn.dst, insn.src, insn.off, insn.imm)
        r = answers.get(key, answers)
        if r is answers:
            r = answers[key] = model.isa_refusal(insn)
        if r is not None:
            out[slot] = r[1]
    return out


def verify_kernels(program: Program, kernels, prog_type=None, maps=None, privileged: bool = True,
                   log_level: int = 0, attach_type=None) -> dict[str, VerifierResult]:
    """`program` verified for each release in `kernels` ('5.10', '6.1' ...): {release: VerifierResult}, never
    raising on a rejection. Releases that answer every version-dependent question of an earlier run the same way
    share that run's result (kernel_model.py), so the whole list usually costs one or two verifications."""
    models = [kernel_model(k) for k in kernels]
    done: list[VerifierResult] = []
    out: dict[str, VerifierResult] = {}
    for model in sorted(models, key=lambda m: m.release, reverse=True):
        for res in done:
            if res.kernel is not None and res.kernel.same_answers(model):
                break
        else:
            res = verify(program, prog_type, maps, privileged, log_level, raise_on_reject=False,
                         attach_type=attach_type, kernel=model)
            done.append(res)
        out[str(model.release)] = res
    return {str(m.release): out[str(m.release)] for m in models}


#: CFG-stage errors raised inside add_subprog_and_kfunc, before it prints the `func#N @slot` lines
_BEFORE_SUBPROG_LIST = ("call to invalid", "loading/calling", "unknown opc", "empty program", "program of ",
                        "too many subprograms", "kernel btf_id", "kernel function btf_id", "failed to find BTF",
                        "cannot call kernel function", "calling kernel function is not supported")


def resolve_pseudo_ldimm64(env: Env) -> None:
    """The kernel's pass over lddw map references before do_check: every map must exist."""
    for slot, insn in enumerate(env.insns):
        if insn is None or insn.opcode != OP_LD_IMM64:
            continue
        env.insn_idx = slot
        if insn.src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE) and insn.ref is None:
            raise Reject("fd_idx without fd_array is invalid", errno.EPROTO)
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE):
            try:
                env.resolve_map(insn)
            except Reject:
                fd = insn.imm & 0xFFFFFFFF
                fd = fd - (1 << 32) if fd >> 31 else fd
                raise Reject(f"fd {fd} is not pointing to valid bpf_map", errno.EBADF) from None
            spec = env.resolve_map(insn).spec
            check_map_prog_compatibility(env, spec)
            if insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
                check_direct_value_addr(spec, (insn.imm >> 32) & 0xFFFFFFFF)


def check_map_types(maps, model: KernelModel) -> None:
    """The maps are created before the program is loaded: a map type the release predates fails BPF_MAP_CREATE
    (EINVAL), and the verifier never runs. Inner maps of map-in-map specs are created too."""
    pending = list((maps or {}).items())
    while pending:
        name, m = pending.pop(0)
        spec = getattr(m, "spec", m)
        mtype = getattr(spec, "type", None)
        if mtype is None:
            continue
        refusal = model.map_type_refusal(str(getattr(spec, "name", "") or name), MapType(mtype))
        if refusal is not None:
            raise VerifierError(refusal, errno=errno.EINVAL)
        inner = getattr(spec, "inner_map", None)
        if inner is not None:
            pending.append((getattr(inner, "name", "") or f"{name}.inner", inner))


_CALL_OPCODE, _KFUNC_SRC = int(InsnClass.JMP | JmpOp.CALL), int(CallSrc.KFUNC)


def check_kfuncs(program: Program, model: KernelModel) -> None:
    """A kfunc the release's BTF does not have cannot be resolved, so the program is never loaded (libbpf: extern
    not found, ESRCH). Calls whose BTF id names no vmlinux FUNC are left to add_kfunc_call's checks."""
    btf = None
    for insn in program.instructions:
        # (insn.is_kfunc_call, with plain ints: an enum expression per instruction was ~2% of a verify())
        if insn.opcode != _CALL_OPCODE or insn.src != _KFUNC_SRC or insn.off or not insn.imm:
            continue
        if btf is None:
            btf = kernel_btf_or_none()
            if btf is None:
                return
        func_id = insn.imm & 0xFFFFFFFF
        if btf.kind(func_id) != BtfKind.FUNC:
            continue
        refusal = model.kfunc_refusal(btf.name(func_id))
        if refusal is not None:
            raise VerifierError(refusal, errno=errno.ESRCH)


def check_direct_value_addr(spec, off: int) -> None:
    """resolve_pseudo_ldimm64's checks of `r = map_value[off] ll`: a bounded offset into the one value of an
    array (array_map_direct_value_addr; the arena has its own addresses)."""
    if off >= BPF_MAX_VAR_OFF:
        raise Reject(f"direct value offset of {off} is not allowed", errno.EINVAL)
    if spec.type not in (MapType.ARRAY, MapType.ARENA):
        raise Reject("no direct value access support for this map type", errno.EINVAL)
    if spec.type == MapType.ARRAY and (spec.max_entries != 1 or off >= spec.value_size):
        raise Reject(f"invalid access to map value pointer, value_size={spec.value_size} off={off}",
                     ENOTSUPP if spec.max_entries != 1 else errno.EINVAL)


#: is_tracing_prog_type(): programs that may run in any context, where a held lock could deadlock
_TRACING_TYPES = frozenset({ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT, ProgType.RAW_TRACEPOINT,
                            ProgType.RAW_TRACEPOINT_WRITABLE})


def check_map_prog_compatibility(env: Env, spec) -> None:
    """check_map_prog_compatibility(): which program types may use a map whose value holds special fields."""
    kinds = {f.name for f in btf_record(spec)}
    if kinds & {"bpf_list_head", "bpf_rb_root"} and env.prog_type in _TRACING_TYPES:
        raise Reject("tracing progs cannot use bpf_{list_head,rb_root} yet", errno.EINVAL)
    if "bpf_spin_lock" in kinds:
        if env.prog_type == ProgType.SOCKET_FILTER:
            raise Reject("socket filter progs cannot use bpf_spin_lock yet", errno.EINVAL)
        if env.prog_type in _TRACING_TYPES:
            raise Reject("tracing progs cannot use bpf_spin_lock yet", errno.EINVAL)
    for kind, name in (("bpf_timer", "bpf_timer"), ("bpf_wq", "bpf_wq")):
        if kind in kinds and env.prog_type in _TRACING_TYPES:
            raise Reject(f"tracing progs cannot use {name} yet", errno.EINVAL)


def _print_live_regs(env: Env, cfg) -> None:
    """The 6.18 level-2 preamble: each instruction's loop (SCC id, when in one) and live registers."""
    live = compute_live_registers(cfg)
    scc = compute_scc(cfg, cfg_successors(cfg))
    env.verbose("Live regs before insn:\n")
    for slot, insn in enumerate(cfg.insns):
        if insn is None:
            continue
        regs = "".join(str(r) if live[slot] >> r & 1 else "." for r in range(10))
        loop = f"{scc[slot]:3d} " if scc[slot] else "    "
        env.verbose(f"{loop}{slot:3d}: {regs} {insn_str(insn)}\n")


__all__ = ["verify", "verify_kernels", "VerifierResult", "SUPPORTED_PROG_TYPES", "supports"]
