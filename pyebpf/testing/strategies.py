"""hypothesis strategies for eBPF instructions and programs.

`instructions()` draws any well-formed instruction of the ISA, one strategy per form (ALU/ALU64 K and X with
sdiv/smod and movsx, byte swaps, every jump and call form, exit, gotol, may_goto, lddw with each pseudo source,
LD_ABS/IND, loads, sign-extending loads, stores, store-immediate, every atomic). Flags narrow it: `kernel=True`
keeps only forms Linux accepts structurally (no callx, no addr_space_cast); `cpu_v4=False` drops cpu v4 forms; and so
on. Every drawn instruction passes `Instruction.validate()`.

`programs()` draws whole programs whose branches and bpf-to-bpf calls land on instruction starts (or the end).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from hypothesis import strategies as st

from pyebpf.abi.opcodes import (
    BPF_ADDR_SPACE_CAST, MOVSX_WIDTHS_ALU, MOVSX_WIDTHS_ALU64, OP_CALL, OP_CALLX, OP_EXIT, OP_JA, OP_JA32,
    OP_LD_IMM64, OP_MAY_GOTO, SIGNED_DIVMOD_OFF, AluOp, AtomicOp, CallSrc, COND_JMP_OPS, EndSource, InsnClass,
    Mode, PseudoSrc, Size, Source,
)
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program

S = st.SearchStrategy

_REGS = st.integers(0, 10)
_INT16S = st.integers(-(1 << 15), (1 << 15) - 1)
_INT32S = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.sampled_from([0, 1, -1, (1 << 31) - 1, -(1 << 31)]))
_INT64S = st.one_of(st.integers(-(1 << 63), (1 << 63) - 1), _INT32S)


# Every public strategy is a function returning a strategy (`regs()`, like `instructions()` and `programs()`), so
# no caller has to remember which names are objects and which are factories.
def regs() -> S:
    """A register number r0..r10."""
    return _REGS


def int16s() -> S:
    """A signed 16-bit value (an instruction's offset field)."""
    return _INT16S


def int32s() -> S:
    """A signed 32-bit value, the edges drawn often (an instruction's imm field)."""
    return _INT32S


def int64s() -> S:
    """A signed 64-bit value (an lddw's immediate)."""
    return _INT64S


ALU_BINARY_OPS = [op for op in AluOp if op not in (AluOp.NEG, AluOp.END, AluOp.MOV)]
RMW_ATOMICS = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR,
               AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR, AtomicOp.XCHG, AtomicOp.CMPXCHG]


def _insn(opcode: int, dst: S = st.just(0), src: S = st.just(0), off: S = st.just(0),
          imm: S = st.just(0)) -> "tuple[int, S]":
    return opcode, st.builds(Instruction, st.just(opcode), dst, src, off, imm, st.none())


Forms = "tuple[tuple[int, S], ...]"  # (opcode, strategy drawing instructions with that opcode)


def _one_of(forms: Forms) -> S:
    return st.one_of([strategy for _, strategy in forms])


@lru_cache(maxsize=None)
def _alu_forms(cpu_v4: bool = True, classes: tuple[int, ...] = (InsnClass.ALU, InsnClass.ALU64),
               addr_space_cast: bool = False) -> Forms:
    forms: list = []
    for cls in classes:
        for op in ALU_BINARY_OPS:
            offs = st.sampled_from([0, SIGNED_DIVMOD_OFF]) if cpu_v4 and op in (AluOp.DIV, AluOp.MOD) else st.just(0)
            forms.append(_insn(cls | op | Source.K, _REGS, st.just(0), offs, _INT32S))
            forms.append(_insn(cls | op | Source.X, _REGS, _REGS, offs))
        forms.append(_insn(cls | AluOp.NEG, _REGS))
        forms.append(_insn(cls | AluOp.MOV | Source.K, _REGS, imm=_INT32S))
        widths = (MOVSX_WIDTHS_ALU64 if cls == InsnClass.ALU64 else MOVSX_WIDTHS_ALU) if cpu_v4 else ()
        forms.append(_insn(cls | AluOp.MOV | Source.X, _REGS, _REGS, st.sampled_from((0, *widths))))
        if cls == InsnClass.ALU:
            for end in EndSource:
                forms.append(_insn(cls | AluOp.END | end, _REGS, imm=st.sampled_from([16, 32, 64])))
        elif cpu_v4:
            forms.append(_insn(cls | AluOp.END | EndSource.TO_LE, _REGS, imm=st.sampled_from([16, 32, 64])))
        if cls == InsnClass.ALU64 and addr_space_cast:
            forms.append(_insn(cls | AluOp.MOV | Source.X, _REGS, _REGS, st.just(BPF_ADDR_SPACE_CAST),
                               st.sampled_from([1, 1 << 16])))
    return tuple(forms)


