"""The same Program, the same calls: random ALU programs give the same result in the VM and in the kernel.

hypothesis builds straight-line XDP programs from the 64- and 32-bit ALU operations (division and shifts with
operands the verifier accepts), loads each into the kernel and runs it with BPF_PROG_TEST_RUN, and runs it in the
VM on the same packet; retval (the low 32 bits of R0) must agree. Also a map-counting program: same map contents.
"""
from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.isa.builder import R0, R1, R2, R3, R4, R10, Builder
from pyebpf.loader import load

pytestmark = pytest.mark.kernel

PACKET = bytes(range(64))
REGS = [R0, R2, R3, R4]
OPS = ["add", "sub", "mul", "div", "mod", "or_", "and_", "xor", "lsh", "rsh", "arsh", "mov", "neg", "sdiv", "smod"]
IMM = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 31, 32, 63, 2**31 - 1, -(2**31)]))


@st.composite
def alu_programs(draw):
    b = Builder("xdp", name="agree")
    for reg in REGS:
        b.ld_imm64(reg, draw(st.integers(-(2**63), 2**63 - 1)))
    for _ in range(draw(st.integers(1, 12))):
        op, wide = draw(st.sampled_from(OPS)), draw(st.booleans())
        dst, src = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS + [None]))
        d = dst if wide else dst.w
        if op == "neg":
            b.neg(d)
            continue
        if op in ("lsh", "rsh", "arsh"):
            getattr(b, op)(d, draw(st.integers(0, 63 if wide else 31)))  # imm shifts: in range
            continue
        if src is None:
            operand = draw(IMM)
            if operand == 0 and op in ("div", "mod", "sdiv", "smod"):
                operand = 7  # the verifier refuses a constant zero divisor ("division by zero")
        else:
            operand = src if wide else src.w  # a zero register divisor is fine: x/0 = 0, x%0 = x
        getattr(b, op)(d, operand)
    return b.exit().build()


@settings(max_examples=60, deadline=None)
@given(alu_programs())
def test_alu_results_agree(program):
    from pyebpf.vm import VM

    with load(program) as p:
        kernel = p.test_run(PACKET).retval
    vm = VM(program).run(packet=PACKET).r0 & 0xFFFFFFFF
    assert vm == kernel


def test_map_contents_agree():
    from pyebpf.vm import VM

    b = Builder("xdp", name="agree_map")
    counts = b.map("counts", "hash", ctypes.c_uint32, ctypes.c_uint64, 16)
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32").mov(R4, R2).add(R4, 1)
    with b.if_(R4 <= R3):
        b.load(R4, R2 + 0, "u8").store(R10 - 4, R4, "u32")
        b.mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
        with b.if_(R0 != 0):
            b.mov(R1, 1).atomic_add(R0 + 0, R1)
        with b.else_():
            b.store(R10 - 16, 1, "u64").mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
            b.ld_map(R1, counts).call("map_update_elem")
    prog = b.ret(2).build()
    packets = [bytes([i % 5]) + PACKET[1:] for i in range(23)]
    vm = VM(prog)
    with load(prog) as p:
        for pkt in packets:
            assert p.test_run(pkt).retval == vm.run(packet=pkt).r0 == 2
        assert dict(p.maps["counts"].items()) == dict(vm.maps["counts"].items()) == {0: 5, 1: 5, 2: 5, 3: 4, 4: 4}
