"""bpf_conformance support: read a `.data` test, run it in the VM, tell its RFC 9669 conformance group.

A `.data` file has sections introduced by `-- name`: `asm` (uBPF-dialect assembly), `mem` (hex bytes: r1 points at
a copy, r2 is its length), `result` (expected r0, hex when it has `0x`), and free-form ones (`c`, `raw`,
`no register offset`) we ignore. The suite's helper 5 returns its first argument; it is registered here, not as a
default VM helper.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyebpf.abi.opcodes import (
    CLASS_MASK, MODE_MASK, OP_CALLX, OP_LD_IMM64, OP_MASK, SIZE_MASK, AluOp, InsnClass, JmpOp, Mode, Size,
)
from pyebpf.errors import PyebpfError
from pyebpf.isa.program import Program

GROUPS = ("base32", "base64", "atomic32", "atomic64", "divmul32", "divmul64", "callx")


def _helper_5(m: Any, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_conformance's test helper: returns its first argument."""
    return r1


#: Helpers the conformance suite expects (by id).
CONFORMANCE_HELPERS = {5: _helper_5}


@dataclass
class Case:
    name: str
    asm: str
    mem: bytes
    expected: int | None
    path: str = ""


def parse_data(text: str, name: str = "<data>") -> Case:
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("-- "):
            current = line[3:].strip()
            sections.setdefault(current, [])
            continue
        if current is not None:
            sections[current].append(line)
    asm = "\n".join(sections.get("asm", []))
    mem_text = " ".join(re.sub(r"#.*", "", ln) for ln in sections.get("mem", []))
    mem = bytes.fromhex("".join(mem_text.split())) if mem_text.strip() else b""
    result_lines = [re.sub(r"#.*", "", ln).strip() for ln in sections.get("result", [])]
    result_text = next((ln for ln in result_lines if ln), None)
    expected = None
    if result_text is not None:
        expected = int(result_text, 16) if "0x" in result_text.lower() else int(result_text)
    return Case(name, asm, mem, expected)


def load_case(path: str | Path) -> Case:
    p = Path(path)
    case = parse_data(p.read_text(), p.stem)
    case.path = str(p)
    return case


def assemble_case(case: Case) -> Program:
    from pyebpf.isa.assembler import assemble

    return assemble(case.asm, dialect="ubpf")


def group_of(program: Program) -> str:
    """The RFC 9669 conformance group a program needs (the most demanding one it uses)."""
    found = set()
    for insn in program.instructions:
        op, cls = insn.opcode, insn.opcode & CLASS_MASK
        if op == OP_CALLX:
            found.add("callx")
        elif cls == InsnClass.STX and op & MODE_MASK == Mode.ATOMIC:
            found.add("atomic64" if op & SIZE_MASK == Size.DW else "atomic32")
        elif cls in (InsnClass.ALU, InsnClass.ALU64) and op & OP_MASK in (AluOp.MUL, AluOp.DIV, AluOp.MOD):
            found.add("divmul64" if cls == InsnClass.ALU64 else "divmul32")
        elif (cls == InsnClass.ALU64 or op == OP_LD_IMM64
              or (cls == InsnClass.JMP and op & OP_MASK not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT))
              or (cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX) and op & SIZE_MASK == Size.DW)):
            found.add("base64")
    for g in ("callx", "atomic64", "atomic32", "divmul64", "divmul32", "base64"):
        if g in found:
            return g
    return "base32"


@dataclass
class Outcome:
    case: Case
    group: str
    ok: bool
    got: int | None
    error: str = ""


def run_case(case: Case, engine: str = "interp") -> Outcome:
    """Assemble and run one case; ok when r0 equals the expected result."""
    from pyebpf.vm.vm import VM

    try:
        program = assemble_case(case)
    except PyebpfError as e:
        return Outcome(case, "base32", False, None, f"assembly failed: {e}")
    group = group_of(program)
    try:
        got = VM(program, helpers=CONFORMANCE_HELPERS, engine=engine).run(mem=case.mem).r0
    except PyebpfError as e:
        return Outcome(case, group, False, None, str(e))
    return Outcome(case, group, got == case.expected, got,
                   "" if got == case.expected else f"r0 = {got:#x}, expected {case.expected:#x}"
                   if case.expected is not None else "no expected result")


__all__ = ["Case", "Outcome", "parse_data", "load_case", "assemble_case", "group_of", "run_case", "GROUPS",
           "CONFORMANCE_HELPERS"]
