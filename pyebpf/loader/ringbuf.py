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
import functools
import mmap
import operator
import select
import struct
import time
from collections import deque
from typing import Any, Callable, Iterator

from pyebpf.abi.maps import MapType
from pyebpf._gc import collector_paused
from pyebpf.abi.records import CtypesDecoder, list_of_append, record_decoder
from pyebpf.errors import LoaderError
from pyebpf.loader.fdguard import Closeable
from pyebpf.loader.shared_word import u64_words
from pyebpf.abi.uapi import BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ

PAGE_SIZE = mmap.PAGESIZE
_U32 = struct.Struct("<I")

_BUSY_OR_DISCARD = BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT
_first = operator.itemgetter(0)
_RUN_MAX = 4096
"""Records of one length cut out per struct.iter_unpack call at most (bounds the header check of a run)."""
_CHUNK = _RUN_MAX
"""Records decoded before they are handed to the callback (see consume)."""
_EACH, _LISTS, _ARRAYS = range(3)
"""How consume hands records over: one call per record, lists of records, ctypes arrays of runs."""


@functools.lru_cache(maxsize=64)
def _slot_struct(length: int, step: int) -> struct.Struct:
    """One ring slot holding a committed record of `length` bytes: 8-byte header, the record, padding to `step`."""
    return struct.Struct(f"<{BPF_RINGBUF_HDR_SZ}x{length}s{step - BPF_RINGBUF_HDR_SZ - length}x")


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
    Records are delivered in ring order; `discarded` counts the ones the producer discarded. A record the kernel
    refused because the ring was full never reaches the ring and no counter of them exists: a program that must
    account for them counts bpf_ringbuf_output/reserve failures itself (benchmarks/events_speed.py does).
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
        self._cons: memoryview | None = None  # the positions as whole words (see shared_word: never torn)
        self._prod: memoryview | None = None
        try:
            self._cons_mm = mmap.mmap(fd, PAGE_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._prod_mm = mmap.mmap(fd, PAGE_SIZE + 2 * self.size, mmap.MAP_SHARED, mmap.PROT_READ,
                                      offset=PAGE_SIZE)
            self._cons, self._prod = u64_words(self._cons_mm, 0), u64_words(self._prod_mm, 0)
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
        return self._cons[0]

    @property
    def producer_pos(self) -> int:
        return self._prod[0]

    def available(self) -> int:
        """Bytes written by the producer and not yet consumed (headers and padding included)."""
        return self.producer_pos - self.consumer_pos

    # -- consuming ---------------------------------------------------------------------------------------------
    def consume(self, callback: Callable[[Any], Any] | None = None, limit: int | None = None,
                batch: bool = False) -> int:
        """Deliver every committed record now in the buffer to `callback` (or self.callback); returns the count.
        With `batch=True` the callback gets lists of records (up to _CHUNK each) instead of one call per record.

        Without any callback the records are dropped (counted); use read() to collect them. One pass copies all
        that is available in one slice (the data pages are mapped twice, so it is contiguous), finds the records
        of a run of equal lengths with one strided header read and cuts them out with struct.iter_unpack (or
        decodes them in place), and hands them over a chunk at a time, moving the consumer position after each.
        """
        return self._consume(callback, limit, _LISTS if batch else _EACH)

    def consume_arrays(self, callback: Callable[[Any], Any] | None = None, limit: int | None = None) -> int:
        """Deliver every committed record now in the buffer as ctypes arrays of the `decode` type: one array
        (`decode * n`) per run of records of one length, up to _CHUNK records each, in order; returns the number of
        records. No Python object is made per record: a caller that keeps the arrays keeps 1/_CHUNK of the objects
        (len(a), a[i] gives an instance sharing the array's memory, memoryview(a) or numpy.frombuffer(a) for
        columns). Needs a ctypes Structure, Union or array type as `decode`."""
        if type(self._decode) is not CtypesDecoder:
            raise LoaderError("consume_arrays needs a ctypes Structure, Union or array type as decode",
                              errno.EINVAL)
        return self._consume(callback, limit, _ARRAYS)

    def _consume(self, callback: Callable[[Any], Any] | None, limit: int | None, mode: int) -> int:
        if self._prod_mm is None:
            raise LoaderError("ring buffer is closed", errno.EBADF)
        cb = callback or self.callback
        decode = self._decode if cb is not None else None  # records nobody receives are counted, not decoded
        prod_mm, cons_word, prod_word, mask = self._prod_mm, self._cons, self._prod, self._mask
        cons = cons_word[0]
        prod = prod_word[0]
        n = 0
        parse = self._parse
        arrays = mode == _ARRAYS and decode is not None
        # ctypes records one by one: only our code runs while the collector waits (arrays make few objects)
        paused = type(decode) is CtypesDecoder and not arrays
        sink = list_of_append(cb) if mode == _EACH else None  # `out.append` (read()): records go into that list
        while cons < prod and (limit is None or n < limit):
            start = PAGE_SIZE + (cons & mask)  # offset in the producer mapping: data starts after its first page
            buf = prod_mm[start:start + (prod - cons)]  # all that is there (at most the ring's size)
            pos, stopped = 0, False
            while not stopped and pos < len(buf) and (limit is None or n < limit):
                # Records are decoded and delivered a chunk at a time: the ones a callback does not keep are freed
                # before the next chunk is made, so the collector never has to walk them.
                records: list[Any] = sink if sink is not None else []
                left = _CHUNK if limit is None else min(_CHUNK, limit - n)
                if paused:
                    end, stopped, got = collector_paused(parse, buf, pos, records, left, decode, arrays)
                else:
                    end, stopped, got = parse(buf, pos, records, left, decode, arrays)
                if end == pos:
                    stopped = True  # BUSY first, or nothing whole: what follows waits
                    break
                if records is not sink and cb is not None and records:
                    if mode == _LISTS:
                        cb(records)
                    else:
                        deque(map(cb, records), 0)  # one call per record (or array), the loop in C
                n += got
                cons += end - pos
                pos = end
                cons_word[0] = cons  # hand the space back to the producer (one 8-byte store)
            if stopped:
                break  # a record reserved but not committed yet: everything after it waits too
            if cons >= prod:
                prod = prod_word[0]
        self.records += n
        return n

    def _parse(self, buf: bytes, pos: int, out: list[Any], limit: int | None, decode: Any,
               arrays: bool = False) -> tuple[int, bool, int]:
        """Append the committed records of `buf` from offset `pos` on to `out` (decoded when `decode` is given; with
        `arrays`, one ctypes array per run of equal lengths), at most `limit` records; (offset after the last one,
        stopped at BUSY, records appended)."""
        read_u32 = _U32.unpack_from
        decode_run = decode.run if type(decode) is CtypesDecoder else None
        end = len(buf)
        view = memoryview(buf)
        got = 0
        while pos + BPF_RINGBUF_HDR_SZ <= end and (limit is None or got < limit):
            hdr = read_u32(buf, pos)[0]
            if hdr & _BUSY_OR_DISCARD:
                if hdr & BPF_RINGBUF_BUSY_BIT:
                    return pos, True, got
                self.discarded += 1
                step = ((hdr & ~_BUSY_OR_DISCARD) + BPF_RINGBUF_HDR_SZ + 7) & ~7
                if pos + step > end:
                    break
                pos += step
                continue
            step = (hdr + BPF_RINGBUF_HDR_SZ + 7) & ~7
            count = (end - pos) // step  # records of this length that could follow back to back
            if limit is not None:
                count = min(count, limit - got)
            if count == 0:
                break  # (cannot happen: the producer position only moves past whole records)
            if count > 1 and read_u32(buf, pos + step)[0] != hdr:
                count = 1  # records of varying lengths: one at a time
            elif count > 1:  # the run of records with this very header (same length, committed)
                count = min(count, _RUN_MAX)
                headers = view[pos:pos + count * step].cast("I")[::step // 4]
                if headers.tobytes() != buf[pos:pos + 4] * count:  # (compared as bytes in C)
                    count = next(i for i, h in enumerate(headers.tolist()) if h != hdr)
            if arrays:
                out.append(decode.array(buf, pos + BPF_RINGBUF_HDR_SZ, step, count, hdr))
            else:
                decoded = decode_run(buf, pos + BPF_RINGBUF_HDR_SZ, step, count, hdr) if decode_run else None
                if decoded is not None:
                    out.extend(decoded)
                else:
                    records = map(_first, _slot_struct(hdr, step).iter_unpack(view[pos:pos + count * step]))
                    out.extend(map(decode, records) if decode is not None else records)
            got += count
            pos += count * step
        return pos, False, got

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
        for name in ("_prod", "_cons"):  # the word views first: an exported buffer keeps its mmap open
            view = getattr(self, name, None)
            if view is not None:
                view.release()
                setattr(self, name, None)
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
