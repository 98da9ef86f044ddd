"""fast_llvm and fast_ubpf (each dialect's common lines read the short way) answer exactly as parse_llvm and
parse_ubpf do, or not at all.

The assembler asks the fast readers first, so any line where the two disagree would assemble differently; a line the
full parser refuses must get None from the fast reader (the full parser then words the diagnostic).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.errors import AsmError
from pyebpf.isa.asm_llvm import parse_llvm
from pyebpf.isa.asm_llvm_fast import fast_llvm
from pyebpf.isa.asm_ubpf import fast_ubpf, parse_ubpf
from pyebpf.isa.asm_syntax import LineError
from pyebpf.isa.assembler import assemble

KERNEL_MODES = (False, True, None)

_REGS = st.sampled_from(["r0", "r1", "r9", "r10", "w0", "w3", "w10", "R2", "r11", "w11", "x1", "r01"])
_NUMS = st.one_of(
    st.integers(-(1 << 33), 1 << 33).map(str),
    st.integers(0, 1 << 65).map(hex),
    st.integers(-(1 << 65), 0).map(lambda v: "-" + hex(-v)),
    st.sampled_from(["2147483647", "2147483648", "4294967295", "4294967296", "-2147483648", "-2147483649",
                     "32767", "32768", "-32768", "-32769", "0X1f", "007", "+5", "1_0", "0x", "٣", "0b11", "0o7",
                     "9" * 21, "-", "--1", "+-1", "5x"]),
)
_WORDS = st.one_of(_REGS, _NUMS, st.sampled_from(["L1", "pc", "local", "helper", "kfunc", "runtime", "kernel",
                                                  "bpf_map_lookup_elem", "LBB0_3", ".Ltmp", "L1-x", "exit", "ll"]))
_OPS = st.sampled_from(["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "%=", "^=", "s>>=", "s/=", "s%=", "=",
                        "==", "!=", ">", ">=", "<", "<=", "s>", "s<", "&", "s>=", "s<=", "+"])
_TYPES = st.sampled_from(["u8", "u16", "u32", "u64", "s8", "s16", "s32", "u128"])
_SPACE = st.sampled_from([" ", " ", " ", "", "  ", "\t"])


@st.composite
def _addr(draw) -> str:
    reg = draw(_REGS)
    form = draw(st.integers(0, 3))
    if form == 0:
        return f"({reg})"
    sign = draw(st.sampled_from(["+", "-"]))
    num = draw(_NUMS)
    return f"({reg} {sign} {num})" if form == 1 else f"({reg} {sign}{num})" if form == 2 else f"({reg}{sign}{num})"


@st.composite
def _line(draw) -> str:
    r, s, n, op = draw(_REGS), draw(_REGS), draw(_NUMS), draw(_OPS)
    kind = draw(st.integers(0, 16))
    forms = [
        lambda: f"{r} {op} {draw(st.one_of(_REGS, _NUMS))}",
        lambda: f"{r} = {n}",
        lambda: f"{r} = {n} ll",
        lambda: f"{r} = ({draw(_TYPES)}){s}",
        lambda: f"{r} = {draw(st.sampled_from(['be16', 'le32', 'bswap64', 'be8']))} {s}",
        lambda: f"{r} = *({draw(_TYPES)} *){draw(_addr())}",
        lambda: f"*({draw(_TYPES)} *){draw(_addr())} = {draw(st.one_of(_REGS, _NUMS))}",
        lambda: f"lock *({draw(_TYPES)} *){draw(_addr())} {op} {s}",
        lambda: f"{r} = {draw(st.sampled_from(['atomic_fetch_add', 'atomic64_fetch_xor', 'atomic_fetch_nand']))}"
                f"(({draw(_TYPES)} *){draw(_addr())}, {s})",
        lambda: f"if {r} {op} {draw(st.one_of(_REGS, _NUMS))} goto {draw(_WORDS)}",
        lambda: f"if {r} {op} {draw(st.one_of(_REGS, _NUMS))} goto {draw(st.sampled_from(['+', '-', '']))}{n}",
        lambda: f"goto {draw(_WORDS)}",
        lambda: f"goto +{n}",
        lambda: f"call {draw(_WORDS)}",
        lambda: "exit",
        lambda: f"{r} = -{s}",
        lambda: " ".join(draw(st.lists(_WORDS, min_size=1, max_size=4))),
    ]
    text = forms[kind]()
    if draw(st.integers(0, 9)) == 0:  # another spacing somewhere
        parts = text.split(" ")
        i = draw(st.integers(0, max(0, len(parts) - 2)))
        text = " ".join(parts[:i + 1]) + draw(_SPACE) + " ".join(parts[i + 1:])
    return text.strip()


def _full(text: str, kernel: bool | None):
    try:
        return parse_llvm(text, kernel)
    except LineError:
        return None


def _check(text: str) -> None:
    for kernel in KERNEL_MODES:
        fast = fast_llvm(text, kernel)
        if fast is not None:
            assert fast == _full(text, kernel), (text, kernel)


@settings(max_examples=400)
@given(_line())
def test_fast_path_agrees_with_the_full_parser(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("text", ["r0 =  0 ll", "if r1 > r2 goto", "goto  +1", "r1 = *(u32 *)(r1 + 0x10)", "call  5",
                                  "*(u64 *)(r10 - 8) =  r1", "r1 = 5 ll ll", "lock *(u64 *)(r1 + 0) += w1"])
def test_odd_spellings_go_to_the_full_parser(text: str) -> None:
    assert fast_llvm(text, False) is None
    _check(text)


def _benchmark_lines() -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import isa_speed

    llvm, _ = isa_speed.make_program(3000, seed=7)
    return [x.strip() for x in llvm.splitlines() if not x.endswith(":")]


def test_fast_path_takes_the_benchmark_program() -> None:
    """Every line of the speed benchmark's program goes the fast way (else the figure measures the slow one)."""
    lines = _benchmark_lines()
    taken = [t for t in lines if fast_llvm(t, False) is not None]
    assert len(taken) == len(lines)
    for text in lines:
        _check(text)


