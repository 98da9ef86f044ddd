"""Events out of the kernel: ring buffer, perf buffer and trace_pipe, fed by tracepoint programs we trigger."""
from __future__ import annotations

import ctypes
import errno
import os
import time
from contextlib import contextmanager

import pytest

from pyebpf.isa.builder import R0, R1, R2, R3, R4, R5, R6, R7, R8, R10, Builder

pytestmark = pytest.mark.kernel

MAGIC = 0x1122334455667788


class Event(ctypes.Structure):
    _fields_ = [("seq", ctypes.c_uint32), ("pid", ctypes.c_uint32), ("ts", ctypes.c_uint64),
                ("magic", ctypes.c_uint64), ("seq_again", ctypes.c_uint32)]


EVENT_SIZE = ctypes.sizeof(Event)  # 32 with tail padding
PAYLOAD = 28  # bytes the program emits (no tail padding): records of odd sizes exercise wrap-around


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@contextmanager
def pinned_to_one_cpu():
    """Keep this process on one CPU so per-CPU perf rings and their LOST records are deterministic."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(old)})
    try:
        yield min(old)
    finally:
        os.sched_setaffinity(0, old)


def event_program(kind: str, ring_size: int = 1 << 16, discard_odd: bool = False):
    """On sys_enter_getppid of our process: emit Event{seq, pid, ktime, MAGIC, seq} to a ring/perf buffer.

    `seq` comes from an atomic fetch-add on counts[0]; failed outputs are counted in counts[1].
    """
    b = Builder("tracepoint", attach_to="syscalls/sys_enter_getppid")
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=2)
    if kind == "perf":
        b.map("events", "perf_event_array", key=4, value=4, max_entries=os.cpu_count() or 1)
    else:
        b.map("events", "ringbuf", max_entries=ring_size)
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != os.getpid(), "out")
    b.mov(R7, R0)
    # seq = fetch_add(counts[0], 1)
    b.store(R10 - 4, 0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")
    b.mov(R8, 1).atomic_add(R0 + 0, R8, fetch=True)  # R8 = old value
    if kind == "reserve":
        b.ld_map(R1, "events").mov(R2, EVENT_SIZE).mov(R3, 0).call("ringbuf_reserve")
        b.jump_if(R0 == 0, "failed")
        b.mov(R6, R0)
        b.store(R6 + 0, R8, "u32").store(R6 + 4, R7, "u32").store(R6 + 24, R8, "u32")
        b.ld_imm64(R1, MAGIC).store(R6 + 16, R1, "u64")
        b.call("ktime_get_ns").store(R6 + 8, R0, "u64")
        b.mov(R1, R6).mov(R2, 0)
        if discard_odd:
            b.mov(R3, R8).and_(R3, 1)
            with b.if_(R3 != 0):
                b.call("ringbuf_discard").ja("out")
        b.call("ringbuf_submit").ja("out")
    else:
        b.store(R10 - 40, R8, "u32").store(R10 - 36, R7, "u32").store(R10 - 16, R8, "u32")
        b.ld_imm64(R1, MAGIC).store(R10 - 24, R1, "u64")
        b.call("ktime_get_ns").store(R10 - 32, R0, "u64")
        if kind == "perf":
            b.mov(R1, R6).ld_map(R2, "events").ld_imm64(R3, 0xFFFFFFFF).mov(R4, R10).add(R4, -40).mov(R5, PAYLOAD)
            b.call("perf_event_output")
        else:
            b.ld_map(R1, "events").mov(R2, R10).add(R2, -40).mov(R3, PAYLOAD).mov(R4, 0).call("ringbuf_output")
        b.jump_if(R0 == 0, "out")
    b.label("failed")
    b.store(R10 - 4, 1, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")
    b.mov(R1, 1).atomic_add(R0 + 0, R1)
    b.label("out")
    b.ret(0)
    return b.build()


def decode_event(raw: bytes) -> Event:
    return Event.from_buffer_copy(raw.ljust(EVENT_SIZE, b"\0")[:EVENT_SIZE])


def check_events(events, first_seq: int, count: int) -> None:
    assert [e.seq for e in events] == list(range(first_seq, first_seq + count))
    assert all(e.pid == os.getpid() and e.magic == MAGIC and e.seq_again == e.seq for e in events)


def trigger(n: int) -> None:
    for _ in range(n):
        os.getppid()


# ---- ring buffer -------------------------------------------------------------------------------------------------

def test_ringbuf_records_from_tracepoint_in_order_with_kernel_timestamps():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    with load(event_program("output")) as prog, RingBuffer(prog.maps["events"], decode=decode_event) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        start = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        trigger(50)
        events = rb.read_until(50, timeout=2.0)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        check_events(events, 0, 50)
        stamps = [e.ts for e in events]
        assert stamps == sorted(stamps) and start <= stamps[0] and stamps[-1] <= now
        assert rb.available() == 0 and rb.consumer_pos == rb.producer_pos == 50 * (8 + PAYLOAD + 4)
        assert rb.read(timeout=0.05) == []


def test_ringbuf_wraps_around_many_times_without_losing_order():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    size = os.sysconf("SC_PAGE_SIZE")  # the smallest ring: 4096 bytes hold ~113 records of 36 bytes
    with load(event_program("output", ring_size=size)) as prog, RingBuffer(prog.maps["events"], Event) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        received = []
        for _ in range(40):
            trigger(100)
            received.extend(rb.read_until(100, timeout=2.0))
        check_events(received, 0, 4000)
        assert prog.maps["counts"][1] == 0
        assert rb.consumer_pos > 30 * size


def test_ringbuf_full_then_drained_counts_failures():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    size = os.sysconf("SC_PAGE_SIZE")
    with load(event_program("output", ring_size=size)) as prog, RingBuffer(prog.maps["events"], Event) as rb:
        with attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
            trigger(1000)
            got = rb.read(timeout=1.0)
        failed = prog.maps["counts"][1]
        assert len(got) == size // 40  # 36-byte records padded to 40
        assert len(got) + failed == 1000
        check_events(got, 0, len(got))


def test_ringbuf_reserve_submit_and_discard():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    seen = []
    with load(event_program("reserve", discard_odd=True)) as prog, \
            RingBuffer(prog.maps["events"], decode=Event, callback=seen.append) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(30)
        assert rb.wait(1.0)
        deadline = time.monotonic() + 2
        while len(seen) < 15 and time.monotonic() < deadline:
            rb.poll(0.1)
        assert [e.seq for e in seen] == list(range(0, 30, 2))
        assert all(e.magic == MAGIC and e.seq_again == e.seq for e in seen)
        assert rb.discarded == 15 and rb.records == 15


def test_ringbuf_batches_and_limits_in_one_pass():
    """consume(batch=True) hands lists (one per pass) with the same records a per-record callback gets; a limit stops
    inside a run of equal-length records and the rest comes next time, in order."""
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    with load(event_program("output")) as prog, RingBuffer(prog.maps["events"], decode=Event) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(300)
        assert rb.wait(1.0)
        first: list = []
        assert rb.consume(first.append, limit=7) == 7
        batches: list = []
        deadline = time.monotonic() + 2
        while sum(map(len, batches)) < 293 and time.monotonic() < deadline:
            rb.wait(0.1)
            rb.consume(batches.append, batch=True)
        assert all(isinstance(b, list) for b in batches)
        check_events(first + [e for b in batches for e in b], 0, 300)
        assert rb.records == 300 and rb.available() == 0


@pytest.mark.parametrize("kind", ["output", "reserve"])
def test_ringbuf_consume_arrays_keeps_records_in_order(kind: str):
    """consume_arrays hands ctypes arrays of Event holding every committed record in order (28-byte records from
    ringbuf_output zero-filled to the 32-byte type; reserved records with the odd ones discarded are skipped), a
    limit stops inside a run, and the rest comes next time."""
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    discard = kind == "reserve"
    with load(event_program(kind, discard_odd=discard)) as prog, \
            RingBuffer(prog.maps["events"], decode=Event) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(600)
        expected = 300 if discard else 600
        assert rb.wait(1.0)
        arrays: list = []
        assert rb.consume_arrays(arrays.append, limit=7) == 7
        deadline = time.monotonic() + 2
        while sum(map(len, arrays)) < expected and time.monotonic() < deadline:
            rb.wait(0.1)
            rb.consume_arrays(arrays.append)
        assert all(isinstance(a, ctypes.Array) and a._type_ is Event for a in arrays)
        events = [e for a in arrays for e in a]
        if discard:
            assert [e.seq for e in events] == list(range(0, 600, 2)) and rb.discarded == 300
            assert all(e.pid == os.getpid() and e.magic == MAGIC and e.seq_again == e.seq for e in events)
        else:
            check_events(events, 0, 600)
        assert rb.records == expected and rb.available() == 0 and prog.maps["counts"][1] == 0


def test_ringbuf_delivers_a_pass_in_chunks(monkeypatch: pytest.MonkeyPatch):
    """A pass decodes and delivers a chunk of records at a time (the ones a callback drops are freed before the next
    chunk is made): batches never exceed a chunk, a limit stops inside one, and nothing is lost or reordered."""
    from pyebpf.loader import ringbuf
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint

    monkeypatch.setattr(ringbuf, "_CHUNK", 16)
    with load(event_program("output")) as prog, ringbuf.RingBuffer(prog.maps["events"], decode=Event) as rb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(300)
        assert rb.wait(1.0)
        first: list = []
        assert rb.consume(first.append, limit=21) == 21
        batches: list = []
        deadline = time.monotonic() + 2
        while sum(map(len, batches)) < 279 and time.monotonic() < deadline:
            rb.wait(0.1)
            rb.consume(batches.append, batch=True)
        assert batches and max(map(len, batches)) <= 16
        check_events(first + [e for b in batches for e in b], 0, 300)
        assert rb.records == 300 and rb.available() == 0


def test_ringbuf_iterator_and_bad_maps():
    from pyebpf.errors import LoaderError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.ringbuf import RingBuffer

    with load(event_program("output")) as prog:
        before = _fds()
        with pytest.raises(LoaderError):
            RingBuffer(prog.maps["counts"])
        with RingBuffer(prog.maps["events"], decode=lambda raw: raw[:4]) as rb, \
                attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
            trigger(3)
            it = iter(rb)
            assert [next(it) for _ in range(3)] == [i.to_bytes(4, "little") for i in range(3)]
        with pytest.raises(LoaderError):
            rb.consume()
        assert _fds() == before


# ---- perf buffer -------------------------------------------------------------------------------------------------

def test_perfbuf_samples_from_tracepoint():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.perfbuf import PerfBuffer
    from pyebpf.system import online_cpus

    with load(event_program("perf")) as prog, \
            PerfBuffer(prog.maps["events"], decode=decode_event, with_cpu=True) as pb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        assert pb.cpus == [c for c in online_cpus() if c < (os.cpu_count() or 1)]
        trigger(40)
        got = pb.read_until(40, timeout=2.0)
        assert {cpu for cpu, _ in got} <= set(pb.cpus)
        check_events(sorted((e for _, e in got), key=lambda e: e.seq), 0, 40)
        assert pb.lost == 0 and prog.maps["counts"][1] == 0
        trigger(3)
        it = iter(pb)
        assert sorted(next(it)[1].seq for _ in range(3)) == [40, 41, 42]


def test_perfbuf_tiny_buffer_reports_lost_samples():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.perfbuf import PerfBuffer

    lost_reports = []
    with pinned_to_one_cpu() as cpu, load(event_program("perf")) as prog, \
            PerfBuffer(prog.maps["events"], decode=decode_event, page_count=1,
                       lost_callback=lambda c, n: lost_reports.append((c, n))) as pb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(1000)
        first = pb.read(timeout=1.0)
        assert 0 < len(first) < 1000
        trigger(1)  # the kernel writes the LOST record before the next sample that fits
        rest = pb.read_until(1, timeout=1.0)
        samples = first + rest
        assert pb.lost == sum(n for _, n in lost_reports) > 0
        assert len(samples) + pb.lost == 1001
        assert {c for c, _ in lost_reports} == {cpu}
        assert [e.seq for e in first] == list(range(len(first)))
        assert rest[-1].seq == 1000
        # the kernel-side helper saw the same failures
        assert prog.maps["counts"][1] == pb.lost


def test_perfbuf_wrap_around_keeps_records_intact():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.loader.perfbuf import PerfBuffer

    # each sample record is 8 (header) + 4 (raw size) + 28 payload padded = 40 bytes: not a divisor of the
    # 4096-byte ring, so records regularly straddle its end and must be joined from two pieces.
    with pinned_to_one_cpu(), load(event_program("perf")) as prog, \
            PerfBuffer(prog.maps["events"], decode=decode_event, page_count=1) as pb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        got = []
        for _ in range(30):
            trigger(70)
            got.extend(pb.read_until(70, timeout=2.0))
        check_events(got, 0, 2100)
        assert pb.lost == 0


def test_perfbuf_delivers_a_drain_in_chunks(monkeypatch: pytest.MonkeyPatch):
    """A drain decodes and delivers a chunk of samples at a time, the tail moving after each: nothing lost or
    reordered, and a LOST record still reaches lost_callback after the samples before it."""
    from pyebpf.loader import load, perfbuf
    from pyebpf.loader.attach import attach_tracepoint

    monkeypatch.setattr(perfbuf, "_CHUNK", 16)
    order: list = []
    with pinned_to_one_cpu(), load(event_program("perf")) as prog, \
            perfbuf.PerfBuffer(prog.maps["events"], decode=Event, page_count=4,
                               callback=lambda e: order.append(e.seq),
                               lost_callback=lambda c, n: order.append(("lost", n))) as pb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        trigger(300)
        assert pb.consume() == 300 and order == list(range(300))
        order.clear()
        trigger(1000)  # more than 4 pages hold: the kernel drops samples and says so with a LOST record
        first = pb.consume()
        trigger(1)
        rest = pb.consume()
        assert order[:first] == list(range(300, 300 + first)) and first < 1000
        lost = [x for x in order if isinstance(x, tuple)]
        assert lost and sum(n for _, n in lost) == pb.lost == 1000 + 1 - first - rest
        assert order[-1] == 1300 and prog.maps["counts"][1] == pb.lost


@pytest.mark.parametrize("with_cpu", [False, True])
def test_perfbuf_consume_arrays_through_wrap_around(with_cpu: bool):
    """consume_arrays hands ctypes arrays of Event (28-byte samples zero-filled to the type) holding every sample in
    order, records straddling the ring's end included; with_cpu gives (cpu, array)."""
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.errors import LoaderError
    from pyebpf.loader.perfbuf import PerfBuffer

    with pinned_to_one_cpu() as cpu, load(event_program("perf")) as prog, \
            PerfBuffer(prog.maps["events"], decode=Event, page_count=1, with_cpu=with_cpu) as pb, \
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        got: list = []
        for _ in range(30):
            trigger(70)
            assert pb.consume_arrays(got.append if not with_cpu else lambda c, a: got.append((c, a))) == 70
        if with_cpu:
            assert {c for c, _ in got} == {cpu}
            got = [a for _, a in got]
        assert all(isinstance(a, ctypes.Array) and a._type_ is Event for a in got)
        check_events([e for a in got for e in a], 0, 2100)
        assert pb.lost == 0 and pb.samples == 2100
    with load(event_program("perf")) as prog, PerfBuffer(prog.maps["events"], decode=None) as pb:
        with pytest.raises(LoaderError, match="consume_arrays needs a ctypes"):
            pb.consume_arrays(print)


