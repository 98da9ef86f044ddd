#!/usr/bin/env python3
"""Run a directory of bpf_conformance `.data` files through the VM and print a per-group table.

    python benchmarks/conformance.py tests/data/bpf_conformance/tests [--engine interp|compiled|both]

Groups are RFC 9669's conformance groups (base32, base64, atomic32, atomic64, divmul32, divmul64) plus callx,
inferred from the instructions each program uses. Exits 1 when any program fails.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from pyebpf.vm.conformance import GROUPS, load_case, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--engine", choices=("interp", "compiled", "both"), default="both")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    files = sorted(Path(args.directory).glob("*.data"))
    if not files:
        print(f"no .data files in {args.directory}", file=sys.stderr)
        return 2
    engines = ("interp", "compiled") if args.engine == "both" else (args.engine,)
    passed: Counter = Counter()
    failed: Counter = Counter()
    failures = []
    start = time.perf_counter()
    for f in files:
        case = load_case(f)
        outcomes = [run_case(case, e) for e in engines]
        group = outcomes[0].group
        if all(o.ok for o in outcomes):
            passed[group] += 1
        else:
            failed[group] += 1
            failures.append((f.name, "; ".join(f"{e}: {o.error}" for e, o in zip(engines, outcomes) if not o.ok)))
    elapsed = time.perf_counter() - start
    print(f"{'group':<10} {'passed':>7} {'failed':>7}")
    for g in GROUPS:
        print(f"{g:<10} {passed[g]:>7} {failed[g]:>7}")
    for name, why in failures if args.verbose or len(failures) <= 20 else failures[:20]:
        print(f"FAIL {name}: {why}")
    print(f"engines: {', '.join(engines)}; {elapsed:.2f} s")
    total_pass, total_fail = sum(passed.values()), sum(failed.values())
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
