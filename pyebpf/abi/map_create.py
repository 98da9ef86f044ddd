"""BPF_MAP_CREATE's rules: what each map type's map_alloc_check refuses, and how much it allocates up front.

Kernel facts, not VM behaviour: the VM refuses a spec with the errno the kernel would give (`check_map_create`), and
the loader uses the same rules to say *why* the kernel refused one (`explain_map_create`). Per map type there is one
row in `CREATE_RULES` (the type's *_map_alloc_check: sizes, `*_CREATE_FLAG_MASK`) and, for types that allocate at
creation, one in `MAP_AREAS` (bpf_map_area_alloc sizes, x86-64 6.x layouts).

Memory: bpf_map_area_alloc() ends in __vmalloc_node_range(), which refuses an area of more pages than the machine
has (totalram_pages(): "vmalloc error: size ..., exceeds total pages") before allocating anything; BPF_MAP_CREATE
then fails with ENOMEM. A bucket count overflowing u32 is E2BIG.
"""
from __future__ import annotations

import errno
import mmap
import os
from typing import Callable

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.uapi import ENOTSUPP, MapCreateFlags
from pyebpf.errors import MapError

PAGE_SIZE = mmap.PAGESIZE
INT_MAX = (1 << 31) - 1
U32_MAX = (1 << 32) - 1
POINTER_SIZE = 8

PCPU_MIN_UNIT_SIZE = 32768
"""Largest per-CPU value the kernel allocates (percpu allocator unit); bigger per-CPU values are E2BIG."""
KMALLOC_MAX_SIZE = 1 << 22
"""Upper bound for one hash element (key + value) on x86-64 (kmalloc's largest size with 4 KiB pages)."""
LPM_DATA_SIZE_MAX = 256
LPM_VAL_SIZE_MAX = KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - 64
"""Generous upper bound; the kernel's exact bound involves sizeof(struct lpm_trie_node)."""

HTAB_BUCKET_SIZE = 16
"""sizeof(struct bucket): hlist_nulls_head + a 4-byte lock, padded to 8."""
HTAB_ELEM_SIZE = 48
"""sizeof(struct htab_elem) before the key: hash node, freelist/LRU node union, u32 hash, key aligned to 8."""
STACK_MAP_BUCKET_SIZE = 24
"""sizeof(struct stack_map_bucket) before the ips: freelist node, u32 hash, u32 nr."""
HTAB_MAX_ENTRIES = 1 << 31
"""htab_map_alloc / stack_map_alloc: more entries would overflow roundup_pow_of_two: E2BIG."""

# ---- each type's *_CREATE_FLAG_MASK ---------------------------------------------------------------------------
_F = MapCreateFlags
ACCESS_FLAGS = _F.RDONLY | _F.WRONLY | _F.RDONLY_PROG | _F.WRONLY_PROG
"""BPF_F_ACCESS_MASK."""
HTAB_CREATE_FLAGS = _F.NO_PREALLOC | _F.NO_COMMON_LRU | _F.NUMA_NODE | ACCESS_FLAGS | _F.ZERO_SEED
ARRAY_CREATE_FLAGS = _F.NUMA_NODE | _F.MMAPABLE | ACCESS_FLAGS | _F.INNER_MAP | _F.PRESERVE_ELEMS
QUEUE_STACK_CREATE_FLAGS = _F.NUMA_NODE | ACCESS_FLAGS
STACK_CREATE_FLAGS = _F.NUMA_NODE | ACCESS_FLAGS | _F.STACK_BUILD_ID
LPM_CREATE_FLAGS = _F.NO_PREALLOC | _F.NUMA_NODE | ACCESS_FLAGS
RINGBUF_CREATE_FLAGS = _F.NUMA_NODE


def _need(cond: bool, message: str, code: int = errno.EINVAL) -> None:
    if not cond:
        raise MapError(message, code)


def _flags_within(spec: MapSpec, allowed: int) -> None:
    """Each map type's *_CREATE_FLAG_MASK: other map_flags are EINVAL."""
    _need(not spec.flags & ~int(allowed), f"map_flags {spec.flags:#x} not allowed for {spec.type.name} maps")


# ---- map_alloc_check per type -----------------------------------------------------------------------------------

def _check_hash(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size > 0 and spec.value_size > 0,
          "hash maps need key_size, value_size and max_entries > 0")
    if spec.is_percpu:
        _need(spec.value_size <= PCPU_MIN_UNIT_SIZE, f"per-CPU value_size > {PCPU_MIN_UNIT_SIZE}", errno.E2BIG)
    _need(spec.key_size + spec.value_size < KMALLOC_MAX_SIZE, "element too large", errno.E2BIG)
    _flags_within(spec, HTAB_CREATE_FLAGS)
    lru = spec.type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
    if spec.flags & MapCreateFlags.NO_COMMON_LRU:
        _need(lru, "BPF_F_NO_COMMON_LRU is only for LRU maps")
    if lru:
        _need(not spec.flags & MapCreateFlags.NO_PREALLOC, "LRU maps are always preallocated", ENOTSUPP)


