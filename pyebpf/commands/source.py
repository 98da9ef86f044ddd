"""Reading the input file of every subcommand: a file or `-` (stdin), at most MAX_INPUT_BYTES of it; assembly text
decoded as UTF-8.

The cap makes `pyebpf asm /dev/zero` (or a FIFO that never ends) an InputError and exit status 1 instead of reading
until MemoryError. Binary input to the assembler is an AsmError at the first byte that is not UTF-8 (line:col and
a caret), like any other assembler diagnostic, instead of a bare codec message that names neither file nor place.
"""
from __future__ import annotations

import sys

from pyebpf.errors import AsmDiagnostic, AsmError, InputError

STDIN_NAME = "<stdin>"
#: The largest input a subcommand reads: far above any BPF object or listing (a 1M-instruction program is ~40 MB of
#: text), far below what exhausts memory.
MAX_INPUT_BYTES = 256 << 20


def input_name(path: str) -> str:
    return STDIN_NAME if path == "-" else path


def read_input(path: str, limit: int | None = None) -> bytes:
    """The bytes of `path` (stdin for `-`), or InputError when there are more than `limit` (MAX_INPUT_BYTES)."""
    if limit is None:
        limit = MAX_INPUT_BYTES
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream put in place of stdin (tests, embedding)
            text = sys.stdin.read(limit + 1)
            data = text.encode("utf-8", "surrogateescape")
        else:
            data = stream.read(limit + 1)
    else:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{input_name(path)}: input larger than {limit} bytes; refusing to read more")
    return data


def object_id(text: str) -> int | None:
    """A kernel object id (`prog show 12`, `map dump id 3`): ASCII decimal that fits the kernel's u32, else None
    (`str.isdigit` also accepts `²`, which int() refuses)."""
    if text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
        return value if value <= 0xFFFFFFFF else None
    return None


def read_source(path: str, limit: int | None = None) -> tuple[str, str]:
    """(text, name for diagnostics) of the assembly file at `path`, or of stdin for `-`."""
    if limit is None:
        limit = MAX_INPUT_BYTES
    name = input_name(path)
    if path == "-" and not hasattr(sys.stdin, "buffer"):
        text = sys.stdin.read(limit + 1)
        if len(text) > limit:
            raise InputError(f"{name}: input larger than {limit} characters; refusing to read more")
        return text, name
    return decode_source(read_input(path, limit), name), name


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


__all__ = ["read_source", "read_input", "decode_source", "input_name", "object_id", "STDIN_NAME", "MAX_INPUT_BYTES"]
