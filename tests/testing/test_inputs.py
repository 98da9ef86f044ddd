"""Input strategies: well-formed layers really are well-formed, corruption really corrupts, contexts reach programs."""
from __future__ import annotations

import struct

from hypothesis import HealthCheck, Phase, find, given, settings

import pyebpf
from pyebpf.testing import inputs
from pyebpf.testing.inputs import EtherType, IpProto

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SEARCH = settings(max_examples=3000, database=None, phases=[Phase.generate])


def test_checksum_of_a_known_header():
    """The IPv4 header of the RFC 1071 / Wikipedia worked example: checksum 0xb861."""
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert inputs.inet_checksum(hdr) == 0xB861
    assert inputs.inet_checksum(hdr[:10] + b"\xb8\x61" + hdr[12:]) == 0


def _layers(frame: bytes):
    l3 = 18 if frame[12:14] == struct.pack("!H", EtherType.VLAN) else 14
    return struct.unpack_from("!H", frame, l3 - 2)[0], l3


@FAST
@given(inputs.ethernet_frames(l3=("ipv4", "ipv6")))
def test_valid_frames_have_correct_lengths_and_checksums(frame):
    ethertype, l3 = _layers(frame)
    if ethertype == EtherType.IP:
        ihl = (frame[l3] & 0x0F) * 4
        assert frame[l3] >> 4 == 4 and ihl >= 20
        assert struct.unpack_from("!H", frame, l3 + 2)[0] == len(frame) - l3
        assert inputs.inet_checksum(frame[l3:l3 + ihl]) == 0
        proto, src, dst, l4 = frame[l3 + 9], frame[l3 + 12:l3 + 16], frame[l3 + 16:l3 + 20], l3 + ihl
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(frame) - l4)
    else:
        assert ethertype == EtherType.IPV6 and frame[l3] >> 4 == 6
        assert struct.unpack_from("!H", frame, l3 + 4)[0] == len(frame) - l3 - 40
        proto, src, dst, l4 = frame[l3 + 6], frame[l3 + 8:l3 + 24], frame[l3 + 24:l3 + 40], l3 + 40
        pseudo = src + dst + struct.pack("!IxxxB", len(frame) - l4, proto)
    if proto == IpProto.UDP:
        assert struct.unpack_from("!H", frame, l4 + 4)[0] == len(frame) - l4
    if proto in (IpProto.UDP, IpProto.TCP):
        assert inputs.inet_checksum(pseudo + frame[l4:]) == 0


def test_corruption_reaches_every_kind():
    def bad_ipv4_checksum(f):
        ethertype, l3 = _layers(f) if len(f) >= 18 else (0, 0)
        return ethertype == EtherType.IP and len(f) >= l3 + 20 and f[l3] >> 4 == 4 and (f[l3] & 15) == 5 \
            and inputs.inet_checksum(f[l3:l3 + 20]) != 0
    find(inputs.corrupted(), lambda f: len(f) < 14, settings=SEARCH)
    find(inputs.corrupted(), bad_ipv4_checksum, settings=SEARCH)
    find(inputs.corrupted(), lambda f: len(f) >= 34 and _layers(f)[0] == EtherType.IP and f[_layers(f)[1]] & 15 < 5,
         settings=SEARCH)
    find(inputs.packets(), lambda f: f == b"", settings=SEARCH)


# ---- contexts reach programs (VM) ------------------------------------------------------------------------------------

@FAST
@given(ctx=inputs.skb_contexts(packet=inputs.ethernet_frames()))
def test_skb_context_fields_reach_the_program(ebpf_vm, ctx):
    prog = pyebpf.assemble("r2 = *(u32 *)(r1 + 8)\nr3 = *(u32 *)(r1 + 48)\nr2 ^= r3\nr0 = *(u32 *)(r1 + 0)\n"
                           "r0 <<= 32\nr0 |= r2\nexit")              # len << 32 | (mark ^ cb[0])
    res = ebpf_vm(prog, prog_type="sched_cls").run(ctx)
    want = ctx.fields.get("mark", 0) ^ (ctx.fields.get("cb") or [0])[0]
    assert res.r0 == (len(ctx.packet) << 32) | want


@FAST
@given(ctx=inputs.syscall_args(syscall=1))
def test_syscall_args_reach_the_program(ebpf_vm, ctx):
    prog = pyebpf.assemble("r0 = *(u64 *)(r1 + 16)\nr2 = *(u64 *)(r1 + 56)\nr0 ^= r2\nexit")   # args[0] ^ args[5]
    res = ebpf_vm(prog, prog_type="tracepoint").run(ctx)
    nr, *args = struct.unpack_from("<q6Q", ctx.raw, 8)
    assert nr == 1 and res.r0 == args[0] ^ args[5]


@FAST
@given(ctx=inputs.pt_regs(arg2=0x1234))
def test_pt_regs_reach_the_program(ebpf_vm, ctx):
    prog = pyebpf.assemble("r0 = *(u64 *)(r1 + 104)\nexit")        # pt_regs->si: arg2
    assert ebpf_vm(prog, prog_type="kprobe").run(ctx).r0 == 0x1234


@FAST
@given(ctx=inputs.xdp_contexts())
def test_xdp_context_carries_the_packet(ebpf_vm, ctx):
    prog = pyebpf.assemble("r2 = *(u32 *)(r1 + 0)\nr0 = *(u32 *)(r1 + 4)\nr0 -= r2\nexit")   # data_end - data
    assert ebpf_vm(prog, prog_type="xdp").run(ctx).r0 == len(ctx.packet)
