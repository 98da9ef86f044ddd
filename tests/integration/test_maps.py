"""Maps made from one MapSpec behave the same in the VM and in the kernel: the same dict-like calls, the same
exceptions and errnos from Python, the same contents after a program run reads and updates them."""
from __future__ import annotations

import ctypes
import errno

import pytest

from backends import create_map, open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec, MapType, UpdateFlags
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import MapError

PACKET = bytes(range(64))


class Pair(ctypes.Structure):
    _fields_ = [("hits", ctypes.c_uint64), ("last", ctypes.c_uint32), ("pad", ctypes.c_uint32)]


def xdp(text: str, *specs: MapSpec):
    prog = assemble(text, maps=list(specs))
    prog.prog_type = ProgType.XDP
    return prog


#: key 1: hits += 100 and last = 7 when present (r0 = 1), else r0 = 0; then key 2 := {hits 5} with BPF_ANY.
KEYED_PROGRAM = """
    *(u32 *)(r10 - 4) = 1
    r1 = map[m] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    r6 = 0
    if r0 == 0 goto update
    r1 = *(u64 *)(r0 + 0)
    r1 += 100
    *(u64 *)(r0 + 0) = r1
    *(u32 *)(r0 + 8) = 7
    r6 = 1
update:
    *(u32 *)(r10 - 4) = 2
    *(u64 *)(r10 - 24) = 5
    *(u64 *)(r10 - 16) = 0
    r1 = map[m] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -24
    r4 = 0
    call bpf_map_update_elem
    r0 = r6
    exit
"""

KEYED_KINDS = ["hash", "lru_hash", "array", "percpu_hash", "percpu_array", "lru_percpu_hash"]


@pytest.mark.parametrize("kind", KEYED_KINDS)
def test_keyed_map_from_python_then_program_then_python(backend: str, kind: str) -> None:
    spec = MapSpec.of("m", kind, ctypes.c_uint32, Pair, 4)
    percpu = spec.is_percpu
    with open_program(backend, xdp(KEYED_PROGRAM, spec)) as prog:
        m = prog.maps["m"]
        one = Pair(hits=10, last=1)
        m[1] = one  # per-CPU maps take one value for every CPU, or a list of m.ncpus values
        got = m[1]
        if percpu:
            assert len(got) == m.ncpus
        first = got[0] if percpu else got
        assert (first.hits, first.last) == (10, 1)
        # flags and errnos
        with pytest.raises(MapError) as ei:
            m.put(1, one, UpdateFlags.NOEXIST)
        assert ei.value.errno == errno.EEXIST
        if spec.is_array:
            with pytest.raises(MapError) as ei:
                del m[1]
            assert ei.value.errno == errno.EINVAL
            with pytest.raises(MapError) as ei:
                m.put(4, one)  # past max_entries
            assert ei.value.errno == errno.E2BIG
            with pytest.raises(KeyError):
                m[4]
            assert len(m) == 4 and sorted(m) == [0, 1, 2, 3]
        else:
            with pytest.raises(MapError) as ei:
                m.put(3, one, UpdateFlags.EXIST)
            assert ei.value.errno == errno.ENOENT
            with pytest.raises(KeyError):
                del m[3]
            with pytest.raises(KeyError):
                m[3]
            assert m.get(3) is None and 3 not in m
            m[3] = one
            del m[3]
            assert len(m) == 1 and list(m) == [1]
            if kind == "hash":  # full: E2BIG (LRU maps evict instead)
                for k in (10, 11, 12):
                    m[k] = one
                with pytest.raises(MapError) as ei:
                    m[13] = one
                assert ei.value.errno == errno.E2BIG
                for k in (10, 11, 12):
                    del m[k]
        res = prog.run(packet=PACKET)
        assert (res.r0, res.retval) == (1, 1)
        after = m[1]
        cells = after if percpu else [after]
        # the program ran on one CPU: exactly one per-CPU copy changed, by the same amount on both sides
        assert sum(c.hits for c in cells) == 10 * len(cells) + 100
        assert sorted(c.last for c in cells) == sorted([7] + [1] * (len(cells) - 1))
        new = m[2]
        assert sum(c.hits for c in (new if percpu else [new])) == 5
        assert sorted(m) == ([0, 1, 2, 3] if spec.is_array else [1, 2])


QUEUE_PROGRAM = """
    r1 = map[q] ll
    r2 = r10
    r2 += -8
    call bpf_map_pop_elem
    if r0 != 0 goto empty
    r6 = *(u64 *)(r10 - 8)
    r1 = r6
    r1 *= 2
    *(u64 *)(r10 - 8) = r1
    r1 = map[q] ll
    r2 = r10
    r2 += -8
    r3 = 0
    call bpf_map_push_elem
    r0 = r6
    exit
empty:
    r0 = 99
    exit
"""


