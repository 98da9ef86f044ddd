"""Map objects a probe module declares at module level: one object, read the same way in the VM and the kernel.

A map starts backed by a VM map (so `probe.run()` needs no root); while a probe that names it is loaded, it reads
and writes the kernel map instead; when the last loaded probe closes, the kernel contents are copied back into the
VM map, so `counts.items()` after the `with probe.load():` block still shows what the kernel counted.
Keys and values read as Python values: ints, bytes for char arrays, named tuples for ctypes structures (hashable).
"""
from __future__ import annotations

import ctypes
from collections.abc import MutableMapping
from typing import Any, Iterator

from pyebpf.abi.frozen import frozen
from pyebpf.abi.maps import MapType
from pyebpf.compiler.symbols import MapInfo
from pyebpf.compiler.types import IntType

def to_python(value: Any) -> Any:
    """A decoded key/value/record as a plain, hashable Python value: structures become named tuples with char
    arrays as all their bytes (pyebpf.abi.frozen, as every map face reads them); per-CPU values stay lists."""
    if isinstance(value, list):
        return [frozen(v) for v in value]
    return frozen(value)


def _from_python(t: Any, value: Any) -> Any:
    """A Python value (int, tuple, named tuple, ctypes object) as the map's codec takes it (tuples are thawed)."""
    return value


