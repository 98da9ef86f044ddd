"""Differential runs: agreement where VM and kernel agree, and every kind of difference reported when they don't."""
from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings

import pyebpf
from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R6, R7, R10, Builder
from pyebpf.testing.differential import Differential, assert_vm_matches_kernel, run_both
from pyebpf.testing.inputs import ethernet_frames, raw_tp_args, skb_contexts

PKT = bytes(range(60))


def typed(text: str, prog_type: str):
    """Assembly text as a Program of `prog_type`."""
    from pyebpf.abi.prog_types import parse_prog_type

    program = pyebpf.assemble(text)
    program.prog_type = parse_prog_type(prog_type)
    return program


def counting_program(map_type: str = "hash"):
    """XDP: counts[first byte] += 1, returns XDP_PASS."""
    b = Builder("xdp", name="count_first")
    b.map("counts", map_type, ctypes.c_uint32, ctypes.c_uint64, 256)
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32").mov(R4, R2).add(R4, 1)
    with b.if_(R4 <= R3):
        b.load(R4, R2 + 0, "u8").store(R10 - 4, R4, "u32")
        b.mov(R2, R10).add(R2, -4).ld_map(R1, "counts").call("map_lookup_elem")
        with b.if_(R0 != 0):
            b.mov(R1, 1).atomic_add(R0 + 0, R1)
        with b.else_():
            b.store(R10 - 16, 1, "u64").mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
            b.ld_map(R1, "counts").call("map_update_elem")
    return b.ret(2).build()


def cpu_program():
    b = Builder("xdp", name="cpu_id")
    return b.call("get_smp_processor_id").exit().build()


def skb_program():
    """tc: mark = cb[0] + 1, priority = len, first byte of the packet (if any) := 0xAB; returns TC_ACT_OK."""
    return typed("""
        r2 = *(u32 *)(r1 + 48)
        r2 += 1
        *(u32 *)(r1 + 8) = r2
        r2 = *(u32 *)(r1 + 0)
        *(u32 *)(r1 + 32) = r2
        r2 = *(u32 *)(r1 + 76)
        r3 = *(u32 *)(r1 + 80)
        r4 = r2
        r4 += 1
        if r4 > r3 goto out
        r4 = 0xab
        *(u8 *)(r2 + 0) = r4
    out:
        r0 = 0
        exit
    """, "sched_cls")


# ---- without the kernel -------------------------------------------------------------------------------------------

def test_vm_only_when_not_requested():
    res = run_both(counting_program(), packet=PKT, kernel=False)
    assert res.kernel is None and not res.compared and res.agree
    assert res.skipped == "kernel side not requested"
    assert res.vm.retval == 2 and res.vm.maps == {"counts": {bytes(4): (1).to_bytes(8, "little")}}


def test_tracepoints_are_vm_only():
    prog = typed("r0 = 7\nexit", "tracepoint")
    with Differential(prog) as diff:
        res = diff.run(ctx=pyebpf.vm.context.SysEnterContext(1, [1, 2, 3]))
    assert res.vm.retval == 7 and res.kernel is None
    assert "TRACEPOINT" in res.skipped or "not permitted" in res.skipped


def test_a_vm_fault_without_kernel_fails_the_assertion():
    prog = typed("r0 = *(u8 *)(r1 + 9999)\nexit", "xdp")
    with pytest.raises(AssertionError, match="VM fault"):
        assert_vm_matches_kernel(prog, packet=PKT, kernel=False)


# ---- against the kernel -------------------------------------------------------------------------------------------

@pytest.mark.kernel
@pytest.mark.parametrize("map_type", ["hash", "array", "percpu_hash", "percpu_array", "lru_hash"])
def test_map_contents_agree_over_a_stream(differential, map_type):
    diff = differential(counting_program(map_type), kernel=True)
    for i in range(20):
        res = diff.run(packet=bytes([i % 3]) + PKT[1:]).check()
        assert res.compared
    assert res.vm.maps["counts"][bytes(4)][:8] == (7).to_bytes(8, "little")


@pytest.mark.kernel
def test_map_difference_is_reported(differential):
    diff = differential(counting_program(), kernel=True)
    diff.run(packet=PKT).check()
    diff.vm.maps["counts"][5] = 99                                  # the VM's map alone changes
    res = diff.run(packet=PKT)
    assert not res.agree and res.differences == [
        "map 'counts' key 05000000: vm 8 bytes 6300000000000000, kernel None"]
    with pytest.raises(AssertionError, match="VM and kernel disagree"):
        res.check()


@pytest.mark.kernel
def test_update_map_keeps_both_sides_in_step(differential):
    diff = differential(counting_program(), kernel=True)
    diff.update_map("counts", 0, 41)
    res = diff.run(packet=PKT).check()
    assert res.kernel.maps["counts"][bytes(4)] == (42).to_bytes(8, "little")


@pytest.mark.kernel
def test_kernel_runs_on_the_vms_cpu(differential):
    diff = differential(cpu_program(), kernel=True)
    assert diff.run(packet=PKT).check().kernel.retval == 0


