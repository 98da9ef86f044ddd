"""XDP with header structs: generated bounds checks, network-order fields, same verdicts in the VM and the kernel."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import xdp_udp_drop as x  # noqa: E402

from pyebpf.probe import XDP_DROP, XDP_PASS  # noqa: E402


def pkt(dport: int, proto: int = 17, ihl: int = 5, etype: int = 0x0800) -> bytes:
    eth = b"\xff" * 6 + b"\x02" * 6 + struct.pack(">H", etype)
    ip = struct.pack(">BBHHHBBHII", 0x40 | ihl, 0, 20 + 8, 1, 0, 64, proto, 0, 0x0A000001, 0x0A000002)
    ip += b"\0" * (4 * ihl - 20)
    return eth + ip + struct.pack(">HHHH", 1234, dport, 8, 0)


PACKETS = [
    (pkt(9999), XDP_DROP),
    (pkt(53), XDP_PASS),
    (pkt(9999, ihl=7), XDP_DROP),      # IP options: the UDP header's offset is computed at run time
    (pkt(9999, proto=6), XDP_PASS),
    (pkt(9999, etype=0x86DD), XDP_PASS),
    (pkt(9999)[:40], XDP_PASS),        # too short for the UDP header: the generated bounds check lets it pass
    (b"\0" * 14, XDP_PASS),            # Ethernet only
]
SHORT = b"\0" * 10  # too short for Ethernet (BPF_PROG_TEST_RUN refuses XDP packets under 14 bytes)


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_verdicts(engine):
    x.drops.clear()
    for data, verdict in PACKETS:
        assert x.drop_udp_port.run(packet=data, engine=engine).r0 == verdict
    assert x.drop_udp_port.run(packet=SHORT, engine=engine).r0 == XDP_PASS
    assert x.drops[0] == 2


def test_verifier_accepts():
    assert x.drop_udp_port.verify()


@pytest.mark.kernel
def test_kernel_verdicts():
    x.drops.clear()
    with x.drop_udp_port.load(attach=False) as lp:
        got = [lp.run(packet=data).retval for data, _ in PACKETS]
        assert x.drops[0] == 2
    assert got == [v for _, v in PACKETS]
    assert x.drops[0] == 2  # kept after unloading
