"""Tracepoint probes: fields by name from the format file, helpers, ring buffer records, printk; in the VM (with a
fixed format, no root needed) and attached in the kernel (triggered by our own openat calls)."""
from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from pyebpf.compiler.context import Field
from pyebpf.probe import HashMap, comm, pid, printk, probe, u32, u64
from pyebpf.compiler.context import fields_of_text as parse_format
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import opensnoop as snoop  # noqa: E402
import openat_by_pid as by_pid  # noqa: E402

OPENAT_FORMAT = """name: sys_enter_openat
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: "dfd: 0x%08lx"
"""


class FixedFormats:
    """A TracepointProvider from text, so VM tests need neither root nor tracefs."""

    def tracepoint_fields(self, category: str, name: str) -> list[Field]:
        assert (category, name) == ("syscalls", "sys_enter_openat")
        return parse_format(OPENAT_FORMAT)


def test_parse_format():
    fields = {f.name: f for f in parse_format(OPENAT_FORMAT)}
    assert list(fields) == ["__syscall_nr", "dfd", "filename", "flags", "mode"]
    assert fields["filename"].offset == 24 and fields["filename"].size == 8 and not fields["filename"].signed
    assert fields["__syscall_nr"].signed


def test_parse_format_arrays_and_data_loc():
    text = ("name: x\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n"
            "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n"
            "\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"\"\n")
    fields = {f.name: f for f in parse_format(text)}
    assert fields["args"].count == 6 and fields["args"].size == 8
    assert fields["name"].kind == "data_loc"


counts = HashMap(u32, u64, name="tp_counts")


@probe("tracepoint/syscalls/sys_enter_openat", tracepoints=FixedFormats())
def fields_probe(ctx):
    if ctx.flags & 0o100:
        counts[1] += 1
    counts[2] = ctx.dfd
    counts[3] = ctx.mode
    printk(f"pid {pid()} opens {str(ctx.filename)} flags {ctx.flags:x} {comm()}")
    return ctx.flags


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_fields_in_vm(engine):
    counts.clear()
    env = Environment(pid=77, tgid=77, comm=b"cat", user_memory={0x10000: b"/etc/motd\0"})
    res = fields_probe.run(filename=0x10000, flags=0o101, dfd=(-100) & (2 ** 64 - 1), mode=0o644, env=env,
                           engine=engine)
    assert res.r0 == 0o101
    assert counts.items() == [(1, 1), (2, (-100) & (2 ** 64 - 1)), (3, 0o644)]
    assert res.printk == ["pid 77 opens /etc/motd flags 41 cat"]


def test_unknown_field_in_run_is_a_clear_error():
    from pyebpf.errors import VmError

    with pytest.raises(VmError, match="no field 'nope'"):
        fields_probe.run(nope=1)


def _vm_snoop():
    snoop.opensnoop.tracepoints = FixedFormats()
    snoop.opensnoop._compiled = None
    return snoop.opensnoop


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_ringbuf_events_in_vm(engine):
    p = _vm_snoop()
    try:
        env = Environment(pid=5, tgid=5, comm=b"ls", user_memory={0x2000: b"/tmp/x\0"})
        snoop.events.read()
        p.run(filename=0x2000, flags=2, env=env, engine=engine)
        (ev,) = snoop.events.read()
        assert (ev.pid, ev.flags, ev.comm.rstrip(b"\0"), ev.filename.rstrip(b"\0")) == (5, 2, b"ls", b"/tmp/x")
    finally:
        p.tracepoints = None
        p._compiled = None


def _comm() -> bytes:
    """Our command name as a char comm[16] field holds it (NUL-padded, as map keys and records read back)."""
    with open("/proc/self/comm", "rb") as f:
        return f.read().strip()[:15].ljust(16, b"\0")


@pytest.mark.kernel
def test_opensnoop_in_kernel(tmp_path):
    target = tmp_path / f"pyebpf-{uuid.uuid4().hex}"
    target.write_text("x")
    snoop.events.read()
    with snoop.opensnoop.load():
        for _ in range(3):
            os.close(os.open(str(target), os.O_RDONLY))
        deadline = time.monotonic() + 5
        mine = []
        while time.monotonic() < deadline and len(mine) < 3:
            mine += [e for e in snoop.events.read(timeout=0.2) if e.filename.rstrip(b"\0") == str(target).encode()]
    assert len(mine) == 3
    assert all(e.pid == os.getpid() and e.comm == _comm() and e.flags & 3 == os.O_RDONLY
               for e in mine)


@pytest.mark.kernel
def test_count_by_pid_and_comm_in_kernel(tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    by_pid.opens.clear()
    with by_pid.count_openat.load():
        for _ in range(7):
            os.close(os.open(str(target), os.O_RDONLY))
        time.sleep(0.05)
        live = dict(by_pid.opens.items())
    mine = live.get((os.getpid(), _comm()))
    assert mine is not None and mine >= 7
    assert dict(by_pid.opens.items())[(os.getpid(), _comm())] == mine  # the same object after unloading


import execsnoop as ex  # noqa: E402

EXEC_FORMAT = """name: sched_process_exec
ID: 2
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;

print fmt: "filename=%s"
"""


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_data_loc_string_in_vm(engine):
    """The VM gets the record as the kernel lays it out: the string after the fixed fields, located by the u32
    (length << 16 | offset)."""
    from pyebpf.vm.context import TracepointContext

    class Formats:
        def tracepoint_fields(self, category, name):
            return parse_format(EXEC_FORMAT)

    ex.execsnoop.tracepoints, ex.execsnoop._compiled = Formats(), None
    try:
        name = b"/usr/bin/true\0"
        record = bytearray(20) + name
        record[8:12] = ((len(name) << 16) | 20).to_bytes(4, "little")
        record[12:16] = (321).to_bytes(4, "little")
        record[16:20] = (320).to_bytes(4, "little")
        ex.execs.read()
        ex.execsnoop.run(TracepointContext(bytes(record)), env=Environment(comm=b"true"), engine=engine)
        (ev,) = ex.execs.read()
        assert (ev.pid, ev.old_pid, ev.comm.rstrip(b"\0"), ev.filename.rstrip(b"\0")) == \
            (321, 320, b"true", b"/usr/bin/true")
    finally:
        ex.execsnoop.tracepoints, ex.execsnoop._compiled = None, None


@pytest.mark.kernel
def test_execsnoop_in_kernel():
    import shutil
    import subprocess

    true = shutil.which("true")
    ex.execs.read()
    with ex.execsnoop.load():
        child = subprocess.run([true], check=True)
        deadline = time.monotonic() + 5
        mine = []
        while time.monotonic() < deadline and not mine:
            mine = [e for e in ex.execs.read(timeout=0.2) if e.filename.rstrip(b"\0") == true.encode()]
    assert mine and mine[0].comm.rstrip(b"\0") == b"true" and mine[0].pid > 0
    del child
