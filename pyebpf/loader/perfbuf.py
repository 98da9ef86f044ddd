"""Reading bpf_perf_event_output() records: one PERF_COUNT_SW_BPF_OUTPUT event and mmap ring per CPU.

For each online CPU we open a BPF_OUTPUT software event, mmap its ring (one metadata page + 2^n data pages), store
its fd in the BPF_MAP_TYPE_PERF_EVENT_ARRAY at index cpu, and enable it. The kernel appends records at data_head;
we read from data_tail and then advance data_tail, which hands the space back. Records are perf_event_header
(u32 type, u16 misc, u16 size) + body and 8-byte aligned, so a header never straddles the end of the ring but a body
may: such a record is read in two pieces. PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW carries u32 size + the bytes the
program passed (padded to 8); PERF_RECORD_LOST carries (id, lost) — how many samples the kernel dropped because
the ring was full.
"""
from __future__ import annotations

import errno
import functools
import mmap
import operator
import os
import select
import struct
import time
from collections import deque
from itertools import repeat
from typing import Any, Callable

from pyebpf.abi.maps import MapType
from pyebpf._gc import collector_paused
from pyebpf.abi.records import CtypesDecoder, list_of_append, record_decoder
from pyebpf.errors import LoaderError
from pyebpf.loader import syscall
from pyebpf.loader.perf_event import PerfIoctl, PerfRecordType, bpf_output_event, perf_ioctl
from pyebpf.loader.fdguard import Closeable
from pyebpf.loader.shared_word import u64_words
from pyebpf.system.cpus import online_cpus

PAGE_SIZE = mmap.PAGESIZE
# struct perf_event_mmap_page: data_head/data_tail/data_offset/data_size sit at byte 1024 onwards.
_DATA_HEAD, _DATA_TAIL, _DATA_OFFSET, _DATA_SIZE = 1024, 1032, 1040, 1048
_HEADER = struct.Struct("<IHH")
_U32, _U64X2 = struct.Struct("<I"), struct.Struct("<QQ")
_SAMPLE, _LOST = int(PerfRecordType.SAMPLE), int(PerfRecordType.LOST)
_first = operator.itemgetter(0)
_RUN_MAX = 4096
"""Samples of one size cut out per struct.iter_unpack call at most (bounds the header check of a run)."""
_CHUNK = _RUN_MAX
"""Samples decoded before they are handed to the callback (see _drain)."""


@functools.lru_cache(maxsize=64)
def _sample_struct(raw_size: int, rsize: int) -> struct.Struct:
    """One PERF_RECORD_SAMPLE of `rsize` bytes: perf_event_header, u32 raw size, the raw bytes, padding."""
    return struct.Struct(f"<12x{raw_size}s{rsize - 12 - raw_size}x")


