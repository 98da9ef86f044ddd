"""The kernel's own verifier selftests (verifier/*.c tables from Debian's linux-source package) against the running
kernel: no false accept, ever; the agreement figures are printed (see selftest_runner.py; the cases that still
differ are listed in DIFFERENCES.txt)."""
from __future__ import annotations

import pytest

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import selftest_runner as runner  # noqa: E402


@pytest.fixture(scope="module")
def outcomes():
    try:
        tests = runner.load_tests()
    except runner.SourceMissing as e:
        pytest.skip(f"kernel selftest sources unavailable: {e}")
    chosen = runner.selected(tests)
    assert len(chosen) >= 300, f"only {len(chosen)} runnable selftests: the harness lost cases"
    return runner.run_all(chosen)


@pytest.mark.kernel
def test_no_false_accept_on_kernel_selftests(outcomes):
    print("\n" + runner.report(outcomes))
    bad = [o for o in outcomes if o.false_accept]
    assert not bad, "we accept what the kernel refuses:\n" + runner.differences(bad)


@pytest.mark.kernel
def test_verdicts_and_processed_counts_agree_on_kernel_selftests(outcomes):
    verdicts = sum(o.verdict_agrees for o in outcomes) / len(outcomes)
    both = [o for o in outcomes if o.kernel_ok and o.ours_ok]
    processed = sum(o.kernel_processed == o.ours_processed for o in both) / max(len(both), 1)
    assert verdicts >= 0.99, f"verdict agreement {verdicts:.1%} (target 99%)\n" + runner.differences(outcomes)
    assert processed >= 0.95, f"processed-count equality {processed:.1%} (target 95%)"
