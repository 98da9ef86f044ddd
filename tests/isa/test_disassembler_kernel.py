"""The "kernel" style against the running kernel's verifier log (log_level=2).

Linux 6.18 prints every instruction twice at log level 2: once in the "Live regs before insn" table (all of them,
before do_check) and once per visit in do_check. Both come from print_bpf_insn(), so each `N: (op) text` line must
equal our text for slot N. Random batches exercise every form the kernel accepts structurally; the hand-written
programs below are accepted by the verifier, so their lines also come from do_check proper.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import Phase, given, settings, strategies as st

from helpers.kernel_log import insn_lines, map_create, prog_load
from pyebpf.abi.opcodes import OP_CALL, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64, CallSrc, PseudoSrc
from pyebpf.isa.disassembler import disassemble, format_instruction
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.testing.strategies import instructions

pytestmark = pytest.mark.kernel
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]

helper_calls = st.builds(I, st.just(OP_CALL), st.just(0), st.just(CallSrc.HELPER), st.just(0),
                         st.integers(0, 220), st.none())
kernel_forms = st.one_of(instructions(kernel=True, calls=False, pseudo_lddw=False), helper_calls)


def mismatches(program: Program, log: str, skip_value_of_pseudo_lddw: bool = True) -> list[tuple]:
    """(slot, ours, kernel's) for every logged line that differs; also every instruction the log lacks."""
    theirs = insn_lines(log)
    wrong = []
    for slot, insn in program.by_slot():
        ours = format_instruction(insn, "kernel")
        if slot not in theirs:
            wrong.append((slot, ours, None))
            continue
        code, text = theirs[slot]
        got = f"({code:02x}) {text}"
        if insn.opcode == OP_LD_IMM64 and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) \
                and skip_value_of_pseudo_lddw:
            # the verifier has already replaced the fd by the map's kernel address
            ours, got = ours.split(" = ")[0], got.split(" = ")[0]
        if ours != got:
            wrong.append((slot, ours, got))
    return wrong


def reachable_program(body: list[I], data: st.DataObject) -> Program:
    """Make a random body pass check_cfg: no exit but the last, unconditional jumps fall through (so nothing is
    unreachable), conditional jumps and may_goto land on any instruction start."""
    body = [I(0xB7, 0, 0, 0, 0) if i.opcode == OP_EXIT else i for i in body] + [I(OP_EXIT)]
    starts = Program(body).slot_starts
    out = []
    for index, insn in enumerate(body):
        if insn.opcode == OP_JA:
            insn = insn._replace(off=0)
        elif insn.opcode == OP_JA32:
            insn = insn._replace(imm=0)
        elif insn.is_branch:
            target = data.draw(st.sampled_from(starts))
            insn = insn._replace(off=target - starts[index] - 1)
        out.append(insn)
    return Program(out)


@settings(max_examples=60, deadline=None, phases=NO_SHRINK)
@given(body=st.lists(kernel_forms, min_size=50, max_size=300), data=st.data())
def test_every_kernel_form_prints_like_print_bpf_insn(body, data):
    program = reachable_program(body, data)
    result = prog_load(program.to_bytes())
    assert "Live regs before insn" in result.log, result.log[-2000:]
    assert not mismatches(program, result.log)


# ---- programs the verifier accepts, one per family of instructions -----------------------------------------------

def _prelude() -> list[I]:
    """r0..r9 = distinct small constants, and 128 bytes of zeroed stack, so every operand is readable."""
    regs = [I(0xB7, r, 0, 0, r * 3 + 1) for r in range(10)]
    stack = [I(0x7A, 10, 0, -8 * k, 0) for k in range(1, 17)]
    return regs + stack


_EPILOGUE = [I(0xB7, 0, 0, 0, 0), I(OP_EXIT)]

