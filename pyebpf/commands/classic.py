"""Classic BPF in the CLI: the `--classic` flag of asm, disasm, run, verify and load, and the detection that lets
`tcpdump -d` / `-dd` / `-ddd` output (and bpf_asm's raw output) through without it.

With `--classic`, FILE is classic text in any syntax pyebpf.cbpf reads (bpf_asm source included) or raw
`struct sock_filter` bytes (input with a NUL byte). run/verify/load work on the eBPF program the kernel's
conversion gives (a socket filter; `--seccomp` for a seccomp filter, whose context is struct seccomp_data).
"""
from __future__ import annotations

import argparse
import json
import re
from typing import Any

from pyebpf.cbpf import ClassicProgram, looks_classic, parse, to_ebpf
from pyebpf.commands.source import STDIN_NAME, decode_source, input_name, read_input
from pyebpf.errors import PyebpfError

HELP = ("classic BPF: tcpdump -d/-dd/-ddd text, bpf_asm source or sock_filter bytes "
        "(tcpdump output is recognised without this flag)")


def add_flags(p: argparse.ArgumentParser, seccomp: bool = False) -> None:
    p.add_argument("--classic", action="store_true", help=HELP)
    if seccomp:
        p.add_argument("--seccomp", action="store_true",
                       help="with a classic program: a seccomp filter (seccomp_check_filter's rules; --ctx takes "
                            "seccomp_data fields: nr, arch, instruction_pointer, args)")


def read_bytes(path: str) -> tuple[bytes, str]:
    """The input's bytes (capped: commands/source.read_input) and its name for diagnostics."""
    return read_input(path), input_name(path)


def classic_from_data(data: bytes, name: str, forced: bool) -> ClassicProgram | None:
    """The classic program in `data`, or None when it is not classic (auto-detection without --classic)."""
    if forced and b"\0" in data:
        return ClassicProgram.from_bytes(data)
    if not forced:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return parse(text, filename=name) if looks_classic(text) else None
    return parse(decode_source(data, name), filename=name)


def classic_from_text(text: str, name: str, forced: bool) -> ClassicProgram | None:
    return parse(text, filename=name) if forced or looks_classic(text) else None


def ebpf_from_data(data: bytes, name: str, forced: bool, seccomp: bool = False) -> Any:
    """The converted eBPF Program, or None when the input is not classic."""
    prog = classic_from_data(data, name, forced or seccomp)
    if prog is None:
        return None
    base = name.rsplit("/", 1)[-1].split(".")[0] if name != STDIN_NAME else "classic"
    base = re.sub(r"[^A-Za-z0-9_]", "_", base)[:15]  # what bpf_obj_name_cpy accepts
    return to_ebpf(prog, "seccomp" if seccomp else "socket", name=base)


def seccomp_context(ctx_json: str | None) -> Any:
    """struct seccomp_data from `--ctx` JSON ({"nr": 39, "arch": 3221225534, "args": [..]})."""
    from pyebpf.abi.cbpf import SeccompData

    fields: dict[str, Any] = {}
    if ctx_json:
        try:
            fields = json.loads(ctx_json)
        except json.JSONDecodeError as e:
            raise PyebpfError(f"--ctx: not JSON ({e})") from None
        if not isinstance(fields, dict):
            raise PyebpfError("--ctx: expected a JSON object")
    data = SeccompData()
    for key, value in fields.items():
        if key not in ("nr", "arch", "instruction_pointer", "args"):
            raise PyebpfError(f"--ctx: seccomp_data has no field {key!r} (nr, arch, instruction_pointer, args)")
        values = value if key == "args" else [value]
        if not isinstance(values, list) or len(values) > 6 or not all(isinstance(v, int) for v in values):
            raise PyebpfError(f"--ctx: {key} takes {'up to 6 integers' if key == 'args' else 'an integer'}")
        limit = 1 << (32 if key in ("nr", "arch") else 64)
        if not all(-limit // 2 <= v < limit for v in values):
            raise PyebpfError(f"--ctx: {key} {value} does not fit")
        if key == "args":
            for i, v in enumerate(values):
                data.args[i] = v % (1 << 64)
        elif key == "nr":
            data.nr = (value + (1 << 31)) % (1 << 32) - (1 << 31)
        else:
            setattr(data, key, value % limit)
    return data


__all__ = ["add_flags", "read_bytes", "classic_from_data", "classic_from_text", "ebpf_from_data",
           "seccomp_context", "HELP"]
