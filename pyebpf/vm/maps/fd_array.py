"""Arrays whose slots hold kernel objects rather than values: BPF_MAP_TYPE_PROG_ARRAY and PERF_EVENT_ARRAY.

A program cannot look their elements up; empty slots exist, and `del m[i]` empties one (ENOENT when already empty).
"""
from __future__ import annotations

import errno
from collections import defaultdict
from typing import Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK
from pyebpf.errors import MapError
from pyebpf.vm.maps.array import ArrayMap
from pyebpf.vm.maps.base import VmMap, err, syscall_lock_check


class _SlotArrayMap(ArrayMap):
    """An array whose slots hold kernel objects (fd arrays: programs, perf events) rather than values: a program
    cannot look elements up, empty slots exist, and `del m[i]` empties one (ENOENT when already empty)."""

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
        self._check_array_update(i, flags)
        self.slots[i] = self._slot_value(i, value)

    def delete_raw(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.spec.max_entries:
            raise err(f"{self.name}: index {i} >= max_entries", errno.E2BIG)
        if self.slots.pop(i, None) is None:
            raise err(f"{self.name}: slot {i} is empty", errno.ENOENT)

    def keys_raw(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in sorted(self.slots))

    def __len__(self) -> int:
        return len(self.slots)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        raise MapError(f"{self.kind} elements cannot be looked up from a program", errno.EOPNOTSUPP)


class ProgArrayMap(_SlotArrayMap):
    """BPF_MAP_TYPE_PROG_ARRAY: slot -> program number (the VM's prog fd, from `Machine.prog_fd(program)`), read by
    bpf_tail_call. Empty slots make the tail call fall through."""

    kind = "prog array"

    @property
    def programs(self) -> dict[int, int]:
        return self.slots

    def lookup_raw(self, key: bytes) -> bytes | None:
        fd = self.slots.get(self._index(key))
        return None if fd is None else fd.to_bytes(4, "little")


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

    def lookup_raw(self, key: bytes) -> bytes | None:
        raise err("perf event array lookup", errno.EOPNOTSUPP)

    def _slot_value(self, index: int, value: bytes) -> int:
        return index % self.ncpus  # the perf event a tool opens for slot i watches CPU i

    @property
    def events(self) -> dict[int, int]:
        """slot -> CPU of the perf event open in it."""
        return self.slots


__all__ = ["ProgArrayMap", "PerfEventArrayMap"]
