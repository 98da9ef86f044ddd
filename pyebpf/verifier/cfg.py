"""The verifier's first pass: subprogram boundaries and the control-flow graph checks (kernel check_subprogs,
check_cfg), with the kernel's messages and errno.

`check_cfg(program, privileged)` returns a `CfgInfo` (subprogram starts, prune points, jump points, forced
checkpoints) or raises VerifierError. Everything is in kernel slots; the second half of an lddw is a slot that
holds no instruction of its own (opcode 0 for the DFS, as in the kernel).
"""
from __future__ import annotations

import errno
from bisect import bisect_right
from dataclasses import dataclass, field

from pyebpf.abi.opcodes import (
    BPF_COMPLEXITY_LIMIT_INSNS, BPF_MAXINSNS, CLASS_MASK, MODE_MASK, OP_CALL, OP_CALLX, OP_JA, OP_JA32, OP_LD_IMM64,
    OP_MASK,
    CallSrc, InsnClass, JmpOp, Mode, PseudoSrc,
)
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.kernel_versions import Fact
from pyebpf.errors import VerifierError
from pyebpf.isa.instruction import VALID_OPCODES, Instruction
from pyebpf.isa.program import Program
from pyebpf.abi.btf import BtfKind
from pyebpf.btf import kernel_btf_or_none
from pyebpf.abi.uapi import ENOTSUPP

DISCOVERED, EXPLORED, FALLTHROUGH, BRANCH = 0x10, 0x20, 1, 2
_DONE, _KEEP = 0, 1
_JMP_CLASSES = (InsnClass.JMP, InsnClass.JMP32)


@dataclass
class CfgInfo:
    """What the CFG pass learned, in slots."""

    slot_count: int
    insns: list  # slot -> Instruction, or None for the second half of an lddw
    subprog_starts: list[int] = field(default_factory=lambda: [0])
    prune_points: set[int] = field(default_factory=set)
    jmp_points: set[int] = field(default_factory=set)
    force_checkpoints: set[int] = field(default_factory=set)
    #: helper calls that call a bpf function back (bpf_loop, for_each_map_elem, ...): the callback returns to them
    callback_calls: set[int] = field(default_factory=set)
    #: kfunc calls of an open-coded iterator's _next() (verifier/iters.py): checkpoints that close its loop
    iter_next_calls: set[int] = field(default_factory=set)
    #: the load carries BTF func_info (the kernel's prog->aux->func_info; Program.carries_func_info, as the loader
    #: decides it): without, check_abnormal_return's rules apply and a callback reference is refused
    func_info: bool = True

    def subprog_of(self, slot: int) -> int:
        """Index of the subprogram holding `slot`."""
        return max(bisect_right(self.subprog_starts, slot) - 1, 0)

    def subprog_end(self, idx: int) -> int:
        return self.subprog_starts[idx + 1] if idx + 1 < len(self.subprog_starts) else self.slot_count


def _is_iter_next(btf_id: int) -> bool:
    """Whether the kfunc with vmlinux BTF id `btf_id` is an iterator's _next()."""
    from pyebpf.verifier.btf_ptr import vmlinux
    from pyebpf.verifier.iters import is_iter_next_kfunc
    btf = vmlinux()
    try:
        return btf is not None and btf[btf_id].kind == BtfKind.FUNC and is_iter_next_kfunc(btf.name(btf_id))
    except (IndexError, KeyError):
        return False


def _fail(message: str, insn: int | None = None, err: int = errno.EINVAL) -> VerifierError:
    return VerifierError(message, insn=insn, errno=err, log=message + "\n")


def slot_table(program: Program) -> list:
    table: list = []
    for insn in program.instructions:
        table.append(insn)
        if insn.opcode == OP_LD_IMM64:
            table.append(None)
    return table


def _is_jmp(insn: Instruction | None) -> bool:
    return insn is not None and (insn.opcode & CLASS_MASK) in _JMP_CLASSES


