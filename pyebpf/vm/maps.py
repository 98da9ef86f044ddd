"""User-space maps for the VM, with the kernel's semantics and errnos.

Every map is a `MapFace` (the dict-like typed face shared with the loader's kernel-backed maps), so a test written
against a VM map runs unchanged against a kernel map. Two sides, as in the kernel:

* the *syscall side* (`lookup_raw`, `update_raw`, `delete_raw`, `keys_raw`, `push_raw`, `pop_raw`) raises
  `MapError` with the errno `bpf(BPF_MAP_*_ELEM)` would set, and sees per-CPU values for all CPUs at once;
* the *program side* (`value_ref`, `prog_update`, `prog_delete`, `prog_push`, `prog_pop`) is what the helpers call:
  it returns the live value buffer a program points into, or 0 / a negative errno as the kernel's helpers return,
  and sees only the current CPU's slot of a per-CPU value.

Iteration order: arrays iterate in index order, as the kernel's get_next_key does. Hash-like maps created with
BPF_F_ZERO_SEED iterate exactly as the kernel's (hash buckets in order, newest element first in a bucket); without
it the kernel's order depends on a random hash seed, so the VM uses the order in which elements were last linked.
Stack-trace maps iterate in ascending id order; LPM tries by (prefix bytes, prefix length) (the kernel walks its
trie, a different order).

Creation (`create_map`) refuses what BPF_MAP_CREATE refuses, with its errno: bad sizes and flags, and specs whose
up-front allocation the kernel cannot make on this machine (`check_map_memory`: an area larger than RAM is ENOMEM,
a bucket count overflowing u32 is E2BIG). Arrays then create each value's buffer on first use, so an array the
kernel would allocate (gigabytes) costs the VM only the values a test touches.
"""
from __future__ import annotations

import errno
import mmap
import os
from collections import defaultdict
from typing import Any, Callable, Iterator

from pyebpf.abi.maps import MapFace, MapSpec, MapType, UpdateFlags, percpu_stride
from pyebpf.abi.uapi import BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, HelperFlags, MapCreateFlags
from pyebpf.errors import MapError
from pyebpf.vm.lru import CommonLru, LruNode, PercpuLru
from pyebpf.abi.uapi import ENOTSUPP

PCPU_MIN_UNIT_SIZE = 32768
"""Largest per-CPU value the kernel allocates (percpu allocator unit); bigger per-CPU values are E2BIG."""
KMALLOC_MAX_SIZE = 1 << 22
"""Upper bound for one hash element (key + value) on x86-64 (kmalloc's largest size with 4 KiB pages)."""
LPM_DATA_SIZE_MAX = 256
LPM_VAL_SIZE_MAX = KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - 64
"""Generous upper bound; the kernel's exact bound involves sizeof(struct lpm_trie_node)."""

_UPDATE_MODE_MASK = ~int(UpdateFlags.F_LOCK)


def _err(message: str, code: int) -> MapError:
    return MapError(message, code)


def _check_update_flags(flags: int) -> None:
    """All update paths: anything beyond BPF_EXIST (ignoring BPF_F_LOCK) is EINVAL; BPF_F_LOCK needs a spin lock,
    which VM maps never have (no BTF), so it is EINVAL too."""
    if flags & _UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0:
        raise _err(f"unknown update flags {flags:#x}", errno.EINVAL)
    if flags & UpdateFlags.F_LOCK:
        raise _err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)


def _syscall_lock_check(flags: int) -> None:
    """BPF_MAP_UPDATE_ELEM refuses BPF_F_LOCK on a value without bpf_spin_lock before the map sees the update."""
    if flags & UpdateFlags.F_LOCK:
        raise _err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)


