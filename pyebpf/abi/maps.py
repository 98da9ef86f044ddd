"""Map types, map specs, and the dict-like face shared by the VM's maps and the kernel's maps.

A `MapSpec` says what a map is (type, key/value sizes, max_entries, flags, optional key/value Python types). The
same spec creates a simulated map in `pyebpf.vm` or a real one in `pyebpf.loader`; both subclass `MapFace`, which
turns raw bytes into typed keys and values so that a test written against one runs unchanged against the other.
"""
from __future__ import annotations

import ctypes
import errno
from abc import ABC, abstractmethod
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Iterator

from pyebpf.abi.fast_enum import kernel_enum
from pyebpf.abi.frozen import frozen, is_record, thaw
from pyebpf.abi.records import is_ctypes_type, record_decoder
from pyebpf.abi.uapi import UpdateFlags
from pyebpf.errors import MapError


@kernel_enum(IntEnum)
class MapType:
    """enum bpf_map_type (uapi linux/bpf.h)."""

    UNSPEC = 0
    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    CGROUP_ARRAY = 8
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    DEVMAP = 14
    SOCKMAP = 15
    CPUMAP = 16
    XSKMAP = 17
    SOCKHASH = 18
    CGROUP_STORAGE = 19
    REUSEPORT_SOCKARRAY = 20
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    SK_STORAGE = 24
    DEVMAP_HASH = 25
    STRUCT_OPS = 26
    RINGBUF = 27
    INODE_STORAGE = 28
    TASK_STORAGE = 29
    BLOOM_FILTER = 30
    USER_RINGBUF = 31
    CGRP_STORAGE = 32
    ARENA = 33


PERCPU_TYPES = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                          MapType.PERCPU_CGROUP_STORAGE})
ARRAY_TYPES = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY,
                         MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS})
KEYLESS_TYPES = frozenset({MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.BLOOM_FILTER,
                           MapType.USER_RINGBUF})


@dataclass(frozen=True)
class MapSpec:
    """What a map is, independent of where it lives (VM or kernel).

    key_type / value_type are optional Python-side types for the typed face: `int` (unsigned, little-endian, of the
    declared size), a ctypes type (c_uint32, a ctypes.Structure, an array), or `bytes` (the default for odd sizes).
    `initial` (array maps) is element 0's starting value, shorter values zero-padded.
    """

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    key_type: Any = field(default=None, compare=False)
    value_type: Any = field(default=None, compare=False)
    inner_map: "MapSpec | None" = None
    pinning: str | None = None
    initial: bytes | None = field(default=None, compare=False, repr=False)
    """Value of element 0 when the map is created (global data: `.data`/`.rodata` of an ELF object), or None. The
    VM and the kernel loader both write it at creation, so a Program's constants need no copying by hand."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", MapType(self.type))
        if self.initial is not None:
            if isinstance(self.initial, int) and not isinstance(self.initial, bool):
                init = Codec(self.value_size, self.value_type).encode(self.initial)
            else:
                init = bytes(self.initial)  # bytes or a ctypes object
            if len(init) > self.value_size:
                raise ValueError(f"map {self.name!r}: initial value of {len(init)} bytes is longer than its "
                                 f"{self.value_size}-byte values")
            object.__setattr__(self, "initial", init.ljust(self.value_size, b"\0"))

    @property
    def initial_element(self) -> tuple[bytes, bytes] | None:
        """(key bytes, value bytes) to write when the map is created, or None."""
        if self.initial is None:
            return None
        return bytes(self.key_size), self.initial

    @classmethod
    def of(cls, name: str, type: MapType | str, key: Any = 4, value: Any = 8, max_entries: int = 1,
           flags: int = 0, initial: Any = None) -> "MapSpec":
        """Spec from sizes or Python types: MapSpec.of("counts", "hash", ctypes.c_uint32, ctypes.c_uint64, 1024).
        `initial` (bytes, an int or a ctypes object) is element 0's starting value."""
        if isinstance(type, str):
            try:
                type = MapType[type.upper()]
            except KeyError:
                raise ValueError(f"unknown map type {type!r} (hash, array, ringbuf, ...: pyebpf.abi.maps.MapType)") \
                    from None
        key_size, key_type = _size_and_type(key)
        value_size, value_type = _size_and_type(value)
        if type in KEYLESS_TYPES and type != MapType.BLOOM_FILTER:
            key_size, key_type = 0, None
        if type == MapType.RINGBUF:
            value_size, value_type = 0, None
        return cls(name, type, key_size, value_size, max_entries, flags, key_type, value_type, initial=initial)

    def renamed(self, name: str) -> "MapSpec":
        return replace(self, name=name)

    @property
    def is_percpu(self) -> bool:
        return self.type in PERCPU_TYPES

    @property
    def is_array(self) -> bool:
        return self.type in ARRAY_TYPES


