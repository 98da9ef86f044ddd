"""abi.prog_kinds' answers against the running kernel: which program types may read or write packet data directly,
which may use LD_ABS. Each case loads a tiny program of that type and compares the verifier's verdict."""

from __future__ import annotations

import pytest

from pyebpf.abi.context import CONTEXTS
from pyebpf.abi.prog_kinds import has_skb_context, is_packet_program, may_ld_abs, may_read_packet, may_write_packet
from pyebpf.abi.prog_types import ProgType
from rawbpf import EXIT, LDX_MEM, MOV64_IMM, STX_MEM, insn, prog_load

MOV64_REG, ADD64_IMM, JGT_REG, LD_ABS_B = 0xBF, 0x07, 0x2D, 0x30

#: Packet program types this kernel loads with no attach type (LWT_SEG6LOCAL needs CONFIG_IPV6_SEG6_BPF).
PACKET_TYPES = [ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB, ProgType.LWT_IN,
                ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.SK_SKB, ProgType.XDP]


def _packet_prog(pt: ProgType, write: bool) -> list[bytes]:
    """r2 = ctx->data; r3 = ctx->data_end; if r2 + 1 <= r3: read or write the first byte."""
    layout = CONTEXTS[pt]
    access = (insn(STX_MEM[1], 2, 0) if write else insn(LDX_MEM[1], 4, 2))
    return [insn(MOV64_IMM, 0, imm=0),
            insn(LDX_MEM[4], 2, 1, off=layout["data"].offset),
            insn(LDX_MEM[4], 3, 1, off=layout["data_end"].offset),
            insn(MOV64_REG, 4, 2), insn(ADD64_IMM, 4, imm=1),
            insn(JGT_REG, 4, 3, off=1), access, insn(EXIT)]


def test_packet_programs_are_the_skb_and_xdp_contexts():
    assert all(is_packet_program(pt) for pt in PACKET_TYPES)
    assert all(has_skb_context(pt) == (CONTEXTS[pt].name == "__sk_buff") for pt in PACKET_TYPES)
    assert not is_packet_program(ProgType.KPROBE) and not is_packet_program(None)


@pytest.mark.kernel
@pytest.mark.parametrize("pt", PACKET_TYPES, ids=lambda p: p.name.lower())
def test_direct_packet_access_matches_kernel(pt):
    assert prog_load(pt, [insn(MOV64_IMM, 0, imm=0), insn(EXIT)])[0], f"this kernel does not load {pt.name}"
    read, read_log = prog_load(pt, _packet_prog(pt, write=False))
    write, write_log = prog_load(pt, _packet_prog(pt, write=True))
    assert read == may_read_packet(pt), read_log[-300:]
    assert write == may_write_packet(pt), write_log[-300:]


@pytest.mark.kernel
@pytest.mark.parametrize("pt", PACKET_TYPES, ids=lambda p: p.name.lower())
def test_ld_abs_matches_kernel(pt):
    prog = [insn(MOV64_REG, 6, 1), insn(LD_ABS_B, imm=0), insn(MOV64_IMM, 0, imm=0), insn(EXIT)]
    accepted, log = prog_load(pt, prog)
    assert accepted == may_ld_abs(pt), log[-300:]
