"""Offline tests of the event readers' pure parts: trace_pipe line parsing and record decoders."""
from __future__ import annotations

import ctypes

import pytest

from pyebpf.abi.records import record_decoder
from pyebpf.loader.trace_pipe import parse_trace_line


@pytest.mark.parametrize("line, comm, pid, cpu, flags, ts, event, msg", [
    ("           <...>-16168   [001] ...21   752.017355: bpf_trace_printk: pyebpf-mk 42",
     "<...>", 16168, 1, "...21", 752.017355, "bpf_trace_printk", "pyebpf-mk 42"),
    ("  python3-1234    [000] d..3.  12345.678901: bpf_trace_printk: hello world: x=1",
     "python3", 1234, 0, "d..3.", 12345.678901, "bpf_trace_printk", "hello world: x=1"),
    ("  kworker/u8:2-cpu-99 [003] .... 1.000001: bpf_trace_printk: a-b [c]",
     "kworker/u8:2-cpu", 99, 3, "....", 1.000001, "bpf_trace_printk", "a-b [c]"),
    ("  my prog-7 [002] 3.5: bpf_trace_printk: no flags column",
     "my prog", 7, 2, "", 3.5, "bpf_trace_printk", "no flags column"),
    ("  sh-42 (   42) [000] ..... 9.000000: bpf_trace_printk: with tgid",
     "sh", 42, 0, ".....", 9.0, "bpf_trace_printk", "with tgid"),
    ("  sh-42 [000] ..... 9.000000: sys_enter_write: fd: 1",
     "sh", 42, 0, ".....", 9.0, "sys_enter_write", "fd: 1"),
    ("  sh-42 [000] ..... 9.000000: bpf_trace_printk: ",
     "sh", 42, 0, ".....", 9.0, "bpf_trace_printk", ""),
])
def test_parse_trace_line(line, comm, pid, cpu, flags, ts, event, msg):
    parsed = parse_trace_line(line + "\n")
    assert parsed is not None
    assert (parsed.comm, parsed.pid, parsed.cpu, parsed.flags, parsed.timestamp, parsed.event, parsed.message) == \
        (comm, pid, cpu, flags, ts, event, msg)
    assert parsed.is_printk == (event == "bpf_trace_printk")
    assert parsed.raw == line


@pytest.mark.parametrize("line", ["", "CPU:1 [LOST 12 EVENTS]", "# tracer: nop", "garbage without fields"])
def test_unparsable_trace_lines(line):
    assert parse_trace_line(line) is None


class Rec(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint64)]


def test_decoders():
    raw = (7).to_bytes(4, "little") + b"\0" * 4 + (9).to_bytes(8, "little")
    r = record_decoder(Rec)(raw)
    assert (r.a, r.b) == (7, 9)
    short = record_decoder(Rec)(raw[:12])  # tail cut off: zero-filled
    assert (short.a, short.b) == (7, 9 & 0xFFFFFFFF)
    assert record_decoder(ctypes.c_uint32)(b"\x05\0\0\0\xff") == 5
    assert record_decoder(ctypes.c_uint8 * 3)(b"\x01\x02\x03")[:] == [1, 2, 3]
    assert record_decoder(None) is None and record_decoder(bytes) is None
    assert record_decoder(len)(b"abc") == 3
    with pytest.raises(TypeError):
        record_decoder(42)


from hypothesis import given, settings
from hypothesis import strategies as st

_COMM_CHARS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-./: <>"))


@settings(max_examples=300)
@given(comm=st.text(_COMM_CHARS, min_size=1, max_size=15).filter(lambda c: not c[0].isspace()),
       pid=st.integers(1, 4_194_304), cpu=st.integers(0, 511),
       flags=st.text(st.sampled_from(list(".dDNnhHsb0123456789")), min_size=4, max_size=5),
       secs=st.integers(0, 10**7), micros=st.integers(0, 999_999),
       msg=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60))
