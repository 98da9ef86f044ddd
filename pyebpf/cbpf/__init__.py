"""Classic BPF (cBPF): the instruction set of tcpdump filters, SO_ATTACH_FILTER and seccomp.

Sits beside `pyebpf.isa` (imports only errors, abi and isa): `SockFilter`/`ClassicProgram` (encode/decode),
`assemble` (tcpdump -d / -dd / -ddd text and tools/bpf bpf_asm syntax, auto-detected), `disassemble` (all of
them), `check` (the kernel's bpf_check_classic; `check(prog, seccomp=True)` adds seccomp_check_filter) and
`to_ebpf` (bpf_convert_filter), whose Program runs in pyebpf.vm and goes through pyebpf.verifier and the loader.
Loading classic programs for real (SO_ATTACH_FILTER, seccomp) is in `pyebpf.loader.cbpf`.
"""
from __future__ import annotations

from pyebpf.cbpf.check import check_classic, check_seccomp
from pyebpf.cbpf.convert import convert, to_ebpf
from pyebpf.cbpf.disasm import FORMATS, disassemble
from pyebpf.cbpf.insn import ClassicProgram, SockFilter
from pyebpf.cbpf.text import PARSERS, detect_format, looks_classic, parse


def assemble(text: str, fmt: str | None = None, filename: str = "<input>") -> ClassicProgram:
    """Classic program from text in any syntax `detect_format` knows (or the one named by `fmt`)."""
    return parse(text, fmt, filename)


def check(prog: ClassicProgram | list, seccomp: bool = False) -> ClassicProgram:
    """The kernel's checks (VerifierError with EINVAL on failure); for seccomp, the program as seccomp runs it."""
    return check_seccomp(prog) if seccomp else check_classic(prog)


__all__ = ["SockFilter", "ClassicProgram", "assemble", "disassemble", "check", "check_classic", "check_seccomp",
           "convert", "to_ebpf", "detect_format", "looks_classic", "parse", "FORMATS", "PARSERS"]
