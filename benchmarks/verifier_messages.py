"""Which verifier messages are most frequent, and how many the explain catalogue covers.

Two sources, counted together: the kernel's own verifier selftests (the `__msg`/`__msg_unpriv` expectations of the
`__failure` programs in tools/testing/selftests/bpf/progs/verifier_*.c and the `.errstr`/`.errstr_unpriv` of the
`struct bpf_test` tables in tools/testing/selftests/bpf/verifier/*.c, read from Debian's linux-source tarball the
selftest runner unpacks), and our verifier's rejections over our case tables (tests/verifier/cases,
tests/verifier/cases_engine.py). Each message's first line is normalised (numbers and register numbers to N/Rn,
helper names to HELPER) and ranked; the top 40 are printed with the catalogue class that explains them
(verifier/explain.py `classify`). Usage:

    PYTHONPATH=$PWD python3 benchmarks/verifier_messages.py [TOP] [--source selftests|tables|both]
"""
from __future__ import annotations

import argparse
import glob
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "verifier"))
sys.path.insert(0, str(ROOT / "tests" / "verifier" / "selftests"))

_MSG = re.compile(r'__msg(_unpriv)?\("((?:[^"\\]|\\.)*)"\)')
_ERRSTR = re.compile(r'\.errstr(?:_unpriv)?\s*=\s*"((?:[^"\\]|\\.)*)"')


def table_messages() -> list[str]:
    """Our verifier's first-line messages over the case tables."""
    from cases import all_cases
    from cases_engine import CASES as ENGINE
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
    for _name, _pt, _src, expected in ENGINE:
        if expected is not None:
            out.append(expected[1])
    return out


def selftest_root() -> Path:
    from selftest_runner import source_tarball, unpack

    return unpack(source_tarball()) / "tools" / "testing" / "selftests" / "bpf"


def selftest_messages() -> list[str]:
    """The expected messages of the kernel's rejecting verifier selftests (one per expectation string)."""
    root = selftest_root()
    out: list[str] = []
    for path in sorted(glob.glob(str(root / "progs" / "verifier_*.c"))):
        text = Path(path).read_text(errors="replace")
        # one chunk per program: from a SEC(...) line to the next; only failing programs' expectations count
        for chunk in re.split(r'\n(?=SEC\(")', text):
            head = chunk.split("{", 1)[0]
            for unpriv, msg in _MSG.findall(head):
                if ("__failure_unpriv" if unpriv else "__failure ") in head + " " or \
                        (not unpriv and re.search(r"__failure\b(?!_)", head)):
                    out.append(bytes(msg, "utf-8").decode("unicode_escape"))
    for path in sorted(glob.glob(str(root / "verifier" / "*.c"))):
        out.extend(bytes(m, "utf-8").decode("unicode_escape") for m in _ERRSTR.findall(Path(path).read_text(
            errors="replace")))
    return [m for m in out if m and not m.startswith(("mark_precise", "frame", "from ", "last_idx"))
            and not re.match(r"^\d+: ", m)]  # log lines a __success/__log_level test checks are not rejections


def normalise(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    line = re.sub(r"\bbpf_\w+#\d+", "HELPER", line)
    return re.sub(r"-?\b\d+\b|0x[0-9a-f]+", "N", re.sub(r"\b[R]\d+\b", "Rn", line)).strip()


def ranking(msgs: list[str], top: int) -> tuple[list[tuple[str, int, str]], int]:
    """[(normalised message, count, catalogue class or '-')] for the `top` most frequent, and how many of all
    messages the catalogue classifies."""
    from pyebpf.verifier.explain import classify

    raw = Counter(normalise(m) for m in msgs)
    # a selftest expectation is often part of a message ("Rn leaks addr" of "Rn leaks addr into mem"): it counts
    # for the most frequent longer first line that contains it
    merged = {k: max((b for b in raw if k in b and b != k), key=lambda b: (raw[b], b), default=k) for k in raw}
    counts: Counter = Counter()
    for k, n in raw.items():
        counts[merged[k]] += n
    example = {normalise(m): m for m in msgs}
    covered = sum(n for k, n in counts.items() if classify(example[k])[0] is not None)
    rows = []
    for k, n in counts.most_common(top):
        rule = classify(example[k])[0]
        rows.append((k, n, rule.name if rule else "-"))
    return rows, covered


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("top", nargs="?", type=int, default=40)
    ap.add_argument("--source", choices=("selftests", "tables", "both"), default="both")
    args = ap.parse_args()
    msgs: list[str] = []
    if args.source in ("selftests", "both"):
        st = selftest_messages()
        print(f"kernel selftests: {len(st)} expected rejection messages")
        msgs += st
    if args.source in ("tables", "both"):
        tb = table_messages()
        print(f"case tables: {len(tb)} rejections")
        msgs += tb
    rows, covered = ranking(msgs, args.top)
    print(f"{len(msgs)} messages, {len(set(map(normalise, msgs)))} distinct first lines; catalogue explains "
          f"{covered}/{len(msgs)} ({100 * covered / max(1, len(msgs)):.0f}%)")
    for i, (k, n, rule) in enumerate(rows, 1):
        print(f"{i:3d} {n:4d}  {rule:16s} {k}")
    print(f"top {args.top}: {sum(r != '-' for _, _, r in rows)} classified")


if __name__ == "__main__":
    main()
