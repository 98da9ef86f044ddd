"""Test runs with their outputs (retval, data out, ctx out) on both sides, beyond tests/integration/test_packets.py
(XDP / tc / socket filter packets out, the __sk_buff in and out), and the one thing only the VM can do: run a
program type BPF_PROG_TEST_RUN refuses (a tracepoint) on demand."""
from __future__ import annotations

import struct

import pytest

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import LoaderError

FRAME = bytes(range(64))

#: bpf_xdp_adjust_head(ctx, 14): the packet out starts past the Ethernet header; r0 = XDP_PASS, or 0 on failure
XDP_POP_ETH = """
    r6 = r1
    r2 = 14
    call bpf_xdp_adjust_head
    if r0 != 0 goto fail
    r0 = 2
    exit
fail:
    r0 = 0
    exit
"""


def xdp(text: str):
    prog = assemble(text)
    prog.prog_type = ProgType.XDP
    return prog


def test_xdp_adjust_head_shortens_the_data_out(backend: str):
    with open_program(backend, xdp(XDP_POP_ETH)) as p:
        res = p.test_run(FRAME)
        assert (res.retval, res.r0, res.data, res.packet) == (2, 2, FRAME[14:], FRAME[14:])


def xdp_md(data: int = 0, data_end: int = 0, data_meta: int = 0, ingress_ifindex: int = 0,
           rx_queue_index: int = 0, egress_ifindex: int = 0) -> bytes:
    return struct.pack("<6I", data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex)


def test_xdp_md_in_and_out(backend: str):
    """BPF_PROG_TEST_RUN takes an xdp_md as ctx_in (rx_queue_index read by the program) and returns it."""
    with open_program(backend, xdp("r0 = *(u32 *)(r1 + 16)\nr0 += 2\nexit")) as p:
        ctx = xdp_md(data_end=len(FRAME))
        res = p.test_run(FRAME, ctx=ctx)
        assert res.retval == 2 and res.data == FRAME and res.ctx == ctx


#: r0 = (data_end - data) | (data - data_meta) << 8 | ingress_ifindex << 16 | rx_queue_index << 24; then
#: bpf_xdp_adjust_head(ctx, 2) so the ctx out has moved
XDP_MD_READER = """
    r6 = r1
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r4 = *(u32 *)(r6 + 8)
    r0 = r3
    r0 -= r2
    r2 -= r4
    r2 <<= 8
    r0 |= r2
    r5 = *(u32 *)(r6 + 12)
    r5 <<= 16
    r0 |= r5
    r5 = *(u32 *)(r6 + 16)
    r5 <<= 24
    r0 |= r5
    r7 = r0
    r1 = r6
    r2 = 2
    call bpf_xdp_adjust_head
    r0 = r7
    exit
"""

XDP_MD_CASES = [xdp_md(data_end=64), xdp_md(data=8, data_end=64), xdp_md(data=32, data_end=64),
                xdp_md(data=4, data_end=64), xdp_md(data=36, data_end=64), xdp_md(data=6, data_end=64),
                xdp_md(data=216, data_end=300), xdp_md(data=220, data_end=300),
                xdp_md(data=80, data_end=64), xdp_md(data_meta=8, data_end=64), xdp_md(egress_ifindex=1, data_end=64),
                xdp_md(rx_queue_index=1, data_end=64), xdp_md(ingress_ifindex=1, data_end=64),
                xdp_md(data_end=65), xdp_md(data_end=64) + bytes(4), xdp_md(data_end=64) + b"\1"]


@pytest.mark.kernel
def test_xdp_md_cases_agree_with_the_kernel():
    """Metadata from ctx.data, the checks on the other fields, the ctx and data out after an adjust_head: the same
    answer (or a refusal on both sides) for each xdp_md."""
    from pyebpf.errors import VmError
    from pyebpf.loader import load
    from pyebpf.vm import VM

    prog = xdp(XDP_MD_READER)
    with load(prog) as k, VM(prog) as v:
        for ctx in XDP_MD_CASES:
            got = []
            frame = bytes(range(256)) + bytes(44) if struct.unpack_from("<I", ctx, 4)[0] == 300 else FRAME
            for side, exc in ((k, LoaderError), (v, VmError)):
                try:
                    res = side.test_run(frame, ctx=ctx)
                    got.append((res.retval, res.data, res.ctx))
                except exc:
                    got.append("refused")
            assert got[0] == got[1], struct.unpack_from("<6I", ctx)


TRACEPOINT = "r0 = *(u64 *)(r1 + 8)\nexit"


def test_a_tracepoint_program_runs_on_demand_only_in_the_vm(backend: str):
    """The listed difference: BPF_PROG_TEST_RUN has no test run for tracepoint programs (the kernel: ENOTSUPP),
    so the kernel side attaches and triggers them instead; the VM runs one on a context you build."""
    prog = assemble(TRACEPOINT)
    prog.prog_type = ProgType.TRACEPOINT
    with open_program(backend, prog) as p:
        ctx = bytes(8) + (77).to_bytes(8, "little")
        if backend == "kernel":
            with pytest.raises(LoaderError) as info:
                p.test_run(ctx=ctx)
            assert info.value.errno in (524, 95)  # ENOTSUPP / EOPNOTSUPP: no test_run op for the type
        else:
            assert p.run(ctx).r0 == 77


@pytest.mark.kernel
@pytest.mark.xfail(strict=True, reason="divergence: the VM has no network devices, so it cannot refuse an xdp_md "
                                       "naming a missing ingress device (ENODEV) or an rx queue the device lacks "
                                       "(EINVAL); docs/same-calls.md")
def test_xdp_md_naming_a_device_is_checked_against_it():
    from pyebpf.errors import VmError
    from pyebpf.loader import load
    from pyebpf.vm import VM

    prog = xdp("r0 = 2\nexit")
    with load(prog) as k, VM(prog) as v:
        for ctx in (xdp_md(ingress_ifindex=0x7FFFFFF0, data_end=64), xdp_md(ingress_ifindex=1, rx_queue_index=3,
                                                                              data_end=64)):
            with pytest.raises(LoaderError):
                k.test_run(FRAME, ctx=ctx)
            with pytest.raises(VmError):
                v.test_run(FRAME, ctx=ctx)
