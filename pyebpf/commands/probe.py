"""`pyebpf probe FILE.py [--dry-run] [--duration S]`: compile the probes of a Python file, load and attach them,
print ring buffer records as they arrive, and every map when stopped (Ctrl-C, or after --duration seconds).

--dry-run compiles and verifies (with pyebpf's verifier) without touching the kernel, printing each program.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("probe", help="compile Python probes to eBPF, load, attach and print their maps",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.py", help="a Python file with @probe functions and module-level maps")
    p.add_argument("--dry-run", action="store_true", help="compile and verify only; print the programs")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--attach", metavar="TARGET", default=None,
                   help="attach target for sections that name none (an interface for xdp/tc)")
    p.set_defaults(func=handler)


def format_map(name: str, m: Any) -> list[str]:
    """bpftrace-style lines `name[key]: value`, largest value last (as bpftrace prints counts)."""
    items = m.items()

    def weight(kv: tuple[Any, Any]) -> Any:
        v = kv[1]
        return sum(v) if isinstance(v, list) and all(isinstance(x, int) for x in v) else (v if isinstance(v, int)
                                                                                        else 0)

    lines = []
    for k, v in sorted(items, key=weight):
        key = ", ".join(_fmt(x) for x in k) if isinstance(k, tuple) else _fmt(k)
        lines.append(f"{name}[{key}]: {_fmt(v)}")
    return lines


def _fmt(v: Any) -> str:
    if isinstance(v, bytes):
        return v.split(b"\0", 1)[0].decode(errors="replace")
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return "{" + ", ".join(f"{f}={_fmt(getattr(v, f))}" for f in v._fields) + "}"
    return str(v)


def handler(args: argparse.Namespace) -> int:
    from pyebpf.probe.maps import RingBuf
    from pyebpf.probe.module import load_module, maps_of, probes_of
    from pyebpf.probe.probe import load_all
    from pyebpf.errors import CompileError

    module = load_module(args.file)
    probes = probes_of(module)
    if not probes:
        raise CompileError(f"{args.file} defines no @probe functions", args.file)
    if args.dry_run:
        from pyebpf.isa.disassembler import disassemble

        for p in probes:
            res = p.verify()
            c = p.compiled
            print(f"# {p.name}: {p.section}, {len(p.program)} instructions, compiled in {c.seconds * 1e3:.1f} ms; "
                  f"verifier: {getattr(res, 'stats_line', 'accepted')}")
            print(disassemble(p.program))
        return 0
    maps = maps_of(module)
    loaded = load_all(probes, attach=args.attach or True)
    rings = {n: m for n, m in maps.items() if isinstance(m, RingBuf)}
    print(f"Attached {len(loaded)} probe{'s' if len(loaded) != 1 else ''}. Ctrl-C to stop.", file=sys.stderr)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while deadline is None or time.monotonic() < deadline:
            got = False
            for name, rb in rings.items():
                for rec in rb.read(timeout=0):
                    got = True
                    print(_fmt(rec), flush=True)
            if not got:
                time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        from pyebpf.probe.maps import Log2Histogram, ProgArray

        for name, m in maps.items():
            if isinstance(m, (RingBuf, ProgArray)) or m._kernel is None:
                continue
            if isinstance(m, Log2Histogram):  # also LinearHistogram and histograms per key, as bpftrace prints them
                print(f"\n{name}:")
                print(m)
                continue
            for line in format_map(name, m):
                print(line)
        for lp in loaded:
            lp.close()
    return 0