def _as_errno(fn: Callable[[], Any]) -> int:
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
            raise _err(f"{self.name}: key of {len(key)} bytes, map has key_size {self.spec.key_size}", errno.EINVAL)
        return bytes(key)

    def _syscall_value_size(self) -> int:
        if self.spec.is_percpu:
            return percpu_stride(self.spec.value_size) * self.ncpus
        return self.spec.value_size

    def _check_value(self, value: bytes) -> bytes:
        want = self._syscall_value_size()
        if len(value) != want:
            raise _err(f"{self.name}: value of {len(value)} bytes, expected {want}", errno.EINVAL)
        return bytes(value)

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
        return _as_errno(lambda: type(self).update_raw(self, key, value, flags))

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        return _as_errno(lambda: type(self).delete_raw(self, key))

    def prog_push(self, value: bytes, flags: int, cpu: int = 0) -> int:
        return _as_errno(lambda: type(self).push_raw(self, value, flags))

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
        refuses their writes). Freezing twice is EBUSY, as in kernel/bpf/syscall.c map_freeze."""
        if self.frozen:
            raise _err(f"{self.name}: map is already frozen", errno.EBUSY)
        self.frozen = True

        def read_only(op: str) -> Callable[..., Any]:
            def refuse(*args: Any, **kw: Any) -> Any:
                raise _err(f"{self.name}: map is frozen: {op} from user space", errno.EPERM)
            return refuse

        cls = type(self)
        self.update_raw = read_only("update")  # type: ignore[method-assign]
        self.delete_raw = read_only("delete")  # type: ignore[method-assign]
        self.push_raw = read_only("push")  # type: ignore[method-assign]
        refuse_pop = read_only("pop")

        def pop_raw(peek: bool = False) -> bytes | None:  # peek is a lookup: still allowed
            return cls.pop_raw(self, True) if peek else refuse_pop()
        self.pop_raw = pop_raw  # type: ignore[method-assign]

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


# ---- hash maps ----------------------------------------------------------------------------------------------

class HashMap(VmMap):
    """BPF_MAP_TYPE_HASH. Replacing a value gives it a fresh buffer, as the kernel links in a new element: a program
    still holding the old value pointer keeps reading the old value.

    Iteration: with BPF_F_ZERO_SEED the kernel's own order (bucket jhash(key) & (roundup_pow_of_two(max_entries)-1)
    ascending, newest link first within a bucket); otherwise the order in which elements were last linked
    (insert, or replace for non-per-CPU maps), because the kernel's order then depends on a random hash seed."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._data: dict[bytes, bytearray] = {}
        self._free: list[Any] = []
        self._zero_seed = bool(spec.flags & MapCreateFlags.ZERO_SEED)
        self._n_buckets = 1 << max(0, (spec.max_entries - 1).bit_length())

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
        return None if buf is None else bytes(buf)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        return self._data.get(bytes(key))

    def _check_exist(self, key: bytes, flags: int) -> bool:
        present = key in self._data
        mode = flags & _UPDATE_MODE_MASK
        if present and mode == UpdateFlags.NOEXIST:
            raise _err(f"{self.name}: key exists (BPF_NOEXIST)", errno.EEXIST)
        if not present and mode == UpdateFlags.EXIST:
            raise _err(f"{self.name}: no such key (BPF_EXIST)", errno.ENOENT)
        return present

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        _check_update_flags(flags)
        present = self._check_exist(key, flags)
        if not present and len(self._data) >= self.spec.max_entries:
            raise _err(f"{self.name}: map is full ({self.spec.max_entries} entries)", errno.E2BIG)
        self._link(key, value)

    def delete_raw(self, key: bytes) -> None:
        key = self._check_key(key)
        buf = self._data.pop(key, None)
        if buf is None:
            raise _err(f"{self.name}: no such key", errno.ENOENT)
        self._release(buf)

    def __len__(self) -> int:
        return len(self._data)


