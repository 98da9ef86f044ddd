"""`pyebpf disasm FILE [--style llvm|kernel|ubpf] [--section NAME]`: instructions as text.

FILE holds raw instruction bytes, hex text, or an ELF object (`-` reads stdin). For an ELF object every executable
section is listed with `<func>:` symbol headers; the default llvm style prints llvm-objdump -d's exact layout, so
`diff <(pyebpf disasm x.o) <(llvm-objdump -d x.o)` is empty. `--objdump` gives the same layout for raw input,
`--symbolic` prints labels, helper names and map references instead of numbers, `--alu32` matches
`llvm-objdump --mattr=+alu32`. Bad input (not ELF, not hex, undecodable bytes) is a one-line error and exit 1.
"""
from __future__ import annotations

import argparse
import sys

from pyebpf.cbpf import FORMATS as CLASSIC_FORMATS
from pyebpf.cbpf import disassemble as classic_disassemble
from pyebpf.commands import classic
from pyebpf.commands.source import read_input
from pyebpf.isa.disasm_elf import disassemble_input
from pyebpf.isa.disassembler import STYLES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("disasm", help="disassemble raw bytes, hex text or an ELF object",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="raw bytes, hex text or ELF object; - for stdin")
    p.add_argument("--style", choices=STYLES, default="llvm", help="text dialect (default: llvm)")
    p.add_argument("--section", metavar="NAME", help="only this ELF section")
    p.add_argument("--objdump", action="store_true", help="llvm-objdump layout (slots, bytes) for raw input too")
    p.add_argument("--symbolic", action="store_true", help="labels and names instead of offsets and numbers")
    p.add_argument("--alu32", action="store_true", help="w registers for 32-bit loads/stores, as --mattr=+alu32")
    p.add_argument("--big-endian", action="store_true", help="raw or hex input is big-endian")
    classic.add_flags(p)
    p.add_argument("--classic-format", choices=tuple(CLASSIC_FORMATS), default="tcpdump",
                   help="how to print a classic program: tcpdump (-d), bpf_asm, c (-dd), ddd, bpf_asm_raw")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    data = read_input(args.file)
    name = "<stdin>" if args.file == "-" else args.file
    cprog = classic.classic_from_data(data, name, args.classic)
    if cprog is not None:
        sys.stdout.write(classic_disassemble(cprog, args.classic_format))
        return 0
    text = disassemble_input(data, name, args.style, args.section, objdump=args.objdump, symbolic=args.symbolic,
                             alu32=args.alu32, byteorder="big" if args.big_endian else "little")
    sys.stdout.write(text)
    return 0
