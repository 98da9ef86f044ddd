"""User-space maps for the VM, with the kernel's semantics and errnos: one module per map family.

Every map is a `MapFace` (the dict-like typed face shared with the loader's kernel-backed maps), so a test written
against a VM map runs unchanged against a kernel map. `base` holds what all share (the syscall side raising MapError
with bpf()'s errno, the program side returning the helpers' values); `hash`, `lru`, `array`, `fd_array`, `queue`,
`stack_trace`, `lpm` and `ringbuf` one family each; `jhash` the kernel's hash.

Creation (`create_map`) refuses what BPF_MAP_CREATE refuses, with its errno: the rules and the up-front memory
sizing are kernel facts and live in `pyebpf.abi.map_create` (re-exported here for existing imports).
"""
from __future__ import annotations

import errno
from typing import Callable

from pyebpf.abi.map_create import (
    HTAB_MAX_ENTRIES, KMALLOC_MAX_SIZE, LPM_DATA_SIZE_MAX, LPM_VAL_SIZE_MAX, MAP_AREAS, PCPU_MIN_UNIT_SIZE,
    check_map_create, check_map_memory, total_ram,
)
from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.system.cpus import num_possible_cpus
from pyebpf.vm.maps.array import ArrayMap, PercpuArrayMap
from pyebpf.vm.maps.base import VmMap, err
from pyebpf.vm.maps.fd_array import ArrayOfMapsMap, HashOfMapsMap, PerfEventArrayMap, ProgArrayMap
from pyebpf.vm.maps.hash import HashMap, PercpuHashMap
from pyebpf.vm.maps.jhash import htab_hash, jhash, jhash2
from pyebpf.vm.maps.lpm import LpmTrieMap
from pyebpf.vm.maps.lru import LruHashMap, LruPercpuHashMap
from pyebpf.vm.maps.queue import QueueMap, StackMap
from pyebpf.vm.maps.ringbuf import RingBufMap
from pyebpf.vm.maps.stack_trace import StackTraceMap

MAP_CLASSES: dict[MapType, Callable[[MapSpec, int], VmMap]] = {
    MapType.HASH: HashMap, MapType.PERCPU_HASH: PercpuHashMap, MapType.LRU_HASH: LruHashMap,
    MapType.LRU_PERCPU_HASH: LruPercpuHashMap, MapType.ARRAY: ArrayMap, MapType.PERCPU_ARRAY: PercpuArrayMap,
    MapType.PROG_ARRAY: ProgArrayMap, MapType.PERF_EVENT_ARRAY: PerfEventArrayMap, MapType.QUEUE: QueueMap,
    MapType.STACK: StackMap, MapType.STACK_TRACE: StackTraceMap, MapType.LPM_TRIE: LpmTrieMap,
    MapType.RINGBUF: RingBufMap, MapType.ARRAY_OF_MAPS: ArrayOfMapsMap, MapType.HASH_OF_MAPS: HashOfMapsMap,
}
"""Map types the VM simulates: type -> class (the creation rules are abi.map_create.CREATE_RULES)."""


def create_map(spec: MapSpec, ncpus: int | None = None) -> VmMap:
    """A VM map for `spec`, element 0 holding `spec.initial` when given; raises MapError with BPF_MAP_CREATE's errno
    for specs the kernel would refuse, and MapError(EINVAL) naming the type for map types the VM does not simulate.
    `ncpus` (per-CPU values, LRU lists, perf event slots) defaults to the machine's possible CPUs, as in the kernel."""
    cls = MAP_CLASSES.get(spec.type)
    if cls is None:
        raise err(f"map {spec.name!r}: the VM does not simulate {spec.type.name} maps", errno.EINVAL)
    if ncpus is None:
        ncpus = num_possible_cpus()
    check_map_create(spec, ncpus)
    vm_map = cls(spec, ncpus)
    vm_map.apply_initial()  # global data (MapSpec.initial), as pyebpf.loader.create_map writes it
    return vm_map


__all__ = ["VmMap", "HashMap", "PercpuHashMap", "LruHashMap", "LruPercpuHashMap", "ArrayMap", "PercpuArrayMap",
           "ProgArrayMap", "PerfEventArrayMap", "ArrayOfMapsMap", "HashOfMapsMap", "QueueMap", "StackMap",
           "StackTraceMap", "LpmTrieMap", "RingBufMap", "MAP_CLASSES", "MAP_AREAS", "check_map_memory", "total_ram",
           "create_map", "jhash2", "jhash", "htab_hash", "HTAB_MAX_ENTRIES", "PCPU_MIN_UNIT_SIZE", "KMALLOC_MAX_SIZE",
           "LPM_DATA_SIZE_MAX", "LPM_VAL_SIZE_MAX"]
