"""Reading a BPF_MAP_TYPE_RINGBUF from user space: mmap, epoll, record headers, consumer position.

Layout (kernel/bpf/ringbuf.c): page 0 holds the consumer position (mapped read-write: we advance it), page 1 the
producer position, and the data pages follow, mapped twice in a row so a record that wraps past the end is still
contiguous in our mapping (mapped read-only). Each record starts with an 8-byte header: a u32 length whose bit 31
(BUSY) says the producer has reserved but not yet committed it and bit 30 (DISCARD) that it was discarded, then a
u32 page offset we do not need. Records are 8-byte aligned. We stop at the first BUSY record (records are consumed
in order) and move the consumer position past each record as we go, freeing its space for the producer.
"""
from __future__ import annotations

import errno
import mmap
import select
import struct
import time
from typing import Any, Callable, Iterator

from pyebpf.abi.maps import MapType
from pyebpf.abi.records import record_decoder
from pyebpf.errors import LoaderError
from pyebpf.loader.fdguard import Closeable
from pyebpf.abi.uapi import BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ

PAGE_SIZE = mmap.PAGESIZE
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

def _map_fd_and_size(ringbuf_map: Any, size: int | None) -> tuple[int, int]:
    if isinstance(ringbuf_map, int):
        if not size:
            raise LoaderError("a ring buffer given as an fd needs its size (max_entries)", errno.EINVAL)
        return ringbuf_map, size
    spec = getattr(ringbuf_map, "spec", None)
    if spec is not None and spec.type != MapType.RINGBUF:
        raise LoaderError(f"map {spec.name!r} is a {spec.type.name} map, not RINGBUF", errno.EINVAL)
    return int(ringbuf_map.fd), int(size or spec.max_entries)


