"""The CFG stage offline: what check_cfg learns (subprograms, prune/jump points, forced checkpoints) and how it
fails (kernel message, slot, errno, and the kernel's order of passes). The kernel's own verdicts on the same
shapes are in the case tables (cases/cfg.py) and test_cfg_kernel.py."""
from __future__ import annotations

import errno

import pytest

from pyebpf import assemble
from pyebpf.errors import VerifierError
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.verifier.cfg import check_cfg

EXIT, MOV0 = I(0x95, 0, 0, 0, 0), I(0xB7, 0, 0, 0, 0)


def cfg(text: str, privileged: bool = True):
    return check_cfg(assemble(text), privileged)


def fails(program, privileged: bool = True) -> VerifierError:
    if isinstance(program, str):
        program = assemble(program)
    with pytest.raises(VerifierError) as e:
        check_cfg(program, privileged)
    return e.value


def test_straight_line_has_one_subprog_and_no_prune_points():
    info = cfg("r0 = 0\nr1 = 1\nexit\n")
    assert info.subprog_starts == [0]
    assert info.prune_points == set() and info.jmp_points == set()
    assert info.slot_count == 3


def test_conditional_jump_marks_itself_and_target():
    info = cfg("r0 = 0\nif r1 > 3 goto +1\nr0 = 1\nexit\n")
    assert 1 in info.prune_points  # the branch
    assert 3 in info.prune_points and 3 in info.jmp_points  # its target


def test_lddw_second_slot_holds_no_instruction():
    info = cfg("r0 = 5 ll\nexit\n")
    assert info.slot_count == 3 and info.insns[1] is None


def test_subprogram_starts_and_subprog_of():
    info = cfg("call f\ncall g\nexit\nf:\nr0 = 1\nexit\ng:\nr0 = 2\nexit\n")
    assert info.subprog_starts == [0, 3, 5]
    assert [info.subprog_of(s) for s in range(7)] == [0, 0, 0, 1, 1, 2, 2]
    assert info.subprog_end(1) == 5 and info.subprog_end(2) == 7
    assert {1, 2}.issubset(info.prune_points)  # return points of the calls


def test_callback_reference_is_a_subprogram():
    info = cfg("r1 = 4\nr2 = cb ll\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb:\nr0 = 0\nexit\n")
    assert info.subprog_starts == [0, 8]


def test_backward_callback_reference_uses_signed_offset():
    info = cfg("call f\nr0 = 0\nexit\ncb:\nr0 = 0\nexit\nf:\nr1 = 1\nr2 = cb ll\nr3 = 0\nr4 = 0\n"
               "call bpf_loop\nr0 = 0\nexit\n")
    assert info.subprog_starts == [0, 3, 5]


def test_may_goto_forces_a_checkpoint():
    prog = Program([MOV0, I(0xE5, 0, 0, 0, 0), EXIT])  # may_goto +0
    info = check_cfg(prog, True)
    assert 1 in info.force_checkpoints


@pytest.mark.parametrize("text, message, slot", [
    ("if r1 > 0 goto +5\nr0 = 0\nexit\n", "jump out of range from insn 0 to 6", 0),
    ("r0 = 0\nexit\nr0 = 1\nexit\n", "unreachable insn 2", 2),
    ("r0 = 0\n", "last insn is not an exit or jmp", 0),
    ("if r1 > 0 goto +1\nr0 = 0 ll\nr0 = 0\nexit\n", "jump into the middle of ldimm64 insn 1", 1),
    ("if r1 > 0 goto f\nr0 = 0\ncall f\nexit\nf:\nr0 = 0\nexit\n", "jump out of range from insn 0 to 4", 0),
])
def test_structure_errors_name_the_slot(text, message, slot):
    e = fails(text)
    assert (e.message, e.insn, e.errno) == (message, slot, errno.EINVAL)


def test_back_edge_only_unprivileged():
    loop = "r1 = 0\nl:\nr1 += 1\nif r1 < 10 goto l\nr0 = 0\nexit\n"
    cfg(loop, privileged=True)
    e = fails(loop, privileged=False)
    assert (e.message, e.insn) == ("back-edge from insn 2 to 1", 2)


def test_unprivileged_calls_are_eperm():
    e = fails("call f\nexit\nf:\nr0 = 0\nexit\n", privileged=False)
    assert e.errno == errno.EPERM
    assert e.message == "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN"


@pytest.mark.parametrize("insns, message", [
    ([I(0xFF, 0, 0, 0, 0), EXIT], "unknown opcode ff"),
    ([MOV0, I(0x8D, 0, 1, 0, 0), EXIT], "unknown opcode 8d"),
    ([I(0x79, 0, 1, 0, 7), EXIT], "BPF_LDX uses reserved fields"),
    ([I(0x18, 0, 7, 0, 0), EXIT], "unrecognized bpf_ld_imm64 insn"),
    ([I(0x18, 1, 1, 0, 5 << 32 | 3), MOV0, EXIT], "unrecognized bpf_ld_imm64 insn"),
    ([I(0x85, 0, 1, 0, 5), MOV0, EXIT], "call to invalid destination"),
])
def test_instruction_errors(insns, message):
    e = fails(Program(insns))
    assert e.message == message and e.errno == errno.EINVAL


def test_kernel_pass_order():
    # check_subprogs (last insn) runs before resolve_pseudo_ldimm64 (unknown opcode) ...
    assert fails(Program([MOV0, I(0xFF, 0, 0, 0, 0), MOV0])).message == "last insn is not an exit or jmp"
    # ... which runs before the DFS (unreachable code is still checked for opcodes)
    assert fails(Program([MOV0, EXIT, I(0xFF, 0, 0, 0, 0), EXIT])).message == "unknown opcode ff"


def test_size_limits_are_e2big():
    assert fails(Program([]), True).errno == errno.E2BIG
    big = Program([MOV0] * 4096 + [EXIT])
    assert fails(big, privileged=False).errno == errno.E2BIG
    check_cfg(big, True)


def test_too_many_subprograms():
    text = "".join(f"call f{i}\n" for i in range(256)) + "r0 = 0\nexit\n" + "".join(
        f"f{i}:\nr0 = 0\nexit\n" for i in range(256))
    e = fails(text)
    assert (e.message, e.errno) == ("too many subprograms", errno.E2BIG)


def test_level2_log_of_a_refused_cfg_names_function_references_by_their_low_32_bits():
    """An lddw function reference's target is slot + 1 + the signed LOW half of the 64-bit immediate (the kernel's
    insn->imm): the `func#N @slot` lines verify() prints before a CFG error must use it, as check_cfg does."""
    from pyebpf.verifier import verify
    prog = Program([I(0x18, 2, 4, 0, (5 << 32) | 2), MOV0, EXIT, I(0x05, 0, 0, -1, 0), MOV0, EXIT])
    result = verify(prog, log_level=2, raise_on_reject=False)
    assert result.log.startswith("func#0 @0\nfunc#1 @3\nlast insn is not an exit or jmp\n")
