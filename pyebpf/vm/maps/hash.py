"""BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH (kernel/bpf/hashtab.c).

Iteration: with BPF_F_ZERO_SEED the kernel's own order (hash buckets in order, newest element first in a bucket);
without it the kernel's order depends on a random hash seed, so the VM uses the order in which elements were last
linked.
"""
from __future__ import annotations

import errno
from typing import Any, Iterator

from pyebpf.abi.map_create import roundup_pow_of_two
from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import MapCreateFlags
from pyebpf.vm.maps.base import UPDATE_MODE_MASK, VmMap, as_errno, check_update_flags, err
from pyebpf.vm.maps.jhash import htab_hash


class HashMap(VmMap):
    """BPF_MAP_TYPE_HASH. Replacing a value gives it a fresh buffer, as the kernel links in a new element: a program
    still holding the old value pointer keeps reading the old value.

    Iteration: with BPF_F_ZERO_SEED the kernel's own order (bucket jhash(key) & (roundup_pow_of_two(max_entries)-1)
    ascending, newest link first within a bucket); otherwise the order in which elements were last linked
    (insert, or replace for non-per-CPU maps), because the kernel's order then depends on a random hash seed."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._data: dict[bytes, Any] = {}  # a bytearray, or one per CPU
        self._free: list[Any] = []
        self._zero_seed = bool(spec.flags & MapCreateFlags.ZERO_SEED)
        self._n_buckets = roundup_pow_of_two(spec.max_entries)

    def _element(self, value: Any) -> Any:
        """A value buffer for a new element: recycled from deleted/replaced elements like the kernel's preallocated
        elements (so a stale value pointer sees whatever element reuses the memory, and the buffers -- hence the
        VM's mapped value regions -- stay bounded by max_entries + 1)."""
        if self._free:
            buf = self._free.pop()
            if isinstance(buf, list):
                for b, v in zip(buf, value):
                    b[:] = v
            else:
                buf[:] = value
            return buf
        return [bytearray(v) for v in value] if isinstance(value, list) else bytearray(value)

    def _release(self, buf: Any) -> None:
        if buf is not None:
            self._free.append(buf)

    def _link(self, key: bytes, value: Any) -> None:
        """Link a new element for key at its bucket's head (an existing element for key is unlinked and freed)."""
        new = self._element(value)
        self._release(self._data.pop(key, None))
        self._data[key] = new

    def keys_raw(self) -> Iterator[bytes]:
        keys = list(self._data)
        if self._zero_seed:
            mask = self._n_buckets - 1
            keys = sorted(reversed(keys), key=lambda k: htab_hash(k) & mask)
        return iter(keys)

    def lookup_raw(self, key: bytes) -> bytes | None:
        buf = self._data.get(self._check_key(key))
        if buf is None:
            return None
        return self._join(buf) if self.spec.is_percpu else bytes(buf)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        return self._data.get(bytes(key))

    def _check_exist(self, key: bytes, flags: int) -> bool:
        present = key in self._data
        mode = flags & UPDATE_MODE_MASK
        if present and mode == UpdateFlags.NOEXIST:
            raise err(f"{self.name}: key exists (BPF_NOEXIST)", errno.EEXIST)
        if not present and mode == UpdateFlags.EXIST:
            raise err(f"{self.name}: no such key (BPF_EXIST)", errno.ENOENT)
        return present

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        check_update_flags(flags)
        present = self._check_exist(key, flags)
        if not present and len(self._data) >= self.spec.max_entries:
            raise err(f"{self.name}: map is full ({self.spec.max_entries} entries)", errno.E2BIG)
        self._link(key, value)

    def delete_raw(self, key: bytes) -> None:
        key = self._check_key(key)
        buf = self._data.pop(key, None)
        if buf is None:
            raise err(f"{self.name}: no such key", errno.ENOENT)
        self._release(buf)

    def __len__(self) -> int:
        return len(self._data)


class PercpuHashMap(HashMap):
    """BPF_MAP_TYPE_PERCPU_HASH: one value buffer per CPU; updates change values in place, as the kernel does."""

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        bufs = self._data.get(bytes(key))
        return None if bufs is None else bufs[cpu]

    def _store(self, key: bytes, values: list[bytes], flags: int) -> None:
        check_update_flags(flags)
        present = self._check_exist(key, flags)
        if present:
            for buf, v in zip(self._data[key], values):
                if v is not None:
                    buf[:] = v
            return
        if len(self._data) >= self.spec.max_entries:
            raise err(f"{self.name}: map is full ({self.spec.max_entries} entries)", errno.E2BIG)
        zero = bytes(self.spec.value_size)
        self._link(key, [zero if v is None else v for v in values])

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        self._store(key, self._split(value), flags)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        # A program writes only its own CPU's value; a new element's other CPUs start zeroed (pcpu_init_value).
        values: list[Any] = [None] * self.ncpus
        values[cpu] = bytes(value)
        return as_errno(lambda: self._store(self._check_key(key), values, flags))


__all__ = ["HashMap", "PercpuHashMap"]
