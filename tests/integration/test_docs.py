"""docs/same-calls.md's example runs as written (it loops over the VM and the kernel itself)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "same-calls.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/same-calls.md should hold exactly one python example"
    return blocks[0]


@pytest.mark.kernel
def test_same_calls_example_runs() -> None:
    exec(compile(example(), str(DOC), "exec"), {"__name__": "same_calls_example"})


def test_example_fails_when_the_sides_disagree() -> None:
    """The example's asserts do check something: a wrong expected count fails it (on the VM side, first)."""
    broken = example().replace("{6: 101}", "{6: 102}").replace("load(prog)", "pyebpf.VM(prog)")
    with pytest.raises(AssertionError):
        exec(compile(broken, str(DOC), "exec"), {"__name__": "same_calls_example"})
