"""The "ubpf" style: spelled like the bpf_conformance suite's assembly, line by line over the whole corpus.

For every instruction line of every `.data` file we assemble the suite's line, disassemble the result and check the
mnemonic is the suite's (modulo the suite's own synonyms) and that our text assembles to the same instruction.
"""
from __future__ import annotations

import re

import pytest
from helpers.corpus import CONFORMANCE_DIR

from pyebpf.isa.assembler import assemble
from pyebpf.isa.disassembler import disassemble, format_instruction
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program

CORPUS = CONFORMANCE_DIR
#: The suite spells a few instructions two ways; we print the first of each pair.
SYNONYMS = {"swap16": "bswap16", "swap32": "bswap32", "swap64": "bswap64", "call": "call"}
_LABEL_OR_COMMENT = re.compile(r"^\s*(#.*)?$|^\s*[A-Za-z_]\w*:\s*(#.*)?$")
_JUMPY = re.compile(r"^(j\w+|ja|ja32|call)\b")


def _asm_lines() -> list[tuple[str, str]]:
    if not CORPUS.is_dir():
        pytest.skip(f"conformance corpus not present at {CORPUS}")
    lines = []
    for path in sorted(CORPUS.glob("*.data")):
        section = None
        for line in path.read_text().splitlines():
            if line.startswith("-- "):
                section = line[3:].strip()
                continue
            if section != "asm" or _LABEL_OR_COMMENT.match(line):
                continue
            text = line.split("#")[0].strip()
            if _JUMPY.match(text) and not re.search(r"[+-]\d+$|^call \d+$|^call %r\d+$", text):
                continue  # jumps to labels need the whole program; the round-trip tests cover them
            lines.append((path.name, text))
    return lines


def test_every_corpus_line_disassembles_to_the_suites_spelling():
    wrong = []
    lines = _asm_lines()
    assert len(lines) > 1500
    for name, text in lines:
        insns = assemble(text, dialect="ubpf").instructions
        ours = format_instruction(insns[0], "ubpf")
        mnemonic = text.split()[0] if not text.startswith("lock") else " ".join(text.split()[:3 if " fetch " in
                                                                                            text else 2])
        our_mnemonic = " ".join(ours.split()[:len(mnemonic.split())])
        if SYNONYMS.get(mnemonic, mnemonic) != our_mnemonic.rstrip(","):
            wrong.append((name, text, ours))
        elif assemble(ours, dialect="ubpf").instructions != insns:
            wrong.append((name, text, ours))
    assert not wrong, wrong[:20]


UBPF_TEXT = [
    (I(0xB7, 0, 0, 0, 1), "mov %r0, 1"),
    (I(0xB4, 0, 0, 0, -1), "mov32 %r0, -1"),
    (I(0xB7, 0, 0, 0, 0x1122), "mov %r0, 0x1122"),
    (I(0xB7, 0, 0, 0, -(1 << 31)), "mov %r0, 0x80000000"),
    (I(0x61, 0, 1, 4), "ldxw %r0, [%r1+4]"),
    (I(0x79, 0, 1, -8), "ldxdw %r0, [%r1-8]"),
    (I(0x71, 0, 1, 0), "ldxb %r0, [%r1]"),
    (I(0x91, 0, 10, -1), "ldxsb %r0, [%r10-1]"),
    (I(0x7A, 10, 0, -8, 7), "stdw [%r10-8], 7"),
    (I(0x6B, 10, 1, -2), "stxh [%r10-2], %r1"),
    (I(0x15, 1, 0, 2, 0), "jeq %r1, 0, +2"),
    (I(0x5E, 1, 2, -3), "jne32 %r1, %r2, -3"),
    (I(0x18, 0, 0, 0, 0x123456789ABCDEF0), "lddw %r0, 0x123456789abcdef0"),
    (I(0x18, 0, 0, 0, -1), "lddw %r0, 0xffffffffffffffff"),
    (I(0x18, 1, 1, 0, 5), "lddw %r1, 0x5, map_fd"),
    (I(0xDC, 0, 0, 0, 16), "be16 %r0"),
    (I(0xD4, 0, 0, 0, 64), "le64 %r0"),
    (I(0xD7, 0, 0, 0, 32), "bswap32 %r0"),
    (I(0xBC, 0, 1, 8), "movsx832 %r0, %r1"),
    (I(0xBF, 0, 1, 32), "movsx3264 %r0, %r1"),
    (I(0x3F, 0, 1, 1), "sdiv %r0, %r1"),
    (I(0x94, 0, 0, 1, 3), "smod32 %r0, 3"),
    (I(0xDB, 10, 1, -8, 0x01), "lock fetch add [%r10-8], %r1"),
    (I(0xC3, 10, 1, -8, 0x50), "lock and32 [%r10-8], %r1"),
    (I(0xDB, 10, 1, -8, 0xE1), "lock xchg [%r10-8], %r1"),
    (I(0xC3, 10, 1, -8, 0xF1), "lock cmpxchg32 [%r10-8], %r1"),
    (I(0x85, 0, 1, 0, 3), "call local +3"),
    (I(0x85, 0, 0, 0, 5), "call 5"),
    (I(0x8D, 2, 0, 0, 0), "call %r2"),
    (I(0x06, 0, 0, 0, -4), "ja32 -4"),
    (I(0x05, 0, 0, 1), "ja +1"),
    (I(0x87, 3), "neg %r3"),
    (I(0x30, 0, 0, 0, 12), "ldabsb 0xc"),
    (I(0x48, 0, 2, 0, 4), "ldindh %r2, 4"),
    (I(0xE5, 0, 0, 2), "may_goto +2"),
]


@pytest.mark.parametrize("insn,text", UBPF_TEXT, ids=[t for _, t in UBPF_TEXT])
def test_ubpf_spelling(insn, text):
    assert format_instruction(insn, "ubpf") == text
    assert assemble(text, dialect="ubpf").instructions == [insn]


def test_symbolic_ubpf_program_uses_labels_like_the_suite():
    program = Program([I(0xB7, 0, 0, 0, 0), I(0x15, 1, 0, 1, 0), I(0xB7, 0, 0, 0, 1), I(0x95)],
                      labels={"entry": 0})
    assert disassemble(program, "ubpf", symbolic=True) == (
        "entry:\nmov %r0, 0\njeq %r1, 0, L3\nmov %r0, 1\nL3:\nexit\n")
