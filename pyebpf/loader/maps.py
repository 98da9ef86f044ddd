"""Kernel maps with the same dict-like face as the VM's maps (pyebpf.abi.maps.MapFace).

`create_map(spec)` makes a map from a MapSpec; `KernelMap.from_fd/from_id` wraps an existing one (its spec read back
with BPF_OBJ_GET_INFO_BY_FD). Keys and values are typed by the spec; per-CPU values are lists with one entry per
possible CPU (pyebpf.system.num_possible_cpus), queue/stack maps push/pop/peek. Errors are `KernelMapError` (a
MapError) with the kernel's errno, so `m[k]` raises KeyError on ENOENT exactly as with the VM.
"""
from __future__ import annotations

import errno
from typing import Any, Iterable, Iterator

from pyebpf.abi.maps import MapFace, MapSpec, MapType, UpdateFlags, percpu_stride
from pyebpf.abi.records import record_decoder
from pyebpf.errors import LoaderError, MapError
from pyebpf.loader import syscall as sc
from pyebpf.loader.attr import bpf_map_info
from pyebpf.loader.fdguard import FdHandle
from pyebpf.system.cpus import num_possible_cpus

_PUSH_POP_TYPES = frozenset({MapType.QUEUE, MapType.STACK})

#: map types whose values are fds on update and ids on lookup
FD_VALUE_TYPES = frozenset({MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
                            MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.SOCKMAP, MapType.SOCKHASH,
                            MapType.XSKMAP})