class PercpuHashMap(HashMap):
    """BPF_MAP_TYPE_PERCPU_HASH: one value buffer per CPU; updates change values in place, as the kernel does."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._data: dict[bytes, list[bytearray]] = {}  # type: ignore[assignment]

    def _join(self, bufs: list[bytearray]) -> bytes:
        pad = b"\0" * (percpu_stride(self.spec.value_size) - self.spec.value_size)
        return b"".join(bytes(b) + pad for b in bufs)

    def _split(self, value: bytes) -> list[bytes]:
        stride, size = percpu_stride(self.spec.value_size), self.spec.value_size
        return [value[i * stride:i * stride + size] for i in range(self.ncpus)]

    def lookup_raw(self, key: bytes) -> bytes | None:
        bufs = self._data.get(self._check_key(key))
        return None if bufs is None else self._join(bufs)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        bufs = self._data.get(bytes(key))
        return None if bufs is None else bufs[cpu]

    def _store(self, key: bytes, values: list[bytes], flags: int) -> None:
        _check_update_flags(flags)
        present = self._check_exist(key, flags)
        if present:
            for buf, v in zip(self._data[key], values):
                if v is not None:
                    buf[:] = v
            return
        if len(self._data) >= self.spec.max_entries:
            raise _err(f"{self.name}: map is full ({self.spec.max_entries} entries)", errno.E2BIG)
        zero = bytes(self.spec.value_size)
        self._link(key, [zero if v is None else v for v in values])

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        self._store(key, self._split(value), flags)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        # A program writes only its own CPU's value; a new element's other CPUs start zeroed (pcpu_init_value).
        values: list[Any] = [None] * self.ncpus
        values[cpu] = bytes(value)
        return _as_errno(lambda: self._store(self._check_key(key), values, flags))


class LruHashMap(HashMap):
    """BPF_MAP_TYPE_LRU_HASH: never E2BIG; a new key takes a node from the kernel-like LRU lists (`vm.lru`), which
    may evict other keys, even several at once (the kernel frees `target_free` nodes per refill) and even when the
    update replaces an existing key (the kernel links a fresh node for every update). Program lookups set the
    node's ref bit; syscall lookups don't. With BPF_F_NO_COMMON_LRU each CPU has its own list of
    roundup(max_entries, ncpus) / ncpus nodes (`vm.lru.PercpuLru`), so one CPU alone can hold only its share."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._nodes: dict[bytes, LruNode] = {}
        self.cpu = 0  # the CPU the syscall side runs on (the kernel: whichever CPU the caller is on)
        self._percpu_lru = bool(spec.flags & MapCreateFlags.NO_COMMON_LRU)
        self._lru: CommonLru | PercpuLru = (PercpuLru if self._percpu_lru else CommonLru)(
            spec.max_entries, ncpus, self._delete_node)

    def _delete_node(self, node: LruNode) -> bool:
        if self._nodes.get(node.key) is node:
            del self._nodes[node.key]
            self._drop_value(node.key)
            return True
        return False

    def _drop_value(self, key: bytes) -> None:
        self._release(self._data.pop(key, None))

    def value_ref(self, key: bytes, cpu: int = 0) -> Any:
        key = bytes(key)
        node = self._nodes.get(key)
        if node is not None:
            node.ref = True
        return super().value_ref(key, cpu)

    def iter_value_ref(self, key: bytes, cpu: int = 0) -> Any:
        node = self._nodes.get(bytes(key))
        ref = node.ref if node is not None else False
        buf = self.value_ref(key, cpu)
        if node is not None:
            node.ref = ref
        return buf

    def _pop_node(self, key: bytes, cpu: int) -> LruNode | None:
        return self._lru.pop_free(key, cpu)

    def _push_node(self, node: LruNode) -> None:
        self._lru.push_free(node)

    def _lru_update(self, key: bytes, flags: int, cpu: int, install: Callable[[bool], None]) -> None:
        if flags & _UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0:
            raise _err(f"unknown update flags {flags:#x}", errno.EINVAL)
        if flags & UpdateFlags.F_LOCK:
            raise _err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)
        new = self._pop_node(key, cpu)
        if new is None:
            raise _err(f"{self.name}: no free LRU node", errno.ENOMEM)
        old = self._nodes.get(key)
        mode = flags & _UPDATE_MODE_MASK
        if (old is not None and mode == UpdateFlags.NOEXIST) or (old is None and mode == UpdateFlags.EXIST):
            self._push_node(new)
            raise _err(f"{self.name}: key {'exists' if old else 'missing'}",
                       errno.EEXIST if old is not None else errno.ENOENT)
        install(old is not None)
        self._nodes[key] = new
        if old is not None:
            new.ref = True
            self._push_node(old)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)

        def install(_replacing: bool) -> None:
            self._link(key, value)
        self._lru_update(key, flags, self.cpu, install)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        key = bytes(key)

        def install(_replacing: bool) -> None:
            self._link(key, value)
        return _as_errno(lambda: self._lru_update(self._check_key(key), flags, cpu, install))

    def delete_raw(self, key: bytes) -> None:
        key = self._check_key(key)
        node = self._nodes.pop(key, None)
        if node is None:
            raise _err(f"{self.name}: no such key", errno.ENOENT)
        self._drop_value(key)
        self._push_node(node)


