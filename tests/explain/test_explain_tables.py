"""explain over every rejection in the verifier case tables: never a traceback, always the where part, and the
catalogue classifies most of them (benchmarks/verifier_messages.py prints the ranking)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verifier"))

from cases import all_cases  # noqa: E402
from pyebpf.errors import PyebpfError  # noqa: E402
from pyebpf.verifier.explain import explain  # noqa: E402


def test_every_table_rejection_is_explained():
    explained = classified = 0
    for case in all_cases():
        if case.slow or case.expect == "accept":
            continue
        try:
            ex = explain(case.program(), case.prog_type, case.privileged)
        except PyebpfError:
            continue  # a program type our verifier does not take: `verify` says so the same way
        if ex is None:
            continue  # a documented disagreement (case.xfail) our verifier accepts
        explained += 1
        assert ex.message and ex.text().startswith("rejected: "), case.id
        classified += bool(ex.func)
    assert explained > 400
    assert classified / explained > 0.75, (classified, explained)  # 395/503 measured when written


def test_top_40_messages_are_catalogued():
    """The 40 most frequent first lines over the kernel's verifier selftests and our case tables (measured by
    benchmarks/verifier_messages.py) all have a catalogue class."""
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "benchmarks"))
    sys.path.insert(0, str(root / "tests" / "verifier" / "selftests"))
    import pytest
    import verifier_messages as vm
    from selftest_runner import SourceMissing

    try:
        msgs = vm.selftest_messages()
    except (SourceMissing, FileNotFoundError, OSError) as e:
        pytest.skip(f"the kernel's selftests are not available: {e}")
    assert len(msgs) > 500
    rows, _covered = vm.ranking(msgs + vm.table_messages(), 40)
    assert [r for r in rows if r[2] == "-"] == []
