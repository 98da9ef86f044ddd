"""Print the kernel-agreement rate of the case tables, and the disagreements grouped by reason.

    python tests/verifier/cases/report.py [-v]
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases import all_cases  # noqa: E402
from cases.oracle import agree, errno_name, kernel_verdicts, ours  # noqa: E402


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    cases = all_cases()
    t0 = time.perf_counter()
    kern, why = kernel_verdicts(cases)
    t1 = time.perf_counter()
    n_verdict = n_message = n_errno = total = 0
    reasons: Counter[str] = Counter()
    rows = []
    slowest: list[tuple[float, str]] = []
    for case in cases:
        if case.id not in kern:
            continue
        total += 1
        k = kern[case.id]
        if k.accepted != (case.expect == "accept"):
            print(f"TABLE: {case.id} documents {case.expect}, kernel says "
                  f"{'accept' if k.accepted else 'reject: ' + k.message}")
        ts = time.perf_counter()
        try:
            m = ours(case)
            slowest.append((time.perf_counter() - ts, case.id))
        except Exception as e:  # noqa: BLE001 - an engine crash is a disagreement to report
            m = None
            reasons[f"engine crash: {type(e).__name__}"] += 1
            rows.append((case.id, "crash", repr(e)[:200], k))
            continue
        v, msg, err = agree(m, k)
        n_verdict += v
        n_message += msg
        n_errno += err
        if not (v and msg and err):
            kind = "verdict" if not v else "message" if not msg else "errno"
            key = (f"{kind}: kernel {'accept' if k.accepted else k.message!r} / "
                   f"ours {'accept' if m.accepted else m.message!r}")
            reasons[key] += 1
            mine = "accept" if m.accepted else f"{errno_name(m.errno)} {m.message!r}"
            rows.append((case.id, kind, f"ours {mine}", k))
    t2 = time.perf_counter()
    print(f"{n_verdict} of {total} cases agree on verdict, {n_message} of {total} on message, "
          f"{n_errno} of {total} on errno (kernel {t1 - t0:.1f}s, ours {t2 - t1:.1f}s)")
    if why:
        print(f"unprivileged cases not run in the kernel: {why}")
    for kind, n in reasons.most_common():
        print(f"  {n:4d} {kind}")
    if verbose:
        print("slowest cases (ours):", ", ".join(f"{c} {t:.1f}s" for t, c in sorted(slowest)[-8:]))
        for cid, kind, mine, k in rows:
            kv = "accept" if k.accepted else f"{errno_name(k.errno)} {k.message!r}"
            print(f"{cid}: {kind}\n    kernel {kv}\n    {mine}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
