"""The Python builder: each construct compiles to the exact instructions and slot offsets the kernel expects."""
from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import pytest

from pyebpf import R0, R1, R2, R6, R10, Builder, BuildError, Instruction, Program
from pyebpf.abi.opcodes import AtomicOp, InsnClass, JmpOp, PseudoSrc

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fields(program: Program) -> list[tuple[int, int, int, int, int]]:
    return [(i.opcode, i.dst, i.src, i.off, i.imm) for i in program]


def test_alu_forms_pick_class_and_source():
    p = (Builder().mov(R1, 5).mov(R1.w, R2.w).add(R1, R2).sub(R1.w, -1).sdiv(R1, R2).smod(R1.w, 3)
         .neg(R1).movsx(R1, R2, 16).be(R1, 16).bswap(R1, 64).ret(0).build())
    assert fields(p) == [
        (0xB7, 1, 0, 0, 5), (0xBC, 1, 2, 0, 0), (0x0F, 1, 2, 0, 0), (0x14, 1, 0, 0, -1), (0x3F, 1, 2, 1, 0),
        (0x94, 1, 0, 1, 3), (0x87, 1, 0, 0, 0), (0xBF, 1, 2, 16, 0), (0xDC, 1, 0, 0, 16), (0xD7, 1, 0, 0, 64),
        (0xB7, 0, 0, 0, 0), (0x95, 0, 0, 0, 0),
    ]


def test_memory_operands_and_signed_loads():
    p = (Builder().store(R10 - 8, R1, "u64").store(R10 - 4, 7, "u32").load(R0, R10 - 8, "s16")
         .load(R0, R1 + 14, "u8").atomic_add(R10 - 8, R1, fetch=True).cmpxchg(R10 - 8, R2, "u32").exit().build())
    assert fields(p) == [
        (0x7B, 10, 1, -8, 0), (0x62, 10, 0, -4, 7), (0x89, 0, 10, -8, 0), (0x71, 0, 1, 14, 0),
        (0xDB, 10, 1, -8, AtomicOp.FETCH_ADD), (0xC3, 10, 2, -8, AtomicOp.CMPXCHG), (0x95, 0, 0, 0, 0),
    ]


def test_if_else_offsets_count_lddw_as_two_slots():
    b = Builder("xdp")
    m = b.map("m", "array", key=4, value=8, max_entries=1)
    with b.if_(R1 == 0):
        b.ld_map(R2, m)  # 2 slots inside the block
    with b.else_():
        b.mov(R2, 1)
    p = b.ret(2).build()
    # slot 0: if r1 != 0 goto +3 (over lddw and the ja) ; slot 3: ja +1 ; slot 4: r2 = 1
    assert p[0].opcode == InsnClass.JMP | JmpOp.JNE and p[0].off == 3
    assert p[1].is_lddw and p[1].src == PseudoSrc.MAP_FD and p[1].ref == "m"
    assert p[2].opcode == 0x05 and p[2].off == 1
    assert p.slot_count == 7 and p.maps["m"].max_entries == 1


def test_jset_if_uses_a_double_jump_and_signed_conditions():
    b = Builder()
    with b.if_(R1 & 4):
        b.mov(R0, 1)
    b.jump_if(R1.s_lt(-3), "out").jump_if(R1.w > R2.w, "out").label("out").exit()
    p = b.build()
    assert [(i.opcode, i.off) for i in p][:4] == [(0x45, 1), (0x05, 1), (0xB7, 0), (0xC5, 1)]
    assert p[4].opcode == 0x2E and p[4].off == 0


def test_while_loop_break_and_backward_jump():
    b = Builder().mov(R6, 0)
    with b.while_(R6 < 10):
        b.add(R6, 1)
        with b.if_(R6 == 5):
            b.break_()
    p = b.ret(0).build()
    ops = [(i.opcode, i.off) for i in p]
    assert ops[1] == (0x35, 4)  # if r6 >= 10 goto end
    assert ops[5] == (0x05, -5)  # back to the loop head
    assert ops[4] == (0x05, 1)  # break jumps past the back-edge


def test_functions_calls_and_callbacks():
    b = Builder()
    b.ld_func(R2, "cb").call_local("sub").exit()
    with b.function("sub"):
        b.ret(1)
    with b.function("cb"):
        b.ret(0)
    p = b.build()
    assert p[0].src == PseudoSrc.FUNC and p[0].imm == 6 - 0 - 1  # cb at slot 6
    assert p[1].is_pseudo_call and p[1].imm == 4 - 2 - 1  # sub at slot 4
    assert p.labels == {"sub": 4, "cb": 6}


def test_helpers_by_name_and_number():
    p = Builder().call("bpf_map_lookup_elem").call("ktime_get_ns").call(6).exit().build()
    assert [i.imm for i in p][:3] == [1, 5, 6]


@pytest.mark.parametrize("make, message", [
    (lambda b: b.mov(R1, 1 << 33), "does not fit in 32 bits"),
    (lambda b: b.ja("nowhere").build(), "undefined label"),
    (lambda b: b.call("no_such_helper"), "unknown helper"),
    (lambda b: b.ld_map(R1, "nomap"), "unknown map"),
    (lambda b: b.break_(), "outside"),
    (lambda b: b.store(R10 - 40000, R1), "16 bits"),
    (lambda b: b.load(R0, R1 + 0, "u128"), "unknown access size"),
])
def test_mistakes_are_build_errors(make, message):
    with pytest.raises(BuildError, match=message):
        make(Builder())


def test_conditions_are_not_python_bools():
    with pytest.raises(TypeError):
        if R1 == 0:
            pass


def test_openat_counter_example_is_about_fifteen_lines():
    spec = importlib.util.spec_from_file_location("openat_counter", EXAMPLES / "openat_counter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    program = module.build()
    source = (EXAMPLES / "openat_counter.py").read_text().split("def build():")[1].split("if __name__")[0]
    body = [line for line in source.splitlines() if line.strip()]
    assert len(body) <= 16
    assert program.maps["counts"].key_type is ctypes.c_uint32
    assert Program.from_bytes(program.to_bytes()).to_bytes() == program.to_bytes()
    assert isinstance(program[0], Instruction) and program[0].imm == 14  # get_current_pid_tgid