def check_cfg(program: Program, privileged: bool = True, kernel=None) -> CfgInfo:
    """The kernel's passes before do_check, in its order: the size limits of bpf_prog_load (E2BIG),
    add_subprog_and_kfunc (call targets, EPERM for unprivileged calls, too many subprograms), check_subprogs (jumps
    stay inside their subprogram, each ends in exit/ja), resolve_pseudo_ldimm64 (LDX reserved fields, lddw sources,
    unknown opcodes), then check_cfg's DFS (jumps out of range, back-edges unprivileged, unreachable code, jumps into
    an lddw). `privileged` is the kernel's bpf_capable; `kernel` the KernelModel answered for (None: newest)."""
    insns = slot_table(program)
    n = len(insns)
    # bpf_prog_load refuses these before the verifier runs (E2BIG, no log): our messages are our own
    if n == 0:
        raise _fail("empty program", None, errno.E2BIG)
    limit = BPF_COMPLEXITY_LIMIT_INSNS if privileged else BPF_MAXINSNS
    if n > limit:
        raise _fail(f"program of {n} insns is too large (limit {limit})", None, errno.E2BIG)
    info = CfgInfo(n, insns)
    # the kernel's order (bpf_check): add_subprog_and_kfunc, check_subprogs, resolve_pseudo_ldimm64, check_cfg
    _add_subprogs(info, privileged, program.license in GPL_COMPATIBLE)
    _check_subprogs(info)
    # check_btf_info: with func_info its records are checked against the subprograms; without, the subprograms
    # may not leave early (check_abnormal_return)
    info.func_info = program.carries_func_info
    if not info.func_info:
        _check_abnormal_return(info)
    else:
        if kernel is not None and any(i is not None and i.opcode == OP_LD_IMM64 and i.src == PseudoSrc.FUNC
                                      for i in insns) and not kernel.fact(Fact.LDIMM64_FUNC):
            # check_btf_func: an older kernel does not count callback targets as subprograms, so the func_info
            # names more functions than it found
            raise _fail("number of funcs in func_info doesn't match number of subprogs", 0)
        _check_btf_func(info, program)
    _resolve_pseudo_ldimm64(info, kernel)
    _dfs(info, privileged, kernel)
    return info


#: lddw sources resolve_pseudo_ldimm64 lets through to do_check (BTF ids are checked against vmlinux there)
_LDIMM64_MAP_FD = (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX)
_LDIMM64_PASS = (PseudoSrc.IMM, PseudoSrc.FUNC, PseudoSrc.BTF_ID, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE)


#: opcodes our ISA decodes (conformance suites use them) that the kernel's bpf_opcode_in_insntable() refuses
_NOT_IN_KERNEL_INSNTABLE = frozenset({OP_CALLX})
#: kernel BPF_MAX_SUBPROGS
BPF_MAX_SUBPROGS = 256


def _resolve_pseudo_ldimm64(info: CfgInfo, kernel=None) -> None:
    """The per-instruction sanity pass the kernel runs before the DFS: LDX reserved fields, lddw sources, opcodes.

    (A cut or malformed second lddw slot, "invalid bpf_ld_imm64 insn", cannot be spelled in a Program: decode
    refuses it with that message.) Map fds are resolved later, by the engine, against the program's maps."""
    asked: dict = {}  # the release's answer per distinct instruction (programs repeat a few hundred)
    for slot, insn in enumerate(info.insns):
        if insn is None:
            continue
        code = insn.opcode
        refused = None
        if kernel is not None:
            refused = asked.get(insn, asked)
            if refused is asked:
                refused = asked[insn] = kernel.isa_refusal(insn)
        if refused is not None and refused[0] == "cfg":  # an instruction newer than the kernel answered for
            raise _fail(refused[1], slot)
        if (code & CLASS_MASK) == InsnClass.LDX and ((code & MODE_MASK) not in (Mode.MEM, Mode.MEMSX) or insn.imm):
            raise _fail("BPF_LDX uses reserved fields", slot)
        if code == OP_LD_IMM64:
            if insn.src == PseudoSrc.FUNC and kernel is not None and not kernel.fact(Fact.LDIMM64_FUNC):
                raise _fail("unrecognized bpf_ld_imm64 insn", slot)  # a source the release predates
            if insn.src in _LDIMM64_PASS:
                continue
            if insn.src in _LDIMM64_MAP_FD and not (insn.imm >> 32) & 0xFFFFFFFF:
                continue
            raise _fail("unrecognized bpf_ld_imm64 insn", slot)
        if code not in VALID_OPCODES or code in _NOT_IN_KERNEL_INSNTABLE:
            raise _fail(f"unknown opcode {code:02x}", slot)


