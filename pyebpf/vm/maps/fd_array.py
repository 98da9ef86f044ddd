"""Maps whose values are kernel objects rather than data: prog arrays, perf event arrays, maps of maps.

User space stores the object (a program, a map) or its VM fd number, as the kernel's maps take the object's fd. A
program cannot look up prog or perf event array elements; a lookup in a map of maps gives it the inner map.
"""
from __future__ import annotations

import errno
import itertools
import weakref
from collections import defaultdict
from typing import Any

from pyebpf.abi.maps import MapFace, MapSpec, UpdateFlags
from pyebpf.abi.records import record_decoder
from pyebpf.abi.uapi import BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, MapCreateFlags
from pyebpf.errors import MapError
from pyebpf.isa.program import Program
from pyebpf.vm.maps.array import ArrayMap
from pyebpf.vm.maps.base import VmMap, err, syscall_lock_check
from pyebpf.vm.maps.hash import HashMap


# ---- the VM's fds ----------------------------------------------------------------------------------------------
# The kernel's fd table is per process, so an fd means the same program or map to every map that stores it: here one
# table for every VM. It holds objects weakly, by identity (Programs and maps compare by value); what keeps one alive
# is what keeps a kernel object alive: a slot holding it, or the Machine that handed out its number (an open fd).
_OBJ_BY_FD: dict[int, "weakref.ref[Any]"] = {}
_FD_BY_ID: dict[int, int] = {}
_NEXT_FD = itertools.count(1000)


def object_for_fd(fd: int) -> Any:
    """The Program or VmMap the VM's fd `fd` stands for, or None."""
    ref = _OBJ_BY_FD.get(fd)
    return None if ref is None else ref()


def object_fd(obj: Any) -> int:
    """The number standing for `obj` (a Program or a VmMap) in a VM fd array, the same each time."""
    key = id(obj)
    fd = _FD_BY_ID.get(key)
    if fd is not None and object_for_fd(fd) is obj:
        return fd
    fd = next(_NEXT_FD)

    def forget(_ref: Any, fd: int = fd) -> None:
        _OBJ_BY_FD.pop(fd, None)
        if _FD_BY_ID.get(key) == fd:
            del _FD_BY_ID[key]
    _OBJ_BY_FD[fd] = weakref.ref(obj, forget)
    _FD_BY_ID[key] = fd
    return fd


def prog_fd(program: Program) -> int:
    """The number standing for `program` in a VM prog array (the VM's answer to a prog fd)."""
    return object_fd(program)


def program_for_fd(fd: int) -> Program | None:
    obj = object_for_fd(fd)
    return obj if isinstance(obj, Program) else None


def program_of(value: Any) -> Program | None:
    """The Program a prog array value stands for: a Program, or an object carrying one as `.program` (a VM, a loaded
    probe program, a KernelProgram loaded from one), as the kernel map takes a loaded program; else None."""
    if isinstance(value, Program):
        return value
    inner = getattr(value, "program", None)
    return inner if isinstance(inner, Program) else None


