"""Defaults that match between the VM and the kernel (issue 17): per-CPU values hold one entry per possible CPU,
struct keys read back hashable so `dict(m.items())` works, and a prog array takes a program object."""
from __future__ import annotations

import ctypes

from hypothesis import given, settings, strategies as st

from backends import create_map, open_program
from pyebpf import assemble
from pyebpf.abi.frozen import frozen, thaw
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.system.cpus import num_possible_cpus

PACKET = bytes(range(64))


class Inner(ctypes.Structure):
    _fields_ = [("port", ctypes.c_uint16), ("proto", ctypes.c_uint8), ("flags", ctypes.c_uint8)]


class FlowKey(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("inner", Inner), ("addr", ctypes.c_uint8 * 4), ("comm", ctypes.c_char * 8)]


def xdp(text: str, *specs: MapSpec):
    prog = assemble(text, maps=list(specs))
    prog.prog_type = ProgType.XDP
    return prog


def test_percpu_values_hold_one_entry_per_possible_cpu(backend: str) -> None:
    with create_map(backend, MapSpec.of("pc", "percpu_array", ctypes.c_uint32, ctypes.c_uint64, 2)) as m:
        m[0] = 5
        assert m.ncpus == num_possible_cpus()
        assert m[0] == [5] * num_possible_cpus()
    spec = MapSpec.of("ph", "percpu_hash", ctypes.c_uint32, ctypes.c_uint64, 2)
    with open_program(backend, xdp("r0 = 2\nexit", spec)) as prog:
        prog.maps["ph"][1] = 3
        assert prog.maps["ph"][1] == [3] * num_possible_cpus()


def test_struct_keys_read_back_hashable(backend: str) -> None:
    keys = [FlowKey(1, Inner(80, 6, 0), (10, 0, 0, 1), b"curl"), FlowKey(2, Inner(53, 17, 1), (10, 0, 0, 2), b"dig")]
    with create_map(backend, MapSpec.of("flows", "hash", FlowKey, ctypes.c_uint64, 8)) as m:
        for i, k in enumerate(keys):
            m[k] = 100 + i
        table = dict(m.items())  # TypeError: unhashable type before keys were frozen
        assert sorted(table.values()) == [100, 101]
        by_pid = {k.pid: k for k in table}
        one = by_pid[1]
        assert (one.inner.port, one.inner.proto, one.addr, one.comm) == (80, 6, (10, 0, 0, 1), b"curl\0\0\0\0")
        assert one == frozen(keys[0]) and hash(one) == hash(frozen(keys[0]))
        assert m[one] == 100 and one in m  # a key read back is a key
        del m[by_pid[2]]
        assert list(m) == [one]
        if backend == "kernel":
            assert dict(m.lookup_batch()) == {one: 100}  # batch lookups decode keys the same way


def test_char_array_key_past_a_nul_survives_the_round_trip(backend: str) -> None:
    """A key written as raw bytes (as a program would) with bytes after a NUL in a char array: the frozen key finds
    it again (ctypes itself would cut the array at the NUL)."""
    raw = bytes(FlowKey(7, Inner(1, 2, 3), (1, 2, 3, 4)))[:12] + b"ab\0cd\0\0\0"
    with create_map(backend, MapSpec.of("flows", "hash", FlowKey, ctypes.c_uint64, 8)) as m:
        m.update_raw(raw, (9).to_bytes(8, "little"))
        (key,) = list(m)
        assert key.comm == b"ab\0cd\0\0\0" and m[key] == 9


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=ctypes.sizeof(FlowKey), max_size=ctypes.sizeof(FlowKey)))
def test_thaw_inverts_frozen(raw: bytes) -> None:
    assert thaw(FlowKey, frozen(FlowKey.from_buffer_copy(raw))) == raw  # FlowKey has no padding


TAIL_CALLER = """
    r1 = map[jt] ll
    r2 = r1
    r1 = r6
    r3 = 0
    call bpf_tail_call
    r0 = 1
    exit
"""


def test_prog_array_takes_a_program_object(backend: str) -> None:
    """`jt[0] = target` where target is what open_program gave (a VM or a loaded KernelProgram): the tail call jumps
    to it; an empty slot falls through."""
    jt = MapSpec.of("jt", "prog_array", 4, 4, 2)
    caller = xdp("r6 = r1\n" + TAIL_CALLER, jt)
    with open_program(backend, xdp("r0 = 42\nexit")) as target, open_program(backend, caller) as prog:
        assert prog.run(packet=PACKET).retval == 1
        prog.maps["jt"][0] = target
        assert 0 in prog.maps["jt"] and 1 not in prog.maps["jt"]
        assert list(prog.maps["jt"]) == [0, 1] and len(prog.maps["jt"]) == 2  # every index, as get_next_key
        assert prog.run(packet=PACKET).retval == 42
        del prog.maps["jt"][0]
        assert prog.run(packet=PACKET).retval == 1


def test_vm_prog_array_takes_a_bare_program() -> None:
    from pyebpf import VM

    target = xdp("r0 = 42\nexit")
    vm = VM(xdp("r6 = r1\n" + TAIL_CALLER, MapSpec.of("jt", "prog_array", 4, 4, 2)))
    vm.maps["jt"][1] = 7  # a number that is no program: the tail call falls through, as for a bad slot
    vm.maps["jt"][0] = target
    del target  # the prog array keeps its program alive, as the kernel's does
    assert vm.run(packet=PACKET).retval == 42
