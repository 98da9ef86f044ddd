"""Event readers fed by a program run, read with the same call on both sides: in the VM the program runs with
`.run`, in the kernel with BPF_PROG_TEST_RUN of an XDP program (a type whose test run may output events).
Ring buffers: `m.consume(limit=, decode=)`; perf event arrays: `m.consume(limit=, decode=, with_cpu=)`."""
from __future__ import annotations

import contextlib
import ctypes
import os

import pytest

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType


@contextlib.contextmanager
def on_cpu0():
    """Run (and so test-run programs) on CPU 0, where the VM's environment says it runs."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


class Sample(ctypes.Structure):
    _fields_ = [("tag", ctypes.c_uint32), ("first", ctypes.c_uint32)]


#: per run: a 5-byte record (tag 0xAB + the packet's first byte) and an 8-byte one {tag 7, packet length},
#: both to the current CPU's slot (BPF_F_CURRENT_CPU)
PERF_PROGRAM = """
    r6 = r1
    r7 = *(u32 *)(r6 + 0)
    r8 = *(u32 *)(r6 + 4)
    r2 = r7
    r2 += 1
    if r2 > r8 goto out
    r9 = *(u8 *)(r7 + 0)
    *(u32 *)(r10 - 8) = 0xAB
    *(u8 *)(r10 - 4) = r9
    r1 = r6
    r2 = map[ev] ll
    r3 = 0xffffffff ll
    r4 = r10
    r4 += -8
    r5 = 5
    call bpf_perf_event_output
    r8 -= r7
    *(u32 *)(r10 - 8) = 7
    *(u32 *)(r10 - 4) = r8
    r1 = r6
    r2 = map[ev] ll
    r3 = 0xffffffff ll
    r4 = r10
    r4 += -8
    r5 = 8
    call bpf_perf_event_output
out:
    r0 = 2
    exit
"""


def perf_program(ncpus: int):
    prog = assemble(PERF_PROGRAM, maps=[MapSpec.of("ev", "perf_event_array", 4, 4, ncpus)])
    prog.prog_type = ProgType.XDP
    return prog


def test_perf_records_read_the_same_way(backend: str):
    from pyebpf.system.cpus import num_possible_cpus

    with on_cpu0(), open_program(backend, perf_program(num_possible_cpus())) as prog:
        ev = prog.maps["ev"]
        assert ev.consume() == []
        for first in (0x11, 0x22, 0x33):
            assert prog.run(packet=bytes([first]) + bytes(59)).r0 == 2
        # what a perf reader gets: u32 size + data padded to 8, so a 5-byte sample reads as 12 bytes, 8 as 12
        assert ev.consume(limit=2) == [b"\xab\0\0\0\x11" + bytes(7),
                                       (7).to_bytes(4, "little") + (60).to_bytes(4, "little") + bytes(4)]
        rest = ev.consume(decode=Sample, with_cpu=True)
        assert [(cpu, s.tag, s.first) for cpu, s in rest] == [(0, 0xAB, 0x22), (0, 7, 60), (0, 0xAB, 0x33),
                                                              (0, 7, 60)]
        assert ev.consume() == []


def test_perf_output_to_an_empty_slot_is_enoent_on_both_sides(backend: str):
    """A slot without an event: the VM closes its slot, the kernel map its reader; the helper then fails."""
    from pyebpf.system.cpus import num_possible_cpus

    text = """
        r6 = r1
        *(u64 *)(r10 - 8) = 1
        r1 = r6
        r2 = map[ev] ll
        r3 = 0xffffffff ll
        r4 = r10
        r4 += -8
        r5 = 8
        call bpf_perf_event_output
        exit
    """
    prog = assemble(text, maps=[MapSpec.of("ev", "perf_event_array", 4, 4, num_possible_cpus())])
    prog.prog_type = ProgType.XDP
    with on_cpu0(), open_program(backend, prog) as p:
        assert p.run(packet=bytes(60)).retval == 0
        ev = p.maps["ev"]
        if backend == "kernel":
            ev.close_reader()
        else:
            ev.close(0)
        assert p.run(packet=bytes(60)).retval == (-2) & 0xFFFFFFFF  # -ENOENT
        assert len(ev.consume()) == 1  # the kernel reader's rings are gone with it: the VM keeps the first


RING_PROGRAM = """
    r6 = *(u32 *)(r1 + 0)
    r7 = *(u32 *)(r1 + 4)
    r7 -= r6
    *(u32 *)(r10 - 8) = 0xAB
    *(u32 *)(r10 - 4) = r7
    r1 = map[rb] ll
    r2 = r10
    r2 += -8
    r3 = 8
    r4 = 0
    call bpf_ringbuf_output
    r0 = 2
    exit
