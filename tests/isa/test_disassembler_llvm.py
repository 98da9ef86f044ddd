"""The "llvm" style against the installed llvm-objdump (Debian's LLVM 14) on the same bytes.

Instructions go into a minimal ELF object (tests/helpers/elf_writer.py); one llvm-objdump run per hypothesis example
checks a whole batch. Forms LLVM 14 does not know (cpu v4) are checked against LLVM 17+ text written out below.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings, strategies as st

from helpers.elf_writer import write_elf
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.isa.disasm_llvm import llvm14_knows
from pyebpf.isa.disassembler import disassemble, format_instruction
from pyebpf.isa.instruction import Instruction as I, encode
from pyebpf.isa.program import Program
from pyebpf.testing.strategies import instructions, programs

LLVM_OBJDUMP = shutil.which("llvm-objdump") or shutil.which("llvm-objdump-14")
pytestmark = pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump is not installed")

#: One llvm-objdump run per example is too slow to shrink through; a failure reports every mismatch at once.
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
_LINE = re.compile(r"^\s*(\d+):\t([0-9a-f ]+)\t(.*)$")


def objdump(tmp: Path, code: bytes, symbols: dict[str, int] | None = None, alu32: bool = False) -> str:
    obj = tmp / "t.o"
    syms = {name: (".text", slot * 8) for name, slot in (symbols or {}).items()}
    obj.write_bytes(write_elf({".text": code}, syms))
    args = [LLVM_OBJDUMP, "-d", str(obj)] + (["--mattr=+alu32"] if alu32 else [])
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def text_column(output: str) -> dict[int, str]:
    """slot -> instruction text as llvm-objdump prints it, branch annotation `<sym+0x..>` removed."""
    texts = {}
    for line in output.splitlines():
        m = _LINE.match(line)
        if m:
            texts[int(m.group(1))] = re.sub(r" <[^<>]*>$", "", m.group(3))
    return texts


#: cpu v3 forms, a superset of what LLVM 14 knows (jset, store-immediate, mod are filtered where needed).
v3_forms = instructions(kernel=True, cpu_v4=False)


@pytest.mark.parametrize("alu32", [False, True], ids=["default", "alu32"])
@settings(max_examples=30, deadline=None, phases=NO_SHRINK)
@given(batch=st.lists(instructions(), min_size=50, max_size=250))
def test_text_column_matches_llvm_objdump(tmp_path_factory, batch, alu32):
    """Every form: where llvm14_knows() says LLVM 14 knows it, our text is its text; elsewhere LLVM 14 prints
    something else (`<unknown>`, or the v3 meaning such as `/=` for sdiv), so llvm14_knows() is exact."""
    # lddw with src 2 (map value) collides with LLVM 14's internal `lea` encoding: garbage text or a crash of
    # llvm-objdump itself, so it never goes to the tool (llvm14_knows() says False for it)
    program = Program([i for i in batch if not (i.is_lddw and i.src == PseudoSrc.MAP_VALUE)])
    theirs = text_column(objdump(tmp_path_factory.mktemp("o"), program.to_bytes(), alu32=alu32))
    wrong = []
    for slot, insn in program.by_slot():
        ours = format_instruction(insn, "llvm", alu32)
        if (ours == theirs[slot]) != llvm14_knows(insn, alu32):
            wrong.append((slot, insn, ours, theirs[slot], llvm14_knows(insn, alu32)))
    assert not wrong


@settings(max_examples=25, deadline=None, phases=NO_SHRINK)
@given(program=programs(v3_forms.filter(llvm14_knows), min_size=5, max_size=60),
       labels=st.lists(st.integers(0, 60), max_size=3, unique=True))
def test_objdump_layout_matches_byte_for_byte(tmp_path_factory, program, labels):
    starts = program.slot_starts
    program.labels = {f"fn{k}": starts[k] for k in labels if k < len(starts)}
    theirs = objdump(tmp_path_factory.mktemp("o"), program.to_bytes(), program.labels)
    body = theirs.split("\n\n", 1)[1]  # drop "\n<file>:\tfile format elf64-bpf\n\n"
    assert disassemble(program, objdump=True) == body


# Text LLVM 17..21 prints for the cpu v4 forms LLVM 14 cannot decode (BPFInstrInfo.td asm strings).
V4_TEXT = [
    (I(0x3f, 1, 2, 1), "r1 s/= r2"),
    (I(0x37, 1, 0, 1, -3), "r1 s/= -3"),
    (I(0x9c, 1, 2, 1), "w1 s%= w2"),
    (I(0x94, 1, 0, 1, 7), "w1 s%= 7"),
    (I(0xbf, 0, 1, 8), "r0 = (s8)r1"),
    (I(0xbf, 0, 1, 16), "r0 = (s16)r1"),
    (I(0xbf, 0, 1, 32), "r0 = (s32)r1"),
    (I(0xbc, 0, 1, 8), "w0 = (s8)w1"),
    (I(0xbc, 0, 1, 16), "w0 = (s16)w1"),
    (I(0x91, 0, 1, 2), "r0 = *(s8 *)(r1 + 2)"),
    (I(0x89, 0, 1, -2), "r0 = *(s16 *)(r1 - 2)"),
    (I(0x81, 0, 1, 0), "r0 = *(s32 *)(r1 + 0)"),
    (I(0xd7, 0, 0, 0, 16), "r0 = bswap16 r0"),
    (I(0xd7, 3, 0, 0, 64), "r3 = bswap64 r3"),
    (I(0x06, 0, 0, 0, 70000), "gotol +70000"),
    (I(0x06, 0, 0, 0, -2), "gotol -2"),
    (I(0x62, 10, 0, -8, 5), "*(u32 *)(r10 - 8) = 5"),
    (I(0x7a, 10, 0, -16, -1), "*(u64 *)(r10 - 16) = -1"),
    (I(0xe5, 0, 0, 3), "may_goto +3"),
    (I(0xdb, 1, 0, 0, 0x100), "r1 = load_acquire((u64 *)(r0 + 0))"),
    (I(0xd3, 1, 2, 4, 0x100), "w1 = load_acquire((u8 *)(r2 + 4))"),
    (I(0xdb, 1, 2, -8, 0x110), "store_release((u64 *)(r1 - 8), r2)"),
    (I(0xc3, 1, 2, 0, 0x110), "store_release((u32 *)(r1 + 0), w2)"),
    (I(0xc3, 10, 1, -8, 0x50), "lock *(u32 *)(r10 - 8) &= w1"),
    (I(0xbf, 1, 2, 1, 1), "r1 = addr_space_cast(r2, 0, 1)"),
    (I(0x45, 1, 0, 1, 16), "if r1 & 16 goto +1"),
    (I(0x4e, 1, 2, -1), "if w1 & w2 goto -1"),
]


@pytest.mark.parametrize("insn,text", V4_TEXT, ids=[t for _, t in V4_TEXT])
def test_cpu_v4_forms_print_as_newer_llvm(insn, text):
    assert not llvm14_knows(insn)
    assert format_instruction(insn, "llvm") == text


def test_llvm14_prints_unknown_for_what_we_call_unknown_to_it(tmp_path):
    """llvm14_knows() must not claim less than the tool decodes nor more: cross-check on the fixed table."""
    out = text_column(objdump(tmp_path, encode([i for i, _ in V4_TEXT])))
    # LLVM 14 either shows <unknown> or a different meaning (sdiv as div, movsx as mov) for every one of them.
    for (insn, text), theirs in zip(V4_TEXT, (out[s] for s in Program([i for i, _ in V4_TEXT]).slot_starts)):
        assert theirs != text


def test_lossy_llvm_forms_are_what_llvm_prints(tmp_path):
    """ld_pseudo shows only the low 32 bits and BPF_IND drops its immediate: we print what LLVM prints."""
    prog = Program([I(0x18, 1, 3, 0, (7 << 32) | 0xFFFFFFFB), I(0x40, 0, 3, 0, 12)])
    out = text_column(objdump(tmp_path, prog.to_bytes()))
    assert disassemble(prog).splitlines() == [out[0], out[2]] == ["ld_pseudo\tr1, 3, 4294967291",
                                                                   "r0 = *(u32 *)skb[r3]"]


def test_facade_and_unrelocated_map_loads():
    """pyebpf.disassemble is this module's; a map load that still names its map prints as in clang's object."""
    import pyebpf

    program = Program([I(0x18, 1, 1, 0, 0, "counts"), I(0x85, 0, 0, 0, 1), I(0x95)])
    assert pyebpf.disassemble(program) == "r1 = 0 ll\ncall 1\nexit\n"
    assert pyebpf.disassemble(program, symbolic=True) == "r1 = map[counts] ll\ncall bpf_map_lookup_elem\nexit\n"
    assert pyebpf.disassemble(program.to_bytes()) == "ld_pseudo\tr1, 1, 0\ncall 1\nexit\n"
    assert pyebpf.disassemble(program, "kernel", symbolic=True).splitlines()[0] == "0: (18) r1 = map[counts]"
