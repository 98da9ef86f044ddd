"""`pyebpf-conformance-plugin [--engine interp|compiled] [MEMHEX]`: the bpf_conformance runner's plugin protocol.

The program arrives as hex text on stdin (little-endian instruction bytes), the memory as one hex string in
argv (absent when the test has none). Prints r0 in hex and exits 0, or prints the error and exits 1. Helper 5 is
the suite's test helper (returns r1).
"""
from __future__ import annotations

import argparse
import sys

from pyebpf.errors import PyebpfError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyebpf-conformance-plugin", description=__doc__)
    parser.add_argument("memory", nargs="?", default="", help="memory contents in hex")
    parser.add_argument("--engine", choices=("interp", "compiled"), default="interp")
    args, _unknown = parser.parse_known_args(argv)  # the suite may pass runner options we do not need
    try:
        from pyebpf.commands.source import read_source
        from pyebpf.isa.program import Program
        from pyebpf.vm.conformance import CONFORMANCE_HELPERS
        from pyebpf.vm.vm import VM

        program = Program.from_hex(read_source("-")[0])
        try:
            mem = bytes.fromhex("".join(args.memory.split()))
        except ValueError as e:
            raise PyebpfError(f"memory is not hex: {e}") from None
        r0 = VM(program, helpers=CONFORMANCE_HELPERS, engine=args.engine).run(mem=mem).r0
    except PyebpfError as e:
        print(f"error: {e}")
        return 1
    print(f"{r0:x}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