def _check_array(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size > 0,
          "arrays need key_size 4, value_size > 0 and max_entries > 0")
    _need(spec.value_size <= INT_MAX, f"value_size {spec.value_size} > INT_MAX", errno.E2BIG)
    if spec.is_percpu:
        _need(spec.value_size <= PCPU_MIN_UNIT_SIZE, f"per-CPU value_size > {PCPU_MIN_UNIT_SIZE}", errno.E2BIG)
    _flags_within(spec, ARRAY_CREATE_FLAGS)


def _check_fd_array(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size == 4,
          "fd arrays need key_size 4, value_size 4 and max_entries > 0")


_MAPS_OF_MAPS = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


def _check_inner(spec: MapSpec) -> None:
    """bpf_map_meta_alloc: a map of maps is created from an inner map template, which is no map of maps itself."""
    _need(spec.inner_map is not None, f"map {spec.name!r}: a map of maps needs an inner map spec")
    assert spec.inner_map is not None
    _need(spec.inner_map.type not in _MAPS_OF_MAPS, f"map {spec.name!r}: the inner map cannot be a map of maps")


def _check_array_of_maps(spec: MapSpec) -> None:
    _check_fd_array(spec)
    _flags_within(spec, ARRAY_CREATE_FLAGS & ~_F.MMAPABLE)
    _check_inner(spec)


def _check_hash_of_maps(spec: MapSpec) -> None:
    _need(spec.value_size == 4, "maps of maps need value_size 4")
    _check_hash(spec)
    _check_inner(spec)


def _check_queue(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 0 and spec.value_size > 0,
          "queue/stack maps need key_size 0, value_size > 0 and max_entries > 0")
    _flags_within(spec, QUEUE_STACK_CREATE_FLAGS)


def _check_stack_trace(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size >= 8 and spec.value_size % 8 == 0,
          "stack trace maps need key_size 4, value_size a multiple of 8 and max_entries > 0")
    _flags_within(spec, STACK_CREATE_FLAGS)


def _check_lpm(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and bool(spec.flags & MapCreateFlags.NO_PREALLOC),
          "LPM tries need max_entries > 0 and BPF_F_NO_PREALLOC")
    _need(5 <= spec.key_size <= 4 + LPM_DATA_SIZE_MAX and 1 <= spec.value_size <= LPM_VAL_SIZE_MAX,
          "LPM trie key_size must be 5..260 and value_size > 0")
    _flags_within(spec, LPM_CREATE_FLAGS)


def validate_ringbuf_size(size: int) -> None:
    """ringbuf_map_alloc: the size is a power of two and a multiple of the page size."""
    _need(size > 0 and not size & (size - 1) and not size % PAGE_SIZE,
          f"ring buffer size {size} is not a power-of-two multiple of {PAGE_SIZE}")


def _check_ringbuf(spec: MapSpec) -> None:
    _need(spec.key_size == 0 and spec.value_size == 0, "ring buffers need key_size 0 and value_size 0")
    _flags_within(spec, RINGBUF_CREATE_FLAGS)
    validate_ringbuf_size(spec.max_entries)


CREATE_RULES: dict[MapType, Callable[[MapSpec], None]] = {
    MapType.HASH: _check_hash, MapType.PERCPU_HASH: _check_hash, MapType.LRU_HASH: _check_hash,
    MapType.LRU_PERCPU_HASH: _check_hash, MapType.ARRAY: _check_array, MapType.PERCPU_ARRAY: _check_array,
    MapType.PROG_ARRAY: _check_fd_array, MapType.PERF_EVENT_ARRAY: _check_fd_array, MapType.QUEUE: _check_queue,
    MapType.STACK: _check_queue, MapType.STACK_TRACE: _check_stack_trace, MapType.LPM_TRIE: _check_lpm,
    MapType.RINGBUF: _check_ringbuf, MapType.ARRAY_OF_MAPS: _check_array_of_maps,
    MapType.HASH_OF_MAPS: _check_hash_of_maps,
}
"""Map type -> its map_alloc_check (raises MapError with BPF_MAP_CREATE's errno). Types not listed: no rules here."""


# ---- how much memory the kernel allocates at creation ---------------------------------------------------------------

