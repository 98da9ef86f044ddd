"""The address space (pyebpf.vm.memory) and the Machine interface helpers use (pyebpf.vm.runtime)."""
from __future__ import annotations

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.errors import VmError
from pyebpf.vm import VM
from pyebpf.vm.memory import KIND_MAP, PAGE, Memory


def test_regions_are_nonzero_u32_and_separated() -> None:
    mem = Memory()
    bases = [mem.map(bytearray(n), f"r{n}") for n in (1, 8, PAGE - 1, PAGE, 3 * PAGE)]
    assert all(0 < b < 2**32 for b in bases)
    for (b1, n1), b2 in zip(zip(bases, (1, 8, PAGE - 1, PAGE, 3 * PAGE)), bases[1:]):
        assert b2 > b1 + n1  # a gap after every region
    for base, n in zip(bases, (1, 8, PAGE - 1, PAGE, 3 * PAGE)):
        with pytest.raises(VmError):
            mem.load(base + n, 1)  # one past the end
        with pytest.raises(VmError):
            mem.load(base - 1, 1)  # one before the start
        mem.store(base + n - 1, 1, 0xAB)
        assert mem.load(base + n - 1, 1) == 0xAB


def test_access_api() -> None:
    mem = Memory()
    data = bytearray(b"hello\0world")
    base = mem.map(data, "s")
    assert mem.read(base, 5) == b"hello" and mem.read_cstr(base) == b"hello"
    mem.write(base, b"J")
    assert data[0] == ord("J")  # regions alias the caller's buffer
    mem.store(base + 1, 4, 0x11223344)
    assert mem.load(base + 1, 4) == 0x11223344 and mem.load(base + 1, 2) == 0x3344
    assert mem.region_at(base + 3).name == "s"
    with pytest.raises(VmError, match="without a NUL"):
        mem.read_cstr(base + 6)
    with pytest.raises(VmError) as ei:
        mem.load(0, 8)
    assert ei.value.address == 0


def test_read_only_and_unmap() -> None:
    mem = Memory()
    base = mem.map(bytearray(8), "ro", writable=False)
    assert mem.load(base, 8) == 0
    with pytest.raises(VmError, match="read-only"):
        mem.store(base, 4, 1)
    mem.unmap(base)
    with pytest.raises(VmError, match="not mapped"):
        mem.load(base, 1)  # a stale pointer faults; the space is not reused at once
    assert mem.map(bytearray(8), "next") != base


def test_strict_alignment() -> None:
    mem = Memory(strict_alignment=True)
    base = mem.map(bytearray(16), "a")
    mem.load(base + 4, 4)
    with pytest.raises(VmError, match="misaligned"):
        mem.load(base + 2, 4)


def test_map_handles_and_values() -> None:
    spec = MapSpec.of("arr", "array", 4, 8, 2)
    vm = VM(pyebpf.assemble("exit"), maps={"arr": spec})
    m = vm.machine
    vmmap = vm.maps["arr"]
    handle = m.map_handle(vmmap)
    assert m.map_handle(vmmap) == handle and m.map_from_handle(handle) is vmmap
    assert m.mem.region_at(handle).kind == KIND_MAP
    with pytest.raises(VmError):
        m.mem.load(handle, 1)
    for bad in (0, handle + 1, m.frame_tops[0] - 8, 1 << 40):
        with pytest.raises(VmError, match="map pointer"):
            m.map_from_handle(bad)
    buf = vmmap.value_ref(b"\x01\0\0\0")
    addr = m.value_address(vmmap, buf)
    assert m.value_address(vmmap, buf) == addr  # same element, same pointer within a run
    m.mem.store(addr, 8, 77)
    assert vmmap[1] == 77  # stores through a value pointer change the map


def test_call_function_depth_limit() -> None:
    prog = pyebpf.assemble("r1 = f ll\ncall 200\nexit\nf:\nr1 = f ll\ncall 200\nexit")
    calls = []

    def recurse(m, r1, *_):
        calls.append(m.depth)
        return m.call_function(r1)

    with pytest.raises(VmError, match="call stack too deep"):
        VM(prog, helpers={200: recurse}).run()
    assert calls == list(range(8))