def _size_and_type(t: Any) -> tuple[int, Any]:
    if isinstance(t, int) and not isinstance(t, bool):
        return t, None
    if t is None:
        return 0, None
    return ctypes.sizeof(t), t


# ---- typed keys and values -------------------------------------------------------------------------------------

class Codec:
    """Converts between Python values and the bytes the kernel sees, for one declared size and type."""

    __slots__ = ("size", "type", "_decode")

    def __init__(self, size: int, type_: Any = None):
        self.size = size
        self.type = type_
        self._decode = record_decoder(type_) if is_ctypes_type(type_) else None

    def encode(self, value: Any) -> bytes:
        t, size = self.type, self.size
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
        elif isinstance(value, ctypes._SimpleCData) or isinstance(value, (ctypes.Structure, ctypes.Union,
                                                                            ctypes.Array)):
            raw = bytes(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if t is not None and t is not int and hasattr(t, "_type_") and isinstance(t._type_, str):
                raw = bytes(t(value))
            else:
                raw = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little") if size else b""
        elif t is not None and hasattr(t, "from_buffer_copy") and isinstance(value, (tuple, dict)):
            if is_record(value):  # a key read back from a map (abi.frozen): its exact bytes
                raw = thaw(t, value)
            else:
                raw = bytes(t(**value) if isinstance(value, dict) else t(*value))
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as a {size}-byte map key/value")
        if len(raw) != size:
            raise MapError(f"expected {size} bytes, got {len(raw)}", errno.EINVAL)
        return raw

    def decode(self, raw: bytes) -> Any:
        t = self.type
        if t is None:
            return int.from_bytes(raw, "little") if self.size in (1, 2, 4, 8) else bytes(raw)
        if t is int:
            return int.from_bytes(raw, "little")
        if t is bytes:
            return bytes(raw)
        if self._decode is None:
            raise TypeError(f"cannot decode a map key/value as {t!r}")
        return self._decode(raw)


def percpu_stride(value_size: int) -> int:
    """Per-CPU values are laid out at 8-byte-rounded strides, as the kernel copies them to user space."""
    return (value_size + 7) & ~7


class MapFace(MutableMapping, ABC):
    """Dict-like typed access to a map; subclasses supply the raw byte operations.

    `m[key]` / `m[key] = value` / `del m[key]` / iteration work for every keyed map type; per-CPU maps take and
    return one value per CPU (a list). Queue and stack maps use push/pop/peek. Errors follow the kernel: a missing
    key is KeyError (ENOENT), a full map is MapError(E2BIG), BPF_NOEXIST on an existing key is MapError(EEXIST).
    """

    spec: MapSpec
    ncpus: int = 1

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        self.spec = spec
        self.ncpus = ncpus
        self._key = Codec(spec.key_size, spec.key_type)
        self._value = Codec(spec.value_size, spec.value_type)

    # -- raw operations a backend implements --------------------------------------------------------------------
    @abstractmethod
    def lookup_raw(self, key: bytes) -> bytes | None:
        """Value bytes (all CPUs concatenated at 8-byte strides for per-CPU maps), or None when absent."""

    @abstractmethod
    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        """Insert or replace; raises MapError with the kernel's errno."""

    @abstractmethod
    def delete_raw(self, key: bytes) -> None:
        """Delete; raises MapError(ENOENT) when absent, MapError(EINVAL) for arrays."""

    @abstractmethod
    def keys_raw(self) -> Iterator[bytes]:
        """Every key, in the backend's order (get_next_key order in the kernel)."""

    def push_raw(self, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise MapError(f"{self.spec.type.name} map has no push", errno.EINVAL)

    def pop_raw(self, peek: bool = False) -> bytes | None:
        raise MapError(f"{self.spec.type.name} map has no pop", errno.EINVAL)

    def apply_initial(self) -> None:
        """Write the spec's `initial` value into element 0 (both the VM and the loader call it at creation)."""
        element = self.spec.initial_element
        if element is None:
            return
        key, value = element
        if self.spec.is_percpu:
            value = (value + b"\0" * (percpu_stride(self.spec.value_size) - self.spec.value_size)) * self.ncpus
        self.update_raw(key, value)

    # -- typed face ----------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    def encode_key(self, key: Any) -> bytes:
        return self._key.encode(key)

    def encode_value(self, value: Any) -> bytes:
        if self.spec.is_percpu:
            if not isinstance(value, (list, tuple)):
                value = [value] * self.ncpus
            if len(value) != self.ncpus:
                raise MapError(f"per-CPU value needs {self.ncpus} entries, got {len(value)}", errno.EINVAL)
            pad = b"\0" * (percpu_stride(self.spec.value_size) - self.spec.value_size)
            return b"".join(self._value.encode(v) + pad for v in value)
        return self._value.encode(value)

    def decode_value(self, raw: bytes) -> Any:
        if self.spec.is_percpu:
            stride, size = percpu_stride(self.spec.value_size), self.spec.value_size
            return [self._value.decode(raw[i * stride:i * stride + size]) for i in range(self.ncpus)]
        return self._value.decode(raw)

    def decode_key(self, raw: bytes) -> Any:
        """The key as a hashable value (struct keys as named tuples: abi.frozen), so keys can index a dict."""
        return frozen(self._key.decode(raw))

    def lookup(self, key: Any) -> Any:
        raw = self.lookup_raw(self.encode_key(key))
        return None if raw is None else self.decode_value(raw)

    def put(self, key: Any, value: Any, flags: int = UpdateFlags.ANY) -> None:
        self.update_raw(self.encode_key(key), self.encode_value(value), flags)

    def delete(self, key: Any) -> None:
        self.delete_raw(self.encode_key(key))

    def push(self, value: Any, flags: int = UpdateFlags.ANY) -> None:
        self.push_raw(self._value.encode(value), flags)

    def pop(self, *args: Any) -> Any:  # type: ignore[override]
        """Queue/stack maps: pop() takes the next element (KeyError when empty). Keyed maps: dict.pop(key[, default])."""
        if self.spec.type not in (MapType.QUEUE, MapType.STACK):
            return super().pop(*args)
        raw = self.pop_raw(peek=False)
        if raw is None:
            if args:
                return args[0]
            raise KeyError("pop from an empty map")
        return self._value.decode(raw)

    def peek(self) -> Any:
        raw = self.pop_raw(peek=True)
        if raw is None:
            raise KeyError("peek at an empty map")
        return self._value.decode(raw)

    def __getitem__(self, key: Any) -> Any:
        value = self.lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Any) -> None:
        try:
            self.delete(key)
        except MapError as e:
            if e.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __iter__(self) -> Iterator[Any]:
        for raw in self.keys_raw():
            yield self.decode_key(raw)

    def __len__(self) -> int:
        return sum(1 for _ in self.keys_raw())

    def __repr__(self) -> str:
        s = self.spec
        return f"<{type(self).__name__} {s.name!r} {s.type.name} key={s.key_size} value={s.value_size} max={s.max_entries}>"


__all__ = ["MapType", "UpdateFlags", "MapSpec", "MapFace", "Codec", "percpu_stride", "PERCPU_TYPES", "ARRAY_TYPES",
           "KEYLESS_TYPES"]