def _add_subprogs(info: CfgInfo, privileged: bool, gpl: bool = True, kfuncs: bool = True) -> None:
    starts = {0}
    kfunc_seen = False
    for slot, insn in enumerate(info.insns):
        if insn is None or insn.opcode not in _CALL_OR_LDDW:
            continue
        pseudo_call = insn.opcode == (InsnClass.JMP | JmpOp.CALL) and insn.src == CallSrc.PSEUDO_CALL
        pseudo_func = insn.opcode == OP_LD_IMM64 and insn.src == 4  # BPF_PSEUDO_FUNC
        if not (pseudo_call or pseudo_func or (insn.opcode == (InsnClass.JMP | JmpOp.CALL)
                                               and insn.src == CallSrc.KFUNC)):
            continue
        if not privileged:
            raise _fail("loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
                        slot, errno.EPERM)
        if insn.src == CallSrc.KFUNC and not pseudo_func:
            if kfuncs:
                if not kfunc_seen:
                    _check_kfunc_allowed(slot, gpl)
                    kfunc_seen = True
                _add_kfunc_call(insn, slot)
            continue
        target = slot + 1 + _imm32(insn)
        if target < 0 or target >= info.slot_count:
            raise _fail("call to invalid destination", slot)
        if target not in starts and len(starts) >= BPF_MAX_SUBPROGS:
            raise _fail("too many subprograms", slot, errno.E2BIG)
        starts.add(target)
    info.subprog_starts = sorted(starts)


def subprog_starts(program: Program) -> list[int]:
    """The subprogram entries add_subprog_and_kfunc finds (call and function-reference targets, signed low 32 bits
    of an lddw), for callers that need them when a later CFG stage refused the program (the level-2 log prints
    `func#N @slot` first). Raises VerifierError where add_subprog_and_kfunc itself refuses."""
    info = CfgInfo(0, slot_table(program))
    info.slot_count = len(info.insns)
    _add_subprogs(info, True, kfuncs=False)
    return info.subprog_starts


GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL")


def _check_kfunc_allowed(slot: int, gpl: bool) -> None:
    """add_kfunc_call()'s checks on the program's first kfunc call (JIT support is a given on x86-64)."""
    if kernel_btf_or_none() is None:
        raise _fail("calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF", slot, ENOTSUPP)
    if not gpl:
        raise _fail("cannot call kernel function from non-GPL compatible program", slot)


def _add_kfunc_call(insn: Instruction, slot: int) -> None:
    """add_kfunc_call(): the BTF id must name a FUNC with a FUNC_PROTO in vmlinux BTF (offset 0) or in a module's
    BTF from fd_array (offset > 0; verify() models loads without fd_array). imm 0 with offset 0 passes here and
    fails after do_check if the call is reachable."""
    func_id, off = insn.imm & 0xFFFFFFFF, insn.off
    if not func_id and not off:
        return
    if off:
        first = ("negative offset disallowed for kernel module function call" if off < 0
                 else "kfunc offset > 0 without fd_array is invalid")
        err = errno.EINVAL if off < 0 else errno.EPROTO
        last = "failed to find BTF for kernel function"
        raise VerifierError(last, insn=slot, errno=err, log=f"{first}\n{last}\n")
    btf = kernel_btf_or_none()
    if btf.kind(func_id) != BtfKind.FUNC:
        raise _fail(f"kernel btf_id {func_id} is not a function", slot)
    if btf.kind(btf[func_id].size_type) != BtfKind.FUNC_PROTO:
        raise _fail(f"kernel function btf_id {func_id} does not have a valid func_proto", slot)


def _imm32(insn: Instruction) -> int:
    """The kernel's insn->imm: for an lddw, the signed low half (a function reference's offset)."""
    if insn.opcode == OP_LD_IMM64:
        lo = insn.imm & 0xFFFFFFFF
        return lo - (1 << 32) if lo & 0x80000000 else lo
    return insn.imm


_CALLBACK_CALLING = frozenset(int(h) for h in (HelperId.LOOP, HelperId.FOR_EACH_MAP_ELEM, HelperId.FIND_VMA,
                                               HelperId.USER_RINGBUF_DRAIN))