class ProbeMap(MutableMapping):
    """Base of the map classes: a dict-like face over the current backend (VM map or kernel map)."""

    TYPE: MapType = MapType.HASH
    DEFAULT_ENTRIES = 10240

    def __init__(self, key: Any = None, value: Any = None, max_entries: int | None = None, *, name: str | None = None,
                 flags: int = 0):
        for what, t in (("key", key), ("value", value)):
            if t is not None and not isinstance(t, IntType) and not (isinstance(t, type) and issubclass(
                    t, (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array))):
                raise TypeError(f"{type(self).__name__} {what} type must be u8..u64/s8..s64 or a ctypes type, "
                                f"not {t!r}")
        self.__probe_map__ = MapInfo(self.TYPE, key, value, max_entries or self.DEFAULT_ENTRIES, flags, name)
        self._vm: Any = None
        self._kernel: Any = None
        self._kernel_users = 0

    # -- identity -------------------------------------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        return self.__probe_map__.name

    @property
    def spec(self):
        info = self.__probe_map__
        if info.name:
            return info.spec()
        # not compiled into a probe yet: the module global's name is not known; the name is cosmetic for the VM
        from dataclasses import replace

        return replace(info, name=type(self).__name__.lower()).spec()

    def __repr__(self) -> str:
        where = "kernel" if self._kernel is not None else "vm"
        return f"<{type(self).__name__} {self.name or '(unnamed)'} ({where}) {dict(self.items())!r}>"

    # -- backends -------------------------------------------------------------------------------------------------
    def vm_map(self, ncpus: int | None = None) -> Any:
        if self._vm is None:
            from pyebpf.vm.maps import create_map

            self._vm = create_map(self.spec, ncpus=ncpus)
        return self._vm

    def kernel_acquire(self) -> Any:
        """The kernel map (created on first use); each acquire is paired with a kernel_release()."""
        if self._kernel is None:
            from pyebpf.loader.maps import create_map

            self._kernel = create_map(self.spec)
        self._kernel_users += 1
        return self._kernel

    def kernel_release(self) -> None:
        self._kernel_users -= 1
        if self._kernel_users > 0 or self._kernel is None:
            return
        kmap, self._kernel = self._kernel, None
        try:
            self._snapshot(kmap)
        finally:
            kmap.close()

    def _snapshot(self, kmap: Any) -> None:
        """Copy what the kernel map holds into a fresh VM map (reading after the probe is unloaded)."""
        from pyebpf.vm.maps import create_map

        vm = create_map(self._snapshot_spec(), ncpus=kmap.ncpus)
        for raw in list(kmap.keys_raw()):
            value = kmap.lookup_raw(raw)
            if value is not None:
                vm.update_raw(raw, value)
        self._vm = vm

    def _snapshot_spec(self) -> Any:
        return self.spec

    @property
    def backend(self) -> Any:
        return self._kernel if self._kernel is not None else self.vm_map()

    # -- dict face ------------------------------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return to_python(self.backend[_from_python(self.__probe_map__.key, key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        info = self.__probe_map__
        self.backend[_from_python(info.key, key)] = _from_python(info.value, value)

    def __delitem__(self, key: Any) -> None:
        del self.backend[_from_python(self.__probe_map__.key, key)]

    def __iter__(self) -> Iterator[Any]:
        for k in list(self.backend):
            yield to_python(k)

    def __len__(self) -> int:
        return len(self.backend)

    def __contains__(self, key: object) -> bool:
        try:
            return self.backend.lookup(_from_python(self.__probe_map__.key, key)) is not None
        except Exception:  # noqa: BLE001 - a key of the wrong shape is simply not in the map
            return False

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        """(key, value) pairs, read once (a snapshot: the kernel may be updating the map)."""
        out = []
        b = self.backend
        for raw in list(b.keys_raw()):
            value = b.lookup_raw(raw)
            if value is not None:
                out.append((to_python(b.decode_key(raw)), to_python(b.decode_value(value))))
        return out

    # -- the rest of the backend-neutral map API (abi/protocols.py): typed calls convert like the dict face, raw
    # and batch calls are the backend's own, so a probe's map is the same object kind in the VM and the kernel
    def get(self, key: Any, default: Any = None) -> Any:
        value = self.backend.get(_from_python(self.__probe_map__.key, key), None)
        return default if value is None else to_python(value)

    def lookup(self, key: Any) -> Any:
        value = self.backend.lookup(_from_python(self.__probe_map__.key, key))
        return None if value is None else to_python(value)

    def put(self, key: Any, value: Any, flags: int = 0) -> None:
        info = self.__probe_map__
        self.backend.put(_from_python(info.key, key), _from_python(info.value, value), flags)

    def delete(self, key: Any) -> None:
        self.backend.delete(_from_python(self.__probe_map__.key, key))

    def pop(self, key: Any, *default: Any) -> Any:
        try:
            value = self[key]
        except KeyError:
            if default:
                return default[0]
            raise
        del self[key]
        return value

    def keys(self) -> list[Any]:  # type: ignore[override]
        return [k for k, _ in self.items()]

    def values(self) -> list[Any]:  # type: ignore[override]
        return [v for _, v in self.items()]

    def close(self) -> None:
        """Nothing to release: the VM map lives with this object, a kernel map with the loaded probe."""

    def __enter__(self) -> "ProbeMap":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # raw, codec, freeze and batch calls (lookup_raw, encode_key, lookup_batch, ...) go to the current backend
        if name.startswith("_") or name not in _FORWARDED:
            raise AttributeError(name)
        return getattr(self.backend, name)

    def clear(self) -> None:
        b = self.backend
        if self.__probe_map__.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):  # elements always exist: zero them
            for raw in list(b.keys_raw()):
                current = b.lookup_raw(raw)
                if current is not None:
                    b.update_raw(raw, bytes(len(current)))
            return
        for raw in list(b.keys_raw()):
            try:
                b.delete_raw(raw)
            except Exception:  # noqa: BLE001 - deleted meanwhile
                pass


_FORWARDED = frozenset({
    "lookup_raw", "update_raw", "delete_raw", "keys_raw", "encode_key", "encode_value", "decode_key", "decode_value",
    "freeze", "lookup_batch", "items_batch", "update_batch", "delete_batch", "lookup_and_delete",
    "lookup_and_delete_batch", "ncpus",
})


class HashMap(ProbeMap):
    """BPF_MAP_TYPE_HASH: HashMap(u32, u64, max_entries=10240)."""

    TYPE = MapType.HASH


class LruHashMap(ProbeMap):
    """BPF_MAP_TYPE_LRU_HASH: a hash that evicts the least recently used entry when full."""

    TYPE = MapType.LRU_HASH


class PerCpuHashMap(ProbeMap):
    """BPF_MAP_TYPE_PERCPU_HASH: one value per CPU (read as a list); `m[k] += v` needs no atomics."""

    TYPE = MapType.PERCPU_HASH


