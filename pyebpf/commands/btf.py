"""`pyebpf btf dump [FILE] [--format c|raw]` and `pyebpf btf tracepoint CATEGORY:NAME`: kernel types as text.

`dump` prints a raw BTF file (default: the running kernel's /sys/kernel/btf/vmlinux) as a C header
(`pyebpf btf dump > vmlinux.h`, what `bpftool btf dump file ... format c` gives) or in bpftool's raw format.
`tracepoint` prints the record a tracepoint program reads: each field's offset, size, signedness and C type, from
the tracepoint's tracefs `format` file. Bad input (not BTF, no such tracepoint) is a one-line error and exit 1.
"""
from __future__ import annotations

import argparse
import errno
import sys

from pyebpf.abi.btf import VMLINUX_BTF_PATH
from pyebpf.btf import Btf, kernel_btf
from pyebpf.btf.c_dump import c_dump
from pyebpf.btf.dump import raw_dump
from pyebpf.errors import BtfError
from pyebpf.system.tracefs import split_tracepoint, tracepoint_format

MAX_BTF_BYTES = 256 << 20  # vmlinux BTF is a few MiB; refuse to read a huge file whole


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("btf", help="print kernel types: BTF as C or raw text, tracepoint records",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="btf_command", metavar="WHAT")
    sub.required = True
    d = sub.add_parser("dump", help="a BTF file as a C header or bpftool's raw format")
    d.add_argument("file", metavar="FILE", nargs="?", default=VMLINUX_BTF_PATH,
                   help=f"raw BTF (default: {VMLINUX_BTF_PATH})")
    d.add_argument("--format", choices=("c", "raw"), default="c", help="C header (default) or bpftool's raw lines")
    d.set_defaults(func=dump_handler)
    t = sub.add_parser("tracepoint", help="the fields of a tracepoint's record")
    t.add_argument("tracepoint", metavar="CATEGORY:NAME", help="e.g. syscalls:sys_enter_openat")
    t.set_defaults(func=tracepoint_handler)


def _read_btf(path: str) -> Btf:
    if path == VMLINUX_BTF_PATH:
        return kernel_btf()
    with open(path, "rb") as f:
        blob = f.read(MAX_BTF_BYTES + 1)
    if len(blob) > MAX_BTF_BYTES:
        raise BtfError(f"{path}: larger than {MAX_BTF_BYTES >> 20} MiB, not read", errno.EFBIG)
    return Btf.parse(blob, path)


def dump_handler(args: argparse.Namespace) -> int:
    btf = _read_btf(args.file)
    if args.format == "c":
        sys.stdout.write(c_dump(btf))
    else:
        for text in raw_dump(btf):
            sys.stdout.write(text + "\n")
    return 0


def tracepoint_handler(args: argparse.Namespace) -> int:
    fmt = tracepoint_format(*split_tracepoint(args.tracepoint))
    print(f"{fmt.name} (id {fmt.id}, {fmt.size} bytes)")
    for f in fmt.fields:
        kind = "__data_loc " if f.data_loc else "__rel_loc " if f.rel_loc else ""
        array = f"[{f.array_len or ''}]" if f.array_len is not None else ""
        signed = "signed" if f.signed else "unsigned"
        print(f"  {f.offset:4d} {f.size:4d}  {signed:8s}  {kind}{f.c_type}{array} {f.name}"
              f"{'  (common)' if f.common else ''}")
    return 0