class KernelMap(MapFace):
    """A map living in the kernel, owned through its fd.

    Besides the MapFace operations: `lookup_and_delete(key)`, `items_batch()`, `lookup_batch()`,
    `update_batch(items)`, `delete_batch(keys)`, `freeze()`, `info()`, `pin(path)`, `close()`.
    """

    def __init__(self, spec: MapSpec, fd: int | FdHandle, ncpus: int | None = None):
        super().__init__(spec, ncpus or num_possible_cpus())
        self._handle = fd if isinstance(fd, FdHandle) else FdHandle(fd)
        self._value_bytes = (percpu_stride(spec.value_size) * self.ncpus if spec.is_percpu else spec.value_size)
        self._ops = sc.MapElemOps(self._handle.fd, spec.key_size, self._value_bytes)

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def from_fd(cls, fd: int | FdHandle, spec: MapSpec | None = None) -> "KernelMap":
        """Wrap an fd we own; the spec (sizes, type, name) is read from the kernel unless given."""
        handle = fd if isinstance(fd, FdHandle) else FdHandle(fd)
        try:
            if spec is None:
                info = _map_info(handle.fd)
                spec = MapSpec(info.name.decode(errors="replace"), MapType(info.type), info.key_size,
                               info.value_size, info.max_entries, info.map_flags)
            return map_class_for(spec.type)(spec, handle)
        except BaseException:
            handle.close()
            raise

    @classmethod
    def from_id(cls, map_id: int) -> "KernelMap":
        return cls.from_fd(sc.get_fd_by_id("map", map_id))

    # -- ownership --------------------------------------------------------------------------------------------
    @property
    def fd(self) -> int:
        return self._handle.fd

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "KernelMap":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def info(self):
        from pyebpf.loader.info import map_info

        return map_info(self.fd)

    @property
    def id(self) -> int:
        return _map_info(self.fd).id

    def pin(self, path: str) -> None:
        from pyebpf.loader.pin import pin_fd

        pin_fd(self.fd, path)

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: no more writes from user space."""
        sc.map_freeze(self.fd)

    # -- MapFace raw operations -------------------------------------------------------------------------------
    def _no_elements(self) -> None:
        """Queues and stacks have no keyed elements (push/pop/peek instead), as in the VM: the kernel would read a
        keyed lookup/update as peek/push."""
        if self.spec.type in _PUSH_POP_TYPES:
            raise sc.KernelMapError(f"{self.spec.type.name} map {self.spec.name!r} has no keys: use push/pop/peek",
                                    errno.EINVAL)

    def _sized(self, what: str, raw: bytes, size: int) -> bytes:
        """bpf() reads key_size / value_size bytes from whatever pointer it gets: a shorter buffer would be read past
        its end and a longer one cut, so a wrong length is EINVAL here, as the VM's maps say."""
        if len(raw) != size:
            raise sc.KernelMapError(f"map {self.spec.name!r}: {what} of {len(raw)} bytes, the map's is {size}",
                                    errno.EINVAL)
        return raw

    def lookup_raw(self, key: bytes) -> bytes | None:
        self._handle.fd  # raises once closed: the fd number may already belong to something else
        self._no_elements()
        return self._ops.lookup(self._sized("key", key, self.spec.key_size))

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        self._handle.fd
        self._no_elements()
        self._ops.update(self._sized("key", key, self.spec.key_size),
                         self._sized("value", value, self._value_bytes), flags)

    def delete_raw(self, key: bytes) -> None:
        self._handle.fd
        self._no_elements()
        self._ops.delete(self._sized("key", key, self.spec.key_size))

    def keys_raw(self) -> Iterator[bytes]:
        self._handle.fd
        if self.spec.type in _PUSH_POP_TYPES:
            return  # no keys (the kernel's get_next_key says EINVAL): len() 0 and empty iteration, as in the VM
        key = self._ops.next_key(None)
        while key is not None:
            yield key
            self._handle.fd
            key = self._ops.next_key(key)

    def push_raw(self, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        if self.spec.type not in (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER):
            return super().push_raw(value, flags)
        self._handle.fd
        self._ops.update(None, self._sized("value", value, self._value_bytes), flags)

    def pop_raw(self, peek: bool = False) -> bytes | None:
        if self.spec.type not in (MapType.QUEUE, MapType.STACK):
            return super().pop_raw(peek)
        if peek:
            self._handle.fd
            return self._ops.lookup(None)
        return sc.map_lookup_and_delete_elem(self.fd, None, self._value_bytes)

    # -- beyond the face --------------------------------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        """Keyed maps: is the key present. Bloom filters: may the value be present (False is certain)."""
        if self.spec.type == MapType.BLOOM_FILTER:
            self._handle.fd
            return self._ops.lookup_value(self._value.encode(key))
        try:
            return self.lookup_raw(self.encode_key(key)) is not None
        except MapError:
            return False

    def lookup_and_delete(self, key: Any) -> Any:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM on a keyed map (hash types); KeyError when absent."""
        raw = sc.map_lookup_and_delete_elem(self.fd, self.encode_key(key), self._value_bytes)
        if raw is None:
            raise KeyError(key)
        return self.decode_value(raw)

    def lookup_batch(self, batch_size: int = 256, delete: bool = False) -> list[tuple[Any, Any]]:
        """Every (key, value) via BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH), `batch_size` per call."""
        out: list[tuple[Any, Any]] = []
        token: bytes | None = None
        ksize = self.spec.key_size
        while True:
            try:
                keys, values, token = sc.map_lookup_batch(self.fd, ksize, self._value_bytes, batch_size, token,
                                                          max(ksize, 4), delete=delete)
            except MapError as e:
                if e.errno == errno.ENOSPC and batch_size < (1 << 16):
                    batch_size *= 2  # a hash bucket holds more entries than fit: retry bigger
                    continue
                raise
            out.extend((self.decode_key(k), self.decode_value(v)) for k, v in zip(keys, values))
            if token is None:
                return out

    def items_batch(self, batch_size: int = 256) -> dict[Any, Any]:
        return dict(self.lookup_batch(batch_size))

    def lookup_and_delete_batch(self, batch_size: int = 256) -> list[tuple[Any, Any]]:
        return self.lookup_batch(batch_size, delete=True)

    def update_batch(self, items: dict | Iterable[tuple[Any, Any]], flags: int = UpdateFlags.ANY) -> int:
        pairs = list(items.items() if isinstance(items, dict) else items)
        if not pairs:
            return 0
        return sc.map_update_batch(self.fd, [self.encode_key(k) for k, _ in pairs],
                                   [self.encode_value(v) for _, v in pairs], flags)

    def delete_batch(self, keys: Iterable[Any]) -> int:
        keys = list(keys)
        if not keys:
            return 0
        return sc.map_delete_batch(self.fd, [self.encode_key(k) for k in keys])

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._handle._fd}"
        return super().__repr__()[:-1] + f" {state}>"


class FdValueMap(KernelMap):
    """Prog arrays, maps of maps, perf event arrays, sockmaps: values are fds on update and object ids on lookup.

    `m[i] = prog` accepts a KernelProgram / KernelMap (anything with `.fd`) or a raw fd; `m[i]` returns the id.
    """

    def encode_value(self, value: Any) -> bytes:
        fd = getattr(value, "fd", value)
        return int(fd).to_bytes(4, "little")

    def decode_value(self, raw: bytes) -> Any:
        return int.from_bytes(raw[:4], "little")


class RingBufKernelMap(KernelMap):
    """A BPF_MAP_TYPE_RINGBUF: `consume()` takes the committed records, as the VM's RingBufMap.consume() does.

    The mmap'd reader (pyebpf.loader.ringbuf.RingBuffer) is made on first use and closed with the map; use a
    RingBuffer directly for epoll waits and callbacks.
    """

    _reader: Any = None

    def consume(self, limit: int | None = None, decode: Any = None) -> list[Any]:
        """Records now in the ring, oldest first (at most `limit`): bytes, or `decode` applied (a ctypes type or a
        function), skipping discarded ones and stopping at one still reserved."""
        from pyebpf.loader.ringbuf import RingBuffer

        if self._reader is None:
            self._reader = RingBuffer(self)
        out: list[Any] = []
        self._reader.consume(out.append, limit=limit)
        fn = record_decoder(decode)
        return [fn(r) for r in out] if fn is not None else out

    def keys_raw(self) -> Iterator[bytes]:
        """No elements (the kernel's get_next_key says ENOTSUPP): len() is 0 and iteration empty, as in the VM."""
        return iter(())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()


class PerfEventArrayKernelMap(FdValueMap):
    """A BPF_MAP_TYPE_PERF_EVENT_ARRAY: `consume()` takes the records bpf_perf_event_output wrote, as the VM's
    PerfEventArrayMap.consume() does.

    A map made by `create_map` opens its reader at once (a pyebpf.loader.PerfBuffer: one BPF_OUTPUT event and ring per
    online CPU, stored in the CPU's slot), so a program run right after finds its slot filled as in the VM, where
    every slot below ncpus holds an event. `close_reader()` empties the slots again; a PerfBuffer opened by hand on
    the map takes the slots over (use one for epoll waits, callbacks and lost-sample counts).
    """

    _reader: Any = None
    _reader_error: BaseException | None = None
    _reader_closed = False

    def __init__(self, spec: MapSpec, fd: int | FdHandle, ncpus: int | None = None):
        super().__init__(spec, fd, ncpus)
        self._pending: list[tuple[int, bytes]] = []  # (cpu, raw sample) drained from the rings, not yet consumed

    def open_reader(self, page_count: int = 8) -> None:
        """Open the per-CPU rings and put their events in the map (idempotent)."""
        from pyebpf.loader.perfbuf import PerfBuffer

        if self._reader is None:
            self._reader = PerfBuffer(self, page_count=page_count, with_cpu=True)
            self._reader_error, self._reader_closed = None, False

    def _drain(self) -> None:
        self._reader.consume(lambda cpu, raw: self._pending.append((cpu, bytes(raw))))

    def close_reader(self) -> None:
        """Take our events out of the map and release the rings, keeping what they held for consume(): outputs to
        those slots then fail with ENOENT (the VM: `m.close(slot)`), until open_reader()."""
        if self._reader is not None:
            self._drain()
            self._reader.close()
            self._reader = None
        self._reader_closed = True

    def consume(self, limit: int | None = None, decode: Any = None, with_cpu: bool = False) -> list[Any]:
        """Records now in the rings, CPU by CPU and oldest first (at most `limit`): bytes as the kernel hands a raw
        sample over (its u32 size + bytes padded to 8), or `decode` applied (a ctypes type or a function); (cpu,
        record) pairs with `with_cpu`."""
        if self._reader is None and not self._reader_closed:
            if self._reader_error is not None:
                raise self._reader_error
            self.open_reader()
        if self._reader is not None:
            self._drain()
        self._pending.sort(key=lambda rec: rec[0])  # stable: per CPU, oldest first, as the VM keeps them
        n = len(self._pending) if limit is None else min(limit, len(self._pending))
        taken, self._pending = self._pending[:n], self._pending[n:]
        fn = record_decoder(decode)
        values = [(cpu, fn(raw) if fn is not None else raw) for cpu, raw in taken]
        return values if with_cpu else [v for _, v in values]

    def close(self) -> None:
        self.close_reader()
        super().close()


_MAP_CLASSES: dict[MapType, type[KernelMap]] = {t: FdValueMap for t in FD_VALUE_TYPES}
_MAP_CLASSES[MapType.RINGBUF] = RingBufKernelMap
_MAP_CLASSES[MapType.PERF_EVENT_ARRAY] = PerfEventArrayKernelMap


def register_map_class(map_type: MapType, cls: type[KernelMap]) -> None:
    """Extension point: ring buffers and other special maps wrap themselves in their own KernelMap subclass."""
    _MAP_CLASSES[MapType(map_type)] = cls


def map_class_for(map_type: MapType) -> type[KernelMap]:
    return _MAP_CLASSES.get(MapType(map_type), KernelMap)


def _map_info(fd: int) -> bpf_map_info:
    info = bpf_map_info()
    sc.obj_get_info_by_fd(fd, info)
    return info


def create_map(spec: MapSpec, *, inner_map: KernelMap | None = None, btf_fd: int = 0, btf_key_type_id: int = 0,
               btf_value_type_id: int = 0, map_extra: int = 0, numa_node: int = 0, ifindex: int = 0,
               name: str | None = None) -> KernelMap:
    """BPF_MAP_CREATE from a MapSpec; maps of maps get their inner template from `inner_map` or `spec.inner_map`."""
    inner_fd, temp_inner = 0, None
    if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        if inner_map is not None:
            inner_fd = inner_map.fd
        elif spec.inner_map is not None:
            temp_inner = create_map(spec.inner_map)
            inner_fd = temp_inner.fd
        else:
            raise sc.KernelMapError(f"map {spec.name!r}: a map of maps needs an inner map spec", errno.EINVAL)
    try:
        fd = sc.map_create(spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                           spec.name if name is None else name, inner_map_fd=inner_fd, numa_node=numa_node,
                           ifindex=ifindex, btf_fd=btf_fd, btf_key_type_id=btf_key_type_id,
                           btf_value_type_id=btf_value_type_id, map_extra=map_extra)
    except sc.KernelMapError as e:
        # The kernel's errno stands (it is the truth on this machine); abi.map_create's rules only say why, when
        # they reach the same errno: "EINVAL" alone does not tell which of key_size, flags or max_entries is wrong.
        from pyebpf.abi.map_create import explain_map_create  # only on failure: its flag tables cost start-up

        reason = explain_map_create(spec, e.errno, num_possible_cpus())
        if reason is None:
            raise
        raise sc.KernelMapError(f"{e.message} ({reason})", e.errno) from None
    finally:
        if temp_inner is not None:
            temp_inner.close()
    kmap = map_class_for(spec.type)(spec, FdHandle(fd))
    try:
        kmap.apply_initial()  # global data (MapSpec.initial), as the VM writes it
    except BaseException:
        kmap.close()
        raise
    if isinstance(kmap, PerfEventArrayKernelMap):
        try:
            kmap.open_reader()  # slots filled as the VM's are; without perf events the map still works
        except LoaderError as e:  # no perf events here (perf_event_paranoid, no CPU): kept for consume() to raise
            kmap._reader_error = e
    return kmap


def create_or_open_pinned(spec: MapSpec, pin_root: str = "/sys/fs/bpf") -> KernelMap:
    """libbpf's LIBBPF_PIN_BY_NAME: reuse the map pinned at PIN_ROOT/NAME when it has the same shape, else create
    the map and pin it there. A pinned map of another shape is an error (EINVAL), as in libbpf."""
    import os

    from pyebpf.loader.pin import open_pinned_fd, pin_fd

    path = os.path.join(pin_root, spec.name)
    if os.path.exists(path):
        handle, kind = open_pinned_fd(path)
        if kind != "map":
            handle.close()
            raise sc.KernelMapError(f"{path} is a pinned {kind}, not map {spec.name!r}", errno.EINVAL)
        m = KernelMap.from_fd(handle, None)
        have = m.spec
        if (have.type, have.key_size, have.value_size, have.max_entries, have.flags) != (
                spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags):
            m.close()
            raise sc.KernelMapError(f"map {spec.name!r} pinned at {path} has another shape ({have.type.name} "
                           f"{have.key_size}/{have.value_size}/{have.max_entries}/{have.flags:#x})", errno.EINVAL)
        return map_class_for(spec.type)(spec, m._handle)
    m = create_map(spec)
    try:
        pin_fd(m.fd, path)
    except BaseException:
        m.close()
        raise
    return m


__all__ = ["create_or_open_pinned", "KernelMap", "FdValueMap", "RingBufKernelMap", "PerfEventArrayKernelMap",
           "create_map", "register_map_class", "map_class_for", "FD_VALUE_TYPES"]
