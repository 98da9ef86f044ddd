"""The kernel's own verifier selftests against the running kernel: the `struct bpf_test` tables of verifier/*.c and
the inline-asm programs of progs/verifier_*.c (both from Debian's linux-source package; see selftest_runner.py and
progs_runner.py). No false accept, ever; the agreement figures are printed and held to the targets of issue 10
(verdict >= 99%, first-line message >= 97%, processed-count equality >= 95% of programs both accept). Where a
target is not met yet, the test holds the measured floor instead and says so (FLOORS): a regression fails, the gap
stays visible. The cases that still differ are listed in DIFFERENCES.txt / DIFFERENCES-progs.txt."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import progs_runner  # noqa: E402
import selftest_runner as runner  # noqa: E402

TARGETS = {"verdict": 0.99, "message": 0.97, "processed": 0.95}
#: (corpus, figure) -> the floor held while the target is not met (measured on 6.18 with linux-source-6.12); every
#: target is met today, so none
FLOORS: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="module")
def outcomes():
    try:
        tests = runner.load_tests()
    except runner.SourceMissing as e:
        pytest.skip(f"kernel selftest sources unavailable: {e}")
    chosen = runner.selected(tests)
    assert len(chosen) >= 470, f"only {len(chosen)} runnable selftests: the harness lost cases"
    return runner.run_all(chosen)


@pytest.fixture(scope="module")
def progs_outcomes():
    try:
        found, skipped = progs_runner.run_all()
    except runner.SourceMissing as e:
        pytest.skip(f"kernel selftest sources or tools unavailable: {e}")
    assert len(found) >= 890, f"only {len(found)} progs/verifier_*.c programs ran: the reader lost cases"
    return found, skipped


def figures(outcomes) -> dict[str, float]:
    n = len(outcomes)
    both = [o for o in outcomes if o.kernel_ok and o.ours_ok]
    return {
        "verdict": sum(o.verdict_agrees for o in outcomes) / n,
        "message": sum(o.verdict_agrees and (o.kernel_ok or o.kernel_msg == o.ours_msg) for o in outcomes) / n,
        "processed": sum(o.kernel_processed == o.ours_processed for o in both) / max(len(both), 1),
    }


def check_figures(corpus: str, outcomes) -> None:
    got = figures(outcomes)
    print(f"\n{corpus}: " + ", ".join(f"{k} {v:.1%} (target {TARGETS[k]:.0%})" for k, v in got.items()))
    for name, value in got.items():
        need = FLOORS.get((corpus, name), TARGETS[name])
        assert value >= need, (f"{corpus}: {name} agreement {value:.1%} below {need:.1%} "
                               f"(target {TARGETS[name]:.0%})\n" + runner.differences(outcomes))


@pytest.mark.kernel
def test_no_false_accept_on_kernel_selftests(outcomes):
    print("\n" + runner.report(outcomes))
    bad = [o for o in outcomes if o.false_accept]
    assert not bad, "we accept what the kernel refuses:\n" + runner.differences(bad)


@pytest.mark.kernel
def test_agreement_on_kernel_selftests(outcomes):
    check_figures("tables", outcomes)


@pytest.mark.kernel
def test_no_false_accept_on_kernel_progs_selftests(progs_outcomes):
    found, skipped = progs_outcomes
    print("\n" + runner.report(found) + f"\n{len(found)} programs, {len(skipped)} skipped")
    bad = [o for o in found if o.false_accept]
    assert not bad, "we accept what the kernel refuses:\n" + runner.differences(bad)


@pytest.mark.kernel
def test_agreement_on_kernel_progs_selftests(progs_outcomes):
    check_figures("progs", progs_outcomes[0])


@pytest.fixture(scope="module")
def dynptr_iter_outcomes():
    """The kernel's dynptr and open-coded iterator selftests (progs/dynptr_*.c, progs/iters*.c): the same
    annotations as verifier_*.c, through the same runner (verifier/dynptr.py, verifier/iters.py)."""
    try:
        found, _ = progs_runner.run_all(None, "dynptr_*.c")
        more, _ = progs_runner.run_all(None, "iters*.c")
    except runner.SourceMissing as e:
        pytest.skip(f"kernel selftest sources or tools unavailable: {e}")
    found += more
    assert len(found) >= 130, f"only {len(found)} dynptr/iterator programs ran: the reader lost cases"
    return found


@pytest.mark.kernel
def test_no_false_accept_on_dynptr_and_iterator_selftests(dynptr_iter_outcomes):
    print("\n" + runner.report(dynptr_iter_outcomes))
    bad = [o for o in dynptr_iter_outcomes if o.false_accept]
    assert not bad, "we accept what the kernel refuses:\n" + runner.differences(bad)
    got = figures(dynptr_iter_outcomes)
    # session 6: 155/155 verdicts, 154/155 first messages on 6.18 (the targets: 99% and 97%)
    for name, need in (("verdict", 0.99), ("message", 0.97)):
        assert got[name] >= need, (f"{name} agreement {got[name]:.1%} below {need:.0%}\n"
                                   + runner.differences(dynptr_iter_outcomes))