ACCEPTED: dict[str, list[I]] = {
    "alu64": [I(0x07, 1, 0, 0, -8), I(0x0F, 1, 2), I(0x17, 3, 0, 0, 7), I(0x1F, 3, 4), I(0x27, 4, 0, 0, -3),
              I(0x2F, 5, 6), I(0x37, 6, 0, 0, 3), I(0x3F, 6, 7), I(0x47, 7, 0, 0, 0x10), I(0x4F, 7, 8),
              I(0x57, 8, 0, 0, 0xFF), I(0x5F, 8, 9), I(0x67, 1, 0, 0, 63), I(0x6F, 1, 2), I(0x77, 2, 0, 0, 1),
              I(0x7F, 2, 3), I(0x87, 3), I(0x97, 4, 0, 0, 7), I(0x9F, 4, 5), I(0xA7, 5, 0, 0, -1), I(0xAF, 5, 6),
              I(0xB7, 6, 0, 0, -2147483648), I(0xBF, 6, 7), I(0xC7, 7, 0, 0, 3), I(0xCF, 7, 8)],
    "alu32": [I(0x04, 1, 0, 0, -8), I(0x0C, 1, 2), I(0x14, 3, 0, 0, 7), I(0x24, 4, 0, 0, -3), I(0x34, 6, 0, 0, 3),
              I(0x3C, 6, 7), I(0x44, 7, 0, 0, 0x10), I(0x54, 8, 0, 0, 0xFF), I(0x64, 1, 0, 0, 31),
              I(0x74, 2, 0, 0, 1), I(0x84, 3), I(0x94, 4, 0, 0, 7), I(0x9C, 4, 5), I(0xA4, 5, 0, 0, -1),
              I(0xB4, 6, 0, 0, 2147483647), I(0xBC, 6, 7), I(0xC4, 7, 0, 0, 3), I(0xCC, 7, 8)],
    "cpu_v4_alu": [I(0x3F, 1, 2, 1), I(0x37, 1, 0, 1, -3), I(0x9F, 3, 4, 1), I(0x97, 3, 0, 1, 5),
                   I(0x3C, 5, 6, 1), I(0x34, 5, 0, 1, 7), I(0x9C, 5, 6, 1), I(0x94, 5, 0, 1, -7),
                   I(0xBF, 1, 2, 8), I(0xBF, 1, 2, 16), I(0xBF, 1, 2, 32), I(0xBC, 3, 4, 8), I(0xBC, 3, 4, 16)],
    "endian": [I(0xD4, 1, 0, 0, 16), I(0xD4, 1, 0, 0, 32), I(0xD4, 1, 0, 0, 64), I(0xDC, 2, 0, 0, 16),
               I(0xDC, 2, 0, 0, 32), I(0xDC, 2, 0, 0, 64), I(0xD7, 3, 0, 0, 16), I(0xD7, 3, 0, 0, 32),
               I(0xD7, 3, 0, 0, 64)],
    "memory": [I(0x7B, 10, 1, -8), I(0x63, 10, 2, -12), I(0x6B, 10, 3, -14), I(0x73, 10, 4, -15),
               I(0x79, 5, 10, -8), I(0x61, 5, 10, -12), I(0x69, 5, 10, -14), I(0x71, 5, 10, -15),
               I(0x7A, 10, 0, -24, -1), I(0x62, 10, 0, -28, 7), I(0x6A, 10, 0, -30, 8), I(0x72, 10, 0, -31, 9),
               I(0x91, 6, 10, -31), I(0x89, 6, 10, -30), I(0x81, 6, 10, -28), I(0xBF, 7, 10), I(0x07, 7, 0, 0, -64),
               I(0x79, 8, 7, 8)],
    "atomics": [I(0xDB, 10, 1, -8, 0x00), I(0xDB, 10, 1, -8, 0x40), I(0xDB, 10, 1, -8, 0x50),
                I(0xDB, 10, 1, -8, 0xA0), I(0xC3, 10, 2, -16, 0x00), I(0xC3, 10, 2, -16, 0x40),
                I(0xC3, 10, 2, -16, 0x50), I(0xC3, 10, 2, -16, 0xA0), I(0xDB, 10, 3, -24, 0x01),
                I(0xDB, 10, 3, -24, 0x41), I(0xDB, 10, 3, -24, 0x51), I(0xDB, 10, 3, -24, 0xA1),
                I(0xC3, 10, 4, -32, 0x01), I(0xC3, 10, 4, -32, 0x41), I(0xC3, 10, 4, -32, 0x51),
                I(0xC3, 10, 4, -32, 0xA1), I(0xDB, 10, 5, -40, 0xE1), I(0xC3, 10, 5, -48, 0xE1),
                I(0xDB, 10, 6, -56, 0xF1), I(0xC3, 10, 6, -64, 0xF1),
                I(0xDB, 1, 10, -8, 0x100), I(0xC3, 1, 10, -16, 0x100), I(0xCB, 1, 10, -16, 0x100),
                I(0xD3, 1, 10, -16, 0x100), I(0xDB, 10, 2, -72, 0x110), I(0xC3, 10, 2, -76, 0x110),
                I(0xCB, 10, 2, -78, 0x110), I(0xD3, 10, 2, -79, 0x110)],
    "jumps": [I(0x15, 1, 0, 1, 1), I(0xB7, 0, 0, 0, 0), I(0x1D, 1, 2, 0), I(0x25, 1, 0, 0, 5), I(0x2D, 1, 2, 0),
              I(0x35, 1, 0, 0, -5), I(0x3D, 1, 2, 0), I(0x45, 1, 0, 0, 0x10), I(0x4D, 1, 2, 0),
              I(0x55, 1, 0, 0, 1), I(0x5D, 1, 2, 0), I(0x65, 1, 0, 0, 9), I(0x6D, 1, 2, 0), I(0x75, 1, 0, 0, 9),
              I(0x7D, 1, 2, 0), I(0xA5, 1, 0, 0, 9), I(0xAD, 1, 2, 0), I(0xB5, 1, 0, 0, 9), I(0xBD, 1, 2, 0),
              I(0xC5, 1, 0, 0, 9), I(0xCD, 1, 2, 0), I(0xD5, 1, 0, 0, 9), I(0xDD, 1, 2, 0),
              I(0x16, 1, 0, 0, 1), I(0x1E, 1, 2, 0), I(0x26, 1, 0, 0, -1), I(0x46, 1, 0, 0, 3), I(0x5E, 1, 2, 0),
              I(0xDE, 1, 2, 0), I(0xD6, 1, 0, 0, -9), I(0x05, 0, 0, 0), I(0x06, 0, 0, 0, 0),
              I(0xE5, 0, 0, 1), I(0xB7, 0, 0, 0, 3)],
    "helpers": [I(0x85, 0, 0, 0, 5), I(0x85, 0, 0, 0, 7), I(0x85, 0, 0, 0, 8)],
    "lddw": [I(OP_LD_IMM64, 1, 0, 0, 0x123456789ABCDEF0), I(OP_LD_IMM64, 2, 0, 0, -1), I(OP_LD_IMM64, 3, 0, 0, 0)],
}