class LruPercpuHashMap(LruHashMap):
    """BPF_MAP_TYPE_LRU_PERCPU_HASH: LRU eviction as LruHashMap, values per CPU. Replacing an existing key updates
    the values in place (no new node, as the kernel's __htab_lru_percpu_map_update_elem does)."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._data: dict[bytes, list[bytearray]] = {}  # type: ignore[assignment]

    _join = PercpuHashMap._join
    _split = PercpuHashMap._split

    def lookup_raw(self, key: bytes) -> bytes | None:
        bufs = self._data.get(self._check_key(key))
        return None if bufs is None else self._join(bufs)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        key = bytes(key)
        node = self._nodes.get(key)
        if node is None:
            return None
        node.ref = True
        return self._data[key][cpu]

    def _percpu_update(self, key: bytes, values: list[Any], flags: int, cpu: int) -> None:
        # __htab_lru_percpu_map_update_elem: take a node first (unless BPF_EXIST), then check; an existing key is
        # updated in place with its ref bit set and the spare node goes back.
        _check_update_flags(flags)
        new = None
        if flags != UpdateFlags.EXIST:
            new = self._pop_node(key, cpu)
            if new is None:
                raise _err(f"{self.name}: no free LRU node", errno.ENOMEM)
        old = self._nodes.get(key)
        mode = flags & _UPDATE_MODE_MASK
        if (old is not None and mode == UpdateFlags.NOEXIST) or (old is None and mode == UpdateFlags.EXIST):
            if new is not None:
                self._push_node(new)
            raise _err(f"{self.name}: key {'exists' if old else 'missing'}",
                       errno.EEXIST if old is not None else errno.ENOENT)
        if old is not None:
            old.ref = True
            for buf, v in zip(self._data[key], values):
                if v is not None:
                    buf[:] = v
            if new is not None:
                self._push_node(new)
            return
        zero = bytes(self.spec.value_size)
        self._link(key, [zero if v is None else v for v in values])
        assert new is not None
        self._nodes[key] = new

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        self._percpu_update(key, self._split(value), flags, self.cpu)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        values: list[Any] = [None] * self.ncpus
        values[cpu] = bytes(value)
        return _as_errno(lambda: self._percpu_update(self._check_key(bytes(key)), values, flags, cpu))


# ---- arrays -------------------------------------------------------------------------------------------------

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
        if flags & _UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0:
            raise _err(f"unknown update flags {flags:#x}", errno.EINVAL)
        if i >= self.spec.max_entries:
            raise _err(f"{self.name}: index {i} >= max_entries {self.spec.max_entries}", errno.E2BIG)
        if flags & UpdateFlags.NOEXIST:
            raise _err(f"{self.name}: array elements always exist (BPF_NOEXIST)", errno.EEXIST)
        if flags & UpdateFlags.F_LOCK:
            raise _err("BPF_F_LOCK on a map value without bpf_spin_lock", errno.EINVAL)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        i, value = self._index(key), self._check_value(value)
        _syscall_lock_check(flags)
        self._check_array_update(i, flags)
        self._buffer(i)[:] = value

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        # array_map_update_elem: the index is checked before BPF_F_LOCK (the syscall checks BPF_F_LOCK first)
        def run() -> None:
            i = self._index(key)
            self._check_array_update(i, flags)
            self._buffer(i)[:] = value
        return _as_errno(run)

    def delete_raw(self, key: bytes) -> None:
        self._check_key(key)
        raise _err(f"{self.name}: array elements cannot be deleted", errno.EINVAL)

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
        return PercpuHashMap._join(self, bufs if bufs is not None else self._new_value())  # type: ignore[arg-type]

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        i = int.from_bytes(key, "little")
        return self._buffer(i)[cpu] if i < self.spec.max_entries else None

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        i, value = self._index(key), self._check_value(value)
        _syscall_lock_check(flags)
        self._check_array_update(i, flags)
        for buf, v in zip(self._buffer(i), PercpuHashMap._split(self, value)):  # type: ignore[arg-type]
            buf[:] = v

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        def run() -> None:
            i = self._index(key)
            self._check_array_update(i, flags)
            self._buffer(i)[cpu][:] = value
        return _as_errno(run)


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
        _syscall_lock_check(flags)
        self._check_array_update(i, flags)
        self.slots[i] = self._slot_value(i, value)

    def delete_raw(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.spec.max_entries:
            raise _err(f"{self.name}: index {i} >= max_entries", errno.E2BIG)
        if self.slots.pop(i, None) is None:
            raise _err(f"{self.name}: slot {i} is empty", errno.ENOENT)

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
        raise _err("perf event array lookup", errno.EOPNOTSUPP)

    def _slot_value(self, index: int, value: bytes) -> int:
        return index % self.ncpus  # the perf event a tool opens for slot i watches CPU i

    @property
    def events(self) -> dict[int, int]:
        """slot -> CPU of the perf event open in it."""
        return self.slots


# ---- queue and stack ------------------------------------------------------------------------------------------

class QueueMap(VmMap):
    """BPF_MAP_TYPE_QUEUE (FIFO) and, with `lifo`, BPF_MAP_TYPE_STACK. Push with BPF_EXIST on a full map drops the
    oldest element (both types, as kernel/bpf/queue_stack_maps.c does); without it a full map is E2BIG."""

    lifo = False

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._items: list[bytes] = []

    def push_raw(self, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        value = self._check_value(value)
        if flags & (UpdateFlags.F_LOCK | UpdateFlags.NOEXIST) or flags > UpdateFlags.EXIST or flags < 0:
            raise _err(f"unknown push flags {flags:#x}", errno.EINVAL)
        if len(self._items) >= self.spec.max_entries:
            if not flags & UpdateFlags.EXIST:
                raise _err(f"{self.name}: full ({self.spec.max_entries} elements)", errno.E2BIG)
            del self._items[0]
        self._items.append(value)

    def pop_raw(self, peek: bool = False) -> bytes | None:
        if not self._items:
            return None
        i = -1 if self.lifo else 0
        return self._items[i] if peek else self._items.pop(i)

    def items_raw(self) -> list[bytes]:
        """The elements in pop order (not a kernel operation: for tests and result dumps)."""
        return list(reversed(self._items)) if self.lifo else list(self._items)

    def lookup_raw(self, key: bytes) -> bytes | None:
        raise _err("queue/stack maps have no keys; use peek", errno.EINVAL)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise _err("queue/stack maps have no keys; use push", errno.EINVAL)

    def delete_raw(self, key: bytes) -> None:
        raise _err("queue/stack maps have no keys; use pop", errno.EINVAL)

    def keys_raw(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        """0, as iteration says: the kernel has no way to count a queue's elements (get_next_key is EINVAL), so
        len() of the kernel map is 0 too; items_raw() lists the elements."""
        return 0

    def clear(self) -> None:
        if self.frozen:
            raise _err(f"{self.name}: map is frozen: pop from user space", errno.EPERM)
        self._items.clear()


class StackMap(QueueMap):
    lifo = True


# ---- stack traces -----------------------------------------------------------------------------------------------

def _rol32(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def _jhash_mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    M = 0xFFFFFFFF
    a = (a - c) & M; a ^= _rol32(c, 4); c = (c + b) & M
    b = (b - a) & M; b ^= _rol32(a, 6); a = (a + c) & M
    c = (c - b) & M; c ^= _rol32(b, 8); b = (b + a) & M
    a = (a - c) & M; a ^= _rol32(c, 16); c = (c + b) & M
    b = (b - a) & M; b ^= _rol32(a, 19); a = (a + c) & M
    c = (c - b) & M; c ^= _rol32(b, 4); b = (b + a) & M
    return a, b, c


def _jhash_final(a: int, b: int, c: int) -> int:
    M = 0xFFFFFFFF
    c ^= b; c = (c - _rol32(b, 14)) & M
    a ^= c; a = (a - _rol32(c, 11)) & M
    b ^= a; b = (b - _rol32(a, 25)) & M
    c ^= b; c = (c - _rol32(b, 16)) & M
    a ^= c; a = (a - _rol32(c, 4)) & M
    b ^= a; b = (b - _rol32(a, 14)) & M
    c ^= b; c = (c - _rol32(b, 24)) & M
    return c


def jhash2(words: list[int], initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hash over u32 words (the kernel's jhash2), used to pick a stack id bucket."""
    a = b = c = (0xDEADBEEF + (len(words) << 2) + initval) & 0xFFFFFFFF
    i, n = 0, len(words)
    while n > 3:
        a = (a + words[i]) & 0xFFFFFFFF
        b = (b + words[i + 1]) & 0xFFFFFFFF
        c = (c + words[i + 2]) & 0xFFFFFFFF
        a, b, c = _jhash_mix(a, b, c)
        i += 3
        n -= 3
    if n == 0:
        return c
    if n >= 3:
        c = (c + words[i + 2]) & 0xFFFFFFFF
    if n >= 2:
        b = (b + words[i + 1]) & 0xFFFFFFFF
    a = (a + words[i]) & 0xFFFFFFFF
    return _jhash_final(a, b, c)


