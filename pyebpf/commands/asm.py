"""`pyebpf asm FILE [-o OUT] [--dialect llvm|kernel|ubpf] [--hex]`: assemble text into instruction bytes.

Raw little-endian bytes go to OUT (or stdout); `--hex` writes one 8-byte slot per line in hex instead, the form
`Program.from_hex` and the conformance plugin read. FILE `-` reads stdin. Assembly errors raise AsmError, whose
text lists every problem with a caret under it; the CLI prints it and exits 1.
"""
from __future__ import annotations

import argparse
import sys

from pyebpf.cbpf import ClassicProgram, to_ebpf
from pyebpf.commands import classic
from pyebpf.commands.source import read_source
from pyebpf.errors import AsmDiagnostic, AsmError
from pyebpf.isa.assembler import DIALECTS, assemble


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("asm", help="assemble eBPF text (LLVM/kernel or uBPF dialect) into bytes",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="assembly text, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.add_argument("--dialect", choices=DIALECTS, default=None,
                   help="text dialect (default: decided line by line)")
    p.add_argument("--hex", action="store_true", help="write hex text, one 8-byte slot per line")
    classic.add_flags(p)
    p.add_argument("--to-ebpf", action="store_true", help="with a classic program: write the eBPF the kernel's "
                   "conversion gives instead of sock_filter bytes")
    p.set_defaults(func=handler)


def hex_lines(data: bytes) -> str:
    return "".join(data[i:i + 8].hex() + "\n" for i in range(0, len(data), 8))


def handler(args: argparse.Namespace) -> int:
    text, name = read_source(args.file)
    cprog = classic.classic_from_text(text, name, args.classic)  # sock_filter bytes, or the converted eBPF
    program = (to_ebpf(cprog) if args.to_ebpf else cprog) if cprog is not None else \
        assemble(text, dialect=args.dialect, filename=name)
    if cprog is None and args.to_ebpf:
        raise AsmError(AsmDiagnostic(1, 1, "--to-ebpf converts classic programs; this is eBPF text"), name)
    if not isinstance(program, ClassicProgram) and not program.instructions:  # writing zero bytes would hand the next tool a program the kernel rejects
        raise AsmError(AsmDiagnostic(1, 1, "no instructions"), name)
    data = program.to_bytes()
    as_hex = args.hex or (args.output is None and sys.stdout.isatty())
    if args.output is not None:
        if as_hex:
            with open(args.output, "w", encoding="ascii") as f:
                f.write(hex_lines(data))
        else:
            with open(args.output, "wb") as f:
                f.write(data)
        return 0
    if as_hex:
        sys.stdout.write(hex_lines(data))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0
