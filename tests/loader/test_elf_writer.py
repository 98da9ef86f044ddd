"""write_elf: Programs to ELF objects that llvm-objdump, libbpf (bpftool) and our own load_elf read back."""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from ctypes import c_uint32, c_uint64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import OP_CALL, CallSrc
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.errors import ElfError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R6, R10, Builder
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program
from pyebpf.loader.elf import load_elf
from pyebpf.loader.elf_writer import section_name_for, write_elf
from pyebpf.testing.plugin import require_or_skip
from pyebpf.testing.strategies import instructions, programs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402

OBJECTS = ["openat_counter", "printk_pid", "xdp_count", "ringbuf_retransmit", "calls_globals", "legacy_maps",
           "core_task", "loop_callback", "map_in_map"]


def obj(name: str) -> str:
    try:
        return object_path(name)
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


def rewrite(name: str, tmp_path) -> tuple:
    o = load_elf(obj(name))
    path = str(tmp_path / f"{name}.written.o")
    write_elf(o.programs, path, initial_values={k: o.initial_value(k) for k in o.data_sections})
    return o, path


def counter_program() -> Program:
    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat", name="py_counter")
    counts = b.map("counts", "hash", key=c_uint32, value=c_uint64, max_entries=128)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.store(R10 - 4, R0, "u32")
    b.mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():
        b.store(R10 - 16, 1, "u64")
        b.mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.ld_map(R1, counts).call("map_update_elem")
    return b.ret(0).build()


def calls_program() -> Program:
    """XDP program with two subprograms: hits[0] = inc(double(20)) = 41, then XDP_PASS."""
    b = Builder("xdp", name="py_calls")
    hits = b.map("hits", "array", key=c_uint32, value=c_uint64, max_entries=1)
    b.mov(R1, 20).call_local("double").mov(R1, R0).call_local("inc").mov(R6, R0)
    b.store(R10 - 4, 0, "u32")
    b.mov(R2, R10).add(R2, -4).ld_map(R1, hits).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.store(R0 + 0, R6, "u64")
    b.ret(2)
    with b.function("double"):
        b.mov(R0, R1).add(R0, R1).exit()
    with b.function("inc"):
        b.mov(R0, R1).add(R0, 1).exit()
    return b.build()


@pytest.mark.parametrize("name", OBJECTS)
def test_round_trip_same_instructions(name, tmp_path):
    o, path = rewrite(name, tmp_path)
    again = load_elf(path)
    assert sorted(again.programs) == sorted(o.programs)
    for key, p in o.programs.items():
        q = again.programs[key]
        assert q.to_bytes() == p.to_bytes(), key
        assert q._map_refs() == p._map_refs()
        assert (q.prog_type, q.attach_to, q.expected_attach_type, q.license) == \
               (p.prog_type, p.attach_to, p.expected_attach_type, p.license)
        for ref, spec in p.maps.items():
            other = q.maps[ref]
            assert (other.type, other.key_size, other.value_size, other.max_entries, other.flags) == \
                   (spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags)
    for key in o.data_sections:
        assert again.initial_value(key) == o.initial_value(key)


def test_builder_program_round_trips(tmp_path):
    p = counter_program()
    path = str(tmp_path / "counter.o")
    write_elf(p, path)
    q = load_elf(path).programs["py_counter"]
    assert q == p  # same bytes, map refs, maps, type and license
    c = calls_program()
    write_elf(c, str(tmp_path / "calls.o"))
    back = load_elf(str(tmp_path / "calls.o"))
    assert back.programs["py_calls"].to_bytes() == c.to_bytes()
    assert set(back.programs["py_calls"].labels) == {"py_calls", "py_calls__double", "py_calls__inc"}


