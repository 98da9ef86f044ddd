"""The bpf_conformance programs in the kernel: every one the verifier accepts must give the VM's 64-bit r0.

Each program is wrapped into an XDP program: a prologue puts the test memory at the start of the packet (r1 = its
address after a bounds check, r2 = its length, other registers 0 as in the VM) and every `exit` of the main program
becomes a jump to an epilogue. BPF_PROG_TEST_RUN returns 32 bits, so each program is loaded twice: once returning r0
and once returning r0 >> 32. Programs the kernel rejects (out-of-range shift immediates, callx, division by an
immediate zero, ...) are counted, not compared; bpf-to-bpf call tests are left out (their exits are subprogram
returns).
"""
from __future__ import annotations


import pytest
from helpers.corpus import CONFORMANCE_DIR

from pyebpf.abi.opcodes import AluOp, InsnClass, JmpOp, Mode, Size, Source, OP_EXIT
from pyebpf.abi.prog_types import ProgType
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.vm.conformance import assemble_case, load_case, run_case

pytestmark = pytest.mark.kernel

DIR = CONFORMANCE_DIR
ETH_HLEN = 14


def wrap(program: Program, mem_len: int, high_half: bool) -> Program:
    size = max(mem_len, ETH_HLEN)
    body = program.instructions
    body_slots = program.slot_count
    prologue = [
        I(InsnClass.LDX | Mode.MEM | Size.W, 2, 1, 0),
        I(InsnClass.LDX | Mode.MEM | Size.W, 3, 1, 4),
        I(InsnClass.ALU64 | AluOp.MOV | Source.X, 4, 2),
        I(InsnClass.ALU64 | AluOp.ADD, 4, 0, 0, size),
        None,  # the bounds check, patched below
        I(InsnClass.ALU64 | AluOp.MOV | Source.X, 1, 2) if mem_len else I(InsnClass.ALU64 | AluOp.MOV, 1, 0, 0, 0),
        I(InsnClass.ALU64 | AluOp.MOV, 2, 0, 0, mem_len),
    ] + [I(InsnClass.ALU64 | AluOp.MOV, r, 0, 0, 0) for r in (0, 3, 4, 5, 6, 7, 8, 9)]
    start = len(prologue)  # every prologue instruction is one slot
    end = start + body_slots  # epilogue slot
    fixed = []
    for slot, insn in program.by_slot():
        if insn.opcode == OP_EXIT:
            insn = I(InsnClass.JMP | JmpOp.JA, 0, 0, end - (start + slot + 1), 0)
        fixed.append(insn)
    epilogue = ([I(InsnClass.ALU64 | AluOp.RSH, 0, 0, 0, 32)] if high_half else []) + [I(OP_EXIT)]
    fail_slot = end + len(epilogue)
    prologue[4] = I(InsnClass.JMP | JmpOp.JGT | Source.X, 4, 3, fail_slot - 5, 0)
    fail = [I(InsnClass.ALU64 | AluOp.MOV, 0, 0, 0, 0), I(OP_EXIT)]
    return Program(prologue + fixed + epilogue + fail, prog_type=ProgType.XDP)


def kernel_r0(program: Program, mem: bytes) -> int | None:
    """The 64-bit r0 the kernel computes, or None when the verifier rejects the program."""
    from pyebpf.loader import ProgramLoadError, load

    packet = mem.ljust(ETH_HLEN, b"\0")
    halves = []
    for high in (False, True):
        try:
            with load(wrap(program, len(mem), high)) as kp:
                halves.append(kp.test_run(data=packet).retval)
        except ProgramLoadError:
            return None
    return halves[0] | (halves[1] << 32)


def test_conformance_programs_in_the_kernel() -> None:
    files = sorted(DIR.glob("*.data")) if DIR.is_dir() else []
    if not files:
        pytest.skip(f"bpf_conformance tests not found in {DIR}")
    compared, rejected, differ = 0, [], []
    for f in files:
        case = load_case(f)
        program = assemble_case(case)
        if any(i.is_pseudo_call for i in program.instructions):
            continue
        got = kernel_r0(program, case.mem)
        if got is None:
            rejected.append(f.stem)
            continue
        compared += 1
        for engine in ("interp", "compiled"):
            vm = run_case(case, engine).got
            if vm != got:
                differ.append((f.stem, engine, hex(got), None if vm is None else hex(vm)))
    print(f"conformance in the kernel: {compared} compared, {len(rejected)} rejected by the verifier")
    assert differ == []
    # The kernel refuses exactly the 12 out-of-range shift immediates and callx (see the suite's README).
    assert sorted(rejected) == sorted([f"{op}{w}-imm-{kind}" for op in ("arsh", "lsh", "rsh") for w in (32, 64)
                                       for kind in ("high", "neg")] + ["callx"])
    assert compared == 298