@pytest.mark.parametrize("kind", ["queue", "stack"])
def test_queue_and_stack(backend: str, kind: str) -> None:
    spec = MapSpec.of("q", kind, None, ctypes.c_uint64, 3)
    with open_program(backend, xdp(QUEUE_PROGRAM, spec)) as prog:
        q = prog.maps["q"]
        with pytest.raises(KeyError):
            q.pop()
        with pytest.raises(KeyError):
            q.peek()
        assert q.pop(None) is None
        for v in (1, 2, 3):
            q.push(v)
        with pytest.raises(MapError) as ei:
            q.push(4)  # full
        assert ei.value.errno == errno.E2BIG
        assert q.peek() == (1 if kind == "queue" else 3)
        for keyed in (lambda: q[0], lambda: q.__setitem__(0, 1), lambda: q.__delitem__(0)):
            with pytest.raises(MapError) as ei:
                keyed()  # no keys: push/pop/peek only
            assert ei.value.errno == errno.EINVAL
        assert list(q) == []  # elements are not keys
        res = prog.run(packet=PACKET)
        popped = 1 if kind == "queue" else 3
        assert res.r0 == popped
        drained = [q.pop() for _ in range(3)]
        assert drained == ([2, 3, 2] if kind == "queue" else [6, 2, 1])
        assert prog.run(packet=PACKET).r0 == 99  # empty: the helper says -ENOENT
        q.push(5)
        q.push(6)
        q.push(7)
        q.push(8, UpdateFlags.EXIST)  # BPF_EXIST on a full queue/stack drops the oldest
        assert [q.pop() for _ in range(3)] == ([6, 7, 8] if kind == "queue" else [8, 7, 6])


def test_maps_passed_in_are_shared_between_programs(backend: str) -> None:
    """maps={name: map} hands an existing map to a second program on both sides (the same keyword)."""
    spec = MapSpec.of("m", "array", ctypes.c_uint32, Pair, 4)
    with open_program(backend, xdp(KEYED_PROGRAM, spec)) as first:
        first.maps["m"][1] = Pair(hits=1)
        with open_program(backend, xdp(KEYED_PROGRAM, spec), maps={"m": first.maps["m"]}) as second:
            assert second.run(packet=PACKET).r0 == 1
            assert first.run(packet=PACKET).r0 == 1
            assert first.maps["m"][1].hits == 201


@pytest.mark.parametrize("kind", ["hash", "array", "percpu_array"])
def test_clear(backend: str, kind: str) -> None:
    """clear() empties a hash map; on an array it fails as `del m[k]` does (EINVAL), never silently."""
    spec = MapSpec.of("m", kind, ctypes.c_uint32, Pair, 4)
    with open_program(backend, xdp(KEYED_PROGRAM, spec)) as prog:
        m = prog.maps["m"]
        m[1] = Pair(hits=3)
        if kind == "hash":
            m[2] = Pair(hits=4)
            m.clear()
            assert len(m) == 0
            return
        with pytest.raises(MapError) as ei:
            m.clear()
        assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("kind", ["queue", "stack"])
def test_queue_len(backend: str, kind: str) -> None:
    """len() of a queue/stack is its number of keys, 0, as iteration says; the kernel cannot count elements."""
    spec = MapSpec.of("q", kind, None, ctypes.c_uint64, 3)
    with open_program(backend, xdp(QUEUE_PROGRAM, spec)) as prog:
        prog.maps["q"].push(1)
        assert len(prog.maps["q"]) == len(list(prog.maps["q"])) == 0


def test_initial_value_of_a_standalone_map(backend: str) -> None:
    """MapSpec.initial is element 0's value whichever way the map is made (here without a program)."""
    spec = MapSpec("cfg", MapType.ARRAY, 4, 8, 2, initial=b"\x2a")
    m = create_map(backend, spec)
    try:
        assert (m[0], m[1]) == (42, 0)
    finally:
        getattr(m, "close", lambda: None)()


def test_initial_value_in_a_program(backend: str) -> None:
    spec = MapSpec.of("cfg", "percpu_array", ctypes.c_uint32, ctypes.c_uint64, 2, initial=42)
    program = xdp("""
        *(u32 *)(r10 - 4) = 0
        r1 = map[cfg] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
        exit
    out:
        r0 = 0
        exit
    """, spec)
    with open_program(backend, program) as prog:
        assert prog.maps["cfg"][0] == [42] * prog.maps["cfg"].ncpus
        assert prog.maps["cfg"][1] == [0] * prog.maps["cfg"].ncpus
        assert prog.run(packet=PACKET).r0 == 42
