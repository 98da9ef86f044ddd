"""Perf event arrays: bpf_perf_event_output from a tc program (bpf_skb_event_output) in the VM and in the kernel:
return values for every kind of flags (current CPU, explicit slot, another CPU's slot, out of range, empty slot,
appended packet bytes, bad bits) and the records read back (pyebpf.loader.PerfBuffer vs the VM map's drain())."""
from __future__ import annotations

import struct

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.vm import VM
from pyebpf.vm.context import SkbContext
from pyebpf.vm.env import Environment
from pyebpf.vm.maps import create_map as vm_create

from test_maps_kernel import on_cpu0  # noqa: E402  (same directory)

pytestmark = pytest.mark.kernel

EV = MapSpec.of("ev", "perf_event_array", 4, 4, 2)
PACKET = bytes(range(14)) + bytes(range(100, 150))

PROGRAM = """
    r6 = r1
    r1 = r6
    r2 = 14
    r3 = r10
    r3 += -16
    r4 = 16
    call bpf_skb_load_bytes
    r1 = r6
    r2 = map[ev] ll
    r3 = *(u64 *)(r10 - 16)
    r4 = r10
    r4 += -8
    r5 = 8
    call bpf_perf_event_output
    exit
"""

FLAGS = [0xFFFFFFFF, 0, 1, 5, (16 << 32) | 0xFFFFFFFF, (1000 << 32) | 0xFFFFFFFF, (1 << 60) | 0xFFFFFFFF,
         (64 << 32) | 0, (65 << 32) | 0]


def _packet(flags: int, tag: int) -> bytes:
    return PACKET[:14] + struct.pack("<QQ", flags, tag) + PACKET[30:]


def test_perf_output_matches_kernel():
    from pyebpf.loader import PerfBuffer, load
    from pyebpf.loader.maps import create_map as k_create
    from pyebpf.system import num_possible_cpus

    if num_possible_cpus() < 2:
        pytest.skip("needs two CPUs for the other-CPU case")
    prog = pyebpf.assemble(PROGRAM, maps=[EV])
    with on_cpu0(), k_create(EV) as kev, load(prog, "sched_cls", maps={"ev": kev}) as kp:
        vev = vm_create(EV, ncpus=2)
        vm = VM(prog, prog_type="sched_cls", maps={"ev": vev}, env=Environment(cpu=0, ncpus=2), ncpus=2)
        kev.close_reader()  # create_map filled the slots as the VM does; empty them on both sides
        for i in range(2):  # no perf events: every output is ENOENT (or a flags error)
            vev.close(i)
        for n, flags in enumerate(FLAGS):
            pkt = _packet(flags, n)
            assert vm.run(SkbContext(pkt)).r0 & 0xFFFFFFFF == kp.test_run(pkt).retval, f"no events, flags {flags:#x}"
        for i in range(2):
            vev.open(i, i)
        with PerfBuffer(kev, with_cpu=True) as pb:
            results = []
            for n, flags in enumerate(FLAGS):
                pkt = _packet(flags, 100 + n)
                k = kp.test_run(pkt).retval
                v = vm.run(SkbContext(pkt)).r0 & 0xFFFFFFFF
                results.append((flags, k, v))
            assert all(k == v for _, k, v in results), results
            assert any(k == 0 for _, k, _ in results) and any(k != 0 for _, k, _ in results)
            krecords = pb.read(timeout=1.0)
        vrecords = vev.drain()
        assert vrecords, "no records were produced"
        assert len(krecords) == len(vrecords)
        for (kcpu, kdata), (vslot, vdata) in zip(krecords, vrecords):
            assert kcpu == vslot
            assert bytes(kdata[:len(vdata)]) == vdata and len(kdata) - len(vdata) < 8  # raw samples pad to 8