def test_parse_trace_line_round_trip(comm, pid, cpu, flags, secs, micros, msg):
    """Lines laid out as the kernel prints them ("%16s-%-7d [%03d] flags %5lu.%06lu: event: msg") parse back."""
    line = f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {secs:5d}.{micros:06d}: bpf_trace_printk: {msg}"
    parsed = parse_trace_line(line)
    assert parsed is not None
    assert (parsed.comm, parsed.pid, parsed.cpu, parsed.flags) == (comm, pid, cpu, flags)
    assert parsed.timestamp == float(f"{secs}.{micros:06d}")
    assert parsed.message == msg and parsed.is_printk


class _Reader:
    """Stand-in for a reader's counters: the parsers only count discarded (ring) and lost (perf) records."""
    discarded = 0
    lost = 0


@settings(max_examples=150)
@given(lengths=st.lists(st.sampled_from([0, 4, 12, 16, 20, 24, 33]), min_size=1, max_size=40),
       seed=st.integers(0, 255))
def test_readers_decode_runs_in_place_as_one_by_one(lengths, seed):
    """Runs of equal-length records decoded where they lie (CtypesDecoder.run) give what decoding each record's bytes
    gives, for records longer, as long as and shorter (zero-filled) than the type; ring and perf layouts."""
    import struct

    from pyebpf.abi.uapi import BPF_RINGBUF_HDR_SZ
    from pyebpf.loader.perf_event import PerfRecordType
    from pyebpf.loader.perfbuf import PerfBuffer
    from pyebpf.loader.ringbuf import RingBuffer

    payloads = [bytes((seed + i * 7 + j) & 0xFF for j in range(n)) for i, n in enumerate(lengths)]
    decode = record_decoder(Rec)
    expected = [bytes(decode(p)) for p in payloads]
    ring = b"".join(struct.pack("<II", len(p), 0) + p + bytes(-(len(p) + BPF_RINGBUF_HDR_SZ) % 8) for p in payloads)
    out: list = []
    assert RingBuffer._parse(_Reader(), ring, 0, out, None, decode) == (len(ring), False, len(payloads))
    assert [bytes(r) for r in out] == expected
    arrays: list = []
    assert RingBuffer._parse(_Reader(), ring, 0, arrays, None, decode, True) == (len(ring), False, len(payloads))
    assert all(isinstance(a, ctypes.Array) and a._type_ is Rec for a in arrays)
    assert [bytes(r) for a in arrays for r in a] == expected
    perf = b""
    for p in payloads:
        size = (8 + 4 + len(p) + 7) & ~7
        perf += struct.pack("<IHHI", PerfRecordType.SAMPLE, 0, size, len(p)) + p + bytes(size - 12 - len(p))
    pieces, used = PerfBuffer._parse(_Reader(), perf, 0, decode)
    assert used == len(perf) and [bytes(r) for samples, _ in pieces for r in samples] == expected
    for limit in (1, 3):  # a chunk of `limit` samples at a time, from where the last one stopped
        got, pos = [], 0
        while pos < len(perf):
            pieces, pos = PerfBuffer._parse(_Reader(), perf, 0, decode, False, pos, limit)
            assert sum(len(samples) for samples, _ in pieces) <= limit
            got += [bytes(r) for samples, _ in pieces for r in samples]
        assert got == expected
    pieces, used = PerfBuffer._parse(_Reader(), perf, 0, decode, True)
    assert all(isinstance(a, ctypes.Array) and a._type_ is Rec for samples, _ in pieces for a in samples)
    assert used == len(perf) and [bytes(r) for samples, _ in pieces for a in samples for r in a] == expected


def _fake_ring(payloads: list[bytes], size: int = 1 << 16, decode=Rec):
    """A RingBuffer over bytearrays laid out as the kernel maps a ring (consumer page, producer page, data)."""
    import struct

    from pyebpf.abi.uapi import BPF_RINGBUF_HDR_SZ
    from pyebpf.loader.ringbuf import PAGE_SIZE, RingBuffer
    from pyebpf.loader.shared_word import u64_words

    data = b"".join(struct.pack("<II", len(p), 0) + p + bytes(-(len(p) + BPF_RINGBUF_HDR_SZ) % 8) for p in payloads)
    rb = RingBuffer.__new__(RingBuffer)
    rb.discarded = rb.records = 0
    rb.callback, rb._decode, rb._mask, rb.size = None, record_decoder(decode), size - 1, size
    rb._cons_mm, rb._prod_mm = bytearray(PAGE_SIZE), bytearray(PAGE_SIZE + 2 * size)
    rb._prod_mm[PAGE_SIZE:PAGE_SIZE + len(data)] = data
    rb._cons, rb._prod = u64_words(rb._cons_mm, 0), u64_words(rb._prod_mm, 0)
    rb._prod[0] = len(data)
    return rb


