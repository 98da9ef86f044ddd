"""Arrays whose slots hold kernel objects rather than values: BPF_MAP_TYPE_PROG_ARRAY and PERF_EVENT_ARRAY.

A program cannot look their elements up; empty slots exist, and `del m[i]` empties one (ENOENT when already empty).
"""
from __future__ import annotations

import errno
import itertools
import weakref
from collections import defaultdict
from typing import Any, Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK
from pyebpf.errors import MapError
from pyebpf.isa.program import Program
from pyebpf.vm.maps.array import ArrayMap
from pyebpf.vm.maps.base import VmMap, err, syscall_lock_check


# ---- the VM's program fds --------------------------------------------------------------------------------------
# The kernel's fd table is per process, so a prog fd means the same program to every map: here one table for every
# VM. It holds programs weakly, by identity (Programs compare by value); what keeps a program alive is what keeps a
# kernel program alive: a prog array slot holding it, or the Machine that handed out its number (as an open fd).
_PROG_BY_FD: dict[int, "weakref.ref[Program]"] = {}
_FD_BY_ID: dict[int, int] = {}
_NEXT_FD = itertools.count(1000)


def program_for_fd(fd: int) -> Program | None:
    ref = _PROG_BY_FD.get(fd)
    return None if ref is None else ref()


def prog_fd(program: Program) -> int:
    """The number standing for `program` in a VM prog array (the VM's answer to a prog fd), the same each time."""
    key = id(program)
    fd = _FD_BY_ID.get(key)
    if fd is not None and program_for_fd(fd) is program:
        return fd
    fd = next(_NEXT_FD)

    def forget(_ref: Any, fd: int = fd) -> None:
        _PROG_BY_FD.pop(fd, None)
        if _FD_BY_ID.get(key) == fd:
            del _FD_BY_ID[key]
    _PROG_BY_FD[fd] = weakref.ref(program, forget)
    _FD_BY_ID[key] = fd
    return fd


def program_of(value: Any) -> Program | None:
    """The Program a prog array value stands for: a Program, or an object carrying one as `.program` (a VM, a loaded
    probe program, a KernelProgram loaded from one), as the kernel map takes a loaded program; else None."""
    if isinstance(value, Program):
        return value
    inner = getattr(value, "program", None)
    return inner if isinstance(inner, Program) else None


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
        return super().encode_value(value)

    def _slot_value(self, index: int, value: bytes) -> int:
        fd = int.from_bytes(value, "little")
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


__all__ = ["ProgArrayMap", "PerfEventArrayMap", "prog_fd", "program_for_fd", "program_of"]