@lru_cache(maxsize=None)
def alu_instructions(cpu_v4: bool = True, classes: tuple[int, ...] = (InsnClass.ALU, InsnClass.ALU64),
                     addr_space_cast: bool = False) -> S:
    """Every ALU/ALU64 form: binary ops (K and X), neg, mov, movsx, sdiv/smod, le/be and bswap."""
    return _one_of(_alu_forms(cpu_v4, classes, addr_space_cast))


@lru_cache(maxsize=None)
def _jump_forms(cpu_v4: bool = True, jmp32: bool = True, calls: bool = True, callx: bool = False,
                may_goto: bool = True, offsets: S = _INT16S, long_offsets: S = _INT32S) -> Forms:
    forms: list = []
    for cls in (InsnClass.JMP, InsnClass.JMP32) if jmp32 else (InsnClass.JMP,):
        for op in COND_JMP_OPS:
            forms.append(_insn(cls | op | Source.K, _REGS, st.just(0), offsets, _INT32S))
            forms.append(_insn(cls | op | Source.X, _REGS, _REGS, offsets))
    forms.append(_insn(OP_JA, off=offsets))
    forms.append(_insn(OP_EXIT))
    if cpu_v4:
        forms.append(_insn(OP_JA32, imm=long_offsets))
    if may_goto:
        forms.append(_insn(OP_MAY_GOTO, off=offsets))
    if calls:
        forms.append(_insn(OP_CALL, src=st.just(CallSrc.HELPER), imm=st.integers(0, 211)))
        forms.append(_insn(OP_CALL, src=st.just(CallSrc.PSEUDO_CALL), imm=long_offsets))
        forms.append(_insn(OP_CALL, src=st.just(CallSrc.KFUNC), off=st.integers(0, 64), imm=_INT32S))
    if callx:
        forms.append(_insn(OP_CALLX, _REGS))
    return tuple(forms)


@lru_cache(maxsize=None)
def jump_instructions(cpu_v4: bool = True, jmp32: bool = True, calls: bool = True, callx: bool = False,
                      may_goto: bool = True, offsets: S = _INT16S, long_offsets: S = _INT32S) -> S:
    """Conditional jumps (JMP and JMP32, K and X), ja, gotol, may_goto, calls (helper, pseudo, kfunc), exit."""
    return _one_of(_jump_forms(cpu_v4, jmp32, calls, callx, may_goto, offsets, long_offsets))


@lru_cache(maxsize=None)
def _memory_forms(cpu_v4: bool = True, atomics: bool = True, load_acquire: bool = True,
                  legacy: bool = True) -> Forms:
    forms: list = []
    for size in Size:
        forms.append(_insn(InsnClass.LDX | Mode.MEM | size, _REGS, _REGS, _INT16S))
        forms.append(_insn(InsnClass.STX | Mode.MEM | size, _REGS, _REGS, _INT16S))
        forms.append(_insn(InsnClass.ST | Mode.MEM | size, _REGS, st.just(0), _INT16S, _INT32S))
        if cpu_v4 and size != Size.DW:
            forms.append(_insn(InsnClass.LDX | Mode.MEMSX | size, _REGS, _REGS, _INT16S))
        if atomics and size in (Size.W, Size.DW):
            forms.append(_insn(InsnClass.STX | Mode.ATOMIC | size, _REGS, _REGS, _INT16S, st.sampled_from(RMW_ATOMICS)))
        if load_acquire:
            forms.append(_insn(InsnClass.STX | Mode.ATOMIC | size, _REGS, _REGS, _INT16S,
                               st.sampled_from([AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL])))
    if legacy:
        for size in (Size.B, Size.H, Size.W):
            forms.append(_insn(InsnClass.LD | Mode.ABS | size, imm=_INT32S))
            forms.append(_insn(InsnClass.LD | Mode.IND | size, src=_REGS, imm=_INT32S))
    return tuple(forms)