def jhash(data: bytes, initval: int = 0) -> int:
    """The kernel's jhash over bytes (lookup3 with little-endian word loads), for keys not a multiple of 4."""
    M = 0xFFFFFFFF
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & M
    k = 0
    while n > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M
        a, b, c = _jhash_mix(a, b, c)
        n -= 12
        k += 12
    if n == 0:
        return c
    tail = data[k:k + n] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & M
    b = (b + int.from_bytes(tail[4:8], "little")) & M
    c = (c + int.from_bytes(tail[8:12], "little")) & M
    return _jhash_final(a, b, c)


def htab_hash(key: bytes, seed: int = 0) -> int:
    """htab_map_hash: jhash2 over u32 words when the key length is a multiple of 4, else jhash over bytes."""
    if len(key) % 4 == 0:
        return jhash2([int.from_bytes(key[i:i + 4], "little") for i in range(0, len(key), 4)], seed)
    return jhash(key, seed)


class StackTraceMap(VmMap):
    """BPF_MAP_TYPE_STACK_TRACE: bpf_get_stackid stores a stack (list of instruction pointers) under
    id = jhash2(ips) & (roundup_pow_of_two(max_entries) - 1), as kernel/bpf/stackmap.c does."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.n_buckets = 1 << max(0, (spec.max_entries - 1).bit_length())
        self._stacks: dict[int, tuple[int, ...]] = {}

    @property
    def max_depth(self) -> int:
        return self.spec.value_size // 8

    def get_stackid(self, ips: list[int] | tuple[int, ...], flags: int) -> int:
        """bpf_get_stackid on a stack given innermost first: the id, or -EINVAL/-EFAULT/-EEXIST."""
        known = HelperFlags.SKIP_FIELD_MASK | HelperFlags.USER_STACK | HelperFlags.FAST_STACK_CMP | \
            HelperFlags.REUSE_STACKID
        if flags & ~int(known):
            return -errno.EINVAL
        skip = flags & HelperFlags.SKIP_FIELD_MASK
        trace = tuple(ip & 0xFFFFFFFFFFFFFFFF for ip in ips[skip:skip + self.max_depth])
        if not trace:
            return -errno.EFAULT
        words: list[int] = []
        for ip in trace:
            words += [ip & 0xFFFFFFFF, ip >> 32]
        sid = jhash2(words) & (self.n_buckets - 1)
        old = self._stacks.get(sid)
        if old == trace:
            return sid
        if old is not None and not flags & HelperFlags.REUSE_STACKID:
            return -errno.EEXIST
        self._stacks[sid] = trace
        return sid

    def lookup_raw(self, key: bytes) -> bytes | None:
        sid = int.from_bytes(self._check_key(key), "little")
        trace = self._stacks.get(sid)
        if trace is None:
            return None
        raw = b"".join(ip.to_bytes(8, "little") for ip in trace)
        return raw.ljust(self.spec.value_size, b"\0")

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        raise MapError("stack trace map elements cannot be looked up from a program", errno.EOPNOTSUPP)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise _err("stack trace maps are filled by bpf_get_stackid only", errno.EINVAL)

    def delete_raw(self, key: bytes) -> None:
        sid = int.from_bytes(self._check_key(key), "little")
        if self._stacks.pop(sid, None) is None:
            raise _err(f"{self.name}: no stack with id {sid}", errno.ENOENT)

    def keys_raw(self) -> Iterator[bytes]:
        return (sid.to_bytes(4, "little") for sid in sorted(self._stacks))


# ---- LPM trie ---------------------------------------------------------------------------------------------------

class LpmTrieMap(VmMap):
    """BPF_MAP_TYPE_LPM_TRIE: keys are (u32 prefixlen, data); lookup finds the longest stored prefix of the key.
    Stored as a dict of (prefixlen, masked data) -> (original key, value): lookups try each stored prefix length
    from the longest down, which is O(#distinct lengths) instead of the kernel's trie walk but gives its answers."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.data_size = spec.key_size - 4
        self.max_prefixlen = self.data_size * 8
        self._entries: dict[tuple[int, bytes], tuple[bytes, bytearray]] = {}

    def _split_key(self, key: bytes) -> tuple[int, bytes]:
        key = self._check_key(key)
        return int.from_bytes(key[:4], "little"), key[4:]

    @staticmethod
    def _mask(data: bytes, prefixlen: int) -> bytes:
        full, rest = divmod(prefixlen, 8)
        out = bytearray(len(data))
        out[:full] = data[:full]
        if rest:
            out[full] = data[full] & (0xFF << (8 - rest)) & 0xFF
        return bytes(out)

    def _find(self, key: bytes) -> bytearray | None:
        prefixlen, data = self._split_key(key)
        if prefixlen > self.max_prefixlen:
            return None
        for plen in sorted({p for p, _ in self._entries if p <= prefixlen}, reverse=True):
            hit = self._entries.get((plen, self._mask(data, plen)))
            if hit is not None:
                return hit[1]
        return None

    def lookup_raw(self, key: bytes) -> bytes | None:
        buf = self._find(key)
        return None if buf is None else bytes(buf)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        return self._find(bytes(key))

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        prefixlen, data = self._split_key(key)
        value = self._check_value(value)
        if flags & _UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0 or flags & UpdateFlags.F_LOCK:
            raise _err(f"unknown update flags {flags:#x}", errno.EINVAL)
        if prefixlen > self.max_prefixlen:
            raise _err(f"prefix length {prefixlen} > {self.max_prefixlen}", errno.EINVAL)
        ident = (prefixlen, self._mask(data, prefixlen))
        present = ident in self._entries
        if present and flags == UpdateFlags.NOEXIST:
            raise _err(f"{self.name}: prefix exists (BPF_NOEXIST)", errno.EEXIST)
        if not present and flags == UpdateFlags.EXIST:
            raise _err(f"{self.name}: no such prefix (BPF_EXIST)", errno.ENOENT)
        if not present and len(self._entries) >= self.spec.max_entries:
            raise _err(f"{self.name}: trie is full ({self.spec.max_entries} entries)", errno.ENOSPC)
        self._entries[ident] = (bytes(key), bytearray(value))

    def delete_raw(self, key: bytes) -> None:
        prefixlen, data = self._split_key(key)
        if prefixlen > self.max_prefixlen:
            raise _err(f"prefix length {prefixlen} > {self.max_prefixlen}", errno.EINVAL)
        if self._entries.pop((prefixlen, self._mask(data, prefixlen)), None) is None:
            raise _err(f"{self.name}: no such prefix", errno.ENOENT)

    def keys_raw(self) -> Iterator[bytes]:
        return iter([k for _, (k, _) in sorted(self._entries.items(), key=lambda kv: (kv[0][1], kv[0][0]))])

    def __len__(self) -> int:
        return len(self._entries)


# ---- creation ----------------------------------------------------------------------------------------------------

def _need(cond: bool, message: str, code: int = errno.EINVAL) -> None:
    if not cond:
        raise _err(message, code)


_F = MapCreateFlags
_ACCESS = _F.RDONLY | _F.WRONLY | _F.RDONLY_PROG | _F.WRONLY_PROG
HTAB_CREATE_FLAGS = _F.NO_PREALLOC | _F.NO_COMMON_LRU | _F.NUMA_NODE | _ACCESS | _F.ZERO_SEED
ARRAY_CREATE_FLAGS = _F.NUMA_NODE | _F.MMAPABLE | _ACCESS | _F.INNER_MAP | _F.PRESERVE_ELEMS
QUEUE_STACK_CREATE_FLAGS = _F.NUMA_NODE | _ACCESS
STACK_CREATE_FLAGS = _F.NUMA_NODE | _ACCESS | _F.STACK_BUILD_ID
LPM_CREATE_FLAGS = _F.NO_PREALLOC | _F.NUMA_NODE | _ACCESS
RINGBUF_CREATE_FLAGS = _F.NUMA_NODE

# ---- how much memory the kernel would allocate at creation -------------------------------------------------------
# bpf_map_area_alloc() ends in __vmalloc_node_range(), which refuses an area of more pages than the machine has
# (totalram_pages(): "vmalloc error: size ..., exceeds total pages") before allocating anything: BPF_MAP_CREATE
# then fails with ENOMEM. Table-driven per map type below; sizes are the x86-64 kernel's (6.x).

PAGE_SIZE = mmap.PAGESIZE
INT_MAX = (1 << 31) - 1
U32_MAX = (1 << 32) - 1
POINTER_SIZE = 8
HTAB_BUCKET_SIZE = 16
"""sizeof(struct bucket): hlist_nulls_head + a 4-byte lock, padded to 8."""
HTAB_ELEM_SIZE = 48
"""sizeof(struct htab_elem) before the key: hash node, freelist/LRU node union, u32 hash, key aligned to 8."""
STACK_MAP_BUCKET_SIZE = 24
"""sizeof(struct stack_map_bucket) before the ips: freelist node, u32 hash, u32 nr."""
HTAB_MAX_ENTRIES = 1 << 31
"""htab_map_alloc / stack_map_alloc: more entries would overflow roundup_pow_of_two: E2BIG."""


def total_ram() -> int:
    """The machine's RAM in bytes (totalram_pages() * PAGE_SIZE): the largest map area the kernel tries to get."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # no sysconf for it: nothing is too big
        return 1 << 64


def _round_up(n: int, to: int) -> int:
    return -(-n // to) * to


def _roundup_pow_of_two(n: int) -> int:
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
    n_buckets = _roundup_pow_of_two(spec.max_entries)
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
    return [_roundup_pow_of_two(spec.max_entries) * POINTER_SIZE,
            spec.max_entries * (STACK_MAP_BUCKET_SIZE + spec.value_size)]


MAP_AREAS: dict[MapType, Callable[[MapSpec, int], list[int]]] = {
    MapType.HASH: _hash_areas, MapType.PERCPU_HASH: _hash_areas, MapType.LRU_HASH: _hash_areas,
    MapType.LRU_PERCPU_HASH: _hash_areas, MapType.ARRAY: _array_areas, MapType.PERCPU_ARRAY: _array_areas,
    MapType.PROG_ARRAY: _fd_array_areas, MapType.PERF_EVENT_ARRAY: _fd_array_areas, MapType.QUEUE: _queue_areas,
    MapType.STACK: _queue_areas, MapType.STACK_TRACE: _stack_trace_areas,
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


def _flags_within(spec: MapSpec, allowed: int) -> None:
    """Each map type's *_CREATE_FLAG_MASK: other map_flags are EINVAL."""
    _need(not spec.flags & ~int(allowed), f"map_flags {spec.flags:#x} not allowed for {spec.type.name} maps")


def _validate_hash(spec: MapSpec) -> None:
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


def _validate_array(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size > 0,
          "arrays need key_size 4, value_size > 0 and max_entries > 0")
    _need(spec.value_size <= INT_MAX, f"value_size {spec.value_size} > INT_MAX", errno.E2BIG)
    if spec.is_percpu:
        _need(spec.value_size <= PCPU_MIN_UNIT_SIZE, f"per-CPU value_size > {PCPU_MIN_UNIT_SIZE}", errno.E2BIG)
    _flags_within(spec, ARRAY_CREATE_FLAGS)


def _validate_fd_array(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size == 4,
          "fd arrays need key_size 4, value_size 4 and max_entries > 0")


def _validate_queue(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 0 and spec.value_size > 0,
          "queue/stack maps need key_size 0, value_size > 0 and max_entries > 0")
    _flags_within(spec, QUEUE_STACK_CREATE_FLAGS)


def _validate_stack_trace(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and spec.key_size == 4 and spec.value_size >= 8 and spec.value_size % 8 == 0,
          "stack trace maps need key_size 4, value_size a multiple of 8 and max_entries > 0")
    _flags_within(spec, STACK_CREATE_FLAGS)


def _validate_lpm(spec: MapSpec) -> None:
    _need(spec.max_entries > 0 and bool(spec.flags & MapCreateFlags.NO_PREALLOC),
          "LPM tries need max_entries > 0 and BPF_F_NO_PREALLOC")
    _need(5 <= spec.key_size <= 4 + LPM_DATA_SIZE_MAX and 1 <= spec.value_size <= LPM_VAL_SIZE_MAX,
          "LPM trie key_size must be 5..260 and value_size > 0")
    _flags_within(spec, LPM_CREATE_FLAGS)


def _validate_ringbuf(spec: MapSpec) -> None:
    from pyebpf.vm.ringbuf import validate_ringbuf_size

    _need(spec.key_size == 0 and spec.value_size == 0, "ring buffers need key_size 0 and value_size 0")
    _flags_within(spec, RINGBUF_CREATE_FLAGS)
    validate_ringbuf_size(spec.max_entries)


def _ringbuf(spec: MapSpec, ncpus: int) -> VmMap:
    from pyebpf.vm.ringbuf import RingBufMap

    return RingBufMap(spec, ncpus)


MAP_CLASSES: dict[MapType, tuple[Callable[[MapSpec], None], Callable[[MapSpec, int], VmMap]]] = {
    MapType.HASH: (_validate_hash, HashMap),
    MapType.PERCPU_HASH: (_validate_hash, PercpuHashMap),
    MapType.LRU_HASH: (_validate_hash, LruHashMap),
    MapType.LRU_PERCPU_HASH: (_validate_hash, LruPercpuHashMap),
    MapType.ARRAY: (_validate_array, ArrayMap),
    MapType.PERCPU_ARRAY: (_validate_array, PercpuArrayMap),
    MapType.PROG_ARRAY: (_validate_fd_array, ProgArrayMap),
    MapType.PERF_EVENT_ARRAY: (_validate_fd_array, PerfEventArrayMap),
    MapType.QUEUE: (_validate_queue, QueueMap),
    MapType.STACK: (_validate_queue, StackMap),
    MapType.STACK_TRACE: (_validate_stack_trace, StackTraceMap),
    MapType.LPM_TRIE: (_validate_lpm, LpmTrieMap),
    MapType.RINGBUF: (_validate_ringbuf, _ringbuf),
}
"""Map types the VM simulates: type -> (creation checks raising MapError like BPF_MAP_CREATE, class)."""


def create_map(spec: MapSpec, ncpus: int = 1) -> VmMap:
    """A VM map for `spec`, element 0 holding `spec.initial` when given; raises MapError with BPF_MAP_CREATE's errno for specs the kernel would refuse, and
    MapError(EINVAL) naming the type for map types the VM does not simulate."""
    entry = MAP_CLASSES.get(spec.type)
    if entry is None:
        raise _err(f"map {spec.name!r}: the VM does not simulate {spec.type.name} maps", errno.EINVAL)
    validate, cls = entry
    validate(spec)
    check_map_memory(spec, ncpus)
    vm_map = cls(spec, ncpus)
    vm_map.apply_initial()  # global data (MapSpec.initial), as pyebpf.loader.create_map writes it
    return vm_map


__all__ = ["VmMap", "HashMap", "PercpuHashMap", "LruHashMap", "LruPercpuHashMap", "ArrayMap", "PercpuArrayMap",
           "ProgArrayMap", "PerfEventArrayMap", "QueueMap", "StackMap", "StackTraceMap", "LpmTrieMap",
           "MAP_CLASSES", "MAP_AREAS", "check_map_memory", "total_ram", "create_map", "jhash2", "jhash", "htab_hash"]
