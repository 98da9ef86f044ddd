"""How to ask the kernel whether it has a program type or map type (bpftool feature probe / libbpf's
libbpf_probe_bpf_prog_type and probe_map_create): the smallest load or create request that only a kernel with the
type accepts, per type. Types not listed use the defaults (a trivial program; a 4-byte key, 4-byte value, 1 entry).
"""
from __future__ import annotations

import errno
from dataclasses import dataclass

from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.abi.uapi import ENOTSUPP, MapCreateFlags, ProgLoadFlags

#: Program types the kernel loads only with this expected_attach_type (libbpf probe_prog_load).
PROG_PROBE_ATTACH_TYPE: dict[ProgType, AttachType] = {
    ProgType.CGROUP_SOCK_ADDR: AttachType.CGROUP_INET4_CONNECT,
    ProgType.CGROUP_SOCKOPT: AttachType.CGROUP_GETSOCKOPT,
    ProgType.SK_LOOKUP: AttachType.SK_LOOKUP,
    ProgType.LIRC_MODE2: AttachType.LIRC_MODE2,
    ProgType.NETFILTER: AttachType.NETFILTER,
}

#: prog_flags a probe of this type needs (syscall programs must be sleepable).
PROG_PROBE_FLAGS: dict[ProgType, int] = {ProgType.SYSCALL: int(ProgLoadFlags.SLEEPABLE)}

#: Types that cannot load without a target (a BTF id, struct_ops map): the kernel knows them when it refuses with
#: this errno and (when given) this log text, which only its checks for that type print.
PROG_PROBE_KNOWN_REFUSAL: dict[ProgType, tuple[int, str]] = {
    ProgType.TRACING: (errno.EINVAL, "Tracing programs must provide btf_id"),
    ProgType.STRUCT_OPS: (ENOTSUPP, ""),
}


@dataclass(frozen=True)
class MapProbe:
    """The BPF_MAP_CREATE request probing one map type; `btf`: key and value need BTF ints (local storage)."""

    key_size: int = 4
    value_size: int = 4
    max_entries: int = 1
    flags: int = 0
    inner_map: bool = False
    btf: bool = False
    page_entries: bool = False  # max_entries = the page size (ring buffers)
    known_errno: int | None = None  # the errno that still means "the kernel has this type"
    vmlinux_value_type_id: int = 0


_NP = int(MapCreateFlags.NO_PREALLOC)
MAP_PROBES: dict[MapType, MapProbe] = {
    MapType.LPM_TRIE: MapProbe(8, 8, 1, _NP),
    MapType.STACK_TRACE: MapProbe(4, 8),
    MapType.CGROUP_STORAGE: MapProbe(16, 4, 0),  # key: struct bpf_cgroup_storage_key (u64, u32, padding)
    MapType.PERCPU_CGROUP_STORAGE: MapProbe(16, 4, 0),
    MapType.QUEUE: MapProbe(0, 4),
    MapType.STACK: MapProbe(0, 4),
    MapType.BLOOM_FILTER: MapProbe(0, 4),
    MapType.RINGBUF: MapProbe(0, 0, page_entries=True),
    MapType.USER_RINGBUF: MapProbe(0, 0, page_entries=True),
    MapType.ARRAY_OF_MAPS: MapProbe(inner_map=True),
    MapType.HASH_OF_MAPS: MapProbe(inner_map=True),
    MapType.SK_STORAGE: MapProbe(4, 4, 0, _NP, btf=True),
    MapType.INODE_STORAGE: MapProbe(4, 4, 0, _NP, btf=True),
    MapType.TASK_STORAGE: MapProbe(4, 4, 0, _NP, btf=True),
    MapType.CGRP_STORAGE: MapProbe(4, 4, 0, _NP, btf=True),
    MapType.STRUCT_OPS: MapProbe(4, 4, known_errno=ENOTSUPP, vmlinux_value_type_id=1),  # type 1 is no struct_ops
    MapType.ARENA: MapProbe(0, 0, 1, int(MapCreateFlags.MMAPABLE)),
}

__all__ = ["PROG_PROBE_ATTACH_TYPE", "PROG_PROBE_FLAGS", "PROG_PROBE_KNOWN_REFUSAL", "MapProbe", "MAP_PROBES"]
