"""Malformed instructions (decoded with validate=False, as a kernel's xlated dump is) never crash the disassembler.

Each style prints what its tool prints for what it cannot decode: llvm-objdump's `<unknown>` (checked against the
installed llvm-objdump for every opcode byte), bpf_conformance's `unknown 0x..`, and print_bpf_insn's `BUG_..`,
`(null)` for holes in its string tables, and `nospec` for the verifier's internal barrier.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from helpers.elf_writer import write_elf
from pyebpf.isa.disassembler import STYLES, disassemble, format_instruction
from pyebpf.isa.instruction import VALID_OPCODES, Instruction as I
from pyebpf.isa.program import Program

words = st.builds(lambda *f: struct.pack("<BBhi", *f), st.integers(0, 255).filter(lambda o: o != 0x18),
                  st.integers(0, 255), st.integers(-(1 << 15), (1 << 15) - 1),
                  st.sampled_from([0, 1, 8, 16, 32, 64, 0x100, 0x110, 0xE1, 0xF1, -1, 1 << 30]))


@settings(max_examples=200, deadline=None)
@given(code=st.lists(words, min_size=1, max_size=40).map(b"".join))
def test_any_words_print_one_line_per_slot_in_every_style(code):
    program = Program.from_bytes(code, validate=False)
    for style in STYLES:
        for symbolic in (False, True):
            lines = disassemble(program, style, symbolic=symbolic).splitlines()
            assert len([ln for ln in lines if not re.fullmatch(r"[\w.]+:", ln)]) == len(program)
    assert len(disassemble(program, "llvm", objdump=True).splitlines()) >= len(program)


def test_kernel_internal_forms():
    assert format_instruction(I(0xC2), "kernel") == "(c2) nospec"
    assert format_instruction(I(0xBF, 1, 2, -1), "kernel") == "(bf) r1 = &(void __percpu *)(r2)"
    assert format_instruction(I(0x99, 1, 2), "kernel") == "(99) r1 = *((null) *)(r2 +0)"  # MEMSX DW: a hole
    assert format_instruction(I(0xE4, 1, 0, 0, 3), "kernel") == "(e4) w1 (null) 3"
    assert format_instruction(I(0xE4, 1), "llvm") == "<unknown>"
    assert format_instruction(I(0xE4, 1), "ubpf") == "unknown 0xe4"


@pytest.mark.skipif(shutil.which("llvm-objdump") is None, reason="llvm-objdump is not installed")
def test_opcodes_we_call_unknown_are_unknown_to_llvm_objdump(tmp_path):
    opcodes = [op for op in range(256) if op not in VALID_OPCODES]
    code = b"".join(struct.pack("<BBhi", op, 0x21, 0, 0) for op in opcodes)
    obj = tmp_path / "u.o"
    obj.write_bytes(write_elf({".text": code}))
    out = subprocess.run(["llvm-objdump", "-d", str(obj)], check=True, capture_output=True, text=True).stdout
    theirs = re.findall(r"^\s*\d+:\t[0-9a-f ]+\t(.*)$", out, re.M)
    assert len(theirs) == len(opcodes)
    for op, text in zip(opcodes, theirs):
        assert text == "<unknown>" == format_instruction(I(op, 1, 2), "llvm"), hex(op)
