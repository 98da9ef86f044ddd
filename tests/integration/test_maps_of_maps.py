"""Maps of maps, the same calls on both sides: `outer[k] = inner` takes a map (the kernel's takes its fd), a
program's lookup in the outer map gives the inner map to look up in next, and mismatched or missing inner maps are
refused with the kernel's errnos."""
from __future__ import annotations

import ctypes
import errno
from dataclasses import replace

import pytest

from backends import create_map, open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import MapError

PACKET = bytes(range(64))
INNER = MapSpec.of("inner", "array", ctypes.c_uint32, ctypes.c_uint64, 4)

#: r0 = 1 when outer[0] is empty, 2 when inner[2] is missing, else inner[2]'s value.
PROGRAM = """
    *(u32 *)(r10 - 4) = 0
    r1 = map[outer] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    r6 = 1
    if r0 == 0 goto out
    *(u32 *)(r10 - 4) = 2
    r1 = r0
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    r6 = 2
    if r0 == 0 goto out
    r6 = *(u64 *)(r0 + 0)
out:
    r0 = r6
    exit
"""


def outer_spec(kind: str) -> MapSpec:
    return replace(MapSpec.of("outer", kind, ctypes.c_uint32, 4, 2), inner_map=INNER)


def xdp(spec: MapSpec):
    prog = assemble(PROGRAM, maps=[spec])
    prog.prog_type = ProgType.XDP
    return prog


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_lookup_through_the_outer_map(backend: str, kind: str) -> None:
    with open_program(backend, xdp(outer_spec(kind))) as prog, create_map(backend, INNER) as inner:
        outer = prog.maps["outer"]
        assert prog.run(packet=PACKET).retval == 1
        inner[2] = 77
        outer[0] = inner
        assert 0 in outer and 1 not in outer
        # arrays iterate every index (get_next_key), hashes their keys
        assert list(outer) == ([0, 1] if kind == "array_of_maps" else [0])
        assert prog.run(packet=PACKET).retval == 77
        inner[2] = 78  # the program sees the inner map itself, not a copy
        assert prog.run(packet=PACKET).retval == 78
        del outer[0]
        assert 0 not in outer
        assert prog.run(packet=PACKET).retval == 1
        with pytest.raises(KeyError):
            del outer[0]


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_an_inner_map_of_another_shape_is_einval(backend: str, kind: str) -> None:
    other = MapSpec.of("other", "array", ctypes.c_uint32, ctypes.c_uint32, 4)  # value_size 4, not 8
    with open_program(backend, xdp(outer_spec(kind))) as prog, create_map(backend, other) as wrong:
        with pytest.raises(MapError) as e:
            prog.maps["outer"][0] = wrong
        assert e.value.errno == errno.EINVAL


def test_a_map_of_maps_needs_an_inner_map(backend: str) -> None:
    with pytest.raises(MapError) as e:
        create_map(backend, MapSpec.of("outer", "array_of_maps", ctypes.c_uint32, 4, 2))
    assert e.value.errno == errno.EINVAL


def test_a_number_that_is_no_map_is_ebadf(backend: str) -> None:
    with open_program(backend, xdp(outer_spec("array_of_maps"))) as prog:
        with pytest.raises(MapError) as e:
            prog.maps["outer"][0] = 987654  # no such fd in this process / no such map in the VM
        assert e.value.errno == errno.EBADF