@pytest.mark.parametrize("limit", [None, 1, 7, 30])
def test_ring_consume_into_a_list_as_per_record_callbacks(limit):
    """consume(out.append) (read() too) fills the list itself: the same records, in order, after what the list held,
    the same count and consumer position as a callback taking them one by one."""
    payloads = [bytes([i]) * (16 if i % 5 else 12) for i in range(25)]
    by_call, into = _fake_ring(payloads), _fake_ring(payloads)
    seen: list = []
    n_call = by_call.consume(lambda r: seen.append(bytes(r)), limit=limit)
    out: list = ["before"]
    n_into = into.consume(out.append, limit=limit)
    assert n_into == n_call == min(25, limit or 25) and out[0] == "before"
    assert [bytes(r) for r in out[1:]] == seen
    assert into.consumer_pos == by_call.consumer_pos


@settings(max_examples=100)
@given(lengths=st.lists(st.sampled_from([0, 4, 12, 16, 20, 24, 33]), min_size=1, max_size=60),
       limit=st.none() | st.integers(1, 70), chunk=st.sampled_from([2, 5, 4096]))
def test_ring_consume_arrays_as_per_record_callbacks(lengths, limit, chunk):
    """consume_arrays hands ctypes arrays (one per run of equal lengths, at most a chunk each) holding the same
    records, in the same order, as per-record callbacks get; the same count and consumer position."""
    from unittest import mock

    payloads = [bytes((i * 7 + j) & 0xFF for j in range(n)) for i, n in enumerate(lengths)]
    by_call, by_array = _fake_ring(payloads), _fake_ring(payloads)
    seen: list = []
    n_call = by_call.consume(lambda r: seen.append(bytes(r)), limit=limit)
    arrays: list = []
    with mock.patch("pyebpf.loader.ringbuf._CHUNK", chunk), mock.patch("pyebpf.loader.ringbuf._RUN_MAX", chunk):
        n_array = by_array.consume_arrays(arrays.append, limit=limit)
    assert n_array == n_call == min(len(payloads), limit or len(payloads))
    assert all(isinstance(a, ctypes.Array) and 1 <= len(a) <= chunk for a in arrays)
    assert [bytes(r) for a in arrays for r in a] == seen
    assert by_array.consumer_pos == by_call.consumer_pos


def test_ring_consume_arrays_needs_a_ctypes_type():
    from pyebpf.errors import LoaderError

    with pytest.raises(LoaderError, match="consume_arrays needs a ctypes"):
        _fake_ring([b"x" * 16], decode=None).consume_arrays(print)


@settings(max_examples=100)
@given(values=st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=4), offset=st.sampled_from([0, 8, 1024]))
def test_shared_words_store_whole_native_u64(values, offset):
    """Positions shared with the kernel are native u64 words at 8-byte aligned offsets; a store changes only its
    word (the kernel must never see a zero-filled or half-written position, see loader/shared_word.py)."""
    import struct

    from pyebpf.loader.shared_word import u64_words

    buf = bytearray(b"\xaa" * 2048)
    words = u64_words(buf, offset, len(values))
    for i, v in enumerate(values):
        words[i] = v
    assert list(struct.unpack_from(f"={len(values)}Q", buf, offset)) == values == words.tolist()
    end = offset + 8 * len(values)
    assert buf[:offset] == b"\xaa" * offset and buf[end:] == b"\xaa" * (2048 - end)
    words.release()
    with pytest.raises(ValueError):
        u64_words(buf, offset + 4)
