"""Tracepoint `format` files as typed fields: every format file of the running kernel reads back line for line, the
fields agree with the kernel's BTF record structs, and odd text is a typed error."""
from __future__ import annotations

import errno
import glob
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.errors import LoaderError
from pyebpf.system import TracepointNotFound, tracefs_root, tracepoint_format, tracepoint_id
from pyebpf.system.tracefs_format import parse_field, parse_format
from pyebpf.testing.plugin import require_or_skip

SAMPLE = """name: sample
ID: 7
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:24;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:32;\tsize:8;\tsigned:0;
\tfield:u32 buf[];\toffset:40;\tsize:0;\tsigned:0;

print fmt: "comm=%s", REC->comm
"""


def test_sample_fields():
    fmt = parse_format(SAMPLE)
    assert (fmt.name, fmt.id, fmt.size) == ("sample", 7, 40)
    assert [f.name for f in fmt.fields if f.common] == ["common_type", "common_pid"]
    assert [f.name for f in fmt.own_fields] == ["comm", "name", "filename", "buf"]
    comm = fmt.field("comm")
    assert (comm.offset, comm.size, comm.c_type, comm.array_len, comm.signed) == (8, 16, "char", 16, False)
    name = fmt.field("name")
    assert name.data_loc and name.c_type == "char" and name.array_len == 0 and name.size == 4
    assert fmt.field("filename").c_type == "const char *" and not fmt.field("filename").is_array
    assert fmt.field("buf").array_len == 0
    assert fmt.print_fmt == '"comm=%s", REC->comm'
    with pytest.raises(LoaderError):
        fmt.field("nope")


@pytest.mark.parametrize("line", [
    "field:int;\toffset:0;\tsize:4;\tsigned:1;",
    "field:int x;\toffset:a;\tsize:4;\tsigned:1;",
    "field:char x[N];\toffset:0;\tsize:4;\tsigned:1;",
    "nonsense",
])
def test_bad_field_lines_are_typed_errors(line):
    with pytest.raises(LoaderError) as e:
        parse_field(line)
    assert e.value.errno == errno.EINVAL


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_a_loader_error(text):
    try:
        parse_format("format:\n" + text)
    except LoaderError:
        pass


def _format_files() -> list[str]:
    try:
        root = tracefs_root()
    except LoaderError as e:
        require_or_skip(f"no tracefs: {e}")
    files = glob.glob(os.path.join(root, "events", "*", "*", "format"))
    if not files:
        require_or_skip("tracefs has no events")
    return files


def test_every_kernel_format_file_reads_back_line_for_line():
    for path in _format_files():
        with open(path) as f:
            text = f.read()
        fmt = parse_format(text, path)
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("field:")]
        assert [f.line() for f in fmt.fields] == lines, path
        id_file = os.path.join(os.path.dirname(path), "id")
        if os.path.exists(id_file):  # ftrace's own events (events/ftrace/*) have a format but no id
            assert fmt.id == int(open(id_file).read()), path


def test_openat_format():
    _format_files()
    fmt = tracepoint_format("syscalls", "sys_enter_openat")
    assert fmt.id == tracepoint_id("syscalls", "sys_enter_openat")
    filename = fmt.field("filename")
    assert filename.c_type == "const char *" and filename.size == 8
    assert [f.name for f in fmt.own_fields] == ["__syscall_nr", "dfd", "filename", "flags", "mode"]
    assert tracepoint_format("syscalls", "sys_enter_openat") is fmt  # read once
    with pytest.raises(TracepointNotFound):
        tracepoint_format("syscalls", "no_such_event_anywhere")
    with pytest.raises(TracepointNotFound):
        tracepoint_format("../..", "x")


def test_fields_agree_with_the_kernels_btf_record_structs():
    """Two views of one record from the running kernel: tracefs's format and BTF's trace_event_raw_<event>."""
    from pyebpf.btf import Struct, kernel_btf_or_none

    btf = kernel_btf_or_none()
    if btf is None:
        require_or_skip("kernel without BTF")
    compared = 0
    for path in _format_files():
        event = os.path.basename(os.path.dirname(path))
        found = btf.find(f"trace_event_raw_{event}")
        struct = btf.type(found) if found is not None else None
        if not isinstance(struct, Struct):
            continue
        fmt = parse_format(open(path).read(), path)
        members = {m.name: m for m in struct.members}
        names = [(f"__data_loc_{f.name}" if f.data_loc else f.name) for f in fmt.own_fields]
        if not all(n in members for n in names):
            continue  # an event named like another event class
        for f, n in zip(fmt.own_fields, names):
            m = members[n]
            assert m.offset == f.offset, (path, f)
            if not f.array_len == 0 or f.data_loc:
                assert m.size == f.size, (path, f)
        compared += 1
    assert compared > 50
