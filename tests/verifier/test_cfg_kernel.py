"""Random control flow against the kernel: short programs of constant moves, conditional and unconditional jumps
(any offset, in range or not, into lddw halves), gotol, exits, lddw and bpf-to-bpf calls to any slot (no BTF:
the loader would describe calls to nowhere), loaded
privileged and unprivileged. Verdict, message and errno must all be the kernel's — these programs fail, when they
fail, in the CFG stage or in the first steps of do_check."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import Case
from cases.known import known_disagreement
from cases.oracle import agree, errno_name, kernel_verdicts, ours
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program


@st.composite
def control_flow(draw):
    n = draw(st.integers(2, 9))
    insns: list[I] = []
    for _ in range(n):
        kind = draw(st.sampled_from(["mov", "mov", "cond", "cond", "ja", "exit", "lddw", "gotol", "call"]))
        off = draw(st.integers(-n - 1, n + 1))
        if kind == "mov":
            insns.append(I(0xB7, draw(st.sampled_from([0, 2])), 0, 0, draw(st.integers(0, 2))))
        elif kind == "cond":
            reg = draw(st.sampled_from([1, 2]))
            op = draw(st.sampled_from([0x15, 0x55, 0x25, 0xA5]))  # jeq, jne, jgt, jlt with an immediate
            insns.append(I(op, reg, 0, off, draw(st.integers(0, 2))))
        elif kind == "ja":
            insns.append(I(0x05, 0, 0, off, 0))
        elif kind == "gotol":
            insns.append(I(0x06, 0, 0, 0, off))
        elif kind == "exit":
            insns.append(I(0x95, 0, 0, 0, 0))
        elif kind == "lddw":
            insns.append(I(0x18, 0, 0, 0, draw(st.integers(0, 3))))
        else:
            insns.append(I(0x85, 0, 1, 0, off))
    if draw(st.integers(0, 3)):
        insns.append(I(0x95, 0, 0, 0, 0))
    return Case("random_cfg", (lambda insns=tuple(insns): Program(list(insns))),
                privileged=draw(st.integers(0, 2)) > 0, btf=False)


@pytest.mark.kernel
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(control_flow())
def test_random_control_flow_agrees_with_kernel(case):
    kern, why = kernel_verdicts([case])
    if case.id not in kern:
        pytest.skip(f"no kernel verdict: {why}")
    k, mine = kern[case.id], ours(case)
    same_verdict, same_message, same_errno = agree(mine, k)
    shown = "\n".join(f"  {i}" for i in case.program().instructions)
    detail = (f"kernel: {'accept' if k.accepted else 'reject'} {errno_name(k.errno)} {k.message!r}\n"
              f"ours:   {'accept' if mine.accepted else 'reject'} {errno_name(mine.errno)} {mine.message!r}\n"
              f"{'privileged' if case.privileged else 'unprivileged'} program:\n{shown}")
    if not (same_verdict and same_message and same_errno):
        known = known_disagreement(case.program(), mine, k)
        if known:
            pytest.xfail(known)
    assert same_verdict and same_message and same_errno, detail


@pytest.mark.kernel
@pytest.mark.parametrize("second_slot", [
    (0x00, 1, 0, 0, 0),  # a register in the second half
    (0x00, 0, 0, 4, 0),  # an offset
    (0xB7, 0, 0, 0, 0),  # an opcode
    pytest.param(None, marks=pytest.mark.xfail(strict=True, reason=(
        "lddw as the last slot: the kernel's check_subprogs runs first and says 'last insn is not an exit or jmp'; "
        "pyebpf.isa's decoder (not the verifier) refuses the bytes with 'invalid bpf_ld_imm64 insn: truncated'"))),
])
def test_malformed_lddw_refused_with_the_kernels_reason(second_slot):
    """A Program cannot hold a malformed lddw: decoding the bytes refuses it with the kernel's reason."""
    import struct

    from kernel_oracle import kernel_load_bytes
    from pyebpf.errors import DecodeError

    code = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x18, 0, 0, 1)
    if second_slot is not None:
        op, regs_dst, regs_src, off, imm = second_slot
        code += struct.pack("<BBhi", op, regs_src << 4 | regs_dst, off, imm) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    kern = kernel_load_bytes(code, 1)
    assert not kern.accepted
    with pytest.raises(DecodeError) as e:
        Program.from_bytes(code)
    assert kern.last_error in str(e.value), (kern.last_error, str(e.value))
