"""All 313 programs of the bpf_conformance suite assemble (section `-- asm` of tests/*.data).

The corpus is vendored in tests/data/bpf_conformance (or $PYEBPF_CONFORMANCE_DIR points elsewhere).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers.corpus import CONFORMANCE_DIR

from pyebpf.isa.assembler import assemble

CORPUS = CONFORMANCE_DIR


def _sections(path: Path) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("-- "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {k: "".join(v) for k, v in sections.items()}


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"conformance corpus not present at {CORPUS}")
    files = sorted(CORPUS.glob("*.data"))
    assert len(files) == 313
    return files


def _instruction_lines(asm: str) -> int:
    count = 0
    for line in asm.splitlines():
        code = line.split("#", 1)[0].strip()
        if code and not code.endswith(":"):
            count += 1
    return count


def test_every_conformance_program_assembles_the_same_in_both_modes():
    failures = []
    for path in _corpus():
        asm = _sections(path)["asm"]
        try:
            program = assemble(asm, "ubpf", filename=path.name)
        except Exception as e:  # collect them all, report together
            failures.append(f"{path.name}: {e}")
            continue
        assert assemble(asm, None, filename=path.name).instructions == program.instructions, path.name
        assert len(program.instructions) == _instruction_lines(asm), path.name
        starts = set(program.slot_starts)
        for slot, insn in program.by_slot():
            assert insn.validate() is None, (path.name, slot, insn, insn.validate())
            if insn.is_branch or insn.is_pseudo_call:
                assert insn.target(slot) in starts, (path.name, slot, insn)
    assert not failures, "\n".join(failures)


def test_raw_sections_match_byte_for_byte():
    checked = 0
    for path in _corpus():
        sections = _sections(path)
        if "raw" not in sections:
            continue
        words = [int(w, 16) for w in sections["raw"].split()]
        expected = b"".join(w.to_bytes(8, "little") for w in words)
        assert assemble(sections["asm"], "ubpf").to_bytes() == expected, path.name
        checked += 1
    assert checked >= 1


def test_callx_program_uses_the_dst_register_encoding():
    path = CORPUS / "callx.data"
    if not path.exists():
        pytest.skip(f"conformance corpus not present at {CORPUS}")
    program = assemble(_sections(path)["asm"], "ubpf")
    callx = [i for i in program.instructions if i.opcode == 0x8D]
    assert [(i.dst, i.src, i.off, i.imm) for i in callx] == [(2, 0, 0, 0)]