"""is_sync_callback_calling_function(): helpers whose callback returns to the call instruction."""
_ASYNC_CALLBACK_CALLING = frozenset({int(HelperId.TIMER_SET_CALLBACK)})
"""is_async_callback_calling_function(): the callback runs later, on its own: the call is only a prune point."""
_CALL_OR_LDDW = frozenset({int(InsnClass.JMP | JmpOp.CALL), int(OP_LD_IMM64)})
_JMP_CLASS_INTS = frozenset(int(c) for c in _JMP_CLASSES)
_NO_TARGET_OPS = frozenset({int(JmpOp.EXIT), int(JmpOp.CALL)})
_LAST_OK = frozenset({int(InsnClass.JMP | JmpOp.EXIT), int(OP_JA32), int(OP_JA)})


def _check_subprogs(info: CfgInfo) -> None:
    insns = info.insns
    for idx, start in enumerate(info.subprog_starts):
        end = info.subprog_end(idx)
        for i in range(start, end):
            insn = insns[i]
            if insn is None:
                continue
            code = insn.opcode
            if code & CLASS_MASK in _JMP_CLASS_INTS and code & OP_MASK not in _NO_TARGET_OPS:
                target = i + 1 + (insn.imm if code == OP_JA32 else insn.off)
                if target < start or target >= end:
                    raise _fail(f"jump out of range from insn {i} to {target}", i)
        last = insns[end - 1]
        if last is None or last.opcode not in _LAST_OK:
            raise _fail("last insn is not an exit or jmp", end - 1)


def _btf_returns_scalar(btf, func_type_id: int) -> bool | None:
    """btf_type_is_small_int || btf_is_any_enum of a FUNC's return type; None when the BTF cannot tell."""
    try:
        proto = btf[btf[func_type_id].size_type]
        ret = btf.skip_modifiers(proto.size_type)
        if ret == 0:
            return False  # void
        t = btf[ret]
    except Exception:  # noqa: BLE001 - malformed BTF is the loader's to refuse; no verdict from it here
        return None
    if t.kind == BtfKind.INT:
        return t.size_type <= 8
    return t.kind in (BtfKind.ENUM, BtfKind.ENUM64)


def _abnormal_exits(info: CfgInfo, idx: int) -> tuple[bool, bool]:
    """(has_ld_abs, has_tail_call) of subprogram `idx`, as check_subprogs records them: any LD_ABS/LD_IND and any
    bpf_tail_call in its range, reachable or not."""
    ld_abs = tail_call = False
    for i in range(info.subprog_starts[idx], info.subprog_end(idx)):
        insn = info.insns[i]
        if insn is None:
            continue
        code = insn.opcode
        ld_abs |= code & CLASS_MASK == InsnClass.LD and code & MODE_MASK in (Mode.ABS, Mode.IND)
        tail_call |= code == OP_CALL and insn.src == 0 and insn.imm == HelperId.TAIL_CALL
    return ld_abs, tail_call


def _check_abnormal_return(info: CfgInfo) -> None:
    """check_abnormal_return: loaded without func_info, no subprogram (but the main one) may contain LD_ABS/LD_IND
    or a tail call, which leave the program early; the first subprogram that does decides the message."""
    for idx in range(1, len(info.subprog_starts)):
        ld_abs, tail_call = _abnormal_exits(info, idx)
        if ld_abs:
            raise _fail("LD_ABS is not allowed in subprogs without BTF", None)
        if tail_call:
            raise _fail("tail_call is not allowed in subprogs without BTF", None)


def _check_btf_func(info: CfgInfo, program: Program) -> None:
    """check_btf_func: with func_info, a subprogram (not the main one) that uses LD_ABS/LD_IND or a tail call
    must return a scalar, since both may leave it early with R0 = 0."""
    btf, func_info = getattr(program, "btf", None), getattr(program, "func_info", None)
    if not func_info or btf is None or not hasattr(btf, "skip_modifiers"):
        return
    type_of = dict(func_info)
    for idx, start in enumerate(info.subprog_starts[1:], 1):
        ld_abs, tail_call = _abnormal_exits(info, idx)
        if not (ld_abs or tail_call) or start not in type_of:
            continue
        if _btf_returns_scalar(btf, type_of[start]) is False:
            what = "LD_ABS" if ld_abs else "tail_call"
            raise _fail(f"{what} is only allowed in functions that return 'int'.", None)


