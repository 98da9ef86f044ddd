"""Instruction encode/decode, and the decoder's rejections compared with the running kernel's verdicts.

The decoder must reject exactly the malformed instructions the kernel rejects as malformed (unknown opcode,
reserved fields, bad lddw), naming slot and byte offset; and whatever it accepts, the kernel must not reject for
one of those structural reasons.
"""
from __future__ import annotations

import errno
import re
import struct

import pytest
from hypothesis import Phase, example, given, settings, strategies as st

from helpers.kernel_log import first_error, prog_load
from pyebpf.abi.opcodes import OP_CALLX, OP_EXIT, OP_LD_IMM64
from pyebpf.errors import DecodeError
from pyebpf.isa.instruction import VALID_OPCODES, Instruction as I, decode, encode, iter_decode

#: r6 = ctx (LD_ABS/IND check it before their registers), the other registers = 0: no instruction after it fails for
#: reading an uninitialised register before the kernel gets to the check we compare with.
PRELUDE = encode([I(0xBF, 6, 1)] + [I(0xB7, r, 0, 0, 0) for r in range(10) if r != 6])
EPILOGUE = encode([I(0xB7, 0, 0, 0, 0), I(OP_EXIT)])
BAD_SLOT = 10
STRUCTURAL = ("unknown opcode", "uses reserved fields", "invalid bpf_ld_imm64", "unrecognized bpf_ld_imm64",
              "invalid atomic", "BPF_ATOMIC uses invalid atomic opcode", "invalid may_goto",
              "addr_space_cast insn can only convert", "invalid BPF_LD_IMM", "BPF_LDX uses reserved", "BPF_STX uses reserved")
#: Checks the kernel runs before do_check's reserved-field checks; when one of them fires first on bytes we reject,
#: the verdict is still the same (e.g. lddw src=BPF_PSEUDO_FUNC with a bad target and a non-zero off).
EARLIER = ("call to invalid destination", "jump out of range", "unreachable insn", "last insn is not")


def raw(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, (src << 4) | dst, off, imm)


# ---- encoding basics --------------------------------------------------------------------------------------------

def test_field_layout_little_and_big_endian():
    insn = I(0x61, 1, 2, -4, 0x11223344)  # ldxw with a (reserved) imm, so that every field is visible
    assert insn.encode() == bytes([0x61, 0x21, 0xFC, 0xFF, 0x44, 0x33, 0x22, 0x11])
    assert insn.encode("big") == bytes([0x61, 0x12, 0xFF, 0xFC, 0x11, 0x22, 0x33, 0x44])
    assert decode(insn.encode("big"), "big", validate=False) == [insn]
    assert decode(insn.encode(), validate=False) == [insn]


def test_lddw_is_one_instruction_of_two_slots():
    insn = I(OP_LD_IMM64, 3, 0, 0, -0x0123456789ABCDEF)
    data = insn.encode()
    assert len(data) == 16 and insn.slots == 2
    assert data[8:12] == b"\0\0\0\0"
    assert decode(data) == [insn]
    assert (insn.imm_hi << 32 | insn.imm_lo) == insn.imm & 0xFFFFFFFFFFFFFFFF
    assert list(iter_decode(data + I(OP_EXIT).encode())) == [(0, insn), (2, I(OP_EXIT))]


def test_jump_targets_count_slots():
    ja = I(0x05, off=3)
    gotol = I(0x06, imm=-2)
    call = I(0x85, src=1, imm=5)
    assert (ja.target(4), gotol.target(4), call.target(4)) == (8, 3, 10)
    assert ja.is_branch and gotol.is_branch and not call.is_branch and call.is_pseudo_call


# ---- rejections: our DecodeError and the kernel's verdict on the same bytes -------------------------------------

