"""Assembly errors: every problem in the file, each with its line, column, token length and message."""
from __future__ import annotations

import pytest

from pyebpf.errors import AsmError
from pyebpf.isa.assembler import assemble


def _diags(text: str, dialect: str | None = None) -> list[tuple[int, int, int, str]]:
    with pytest.raises(AsmError) as e:
        assemble(text, dialect)
    return [(d.line, d.column, d.length, d.message) for d in e.value.diagnostics]


# (text, dialect, line, column, length, message fragment)
SINGLE = [
    ("r11 = 1", None, 1, 1, 3, "invalid register r11"),
    ("r1 = r12", None, 1, 6, 3, "invalid register r12"),
    ("  mov %r11, 1", None, 1, 7, 4, "invalid register %r11"),
    ("ldxw %r0, [%r16+4]", "ubpf", 1, 12, 4, "invalid register %r16"),
    ("goto nowhere", None, 1, 6, 7, "undefined label 'nowhere'"),
    ("jeq %r1, 0, missing", "ubpf", 1, 13, 7, "undefined label 'missing'"),
    ("if r1 > 5 goto +40000", None, 1, 17, 5, "out of 16-bit range"),
    ("r1 += 0x100000000", None, 1, 7, 11, "immediate 4294967296 out of 32-bit range"),
    ("if r1 == -2147483649 goto +1", None, 1, 11, 10, "out of 32-bit range"),
    ("mov %r0, 0x1ffffffff", "ubpf", 1, 10, 11, "immediate 0x1ffffffff out of 32-bit range"),
    ("r0 = *(u32 *)(r1 + 40000)", None, 1, 20, 5, "offset 40000 out of 16-bit range"),
    ("ldxw %r0, [%r1+70000]", "ubpf", 1, 15, 6, "out of 16-bit range"),
    ("call not_a_helper", None, 1, 6, 12, "unknown helper or function 'not_a_helper'"),
    ("r1 = map[nomap] ll", None, 1, 10, 5, "unknown map 'nomap'"),
    ("frobnicate r1", None, 1, 1, 10, "unknown instruction 'frobnicate'"),
    ("frob %r1, 2", "ubpf", 1, 1, 4, "unknown mnemonic 'frob'"),
    ("mov %r1", "ubpf", 1, 1, 3, "'mov' takes 2 operands, got 1"),
    ("r1 += w2", None, 1, 7, 2, "mixed 32-bit and 64-bit registers"),
    ("r1 = -r2", None, 1, 7, 2, "neg negates a register in place"),
    ("r0 = *(u32 *)(r1 + 4", None, 1, 21, 1, "unexpected end of instruction"),
    ("r0 = *(u128 *)(r1 + 4)", None, 1, 8, 4, "expected a memory type"),
    ("r0 = be16 r1", None, 1, 11, 2, "a byte swap works in place"),
    ("exit 1", None, 1, 6, 1, "unexpected '1'"),
    ("lock *(u16 *)(r1 + 0) += r2", None, 1, 8, 3, "atomic operations take u32 or u64"),
    ("r0 = cmpxchg_64(r1 + 0, r2, r3)", None, 1, 25, 2, "cmpxchg's expected value is r0"),
    ("r0 = *(u8 *)skb[r1 + 2] junk", None, 1, 25, 4, "unexpected 'junk'"),
    (".map m hash key=4 colour=red", None, 1, 19, 6, "unknown map attribute 'colour'"),
    (".map m hashmap", None, 1, 8, 7, "unknown map type 'hashmap'"),
    (".section not_a_section", None, 1, 10, 13, "unknown BPF section name"),
    (".bogus 1", None, 1, 1, 6, "unknown directive '.bogus'"),
    ("lock frob [%r1], %r2", "ubpf", 1, 6, 4, "unknown atomic operation 'frob'"),
    ("call local", "ubpf", 1, 6, 5, "'call local' needs a target"),
    ("call local", None, 1, 6, 5, "'call local' needs a target"),
    ("12: (07) r1 = 5", None, 1, 10, 6, "not the (07) written before it"),
    ("w1 = 5 ll", None, 1, 1, 2, "a 64-bit load needs a 64-bit register"),
    ("call foo#3", None, 1, 6, 3, None),
    ("call kernel-function", "kernel", 1, 21, 1, "expected the kfunc's BTF id: call kernel-function#N"),
    ("call kernel-function#x", "kernel", 1, 22, 1, "expected a number, got 'x'"),
    ("call kernel-function#7 8", "kernel", 1, 24, 1, "unexpected '8'"),
    ("call bpf_map_lookup_elem#2", None, 1, 6, 19, "helper bpf_map_lookup_elem is #1, not #2"),
]


@pytest.mark.parametrize("row", SINGLE, ids=[r[0] for r in SINGLE])
def test_one_error_located_exactly(row):
    text, dialect, line, column, length, fragment = row
    if fragment is None:  # `call foo#3`: an unknown name with a number is a kfunc in a kernel log, not an error
        assemble(text, dialect)
        return
    diags = _diags(text, dialect)
    assert len(diags) == 1, diags
    got_line, got_col, got_len, message = diags[0]
    assert (got_line, got_col, got_len) == (line, column, length), (message, diags)
    assert fragment in message


def test_every_error_is_reported_not_only_the_first():
    text = "\n".join([
        "r0 = 0",            # 1 fine
        "r11 = 1",           # 2 bad register
        "goto nowhere",      # 3 undefined label (found after the last line)
        "bogus r1",          # 4 unknown instruction
        "r1 = map[m] ll",    # 5 unknown map
        "dup:",              # 6
        "dup:",              # 7 duplicate label
        "exit",
    ])
    diags = _diags(text)
    assert [(d[0], d[1]) for d in diags] == [(2, 1), (3, 6), (4, 1), (5, 10), (7, 1)]
    assert "defined twice (first on line 6)" in diags[-1][3]


def test_rendered_error_has_file_line_column_and_caret():
    with pytest.raises(AsmError) as e:
        assemble("r0 = 0\n    r1 += 0x100000000\n", filename="prog.s")
    text = str(e.value)
    assert text.splitlines() == [
        "prog.s:2:11: error: immediate 4294967296 out of 32-bit range",
        "        r1 += 0x100000000",
        "              ^~~~~~~~~~~",
    ]
    assert (e.value.line, e.value.column) == (2, 11)


def test_jump_to_a_label_out_of_16_bit_range_asks_for_gotol():
    text = "goto far\n" + "r0 = 0\n" * 40000 + "far:\nexit\n"
    diags = _diags(text)
    assert diags == [(1, 6, 3, "jump to 'far' out of 16-bit range (offset 40000); use gotol")]
    program = assemble(text.replace("goto far", "gotol far"))
    assert program.instructions[0].imm == 40000


def test_llvm_dialect_rejects_ubpf_mnemonics_and_vice_versa():
    assert _diags("mov %r0, 1", "llvm")[0][3] == "unknown instruction 'mov'"
    assert _diags("r0 = 1", "ubpf")[0][3] == "unknown mnemonic 'r0'"


def test_implicit_exit_label_only_in_ubpf():
    assert _diags("if r0 == 0 goto exit\nexit", "llvm")[0][3] == "undefined label 'exit'"
    assemble("jeq %r0, 0, exit\nexit", "ubpf")
