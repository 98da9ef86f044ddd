"""Ring buffer records a program submits, read from Python with the same call on both sides:
`prog.maps["events"].consume()` (bytes) or `.consume(decode=Event)` (ctypes records)."""
from __future__ import annotations

import ctypes

import pytest

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import MapError

ENOTSUPP = 524  # kernel-internal errno the ring buffer's element operations return

EVENTS = MapSpec.of("events", "ringbuf", max_entries=4096)


class Event(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("first", ctypes.c_uint64)]


#: per run: one record {len, seq=1, first 8 bytes} via reserve/submit, one discarded, one 4-byte output {seq=2}
PROGRAM = """
    r6 = *(u32 *)(r1 + 0)
    r7 = *(u32 *)(r1 + 4)
    r2 = r6
    r2 += 8
    if r2 > r7 goto out
    r8 = *(u64 *)(r6 + 0)
    r7 -= r6
    r1 = map[events] ll
    r2 = 16
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto out
    *(u32 *)(r0 + 0) = r7
    *(u32 *)(r0 + 4) = 1
    *(u64 *)(r0 + 8) = r8
    r1 = r0
    r2 = 0
    call bpf_ringbuf_submit
    r1 = map[events] ll
    r2 = 16
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto out
    r1 = r0
    r2 = 0
    call bpf_ringbuf_discard
    *(u32 *)(r10 - 4) = 2
    r1 = map[events] ll
    r2 = r10
    r2 += -4
    r3 = 4
    r4 = 0
    call bpf_ringbuf_output
out:
    r0 = 2
    exit
"""


def test_records_consumed_the_same_way(backend: str) -> None:
    prog_text = assemble(PROGRAM, maps=[EVENTS])
    prog_text.prog_type = ProgType.XDP
    packets = [bytes([i]) * 8 + bytes(40 + i) for i in range(3)]
    with open_program(backend, prog_text) as prog:
        events = prog.maps["events"]
        assert events.consume() == []
        assert len(events) == 0 and list(events) == []  # records are not elements
        with pytest.raises(MapError) as ei:
            events[0]
        assert ei.value.errno == ENOTSUPP
        for pkt in packets:
            assert prog.run(packet=pkt).r0 == 2
        raw = events.consume(limit=2)
        assert raw == [bytes(Event(48, 1, int.from_bytes(bytes([0]) * 8, "little"))), (2).to_bytes(4, "little")]
        decoded = events.consume(decode=Event)  # a 4-byte record decodes zero-padded
        assert [(e.len, e.seq, e.first) for e in decoded] == [
            (48 + 1, 1, 0x0101010101010101), (2, 0, 0), (48 + 2, 1, 0x0202020202020202), (2, 0, 0)]
        assert events.consume() == []
        assert prog.run(packet=packets[0]).r0 == 2
        assert events.consume(decode=lambda b: len(b)) == [16, 4]