def _accepted_program(body: list[I]) -> Program:
    return Program(_prelude() + body + _EPILOGUE)


@pytest.mark.parametrize("family", sorted(ACCEPTED))
def test_accepted_program_log_matches(family):
    program = _accepted_program(ACCEPTED[family])
    result = prog_load(program.to_bytes())
    assert result.accepted, result.log[-1500:]
    assert not mismatches(program, result.log)


def test_negative_jump_offsets_and_pseudo_calls():
    program = Program([
        I(0xB7, 1, 0, 0, 5),
        I(0x05, 0, 0, 3),  # 1: goto +3 -> 5
        I(0xB7, 0, 0, 0, 0),  # 2: joined here
        I(0x85, 0, CallSrc.PSEUDO_CALL, 0, 3),  # 3: call pc+3 -> 7
        I(OP_EXIT),
        I(0x65, 1, 0, -4, 2),  # 5: if r1 s> 2 goto -4 -> 2
        I(0x06, 0, 0, 0, -5),  # 6: gotol -5 -> 2
        I(0xB7, 0, 0, 0, 7), I(OP_EXIT),  # 7: subprogram
    ])
    result = prog_load(program.to_bytes())
    assert result.accepted, result.log[-1500:]
    assert not mismatches(program, result.log)


def test_map_lddw_and_map_helpers():
    fd = map_create(2, 4, 8, 1)  # BPF_MAP_TYPE_ARRAY
    try:
        program = Program([
            I(0x62, 10, 0, -4, 0), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4),
            I(OP_LD_IMM64, 1, PseudoSrc.MAP_FD, 0, fd), I(0x85, 0, 0, 0, 1),
            I(0x15, 0, 0, 1, 0), I(0x79, 0, 0, 0),
            I(OP_LD_IMM64, 3, PseudoSrc.MAP_VALUE, 0, fd | (4 << 32)), I(0x61, 4, 3, 0),
            I(0xB7, 0, 0, 0, 0), I(OP_EXIT),
        ])
        result = prog_load(program.to_bytes())
    finally:
        os.close(fd)
    assert result.accepted, result.log[-1500:]
    assert not mismatches(program, result.log)
    lines = insn_lines(result.log)
    assert lines[3][1].startswith("r1 = 0x") and lines[8][1].startswith("r3 = 0x")