"""


def test_ring_records_read_the_same_way(backend: str):
    prog = assemble(RING_PROGRAM, maps=[MapSpec.of("rb", "ringbuf", max_entries=4096)])
    prog.prog_type = ProgType.XDP
    with open_program(backend, prog) as p:
        for n in (60, 61, 62):
            p.run(packet=bytes(n))
        rb = p.maps["rb"]
        assert rb.consume(limit=1) == [(0xAB).to_bytes(4, "little") + (60).to_bytes(4, "little")]
        assert [(s.tag, s.first) for s in rb.consume(decode=Sample)] == [(0xAB, 61), (0xAB, 62)]
        assert rb.consume() == []


#: per run: output packet[1 : 1 + n] where n = packet[0] & 31 (at least 1) to both the perf array and the ring buffer
SIZED_OUTPUT = """
    r6 = r1
    r7 = *(u32 *)(r6 + 0)
    r8 = *(u32 *)(r6 + 4)
    r2 = r7
    r2 += 33
    if r2 > r8 goto out
    r9 = *(u8 *)(r7 + 0)
    r9 &= 31
    if r9 == 0 goto out
    r1 = *(u64 *)(r7 + 1)
    *(u64 *)(r10 - 32) = r1
    r1 = *(u64 *)(r7 + 9)
    *(u64 *)(r10 - 24) = r1
    r1 = *(u64 *)(r7 + 17)
    *(u64 *)(r10 - 16) = r1
    r1 = *(u64 *)(r7 + 25)
    *(u64 *)(r10 - 8) = r1
    r1 = r6
    r2 = map[ev] ll
    r3 = 0xffffffff ll
    r4 = r10
    r4 += -32
    r5 = r9
    call bpf_perf_event_output
    r1 = map[rb] ll
    r2 = r10
    r2 += -32
    r3 = r9
    r4 = 0
    call bpf_ringbuf_output
out:
    r0 = 2
    exit
"""


@pytest.mark.kernel
def test_random_outputs_read_back_alike():
    """hypothesis: any sequence of runs outputting 1..31 bytes gives the same records from both readers on both
    sides, whatever `limit` the reads take."""
    from hypothesis import given, settings, strategies as st

    from pyebpf.loader import load
    from pyebpf.system.cpus import num_possible_cpus
    from pyebpf.vm import VM

    prog = assemble(SIZED_OUTPUT, maps=[MapSpec.of("ev", "perf_event_array", 4, 4, num_possible_cpus()),
                                        MapSpec.of("rb", "ringbuf", max_entries=4096)])
    prog.prog_type = ProgType.XDP

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.binary(min_size=40, max_size=40), max_size=6), st.integers(1, 4))
    def check(packets: list[bytes], limit: int) -> None:
        with on_cpu0(), load(prog) as k, VM(prog) as v:
            for pkt in packets:
                assert k.run(packet=pkt).retval == v.run(packet=pkt).retval == 2
            for name in ("ev", "rb"):
                got = {}
                for side, p in (("kernel", k), ("vm", v)):
                    reads = [p.maps[name].consume(limit=limit)]
                    reads.append(p.maps[name].consume())
                    got[side] = reads
                assert got["vm"] == got["kernel"], name

    check()
