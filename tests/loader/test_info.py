"""Program/map info against bpftool, run statistics, xlated and JIT dumps."""
from __future__ import annotations

import ctypes
import json
import shutil
import subprocess

import pytest

from pyebpf.isa.builder import R0, R1, R2, R10, Builder
from pyebpf.loader import load
from pyebpf.loader.info import map_infos, prog_infos, stats_enabled
from pyebpf.loader.jit_dump import jited_disassembly, jited_functions, xlated_disassembly, xlated_program
from pyebpf.testing.plugin import require_or_skip, skip_missing_feature

pytestmark = pytest.mark.kernel


def _bpftool(*args: str):
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    out = subprocess.run(["bpftool", "--json", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _jit_enabled() -> bool:
    try:
        with open("/proc/sys/net/core/bpf_jit_enable") as f:
            return f.read().strip() != "0"
    except OSError:
        return False


@pytest.fixture(scope="module")
def counter():
    b = Builder("xdp", name="info_ctr")
    counts = b.map("info_counts", "array", ctypes.c_uint32, ctypes.c_uint64, 2)
    b.store(R10 - 4, 1, "u32").mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    b.ret(2)
    with load(b.build()) as p:
        yield p


def test_prog_info_matches_bpftool(counter):
    mine = counter.info()
    theirs = _bpftool("prog", "show", "id", str(mine.id))
    assert mine.name == theirs["name"] == "info_ctr"
    assert mine.tag == theirs["tag"]
    assert mine.type_name == theirs["type"] == "xdp"
    assert list(mine.map_ids) == theirs["map_ids"] == [counter.maps["info_counts"].id]
    assert mine.xlated_prog_len == theirs["bytes_xlated"]
    assert mine.memlock == theirs["bytes_memlock"]
    assert mine.gpl_compatible is theirs["gpl_compatible"] is True


def test_map_info_matches_bpftool(counter):
    m = counter.maps["info_counts"]
    mine = m.info()
    theirs = _bpftool("map", "show", "id", str(mine.id))
    assert mine.as_json() == {k: theirs[k] for k in mine.as_json()}
    assert mine.id in {i.id for i in map_infos()}


def test_list_walks_every_program(counter):
    assert counter.info().id in {i.id for i in prog_infos()}


def test_run_count_and_time_with_stats_enabled(counter):
    before = counter.info()
    counter.test_run(b"\0" * 64, repeat=5)
    assert counter.info().run_cnt == before.run_cnt  # statistics are off by default
    with stats_enabled():
        counter.test_run(b"\0" * 64, repeat=20)
        after = counter.info()
    assert after.run_cnt == before.run_cnt + 20 and after.run_time_ns > before.run_time_ns


def test_xlated_dump_shows_the_kernels_rewrites(counter):
    prog = xlated_program(counter.fd)
    assert prog.slot_count * 8 == counter.info().xlated_prog_len
    text = xlated_disassembly(counter.fd)
    map_id = counter.maps["info_counts"].id
    assert f"map[id:{map_id}]" in text
    # the array lookup is inlined by the verifier: no helper call remains, a bounds check took its place
    assert "call" not in text and "if r0 >= 0x2" in text
    theirs = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(counter.info().id)],
                            capture_output=True, text=True, check=True).stdout
    mine_lines = [line.split(":", 1)[1].strip() for line in text.splitlines()]
    their_lines = [line.split(":", 1)[1].strip() for line in theirs.splitlines() if line.strip()]
    assert mine_lines == their_lines


def test_xlated_helper_calls_are_named():
    b = Builder("socket_filter", name="helpers")
    b.call("ktime_get_ns").ret(0)
    with load(b.build()) as p:
        assert "call bpf_ktime_get_ns#" in xlated_disassembly(p.fd)


def test_jited_dump_is_x86_machine_code(counter):
    if not _jit_enabled():
        skip_missing_feature("the BPF JIT is off (/proc/sys/net/core/bpf_jit_enable = 0)")
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("x86-64 mnemonics expected")
    fns = jited_functions(counter.fd)
    assert len(fns) == 1 and fns[0].name.startswith("bpf_prog_") and fns[0].name.endswith("_info_ctr")
    mnemonics = {i.mnemonic for i in fns[0].insns}
    assert {"push", "mov", "ret"} <= mnemonics or {"push", "mov", "jmp"} <= mnemonics
    assert sum(len(i.raw) for i in fns[0].insns) == counter.info().jited_prog_len
    assert "push rbp" in jited_disassembly(counter.fd)


def test_jited_dump_splits_subprograms():
    if not _jit_enabled():
        skip_missing_feature("the BPF JIT is off (/proc/sys/net/core/bpf_jit_enable = 0)")
    b = Builder("socket_filter", name="twofuncs")
    b.mov(R1, 1).call_local("helper_fn").exit()
    with b.function("helper_fn"):
        b.mov(R0, R1).exit()
    with load(b.build()) as p:
        fns = jited_functions(p.fd)
        assert len(fns) == 2 and fns[1].name.endswith("_helper_fn")
        assert sum(len(i.raw) for f in fns for i in f.insns) == p.info().jited_prog_len


def test_program_tag_computed_offline_matches_the_kernel(counter):
    from pyebpf.loader.info import program_tag

    b = Builder("socket_filter", name="tagged")
    data = b.map("tag_data", "array", ctypes.c_uint32, ctypes.c_uint64 * 2, 1)
    b.ld_map_value(R1, data, 8).load(R0, R1 + 0, "u64").exit()
    programs = [counter.program, b.build(), Builder("xdp").mov(R0, 2).exit().build()]
    for prog in programs:
        with load(prog) as p:
            assert program_tag(prog) == p.info().tag
