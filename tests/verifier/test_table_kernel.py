"""Every table case through our verifier and the running kernel: same verdict, same message, same errno.

The kernel side runs once per session for all cases (privileged in this process, unprivileged in one forked
child as uid nobody). Known engine disagreements are strict xfails naming the reason (see the case tables).
"""
from __future__ import annotations

import pytest

from cases import REJECT, all_cases
from cases.oracle import agree, errno_name, kernel_verdicts, ours

CASES = all_cases()


@pytest.fixture(scope="session")
def kernel():
    return kernel_verdicts(CASES)


def _param(case):
    marks = [pytest.mark.kernel]
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_agrees_with_kernel(case, kernel):
    verdicts, why_missing = kernel
    if case.id not in verdicts:
        pytest.skip(f"no kernel verdict for unprivileged cases: {why_missing}")
    kern = verdicts[case.id]
    # the table's documented verdict is a sanity check of the table itself
    assert kern.accepted == (case.expect != REJECT), (
        f"table says {case.expect}, kernel says {'accept' if kern.accepted else 'reject'}: {kern.message}")
    mine = ours(case)
    same_verdict, same_message, same_errno = agree(mine, kern)
    detail = (f"kernel: {'accept' if kern.accepted else 'reject'} {errno_name(kern.errno)} {kern.message!r}\n"
              f"ours:   {'accept' if mine.accepted else 'reject'} {errno_name(mine.errno)} {mine.message!r}\n"
              f"--- kernel log ---\n{kern.log[-3000:]}\n--- our log ---\n{mine.log[-3000:]}")
    assert same_verdict, "verdict differs\n" + detail
    assert same_message, "message differs\n" + detail
    assert same_errno, "errno differs\n" + detail
