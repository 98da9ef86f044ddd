"""`pyebpf usdt list BINARY [--json]`: the USDT probes (SystemTap SDT notes) of a binary or library.

One line per probe site: provider:name, the probe's address and the uprobe's file offset, its semaphore (address,
file offset) and its argument specs as the compiler wrote them, each with how pyebpf reads it (register, memory at
register+offset, constant; size and sign). `--json` prints a list of objects with the same facts. BINARY may be a
path or a library name ("c", "libpython3.11.so").
"""
from __future__ import annotations

import argparse
import json

from pyebpf.loader.attach.elfsym import resolve_binary
from pyebpf.loader.usdt import ArgKind, UsdtArg, read_probes


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("usdt", help="USDT probes of a binary", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    lst = verbs.add_parser("list", help="list the probes in BINARY")
    lst.add_argument("binary", metavar="BINARY")
    lst.add_argument("--json", action="store_true", help="one JSON list")
    lst.set_defaults(func=handler)


def describe(arg: UsdtArg) -> str:
    kind = {ArgKind.REG: lambda: f"%{arg.register}", ArgKind.CONST: lambda: f"${arg.value}",
            ArgKind.REG_DEREF: lambda: f"[%{arg.register}{arg.offset:+d}]"}[arg.kind]()
    return f"{'s' if arg.signed else 'u'}{8 * arg.size} {kind}"


def handler(args: argparse.Namespace) -> int:
    probes = read_probes(resolve_binary(args.binary))
    if args.json:
        print(json.dumps([p.to_dict() for p in probes], indent=1))
        return 0
    for p in probes:
        sema = f"semaphore {p.semaphore:#x} (file {p.semaphore_offset:#x})" if p.semaphore else "no semaphore"
        how = p.args_error or ", ".join(describe(a) for a in p.args)
        print(f"{p.provider}:{p.name} at {p.address:#x} (file {p.file_offset:#x}), {sema}")
        if p.args_text:
            print(f"    args: {p.args_text}  ->  {how}")
    return 0
