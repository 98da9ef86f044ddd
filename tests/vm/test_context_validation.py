"""Context builders check every field at construction: unknown names, non-integers, values wider than the field,
lists of the wrong length and non-objects where registers are expected are one ContextError naming the field."""
from __future__ import annotations

import pytest

import pyebpf
from pyebpf.abi.context import PT_REGS, SK_BUFF, TRACE_EVENT_RAW_SYS_ENTER
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import VmError
from pyebpf.vm import VM
from pyebpf.vm.context import (ContextError, KprobeContext, PerfEventContext, RawTracepointContext, SkbContext,
                               SysEnterContext, SysExitContext, TracepointContext, XdpContext, default_context,
                               for_packet)

PACKET = bytes(12) + b"\x08\x00" + bytes(20)


def test_context_error_is_a_vm_error_and_a_value_error():
    assert issubclass(ContextError, VmError) and issubclass(ContextError, ValueError)


@pytest.mark.parametrize("build, field", [
    # __sk_buff: scalar widths come from the layout (u32, u64 tstamp, u8 tstamp_type), protocol is a __be16
    (lambda: SkbContext(PACKET, mark="1"), "__sk_buff.mark"),
    (lambda: SkbContext(PACKET, mark=1 << 32), "__sk_buff.mark"),
    (lambda: SkbContext(PACKET, mark=-(1 << 31) - 1), "__sk_buff.mark"),
    (lambda: SkbContext(PACKET, tstamp=1 << 64), "__sk_buff.tstamp"),
    (lambda: SkbContext(PACKET, tstamp_type=256), "__sk_buff.tstamp_type"),
    (lambda: SkbContext(PACKET, protocol=0x10000), "__sk_buff.protocol"),
    (lambda: SkbContext(PACKET, protocol="x"), "__sk_buff.protocol"),
    (lambda: SkbContext(PACKET, priority=True), "__sk_buff.priority"),
    (lambda: SkbContext(PACKET, priority=1.0), "__sk_buff.priority"),
    (lambda: SkbContext(PACKET, cb=-1), "__sk_buff.cb"),
    (lambda: SkbContext(PACKET, cb="12345"), "__sk_buff.cb"),
    (lambda: SkbContext(PACKET, cb=[0] * 6), "__sk_buff.cb"),
    (lambda: SkbContext(PACKET, cb=[0, "x"]), "__sk_buff.cb[1]"),
    (lambda: SkbContext(PACKET, remote_ip6=[0] * 5), "__sk_buff.remote_ip6"),
    (lambda: SkbContext(PACKET, data=0), "data"),  # computed by the builder: not settable
    (lambda: SkbContext(PACKET, nonsense=1), "nonsense"),
    # xdp_md
    (lambda: XdpContext(PACKET, ingress_ifindex="x"), "xdp_md.ingress_ifindex"),
    (lambda: XdpContext(PACKET, rx_queue_index=1 << 32), "xdp_md.rx_queue_index"),
    (lambda: for_packet("xdp", PACKET, zz=1), "zz"),
    (lambda: for_packet("xdp", "00"), "packet"),
    (lambda: XdpContext(bytes(4000)), "does not fit"),
    # tracepoint records: trace_entry's u16 type and s32 pid, s64 id, u64 args
    (lambda: SysEnterContext("x"), "sys_enter.id"),
    (lambda: SysEnterContext(1 << 64), "sys_enter.id"),
    (lambda: SysEnterContext(1, pid="x"), "sys_enter.pid"),
    (lambda: SysEnterContext(1, pid=1 << 32), "sys_enter.pid"),
    (lambda: SysEnterContext(1, type_id=1 << 16), "sys_enter.type_id"),
    (lambda: SysEnterContext(1, args=5), "sys_enter.args"),
    (lambda: SysEnterContext(1, args=[0] * 7), "sys_enter.args"),
    (lambda: SysEnterContext(1, args=[1 << 64]), "sys_enter.args[0]"),
    (lambda: SysExitContext(1, ret="x"), "sys_exit.ret"),
    (lambda: TracepointContext("00"), "tracepoint record"),
    (lambda: default_context("tracepoint", idd=1), "idd"),
    (lambda: default_context("tracepoint", ret=0, args=[1]), "args"),
    (lambda: default_context("tracepoint", raw=b"", id=1), "id"),
    # pt_regs / perf event / raw tracepoint
    (lambda: KprobeContext({"di": "x"}), "pt_regs.di"),
    (lambda: KprobeContext({"di": 1 << 64}), "pt_regs.di"),
    (lambda: KprobeContext("x"), "pt_regs"),
    (lambda: KprobeContext({1: 2}), "no register"),
    (lambda: KprobeContext(zz=1), "no register 'zz'"),
    (lambda: PerfEventContext(regs="x"), "bpf_perf_event_data.regs"),
    (lambda: PerfEventContext({"ip": []}), "bpf_perf_event_data.regs.ip"),
    (lambda: PerfEventContext(sample_period="q"), "bpf_perf_event_data.sample_period"),
    (lambda: PerfEventContext(addr=-(1 << 64)), "bpf_perf_event_data.addr"),
    (lambda: default_context("perf_event", period=1), "period"),
    (lambda: RawTracepointContext([0] * 13), "bpf_raw_tracepoint_args.args"),
    (lambda: RawTracepointContext(["x"]), "bpf_raw_tracepoint_args.args[0]"),
    (lambda: default_context("raw_tracepoint", argz=[1]), "argz"),
])
def test_bad_field_is_a_context_error_naming_it(build, field: str):
    with pytest.raises(ContextError) as info:
        build()
    assert field in str(info.value) and "\n" not in str(info.value)


def test_values_land_at_the_layout_offsets():
    """Both spellings of a value (signed, unsigned) give the same field bytes, at the offset the layout names."""
    ctx = SysEnterContext(-1, [1, (1 << 64) - 1], pid=-2, type_id=0xFFFF)
    f = TRACE_EVENT_RAW_SYS_ENTER
    assert ctx.raw[f["id"].offset:f["id"].end] == b"\xff" * 8
    assert ctx.raw[f["args[1]"].offset:f["args[1]"].end] == b"\xff" * 8
    assert ctx.raw[f["common_pid"].offset:f["common_pid"].end] == (-2 & 0xFFFFFFFF).to_bytes(4, "little")
    assert ctx.raw == SysEnterContext((1 << 64) - 1, [1, -1], pid=0xFFFFFFFE, type_id=-1).raw
    regs = KprobeContext({"rdi": -1}).raw
    assert regs[PT_REGS["di"].offset:PT_REGS["di"].end] == b"\xff" * 8


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_checked_skb_fields_reach_the_program(engine: str):
    """Widths from the layout: the u64 tstamp and the __be16 protocol as the program reads them."""
    prog = pyebpf.assemble("r0 = *(u64 *)(r1 + %d)\nr2 = *(u32 *)(r1 + %d)\nr0 += r2\nexit"
                           % (SK_BUFF["tstamp"].offset, SK_BUFF["protocol"].offset))
    res = VM(prog, prog_type="sched_cls", engine=engine).run(
        SkbContext(PACKET, ProgType.SCHED_CLS, tstamp=(1 << 64) - 0x10000, protocol=0x86DD))
    assert res.r0 == ((1 << 64) - 0x10000 + 0xDD86) & ((1 << 64) - 1)