def test_llvm_objdump_reads_written_objects(tmp_path):
    objdump = shutil.which("llvm-objdump") or shutil.which("llvm-objdump-14")
    if objdump is None:
        require_or_skip("llvm-objdump is not installed")
    o, path = rewrite("calls_globals", tmp_path)
    out = subprocess.run([objdump, "-d", "-r", path], capture_output=True, text=True, check=True).stdout
    assert "<xdp_globals>:" in out and "<xdp_second>:" in out
    assert "<xdp_globals__scaled>:" in out and "<xdp_globals__sum_table>:" in out
    assert "R_BPF_64_32" in out and "R_BPF_64_64" in out
    # as many instruction lines as slots (objdump prints lddw as one line covering two slots)
    insn_lines = [line for line in out.splitlines() if re.match(r"^\s+\d+:\t", line)]
    assert len(insn_lines) == sum(len(p) for p in o.programs.values())


def test_section_names_for_program_types():
    def named(ptype, attach_to=None, eat=None):
        return section_name_for(Program([], prog_type=ptype, attach_to=attach_to, expected_attach_type=eat))

    assert named(ProgType.XDP) == "xdp"
    assert named(ProgType.XDP, eat=AttachType.XDP) == "xdp"
    assert named(ProgType.SOCKET_FILTER) == "socket"
    assert named(ProgType.SCHED_CLS) == "tc"
    assert named(ProgType.TRACEPOINT, "syscalls/sys_enter_openat") == "tracepoint/syscalls/sys_enter_openat"
    assert named(ProgType.KPROBE, "do_unlinkat") == "kprobe/do_unlinkat"
    assert named(ProgType.RAW_TRACEPOINT, "sys_enter") == "raw_tracepoint/sys_enter"
    assert named(ProgType.CGROUP_SKB, eat=AttachType.CGROUP_INET_EGRESS) == "cgroup_skb/egress"
    with pytest.raises(ElfError, match="no program type"):
        named(None)


def test_writer_errors(tmp_path):
    p = counter_program()
    no_map = p.replace_instructions(p.instructions)
    no_map.maps = {}
    with pytest.raises(ElfError, match="names map 'counts', which is not in program.maps"):
        write_elf(no_map)
    with pytest.raises(ElfError, match="two programs named"):
        write_elf([p, p])
    other = p.replace_instructions(p.instructions)
    other.name, other.license = "other", "MIT"
    with pytest.raises(ElfError, match="different licenses"):
        write_elf([p, other])
    clash = p.replace_instructions(p.instructions)
    clash.name = "clash"
    clash.maps = {"counts": MapSpec("counts", MapType.ARRAY, 4, 8, 1)}
    with pytest.raises(ElfError, match="defined differently"):
        write_elf([p, clash])


def _bpftool() -> str:
    tool = shutil.which("bpftool")
    if tool is None:
        require_or_skip("bpftool is not installed")
    return tool  # type: ignore[return-value]


@pytest.mark.kernel
def test_bpftool_loadall_accepts_written_objects(tmp_path):
    bpftool = _bpftool()
    os.makedirs("/sys/fs/bpf", exist_ok=True)
    paths = [rewrite(n, tmp_path) for n in OBJECTS]
    p = str(tmp_path / "builder.o")
    write_elf([counter_program(), calls_program(), typed_program()], p)
    paths.append((None, p))
    for o, path in paths:
        pin = f"/sys/fs/bpf/pyebpf-test-{os.getpid()}-{os.path.basename(path).split('.')[0]}"
        try:
            proc = subprocess.run([bpftool, "prog", "loadall", path, pin], capture_output=True, text=True)
            assert proc.returncode == 0, f"{path}: {proc.stderr}"
            pinned = set(os.listdir(pin))
            expected = set(o.programs) if o is not None else {"py_counter", "py_calls", "py_typed"}
            assert pinned == expected
        finally:
            shutil.rmtree(pin, ignore_errors=True)
        assert not os.path.exists(pin)


