"""Reading assembly text for the subcommands that take it (asm, run): a file or `-` (stdin), decoded as UTF-8.

Binary input is an AsmError at the first byte that is not UTF-8 (line:col and a caret), like any other assembler
diagnostic, instead of a bare codec message that names neither the file nor the place.
"""
from __future__ import annotations

import sys

from pyebpf.errors import AsmDiagnostic, AsmError

STDIN_NAME = "<stdin>"


def read_source(path: str) -> tuple[str, str]:
    """(text, name for diagnostics) of the assembly file at `path`, or of stdin for `-`."""
    if path == "-":
        if not hasattr(sys.stdin, "buffer"):  # a text stream put in place of stdin (tests, embedding)
            return sys.stdin.read(), STDIN_NAME
        return decode_source(sys.stdin.buffer.read(), STDIN_NAME), STDIN_NAME
    with open(path, "rb") as f:
        return decode_source(f.read(), path), path


def decode_source(data: bytes, name: str) -> str:
    """`data` as UTF-8 text; AsmError pointing at the first byte that is not (line:col in characters, as the
    caret is drawn)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line_end = data.find(b"\n", e.start)
        source = data[line_start:line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
        column = len(data[line_start:e.start].decode("utf-8")) + 1
        raise AsmError(AsmDiagnostic(data.count(b"\n", 0, e.start) + 1, column,
                                     f"not UTF-8 text (byte {data[e.start]:#04x})", source), name) from None


__all__ = ["read_source", "decode_source", "STDIN_NAME"]
