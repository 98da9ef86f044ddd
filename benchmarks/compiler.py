"""The probe compiler beside clang: compile time per probe, instruction count against clang -O2 for the same
program written in C (benchmarks/compiler_c/), and verifier-processed instructions (ours and, as root, the
kernel's) for both.

    PYTHONPATH=. python3 benchmarks/compiler.py [--repeat N] [--mcpu v3]

Target (issue 11): our instruction count <= 1.3x clang's.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def clang_program(name: str, mcpu: str):
    clang = next((p for p in map(shutil.which, ("clang", "clang-14")) if p), None)
    if clang is None:
        return None
    out = os.path.join(tempfile.mkdtemp(prefix="pyebpf-bench-"), f"{name}.o")
    src = os.path.join(HERE, "compiler_c", f"{name}.bpf.c")
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", f"-mcpu={mcpu}", "-I",
                    f"/usr/include/{platform.machine()}-linux-gnu", "-c", src, "-o", out], check=True)
    from pyebpf.loader.elf import load_elf

    return load_elf(out).programs[name]


def kernel_processed(program) -> int | None:
    """The kernel verifier's `processed N insns`, or None without bpf()."""
    try:
        from pyebpf.loader import load

        with load(program, log_level=4) as kp:
            m = re.search(r"processed (\d+) insns", kp.log or "")
            return int(m.group(1)) if m else None
    except Exception:  # noqa: BLE001 - no privileges / no kernel: the column stays empty
        return None


def ours_processed(program) -> int | None:
    from pyebpf.verifier import verify

    try:
        return verify(program).processed
    except Exception:  # noqa: BLE001
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="compilations per probe for the timing")
    ap.add_argument("--mcpu", default="v3", help="clang's -mcpu (v3: 32-bit subregisters and jmp32)")
    args = ap.parse_args()
    import compiler_probes as cp
    from pyebpf.compiler import compile_probe
    from pyebpf.compiler.context import SYSTEM
    from pyebpf.compiler.ktypes import SYSTEM_TYPES

    print(f"{'probe':<15} {'compile ms':>10} {'ours':>5} {'clang':>6} {'ratio':>6}   "
          f"{'our verifier':>12} {'kernel (ours)':>13} {'kernel (clang)':>14}")
    ratios = []
    for p in cp.PROBES:
        p.compile()  # warm: tracefs format cached, maps named
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            c = compile_probe(p.fn, p.section, tracepoints=SYSTEM, name=p.name, kernel=SYSTEM_TYPES)
            times.append(time.perf_counter() - t)
        ours = c.program
        theirs = clang_program(p.name, args.mcpu)
        n_ours, n_clang = ours.slot_count, theirs.slot_count if theirs is not None else None
        ratio = n_ours / n_clang if n_clang else float("nan")
        ratios.append(ratio)
        print(f"{p.name:<15} {statistics.median(times) * 1e3:>10.2f} {n_ours:>5} {n_clang or '-':>6} {ratio:>6.2f}   "
              f"{ours_processed(ours) or '-':>12} {kernel_processed(ours) or '-':>13} "
              f"{(kernel_processed(theirs) if theirs is not None else None) or '-':>14}")
    good = [r for r in ratios if r == r]
    if good:
        print(f"\ninstruction count vs clang -O2 -mcpu={args.mcpu}: geometric mean "
              f"{statistics.geometric_mean(good):.2f}x, worst {max(good):.2f}x (target <= 1.30x)")


if __name__ == "__main__":
    main()
