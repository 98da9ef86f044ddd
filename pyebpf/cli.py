"""The `pyebpf` command: one subcommand module per job under `pyebpf.commands`.

Every subcommand raises pyebpf's typed errors; this entry point turns them into one line on stderr and a non-zero
exit status, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib import import_module

from pyebpf.errors import PyebpfError

#: Subcommand modules, each with `register(subparsers)`; a module sets `func` on its parser.
COMMAND_MODULES = ("asm", "disasm", "demo", "run", "verify", "explain", "load", "prog", "map", "usdt", "btf",
                   "net", "probe", "feature", "link", "cgroup", "trace", "export")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All subcommands, or only `only` (a run of one command need not import every other command's modules:
    start-up time of `pyebpf trace` is measured against bpftrace's)."""
    parser = argparse.ArgumentParser(prog="pyebpf", description="Pure-Python eBPF toolkit.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES if only not in COMMAND_MODULES else (only,):
        import_module(f"pyebpf.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except BrokenPipeError:
        return _stdout_closed()
    except PyebpfError as e:
        text = str(e)
        print(f"pyebpf {args.command}: error: {text}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"pyebpf {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(status or 0)


def _stdout_closed() -> int:
    """The reader of our stdout went away (`pyebpf disasm x.o | head`): stop quietly, as a SIGPIPE'd tool does.

    Python's recipe: point stdout at /dev/null so the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (embedded use): nothing to redirect
        pass
    return 128 + signal.SIGPIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