REJECTS = [
    ("unknown opcode", raw(0x8E), "unknown opcode 8e", "unknown opcode 8e"),
    ("ja with X", raw(0x0D), "unknown opcode 0d", "unknown opcode 0d"),
    ("alu K with src", raw(0x07, 1, 2, 0, 1), "BPF_ALU uses reserved fields", "BPF_ALU uses reserved fields"),
    ("alu X with imm", raw(0x0F, 1, 2, 0, 1), "BPF_ALU uses reserved fields", "BPF_ALU uses reserved fields"),
    ("alu with off", raw(0x07, 1, 0, 3, 1), "BPF_ALU uses reserved fields", "BPF_ALU uses reserved fields"),
    ("mov with off", raw(0xB7, 1, 0, 8, 1), "BPF_MOV uses reserved fields", "BPF_MOV uses reserved fields"),
    ("movsx bad width", raw(0xBC, 1, 2, 32), "BPF_MOV uses reserved fields", "BPF_MOV uses reserved fields"),
    ("neg with imm", raw(0x87, 1, 0, 0, 1), "BPF_NEG uses reserved fields", "BPF_NEG uses reserved fields"),
    ("end bad width", raw(0xD4, 1, 0, 0, 8), "BPF_END uses reserved fields", "BPF_END uses reserved fields"),
    ("exit with dst", raw(0x95, 1), "BPF_EXIT uses reserved fields", "BPF_EXIT uses reserved fields"),
    ("ja with imm", raw(0x05, 0, 0, 0, 1), "BPF_JA uses reserved fields", "BPF_JA uses reserved fields"),
    ("call with dst", raw(0x85, 1, 0, 0, 5), "BPF_CALL uses reserved fields", "BPF_CALL uses reserved fields"),
    ("jmp K with src", raw(0x15, 1, 2, 0, 0), "BPF_JMP/JMP32 uses reserved fields",
     "BPF_JMP/JMP32 uses reserved fields"),
    ("stx with imm", raw(0x7B, 10, 1, -8, 1), "BPF_STX uses reserved fields", "BPF_STX uses reserved fields"),
    ("ldx with imm", raw(0x79, 1, 10, -8, 1), "BPF_LDX uses reserved fields", "BPF_LDX uses reserved fields"),
    ("st with src", raw(0x7A, 10, 1, -8, 1), "BPF_ST uses reserved fields", "BPF_ST uses reserved fields"),
    ("bad atomic op", raw(0xDB, 10, 1, -8, 0x02), "BPF_ATOMIC uses invalid atomic opcode 02",
     "BPF_ATOMIC uses invalid atomic opcode 02"),
    ("lddw second slot opcode", raw(0x18, 1) + raw(0x18), "invalid bpf_ld_imm64 insn", "invalid bpf_ld_imm64 insn"),
    ("lddw bad pseudo", raw(0x18, 1, 9) + raw(0), "unrecognized bpf_ld_imm64 insn",
     "unrecognized bpf_ld_imm64 insn"),
]


def around(bad: bytes) -> bytes:
    """The bad instruction at slot 10 of a program the kernel's CFG check accepts (an exit must come last)."""
    return PRELUDE + bad + (b"" if bad[0] == OP_EXIT else EPILOGUE)


@pytest.mark.parametrize("name,bad,ours,_", REJECTS, ids=[r[0] for r in REJECTS])
def test_decoder_rejects_naming_slot_and_offset(name, bad, ours, _):
    with pytest.raises(DecodeError) as e:
        decode(around(bad))
    assert ours in e.value.message
    assert (e.value.slot, e.value.offset) in ((BAD_SLOT, BAD_SLOT * 8), (BAD_SLOT + 1, (BAD_SLOT + 1) * 8))
    assert f"slot {e.value.slot} (byte offset {e.value.offset})" in str(e.value)


def test_truncated_lddw_and_trailing_bytes():
    with pytest.raises(DecodeError) as e:
        decode(PRELUDE + raw(0x18, 1))
    assert (e.value.slot, e.value.offset) == (BAD_SLOT, BAD_SLOT * 8) and "bpf_ld_imm64" in e.value.message
    with pytest.raises(DecodeError) as e:
        decode(PRELUDE + b"\x95\0\0")
    assert (e.value.slot, e.value.offset) == (BAD_SLOT, BAD_SLOT * 8)


def test_registers_above_r10_are_rejected():
    for bad in (raw(0xB7, 11, 0, 0, 1), raw(0xBF, 1, 12), raw(0x79, 15, 1)):
        with pytest.raises(DecodeError) as e:
            decode(PRELUDE + bad + EPILOGUE)
        assert e.value.slot == BAD_SLOT and "R1" in e.value.message


@pytest.mark.kernel
@pytest.mark.parametrize("name,bad,_,kernels", REJECTS, ids=[r[0] for r in REJECTS])
def test_kernel_rejects_the_same_bytes_with_the_same_words(name, bad, _, kernels):
    result = prog_load(around(bad))
    assert not result.accepted
    assert kernels in result.log, result.log[-800:]


