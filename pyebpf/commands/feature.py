"""`pyebpf feature probe [kernel] [full] [--json]`: what this kernel's BPF offers, as `bpftool feature probe` reports
it — program types, map types, helpers per program type, and whether kprobes can be placed — each found by loading
a tiny program or creating a tiny map (pyebpf.loader.feature_probe). `full` also probes the helpers that write to
the kernel log (bpf_trace_printk, bpf_trace_vprintk, bpf_probe_write_user), as bpftool's `full` does.
"""
from __future__ import annotations

import argparse
import json

from pyebpf.errors import LoaderError


def _probe(args: argparse.Namespace) -> int:
    from pyebpf.loader.feature_probe import probe_kernel

    words = [w for w in args.words if w != "kernel"]
    if words not in ([], ["full"]):
        raise LoaderError(f"unexpected {' '.join(words)!r} (feature probe [kernel] [full])")
    report = probe_kernel(full=bool(words), helpers=not args.no_helpers)
    if args.json:
        print(json.dumps(report))
        return 0
    print("Scanning eBPF program types...")
    for key, ok in report["program_types"].items():
        name = key.removeprefix("have_").removesuffix("_prog_type")
        print(f"eBPF program_type {name} is {'available' if ok else 'NOT available'}")
    print("\nScanning eBPF map types...")
    for key, ok in report["map_types"].items():
        name = key.removeprefix("have_").removesuffix("_map_type")
        print(f"eBPF map_type {name} is {'available' if ok else 'NOT available'}")
    if "helpers" in report:
        print("\nScanning eBPF helper functions...")
        for key, names in report["helpers"].items():
            print(f"eBPF helpers supported for program type {key.removesuffix('_available_helpers')}:")
            for name in names:
                print(f"\t- {name}")
    kp = report["kprobes"]
    print(f"\nkprobes are {'available' if kp['have_kprobes'] else 'NOT available: ' + kp['reason']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("feature", help="probe the kernel's BPF features (bpftool feature probe)",
                              description=__doc__)
    sub = p.add_subparsers(dest="feature_command", metavar="{probe}")
    sub.required = True
    pp = sub.add_parser("probe", help="program types, map types, helpers, kprobes")
    pp.add_argument("words", nargs="*", metavar="[kernel] [full]")
    pp.add_argument("--no-helpers", action="store_true", help="skip the helper probes (the slowest part)")
    pp.add_argument("--json", action="store_true", help="JSON with bpftool -j's section and key names")
    pp.set_defaults(func=_probe)
