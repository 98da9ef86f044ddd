"""What every VM map shares: the syscall side's size and flag checks, the program side's defaults, freezing.

Two sides, as in the kernel:

* the *syscall side* (`lookup_raw`, `update_raw`, `delete_raw`, `keys_raw`, `push_raw`, `pop_raw`) raises
  `MapError` with the errno `bpf(BPF_MAP_*_ELEM)` would set, and sees per-CPU values for all CPUs at once;
* the *program side* (`value_ref`, `prog_update`, `prog_delete`, `prog_push`, `prog_pop`) is what the helpers call:
  it returns the live value buffer a program points into, or 0 / a negative errno as the kernel's helpers return,
  and sees only the current CPU's slot of a per-CPU value.
"""
from __future__ import annotations

import errno
from typing import Any, Callable

from pyebpf.abi.maps import MapFace, MapSpec, MapType, UpdateFlags, percpu_stride
from pyebpf.abi.uapi import ENOTSUPP
from pyebpf.errors import MapError

#: map types whose ops have map_lookup_and_delete_elem / _batch (kernel/bpf/hashtab.c); others say ENOTSUPP
LOOKUP_AND_DELETE_TYPES = frozenset({MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH})
#: map types with map_lookup_batch / map_update_batch (generic_map_* or htab's): arrays, hashes, the LPM trie
BATCH_TYPES = LOOKUP_AND_DELETE_TYPES | {MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.LPM_TRIE}
#: ... and map_delete_batch: not arrays (their slots cannot be deleted)
DELETE_BATCH_TYPES = LOOKUP_AND_DELETE_TYPES | {MapType.LPM_TRIE}

UPDATE_MODE_MASK = ~int(UpdateFlags.F_LOCK)


def err(message: str, code: int) -> MapError:
    return MapError(message, code)


def check_update_flags(flags: int) -> None:
    """All update paths: anything beyond BPF_EXIST (ignoring BPF_F_LOCK) is EINVAL; BPF_F_LOCK needs a spin lock,
    which VM maps never have (no BTF), so it is EINVAL too."""
    if flags & UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0:
        raise err(f"unknown update flags {flags:#x}", errno.EINVAL)
    if flags & UpdateFlags.F_LOCK:
        raise err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)


def syscall_lock_check(flags: int) -> None:
    """BPF_MAP_UPDATE_ELEM refuses BPF_F_LOCK on a value without bpf_spin_lock before the map sees the update."""
    if flags & UpdateFlags.F_LOCK:
        raise err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)


def as_errno(fn: Callable[[], Any]) -> int:
    """Program side: run a syscall-side operation and turn MapError into the helper's negative errno."""
    try:
        fn()
    except MapError as e:
        return -e.errno
    return 0


