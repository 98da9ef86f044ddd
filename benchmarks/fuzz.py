"""Standing fuzz campaign: every input surface, for N minutes, reporting inputs tried and failures by class.

    python benchmarks/fuzz.py --minutes N [--jobs J] [--surfaces asm_llvm,asm_ubpf,decoder,elf,cli] [--seed S]
                              [--out DIR] [--timeout SECONDS] [--memory-mb MB]

Surfaces (tests/fuzz/surfaces.py, shared with the suite's bounded hypothesis tests):
  asm_llvm   assemble() in the llvm and kernel dialects and auto-detected, on mutated listings/logs/programs
  asm_ubpf   assemble() in the uBPF dialect
  decoder    decode / Program.from_bytes / from_hex and every disassembly style, on random and mutated bytes
  elf        the ELF reader through its public entry points: disassemble_input (pyebpf disasm x.o) and ElfObject
  cli        every subcommand (asm, disasm, run, verify, load, prog, map) in-process on mutated files and arguments

The contract (issue 8): a pyebpf typed error or success, never another exception; a message under 64 kB; no input
taking more than --timeout CPU seconds (default 10; reported as `Timeout`); no allocation beyond --memory-mb (reported as
`MemoryError`). Times are CPU seconds of the worker (the machine may be shared; wall time would blame the input for
other processes' load). Failures are counted by exception class per surface, and the first input of each class is saved in
DIR (default /tmp/pyebpf-fuzz-<time>) so it can be replayed. Runs at low priority (nice 19); the surfaces are split
over J worker processes (default 1), each running its surfaces in turn, a couple of seconds each, for the whole time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests" / "fuzz"))
sys.path.insert(0, str(_ROOT))

SURFACES = ("asm_llvm", "asm_ubpf", "decoder", "elf", "cli")
#: Each surface runs this many seconds in turn, so a fast surface is not held to the pace of a slow one.
SLICE = 2.0


class Timeout(BaseException):
    """One input used more than --timeout CPU seconds (a BaseException, so code under test cannot swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Timeout()


def _generators(rng: random.Random, names: list[str]) -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
    import surfaces as S

    llvm = S.asm_seeds(rng, "llvm") + S.asm_seeds(rng, "kernel")
    ubpf = S.asm_seeds(rng, "ubpf")
    elf = S.elf_seeds() if {"elf", "cli"} & set(names) else []
    out: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
    if "asm_llvm" in names:
        out["asm_llvm"] = (lambda: S.mutate_text(rng, rng.choice(llvm), llvm), S.surface_asm_llvm)
    if "asm_ubpf" in names:
        out["asm_ubpf"] = (lambda: S.mutate_text(rng, rng.choice(ubpf), ubpf), S.surface_asm_ubpf)
    if "decoder" in names:
        out["decoder"] = (lambda: S.insn_bytes(rng), S.surface_decoder)
    if "elf" in names and elf:
        out["elf"] = (lambda: S.mutate_bytes(rng, rng.choice(elf)), S.surface_elf)
    if "cli" in names:
        workdir = tempfile.mkdtemp(prefix="pyebpf-fuzz-cli-")
        runner = S.CliRunner(workdir)
        out["cli"] = (lambda: S.cli_case(rng, llvm + ubpf, elf), runner)
    return out


def _save(out: Path, surface: str, cls: str, value: Any) -> str:
    path = out / f"{surface}-{cls}"
    if hasattr(value, "argv"):  # a CLI case: argv and the input file
        path.with_suffix(".json").write_text(json.dumps({"argv": value.argv, "suffix": value.suffix}))
        path = path.with_suffix(".input")
        path.write_bytes(value.data)
    elif isinstance(value, bytes):
        path = path.with_suffix(".bin")
        path.write_bytes(value)
    else:
        path = path.with_suffix(".txt")
        path.write_text(value, encoding="utf-8", errors="surrogatepass")
    return str(path)


def worker(names: list[str], seconds: float, seed: int, out: Path, timeout: float, memory_mb: int,
           index: int) -> dict[str, Any]:
    """Run the surfaces in turn until the time is up; returns per-surface statistics."""
    import surfaces as S

    os.nice(19)
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(10_000)
    signal.signal(signal.SIGPROF, _on_alarm)
    rng = random.Random(seed)
    gens = _generators(rng, names)
    stats: dict[str, dict[str, Any]] = {
        name: {"inputs": 0, "failures": Counter(), "examples": {}, "slowest": 0.0, "seconds": 0.0}
        for name in gens}
    end = time.monotonic() + seconds
    last_dump = time.monotonic()
    while time.monotonic() < end:
        for name, (make, surface) in gens.items():
            st = stats[name]
            started = time.perf_counter()
            while time.perf_counter() - started < SLICE:
                value = make()
                t0 = time.process_time()
                signal.setitimer(signal.ITIMER_PROF, timeout)
                try:
                    cls = S.classify(surface, value)
                except Timeout:
                    cls = "Timeout"
                finally:
                    signal.setitimer(signal.ITIMER_PROF, 0)
                dt = time.process_time() - t0
                st["slowest"] = max(st["slowest"], dt)
                st["inputs"] += 1
                if cls is not None:
                    st["failures"][cls] += 1
                    if cls not in st["examples"]:
                        st["examples"][cls] = _save(out, name, cls, value)
            st["seconds"] += time.perf_counter() - started
        if time.monotonic() - last_dump > 30:
            last_dump = time.monotonic()
            _dump(out / f"worker{index}.json", stats)
    _dump(out / f"worker{index}.json", stats)
    return stats


def _dump(path: Path, stats: dict[str, dict[str, Any]]) -> None:
    path.write_text(json.dumps({k: {**v, "failures": dict(v["failures"])} for k, v in stats.items()}, indent=1))


def report(out: Path, minutes: float) -> str:
    merged: dict[str, dict[str, Any]] = {}
    for path in sorted(out.glob("worker*.json")):
        for name, st in json.loads(path.read_text()).items():
            m = merged.setdefault(name, {"inputs": 0, "failures": Counter(), "examples": {}, "slowest": 0.0,
                                         "seconds": 0.0})
            m["inputs"] += st["inputs"]
            m["failures"].update(st["failures"])
            m["examples"].update(st["examples"])
            m["slowest"] = max(m["slowest"], st["slowest"])
            m["seconds"] += st["seconds"]
    lines = [f"fuzz campaign: {minutes:g} min, results in {out}",
             f"{'surface':10} {'inputs':>10} {'inputs/s':>9} {'slowest CPU':>11}  failures by class"]
    for name in SURFACES:
        st = merged.get(name)
        if st is None:
            continue
        rate = st["inputs"] / st["seconds"] if st["seconds"] else 0.0
        fails = ", ".join(f"{cls} {n}" for cls, n in st["failures"].most_common()) or "none"
        lines.append(f"{name:10} {st['inputs']:>10,} {rate:>9,.0f} {st['slowest']:>10.2f}s  {fails}")
    for name in SURFACES:
        for cls, path in merged.get(name, {}).get("examples", {}).items():
            lines.append(f"  first {name} {cls}: {path}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--surfaces", default=",".join(SURFACES))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--memory-mb", type=int, default=3072)
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = [n for n in args.surfaces.split(",") if n]
    unknown = set(names) - set(SURFACES)
    if unknown:
        ap.error(f"unknown surfaces {sorted(unknown)} (choose from {', '.join(SURFACES)})")
    seed = args.seed if args.seed is not None else int(time.time())
    out = Path(args.out or f"/tmp/pyebpf-fuzz-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    if args.worker is not None:
        worker(names, args.minutes * 60, seed, out, args.timeout, args.memory_mb, args.worker)
        return 0
    jobs = max(1, min(args.jobs, len(names)))
    shares = [names[i::jobs] for i in range(jobs)]
    procs = [subprocess.Popen([sys.executable, __file__, "--minutes", str(args.minutes), "--surfaces", ",".join(share),
                               "--seed", str(seed + i), "--out", str(out), "--timeout", str(args.timeout),
                               "--memory-mb", str(args.memory_mb), "--worker", str(i)])
             for i, share in enumerate(shares)]
    status = 0
    for p in procs:
        status |= p.wait()
    text = report(out, args.minutes)
    (out / "report.txt").write_text(text + "\n")
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
