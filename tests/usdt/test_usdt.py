"""USDT argument specs, the instructions that read them (run in our VM and checked by our verifier) and
`pyebpf usdt list`."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.opcodes import OP_EXIT, AluOp, InsnClass, Reg, Source
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.usdt import X86_64_REGS, pt_regs_offset
from pyebpf.cli import main
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program
from pyebpf.loader.usdt import ArgKind, UsdtError, arg_insns, parse_arg, parse_args, read_probes
from pyebpf.verifier.api import verify
from pyebpf.vm import VM
from pyebpf.vm.context import KprobeContext

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("spec,size,signed,kind,reg,offset,value", [
    ("-4@%edi", 4, True, ArgKind.REG, "di", 0, 0),
    ("8@%rax", 8, False, ArgKind.REG, "ax", 0, 0),
    ("-2@%dx", 2, True, ArgKind.REG, "dx", 0, 0),
    ("1@%r9b", 1, False, ArgKind.REG, "r9", 0, 0),
    ("-8@-16(%rbp)", 8, True, ArgKind.REG_DEREF, "bp", -16, 0),
    ("-4@112(%rsp)", 4, True, ArgKind.REG_DEREF, "sp", 112, 0),
    ("8@(%rax)", 8, False, ArgKind.REG_DEREF, "ax", 0, 0),
    ("-4@$42", 4, True, ArgKind.CONST, None, 0, 42),
    ("4@$-1", 4, False, ArgKind.CONST, None, 0, -1),
    ("%rsi", 8, False, ArgKind.REG, "si", 0, 0),
])
def test_specs(spec: str, size: int, signed: bool, kind: ArgKind, reg: str | None, offset: int, value: int):
    a = parse_arg(spec)
    assert (a.size, a.signed, a.kind, a.register, a.offset, a.value) == (size, signed, kind, reg, offset, value)


@pytest.mark.parametrize("spec", ["3@%eax", "8@%ah", "8@%xmm0", "8@sym(%rip)", "8@(%rax,%rbx,8)", "8@", "@", "x" * 300,
                                  "-4@%", "4@$", "4@$0xZZ"])
def test_unsupported_specs_are_usdt_errors(spec: str):
    with pytest.raises(UsdtError):
        parse_arg(spec)


def test_every_register_spelling_has_a_pt_regs_slot():
    assert len(X86_64_REGS) == 16 * 4 + 3  # 16 registers in 4 widths, rip in 3
    assert pt_regs_offset("edi") == pt_regs_offset("rdi") == pt_regs_offset("dil") == 112
    assert len(parse_args("-4@%edi 8@-16(%rbp) 4@$5")) == 3


def _run(args: tuple, regs: dict[str, int]) -> int:
    insns = [Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, Reg.R6, Reg.R1)]
    for arg in args:
        insns += arg_insns(arg, Reg.R0, Reg.R6)
    prog = Program(insns + [Instruction(OP_EXIT)], prog_type=ProgType.KPROBE)
    verify(prog)
    return VM(prog).run(KprobeContext(regs)).r0


_REG_NAMES = sorted(n for n in X86_64_REGS if X86_64_REGS[n] != "ip")


@settings(max_examples=200)
@given(st.sampled_from(_REG_NAMES), st.sampled_from([1, 2, 4, 8]), st.booleans(), st.integers(0, (1 << 64) - 1))
def test_register_reads_extend_as_the_size_says(reg: str, size: int, signed: bool, value: int):
    arg = parse_arg(f"{'-' if signed else ''}{size}@%{reg}")
    low = value & ((1 << (8 * size)) - 1)
    expected = low - (1 << (8 * size)) if signed and low >> (8 * size - 1) else low
    assert _run((arg,), {X86_64_REGS[reg]: value}) == expected & ((1 << 64) - 1)


@settings(max_examples=100)
@given(st.sampled_from([1, 2, 4, 8]), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1))
def test_constants_extend_as_the_size_says(size: int, signed: bool, value: int):
    arg = parse_arg(f"{'-' if signed else ''}{size}@${value}")
    low = value & ((1 << (8 * size)) - 1)
    expected = low - (1 << (8 * size)) if signed and low >> (8 * size - 1) else low
    assert _run((arg,), {}) == expected & ((1 << 64) - 1)


def test_memory_reads_need_a_callee_saved_ctx():
    with pytest.raises(UsdtError, match="r6-r9"):
        arg_insns(parse_arg("8@-8(%rbp)"), Reg.R0, Reg.R1)
    prog = Program([Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, Reg.R6, Reg.R1), *arg_insns(parse_arg("-4@-20(%rbp)"), Reg.R0, Reg.R6),
                    Instruction(OP_EXIT)], prog_type=ProgType.KPROBE)
    verify(prog)  # the helper call and stack slot pass our verifier


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_hostile_files_are_usdt_errors(tmp_path_factory: pytest.TempPathFactory, data: bytes):
    path = tmp_path_factory.mktemp("elf") / "x"
    path.write_bytes(b"\x7fELF" + data)
    try:
        read_probes(str(path))
    except UsdtError:
        pass


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not shutil.which("gcc") or not any(Path(p).is_file() for p in (
            "/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h")):
        pytest.skip("needs gcc and <sys/sdt.h> (systemtap-sdt-dev; scripts/setup.sh)")
    out = tmp_path_factory.mktemp("usdt") / "usdt_demo"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(HERE / "usdt_demo.c")], check=True)
    return str(out)


def test_cli_lists_probes(demo: str, capsys: pytest.CaptureFixture[str]):
    assert main(["usdt", "list", demo]) == 0
    text = capsys.readouterr().out
    assert "demo:tick at" in text and "demo:str at" in text and "s32 %di" in text and "s32 $42" in text
    assert main(["usdt", "list", demo, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(p["provider"], p["name"]) for p in listed} == {("demo", "tick"), ("demo", "str")}
    assert all(p["semaphore"] and p["semaphore_offset"] for p in listed)


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "not_elf"
    bad.write_text("hello")
    assert main(["usdt", "list", str(bad)]) == 1
    assert "not an ELF file" in capsys.readouterr().err