class VmMap(MapFace):
    """Base of the VM's maps: size checks, the program-side defaults, and the current CPU."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        if ncpus < 1:
            raise ValueError("ncpus must be >= 1")

    # -- sizes ---------------------------------------------------------------------------------------------
    def _check_key(self, key: bytes) -> bytes:
        if len(key) != self.spec.key_size:
            raise err(f"{self.name}: key of {len(key)} bytes, map has key_size {self.spec.key_size}", errno.EINVAL)
        return bytes(key)

    def _syscall_value_size(self) -> int:
        if self.spec.is_percpu:
            return percpu_stride(self.spec.value_size) * self.ncpus
        return self.spec.value_size

    def _check_value(self, value: bytes) -> bytes:
        want = self._syscall_value_size()
        if len(value) != want:
            raise err(f"{self.name}: value of {len(value)} bytes, expected {want}", errno.EINVAL)
        return bytes(value)

    # -- per-CPU values: the syscall side sees all CPUs at 8-byte strides, the program side one CPU's buffer -------
    def _join(self, bufs: list[bytearray]) -> bytes:
        pad = b"\0" * (percpu_stride(self.spec.value_size) - self.spec.value_size)
        return b"".join(bytes(b) + pad for b in bufs)

    def _split(self, value: bytes) -> list[bytes]:
        stride, size = percpu_stride(self.spec.value_size), self.spec.value_size
        return [value[i * stride:i * stride + size] for i in range(self.ncpus)]

    # -- program side (helpers) ------------------------------------------------------------------------------
    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        """bpf_map_lookup_elem: the live value buffer the program points into, or None (NULL)."""
        raise MapError(f"{self.spec.type.name} map does not support lookup from a program", errno.EOPNOTSUPP)

    def iter_value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        """The live value for bpf_for_each_map_elem (which, unlike a lookup, marks nothing as used)."""
        return self.value_ref(key, cpu)

    # The program side calls the class's operations, never the instance's: freeze() shadows those on the instance
    # (user space's view), and a frozen map stays writable from programs (BPF_MAP_FREEZE is about the syscall).
    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        """bpf_map_update_elem: 0 or a negative errno. `value` is one CPU's value (value_size bytes)."""
        return as_errno(lambda: type(self).update_raw(self, key, value, flags))

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        return as_errno(lambda: type(self).delete_raw(self, key))

    def prog_push(self, value: bytes, flags: int, cpu: int = 0) -> int:
        return as_errno(lambda: type(self).push_raw(self, value, flags))

    def prog_pop(self, peek: bool, cpu: int = 0) -> bytes | int:
        """bpf_map_pop_elem / peek_elem: the value bytes, or a negative errno."""
        try:
            raw = type(self).pop_raw(self, peek)
        except MapError as e:
            return -e.errno
        return -errno.ENOENT if raw is None else raw

    # -- user space -----------------------------------------------------------------------------------------------
    frozen = False

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: from now on user space may not write the map -- update, delete, push and pop are EPERM
        (lookup and peek still work); programs still may, unless the map is BPF_F_RDONLY_PROG (the verifier then
        refuses their writes). Freezing twice is EPERM, as the kernel answers: map_freeze first wants FMODE_CAN_WRITE,
        which map_get_sys_perms no longer grants on a frozen map (its EBUSY for "already frozen" is never reached)."""
        if self.frozen:
            raise err(f"{self.name}: map is already frozen", errno.EPERM)
        self.frozen = True

        def read_only(op: str) -> Callable[..., Any]:
            def refuse(*args: Any, **kw: Any) -> Any:
                raise err(f"{self.name}: map is frozen: {op} from user space", errno.EPERM)
            return refuse

        cls = type(self)
        self.update_raw = read_only("update")  # type: ignore[method-assign]
        self.delete_raw = read_only("delete")  # type: ignore[method-assign]
        self.push_raw = read_only("push")  # type: ignore[method-assign]
        refuse_pop = read_only("pop")

        def pop_raw(peek: bool = False) -> bytes | None:  # peek is a lookup: still allowed
            return cls.pop_raw(self, True) if peek else refuse_pop()
        self.pop_raw = pop_raw  # type: ignore[method-assign]

    # -- the kernel map's extra syscalls (BPF_MAP_LOOKUP_AND_DELETE_ELEM and the batch commands) --------------------
    def _supported(self, types: frozenset, what: str) -> None:
        if self.spec.type not in types:
            raise err(f"{self.name}: {what} on a {self.spec.type.name} map", ENOTSUPP)

    def lookup_and_delete(self, key: Any) -> Any:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM on a hash-type map: the value, and the key is gone; KeyError when absent."""
        self._supported(LOOKUP_AND_DELETE_TYPES, "lookup_and_delete")
        raw_key = self.encode_key(key)
        raw = self.lookup_raw(raw_key)
        if raw is None:
            raise KeyError(key)
        self.delete_raw(raw_key)
        return self.decode_value(raw)

    def lookup_batch(self, batch_size: int = 256, delete: bool = False) -> list[tuple[Any, Any]]:
        """Every (key, value) in get_next_key order, as BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH) gives."""
        self._supported(LOOKUP_AND_DELETE_TYPES if delete else BATCH_TYPES,
                        "lookup_and_delete_batch" if delete else "lookup_batch")
        if batch_size <= 0:
            raise err(f"{self.name}: batch size {batch_size}", errno.EINVAL)
        out = []
        for raw_key in list(self.keys_raw()):
            raw = self.lookup_raw(raw_key)
            if raw is None:
                continue
            out.append((self.decode_key(raw_key), self.decode_value(raw)))
            if delete:
                self.delete_raw(raw_key)
        return out

    def items_batch(self, batch_size: int = 256) -> dict[Any, Any]:
        return dict(self.lookup_batch(batch_size))

    def lookup_and_delete_batch(self, batch_size: int = 256) -> list[tuple[Any, Any]]:
        return self.lookup_batch(batch_size, delete=True)

    def update_batch(self, items: Any, flags: int = UpdateFlags.ANY) -> int:
        """BPF_MAP_UPDATE_BATCH: elem_flags may only be BPF_F_LOCK (else EINVAL); stops at the first error."""
        self._supported(BATCH_TYPES, "update_batch")
        if flags & ~UpdateFlags.F_LOCK:
            raise err(f"{self.name}: batch elem_flags {flags:#x}", errno.EINVAL)
        pairs = list(items.items() if isinstance(items, dict) else items)
        for key, value in pairs:
            self.put(key, value, flags)
        return len(pairs)

    def delete_batch(self, keys: Any) -> int:
        """BPF_MAP_DELETE_BATCH: a missing key is MapError(ENOENT) (not KeyError: a batch is no dict call)."""
        self._supported(DELETE_BATCH_TYPES, "delete_batch")
        keys = list(keys)
        for key in keys:
            self.delete_raw(self.encode_key(key))
        return len(keys)

    def close(self, *args: Any) -> None:
        """Nothing to release (a kernel map closes its fd): here so the same code runs against both."""

    def __enter__(self) -> "VmMap":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def clear(self) -> None:
        """Delete every element, as the kernel map's clear() does: an element that cannot be deleted (array
        slots: EINVAL; a frozen map: EPERM) raises its MapError instead of being skipped."""
        for key in list(self.keys_raw()):
            try:
                self.delete_raw(key)
            except MapError as e:
                if e.errno != errno.ENOENT:
                    raise


__all__ = ["LOOKUP_AND_DELETE_TYPES", "BATCH_TYPES", "DELETE_BATCH_TYPES", "VmMap", "err", "as_errno",
           "check_update_flags", "syscall_lock_check", "UPDATE_MODE_MASK"]