def test_bpftool_gen_object_links_written_objects(tmp_path):
    bpftool = _bpftool()
    _, a = rewrite("xdp_count", tmp_path)
    _, b = rewrite("openat_counter", tmp_path)
    out = str(tmp_path / "linked.o")
    proc = subprocess.run([bpftool, "gen", "object", out, a, b], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    linked = load_elf(out)
    assert sorted(linked.programs) == ["count_openat", "xdp_counter"]
    assert load_elf(out).programs["xdp_counter"].to_bytes() == load_elf(a).programs["xdp_counter"].to_bytes()


@pytest.mark.kernel
def test_written_builder_program_loads_and_runs(tmp_path):
    path = str(tmp_path / "calls.o")
    write_elf(calls_program(), path)
    with load_elf(path) as o:
        o.load()
        assert o.loaded["py_calls"].test_run(b"\0" * 64).retval == 2
        assert o.maps["hits"][0] == 41
    path = str(tmp_path / "counter.o")
    write_elf(counter_program(), path)
    with load_elf(path) as o:
        o.load()
        o.loaded["py_counter"].attach()
        for _ in range(3):
            os.close(os.open("/dev/null", os.O_RDONLY))
        assert o.maps["counts"][os.getpid()] >= 3


@st.composite
def programs_with_subprograms(draw) -> Program:
    """Random main body and 0..3 random subprograms; main starts by calling each subprogram."""
    insns = instructions(kernel=True, pseudo_lddw=False, calls=False)
    main = draw(programs(insns=insns, max_size=12))
    subs = draw(st.lists(programs(insns=insns, max_size=8), max_size=3))
    calls = [Instruction(OP_CALL, 0, CallSrc.PSEUDO_CALL, 0, 0) for _ in subs]
    starts, slot = [], len(calls) + main.slot_count
    for sub in subs:
        starts.append(slot)
        slot += sub.slot_count
    calls = [c._replace(imm=start - (i + 1)) for i, (c, start) in enumerate(zip(calls, starts))]
    body = calls + list(main.instructions) + [i for sub in subs for i in sub.instructions]
    return Program(body, prog_type=ProgType.XDP, name="fuzzed")


@settings(max_examples=60, deadline=None)
@given(programs_with_subprograms())
def test_write_read_round_trip_of_random_programs(tmp_path_factory, program):
    path = str(tmp_path_factory.mktemp("rt") / "p.o")
    write_elf(program, path)
    back = load_elf(path).programs["fuzzed"]
    assert back.to_bytes() == program.to_bytes()
    assert back.prog_type == program.prog_type


class Stats(ctypes.Structure):
    _fields_ = [("packets", ctypes.c_uint64), ("bytes", ctypes.c_uint64), ("last_len", ctypes.c_uint32)]


def typed_program() -> Program:
    """XDP: stats[0].packets += 1 on a map whose value is a ctypes Structure."""
    b = Builder("xdp", name="py_typed")
    stats = b.map("stats", "array", key=ctypes.c_uint32, value=Stats, max_entries=1)
    b.store(R10 - 4, 0, "u32")
    b.mov(R2, R10).add(R2, -4).ld_map(R1, stats).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    return b.ret(2).build()


def test_ctypes_map_values_are_written_as_btf_types(tmp_path):
    path = str(tmp_path / "typed.o")
    write_elf(typed_program(), path)
    o = load_elf(path)
    spec = o.maps["stats"]
    assert spec.value_size == ctypes.sizeof(Stats)
    assert [f[0] for f in spec.value_type._fields_ if not f[0].startswith("_pad")] == ["packets", "bytes",
                                                                                        "last_len"]


@pytest.mark.kernel
def test_typed_map_values_in_the_kernel(tmp_path):
    path = str(tmp_path / "typed.o")
    write_elf(typed_program(), path)
    with load_elf(path) as o:
        o.load()
        for _ in range(3):
            o.loaded["py_typed"].test_run(b"\0" * 64)
        assert o.maps["stats"][0].packets == 3


def test_write_elf_bytes_load_directly():
    data = write_elf(counter_program())
    o = load_elf(data)
    assert o.path == "<bytes>"
    assert o.programs["py_counter"] == counter_program()