class Array(ProbeMap):
    """BPF_MAP_TYPE_ARRAY: Array(u64, max_entries=N) (keys are u32 indexes; every element exists)."""

    TYPE = MapType.ARRAY
    DEFAULT_ENTRIES = 1

    def __init__(self, value: Any = None, max_entries: int | None = None, *, name: str | None = None,
                 flags: int = 0):
        from pyebpf.compiler.types import U32

        super().__init__(U32, value, max_entries, name=name, flags=flags)


class PerCpuArray(Array):
    """BPF_MAP_TYPE_PERCPU_ARRAY: one value per CPU and index."""

    TYPE = MapType.PERCPU_ARRAY


def _hist_key(key: Any) -> Any:
    """The map key of a histogram: the bucket (u32), or a structure (key, bucket) for one histogram per key."""
    from pyebpf.compiler.types import U32

    if key is None:
        return U32
    kt = key.ctype if isinstance(key, IntType) else key
    return type("HistKey", (ctypes.Structure,), {"_fields_": [("key", kt), ("bucket", ctypes.c_uint32)]})


class Log2Histogram(ProbeMap):
    """A power-of-two histogram (bpftrace's hist()): `lat.record(v)` in the probe counts v in bucket log2(v);
    `lat.buckets()` / `str(lat)` read it back, printed as bpftrace prints a hist. With `key=TYPE` (u32, a
    ctypes char array for comm(), a Structure) there is one histogram per key: `lat.record(v, key)` in the probe,
    `lat.histograms()` -> {key: {bucket: count}}, and str() prints each as bpftrace prints `@[key]: hist(v)`."""

    TYPE = MapType.HASH
    DISPLAY = "log2"

    def __init__(self, key: Any = None, *, max_entries: int | None = None, name: str | None = None):
        from pyebpf.compiler.types import U64

        super().__init__(_hist_key(key), U64, max_entries or (64 if key is None else 10240), name=name)
        self.__probe_map__.display = self.DISPLAY
        self.__probe_map__.keyed = key is not None

    def buckets(self, key: Any = None) -> dict[int, int]:
        """bucket -> count (of `key`'s histogram when the histogram is per key). Log2 buckets: floor(log2(v)),
        0 holding 0 and 1."""
        if not self.__probe_map__.keyed:
            return {int(k): int(v) for k, v in self.items()}
        return self.histograms().get(key, {})

    def histograms(self) -> dict[Any, dict[int, int]]:
        """key -> {bucket: count}, for a histogram per key ({None: buckets()} for a single one)."""
        if not self.__probe_map__.keyed:
            return {None: self.buckets()}
        out: dict[Any, dict[int, int]] = {}
        for k, v in self.items():
            out.setdefault(k.key, {})[int(k.bucket)] = int(v)
        return out

    def _lines(self, buckets: dict[int, int]) -> list[str]:
        from pyebpf.probe.output import log2_hist_lines

        return log2_hist_lines(buckets)

    def __str__(self) -> str:
        from pyebpf.probe.output import key_label

        if not self.__probe_map__.keyed:
            return "\n".join(self._lines(self.buckets()))
        parts = []
        for k, b in sorted(self.histograms().items(), key=lambda kv: sum(kv[1].values())):
            parts.append("\n".join([f"[{key_label(k)}]:", *self._lines(b)]))
        return "\n\n".join(parts)


class LinearHistogram(Log2Histogram):
    """bpftrace's lhist(v, lo, hi, step): `h.record(v)` counts v in a bucket of width `step` between lo and hi,
    with one bucket below lo and one from hi on; `key=TYPE` makes one histogram per key (`h.record(v, key)`).
    Buckets read back as 0 (below lo), 1 + (v - lo) // step, and the last one (hi and above)."""

    DISPLAY = "linear"

    def __init__(self, lo: int, hi: int, step: int, key: Any = None, *, max_entries: int | None = None,
                 name: str | None = None):
        if step <= 0 or lo < 0 or hi <= lo or (hi - lo) // step > 1000:
            raise ValueError(f"LinearHistogram({lo}, {hi}, {step}): need 0 <= lo < hi and 1 <= step, at most "
                             f"1000 buckets (as bpftrace's lhist)")
        super().__init__(key, max_entries=max_entries or (1010 if key is None else 10240), name=name)
        self.__probe_map__.lhist = (lo, hi, step)

    def _lines(self, buckets: dict[int, int]) -> list[str]:
        from pyebpf.probe.output import linear_hist_lines

        return linear_hist_lines(buckets, *self.__probe_map__.lhist)  # type: ignore[misc]


