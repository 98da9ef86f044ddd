"""The README's tour is code people copy: it must run as written (the kernel part where bpf() is permitted)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python tour"
    return blocks[0]


def test_tour_is_about_twenty_lines():
    lines = [line for line in tour_source().splitlines() if line.strip()]
    assert 15 <= len(lines) <= 25


@pytest.mark.kernel
def test_tour_runs(capsys):
    exec(compile(tour_source(), str(README), "exec"), {"__name__": "readme_tour"})
    out = capsys.readouterr().out
    assert "(71) r0 = *(u8 *)(r1 +4)" in out
