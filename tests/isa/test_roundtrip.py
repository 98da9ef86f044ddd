"""Round trips: bytes -> Instruction -> bytes (both byte orders) and text -> Program -> text (llvm and ubpf).

`assemble(disassemble(p, style)) == p` for every form whose text carries all its fields. The exceptions are where
the text itself is lossy by design, each named here: LLVM's `ld_pseudo` (prints only the low 32 bits), LLVM's
`skb[rN]` (drops BPF_IND's immediate), LLVM's `call N` for a kfunc or a bpf-to-bpf call (drops src; symbolic
text names the callee), and a kfunc's `off` (BTF fd index) which no dialect spells. symbolic=True text keeps labels, map references and names, and must round-trip too.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.abi.opcodes import MODE_MASK, OP_LD_IMM64, CallSrc, InsnClass, Mode, PseudoSrc
from pyebpf.abi.maps import MapSpec
from pyebpf.isa.assembler import assemble
from pyebpf.isa.disassembler import disassemble
from pyebpf.isa.instruction import Instruction as I, decode, encode
from pyebpf.isa.program import Program
from pyebpf.testing.strategies import instructions, programs


def llvm_lossless(i: I) -> bool:
    if i.opcode == OP_LD_IMM64:
        return i.src == PseudoSrc.IMM
    if i.opcode & 0x07 == InsnClass.LD and i.opcode & MODE_MASK == Mode.IND:
        return i.imm == 0
    if i.is_kfunc_call:
        return False
    return True


def llvm_numeric_lossless(i: I) -> bool:
    """Without symbols LLVM prints a bpf-to-bpf call as `call N`, the same text as helper N."""
    return llvm_lossless(i) and not i.is_pseudo_call


def ubpf_lossless(i: I) -> bool:
    return not (i.is_kfunc_call and i.off)


@settings(max_examples=600, deadline=None)
@given(insn=instructions())
def test_bytes_instruction_bytes(insn):
    for order in ("little", "big"):
        data = insn.encode(order)
        assert len(data) == 8 * insn.slots
        assert decode(data, order) == [insn]
        assert encode([insn], order) == data


@settings(max_examples=100, deadline=None)
@given(program=programs(max_size=40))
def test_program_bytes_round_trip(program):
    for order in ("little", "big"):
        assert Program.from_bytes(program.to_bytes(order), order).instructions == program.instructions


LOSSLESS_PROGRAMS = {"llvm": programs(instructions().filter(llvm_lossless), max_size=30),
                     "ubpf": programs(instructions().filter(ubpf_lossless), max_size=30)}


@pytest.mark.parametrize("style", ["llvm", "ubpf"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_text_round_trip(style, data):
    program = data.draw(LOSSLESS_PROGRAMS[style])
    text = disassemble(program, style, symbolic=True)
    again = assemble(text, dialect=style)
    assert again.instructions == program.instructions, text
    assert disassemble(again, style, symbolic=True) == text  # text -> Program -> text


@pytest.mark.parametrize("style,lossless", [("llvm", llvm_numeric_lossless), ("ubpf", ubpf_lossless)])
@settings(max_examples=300, deadline=None)
@given(insn=instructions())
def test_numeric_text_round_trip(style, lossless, insn):
    """Plain (non-symbolic) text with numeric jump offsets re-assembles to the same instruction."""
    if not lossless(insn):
        return
    text = disassemble(Program([insn]), style)
    assert assemble(text, dialect=style).instructions == [insn], text


def kernel_lossless(i: I) -> bool:
    """The verifier's text drops lddw's pseudo source and a kfunc's off."""
    if i.opcode == OP_LD_IMM64:
        return i.src == PseudoSrc.IMM
    return not (i.is_kfunc_call and i.off)


@settings(max_examples=300, deadline=None)
@given(insn=instructions(kernel=True).filter(kernel_lossless))
def test_kernel_text_round_trip(insn):
    text = disassemble(Program([insn]), "kernel")
    assert assemble(text, dialect="kernel").instructions == [insn], text


def test_symbolic_text_keeps_map_references_and_names():
    maps = {"counts": MapSpec.of("counts", "array", 4, 8, 1)}
    program = Program([
        I(0x62, 10, 0, -4, 0), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4),
        I(OP_LD_IMM64, 1, PseudoSrc.MAP_FD, 0, 0, "counts"), I(0x85, 0, 0, 0, 1),
        I(0x15, 0, 0, 1, 0), I(0x85, 0, CallSrc.PSEUDO_CALL, 0, 1),
        I(0xB7, 0, 0, 0, 0), I(0x95), I(0x95),
    ], maps=maps, labels={"main": 0, "sub": 10})
    for style in ("llvm", "ubpf"):
        text = disassemble(program, style, symbolic=True)
        assert "counts" in text and "bpf_map_lookup_elem" in text and "sub" in text
        again = assemble(text, dialect=style, maps=maps)
        assert again.instructions == program.instructions, text


def test_instruction_forms_cover_every_opcode():
    """Other engineers rely on instructions(): every opcode the decoder knows has a form; kernel=True leaves out
    only callx (Linux has no such opcode)."""
    from pyebpf.isa.instruction import VALID_OPCODES
    from pyebpf.testing.strategies import instruction_forms

    assert set(instruction_forms()) == set(VALID_OPCODES)
    assert set(VALID_OPCODES) - set(instruction_forms(kernel=True)) == {0x8D}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_form_draws_valid_instructions_of_its_opcode(data):
    from pyebpf.testing.strategies import instruction_forms

    forms = instruction_forms()
    opcode = data.draw(st.sampled_from(sorted(forms)))
    insn = data.draw(forms[opcode])
    kernel_insn = data.draw(instructions(kernel=True))
    assert insn.opcode == opcode and insn.validate() is None and kernel_insn.validate() is None
    assert not (kernel_insn.opcode == 0xBF and kernel_insn.off == 1)  # no addr_space_cast for the kernel
