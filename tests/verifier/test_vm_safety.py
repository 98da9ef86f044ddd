"""The safety property: a program our verifier accepts never makes a memory fault in the VM, on any input.

Programs are drawn from small building blocks that sit on the verifier's edges (packet bounds checks with nearby
offsets, masked variable offsets, stack slots, map values with offsets), so that a good share of them is accepted
and the accepted ones poke at the limits the verifier proved.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyebpf import assemble
from pyebpf.errors import VmError
from pyebpf.verifier import verify
from pyebpf.vm import VM


SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
sizes = st.sampled_from(sorted(SIZES))


@st.composite
def pkt_fixed(draw):
    k1 = draw(st.integers(1, 40))
    size = draw(sizes)
    off = draw(st.integers(0, k1 + 2))
    return [f"r4 = r2", f"r4 += {k1}", "if r4 > r3 goto out", f"r5 = *({SIZES[size]} *)(r2 + {off})"]


@st.composite
def pkt_variable(draw):
    k = draw(st.integers(0, 4))
    mask = draw(st.sampled_from([1, 3, 7, 15, 31, 255]))
    size = draw(sizes)
    extra = draw(st.integers(size - 2, size + 1))
    return ["r4 = r2", f"r4 += {k + 1}", "if r4 > r3 goto out", f"r5 = *(u8 *)(r2 + {k})", f"r5 &= {mask}",
            "r7 = r2", "r7 += r5", "r8 = r7", f"r8 += {max(extra, 0)}", "if r8 > r3 goto out",
            f"r9 = *({SIZES[size]} *)(r7 + 0)"]


@st.composite
def stack_ops(draw):
    size = draw(sizes)
    slot = draw(st.integers(1, 64)) * size
    off2 = draw(st.sampled_from([slot, slot + size, slot - size, slot + 1]))
    return [f"*({SIZES[size]} *)(r10 - {slot}) = {draw(st.integers(-5, 5))}",
            f"r5 = *({SIZES[size]} *)(r10 - {off2})"]


@st.composite
def map_ops(draw):
    mask = draw(st.sampled_from([0, 3, 7, 8, 15, 16]))
    size = draw(sizes)
    off = draw(st.integers(0, 20))
    body = ["*(u32 *)(r10 - 4) = 0", "r2 = r10", "r2 += -4", "r1 = map[vals] ll", "call bpf_map_lookup_elem"]
    if draw(st.booleans()):
        body.append("if r0 == 0 goto out")
    body += ["r5 = *(u32 *)(r6 + 12)" if draw(st.booleans()) else "r5 = 3", f"r5 &= {mask}", "r0 += r5",
             f"*({SIZES[size]} *)(r0 + {off}) = 1" if draw(st.booleans()) else f"r5 = *({SIZES[size]} *)(r0 + {off})"]
    # r2/r3 are gone after the call; reload the packet pointers for later blocks
    body += ["r2 = *(u32 *)(r6 + 0)", "r3 = *(u32 *)(r6 + 4)"]
    return body


@st.composite
def loop_call(draw):
    """bpf_loop over a stack buffer passed as ctx: the callback indexes it with its (masked) loop index, so the
    verifier must type the callback's R1/R2 from the call and check the callback body. Returns (call, callback)."""
    buf = draw(st.sampled_from([8, 16, 32]))
    n = draw(st.integers(0, 40))
    mask = draw(st.sampled_from([0, 7, 15, 31]))
    size = draw(sizes)
    off = draw(st.integers(-1, 8))
    ret = draw(st.sampled_from(["r0 = 0", "r0 = 1", "r0 = r1\nr0 &= 1"]))
    call = [f"r1 = {n}", "r2 = cb ll", "r3 = r10", f"r3 += -{buf}", "r4 = 0", "call bpf_loop",
            "r2 = *(u32 *)(r6 + 0)", "r3 = *(u32 *)(r6 + 4)"]
    cb = ["cb:", f"r1 &= {mask}", "r2 += r1", f"r5 = *({SIZES[size]} *)(r2 + {off})", ret, "exit"]
    return call, cb


@st.composite
def xdp_programs(draw):
    blocks = draw(st.lists(st.one_of(pkt_fixed(), pkt_variable(), stack_ops(), map_ops()), min_size=1, max_size=4))
    lines = [".map vals array key=4 value=24 entries=2", "r6 = r1", "r2 = *(u32 *)(r6 + 0)",
             "r3 = *(u32 *)(r6 + 4)"]
    callback: list[str] = []
    if draw(st.integers(0, 3)) == 0:
        call, callback = draw(loop_call())
        blocks.insert(draw(st.integers(0, len(blocks))), call)
    for b in blocks:
        lines += b
    lines += ["out:", "r0 = 2", "exit", *callback]
    return "\n".join(lines)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(xdp_programs(), st.lists(st.binary(min_size=0, max_size=80), min_size=1, max_size=4))
def test_accepted_programs_never_fault(text, packets):
    prog = assemble(text)
    result = verify(prog, prog_type="xdp", raise_on_reject=False)
    assume(result.accepted)
    vm = VM(prog, prog_type="xdp")
    for pkt in packets:
        try:
            vm.run(packet=pkt)
        except VmError as e:
            raise AssertionError(f"verifier accepted a program that faults in the VM: {e}\n{text}") from None


def test_generator_produces_both_verdicts():
    """Guard against a generator whose programs are all rejected (the property above would then test nothing)."""
    from hypothesis import find

    def accepted(text):
        return verify(assemble(text), prog_type="xdp", raise_on_reject=False).accepted

    find(xdp_programs(), accepted, settings=settings(max_examples=500, database=None))
    find(xdp_programs(), lambda t: not accepted(t), settings=settings(max_examples=500, database=None))


@pytest.mark.kernel
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xdp_programs())
def test_generated_programs_agree_with_kernel(text):
    """The same edge-of-the-rules programs through BPF_PROG_LOAD: same verdict, same error line."""
    from cases.oracle import _close_maps, _create_maps, _load
    prog = assemble(text)
    ours = verify(prog, prog_type="xdp", raise_on_reject=False)
    kmaps = _create_maps(prog)
    try:  # loaded as the case tables load: with BTF func_info for the callback, as compiled programs have it
        kern = _load(prog, "xdp", kmaps, True)
    finally:
        _close_maps(kmaps)
    assert ours.accepted == kern.accepted, (kern.message, ours.error and ours.error.message, text)
    if not kern.accepted:
        assert ours.error.message == kern.message, text
