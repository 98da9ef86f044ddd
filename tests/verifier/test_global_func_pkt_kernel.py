"""Packet pointers across calls to global functions against the running kernel: a callee that (or whose callees) may
change packet data or tail-calls invalidates the caller's packet pointers on kernels that track subprog
changes_pkt_data (abi/kernel_versions.py, Fact.GLOBAL_FUNC_CHANGES_PKT_DATA: 6.12 and later refuse a read through
such a pointer, 6.1 and 5.10 accept it). Same verdict, same last error line and, for accepted programs, the same
processed count as BPF_PROG_LOAD of the same object, whatever release runs the test."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

SOURCE = C_DIR / "global_func_pkt.bpf.c"
PROGRAMS = ["pkt_after_pull", "pkt_after_nested_pull", "pkt_after_tail_call", "pkt_after_read_only",
            "pkt_reloaded_after_pull"]


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = build(tmp_path_factory, SOURCE)
    yield o
    o.close()


def test_every_program_listed(obj):
    assert sorted(obj.programs) == sorted(PROGRAMS)


@pytest.mark.kernel
@pytest.mark.parametrize("name", PROGRAMS)
def test_global_call_pkt_pointers_as_kernel(obj, name):
    compare(obj, name, processed=True)