class RingBuffer(Closeable):
    """Consumer of one BPF ring buffer map.

        with RingBuffer(prog.maps["events"], decode=Event) as rb:
            for event in rb.read(timeout=1.0): ...      # a list of what is there (waiting up to timeout)
            rb.poll(timeout=0.1, callback=handle)         # or callbacks
            for event in rb: ...                          # or an endless blocking iterator

    `decode` turns each record's bytes into a value: a ctypes Structure class, a function, or None for bytes.
    """

    def __init__(self, ringbuf_map: Any, decode: Any = None, callback: Callable[[Any], Any] | None = None,
                 size: int | None = None):
        self._map = ringbuf_map  # keep the map (and its fd) alive while we read it
        fd, self.size = _map_fd_and_size(ringbuf_map, size)
        if self.size <= 0 or self.size & (self.size - 1) or self.size % PAGE_SIZE:
            raise LoaderError(f"ring buffer size {self.size} is not a power-of-2 multiple of the page size",
                              errno.EINVAL)
        self._decode = record_decoder(decode)
        self.callback = callback
        self._mask = self.size - 1
        self._cons_mm: mmap.mmap | None = None
        self._prod_mm: mmap.mmap | None = None
        self._epoll: select.epoll | None = None
        try:
            self._cons_mm = mmap.mmap(fd, PAGE_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._prod_mm = mmap.mmap(fd, PAGE_SIZE + 2 * self.size, mmap.MAP_SHARED, mmap.PROT_READ,
                                      offset=PAGE_SIZE)
            self._epoll = select.epoll()
            self._epoll.register(fd, select.EPOLLIN)
        except OSError as e:
            self.close()
            raise LoaderError("mapping ring buffer", e.errno) from None
        self.records = 0  # records delivered so far
        self.discarded = 0  # records the producer discarded (skipped)

    # -- positions ---------------------------------------------------------------------------------------------
    @property
    def consumer_pos(self) -> int:
        return struct.unpack_from("<Q", self._cons_mm, 0)[0]

    @property
    def producer_pos(self) -> int:
        return struct.unpack_from("<Q", self._prod_mm, 0)[0]

    def available(self) -> int:
        """Bytes written by the producer and not yet consumed (headers and padding included)."""
        return self.producer_pos - self.consumer_pos

    # -- consuming ---------------------------------------------------------------------------------------------
    def consume(self, callback: Callable[[Any], Any] | None = None, limit: int | None = None) -> int:
        """Deliver every committed record now in the buffer to `callback` (or self.callback); returns the count.

        Without any callback the records are dropped (counted); use read() to collect them.
        """
        if self._prod_mm is None:
            raise LoaderError("ring buffer is closed", errno.EBADF)
        cb = callback or self.callback
        decode = self._decode
        prod_mm, cons_mm, mask = self._prod_mm, self._cons_mm, self._mask
        read_u32, read_u64, write_u64 = _U32.unpack_from, _U64.unpack_from, _U64.pack_into
        busy_or_discard = BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT
        # Hand space back to the producer every 64 KiB (or quarter ring) and whenever we catch up, not after every
        # record: one store per record costs as much as the rest of the loop.
        release_every = min(self.size >> 2, 1 << 16)
        cons = released = read_u64(cons_mm, 0)[0]
        prod = read_u64(prod_mm, 0)[0]
        n = 0
        while cons < prod:
            off = PAGE_SIZE + (cons & mask)  # offset in the producer mapping: data starts after its first page
            hdr = read_u32(prod_mm, off)[0]
            if hdr & busy_or_discard:
                if hdr & BPF_RINGBUF_BUSY_BIT:
                    break  # reserved, not committed yet: everything after it waits too
                self.discarded += 1
                length = hdr & ~busy_or_discard
            else:
                length = hdr
                if cb is not None:
                    # bytes; contiguous even across the end since the data pages are mapped twice
                    raw = prod_mm[off + BPF_RINGBUF_HDR_SZ:off + BPF_RINGBUF_HDR_SZ + length]
                    cb(decode(raw) if decode else raw)
                n += 1
            cons += (length + BPF_RINGBUF_HDR_SZ + 7) & ~7
            if cons - released >= release_every:
                write_u64(cons_mm, 0, cons)
                released = cons
            if limit is not None and n >= limit:
                break
            if cons >= prod:
                if cons != released:
                    write_u64(cons_mm, 0, cons)
                    released = cons
                prod = read_u64(prod_mm, 0)[0]
        if cons != released:
            write_u64(cons_mm, 0, cons)
        self.records += n
        return n

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the kernel signals data (epoll) or `timeout` seconds pass; True if there is data."""
        if self._epoll is None:
            raise LoaderError("ring buffer is closed", errno.EBADF)
        if self.available() > 0:
            return True
        try:
            events = self._epoll.poll(-1 if timeout is None else timeout)
        except InterruptedError:
            events = []
        return bool(events) or self.available() > 0

    def poll(self, timeout: float | None = None, callback: Callable[[Any], Any] | None = None) -> int:
        """Wait up to `timeout` seconds for data, then consume what is there; returns the number of records."""
        self.wait(timeout)
        return self.consume(callback)

    def read(self, timeout: float | None = 0.0, max_records: int | None = None) -> list[Any]:
        """Records available now, waiting up to `timeout` seconds for the first one (0: don't wait)."""
        out: list[Any] = []
        if self.available() == 0 and timeout != 0:
            self.wait(timeout)
        self.consume(out.append, limit=max_records)
        return out

    def read_until(self, count: int, timeout: float) -> list[Any]:
        """Collect at least `count` records or until `timeout` seconds have passed, whichever comes first."""
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.wait(left)
            self.consume(out.append)
        return out

    def __iter__(self) -> Iterator[Any]:
        """Endless blocking iterator over records (stop with break, or close() from elsewhere)."""
        batch: list[Any] = []
        while self._prod_mm is not None:
            self.wait(None)
            self.consume(batch.append)
            yield from batch
            batch.clear()

    # -- lifetime ----------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        """The epoll fd: add it to your own event loop (readable when records are waiting)."""
        if self._epoll is None:
            raise LoaderError("ring buffer is closed", errno.EBADF)
        return self._epoll.fileno()

    def close(self) -> None:
        for name in ("_prod_mm", "_cons_mm"):
            m = getattr(self, name, None)
            if m is not None:
                m.close()
                setattr(self, name, None)
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        self._map = None


__all__ = ["RingBuffer", "BPF_RINGBUF_BUSY_BIT", "BPF_RINGBUF_DISCARD_BIT", "BPF_RINGBUF_HDR_SZ"]
