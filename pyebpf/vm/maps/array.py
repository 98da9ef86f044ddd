"""BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c): u32 indices, iterated in order.

The kernel allocates every value at creation; the VM creates a value's buffer on first use, so an array the kernel
would allocate (gigabytes) costs the VM only the values a test touches.
"""
from __future__ import annotations

import errno
from typing import Any, Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.vm.maps.base import UPDATE_MODE_MASK, VmMap, as_errno, err, syscall_lock_check


class ArrayMap(VmMap):
    """BPF_MAP_TYPE_ARRAY: max_entries zero-filled values, updated in place; keys are u32 indices.

    The kernel allocates (and zeroes) every value at creation; the VM creates a value's buffer the first time a
    program points into it or the syscall side writes it, so a large array costs memory only for the values used
    (reads of untouched values see zeros, as in the kernel)."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._values: dict[int, Any] = {}

    def _new_value(self) -> Any:
        return bytearray(self.spec.value_size)

    def _buffer(self, i: int) -> Any:
        """The live buffer of in-range index i, created zeroed on first use (its identity then never changes)."""
        buf = self._values.get(i)
        if buf is None:
            buf = self._values[i] = self._new_value()
        return buf

    def _index(self, key: bytes) -> int:
        return int.from_bytes(self._check_key(key), "little")

    def lookup_raw(self, key: bytes) -> bytes | None:
        i = self._index(key)
        if i >= self.spec.max_entries:
            return None
        buf = self._values.get(i)
        return bytes(self.spec.value_size) if buf is None else bytes(buf)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        i = int.from_bytes(key, "little")
        return self._buffer(i) if i < self.spec.max_entries else None

    def _check_array_update(self, i: int, flags: int) -> None:
        if flags & UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0:
            raise err(f"unknown update flags {flags:#x}", errno.EINVAL)
        if i >= self.spec.max_entries:
            raise err(f"{self.name}: index {i} >= max_entries {self.spec.max_entries}", errno.E2BIG)
        if flags & UpdateFlags.NOEXIST:
            raise err(f"{self.name}: array elements always exist (BPF_NOEXIST)", errno.EEXIST)
        if flags & UpdateFlags.F_LOCK:
            raise err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        i, value = self._index(key), self._check_value(value)
        syscall_lock_check(flags)
        self._check_array_update(i, flags)
        self._buffer(i)[:] = value

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        # array_map_update_elem: the index is checked before BPF_F_LOCK (the syscall checks BPF_F_LOCK first)
        def run() -> None:
            i = self._index(key)
            self._check_array_update(i, flags)
            self._buffer(i)[:] = value
        return as_errno(run)

    def delete_raw(self, key: bytes) -> None:
        self._check_key(key)
        raise err(f"{self.name}: array elements cannot be deleted", errno.EINVAL)

    def keys_raw(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in range(self.spec.max_entries))

    def __len__(self) -> int:
        return self.spec.max_entries


class PercpuArrayMap(ArrayMap):
    """BPF_MAP_TYPE_PERCPU_ARRAY: one zero-filled buffer per CPU per index."""

    def _new_value(self) -> Any:
        return [bytearray(self.spec.value_size) for _ in range(self.ncpus)]

    def lookup_raw(self, key: bytes) -> bytes | None:
        i = self._index(key)
        if i >= self.spec.max_entries:
            return None
        bufs = self._values.get(i)
        return self._join(bufs if bufs is not None else self._new_value())

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        i = int.from_bytes(key, "little")
        return self._buffer(i)[cpu] if i < self.spec.max_entries else None

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        i, value = self._index(key), self._check_value(value)
        syscall_lock_check(flags)
        self._check_array_update(i, flags)
        for buf, v in zip(self._buffer(i), self._split(value)):
            buf[:] = v

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        def run() -> None:
            i = self._index(key)
            self._check_array_update(i, flags)
            self._buffer(i)[cpu][:] = value
        return as_errno(run)


__all__ = ["ArrayMap", "PercpuArrayMap"]