def total_ram() -> int:
    """The machine's RAM in bytes (totalram_pages() * PAGE_SIZE): the largest map area the kernel tries to get."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # no sysconf for it: nothing is too big
        return 1 << 64


def _round_up(n: int, to: int) -> int:
    return -(-n // to) * to


def roundup_pow_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _array_areas(spec: MapSpec, ncpus: int) -> list[int]:
    """array_map_alloc: the values inline (page-aligned when mmapable); per-CPU arrays keep a pointer per entry and
    allocate the values from the per-CPU allocator (which, too, runs out as ENOMEM)."""
    elem_size = _round_up(spec.value_size, 8)
    if spec.type == MapType.PERCPU_ARRAY:
        return [spec.max_entries * POINTER_SIZE, spec.max_entries * elem_size * ncpus]
    if spec.flags & MapCreateFlags.MMAPABLE:
        return [_round_up(spec.max_entries * elem_size, PAGE_SIZE)]
    return [spec.max_entries * elem_size]


def _hash_areas(spec: MapSpec, ncpus: int) -> list[int]:
    """htab_map_alloc: the bucket array, then (unless BPF_F_NO_PREALLOC) every element preallocated."""
    n_buckets = roundup_pow_of_two(spec.max_entries)
    _need(spec.max_entries <= HTAB_MAX_ENTRIES and n_buckets <= U32_MAX // HTAB_BUCKET_SIZE,
          f"creating map {spec.name!r}: {spec.max_entries} entries overflow the u32 bucket array", errno.E2BIG)
    areas = [n_buckets * HTAB_BUCKET_SIZE]
    if not spec.flags & MapCreateFlags.NO_PREALLOC:
        key = _round_up(spec.key_size, 8)
        if spec.is_percpu:
            areas += [spec.max_entries * (HTAB_ELEM_SIZE + key + POINTER_SIZE),
                      spec.max_entries * _round_up(spec.value_size, 8) * ncpus]
        else:
            areas.append(spec.max_entries * (HTAB_ELEM_SIZE + key + _round_up(spec.value_size, 8)))
    return areas


def _fd_array_areas(spec: MapSpec, ncpus: int) -> list[int]:
    return [spec.max_entries * POINTER_SIZE]  # value_size 4 rounds up to one pointer per slot


def _queue_areas(spec: MapSpec, ncpus: int) -> list[int]:
    return [(spec.max_entries + 1) * spec.value_size]  # queue_stack_map_alloc: one spare slot


def _stack_trace_areas(spec: MapSpec, ncpus: int) -> list[int]:
    _need(spec.max_entries <= HTAB_MAX_ENTRIES,
          f"creating map {spec.name!r}: {spec.max_entries} entries > {HTAB_MAX_ENTRIES}", errno.E2BIG)
    return [roundup_pow_of_two(spec.max_entries) * POINTER_SIZE,
            spec.max_entries * (STACK_MAP_BUCKET_SIZE + spec.value_size)]


MAP_AREAS: dict[MapType, Callable[[MapSpec, int], list[int]]] = {
    MapType.HASH: _hash_areas, MapType.PERCPU_HASH: _hash_areas, MapType.LRU_HASH: _hash_areas,
    MapType.LRU_PERCPU_HASH: _hash_areas, MapType.ARRAY: _array_areas, MapType.PERCPU_ARRAY: _array_areas,
    MapType.PROG_ARRAY: _fd_array_areas, MapType.PERF_EVENT_ARRAY: _fd_array_areas, MapType.QUEUE: _queue_areas,
    MapType.STACK: _queue_areas, MapType.STACK_TRACE: _stack_trace_areas, MapType.ARRAY_OF_MAPS: _fd_array_areas,
    MapType.HASH_OF_MAPS: _hash_areas,
}
"""Map type -> the sizes of the areas its map_alloc allocates up front (LPM tries and ring buffers are not here:
tries allocate per element, ring buffer sizes are checked by validate_ringbuf_size)."""


def check_map_memory(spec: MapSpec, ncpus: int = 1, ram: int | None = None) -> None:
    """MapError(ENOMEM) when one of the areas the kernel allocates for `spec` is larger than the machine's RAM
    (E2BIG for hash/stack-trace maps whose bucket count overflows), as BPF_MAP_CREATE on this machine says."""
    areas = MAP_AREAS.get(spec.type)
    if areas is None:
        return
    limit = total_ram() if ram is None else ram
    for size in areas(spec, ncpus):
        _need(size <= limit, f"creating map {spec.name!r}: {spec.max_entries} entries need {size} bytes, more than "
                             f"the machine's {limit} bytes of RAM", errno.ENOMEM)


def check_map_create(spec: MapSpec, ncpus: int = 1) -> None:
    """Everything above for `spec`: MapError with BPF_MAP_CREATE's errno when the kernel would refuse it."""
    rule = CREATE_RULES.get(spec.type)
    if rule is not None:
        rule(spec)
    check_map_memory(spec, ncpus)


def explain_map_create(spec: MapSpec, err: int, ncpus: int = 1) -> str | None:
    """Why BPF_MAP_CREATE said `err` for `spec`, when these rules say so with the same errno; else None (the
    kernel knows something they do not: BTF, a missing feature, limits)."""
    try:
        check_map_create(spec, ncpus)
    except MapError as e:
        if e.errno == err:
            return e.message
    return None


__all__ = ["CREATE_RULES", "MAP_AREAS", "check_map_create", "check_map_memory", "explain_map_create", "total_ram",
           "validate_ringbuf_size", "roundup_pow_of_two", "HTAB_MAX_ENTRIES", "PCPU_MIN_UNIT_SIZE",
           "KMALLOC_MAX_SIZE", "LPM_DATA_SIZE_MAX", "LPM_VAL_SIZE_MAX", "PAGE_SIZE", "ACCESS_FLAGS",
           "HTAB_CREATE_FLAGS", "ARRAY_CREATE_FLAGS", "QUEUE_STACK_CREATE_FLAGS", "STACK_CREATE_FLAGS",
           "LPM_CREATE_FLAGS", "RINGBUF_CREATE_FLAGS"]