def _dfs(info: CfgInfo, privileged: bool, kernel=None) -> None:
    insns = info.insns
    n = info.slot_count
    state = [0] * n
    stack = [0]
    state[0] = DISCOVERED

    def push(t: int, w: int, e: int, call: bool = False) -> int:
        if e == FALLTHROUGH and state[t] >= (DISCOVERED | FALLTHROUGH):
            return _DONE
        if e == BRANCH and state[t] >= (DISCOVERED | BRANCH):
            return _DONE
        if w < 0 or w >= n:
            raise _fail(f"jump out of range from insn {t} to {w}", t)
        if e == BRANCH:
            info.prune_points.add(w)
            info.jmp_points.add(w)
        if state[w] == 0:
            state[t] = DISCOVERED | e
            state[w] = DISCOVERED
            stack.append(w)
            return _KEEP
        if state[w] & 0xF0 == DISCOVERED:
            if privileged and not (call and kernel is not None and kernel.fact(Fact.CALL_BACK_EDGE)):
                return _DONE  # older kernels refuse recursion here, as a back-edge through the call
            raise _fail(f"back-edge from insn {t} to {w}", t)
        state[t] = DISCOVERED | e
        return _DONE

    def visit(t: int) -> int:
        insn = insns[t]
        if insn is not None and insn.opcode == OP_LD_IMM64 and insn.src == 4:
            return _visit_call(t, 2, True)
        if not _is_jmp(insn):
            return push(t, t + (2 if insn is not None and insn.opcode == OP_LD_IMM64 else 1), FALLTHROUGH)
        op = insn.opcode & OP_MASK
        if op == JmpOp.EXIT:
            return _DONE
        if op == JmpOp.CALL:
            if insn.src == CallSrc.HELPER and insn.imm in _CALLBACK_CALLING and (
                    kernel is None or kernel.fact(Fact.CALLBACKS_ITERATED)):
                # the kernel forces a checkpoint here so that a callback's return can find an equal state
                info.callback_calls.add(t)
                info.force_checkpoints.add(t)
                info.prune_points.add(t)
                info.jmp_points.add(t)
            elif insn.src == CallSrc.HELPER and insn.imm in _ASYNC_CALLBACK_CALLING:
                info.prune_points.add(t)
            elif insn.src == CallSrc.KFUNC and _is_iter_next(insn.imm):
                # "checking and saving state checkpoints at iter_next() call is crucial for fast convergence"
                info.iter_next_calls.add(t)
                info.force_checkpoints.add(t)
                info.prune_points.add(t)
            return _visit_call(t, 1, insn.src == CallSrc.PSEUDO_CALL)
        if op == JmpOp.JA:
            off = insn.off if insn.opcode == OP_JA else insn.imm
            ret = push(t, t + off + 1, FALLTHROUGH)
            info.prune_points.add(t + off + 1)
            info.jmp_points.add(t + off + 1)
            return ret
        info.prune_points.add(t)
        if op == JmpOp.JCOND:
            info.force_checkpoints.add(t)
        ret = push(t, t + 1, FALLTHROUGH)
        if ret:
            return ret
        return push(t, t + insn.off + 1, BRANCH)

    def _visit_call(t: int, size: int, visit_callee: bool) -> int:
        ret = push(t, t + size, FALLTHROUGH)
        if ret:
            return ret
        info.prune_points.add(t + size)
        info.jmp_points.add(t + size)
        if visit_callee:
            info.prune_points.add(t)
            return push(t, t + _imm32(insns[t]) + 1, BRANCH, True)
        return ret

    while stack:
        t = stack[-1]
        if visit(t) == _DONE:
            state[t] = EXPLORED
            stack.pop()
    # every subprogram entry must be reachable through calls from the main program
    i = 0
    while i < n:
        if state[i] != EXPLORED:
            raise _fail(f"unreachable insn {i}", i)
        insn = insns[i]
        if insn is not None and insn.opcode == OP_LD_IMM64:
            if i + 1 < n and state[i + 1] != 0:
                raise _fail(f"jump into the middle of ldimm64 insn {i}", i)
            i += 2
            continue
        i += 1


__all__ = ["CfgInfo", "check_cfg", "slot_table", "subprog_starts"]
