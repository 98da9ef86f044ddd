"""Map specs for every map type the parity suite covers, and how to make each on a side (one place)."""
from __future__ import annotations

import ctypes
from dataclasses import replace
from typing import Any

from pyebpf.abi.maps import MapSpec

class LpmKey(ctypes.Structure):
    """struct bpf_lpm_trie_key_u8 with an IPv4 address."""
    _fields_ = [("prefixlen", ctypes.c_uint32), ("addr", ctypes.c_uint8 * 4)]


INNER = MapSpec.of("inner", "array", ctypes.c_uint32, ctypes.c_uint32, 4)


def spec_for(kind: str, max_entries: int = 4) -> MapSpec:
    """A small map of `kind` with u32 keys and u64 values where the type allows them."""
    if kind == "lpm_trie":
        return MapSpec.of("m", kind, LpmKey, ctypes.c_uint64, max_entries, flags=1)  # BPF_F_NO_PREALLOC
    if kind in ("queue", "stack"):
        return MapSpec.of("m", kind, 0, 8, max_entries)
    if kind == "ringbuf":
        return MapSpec.of("m", kind, max_entries=4096)
    if kind in ("prog_array", "perf_event_array"):
        return MapSpec.of("m", kind, 4, 4, max_entries)
    if kind in ("array_of_maps", "hash_of_maps"):
        return replace(MapSpec.of("m", kind, 4, 4, max_entries), inner_map=INNER)
    return MapSpec.of("m", kind, ctypes.c_uint32, ctypes.c_uint64, max_entries)


def make_map(backend: str, spec: MapSpec) -> Any:
    if backend == "kernel":
        from pyebpf.loader import create_map

        return create_map(spec)
    from pyebpf.vm.maps import create_map as vm_create_map

    return vm_create_map(spec)


def lpm_key(prefixlen: int, addr: bytes) -> Any:
    """The key as it reads back from the map (a hashable named tuple), usable as a key too."""
    from pyebpf.abi.frozen import frozen

    return frozen(LpmKey(prefixlen, (ctypes.c_uint8 * 4)(*addr)))