class _SlotArrayMap(ArrayMap):
    """An array whose slots hold kernel objects (fd arrays: programs, perf events, maps) rather than values: empty
    slots exist (a lookup is ENOENT, a KeyError) and `del m[i]` empties one (ENOENT when already empty). Iteration
    and len() cover every index, as the kernel's array get_next_key does."""

    kind = "fd array"

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        VmMap.__init__(self, spec, ncpus)
        self.slots: dict[int, int] = {}

    def _slot_value(self, index: int, value: bytes) -> int:
        """What an update from user space stores in slot `index`."""
        return int.from_bytes(value, "little")

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        i, value = self._index(key), self._check_value(value)
        syscall_lock_check(flags)
        if flags != UpdateFlags.ANY:  # bpf_fd_array_map_update_elem: BPF_ANY only, before the index check
            raise err(f"{self.name}: {self.kind} updates take BPF_ANY only, not {flags:#x}", errno.EINVAL)
        self._check_array_update(i, flags)
        self.slots[i] = self._slot_value(i, value)

    def delete_raw(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.spec.max_entries:
            raise err(f"{self.name}: index {i} >= max_entries", errno.E2BIG)
        if self.slots.pop(i, None) is None:
            raise err(f"{self.name}: slot {i} is empty", errno.ENOENT)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        raise MapError(f"{self.kind} elements cannot be looked up from a program", errno.EOPNOTSUPP)

    def lookup_raw(self, key: bytes) -> bytes | None:
        """The slot's fd number (the kernel gives the object's id), or None for an empty slot."""
        fd = self.slots.get(self._index(key))
        return None if fd is None else fd.to_bytes(4, "little")


class ProgArrayMap(_SlotArrayMap):
    """BPF_MAP_TYPE_PROG_ARRAY: slot -> program number (the VM's prog fd), read by bpf_tail_call. `m[i] = program`
    takes a Program or anything carrying one as `.program` (a VM, a loaded probe), as the kernel's prog array takes
    a loaded program; a number from `prog_fd(program)` works too. Empty slots make the tail call fall through."""

    kind = "prog array"

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._held: dict[int, Program] = {}  # slot -> its program, kept alive as the kernel's prog array does

    def encode_value(self, value: Any) -> bytes:
        program = program_of(value)
        if program is not None:
            return prog_fd(program).to_bytes(4, "little")
        if isinstance(value, VmMap):
            return object_fd(value).to_bytes(4, "little")  # refused by _slot_value, as the kernel refuses a map fd
        return super().encode_value(value)

    def _slot_value(self, index: int, value: bytes) -> int:
        fd = int.from_bytes(value, "little")
        if isinstance(object_for_fd(fd), VmMap):  # prog_fd_array_get_ptr: bpf_prog_get() of a map fd is EINVAL
            raise err(f"{self.name}: fd {fd} is a map, not a program", errno.EINVAL)
        program = program_for_fd(fd)
        if program is not None:
            self._held[index] = program
        else:
            self._held.pop(index, None)
        return fd

    def delete_raw(self, key: bytes) -> None:
        super().delete_raw(key)
        self._held.pop(self._index(key), None)

    def program_at(self, index: int) -> Program | None:
        """The program bpf_tail_call(ctx, this map, index) jumps to, or None (it falls through)."""
        fd = self.slots.get(index)
        return None if fd is None else program_for_fd(fd)

    @property
    def programs(self) -> dict[int, int]:
        return self.slots



class PerfEventArrayMap(_SlotArrayMap):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: bpf_perf_event_output appends records to slot `index`.

    Every slot below `ncpus` holds a BPF_OUTPUT perf event opened on the CPU of the same number (what tools do);
    writing to another CPU's slot is EOPNOTSUPP, to a slot without event ENOENT. `records[i]` lists slot i's
    records; `close(i)` / `open(i, cpu)` change slots."""

    kind = "perf event array"

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.slots.update((i, i) for i in range(min(ncpus, spec.max_entries)))
        self.records: defaultdict[int, list[bytes]] = defaultdict(list)  # slot -> records, made on first use
        self.lost = 0

    def open(self, index: int, cpu: int) -> None:
        self.events[index] = cpu

    def close(self, index: int | None = None) -> None:  # type: ignore[override]
        """Close slot `index`'s perf event; without an index, the map's close() (nothing to release)."""
        if index is not None:
            self.events.pop(index, None)

    def output(self, flags: int, data: bytes, cpu: int) -> int:
        """bpf_perf_event_output's checks (kernel/trace/bpf_trace.c __bpf_perf_event_output): 0 or -errno."""
        if flags & ~BPF_F_INDEX_MASK:
            return -errno.EINVAL
        index = flags & BPF_F_INDEX_MASK
        if index == BPF_F_CURRENT_CPU:
            index = cpu
        if index >= self.spec.max_entries:
            return -errno.E2BIG
        event_cpu = self.events.get(index)
        if event_cpu is None:
            return -errno.ENOENT
        if event_cpu != cpu:
            return -errno.EOPNOTSUPP
        self.records[index].append(bytes(data))
        return 0

    def drain(self) -> list[tuple[int, bytes]]:
        """All records as (slot, bytes), slot by slot, and empty the buffers (what a perf reader would consume)."""
        out = [(i, r) for i in sorted(self.records) for r in self.records[i]]
        for lst in self.records.values():
            lst.clear()
        return out

    def consume(self, limit: int | None = None, decode: Any = None, with_cpu: bool = False) -> list[Any]:
        """Take the records the program output, slot by slot (a slot is the CPU whose ring got them), at most
        `limit`: bytes as a perf reader sees them (the kernel pads a raw sample's u32 size + bytes to 8, so the bytes
        end in up to 7 zero bytes), or `decode` applied (a ctypes type or a function); (cpu, record) pairs with
        `with_cpu`. The same call as the kernel loader's perf event array map."""
        fn = record_decoder(decode)
        out: list[Any] = []
        for slot in sorted(self.records):
            pending = self.records[slot]
            while pending and (limit is None or len(out) < limit):
                raw = pending.pop(0)
                raw += bytes(-(len(raw) + 4) % 8)  # perf_prepare_sample: size u32 + raw data padded to u64
                value = fn(raw) if fn is not None else raw
                out.append((self.events.get(slot, slot), value) if with_cpu else value)
        return out

    def lookup_raw(self, key: bytes) -> bytes | None:
        raise err("perf event array lookup", errno.EOPNOTSUPP)

    def _slot_value(self, index: int, value: bytes) -> int:
        return index % self.ncpus  # the perf event a tool opens for slot i watches CPU i

    @property
    def events(self) -> dict[int, int]:
        """slot -> CPU of the perf event open in it."""
        return self.slots


# ---- maps of maps ------------------------------------------------------------------------------------------------

def _inner_for(outer: VmMap, fd: int) -> VmMap:
    """bpf_map_fd_get_ptr: the map behind `fd`, which must match the outer map's inner template
    (bpf_map_meta_equal: type, key and value size, flags; arrays also max_entries unless BPF_F_INNER_MAP)."""
    inner = object_for_fd(fd)
    if not isinstance(inner, VmMap):
        raise err(f"{outer.name}: {fd} is not a map fd", errno.EBADF)
    want, have = outer.spec.inner_map, inner.spec
    assert want is not None  # abi.map_create refuses a map of maps without one
    same = (want.type, want.key_size, want.value_size, want.flags) == (have.type, have.key_size, have.value_size,
                                                                       have.flags)
    if same and want.is_array and not want.flags & MapCreateFlags.INNER_MAP:
        same = want.max_entries == have.max_entries
    if not same:
        raise err(f"{outer.name}: map {have.name!r} does not match the inner map template {want.name!r}", errno.EINVAL)
    return inner


def _map_value(outer: VmMap, value: Any) -> bytes:
    """A map of maps takes a VmMap (as the kernel's takes a map fd) or a VM fd number."""
    if isinstance(value, VmMap):
        return object_fd(value).to_bytes(4, "little")
    return MapFace.encode_value(outer, value)


class ArrayOfMapsMap(_SlotArrayMap):
    """BPF_MAP_TYPE_ARRAY_OF_MAPS: slot -> inner map. `m[i] = inner_map` (a VM map matching the spec's `inner_map`
    template); a program's bpf_map_lookup_elem returns the inner map, to look up in next."""

    kind = "array of maps"

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._inner: dict[int, VmMap] = {}  # slot -> its map, kept alive as the kernel's array does

    def encode_value(self, value: Any) -> bytes:
        return _map_value(self, value)

    def _slot_value(self, index: int, value: bytes) -> int:
        fd = int.from_bytes(value, "little")
        self._inner[index] = _inner_for(self, fd)
        return fd

    def delete_raw(self, key: bytes) -> None:
        super().delete_raw(key)
        self._inner.pop(self._index(key), None)

    def inner_map(self, key: bytes) -> VmMap | None:
        """What bpf_map_lookup_elem returns to a program: the inner map, or None (NULL)."""
        i = int.from_bytes(key, "little")
        return self._inner.get(i) if i in self.slots else None


class HashOfMapsMap(HashMap):
    """BPF_MAP_TYPE_HASH_OF_MAPS: key -> inner map, as ArrayOfMapsMap but hashed (E2BIG when full)."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._inner: dict[bytes, VmMap] = {}

    def encode_value(self, value: Any) -> bytes:
        return _map_value(self, value)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        inner = _inner_for(self, int.from_bytes(self._check_value(value), "little"))
        super().update_raw(key, value, flags)
        self._inner[bytes(key)] = inner

    def delete_raw(self, key: bytes) -> None:
        super().delete_raw(key)
        self._inner.pop(bytes(key), None)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        raise MapError("a map of maps gives its inner map to a program, not a value", errno.EOPNOTSUPP)

    def inner_map(self, key: bytes) -> VmMap | None:
        return self._inner.get(bytes(key))


__all__ = ["ProgArrayMap", "PerfEventArrayMap", "ArrayOfMapsMap", "HashOfMapsMap", "prog_fd", "program_for_fd",
           "program_of", "object_fd", "object_for_fd"]
