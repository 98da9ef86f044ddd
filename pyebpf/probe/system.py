"""What the compiler needs from the running system, injected into it: tracepoint record layouts.

The one place pyebpf.probe reads tracefs `format` files for the compiler (pyebpf.loader.tracefs finds and reads
them); when pyebpf.btf's format reader lands, only this module changes.
"""
from __future__ import annotations

import functools
import re

from pyebpf.compiler.context import Field
from pyebpf.errors import CompileError, LoaderError

_FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d)")
_ARRAY = re.compile(r"^(?P<type>.*?)\s*(?P<name>\w+)\s*\[(?P<n>\d*)\]$")


def parse_format(text: str) -> list[Field]:
    """Fields of a tracepoint `format` file, without the common_* header the program may not read."""
    out = []
    for m in _FIELD.finditer(text):
        decl = m["decl"].strip()
        off, size, signed = int(m["off"]), int(m["size"]), m["signed"] == "1"
        if decl.startswith("__data_loc"):
            name = decl.split()[-1].split("[")[0]
            out.append(Field(name, off, size, False, 1, "data_loc", decl))
            continue
        arr = _ARRAY.match(decl)
        if arr:
            n = int(arr["n"] or 0)
            name = arr["name"]
            if n and size % n == 0 and size // n in (1, 2, 4, 8):
                out.append(Field(name, off, size // n, signed, n, "int", decl))
            else:
                out.append(Field(name, off, size, signed, 1, "bytes", decl))
            continue
        name = re.split(r"[\s*]+", decl)[-1]
        if name.startswith("common_"):
            continue
        kind = "int" if size in (1, 2, 4, 8) else "bytes"
        out.append(Field(name, off, size, signed and "*" not in decl, 1, kind, decl))
    return out


class SystemTracepoints:
    """TracepointProvider over this machine's tracefs."""

    @functools.lru_cache(maxsize=256)
    def tracepoint_fields(self, category: str, name: str) -> list[Field]:
        from pyebpf.loader.tracefs import tracepoint_format

        try:
            return parse_format(tracepoint_format(category, name))
        except LoaderError as e:
            raise CompileError(f"tracepoint {category}:{name}: {e}",
                               hint="list them in /sys/kernel/tracing/events (needs root and tracefs)") from None


SYSTEM = SystemTracepoints()

__all__ = ["parse_format", "SystemTracepoints", "SYSTEM"]
