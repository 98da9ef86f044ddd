"""Classic text both ways: tcpdump -d / -dd / -ddd, bpf_asm source and its raw output; round trips and errors."""
from __future__ import annotations

import pytest
from cbpf_programs import programs
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.cbpf import SKF_AD_OFF, CClass, CMode, CSize
from pyebpf.cbpf import ClassicProgram, SockFilter, assemble, detect_format, disassemble, looks_classic
from pyebpf.cbpf.text import parse
from pyebpf.cbpf.disasm import JA, LEN, NONE, OPERANDS, RET_A, RET_X, XREG
from pyebpf.errors import AsmError, DecodeError

TCPDUMP_D = """\
(000) ldh      [12]
(001) jeq      #0x800           jt 2\tjf 5
(002) ldb      [23]
(003) jeq      #0x1             jt 4\tjf 5
(004) ret      #262144
(005) ret      #0
"""
TCPDUMP_DD = """\
{ 0x28, 0, 0, 0x0000000c },
{ 0x15, 0, 3, 0x00000800 },
{ 0x30, 0, 0, 0x00000017 },
{ 0x15, 0, 1, 0x00000001 },
{ 0x6, 0, 0, 0x00040000 },
{ 0x6, 0, 0, 0x00000000 },
"""
BPF_ASM = """
; icmp over IPv4, as tools/bpf/bpf_asm writes it
        ldh [12]
        jne #0x800, drop        /* not IPv4 */
        ldb [23]
        jneq #1, drop
        ret #262144
drop:   ret #0
"""


def test_the_three_spellings_of_one_program_are_the_same_program():
    a, b, c = assemble(TCPDUMP_D), assemble(TCPDUMP_DD), assemble(BPF_ASM, "bpf_asm")
    assert a == b == c
    assert disassemble(a) == TCPDUMP_D
    assert disassemble(a, "c") == TCPDUMP_DD
    assert assemble(disassemble(a, "ddd")) == a
    assert assemble(disassemble(a, "bpf_asm_raw")) == a
    assert disassemble(a, "bpf_asm_raw") == "6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 1,6 0 0 262144,6 0 0 0,\n"


def test_detection():
    assert detect_format(TCPDUMP_D) == "tcpdump"
    assert detect_format(TCPDUMP_DD) == "c"
    assert detect_format("2\n6 0 0 1\n6 0 0 0\n") == "ddd"
    assert detect_format("1,6 0 0 0,") == "bpf_asm_raw"
    assert detect_format(BPF_ASM) == "bpf_asm"
    assert looks_classic(TCPDUMP_D) and looks_classic(TCPDUMP_DD) and not looks_classic("r0 = 1\nexit\n")


def test_bpf_asm_forms():
    prog = assemble("""
        ld #len
        ldx 4*([14]&0xf)
        ldh [x + 14]
        ld M[0]
        ldi #7
        ldxi 3
        ld #proto
        ldb vlan_avail
        ldh #rxhash
        st M[3]
        stx M[15]
        jset #0x1fff, a1, a1
    a1: jgt %x, b2
    b2: jlt #5, c3
    c3: jmp dd
    dd: add #-1
        mod x
        neg
        tax
        txa
        ret %a
    """, "bpf_asm")
    ad = lambda n: (SKF_AD_OFF + n) & 0xFFFFFFFF  # noqa: E731
    assert [tuple(i) for i in prog][:9] == [
        (CClass.LD | CSize.W | CMode.LEN, 0, 0, 0), (0xB1, 0, 0, 14), (0x48, 0, 0, 14), (0x60, 0, 0, 0),
        (0x00, 0, 0, 7), (0x01, 0, 0, 3), (0x20, 0, 0, ad(0)), (0x30, 0, 0, ad(48)), (0x28, 0, 0, ad(32))]
    assert tuple(prog[11]) == (0x45, 0, 0, 0x1FFF)
    assert tuple(prog[12]) == (0x2D, 0, 0, 0)
    assert tuple(prog[13]) == (0x35, 0, 0, 5)  # jlt = jge with its one label as jf
    assert tuple(prog[15]) == (0x04, 0, 0, 0xFFFFFFFF)
    assert assemble(disassemble(prog, "bpf_asm"), "bpf_asm") == prog
    assert assemble(disassemble(prog, "tcpdump")) == prog


def test_tcpdump_prints_ancillary_loads_by_libpcap_name():
    prog = ClassicProgram([SockFilter(0x30, 0, 0, (SKF_AD_OFF + 48) & 0xFFFFFFFF), SockFilter(0x16)])
    assert disassemble(prog).splitlines()[0] == "(000) ldb      [vlanp]"
    assert disassemble(prog, "bpf_asm").splitlines()[0] == "\tldb #vlan_avail"
    assert assemble(disassemble(prog)) == prog


