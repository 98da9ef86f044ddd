"""A tracepoint's `format` file as typed fields: the layout of the record a tracepoint program's context points to.

The kernel writes one line per field (kernel/trace/trace_events.c, f_show):

    field:<declaration>;	offset:<n>;	size:<n>;	signed:<0|1>;

where the declaration is `<type> <name>`, `<type> <name>[<n>]`, `<type> <name>[]` (a flexible array), or
`__data_loc <type>[] <name>` / `__rel_loc <type>[] <name>` (a u32 holding the length << 16 | offset of
variable-length data). Fields before the first blank line are the common header (common_type, common_pid...).
Pure text in, fields out: no I/O here, so hostile or odd text is tested without a kernel.
"""
from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from pyebpf.errors import LoaderError

_FIELD_RE = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                       r"\s*(?:signed:(?P<signed>[01]);)?\s*$")
_DECL_RE = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(?P<len>[^\]]*)\])?$")
_LOC_RE = re.compile(r"^(?P<loc>__data_loc|__rel_loc)\s+(?P<type>.*?)\s*\[\s*\]\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_MAX_TEXT = 1 << 20  # a format file is a few KiB; bound what we read from anywhere else


@dataclass(frozen=True)
class TracepointField:
    """One field of a tracepoint record.

    `c_type` is the C type of the field, or of one element when `array_len` is not None (0 for a flexible
    `name[]` or a __data_loc/__rel_loc field, whose own 4 bytes hold (length << 16) | offset of the data).
    """

    name: str
    offset: int
    size: int
    signed: bool
    c_type: str
    array_len: int | None = None
    data_loc: bool = False
    rel_loc: bool = False
    common: bool = False

    @property
    def is_array(self) -> bool:
        return self.array_len is not None

    @property
    def declaration(self) -> str:
        """The C declaration as the format file spells it ('char prev_comm[16]', '__data_loc char[] name')."""
        if self.data_loc or self.rel_loc:
            return f"{'__data_loc' if self.data_loc else '__rel_loc'} {self.c_type}[] {self.name}"
        if self.array_len is not None:
            return f"{self.c_type} {self.name}[{self.array_len or ''}]"
        return f"{self.c_type} {self.name}"

    def line(self) -> str:
        """The field's line as the kernel writes it in `format` (without the leading tab)."""
        return f"field:{self.declaration};\toffset:{self.offset};\tsize:{self.size};\tsigned:{int(self.signed)};"


@dataclass(frozen=True)
class TracepointFormat:
    """The parsed `format` file: `fields` in record order (common ones first), `id`, and `print_fmt` as written."""

    name: str
    id: int | None
    fields: tuple[TracepointField, ...]
    print_fmt: str = ""

    def field(self, name: str) -> TracepointField:
        for f in self.fields:
            if f.name == name:
                return f
        raise LoaderError(f"tracepoint {self.name} has no field {name!r}", errno.ENOENT)

    @property
    def own_fields(self) -> tuple[TracepointField, ...]:
        """The tracepoint's own fields, without the common header."""
        return tuple(f for f in self.fields if not f.common)

    @property
    def size(self) -> int:
        """Bytes of the fixed part of the record (the end of its last field)."""
        return max((f.offset + f.size for f in self.fields), default=0)


def parse_field(line: str, common: bool = False, where: str = "format") -> TracepointField:
    """One `field:...` line; LoaderError (EINVAL) naming the line when it is not one the kernel writes."""
    m = _FIELD_RE.match(line)
    if not m:
        raise LoaderError(f"{where}: not a field line: {line.strip()[:120]!r}", errno.EINVAL)
    decl = m["decl"].strip()
    offset, size, signed = int(m["offset"]), int(m["size"]), m["signed"] == "1"
    loc = _LOC_RE.match(decl)
    if loc:
        return TracepointField(loc["name"], offset, size, signed, loc["type"], 0, loc["loc"] == "__data_loc",
                               loc["loc"] == "__rel_loc", common)
    d = _DECL_RE.match(decl)
    if not d or not d["type"]:
        raise LoaderError(f"{where}: cannot read the declaration {decl[:120]!r}", errno.EINVAL)
    length = d["len"]
    array_len: int | None = None
    if length is not None:
        length = length.strip()
        if length and not length.isdigit():
            raise LoaderError(f"{where}: field {d['name']!r}: array length {length[:40]!r} is not a number",
                              errno.EINVAL)
        array_len = int(length) if length else 0
    return TracepointField(d["name"], offset, size, signed, d["type"].strip(), array_len, common=common)


def parse_format(text: str, where: str = "format") -> TracepointFormat:
    """Parse the whole `format` file of a tracepoint (name, ID, fields, print fmt)."""
    if len(text) > _MAX_TEXT:
        raise LoaderError(f"{where}: {len(text)} bytes is not a tracepoint format", errno.EFBIG)
    name, tp_id, print_fmt = where, None, ""
    fields: list[TracepointField] = []
    in_format, common = False, True
    for line in text.splitlines():
        stripped = line.strip()
        if not in_format:
            if stripped.startswith("name:"):
                name = stripped[5:].strip()
            elif stripped.startswith("ID:"):
                value = stripped[3:].strip()
                if not value.isdigit():
                    raise LoaderError(f"{where}: bad ID line {stripped[:80]!r}", errno.EINVAL)
                tp_id = int(value)
            elif stripped == "format:":
                in_format = True
            continue
        if stripped.startswith("print fmt:"):
            print_fmt = stripped[len("print fmt:"):].strip()
            break
        if not stripped:
            if fields:
                common = False  # the blank line after the common header
            continue
        fields.append(parse_field(line, common, where))
    if not in_format:
        raise LoaderError(f"{where}: no 'format:' section", errno.EINVAL)
    return TracepointFormat(name, tp_id, tuple(fields), print_fmt)


__all__ = ["TracepointField", "TracepointFormat", "parse_field", "parse_format"]