@lru_cache(maxsize=None)
def memory_instructions(cpu_v4: bool = True, atomics: bool = True, load_acquire: bool = True,
                        legacy: bool = True) -> S:
    """Loads, stores, store-immediate, atomics, sign-extending loads and LD_ABS/IND."""
    return _one_of(_memory_forms(cpu_v4, atomics, load_acquire, legacy))


@lru_cache(maxsize=None)
def lddw_instructions(pseudo: bool = True) -> S:
    """lddw with a plain 64-bit immediate, and (pseudo=True) with every pseudo source."""
    sources = st.sampled_from(list(PseudoSrc)) if pseudo else st.just(PseudoSrc.IMM)
    return _insn(OP_LD_IMM64, _REGS, sources, imm=_INT64S)[1]


@lru_cache(maxsize=None)
def instruction_forms(kernel: bool = False, cpu_v4: bool = True, lddw: bool = True, pseudo_lddw: bool = True,
                      atomics: bool = True, load_acquire: bool = True, legacy: bool = True, calls: bool = True,
                      may_goto: bool = True, jmp32: bool = True) -> "dict[int, S]":
    """opcode -> strategy for instructions with that opcode, for the same flags as `instructions()`."""
    forms: dict[int, list[S]] = {}
    for part in (_alu_forms(cpu_v4, (InsnClass.ALU, InsnClass.ALU64), not kernel),
                 _jump_forms(cpu_v4, jmp32, calls, not kernel, may_goto and cpu_v4, _INT16S, _INT32S),
                 _memory_forms(cpu_v4, atomics, load_acquire and cpu_v4, legacy)):
        for opcode, strategy in part:
            forms.setdefault(opcode, []).append(strategy)
    if lddw:
        forms[OP_LD_IMM64] = [lddw_instructions(pseudo_lddw)]
    return {opcode: st.one_of(strategies) for opcode, strategies in sorted(forms.items())}


@lru_cache(maxsize=None)
def instructions(kernel: bool = False, cpu_v4: bool = True, lddw: bool = True, pseudo_lddw: bool = True,
                 atomics: bool = True, load_acquire: bool = True, legacy: bool = True, calls: bool = True,
                 may_goto: bool = True, jmp32: bool = True) -> S:
    """Any valid instruction. kernel=True: only forms Linux accepts (no callx, no addr_space_cast)."""
    parts = [
        alu_instructions(cpu_v4, addr_space_cast=not kernel),
        jump_instructions(cpu_v4, jmp32, calls, callx=not kernel, may_goto=may_goto and cpu_v4),
        memory_instructions(cpu_v4, atomics, load_acquire and cpu_v4, legacy),
    ]
    if lddw:
        parts.append(lddw_instructions(pseudo_lddw))
    return st.one_of(parts)


@st.composite
def programs(draw: Callable, insns: S | None = None, min_size: int = 1, max_size: int = 30,
             exit_last: bool = True, **flags: bool) -> Program:
    """A Program whose branches (ja, gotol, may_goto, conditional jumps) and pseudo calls land on instruction starts.

    Instructions come from `insns` (default: `instructions(**flags)`, e.g. `programs(kernel=True, cpu_v4=False)`);
    branch offsets are then drawn among real targets, so a target is never the middle of an lddw. The last
    instruction is `exit` when exit_last is set.
    """
    source = insns if insns is not None else instructions(**flags)
    body = draw(st.lists(source, min_size=min_size, max_size=max_size))
    if exit_last:
        body.append(Instruction(OP_EXIT))
    starts, slot = [], 0
    for insn in body:
        starts.append(slot)
        slot += insn.slots
    targets = starts + [slot]
    fixed = []
    for index, insn in enumerate(body):
        if insn.is_branch or insn.is_pseudo_call:
            target = draw(st.sampled_from(targets if insn.is_branch else starts))
            delta = target - (starts[index] + 1)
            if insn.opcode == OP_JA32 or insn.is_pseudo_call:
                insn = insn._replace(imm=delta)
            else:
                insn = insn._replace(off=delta)
        fixed.append(insn)
    return Program(fixed)


__all__ = ["instructions", "instruction_forms", "alu_instructions", "jump_instructions", "memory_instructions", "lddw_instructions",
           "programs", "regs", "int16s", "int32s", "int64s"]