class _CpuRing:
    """One CPU's perf event fd and its mmap'ed ring."""

    def __init__(self, cpu: int, page_count: int, wakeup_events: int):
        self.cpu = cpu
        self.fd = bpf_output_event(cpu, wakeup_events)
        try:
            self.mm = mmap.mmap(self.fd, PAGE_SIZE * (1 + page_count), mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            os.close(self.fd)
            raise LoaderError(f"mmap of perf ring for cpu {cpu} ({page_count} pages)", e.errno) from None
        offset, size = struct.unpack_from("<QQ", self.mm, _DATA_OFFSET)
        self.data_offset = offset or PAGE_SIZE
        self.data_size = size or PAGE_SIZE * page_count
        self.head_tail: memoryview | None = u64_words(self.mm, _DATA_HEAD, 2)  # [0] data_head, [1] data_tail

    def close(self) -> None:
        if self.head_tail is not None:  # the view first: an exported buffer keeps its mmap open
            self.head_tail.release()
            self.head_tail = None
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class PerfBuffer(Closeable):
    """Consumer of a BPF_MAP_TYPE_PERF_EVENT_ARRAY filled by bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, ...).

        with PerfBuffer(prog.maps["events"], decode=Event, page_count=8) as pb:
            events = pb.read(timeout=1.0)        # list of decoded samples
            pb.poll(0.1, callback=on_sample, lost_callback=on_lost)
            pb.lost                              # samples the kernel dropped, all CPUs

    `page_count` (a power of 2) sizes each CPU's ring. Callbacks get (cpu, value) for samples when
    `with_cpu=True`, else the value; lost_callback(cpu, count).
    """

    def __init__(self, perf_map: Any, decode: Any = None, callback: Callable[..., Any] | None = None,
                 lost_callback: Callable[[int, int], Any] | None = None, page_count: int = 8,
                 cpus: list[int] | None = None, wakeup_events: int = 1, with_cpu: bool = False):
        if page_count <= 0 or page_count & (page_count - 1):
            raise LoaderError(f"page_count must be a power of 2, not {page_count}", errno.EINVAL)
        self._map = perf_map
        spec = getattr(perf_map, "spec", None)
        if spec is not None and spec.type != MapType.PERF_EVENT_ARRAY:
            raise LoaderError(f"map {spec.name!r} is a {spec.type.name} map, not PERF_EVENT_ARRAY", errno.EINVAL)
        self._map_fd = int(perf_map) if isinstance(perf_map, int) else int(perf_map.fd)
        max_entries = spec.max_entries if spec is not None else None
        self._decode = record_decoder(decode)
        self.callback = callback
        self.lost_callback = lost_callback
        self.with_cpu = with_cpu
        self.lost = 0
        self.samples = 0
        self._rings: dict[int, _CpuRing] = {}
        self._slots: list[int] = []
        self._epoll: select.epoll | None = select.epoll()
        try:
            for cpu in (cpus if cpus is not None else online_cpus()):
                if max_entries is not None and cpu >= max_entries:
                    continue  # the array is smaller than the CPU count: those CPUs cannot output
                ring = _CpuRing(cpu, page_count, wakeup_events)
                self._rings[cpu] = ring
                syscall.map_update_elem(self._map_fd, struct.pack("<I", cpu), struct.pack("<I", ring.fd))
                self._slots.append(cpu)
                perf_ioctl(ring.fd, PerfIoctl.ENABLE, 0, f"enabling BPF_OUTPUT event on cpu {cpu}")
                self._epoll.register(ring.fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        if not self._rings:
            self.close()
            raise LoaderError("no CPU to open a perf buffer on", errno.ENODEV)

    # -- reading -----------------------------------------------------------------------------------------------
    def _drain(self, ring: _CpuRing, on_sample: Callable[..., Any] | None,
               on_lost: Callable[[int, int], Any] | None, arrays: bool = False) -> int:
        """Deliver the records of one CPU's ring. Everything available is copied out in one or two slices (two when
        it wraps past the ring's end), a run of equal sample records is cut out with one struct.iter_unpack, and
        the records are decoded and delivered a chunk at a time, the tail moving after each chunk."""
        mm, head_tail = ring.mm, ring.head_tail
        head, tail = head_tail[0], head_tail[1]
        if tail >= head:
            return 0
        base, size, cpu = ring.data_offset, ring.data_size, ring.cpu
        off, avail = tail % size, head - tail
        if off + avail <= size:
            buf = mm[base + off:base + off + avail]
        else:  # records that wrap past the end of the ring come out whole from the joined pieces
            buf = mm[base + off:base + size] + mm[base:base + off + avail - size]
        decode = self._decode if on_sample is not None else None  # samples nobody receives are not decoded
        arrays = arrays and decode is not None
        paused = type(decode) is CtypesDecoder and not arrays  # ctypes samples: only our code runs while GC waits
        n, pos, end = 0, 0, len(buf)
        while pos < end:
            # a chunk of samples at a time: the ones a callback does not keep are freed before the next chunk is
            # made, so the collector never has to walk them
            if paused:
                pieces, pos = collector_paused(self._parse, buf, cpu, decode, arrays, pos, _CHUNK)
            else:
                pieces, pos = self._parse(buf, cpu, decode, arrays, pos, _CHUNK)
            for samples, lost in pieces:
                self._deliver(samples, on_sample, cpu)
                n += sum(map(len, samples)) if arrays else len(samples)  # (arrays: one per run of samples)
                if lost and on_lost is not None:
                    on_lost(cpu, lost)  # in order: the samples before the loss first
            pieces = samples = None
            head_tail[1] = tail + pos  # one 8-byte store (see shared_word: a torn tail makes the kernel drop samples)
        self.samples += n
        return n

    def _parse(self, buf: bytes, cpu: int, decode: Any, arrays: bool = False, pos: int = 0,
               limit: int | None = None) -> tuple[list[tuple[list[Any], int]], int]:
        """The records of `buf` from offset `pos` on as pieces (samples, then the count of a LOST record after them
        or 0), decoded when `decode` is given (with `arrays`, one ctypes array per run of equal samples), stopping
        after `limit` samples; and the offset after the last record read."""
        view = memoryview(buf)
        header, read_u32 = _HEADER.unpack_from, _U32.unpack_from
        decode_run = decode.run if type(decode) is CtypesDecoder else None
        samples: list[Any] = []
        pieces = [(samples, 0)]
        end = len(buf)
        got = 0
        while pos < end and (limit is None or got < limit):
            rtype, _misc, rsize = header(buf, pos)  # 8-byte aligned: a header never wraps
            if rsize < _HEADER.size or pos + rsize > end:
                raise LoaderError(f"corrupt perf record (size {rsize}) on cpu {cpu}", errno.EIO)
            if rtype == _SAMPLE:
                raw_size = read_u32(buf, pos + 8)[0]
                count = (end - pos) // rsize if 12 + raw_size <= rsize and not rsize & 7 else 1
                if count > 1 and buf[pos:pos + 12] != buf[pos + rsize:pos + rsize + 12]:
                    count = 1  # records of varying sizes: one at a time
                elif count > 1:  # the run of samples with this very header and raw size
                    count = min(count, _RUN_MAX) if limit is None else min(count, _RUN_MAX, limit - got)
                    run = view[pos:pos + count * rsize]
                    heads = run.cast("Q")[::rsize // 8]
                    sizes = run.cast("I")[2::rsize // 4]
                    # all alike: compared as bytes in C (no int object per record); else find the first that differs
                    if heads.tobytes() != buf[pos:pos + 8] * count or sizes.tobytes() != buf[pos + 8:pos + 12] * count:
                        heads, sizes = heads.tolist(), sizes.tolist()
                        count = next(i for i in range(count) if heads[i] != heads[0] or sizes[i] != raw_size)
                if arrays:
                    samples.append(decode.array(buf, pos + 12, rsize, count, raw_size))
                elif count == 1:
                    raw = buf[pos + 12:pos + 12 + raw_size]
                    samples.append(decode(raw) if decode is not None else raw)
                else:
                    decoded = decode_run(buf, pos + 12, rsize, count, raw_size) if decode_run else None
                    if decoded is None:
                        decoded = map(_first, _sample_struct(raw_size, rsize).iter_unpack(
                            view[pos:pos + count * rsize]))
                        if decode is not None:
                            decoded = map(decode, decoded)
                    samples.extend(decoded)
                pos += count * rsize
                got += count
                continue
            if rtype == _LOST:
                _id, lost = _U64X2.unpack_from(buf, pos + 8)
                self.lost += lost
                pieces[-1] = (samples, lost)
                samples = []
                pieces.append((samples, 0))
            pos += rsize
        return pieces, pos

    def _deliver(self, values: list[Any], on_sample: Callable[..., Any] | None, cpu: int) -> None:
        """Hand decoded samples (or arrays of them) to the callback, one call each (the loop in C)."""
        if on_sample is not None and values:
            sink = list_of_append(on_sample)
            if sink is not None and not self.with_cpu:
                sink.extend(values)  # `out.append` (read()): the same records in the same order, one call
            elif self.with_cpu:
                deque(map(on_sample, repeat(cpu, len(values)), values), 0)
            else:
                deque(map(on_sample, values), 0)

    def consume(self, callback: Callable[..., Any] | None = None,
                lost_callback: Callable[[int, int], Any] | None = None) -> int:
        """Drain every CPU's ring now; returns the number of samples delivered."""
        if self._epoll is None:
            raise LoaderError("perf buffer is closed", errno.EBADF)
        cb, lcb = callback or self.callback, lost_callback or self.lost_callback
        return sum(self._drain(ring, cb, lcb) for ring in self._rings.values())

    def consume_arrays(self, callback: Callable[..., Any] | None = None,
                       lost_callback: Callable[[int, int], Any] | None = None) -> int:
        """Drain every CPU's ring now as ctypes arrays of the `decode` type: one array per run of equal samples (up
        to _RUN_MAX), in order per CPU, to callback(array) or callback(cpu, array) with `with_cpu`; returns the
        number of samples. No Python object per sample (see RingBuffer.consume_arrays). Needs a ctypes Structure,
        Union or array type as `decode`."""
        if self._epoll is None:
            raise LoaderError("perf buffer is closed", errno.EBADF)
        if type(self._decode) is not CtypesDecoder:
            raise LoaderError("consume_arrays needs a ctypes Structure, Union or array type as decode",
                              errno.EINVAL)
        cb, lcb = callback or self.callback, lost_callback or self.lost_callback
        return sum(self._drain(ring, cb, lcb, True) for ring in self._rings.values())

    def poll(self, timeout: float | None = None, callback: Callable[..., Any] | None = None,
             lost_callback: Callable[[int, int], Any] | None = None) -> int:
        """Wait up to `timeout` seconds for any CPU's ring to have data, then drain all rings."""
        if self._epoll is None:
            raise LoaderError("perf buffer is closed", errno.EBADF)
        try:
            self._epoll.poll(-1 if timeout is None else timeout)
        except InterruptedError:
            pass
        return self.consume(callback, lost_callback)

    def read(self, timeout: float | None = 0.0) -> list[Any]:
        """Samples available now (waiting up to `timeout` seconds if there are none yet)."""
        out: list[Any] = []
        collect = (lambda cpu, v: out.append((cpu, v))) if self.with_cpu else out.append
        self.consume(collect)
        if not out and timeout != 0:
            self.poll(timeout, collect)
        return out

    def read_until(self, count: int, timeout: float) -> list[Any]:
        out: list[Any] = []
        collect = (lambda cpu, v: out.append((cpu, v))) if self.with_cpu else out.append
        deadline = time.monotonic() + timeout
        self.consume(collect)
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.poll(left, collect)
        return out

    def __iter__(self):
        """Endless blocking iterator over samples ((cpu, value) pairs when with_cpu); stops when closed."""
        batch: list[Any] = []
        collect = (lambda cpu, v: batch.append((cpu, v))) if self.with_cpu else batch.append
        while self._epoll is not None:
            self.poll(None, collect)
            yield from batch
            batch.clear()

    @property
    def cpus(self) -> list[int]:
        return sorted(self._rings)

    def fileno(self) -> int:
        if self._epoll is None:
            raise LoaderError("perf buffer is closed", errno.EBADF)
        return self._epoll.fileno()

    # -- lifetime ----------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove our events from the map, disable and unmap them, close every fd. Idempotent."""
        for cpu in self._slots:
            try:
                syscall.map_delete_elem(self._map_fd, struct.pack("<I", cpu))
            except LoaderError:
                pass  # map already closed, or entry replaced
        self._slots = []
        for ring in self._rings.values():
            ring.close()
        self._rings = {}
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        self._map = None


__all__ = ["PerfBuffer"]