class StackTrace(ProbeMap):
    """BPF_MAP_TYPE_STACK_TRACE: `stacks.kstack()` / `stacks.ustack()` in the probe give a stack id (negative when
    no stack could be taken); `stacks.stack(id)` reads its addresses, `stacks.symbols(id, pid)` resolves them
    (kernel through kallsyms, user through the process's ELF symbols) as `name+offset` strings."""

    TYPE = MapType.STACK_TRACE
    DEPTH = 127  # PERF_MAX_STACK_DEPTH

    def __init__(self, max_entries: int = 1024, *, name: str | None = None):
        from pyebpf.compiler.types import U32

        super().__init__(U32, ctypes.c_uint64 * self.DEPTH, max_entries, name=name)

    def _snapshot_spec(self) -> Any:
        """The kernel's stacks are kept in a plain hash after unloading (only bpf_get_stackid fills a stack map)."""
        from dataclasses import replace

        return replace(self.spec, type=MapType.HASH)

    def stack(self, stack_id: int) -> list[int]:
        """The instruction pointers of stack `stack_id`, innermost first ([] when unknown)."""
        if stack_id < 0:
            return []
        try:
            ips = self[stack_id]
        except KeyError:
            return []
        return [ip for ip in ips if ip]

    def symbols(self, stack_id: int, pid: int | None = None, offsets: bool = True) -> list[str]:
        """Frames of stack `stack_id` as `name+off`: kernel stacks without `pid`, user stacks of process `pid`.
        Symbol tables are read once per StackTrace (kallsyms) and per process; `forget_symbols()` re-reads."""
        from pyebpf.system.symbolize import KernelSymbolizer, ProcessSymbolizer

        cache = self.__dict__.setdefault("_symbolizers", {})
        sym = cache.get(pid)
        if sym is None:
            sym = cache[pid] = KernelSymbolizer() if pid is None else ProcessSymbolizer(pid)
        return [f.format(offsets) for f in sym.stack(self.stack(stack_id))]

    def forget_symbols(self) -> None:
        self.__dict__.pop("_symbolizers", None)


class RingBuf(ProbeMap):
    """BPF_MAP_TYPE_RINGBUF: `events.output(Event(...))` in the probe; `events.read()` yields Event records."""

    TYPE = MapType.RINGBUF

    def __init__(self, record: Any = None, size: int = 1 << 16, *, name: str | None = None):
        super().__init__(None, None, size, name=name)
        self.record = record
        self._pending: list[Any] = []
        self._reader: Any = None

    def _decode(self, data: bytes) -> Any:
        if self.record is None:
            return bytes(data)
        if isinstance(self.record, IntType):
            return self.record.wrap(int.from_bytes(data[:self.record.size], "little"))
        return to_python(self.record.from_buffer_copy(data.ljust(ctypes.sizeof(self.record), b"\0")))

    def vm_records(self, records: list[bytes]) -> None:
        self._pending.extend(self._decode(r) for r in records)

    def kernel_acquire(self) -> Any:
        kmap = super().kernel_acquire()
        if self._reader is None:
            from pyebpf.loader.ringbuf import RingBuffer

            self._reader = RingBuffer(kmap, decode=self._decode)
        return kmap

    def kernel_release(self) -> None:
        if self._kernel_users == 1 and self._reader is not None:
            self._pending.extend(self._reader.read(timeout=0))
            self._reader.close()
            self._reader = None
        self._kernel_users -= 1
        if self._kernel_users <= 0 and self._kernel is not None:
            self._kernel.close()
            self._kernel = None

    def read(self, timeout: float | None = 0.0) -> list[Any]:
        """Records produced so far (by VM runs, or by the kernel while loaded), waiting up to `timeout` seconds
        for the first one when none is pending and a kernel ring buffer is attached."""
        out, self._pending = self._pending, []
        if self._reader is not None:
            out.extend(self._reader.read(timeout=timeout if not out else 0))
        return out

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a ring buffer has no keys: use events.read()")

    def __len__(self) -> int:
        return len(self._pending)

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        return []