@pytest.mark.kernel
def test_kernel_rejects_truncated_lddw_and_big_registers():
    # the kernel's CFG pass sees the cut lddw first and says "last insn is not an exit or jmp": same verdict
    truncated = prog_load(PRELUDE + raw(0x18, 1))
    assert not truncated.accepted and truncated.errno == errno.EINVAL
    for bad in (raw(0xB7, 11, 0, 0, 1), raw(0xBF, 1, 12)):
        result = prog_load(PRELUDE + bad + EPILOGUE)
        assert not result.accepted and "is invalid" in result.log, result.log[-500:]


def _words() -> st.SearchStrategy[bytes]:
    """Random instruction words, biased to real opcodes with small fields so both verdicts occur."""
    opcode = st.one_of(st.sampled_from(sorted(VALID_OPCODES)), st.integers(0, 255))
    field = lambda bits: st.one_of(st.just(0), st.integers(0, 3), st.integers(-(1 << (bits - 1)),  # noqa: E731
                                                                           (1 << (bits - 1)) - 1))
    return st.builds(_word, opcode, st.integers(0, 11), st.integers(0, 11), field(16),
                     st.sampled_from([0, 1, 8, 16, 32, 64, 0x100, 0xE1, -1]))


def _word(opcode: int, dst: int, src: int, off: int, imm: int) -> bytes:
    """Jumps go to the next instruction: the kernel's CFG pass (which runs first) must not reject the layout."""
    if opcode == 0x85 and src == 2:
        dst = off = 0  # a kfunc's BTF id is resolved before the call's reserved fields are checked
    if opcode == OP_LD_IMM64 and src:
        off = 0  # the kernel resolves a pseudo source (map fd, BTF id, ...) before it looks at off
    if opcode & 0x07 in (0x05, 0x06):
        off = 0
        if opcode == 0x06 or (opcode == 0x85 and src == 1):
            imm = 0
    return raw(opcode, dst, src, off, imm)


@pytest.mark.kernel
@settings(max_examples=400, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(word=_words())
# a well-formed addr_space_cast the kernel refuses for a semantic reason (no arena map), not a structural one
@example(word=_word(0xBF, 2, 2, 1, 1))
def test_same_structural_verdict_as_the_kernel(word):
    data = around(word + (raw(0) if word[0] == OP_LD_IMM64 else b""))
    try:
        decode(data)
        ours = None
    except DecodeError as e:
        ours = e.message
    result = prog_load(data)
    theirs = first_error(result.log) if not result.accepted else None
    kernel_structural = theirs is not None and (any(s in theirs for s in STRUCTURAL)
                                                or re.fullmatch(r"R\d+ is invalid", theirs) is not None)
    if ours is None:
        if word[0] == OP_CALLX:
            # RFC 9669's callx: the decoder accepts it for the VM and conformance; Linux has no such opcode
            assert theirs == "unknown opcode 8d"
            return
        assert not kernel_structural, (word.hex(), theirs)
    else:
        assert not result.accepted, (word.hex(), ours)
        assert kernel_structural or any(e in theirs for e in EARLIER), (word.hex(), ours, theirs)


# ---- the column decoder and the instruction-at-a-time loop agree ---------------------------------------------------

_WORDS = st.one_of(
    st.binary(min_size=8, max_size=8),  # anything, mostly invalid
    st.sampled_from([bytes.fromhex(h) for h in (
        "b701000001000000", "0710000000000080", "bf21000000000000", "7b1af8ff00000000", "61210400ffffffff",
        "1801000078563412", "0000000021436587", "1800000000000000", "9500000000000000", "d701000010000000",
        "850000000c000000", "2d12050000000000", "e500000000000000", "db1a000001000000")]))


@settings(max_examples=300)
@given(words=st.lists(_WORDS, max_size=24), validate=st.booleans())
def test_column_decoder_agrees_with_the_loop(words: list[bytes], validate: bool) -> None:
    """The fast little-endian column decoder gives the loop's (slot, instruction) pairs, or the loop's DecodeError
    (it hands every irregular stream to the loop, which names the first bad slot)."""
    from pyebpf.errors import DecodeError
    from pyebpf.isa.instruction import _decode_columns, _decode_loop

    data = b"".join(words)

    def outcome(fn):
        try:
            slots, insns = fn(data, "little", validate)
            return list(zip(slots, insns))
        except DecodeError as e:
            return ("error", str(e))

    assert outcome(_decode_columns) == outcome(_decode_loop)