def test_ld_abs_and_ind_in_a_socket_filter():
    program = Program([
        I(0xBF, 6, 1), I(0xB7, 7, 0, 0, 1),  # LD_ABS/IND clobber r1-r5: the index lives in r7
        I(0x30, 0, 0, 0, 0), I(0x28, 0, 0, 0, 12), I(0x20, 0, 0, 0, 14),
        I(0x50, 0, 7, 0, 3), I(0x48, 0, 7, 0, -1), I(0x40, 0, 7, 0, 0x20),
        I(0xB7, 0, 0, 0, 0), I(OP_EXIT),
    ])
    result = prog_load(program.to_bytes())
    assert result.accepted, result.log[-1500:]
    assert not mismatches(program, result.log)


def test_whole_program_listing_is_the_logs_listing():
    program = _accepted_program(ACCEPTED["alu64"] + ACCEPTED["memory"])
    result = prog_load(program.to_bytes())
    lines = insn_lines(result.log)
    ours = disassemble(program, "kernel").splitlines()
    assert result.accepted
    assert ours == [f"{slot}: ({code:02x}) {text}" for slot, (code, text) in sorted(lines.items())]


def _kfunc_ids(*names: str) -> dict[str, int]:
    """BTF ids of kernel functions, from bpftool's dump of /sys/kernel/btf/vmlinux."""
    import re
    import shutil
    import subprocess

    bpftool = shutil.which("bpftool")
    if bpftool is None or not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("bpftool and /sys/kernel/btf/vmlinux are needed to find kfunc ids")
    dump = subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux"], check=True,
                          capture_output=True, text=True).stdout
    ids = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\[(\d+)\] FUNC '(\w+)'", dump, re.M)}
    missing = [n for n in names if n not in ids]
    if missing:
        pytest.skip(f"kernel has no kfunc {missing}")
    return {n: ids[n] for n in names}


def test_kfunc_calls_print_the_btf_name():
    ids = _kfunc_ids("bpf_rcu_read_lock", "bpf_rcu_read_unlock")
    program = Program([I(OP_CALL, 0, CallSrc.KFUNC, 0, ids["bpf_rcu_read_lock"], "bpf_rcu_read_lock"),
                       I(OP_CALL, 0, CallSrc.KFUNC, 0, ids["bpf_rcu_read_unlock"], "bpf_rcu_read_unlock"),
                       I(0xB7, 0, 0, 0, 0), I(OP_EXIT)])
    result = prog_load(program.to_bytes())
    assert result.accepted, result.log[-1500:]
    ours = disassemble(program, "kernel", symbolic=True).splitlines()
    assert ours == [f"{slot}: ({code:02x}) {text}" for slot, (code, text) in sorted(insn_lines(result.log).items())]
    # without the name (no BTF at hand) we print __func_get_name's own fallback
    assert format_instruction(program[0]._replace(ref=None), "kernel").startswith("(85) call kernel-function#")


def test_lddw_of_a_callback_function():
    """lddw src=BPF_PSEUDO_FUNC for bpf_loop's callback. Without BTF func_info the verifier stops at the lddw
    ("missing btf func_info"), but its Live-regs table has already printed every instruction."""
    program = Program([I(0xB7, 1, 0, 0, 1), I(OP_LD_IMM64, 2, PseudoSrc.FUNC, 0, 6), I(0xB7, 3), I(0xB7, 4),
                       I(OP_CALL, 0, 0, 0, 181), I(0xB7), I(OP_EXIT), I(0xB7), I(OP_EXIT)])
    result = prog_load(program.to_bytes())
    assert "Live regs before insn" in result.log
    assert not mismatches(program, result.log, skip_value_of_pseudo_lddw=False)
