"""`pyebpf explain FILE [--type T] [--prog NAME] [--unprivileged] [--steps [--path N]] [--html OUT]
[--why-accepted LINE]`.

Why the verifier refuses a program, in five parts: where (instruction, disassembly, source line), the path (the
branch decisions from the entry to it), why (where the offending register or stack slot got its type and bounds),
the rule (the kernel function that refuses it) and a fix in the program's language. FILE is read as `pyebpf verify`
reads it. --steps (alias --tui) prints every explored path (how it ended, which checkpoint pruned it) and the
abstract state after each instruction of one of them (--path N; the failing path by default); --html writes a
self-contained page with the CFG, the failing path, a step-through of any explored path and the pruning table.
--why-accepted LINE (a source line number, or @SLOT) shows, for an accepted program, the types and bounds that
made the instructions of that line safe on each explored path, and which comparisons established them.
"""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explain", help="explain why the verifier refuses (or accepts) a program",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="assembly (.s/.asm), hex (.hex), ELF object or raw bytes; - = stdin")
    p.add_argument("--type", metavar="TYPE", help="program type (xdp, socket_filter, kprobe, tracepoint, ...)")
    p.add_argument("--prog", metavar="NAME", help="which program of an ELF object")
    p.add_argument("--unprivileged", action="store_true", help="verify as without CAP_BPF/CAP_PERFMON")
    p.add_argument("--steps", "--tui", dest="steps", action="store_true",
                   help="print the explored paths and the abstract state after each instruction of one of them")
    p.add_argument("--path", metavar="N", type=int, help="with --steps: which explored path (default: the failing one)")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report (CFG, paths, states, pruning)")
    p.add_argument("--why-accepted", metavar="LINE", dest="why_accepted",
                   help="why the instructions of source line LINE (or @SLOT) are safe: bounds and their provenance")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from pyebpf.abi.prog_types import ProgType, parse_prog_type
    from pyebpf.commands.run import load_program
    from pyebpf.verifier.explain import explain

    program = load_program(args.file, args.prog)
    prog_type = parse_prog_type(args.type) if args.type else (program.prog_type or ProgType.SOCKET_FILTER)
    privileged = not args.unprivileged
    if args.why_accepted is not None:
        from pyebpf.verifier.safety import why_accepted

        report = why_accepted(program, args.why_accepted, prog_type, privileged)
        sys.stdout.write(report.text())
        return 0 if report.accepted else 1
    ex = explain(program, prog_type, privileged=privileged)
    exp = None
    if args.html or args.steps:
        from pyebpf.verifier.explore import explore

        exp = explore(program, prog_type, privileged)
    if args.html:
        from pyebpf.verifier.report import html_report

        with open(args.html, "w", encoding="utf-8") as f:
            f.write(html_report(program, ex, title=args.file, exp=exp))
    if ex is None:
        print("accepted: nothing to explain")
    else:
        sys.stdout.write(ex.text())
    if args.steps:
        from pyebpf.verifier.report import text_exploration

        sys.stdout.write(text_exploration(exp, args.path))
    return 0 if ex is None else 1
