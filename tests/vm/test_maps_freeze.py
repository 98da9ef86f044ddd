"""VM maps at the seams with the kernel map: MapSpec.initial in create_map, clear() of arrays, len() of queues,
BPF_MAP_FREEZE from user space vs programs, close()."""
from __future__ import annotations

import ctypes
import errno

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.uapi import MapCreateFlags
from pyebpf.errors import MapError
from pyebpf.vm import VM
from pyebpf.vm.maps import create_map


def test_create_map_writes_initial():
    m = create_map(MapSpec("cfg", MapType.ARRAY, 4, 8, 2, initial=b"\x2a"))
    assert (m[0], m[1]) == (42, 0)
    pc = create_map(MapSpec.of("pc", "percpu_array", ctypes.c_uint32, ctypes.c_uint64, 2, initial=7), ncpus=3)
    assert pc[0] == [7, 7, 7] and pc[1] == [0, 0, 0]


@pytest.mark.parametrize("kind", ["array", "percpu_array"])
def test_clear_of_an_array_is_einval(kind: str):
    m = create_map(MapSpec.of("a", kind, ctypes.c_uint32, ctypes.c_uint64, 4))
    with pytest.raises(MapError) as ei:
        m.clear()
    assert ei.value.errno == errno.EINVAL


def test_clear_of_a_hash_empties_it():
    m = create_map(MapSpec.of("h", "hash", ctypes.c_uint32, ctypes.c_uint64, 4))
    m[1], m[2] = 1, 2
    m.clear()
    assert len(m) == 0 and list(m) == []


@pytest.mark.parametrize("kind, order", [("queue", [1, 2]), ("stack", [2, 1])])
def test_queue_len_is_zero_like_the_kernel_map(kind: str, order: list[int]):
    q = create_map(MapSpec.of("q", kind, None, ctypes.c_uint64, 3))
    q.push(1)
    q.push(2)
    assert len(q) == len(list(q)) == 0
    assert [int.from_bytes(v, "little") for v in q.items_raw()] == order  # the elements are still there
    assert q.pop() == order[0]


def test_freeze_refuses_user_space_writes_not_reads():
    m = create_map(MapSpec.of("h", "hash", ctypes.c_uint32, ctypes.c_uint64, 4))
    m[1] = 5
    m.freeze()
    assert m.frozen and m[1] == 5 and list(m) == [1]
    for write in (lambda: m.__setitem__(2, 1), lambda: m.__delitem__(1), m.clear):
        with pytest.raises(MapError) as ei:
            write()
        assert ei.value.errno == errno.EPERM
    with pytest.raises(MapError) as ei:
        m.freeze()
    assert ei.value.errno == errno.EPERM  # the kernel's answer (tests/parity/test_map_ops.py::test_freeze)
    assert m.prog_update((3).to_bytes(4, "little"), (9).to_bytes(8, "little"), 0) == 0  # programs still write
    assert m[3] == 9
    assert m.prog_delete((1).to_bytes(4, "little")) == 0 and 1 not in m


def test_frozen_queue_peeks_but_does_not_push_or_pop():
    q = create_map(MapSpec.of("q", "queue", None, ctypes.c_uint64, 3))
    q.push(4)
    q.freeze()
    assert q.peek() == 4
    for write in (lambda: q.push(5), q.pop):
        with pytest.raises(MapError) as ei:
            write()
        assert ei.value.errno == errno.EPERM
    assert q.prog_push((6).to_bytes(8, "little"), 0) == 0
    assert q.prog_pop(False) == (4).to_bytes(8, "little")


def test_vm_freezes_rodata_and_the_program_still_reads_it():
    rodata = MapSpec(".rodata", MapType.ARRAY, 4, 8, 1, flags=int(MapCreateFlags.RDONLY_PROG), initial=b"\x07")
    data = MapSpec(".data", MapType.ARRAY, 4, 8, 1, initial=b"\x03")
    prog = pyebpf.assemble("""
        r1 = map[.rodata] ll
        r2 = r10
        r2 += -4
        *(u32 *)(r10 - 4) = 0
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
        exit
    out:
        r0 = 0
        exit
    """, maps=[rodata, data])
    with VM(prog, prog_type="xdp") as vm:
        assert vm.maps[".rodata"].frozen and not vm.maps[".data"].frozen
        with pytest.raises(MapError) as ei:
            vm.maps[".rodata"][0] = 1
        assert ei.value.errno == errno.EPERM
        vm.maps[".data"][0] = 1
        assert vm.run(packet=bytes(64)).r0 == 7


def test_close_is_a_no_op_for_symmetry():
    m = create_map(MapSpec.of("h", "hash", ctypes.c_uint32, ctypes.c_uint64, 4))
    with m:
        m[1] = 1
    m.close()
    assert m[1] == 1
    perf = create_map(MapSpec("p", MapType.PERF_EVENT_ARRAY, 4, 4, 2), ncpus=2)
    perf.close()
    assert sorted(perf.events) == [0, 1]
    perf.close(1)
    assert sorted(perf.events) == [0]
