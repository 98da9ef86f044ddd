"""The testing kit on a real program: an XDP parser checked with hypothesis-generated packets.

Properties: for any packet (well-formed, corrupted, or garbage) the verifier-accepted parser never faults in the
VM (the VM faults on any out-of-bounds access), returns PASS or DROP, and decides exactly as the Python model of
its policy; the stats map counts every packet once. The same packets give the same verdict, packet and map
contents in the kernel (BPF_PROG_TEST_RUN). A parser with one bounds check left out is refused by both verifiers,
and the VM finds a packet that makes it read out of bounds.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings, strategies as st

import pyebpf
from pyebpf.abi.uapi import XdpAction
from pyebpf.errors import VmError
from pyebpf.testing.differential import Differential
from pyebpf.testing.inputs import corrupted, ethernet_frames, packets, xdp_contexts

import xdp_parser_prog as parser

PARSER = parser.build()
SEARCH = settings(max_examples=5000, database=None, phases=[Phase.generate])  # first hit, no shrinking
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_parser_is_accepted_by_our_verifier():
    assert pyebpf.verify(PARSER).accepted


@PROPERTY
@given(pkt=packets())
def test_parser_never_faults_and_decides_as_the_model(ebpf_vm, pkt):
    vm = ebpf_vm(PARSER)
    res = vm.run(packet=pkt)                                 # a VmError here is an out-of-bounds read
    verdict, slot = parser.expected_verdict(pkt)
    assert res.r0 in (XdpAction.PASS, XdpAction.DROP)
    assert res.r0 == verdict
    assert res.packet == pkt                                 # a parser does not write
    assert [vm.maps["stats"][i] for i in range(4)] == [int(i == slot) for i in range(4)]


@PROPERTY
@given(ctx=xdp_contexts(packet=corrupted()))
def test_parser_on_corrupted_frames_in_an_xdp_context(ebpf_vm, ctx):
    vm = ebpf_vm(PARSER)
    assert vm.run(ctx).r0 == parser.expected_verdict(ctx.packet)[0]


def test_policy_is_reachable_both_ways():
    """The strategies reach both verdicts, so the properties above are not vacuous."""
    find(ethernet_frames(), lambda p: parser.expected_verdict(p)[0] == XdpAction.DROP,
         settings=SEARCH)
    find(corrupted(), lambda p: parser.expected_verdict(p)[0] == XdpAction.PASS and len(p) >= 34,
         settings=SEARCH)


def test_missing_bounds_check_is_found():
    """Leave out the L4 bounds check: our verifier refuses it, and the VM finds a packet it reads past."""
    buggy = parser.build(bounds_check_l4=False)
    result = pyebpf.verify(buggy, raise_on_reject=False)
    assert not result.accepted and "outside of the packet" in str(result.error)

    vm = pyebpf.VM(buggy, engine="compiled")

    def faults(pkt: bytes) -> bool:
        try:
            vm.run(packet=pkt)
        except VmError:
            return True
        return False

    ip_frames = corrupted(ethernet_frames(l3=("ipv4", "ipv6")))
    pkt = find(ip_frames, faults, settings=settings(SEARCH, derandomize=True))  # the same search every run
    assert faults(pkt)


@pytest.mark.kernel
def test_kernel_refuses_the_missing_bounds_check_with_the_same_reason(kernel_loader):
    from pyebpf.loader import ProgramLoadError

    buggy = parser.build(bounds_check_l4=False)
    ours = pyebpf.verify(buggy, raise_on_reject=False)
    with pytest.raises(ProgramLoadError) as e:
        kernel_loader(buggy)
    assert e.value.reason in str(ours.error) and e.value.insn == ours.error.insn


@pytest.fixture(scope="module")
def parser_in_both():
    with Differential(PARSER, kernel=True) as diff:
        yield diff


@pytest.mark.kernel
@settings(max_examples=150, deadline=None)
@given(pkt=packets())
def test_parser_vm_matches_kernel(parser_in_both, pkt):
    """Same verdict, same packet out, same stats (cumulative over all examples) in the VM and the kernel; packets
    under 14 bytes, which BPF_PROG_TEST_RUN refuses, are run in the VM only."""
    result = parser_in_both.run(packet=pkt).check()
    assert result.compared == (len(pkt) >= 14)


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(ctx=xdp_contexts(packet=st.binary(min_size=14, max_size=64)))
def test_parser_vm_matches_kernel_given_contexts(parser_in_both, ctx):
    parser_in_both.run(ctx=ctx).check()