@pytest.mark.parametrize("text", [
    "r1 += r2", "w1 -= -5", "r1 = 4294967295", "r1 = 0xffffffff", "r1 = -1 ll", "w2 = (s8)w3",
    "r0 = *(u32 *)(r1 + 4)", "r0 = *(s16 *)(r10 -8)", "*(u64 *)(r10 - 8) = r1", "*(u8 *)(r1 + 0) = -1",
    "lock *(u64 *)(r10 - 8) += r1", "r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)", "if w1 s< -5 goto +2",
    "if r1 == r2 goto LBB0_3", "goto -1", "call 12", "call bpf_map_lookup_elem", "exit", "r1 = be16 r1",
])
def test_common_lines_take_the_fast_path(text: str) -> None:
    assert fast_llvm(text, False) is not None
    _check(text)


def test_programs_and_errors_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole program assembles to the same instructions and the same diagnostics with the fast path as
    without it."""
    import pyebpf.isa.assembler as asm_mod

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import isa_speed

    good, _ = isa_speed.make_program(3000, seed=11)
    lines = _benchmark_lines()
    random.Random(3).shuffle(lines)
    bad = "\n".join(lines[:40] + ["r1 += 99999999999", "r11 = 1", "*(u64 *)(r10 - 8) = w1", "goto nowhere",
                                  "if r1 > w2 goto +1", "w1 = 1 ll"] + lines[40:80]) + "\n"
    results = []
    for fast in (asm_mod.fast_llvm, lambda text, kernel: None):
        monkeypatch.setattr(asm_mod, "fast_llvm", fast)
        for dialect in ("llvm", None):
            with pytest.raises(AsmError) as e:
                assemble(bad, dialect)
            program = assemble(good, dialect)
            results.append((str(e.value), program.instructions, program.labels))
    assert results[0] == results[2] and results[1] == results[3]
    assert "<input>:41:" in results[0][0] and "undefined label" in results[0][0]  # there were diagnostics


# ---- uBPF dialect ------------------------------------------------------------------------------------------------

_UREGS = st.sampled_from(["%r0", "%r1", "%r10", "r2", "%r11", "%w1", "%R1", "r", "%r01"])
_UMNEMONICS = st.sampled_from(["add", "add32", "sub64", "mov", "mov32", "sdiv", "smod32", "neg", "ldxw", "ldxsh",
                               "ldxdw", "stxb", "stdw", "sth", "jeq", "jsgt32", "jset", "ja", "exit", "call", "lddw",
                               "be16", "movsx832", "lock", "Add", "nope"])


@st.composite
def _umem(draw) -> str:
    reg = draw(_UREGS)
    form = draw(st.integers(0, 3))
    num = draw(_NUMS)
    return [f"[{reg}]", f"[{reg}+{num}]", f"[{reg}-{num}]", f"[ {reg} + {num} ]"][form]


_UTARGETS = st.one_of(_NUMS.map(lambda n: n if n[:1] in "+-" else "+" + n),
                      st.sampled_from(["L1", "exit", "r1", "%r1", "+3", "-2", "L1-x", "Lé", "1"]))


@st.composite
def _uline(draw) -> str:
    reg, num, mem = _UREGS, _NUMS, _umem()
    shapes = {
        "alu": (st.sampled_from(["add", "add32", "sub64", "mov", "mov32", "sdiv", "smod32", "lsh", "arsh32", "Add"]),
                [reg, st.one_of(reg, num)]),
        "ldx": (st.sampled_from(["ldxw", "ldxsh", "ldxdw", "ldxb", "ldxsw"]), [reg, mem]),
        "stx": (st.sampled_from(["stxb", "stxdw", "stxw"]), [mem, reg]),
        "st": (st.sampled_from(["stdw", "sth", "stb"]), [mem, num]),
        "jmp": (st.sampled_from(["jeq", "jsgt32", "jset", "jne32"]), [reg, st.one_of(reg, num), _UTARGETS]),
        "other": (_UMNEMONICS, [st.one_of(reg, num, mem, _UTARGETS, st.sampled_from(["fetch add [%r1]", "map[m]",
                                                                                    ""]))] * 3),
    }
    mnemonic_st, operand_sts = shapes[draw(st.sampled_from(sorted(shapes)))]
    mnemonic = draw(mnemonic_st)
    ops_ = [draw(o) for o in operand_sts]
    if draw(st.integers(0, 5)) == 0:
        ops_ = ops_[:draw(st.integers(0, len(ops_)))] + draw(st.lists(reg, max_size=1))
    sep = draw(st.sampled_from([", ", ", ", ", ", ",", " , ", ",  "]))
    text = mnemonic + (draw(st.sampled_from([" ", " ", " ", "\t", "  "])) + sep.join(ops_) if ops_ else "")
    return text.strip()


def _ufull(text: str):
    try:
        return parse_ubpf(text)
    except LineError:
        return None


@settings(max_examples=400)
@given(_uline())
def test_fast_ubpf_agrees_with_parse_ubpf(text: str) -> None:
    fast = fast_ubpf(text)
    if fast is not None:
        assert fast == _ufull(text), text


def test_fast_ubpf_takes_the_benchmark_program() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import isa_speed

    _, text = isa_speed.make_program(3000, seed=7)
    lines = [x.strip() for x in text.splitlines() if not x.endswith(":")]
    assert all(fast_ubpf(t) is not None and fast_ubpf(t) == _ufull(t) for t in lines)


def test_ubpf_programs_and_errors_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyebpf.isa.assembler as asm_mod

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import isa_speed

    _, good = isa_speed.make_program(3000, seed=5)
    bad = "add %r1, 99999999999\nmov %r11, 1\nstxdw [%r10-99999], %r1\njeq %r1, 0, nowhere\nldxw %r1,[%r2]\n" + good
    results = []
    for fast in (asm_mod.fast_ubpf, lambda text: None):
        monkeypatch.setattr(asm_mod, "fast_ubpf", fast)
        for dialect in ("ubpf", None):
            with pytest.raises(AsmError) as e:
                assemble(bad, dialect)
            program = assemble(good, dialect)
            results.append((str(e.value), program.instructions, program.labels))
    assert results[0] == results[2] and results[1] == results[3]
    assert "<input>:1:" in results[0][0] and "nowhere" in results[0][0]
