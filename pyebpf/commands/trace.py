"""`pyebpf trace`: bpftrace's language compiled in pure Python (no LLVM, no clang) on pyebpf's compiler.

    pyebpf trace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
    pyebpf trace script.bt
    pyebpf trace -c 'ls /' -e 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[str(args->filename)] = count(); }'
    pyebpf trace -l 'tracepoint:syscalls:*open*'     (also rawtracepoint:*, uprobe:/bin/bash:*, usdt:/path/binary)

Output has bpftrace's shape: "Attaching N probes...", printf lines, and at the end (exit(), Ctrl-C, the end of
-c's command or of -p's process) every map, as bpftrace prints it; `-f json` prints bpftrace's JSON lines.
"""
from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trace", help="run a bpftrace script (compiled by pyebpf, no LLVM)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", metavar="FILE.bt", help="script file (or -e PROGRAM)")
    p.add_argument("-e", dest="program", metavar="PROGRAM", help="the program text")
    p.add_argument("-l", dest="list", nargs="?", const="*", default=None, metavar="GLOB",
                   help="list probes matching GLOB (tracepoints, raw tracepoints, uprobe:BINARY:*, usdt:BINARY)")
    p.add_argument("-c", dest="command", metavar="CMD", help="run CMD, trace while it runs, exit with its status")
    p.add_argument("-p", dest="pid", type=int, metavar="PID", help="stop when process PID exits")
    p.add_argument("-f", dest="format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("-d", "--dry-run", dest="dry_run", action="store_true",
                   help="compile and verify with pyebpf's verifier; print the programs; load nothing")
    p.add_argument("-v", dest="verbose", action="store_true", help="print verifier statistics per program")
    p.add_argument("--unsafe", action="store_true", help="allow unsafe builtins (signal()), as bpftrace's --unsafe")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.set_defaults(func=handler)


def list_probes(glob: str, out=sys.stdout) -> int:
    from pyebpf.trace.probes import list_probes as names

    for name in names(glob):
        out.write(name + "\n")
    return 0


def handler(args: argparse.Namespace) -> int:
    from pyebpf.trace.errors import TraceError

    try:
        return _run(args)
    except TraceError as e:
        print(str(e), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from pyebpf.trace.errors import TraceError
    from pyebpf.trace.runner import prepare, run

    if args.list is not None:
        return list_probes(args.list)
    if args.program is not None:
        text, name = args.program, "stdin"
        if args.file:
            raise TraceError(f"both -e and a script file ({args.file}) given")
    elif args.file:
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20 + 1)
        except OSError as e:
            raise TraceError(f"failed to open file '{args.file}': {e.strerror}") from None
        name = args.file
    else:
        raise TraceError("USAGE: pyebpf trace [options] filename | -e 'program' | -l [GLOB]")
    child = None
    gate_w = -1
    if args.command is not None and not args.dry_run:
        from pyebpf.trace.runner import start_command

        child, gate_w = start_command(args.command)
    try:
        # a cached compilation is used when there is one (--dry-run and -v need the compiler's probes: compiled)
        comp = prepare(text, name, pid=args.pid, unsafe=args.unsafe, cpid=child.pid if child is not None else
                       (0 if args.command is not None else None), use_cache=not (args.dry_run or args.verbose))
    except BaseException:
        if child is not None:
            os.close(gate_w)
            child.terminate()
            child.wait()
        raise
    if args.dry_run or args.verbose:
        from pyebpf.isa.disassembler import disassemble
        from pyebpf.errors import VerifierError

        for fname, target in comp.translation.targets:
            p = comp.probes[fname]
            try:
                res = p.verify()
                verdict = f"accepted; {getattr(res, 'stats_line', '')}".rstrip("; ")
            except VerifierError as e:
                verdict = f"REJECTED: {e.message}"
            print(f"# {target.name}: {len(p.program)} instructions, compiled in "
                  f"{p.compiled.seconds * 1e3:.1f} ms; pyebpf verifier: {verdict}", file=sys.stderr)
            if args.dry_run:
                print(disassemble(p.program))
        if args.dry_run:
            return 0
    return run(comp, json_mode=args.format == "json", pid=args.pid, duration=args.duration, child=child,
               gate_w=gate_w)
