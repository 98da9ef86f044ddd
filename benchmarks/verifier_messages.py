"""Which verifier messages are most frequent, and how many the explain catalogue covers.

Runs our verifier over the case tables (tests/verifier/cases, tests/verifier/cases_engine.py), takes each
rejection's first line with numbers normalised to N, and prints the top 40 with the catalogue class that explains
it (verifier/explain.py CLASSIFY). Usage: PYTHONPATH=$PWD python3 benchmarks/verifier_messages.py [TOP]
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "verifier"))


def messages() -> list[str]:
    from cases import all_cases
    from cases_engine import CASES as ENGINE
    from pyebpf.isa.assembler import assemble
    from pyebpf.verifier import verify

    out = []
    for c in all_cases():
        if c.slow:
            continue
        try:
            r = verify(c.program(), prog_type=c.prog_type, privileged=c.privileged, raise_on_reject=False)
        except Exception:  # noqa: BLE001 - a case our verifier cannot take (unsupported type): not a message
            continue
        if not r.accepted:
            out.append(r.error.message)
    for _name, pt, src, expected in ENGINE:
        if expected is not None:
            out.append(expected[1])
    return out


def normalise(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    line = re.sub(r"\bbpf_\w+#\d+", "HELPER", line)
    return re.sub(r"-?\b\d+\b|0x[0-9a-f]+", "N", re.sub(r"\b[R]\d+\b", "Rn", line))


def main() -> None:
    from pyebpf.verifier.explain import classify

    top = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    msgs = messages()
    counts = Counter(normalise(m) for m in msgs)
    example = {normalise(m): m for m in msgs}
    covered = sum(n for k, n in counts.items() if classify(example[k])[0] is not None)
    print(f"{len(msgs)} rejections, {len(counts)} distinct first lines; catalogue explains {covered}/{len(msgs)} "
          f"({100 * covered / max(1, len(msgs)):.0f}%)")
    top_cov = 0
    for i, (k, n) in enumerate(counts.most_common(top), 1):
        rule = classify(example[k])[0]
        top_cov += rule is not None
        print(f"{i:3d} {n:4d}  {rule.name if rule else '-':15s} {k}")
    print(f"top {top}: {top_cov} classified")


if __name__ == "__main__":
    main()
