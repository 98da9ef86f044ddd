"""`pyebpf btf`: dumps a BTF file as C or raw text, prints tracepoint records, and turns bad input into one line."""
from __future__ import annotations

import pytest
from test_cli_robustness import check_error_output, pyebpf

from pyebpf.btf import Btf, BtfBuilder
from pyebpf.btf.c_dump import c_dump
from pyebpf.btf.dump import raw_dump
from pyebpf.system import tracefs_root, tracepoint_format
from pyebpf.testing.plugin import require_or_skip


@pytest.fixture
def btf_file(tmp_path):
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    b.add_struct("pair", 8, [("a", i32, 0), ("b", i32, 32)])
    path = tmp_path / "pair.btf"
    path.write_bytes(b.encode())
    return path


def test_dump_c_and_raw(btf_file):
    btf = Btf.parse(btf_file.read_bytes())
    c = pyebpf("btf", "dump", str(btf_file))
    assert c.returncode == 0 and c.stdout.decode() == c_dump(btf) and "struct pair {" in c.stdout.decode()
    raw = pyebpf("btf", "dump", str(btf_file), "--format", "raw")
    assert raw.returncode == 0 and raw.stdout.decode() == "".join(f"{t}\n" for t in raw_dump(btf))


@pytest.mark.parametrize("content,expect", [(b"", "too short"), (b"\x9f\xeb" + bytes(30), "unsupported BTF version"),
                                            (bytes(range(256)), "bad BTF magic")])
def test_bad_btf_is_one_line(tmp_path, content, expect):
    path = tmp_path / "bad.btf"
    path.write_bytes(content)
    err = check_error_output(pyebpf("btf", "dump", str(path)), "btf")
    assert expect in err and "bad.btf" in err


def test_missing_file_and_unknown_tracepoint(tmp_path):
    err = check_error_output(pyebpf("btf", "dump", str(tmp_path / "nope")), "btf")
    assert "No such file or directory" in err
    err = check_error_output(pyebpf("btf", "tracepoint", "no_such_category:no_such_event"), "btf")
    assert "no tracepoint no_such_category:no_such_event" in err
    err = check_error_output(pyebpf("btf", "tracepoint", "notatracepoint"), "btf")
    assert "is not <category>/<name>" in err


def test_tracepoint_fields():
    try:
        tracefs_root()
    except Exception as e:  # noqa: BLE001 - no tracefs here: what the skip says
        require_or_skip(f"no tracefs: {e}")
    proc = pyebpf("btf", "tracepoint", "syscalls:sys_enter_openat")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    fmt = tracepoint_format("syscalls", "sys_enter_openat")
    assert lines[0].startswith(f"sys_enter_openat (id {fmt.id}")
    assert len(lines) == 1 + len(fmt.fields)
    assert any(line.split()[:2] == ["24", "8"] and line.endswith("const char * filename") for line in lines)