class PerfEventArray(RingBuf):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: `events.output(Event(...))` in the probe (bpf_perf_event_output on the
    current CPU's ring); `events.read()` yields Event records, from the VM's rings or, while loaded, from the
    kernel's per-CPU perf buffers. `events.lost` counts records the kernel dropped (a ring was full)."""

    TYPE = MapType.PERF_EVENT_ARRAY

    def __init__(self, record: Any = None, max_entries: int | None = None, *, page_count: int = 8,
                 name: str | None = None):
        from pyebpf.system.cpus import num_possible_cpus

        ProbeMap.__init__(self, ctypes.c_uint32, ctypes.c_uint32, max_entries or num_possible_cpus(), name=name)
        self.record = record
        self.page_count = page_count
        self.lost = 0
        self._pending: list[Any] = []
        self._reader: Any = None

    def vm_map(self, ncpus: int | None = None) -> Any:
        vm = super().vm_map(ncpus)
        if vm.records:
            self._pending.extend(vm.consume(decode=self._decode))
        return vm

    def kernel_acquire(self) -> Any:
        kmap = ProbeMap.kernel_acquire(self)
        if self._reader is None:
            from pyebpf.loader.perfbuf import PerfBuffer

            self._reader = PerfBuffer(kmap, decode=self._decode, page_count=self.page_count)
        return kmap

    def kernel_release(self) -> None:
        if self._kernel_users == 1 and self._reader is not None:
            self._pending.extend(self._reader.read(timeout=0))
            self.lost += self._reader.lost
            self._reader.close()
            self._reader = None
        self._kernel_users -= 1
        if self._kernel_users <= 0 and self._kernel is not None:
            self._kernel.close()
            self._kernel = None

    def read(self, timeout: float | None = 0.0) -> list[Any]:
        if self._kernel is None and self._vm is not None:
            self._pending.extend(self._vm.consume(decode=self._decode))
        return super().read(timeout)


class ProgArray(ProbeMap):
    """BPF_MAP_TYPE_PROG_ARRAY: `progs.call(i)` in a probe tail-calls the program in slot i (execution goes on
    after the call when the slot is empty); `progs[i] = other_probe` fills a slot — a Probe for VM runs, its
    LoadedProbe (`other_probe.load(attach=False)`) while loaded in the kernel. Tail-called probes must be of the
    caller's program type."""

    TYPE = MapType.PROG_ARRAY
    DEFAULT_ENTRIES = 8

    def __init__(self, max_entries: int | None = None, *, name: str | None = None):
        super().__init__(ctypes.c_uint32, ctypes.c_uint32, max_entries, name=name)

    def _snapshot(self, kmap: Any) -> None:
        """Programs do not outlive their loads: the slots are empty again after unloading."""
        self._vm = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._kernel is None and hasattr(value, "program") and hasattr(value, "run"):  # a Probe: its Program
            value = value.program
        self.backend[key] = value


class LpmTrie(ProbeMap):
    """BPF_MAP_TYPE_LPM_TRIE: longest-prefix match. The key is a ctypes Structure whose first field is the prefix
    length in bits (`prefixlen`, u32) followed by the data (an address, big-endian as the packet holds it):
    `routes[Key(32, addr)]` in a probe finds the longest stored prefix covering addr; `routes[Key(24, net)] = v`
    from Python stores one."""

    TYPE = MapType.LPM_TRIE

    def __init__(self, key: Any, value: Any, max_entries: int | None = None, *, name: str | None = None,
                 flags: int = 0):
        from pyebpf.abi.uapi import MapCreateFlags

        fields = getattr(key, "_fields_", None)
        if not fields or fields[0][1] is not ctypes.c_uint32:
            raise TypeError("LpmTrie keys are Structures whose first field is the prefix length (ctypes.c_uint32)")
        super().__init__(key, value, max_entries, name=name, flags=flags | MapCreateFlags.NO_PREALLOC)


__all__ = [
    "ProbeMap", "PerfEventArray", "ProgArray", "LpmTrie", "StackTrace", "Log2Histogram", "LinearHistogram",
    "HashMap", "LruHashMap", "PerCpuHashMap", "Array", "PerCpuArray", "RingBuf", "to_python",
]