@pytest.mark.kernel
def test_retval_difference_is_reported():
    res = run_both(cpu_program(), packet=PKT, kernel=True, helpers={"get_smp_processor_id": lambda m, *a: 7})
    assert res.differences == ["retval: vm 0x7, kernel 0x0"]


@pytest.mark.kernel
def test_short_packets_are_not_compared_and_leave_the_maps_in_step(differential):
    diff = differential(counting_program(), kernel=True)
    diff.run(packet=b"\x01" + PKT[1:]).check()
    res = diff.run(packet=b"\x01" * 5)
    assert res.vm.retval == 2 and not res.compared and res.agree and "shorter than 14" in res.skipped
    assert res.vm.maps["counts"][bytes([1, 0, 0, 0])] == (2).to_bytes(8, "little")   # the VM did count it
    assert diff.vm.maps["counts"][1] == 1                                              # and then forgot it
    diff.run(packet=b"\x01" + PKT[1:]).check()


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(ctx=skb_contexts(packet=ethernet_frames()))
def test_tc_program_and_skb_context_agree(ctx):
    res = assert_vm_matches_kernel(skb_program(), ctx=ctx, kernel=True)
    assert res.compared and res.kernel.ctx["mark"] == ((ctx.fields.get("cb") or [0])[0] + 1) & 0xFFFFFFFF
    assert res.kernel.packet[:1] == b"\xab"


@pytest.mark.kernel
def test_packet_difference_is_reported():
    """An XDP program whose only output is the packet: the VM gets a helper that lies about adjust_tail."""
    prog = typed("r2 = -4\ncall bpf_xdp_adjust_tail\nr0 = 2\nexit", "xdp")
    res = run_both(prog, packet=PKT, kernel=True, helpers={"xdp_adjust_tail": lambda m, *a: 0})
    assert [d.split(":")[0] for d in res.differences] == ["packet"]


@pytest.mark.kernel
def test_raw_tracepoint_args_agree():
    prog = typed("r0 = *(u64 *)(r1 + 8)\nr2 = *(u64 *)(r1 + 0)\nr0 -= r2\nexit", "raw_tracepoint")
    res = assert_vm_matches_kernel(prog, ctx=pyebpf.vm.context.RawTracepointContext([5, 47]), kernel=True)
    assert res.compared and res.kernel.retval == 42


def test_kernel_required_but_unavailable_is_an_error(monkeypatch):
    import pyebpf.testing.differential as d

    monkeypatch.setattr(d, "bpf_unavailable_reason", lambda: "no bpf here")
    with pytest.raises(LoaderError, match="kernel side required but no bpf here"):
        Differential(counting_program(), kernel=True)


def ring_program():
    """XDP: a ring record {cpu u32, first 4 packet bytes} per packet; packets starting with 0 are discarded."""
    b = Builder("xdp", name="ring_out")
    b.map("events", "ringbuf", max_entries=4096)
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32").mov(R4, R2).add(R4, 4)
    with b.if_(R4 <= R3):
        b.load(R6, R2 + 0, "u32")
        b.ld_map(R1, "events").mov(R2, 8).mov(R3, 0).call("ringbuf_reserve")
        with b.if_(R0 != 0):
            b.mov(R7, R0).store(R7 + 4, R6, "u32")
            b.call("get_smp_processor_id").store(R7 + 0, R0, "u32")
            b.mov(R1, R7).mov(R2, 0)
            with b.if_(R6 & 0xFF):
                b.call("ringbuf_submit")
            with b.else_():
                b.call("ringbuf_discard")
    return b.ret(2).build()


@pytest.mark.kernel
def test_ring_records_agree(differential):
    diff = differential(ring_program(), kernel=True)
    for first in (1, 0, 7):
        res = diff.run(packet=bytes([first]) + PKT[1:]).check()
        want = [bytes(4) + bytes([first]) + PKT[1:4]] if first else []
        assert res.kernel.ring.get("events", []) == res.vm.ring.get("events", []) == want


@pytest.mark.kernel
def test_ring_difference_is_reported():
    res = run_both(ring_program(), packet=PKT[1:], kernel=True, helpers={"get_smp_processor_id": lambda m, *a: 1})
    assert [d.split(":")[0] for d in res.differences] == ["ring 'events'"]


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(ctx=raw_tp_args(count=4))
def test_raw_tracepoint_program_agrees_on_any_args(ctx):
    """A branchy raw tracepoint program (signed compare, 32-bit ALU, division) over drawn args."""
    prog = typed("""
        r2 = *(u64 *)(r1 + 0)
        r3 = *(u64 *)(r1 + 8)
        r4 = *(u64 *)(r1 + 16)
        r5 = *(u64 *)(r1 + 24)
        r0 = r2
        if r2 s> r3 goto big
        w0 = w3
        w0 -= w4
        goto out
    big:
        r0 ^= r5
        r4 |= 1
        r0 /= r4
    out:
        exit
    """, "raw_tracepoint")
    res = assert_vm_matches_kernel(prog, ctx=ctx, kernel=True)
    assert res.compared
