"""Each API entry point raises only its own typed error on random input; any other exception is a bug.

`pyebpf.assemble` -> AsmError (every diagnostic at a real line and column), `Program.from_bytes`/`from_hex` ->
DecodeError, `VM.run`/`pyebpf.run` -> VmError (small instruction budget, both engines), `pyebpf.verify` ->
VerifierError, `pyebpf.disassemble` -> a PyebpfError at most. Inputs: random bytes, random text, mutated valid
programs and programs drawn from pyebpf.testing.strategies.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyebpf
from pyebpf.errors import AsmError, DecodeError, PyebpfError, VerifierError, VmError
from pyebpf.isa.program import Program
from pyebpf.testing.strategies import programs

EXAMPLES = int(os.environ.get("PYEBPF_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROG_TYPES = ["socket_filter", "xdp", "sched_cls", "kprobe", "tracepoint", "cgroup_skb"]

# the vocabulary of the assembler's dialects, to get past the first token more often than random text does
TOKENS = ["r0", "r1", "r10", "w2", "r11", "=", "+=", "*=", "s/=", "<<=", "*(u8 *)(r1 + 0)", "*(u64 *)(r10 - 8)",
          "map[m]", "ll", "call", "goto", "exit", "if", "==", "s>=", "&", "0x7fffffff", "-0x80000000",
          "0x1ffffffffffffffff", "lbl:", "lbl", ".map m hash key=4 value=8 max_entries=1", ".type xdp", ".type nope",
          "lock", "be32", "le16", "bswap16", "may_goto", "gotol", "callx", "bpf_ktime_get_ns", "mov", "mov32", "add",
          "ldxw", "stdw", "lddw", "jne", "ja", "%r0", ",", "+1", "-1", ";", "//", "#", "é", "\t", "\x00", ":"]
asm_texts = st.one_of(
    st.text(max_size=120),
    st.lists(st.lists(st.sampled_from(TOKENS), max_size=7).map(" ".join), max_size=8).map("\n".join),
)


@st.composite
def mutated_bytes(draw) -> bytes:
    data = bytearray(draw(programs(max_size=10)).to_bytes())
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


def decoded_or_none(data: bytes) -> Program | None:
    try:
        return Program.from_bytes(data)
    except DecodeError:
        return None


@FUZZ
@given(asm_texts, st.sampled_from([None, "llvm", "kernel", "ubpf"]))
def test_assemble_raises_only_asm_error(text: str, dialect: str | None):
    try:
        pyebpf.assemble(text, dialect=dialect)
    except AsmError as e:
        n_lines = max(1, len(text.splitlines()))
        assert e.diagnostics, "an AsmError without diagnostics"
        for diag in e.diagnostics:
            assert 1 <= diag.line <= n_lines + 1 and diag.column >= 1, diag
            assert "\n" not in diag.message, diag


@FUZZ
@given(st.one_of(st.binary(max_size=80), mutated_bytes()), st.sampled_from(["little", "big"]))
def test_from_bytes_raises_only_decode_error(data: bytes, byteorder: str):
    try:
        program = Program.from_bytes(data, byteorder) if byteorder == "big" else Program.from_bytes(data)
    except DecodeError as e:
        assert e.slot is None or 0 <= e.slot <= len(data) // 8, e
        return
    assert program.slot_count * 8 == len(data)
    assert program.to_bytes(byteorder) == data if byteorder == "big" else program.to_bytes() == data


@FUZZ
@given(st.one_of(st.text(max_size=80), st.binary(max_size=40).map(bytes.hex)))
def test_from_hex_raises_only_decode_error(text: str):
    try:
        Program.from_hex(text)
    except DecodeError:
        pass


@FUZZ
@given(st.one_of(programs(max_size=12).map(Program.to_bytes), mutated_bytes(), st.binary(min_size=8, max_size=96)),
       st.sampled_from(["interp", "compiled"]), st.sampled_from([None, *PROG_TYPES]), st.binary(max_size=64))
def test_vm_run_raises_only_vm_error(data: bytes, engine: str, prog_type: str | None, mem: bytes):
    program = decoded_or_none(data)
    if program is None:
        return
    try:
        pyebpf.VM(program, engine=engine, prog_type=prog_type, max_insns=200).run(mem=mem)
    except VmError as e:
        assert e.pc is None or 0 <= e.pc <= program.slot_count, e
    try:
        pyebpf.run(program, mem=mem, max_insns=200)
    except VmError:
        pass


@FUZZ
@given(st.one_of(programs(max_size=12).map(Program.to_bytes), mutated_bytes()), st.sampled_from(PROG_TYPES),
       st.booleans())
def test_verify_raises_only_verifier_error(data: bytes, prog_type: str, privileged: bool):
    program = decoded_or_none(data)
    if program is None:
        return
    try:
        pyebpf.verify(program, prog_type=prog_type, privileged=privileged)
    except VerifierError as e:
        assert e.insn is None or 0 <= e.insn <= program.slot_count, e
        assert "\n" not in e.message, e


@FUZZ
@given(st.one_of(programs(max_size=12).map(Program.to_bytes), mutated_bytes()),
       st.sampled_from(["llvm", "kernel", "ubpf"]))
def test_disassemble_raises_only_typed_errors(data: bytes, style: str):
    program = decoded_or_none(data)
    if program is None:
        return
    try:
        pyebpf.disassemble(program, style=style)
    except PyebpfError:
        pass


@pytest.mark.parametrize("call, error", [
    (lambda: pyebpf.assemble("r0 = \nexit\n"), AsmError),
    (lambda: Program.from_bytes(b"\x18" + bytes(7)), DecodeError),
    (lambda: pyebpf.VM(Program.from_hex("79100000000000009500000000000000"), max_insns=10).run(), VmError),
    (lambda: pyebpf.verify(Program.from_hex("bf500000000000009500000000000000"), prog_type="xdp"), VerifierError),
])
def test_the_typed_errors_do_happen(call, error):
    """The fuzz tests above would pass vacuously if nothing raised: each entry point does raise its own type."""
    with pytest.raises(error):
        call()


# ---- the builder and the encoder: malformed instructions are refused where they are made ------------------------

def _builder():
    from pyebpf.isa.builder import Builder

    return Builder("socket_filter")


@pytest.mark.parametrize("make", [
    pytest.param(lambda b, R: b.be(R[0], 7), id="be-7-bits"),
    pytest.param(lambda b, R: b.le(R[0], 8), id="le-8-bits"),
    pytest.param(lambda b, R: b.bswap(R[0], 0), id="bswap-0-bits"),
    pytest.param(lambda b, R: b.movsx(R[0], R[1], 64), id="movsx-64"),
    pytest.param(lambda b, R: b.movsx(R[0].w, R[1].w, 32), id="movsx32-from-32"),
    pytest.param(lambda b, R: b.ld_abs("u64", 0), id="ld_abs-u64"),
    pytest.param(lambda b, R: b.ld_ind("u64", R[1], 0), id="ld_ind-u64"),
    pytest.param(lambda b, R: b.call(1 << 40), id="helper-id-over-32-bits"),
    pytest.param(lambda b, R: b.call_kfunc(1 << 40), id="kfunc-id-over-32-bits"),
])
def test_builder_refuses_instructions_the_kernel_calls_malformed(make):
    """Before: these built a Program whose bytes the kernel rejects ("uses reserved fields") or struct.error."""
    from pyebpf.errors import BuildError
    from pyebpf.isa import builder

    registers = [getattr(builder, f"R{i}") for i in range(11)]
    with pytest.raises(BuildError):
        make(_builder(), registers)


def test_builder_accepts_the_valid_forms():
    from pyebpf.isa.builder import R0, R1

    program = _builder().be(R0, 16).le(R0, 64).bswap(R0, 32).movsx(R0, R1, 32).movsx(R0.w, R1.w, 16) \
        .ld_abs("u8", 0).ld_ind("u32", R1, 2).call(1).mov(R0, 0).exit().build()
    assert all(insn.validate() is None for insn in program.instructions)


@pytest.mark.parametrize("insn, field", [
    (dict(opcode=0x85, imm=1 << 40), "imm"),
    (dict(opcode=0xB7, dst=16), "dst"),  # would carry into src: silently another instruction
    (dict(opcode=0xB7, src=16), "src"),
    (dict(opcode=0xB7, off=1 << 15), "off"),
    (dict(opcode=0x18, imm=1 << 70), "imm"),  # lddw: was silently truncated to 64 bits
    (dict(opcode=0x100), "opcode"),
])
def test_encoding_out_of_range_fields_is_a_typed_error(insn, field):
    from pyebpf.errors import BuildError
    from pyebpf.isa.instruction import Instruction, encode

    bad = Instruction(**{"dst": 0, "src": 0, "off": 0, "imm": 0, **insn})
    for encoder in (lambda: encode([Instruction(0x18, imm=1), bad]), lambda: bad.encode("big"),
                    lambda: Program([Instruction(0x18, imm=1), bad]).to_bytes()):
        with pytest.raises(BuildError) as e:
            encoder()
        assert field in str(e.value)
    with pytest.raises(BuildError, match="slot 2"):
        encode([Instruction(0x18, imm=1), bad])


def test_unknown_map_type_is_a_value_error():
    from pyebpf.abi.maps import MapSpec

    with pytest.raises(ValueError, match="unknown map type 'nosuchtype'"):
        MapSpec.of("m", "nosuchtype", 4, 8, 1)