def test_perfbuf_close_releases_everything():
    from pyebpf.errors import LoaderError
    from pyebpf.loader import load
    from pyebpf.loader import syscall
    from pyebpf.loader.perfbuf import PerfBuffer

    with load(event_program("perf")) as prog:
        before = _fds()
        for _ in range(5):
            pb = PerfBuffer(prog.maps["events"], page_count=2)
            pb.close()
            pb.close()
            for cpu in range(prog.maps["events"].spec.max_entries):  # our entries were removed from the map
                with pytest.raises(LoaderError) as info:
                    syscall.map_delete_elem(prog.maps["events"].fd, cpu.to_bytes(4, "little"))
                assert info.value.errno == errno.ENOENT
        assert _fds() == before
        with pytest.raises(LoaderError):
            PerfBuffer(prog.maps["events"], page_count=3)
        with pytest.raises(LoaderError):
            PerfBuffer(prog.maps["counts"])
        assert _fds() == before


# ---- trace_pipe --------------------------------------------------------------------------------------------------

def printk_on_write_program(tag: bytes):
    """bpf_printk("<tag> fd=%d n=%d\\n", fd, count) on sys_enter_write of our process."""
    fmt = tag + b" fd=%d n=%d\n\0"
    fmt = fmt.ljust((len(fmt) + 7) // 8 * 8, b"\0")
    b = Builder("tracepoint")
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != os.getpid(), "out")
    base = -len(fmt)
    for i in range(0, len(fmt), 8):
        b.ld_imm64(R1, int.from_bytes(fmt[i:i + 8], "little")).store(R10 + (base + i), R1, "u64")
    # struct trace_event_raw_sys_enter: 8 bytes common fields, int nr at 8, args[] at 16: fd, buf, count
    b.load(R3, R6 + 16, "u64").load(R4, R6 + 32, "u64")
    b.mov(R1, R10).add(R1, base).mov(R2, len(tag) + 13).call("trace_printk")
    b.label("out")
    b.ret(0)
    return b.build()


def test_bpf_printk_on_sys_enter_write_read_through_trace_pipe():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.system import online_cpus
    from pyebpf.loader.trace_pipe import TracePipe

    tag = b"pyebpf-%05d" % (os.getpid() % 100000)
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        with load(printk_on_write_program(tag)) as prog, TracePipe() as tp, \
                attach_tracepoint(prog, "syscalls", "sys_enter_write"):
            for n in (3, 5, 7):
                os.write(fd, b"x" * n)
            lines = tp.read_until(lambda line: line.message.startswith(tag.decode()), count=3, timeout=3.0)
    finally:
        os.close(fd)
    assert [line.message for line in lines] == [f"{tag.decode()} fd={fd} n={n}" for n in (3, 5, 7)]
    for line in lines:
        assert line.is_printk and line.event == "bpf_trace_printk"
        assert line.pid == os.getpid()  # the writing thread: our main thread, whose tid is the pid
        assert line.cpu in online_cpus()
        assert line.timestamp > 0
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)
