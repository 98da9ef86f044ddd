"""`pyebpf verify FILE [--type T] [--log-level N] [--unprivileged] [--kernel] [--kernel-version V | --kernels LIST]`.

Check a program with pyebpf's verifier (a mirror of the kernel's). FILE is assembly text (.s/.asm, any dialect),
hex (.hex), a clang-compiled ELF object (--prog picks the program) or raw instruction bytes; `-` reads assembly
from stdin. On acceptance it prints the statistics line; on rejection it exits 1 with the kernel's message and the
instruction (slot) it names. --log-level 1/2/4 prints the verifier log in the kernel's format first. --kernel also
loads the program with BPF_PROG_LOAD, prints both verdicts side by side and which facts agree or differ
(verdict, instruction, message, errno, processed instructions and state counts).

--kernel-version 6.1 answers for that kernel release instead of the running one (its instruction set, helpers,
rules, limits and messages; docs/kernels.md). --kernels 5.10,6.1,6.12,6.18 prints one line per release: verdict,
instruction and first message, without booting anything; it exits 1 when any of them rejects the program.
"""
from __future__ import annotations

import argparse
import errno as _errno
import re
import sys
from typing import Any

from pyebpf.errors import PyebpfError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="check a program like the kernel verifier does",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="assembly (.s/.asm), hex (.hex), ELF object or raw bytes; - = stdin")
    p.add_argument("--type", metavar="TYPE", help="program type (xdp, socket_filter, kprobe, tracepoint, ...)")
    p.add_argument("--prog", metavar="NAME", help="which program of an ELF object")
    p.add_argument("--log-level", type=int, default=0, choices=(0, 1, 2, 4, 5, 6),
                   help="print the verifier log (1: failing path, 2: everything, 4: statistics)")
    p.add_argument("--unprivileged", action="store_true",
                   help="verify as a process without CAP_BPF/CAP_PERFMON would be verified")
    p.add_argument("--kernel", action="store_true", help="also load it in the running kernel and compare")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--kernel-version", metavar="V", help="answer for kernel release V (5.10, 6.1, 6.12, 6.18; "
                       "default: the running kernel's)")
    which.add_argument("--kernels", metavar="LIST", help="comma-separated releases: a verdict table, one line each")
    p.add_argument("--classic", action="store_true", help="classic BPF, checked and converted as SO_ATTACH_FILTER "
                   "does (tcpdump output is recognised without this flag)")
    p.set_defaults(func=handler)


def _load(path: str, prog: str | None, classic_: bool = False) -> Any:
    from pyebpf.commands.run import load_program

    return load_program(path, prog, classic_)


_STATS = re.compile(r"processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) "
                    r"peak_states (\d+)")
_FIELDS = ("verdict", "insn", "message", "errno", "processed", "max_states_per_insn", "total_states", "peak_states")


def _facts(accepted: bool, insn: Any, message: str, err: Any, log: str) -> dict[str, Any]:
    """The facts both verifiers report, by name; statistics from the log's `processed ...` line (None if absent)."""
    m = _STATS.search(log or "")
    stats = [int(x) for x in m.groups()] if m else [None] * 4
    return dict(zip(_FIELDS, ["accepted" if accepted else "rejected", insn, message, err, *stats]))


def compare(ours: dict[str, Any], kernel: dict[str, Any]) -> str:
    """'agree: ...' when every fact is equal, else 'DIFFER: field (pyebpf X, kernel Y); ...; agree: ...'."""
    same = [f for f in _FIELDS if ours[f] == kernel[f]]
    differ = [f"{f} (pyebpf {ours[f]}, kernel {kernel[f]})" for f in _FIELDS if ours[f] != kernel[f]]
    if not differ:
        return "verdicts agree: " + ", ".join(same)
    head = "verdicts agree" if ours["verdict"] == kernel["verdict"] else "verdicts DIFFER"
    return f"{head}; DIFFER: " + "; ".join(differ) + ("; agree: " + ", ".join(same) if same else "")


