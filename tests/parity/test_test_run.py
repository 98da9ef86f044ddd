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


@pytest.mark.parametrize("side", [
    pytest.param("vm-interp", id="vm", marks=pytest.mark.xfail(
        strict=True, reason="divergence: VM test_run(data, ctx=xdp_md) reads ctx as an __sk_buff (skb programs "
                            "only); the kernel takes an xdp_md in and gives it back (docs/same-calls.md)")),
    pytest.param("kernel", id="kernel", marks=pytest.mark.kernel),
])
def test_xdp_md_in_and_out(side: str):
    """BPF_PROG_TEST_RUN takes an xdp_md as ctx_in (rx_queue_index read by the program) and returns it."""
    with open_program(side, xdp("r0 = *(u32 *)(r1 + 16)\nr0 += 2\nexit")) as p:
        ctx = xdp_md(data_end=len(FRAME))
        res = p.test_run(FRAME, ctx=ctx)
        assert res.retval == 2 and res.data == FRAME and res.ctx == ctx


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