@pytest.mark.parametrize("text,fmt,where,message", [
    ("ldh [12]\njeq #1, nowhere\nret #0", "bpf_asm", (2, 9), "no such label"),
    ("top: ret #0\njmp top", "bpf_asm", (2, 5), "backwards"),
    ("ldh [12]\nfrob #1\nret #0", "bpf_asm", (2, 1), "unknown classic instruction"),
    ("ld #99999999999\nret a", "bpf_asm", (1, 4), "does not fit"),
    ("(000) ldh      [12]\n(002) ret      #0\n", "tcpdump", (2, 1), "instruction 1 was expected"),
    ("(000) jeq      #0x1             jt 0\tjf 1\n(001) ret #0\n", "tcpdump", (1, 16), "not 1..256"),
    ("{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 999, 0 },\n", "c", (2, 1), "jf 999"),
    ("", None, (1, 1), "no instructions"),
])
def test_errors_name_line_and_column(text: str, fmt: str | None, where: tuple[int, int], message: str):
    with pytest.raises(AsmError) as e:
        assemble(text, fmt)
    assert (e.value.line, e.value.column) == where and message in e.value.message


def test_every_bad_line_is_reported():
    with pytest.raises(AsmError) as e:
        assemble("frob\nldh [12]\nblah #1\nret #0", "bpf_asm")
    assert [d.line for d in e.value.diagnostics] == [1, 3]


def test_bytes_round_trip_and_bad_lengths():
    prog = assemble(TCPDUMP_D)
    assert ClassicProgram.from_bytes(prog.to_bytes()) == prog
    with pytest.raises(DecodeError):
        ClassicProgram.from_bytes(b"\x00" * 9)
    assert "unimp" in disassemble(ClassicProgram([SockFilter(0xFF, 0, 0, 0)]))
    with pytest.raises(DecodeError):
        disassemble(ClassicProgram([SockFilter(0xFF, 0, 0, 0)]), "bpf_asm")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 255),
                          st.integers(0, 0xFFFFFFFF)), min_size=1, max_size=20))
def test_raw_formats_round_trip_any_instruction(insns: list[tuple[int, int, int, int]]):
    prog = ClassicProgram(insns)
    for fmt in ("c", "ddd", "bpf_asm_raw"):
        assert assemble(disassemble(prog, fmt), fmt) == prog
    assert ClassicProgram.from_bytes(prog.to_bytes()) == prog


def _canonical(insn: SockFilter) -> SockFilter:
    kind = OPERANDS[insn.code][1]
    k = 0 if kind in (XREG, NONE, RET_A, RET_X, LEN) else insn.k
    jumps = insn.cls == CClass.JMP and kind != JA
    return SockFilter(insn.code, insn.jt if jumps else 0, insn.jf if jumps else 0, k)


@settings(max_examples=300)
@given(programs(valid=True))
def test_symbolic_formats_round_trip_valid_programs(prog: ClassicProgram):
    """Up to the fields the instruction does not use (k of `mul x`, jt/jf of a non-jump), which the symbolic
    syntaxes have no place for and the kernel ignores; the raw formats above keep them."""
    assert all(i.code in OPERANDS for i in prog)
    prog = ClassicProgram(_canonical(i) for i in prog)
    assert assemble(disassemble(prog, "tcpdump"), "tcpdump") == prog
    assert assemble(disassemble(prog, "bpf_asm"), "bpf_asm") == prog


_ALPHABET = "0123456789abcdefx#[]()*&+-%:,;/{} \n\tMjeqldhbretLX"


@settings(max_examples=400)
@given(st.text(alphabet=_ALPHABET, max_size=200), st.sampled_from([None, "tcpdump", "c", "ddd", "bpf_asm_raw",
                                                                   "bpf_asm"]))
def test_hostile_text_gives_a_program_or_asm_error(text: str, fmt: str | None):
    try:
        prog = assemble(text, fmt)
    except AsmError as e:
        assert e.diagnostics and e.line >= 0
    else:
        assert len(prog) >= 1


def test_huge_numbers_are_errors_not_tracebacks():
    with pytest.raises(AsmError, match="expected a number"):
        assemble("ld #" + "9" * 5000 + "\nret a", "bpf_asm")


def test_docs_example_runs():
    """docs/classic-and-usdt.md's Python example runs as written."""
    import re
    import shutil
    from pathlib import Path

    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump is not installed (scripts/setup.sh installs it)")
    doc = Path(__file__).resolve().parents[2] / "docs" / "classic-and-usdt.md"
    (block,) = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    exec(compile(block, str(doc), "exec"), {"__name__": "classic_doc_example"})


@pytest.mark.parametrize("text", [
    "7,,,x\nexit\n",          # bpf_asm raw output with empty instructions (found by the fuzz campaign: TypeError)
    "2,6 0 0 1,,6 0 0 1\n",
])
def test_bpf_asm_raw_with_missing_fields_is_an_asm_error(text: str):
    with pytest.raises(AsmError, match="code jt jf k"):
        parse(text, "bpf_asm_raw")


def test_superscript_digits_are_not_a_ddd_count():
    # "²" passes str.isdigit() but not int() (found by the fuzz campaign: ValueError from `pyebpf disasm`)
    assert detect_format("²0\n6 0 0 1\n") == "bpf_asm"
    with pytest.raises(AsmError, match="count"):
        parse("²\n6 0 0 1\n", "ddd")
