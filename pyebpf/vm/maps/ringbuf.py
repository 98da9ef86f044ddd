"""BPF_MAP_TYPE_RINGBUF for the VM: byte-position accounting as kernel/bpf/ringbuf.c, records consumable from Python.

Each record occupies round_up(size + 8, 8) bytes of the ring (8-byte header: length with BUSY/DISCARD bits and
page offset). A reservation fails (NULL) when it would put the producer more than the ring size ahead of the
consumer or of the oldest record still reserved, as the kernel's __bpf_ringbuf_reserve does. Python consumes
committed records in order with `consume()`, stopping at the first one still reserved (libbpf's ring_buffer
semantics); discarded records are skipped.
"""
from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.records import record_decoder
from pyebpf.abi.uapi import BPF_RINGBUF_HDR_SZ, ENOTSUPP, RingbufFlags, RingbufQuery
from pyebpf.abi.map_create import PAGE_SIZE, validate_ringbuf_size
from pyebpf.errors import MapError
from pyebpf.vm.maps.base import VmMap

RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4


@dataclass(eq=False)
class RingRecord:
    """One reserved sample: its position in the ring, the live data buffer the program writes, and its state."""

    pos: int
    data: bytearray
    busy: bool = True
    discarded: bool = False
    committed: bytes = b""

    @property
    def footprint(self) -> int:
        return (self.size + BPF_RINGBUF_HDR_SZ + 7) & ~7

    @property
    def size(self) -> int:
        return len(self.data) if self.busy else len(self.committed)


class RingBufMap(VmMap):
    """A ring buffer of `max_entries` bytes."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.size = spec.max_entries
        self.mask = self.size - 1
        self.producer_pos = 0
        self.consumer_pos = 0
        self._records: deque[RingRecord] = deque()  # reserved or committed, not yet consumed, in ring order
        self._busy: dict[int, RingRecord] = {}  # still reserved, by position (insertion order = ring order)
        self._by_buffer: dict[int, RingRecord] = {}  # still reserved, by id() of their live buffer
        self._buffers: dict[int, list[bytearray]] = {}  # released record buffers by size, for reuse
        self.wakeups = 0

    # -- program side ------------------------------------------------------------------------------------------
    def reserve(self, size: int, flags: int = 0) -> RingRecord | None:
        """bpf_ringbuf_reserve: a record whose `data` the program fills, or None (the helper's NULL)."""
        if flags or size < 0 or size > RINGBUF_MAX_RECORD_SZ:
            return None
        length = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7
        if length > self.size:
            return None
        pending_pos = next(iter(self._busy), self.producer_pos)
        new_prod = self.producer_pos + length
        if new_prod - self.consumer_pos > self.mask or new_prod - pending_pos > self.mask:
            return None
        pool = self._buffers.get(size)
        if pool:
            buf = pool.pop()
            buf[:] = bytes(size)
        else:
            buf = bytearray(size)
        rec = RingRecord(self.producer_pos, buf)
        self._records.append(rec)
        self._busy[rec.pos] = rec
        self._by_buffer[id(buf)] = rec
        self.producer_pos = new_prod
        return rec

    def commit(self, rec: RingRecord, discard: bool, flags: int = 0) -> None:
        """bpf_ringbuf_submit / bpf_ringbuf_discard."""
        if not rec.busy:
            raise MapError("ring buffer record released twice", errno.EINVAL)
        # The bytes are copied out and the buffer reused by later reservations of the same size, as the kernel reuses
        # ring memory: the VM then maps a bounded number of record regions however many records a run produces.
        del self._busy[rec.pos]
        del self._by_buffer[id(rec.data)]
        rec.committed = bytes(rec.data)
        self._buffers.setdefault(len(rec.data), []).append(rec.data)
        rec.data = bytearray()
        rec.busy = False
        rec.discarded = discard
        if not flags & RingbufFlags.NO_WAKEUP:
            self.wakeups += 1

    def reserved_record(self, data: bytearray) -> RingRecord | None:
        """The still-reserved record whose live buffer is `data` (what submit/discard receive), or None."""
        rec = self._by_buffer.get(id(data))
        return rec if rec is not None and rec.data is data else None

    def output(self, data: bytes, flags: int = 0) -> int:
        """bpf_ringbuf_output: 0, -EINVAL for bad flags, -EAGAIN when there is no room."""
        if flags & ~int(RingbufFlags.NO_WAKEUP | RingbufFlags.FORCE_WAKEUP):
            return -errno.EINVAL
        rec = self.reserve(len(data))
        if rec is None:
            return -errno.EAGAIN
        rec.data[:] = data
        self.commit(rec, False, flags)
        return 0

    def query(self, what: int) -> int:
        """bpf_ringbuf_query."""
        if what == RingbufQuery.AVAIL_DATA:
            return self.producer_pos - self.consumer_pos
        if what == RingbufQuery.RING_SIZE:
            return self.size
        if what == RingbufQuery.CONS_POS:
            return self.consumer_pos
        if what == RingbufQuery.PROD_POS:
            return self.producer_pos
        return 0

    # -- consumer side (Python) ------------------------------------------------------------------------------
    def consume(self, limit: int | None = None, decode: Any = None) -> list[Any]:
        """Take committed records in ring order (skipping discarded ones), stopping at one still reserved: bytes, or
        `decode` applied (a ctypes type, read zero-padded when a record is shorter, or a function) — the same call
        as the kernel loader's RingBufKernelMap.consume()."""
        fn = record_decoder(decode)
        if fn is not None:
            return [fn(r) for r in self.consume(limit)]
        out: list[bytes] = []
        while self._records and not self._records[0].busy:
            if limit is not None and len(out) >= limit:
                break
            rec = self._records.popleft()
            self.consumer_pos = rec.pos + rec.footprint
            if not rec.discarded:
                out.append(rec.committed)
        return out

    def peek_records(self) -> list[bytes]:
        """Committed, not yet consumed records, without consuming them."""
        out = []
        for rec in self._records:
            if rec.busy:
                break
            if not rec.discarded:
                out.append(rec.committed)
        return out

    # -- map face: the kernel refuses element operations on ring buffers ----------------------------------------
    def lookup_raw(self, key: bytes) -> bytes | None:
        raise MapError("ring buffers have no elements", ENOTSUPP)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise MapError("ring buffers have no elements", ENOTSUPP)

    def delete_raw(self, key: bytes) -> None:
        raise MapError("ring buffers have no elements", ENOTSUPP)

    def keys_raw(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def clear(self) -> None:
        self.consume()


__all__ = ["RingBufMap", "RingRecord", "RingbufFlags", "RingbufQuery", "validate_ringbuf_size", "PAGE_SIZE",
           "BPF_RINGBUF_HDR_SZ"]
