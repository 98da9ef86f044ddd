"""The backend-neutral API: one `typing.Protocol` per kind of object the VM and the kernel loader both hand out.

A test written against these names means the same thing in the simulator (`pyebpf.VM`, `pyebpf.vm.maps`) and in
the kernel (`pyebpf.loader.load`, `pyebpf.loader.create_map`): both sides implement every protocol here with the
same method names, parameters and defaults, and the kernel's behaviour (errnos, ordering, padding) is the
reference. `tests/parity/test_protocols.py` checks each concrete class against its protocol (isinstance, then the
signatures with inspect); `tests/parity/` runs each operation on both sides; docs/same-calls.md lists the calls
and the few things only one side can do.

Maps come in families (what the kernel lets user space do with them), each a protocol over `MapObject`:
keyed (hash, LRU, LPM trie: insert and delete keys), array (fixed slots: no delete), per-CPU (values are one
entry per possible CPU), fd arrays (prog arrays, maps of maps, perf event arrays: the value is an object),
queue/stack (push/pop/peek, no keys), and event sources (ring buffers, perf event arrays: records to consume).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Protocol, runtime_checkable

from pyebpf.abi.maps import MapSpec, UpdateFlags


@runtime_checkable
class RunOutcome(Protocol):
    """What one run gives back: the VM's RunResult, the kernel's TestRunResult (BPF_PROG_TEST_RUN)."""

    @property
    def r0(self) -> int:
        """R0 after the run (the kernel reports its low 32 bits; the VM all 64)."""

    @property
    def retval(self) -> int:
        """R0's low 32 bits, as BPF_PROG_TEST_RUN's retval."""

    @property
    def data(self) -> Any:
        """The packet after the run (data_out), or None/b"" for runs without one."""

    @property
    def packet(self) -> Any:
        """The same as `data` (the VM's name)."""

    @property
    def ctx(self) -> Any:
        """The context after the run (ctx_out), in the type it was passed in."""


@runtime_checkable
class RunnableProgram(Protocol):
    """A program to run: `pyebpf.VM(prog)` or `pyebpf.loader.load(prog)` (a KernelProgram)."""

    maps: Mapping[str, Any]

    def run(self, ctx: Any = None, *, packet: bytes | None = None) -> RunOutcome:
        """Run once on a context (a builder, raw bytes or a ctypes object) or on a packet."""

    def test_run(self, data: bytes = b"", ctx: Any = None) -> RunOutcome:
        """BPF_PROG_TEST_RUN's call: data_in (a packet) and/or ctx_in."""

    def close(self) -> None:
        """Release what the program holds (the kernel: fds, links, maps it created; the VM: nothing)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> None: ...


@runtime_checkable
class MapObject(Protocol):
    """What every map has: its spec, per-CPU count, raw byte operations, and a lifetime."""

    spec: MapSpec
    ncpus: int

    @property
    def name(self) -> str: ...

    def lookup_raw(self, key: bytes) -> bytes | None: ...

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None: ...

    def delete_raw(self, key: bytes) -> None: ...

    def keys_raw(self) -> Iterator[bytes]: ...

    def encode_key(self, key: Any) -> bytes: ...

    def encode_value(self, value: Any) -> bytes: ...

    def decode_key(self, raw: bytes) -> Any: ...

    def decode_value(self, raw: bytes) -> Any: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


@runtime_checkable
class ArrayLikeMap(MapObject, Protocol):
    """Fixed slots 0..max_entries-1 (array, per-CPU array): every slot exists, delete is EINVAL, NOEXIST is EEXIST."""

    def lookup(self, key: Any) -> Any: ...

    def put(self, key: Any, value: Any, flags: int = UpdateFlags.ANY) -> None: ...

    def __getitem__(self, key: Any) -> Any: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...

    def __contains__(self, key: object) -> bool: ...

    def items(self) -> Any: ...

    def keys(self) -> Any: ...

    def values(self) -> Any: ...

    def get(self, key: Any, default: Any = None) -> Any: ...

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: user space may no longer write (EPERM); a second freeze is EBUSY."""

    def lookup_batch(self, batch_size: int = 256, delete: bool = False) -> list[tuple[Any, Any]]:
        """BPF_MAP_LOOKUP_BATCH: every (key, value) in the order get_next_key walks them."""

    def items_batch(self, batch_size: int = 256) -> dict[Any, Any]: ...

    def update_batch(self, items: dict | Iterable[tuple[Any, Any]], flags: int = UpdateFlags.ANY) -> int:
        """BPF_MAP_UPDATE_BATCH: how many elements were written."""


@runtime_checkable
class HashLikeMap(ArrayLikeMap, Protocol):
    """Keys come and go (hash, LRU hash, LPM trie and their per-CPU forms): delete, EXIST/NOEXIST, E2BIG when full."""

    def delete(self, key: Any) -> None: ...

    def __delitem__(self, key: Any) -> None: ...

    def clear(self) -> None: ...

    def pop(self, *args: Any) -> Any: ...

    def lookup_and_delete(self, key: Any) -> Any:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM: the value, and the key is gone; KeyError when absent."""

    def lookup_and_delete_batch(self, batch_size: int = 256) -> list[tuple[Any, Any]]: ...

    def delete_batch(self, keys: Iterable[Any]) -> int:
        """BPF_MAP_DELETE_BATCH: how many keys were deleted (a missing one is ENOENT)."""


@runtime_checkable
class PerCpuMap(ArrayLikeMap, Protocol):
    """Per-CPU array/hash: a value is a list of `ncpus` entries (the possible CPUs); a scalar sets every CPU's."""


@runtime_checkable
class FdArrayMap(MapObject, Protocol):
    """Slots that hold objects (prog array: a program; map of maps: an inner map; perf event array: an event).
    `m[i] = obj` takes the object; reading a slot gives a number (the kernel: the object's id)."""

    def __setitem__(self, key: Any, value: Any) -> None: ...

    def __delitem__(self, key: Any) -> None: ...

    def put(self, key: Any, value: Any, flags: int = UpdateFlags.ANY) -> None: ...

    def delete(self, key: Any) -> None: ...


@runtime_checkable
class QueueStackMap(MapObject, Protocol):
    """Queue (FIFO) and stack (LIFO): no keys; push (BPF_EXIST overwrites the oldest when full, else E2BIG), pop and
    peek (KeyError when empty)."""

    def push(self, value: Any, flags: int = UpdateFlags.ANY) -> None: ...

    def pop(self, *args: Any) -> Any: ...

    def peek(self) -> Any: ...

    def clear(self) -> None: ...


@runtime_checkable
class EventSource(MapObject, Protocol):
    """A ring buffer map: records a program submitted, oldest first, consumed once."""

    def consume(self, limit: int | None = None, decode: Any = None) -> list[Any]:
        """Take at most `limit` records: bytes, or `decode` applied (a ctypes type or a function)."""


@runtime_checkable
class PerfEventSource(FdArrayMap, Protocol):
    """A perf event array read as an event source: each CPU's records, CPU by CPU, as the kernel hands them over
    (the raw bytes padded so that the u32 size + data is a multiple of 8)."""

    def consume(self, limit: int | None = None, decode: Any = None, with_cpu: bool = False) -> list[Any]:
        """Take at most `limit` records; (cpu, record) pairs with `with_cpu`."""


#: map family -> the protocol its objects implement, by the MapType names that belong to it
MAP_FAMILIES: dict[str, tuple[type, tuple[str, ...]]] = {
    "hash-like": (HashLikeMap, ("hash", "lru_hash", "lpm_trie", "percpu_hash", "lru_percpu_hash")),
    "array-like": (ArrayLikeMap, ("array", "percpu_array")),
    "per-cpu": (PerCpuMap, ("percpu_hash", "percpu_array", "lru_percpu_hash")),
    "fd-array": (FdArrayMap, ("prog_array", "array_of_maps", "hash_of_maps", "perf_event_array")),
    "queue/stack": (QueueStackMap, ("queue", "stack")),
    "ring buffer": (EventSource, ("ringbuf",)),
    "perf buffer": (PerfEventSource, ("perf_event_array",)),
}

__all__ = ["RunOutcome", "RunnableProgram", "MapObject", "ArrayLikeMap", "HashLikeMap", "PerCpuMap", "FdArrayMap",
           "QueueStackMap", "EventSource", "PerfEventSource", "MAP_FAMILIES"]
