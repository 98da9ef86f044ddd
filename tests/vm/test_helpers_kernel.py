"""Helpers whose results are deterministic, run in the VM and in the kernel (BPF_PROG_TEST_RUN) on the same program:
bpf_csum_diff, bpf_skb_load_bytes / bpf_skb_store_bytes bounds and flags, bpf_loop limits."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

import pyebpf
from pyebpf.vm import VM

pytestmark = pytest.mark.kernel

PACKET = bytes(range(64))


def both(src: str, packet: bytes = PACKET, prog_type: str = "sched_cls"):
    """(kernel retval, kernel packet out, vm r0 as u32, vm packet)."""
    from pyebpf.loader import load

    prog = pyebpf.assemble(src)
    with load(prog, prog_type) as kp:
        kres = kp.test_run(packet)
    vres = VM(prog, prog_type=prog_type).run(packet=packet)
    return kres.retval, kres.data, vres.r0 & 0xFFFFFFFF, vres.packet


def _stack_blob(blob: bytes, top: int) -> list[str]:
    lines = []
    blob = blob.ljust((len(blob) + 7) // 8 * 8, b"\0")
    for i in range(0, len(blob), 8):
        lines += [f"r1 = {struct.unpack('<Q', blob[i:i + 8])[0]:#x} ll", f"*(u64 *)(r10 - {top - i}) = r1"]
    return lines


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.binary(min_size=0, max_size=120),
       st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 0x12345678]))
def test_csum_diff(frm, to, seed):
    top = 256
    lines = _stack_blob(frm + to, top)
    lines += ["r1 = r10", f"r1 += -{top}", f"r2 = {len(frm)}", "r3 = r10", f"r3 += {-top + len(frm)}",
              f"r4 = {len(to)}", f"r5 = {seed:#x} ll", "call bpf_csum_diff", "exit"]
    if not to:
        lines[lines.index("r3 = r10")] = "r3 = 0"
        lines.remove(f"r3 += {-top + len(frm)}")
    if not frm:
        lines[lines.index("r1 = r10")] = "r1 = 0"
        lines.remove(f"r1 += -{top}")
    k, _, v, _ = both("\n".join(lines))
    assert v == k


@pytest.mark.parametrize("offset,length", [(0, 4), (60, 4), (61, 4), (64, 1), (0, 64), (0x7FFFFFFF, 1),
                                           (0xFFFFFFF0, 8)])
def test_skb_load_bytes_bounds(offset, length):
    src = f"""
        r2 = -1
        *(u64 *)(r10 - 64) = r2
        r2 = {offset:#x} ll
        r3 = r10
        r3 += -64
        r4 = {length}
        call bpf_skb_load_bytes
        r6 = r0
        r0 = *(u32 *)(r10 - 64)
        r6 <<= 32
        r0 |= r6
        r0 >>= 16
        exit
    """
    k, _, v, _ = both(src)
    assert v == k


@pytest.mark.parametrize("offset,length,flags", [(0, 4, 0), (60, 4, 0), (61, 4, 0), (0, 4, 1), (0, 4, 2),
                                                 (0, 4, 4), (0x10000, 1, 0)])
def test_skb_store_bytes(offset, length, flags):
    src = f"""
        r2 = 0x41424344
        *(u32 *)(r10 - 8) = r2
        r2 = {offset:#x} ll
        r3 = r10
        r3 += -8
        r4 = {length}
        r5 = {flags}
        call bpf_skb_store_bytes
        exit
    """
    k, kpkt, v, vpkt = both(src)
    assert v == k
    assert vpkt == kpkt


@pytest.mark.parametrize("n,flags", [(0, 0), (5, 0), (1 << 23, 0), ((1 << 23) + 1, 0), (3, 1)])
def test_loop_limits(n, flags):
    src = f"""
        r1 = {n:#x} ll
        r2 = cb ll
        r3 = 0
        r4 = {flags}
        call bpf_loop
        exit
    cb:
        r0 = 0
        if r1 != 2 goto out
        r0 = 1
    out:
        exit
    """
    k, _, v, _ = both(src)  # the callback returns 1 at index 2: at most 3 iterations
    assert v == k