def _kernel_verdict(program: Any, prog_type: Any, log_level: int) -> tuple[bool, str, str, dict[str, Any]]:
    """(accepted, reason or stats, log, facts) from BPF_PROG_LOAD."""
    from pyebpf.loader import ProgramLoadError, load

    try:
        kp = load(program, prog_type, log_level=max(log_level & 3, 1))
    except ProgramLoadError as e:
        name = _errno.errorcode.get(e.errno or 0, str(e.errno))
        where = f"insn {e.insn}: " if e.insn is not None else ""
        return False, f"{where}{e.reason} ({name})", e.log, _facts(False, e.insn, e.reason, name, e.log)
    log = getattr(kp, "log", "") or ""
    try:
        kp.close()
    except Exception:  # noqa: BLE001 - closing an fd we own; nothing useful to report
        pass
    stats = next((ln for ln in log.splitlines() if ln.startswith("processed ")), "accepted")
    return True, stats, log, _facts(True, None, "", None, log)


def handler(args: argparse.Namespace) -> int:
    from pyebpf.abi.prog_types import ProgType, parse_prog_type
    from pyebpf.verifier import verify

    program = _load(args.file, args.prog, args.classic)
    prog_type = parse_prog_type(args.type) if args.type else (program.prog_type or ProgType.SOCKET_FILTER)
    if args.kernels is not None:
        if args.kernel:
            raise PyebpfError("--kernels answers offline; --kernel loads into the running kernel: choose one")
        return _kernels_table(program, prog_type, args)
    result = verify(program, prog_type=prog_type, privileged=not args.unprivileged, log_level=args.log_level,
                    raise_on_reject=False, kernel=args.kernel_version)
    if args.log_level and result.log:
        sys.stdout.write(result.log if result.log.endswith("\n") else result.log + "\n")
    if result.accepted:
        ours = result.stats_line
    else:
        e = result.error
        ours = f"insn {e.insn}: {e.message} ({_errno.errorcode.get(e.errno, e.errno)})"
    if args.kernel:
        if args.unprivileged:
            raise PyebpfError("--kernel compares privileged loads only (this process has CAP_BPF)")
        k_ok, k_text, k_log, k_facts = _kernel_verdict(program, prog_type, args.log_level)
        if args.log_level and k_log:
            print("--- kernel log ---")
            sys.stdout.write(k_log if k_log.endswith("\n") else k_log + "\n")
        print(f"pyebpf: {'accepted' if result.accepted else 'rejected'}: {ours}")
        print(f"kernel: {'accepted' if k_ok else 'rejected'}: {k_text}")
        e = result.error
        mine = _facts(result.accepted, e and e.insn, e.message if e else "",
                      e and _errno.errorcode.get(e.errno, e.errno), result.stats_line)
        print(compare(mine, k_facts))
        return 0 if result.accepted else 1
    if result.accepted:
        print(f"accepted: {ours}")
        return 0
    raise result.error


def _kernels_table(program: Any, prog_type: Any, args: argparse.Namespace) -> int:
    """--kernels: one verification per distinct set of answers, one line per release."""
    from pyebpf.verifier import verify_kernels

    releases = [k.strip() for k in args.kernels.split(",") if k.strip()]
    if not releases:
        raise PyebpfError("--kernels: no kernel release given (e.g. --kernels 5.10,6.1,6.12,6.18)")
    results = verify_kernels(program, releases, prog_type=prog_type, privileged=not args.unprivileged,
                             log_level=args.log_level)
    rows = []
    for release, res in results.items():
        if res.accepted:
            rows.append((release, "accepted", "", f"processed {res.processed} insns"))
        else:
            e = res.error
            rows.append((release, "rejected", "" if e.insn is None else str(e.insn),
                         f"{e.message} ({_errno.errorcode.get(e.errno, e.errno)})"))
    width = max(len("kernel"), *(len(r[0]) for r in rows))
    print(f"{'kernel':<{width}}  verdict   insn  message")
    for release, verdict, insn, text in rows:
        print(f"{release:<{width}}  {verdict:<8}  {insn:>4}  {text}")
    return 0 if all(r.accepted for r in results.values()) else 1
