"""`pyebpf explain FILE [--type T] [--prog NAME] [--unprivileged] [--steps] [--html OUT]`.

Why the verifier refuses a program, in five parts: where (instruction, disassembly, source line), the path (the
branch decisions from the entry to it), why (where the offending register or stack slot got its type and bounds),
the rule (the kernel function that refuses it) and a fix in the program's language. FILE is read as `pyebpf verify`
reads it. --steps (alias --tui) prints the abstract state after every instruction of the failing path; --html
writes a self-contained page with the CFG, the failing path and a step-through of the states.
"""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explain", help="explain why the verifier refuses a program",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="assembly (.s/.asm), hex (.hex), ELF object or raw bytes; - = stdin")
    p.add_argument("--type", metavar="TYPE", help="program type (xdp, socket_filter, kprobe, tracepoint, ...)")
    p.add_argument("--prog", metavar="NAME", help="which program of an ELF object")
    p.add_argument("--unprivileged", action="store_true", help="verify as without CAP_BPF/CAP_PERFMON")
    p.add_argument("--steps", "--tui", dest="steps", action="store_true",
                   help="print the abstract state after each instruction of the failing path")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report (CFG, path, states)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from pyebpf.abi.prog_types import ProgType, parse_prog_type
    from pyebpf.commands.run import load_program
    from pyebpf.verifier.explain import explain

    program = load_program(args.file, args.prog)
    prog_type = parse_prog_type(args.type) if args.type else (program.prog_type or ProgType.SOCKET_FILTER)
    ex = explain(program, prog_type, privileged=not args.unprivileged)
    if args.html:
        from pyebpf.verifier.report import html_report

        with open(args.html, "w", encoding="utf-8") as f:
            f.write(html_report(program, ex, title=args.file))
    if ex is None:
        print("accepted: nothing to explain")
        return 0
    sys.stdout.write(ex.text())
    if args.steps:
        from pyebpf.verifier.report import text_steps

        sys.stdout.write(text_steps(ex))
    return 1
