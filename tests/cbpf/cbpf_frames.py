"""Hypothesis strategies for Ethernet frames that exercise tcpdump filters, and the harness that runs a classic
program three ways: our VM (on our conversion), the kernel's BPF_PROG_TEST_RUN (on our conversion) and a real packet
socket with SO_ATTACH_FILTER in a private network namespace (the kernel's own bpf_convert_filter)."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from pyebpf.abi.net import ETH_HLEN, VLAN_HLEN
from pyebpf.abi.prog_types import ProgType
from pyebpf.cbpf import ClassicProgram, assemble
from pyebpf.vm.context import SkbContext

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

def weighted(*choices: tuple[object, int]) -> st.SearchStrategy:
    """One of the values, each as often as its weight says (a value may be a strategy, drawn from)."""
    table = [value for value, weight in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(
        lambda i: table[i] if isinstance(table[i], st.SearchStrategy) else st.just(table[i]))


# values the filters under test look for come often, so that frames both pass and fail them
_port = weighted((80, 4), (53, 3), (443, 2), (22, 2), (1000, 1), (1500, 1), (2000, 1), (2001, 1),
                 (st.integers(0, 0xFFFF), 4))
_proto4 = weighted((6, 4), (17, 3), (1, 2), (st.integers(0, 255), 2))
_proto6 = weighted((6, 4), (17, 3), (58, 2), (st.integers(0, 255), 2))
_addr4 = weighted((st.builds(lambda b: bytes([10]) + b, st.binary(min_size=3, max_size=3)), 1),
                  (st.binary(min_size=4, max_size=4), 1))


@st.composite
def l4(draw: st.DrawFn, proto: int) -> bytes:
    if proto in (6, 17):
        head = struct.pack(">HH", draw(_port), draw(_port))
        if proto == 6:
            flags = draw(weighted((0x02, 2), (0x12, 2), (0x10, 2), (0x11, 1), (st.integers(0, 0xFF), 2)))
            return head + draw(st.binary(min_size=8, max_size=8)) + bytes([0x50, flags]) + draw(
                st.binary(min_size=6, max_size=6))
        return head + struct.pack(">HH", draw(st.integers(8, 200)), 0)
    if proto in (1, 58):
        return bytes([draw(st.sampled_from([0, 8, 3, 128, 129])), 0, 0, 0]) + draw(st.binary(max_size=4))
    return draw(st.binary(max_size=8))


@st.composite
def ipv4(draw: st.DrawFn) -> bytes:
    ihl = draw(weighted((5, 8), (6, 1), (15, 1), (4, 1)))
    proto = draw(_proto4)
    frag = draw(weighted((0, 4), (0x4000, 3), (st.integers(0, 0xFFFF), 2)))
    ttl = draw(st.integers(0, 255))
    head = struct.pack(">BBHHHBBH", 0x40 | ihl, 0, 0, 1, frag, ttl, proto, 0) + draw(_addr4) + draw(_addr4)
    head += draw(st.binary(min_size=max(0, ihl * 4 - 20), max_size=max(0, ihl * 4 - 20)))
    return head + draw(l4(proto))


@st.composite
def ipv6(draw: st.DrawFn) -> bytes:
    nxt = draw(_proto6)
    return (bytes([0x60, 0, 0, 0]) + struct.pack(">HBB", 20, nxt, 64) + draw(st.binary(min_size=32, max_size=32))
            + draw(l4(nxt)))


@st.composite
def ethernet(draw: st.DrawFn, vlan: bool = True) -> bytes:
    """An Ethernet frame (at least 14 bytes): IPv4, IPv6, ARP, optionally 802.1Q/802.1ad-tagged, or random bytes,
    with random trailing bytes and sometimes cut short (so loads run off the end)."""
    dst = draw(weighted((bytes(6), 2), (b"\xff" * 6, 1), (st.binary(min_size=6, max_size=6), 2)))
    src = draw(st.binary(min_size=6, max_size=6))
    kind = draw(weighted(("ip", 4), ("ip6", 2), ("arp", 1), ("vlan", 2 if vlan else 0), ("raw", 1)))
    if kind == "ip":
        body = b"\x08\x00" + draw(ipv4())
    elif kind == "ip6":
        body = b"\x86\xdd" + draw(ipv6())
    elif kind == "arp":
        body = b"\x08\x06" + draw(st.binary(min_size=28, max_size=28))
    elif kind == "vlan":
        tpid = draw(st.sampled_from([b"\x81\x00", b"\x88\xa8", b"\x91\x00"]))
        inner = draw(st.one_of(st.builds(lambda p: b"\x08\x00" + p, ipv4()),
                               st.builds(lambda p: b"\x86\xdd" + p, ipv6())))
        body = tpid + draw(st.binary(min_size=2, max_size=2)) + inner
    else:
        body = draw(st.binary(min_size=2, max_size=80))
    pad = draw(st.integers(0, 120))
    frame = dst + src + body + draw(st.binary(min_size=pad, max_size=pad))
    if draw(st.integers(0, 5)) == 0:
        frame = frame[:draw(st.integers(ETH_HLEN, len(frame)))]
    return frame


def tcpdump_program(expr: str, *args: str) -> ClassicProgram:
    """`tcpdump -dd EXPR` (Debian's tcpdump; `-y EN10MB` compiles for Ethernet without opening an interface)."""
    out = subprocess.run(["tcpdump", *(args or ("-y", "EN10MB")), "-dd", expr], capture_output=True, text=True,
                         check=True, timeout=30)
    return assemble(out.stdout)


def have_tcpdump() -> bool:
    return shutil.which("tcpdump") is not None


def frame_for_test_run(frame: bytes) -> bytes:
    """What BPF_PROG_TEST_RUN takes so that a socket filter sees `frame` from its first byte: the kernel pulls one
    Ethernet header (eth_type_trans) before the program runs, so the frame's own header goes in front once more;
    skb->protocol and pkt_type then come from the frame's header, as on a real receive."""
    return frame[:ETH_HLEN] + frame


VLAN_TPIDS_UNTAGGED = (b"\x81\x00", b"\x88\xa8")  # 802.1Q and 802.1ad: the receive path takes the tag off


def socket_safe(frame: bytes) -> bool:
    """Frames a packet socket on lo receives at all: a tagged frame too short to untag is dropped for every socket."""
    return frame[12:14] not in VLAN_TPIDS_UNTAGGED or len(frame) >= ETH_HLEN + VLAN_HLEN + 4


def vm_socket_verdict(vm: Any, frame: bytes) -> int:
    """Bytes of `frame` a packet socket keeps by the VM's run of `vm`'s program: there the filter sees the frame
    from its MAC header (packet_rcv pushes it back), the network header 14 bytes in; nothing was pulled. An
    802.1Q/802.1ad tag has been taken off by __netif_receive_skb_core (skb_vlan_untag) before packet sockets see
    the frame: the filter sees the untagged frame, with vlan_present, vlan_tci and vlan_proto set."""
    fields: dict[str, int] = {}
    if frame[12:14] in VLAN_TPIDS_UNTAGGED:
        fields = {"vlan_present": 1, "vlan_tci": int.from_bytes(frame[14:16], "big"),
                  "vlan_proto": int.from_bytes(frame[12:14], "little")}  # __sk_buff holds the __be16 as loaded
        frame = frame[:12] + frame[ETH_HLEN + VLAN_HLEN - 2:]
    ctx = SkbContext(frame, ProgType.SOCKET_FILTER, **fields)
    ctx.pulled = 0
    return min(vm.run(ctx).r0 & 0xFFFFFFFF, len(frame))


def socket_verdicts(prog: ClassicProgram, frames: list[bytes]) -> list[int]:
    """Bytes a packet socket on lo in a fresh network namespace receives of each frame with `prog` attached
    (0: dropped). Runs netns_sniff.py under `unshare -n`."""
    req = json.dumps({"filter": prog.to_bytes().hex(), "frames": [f.hex() for f in frames]})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(["unshare", "-n", sys.executable, str(HERE / "netns_sniff.py")], input=req,
                         capture_output=True, text=True, env=env, timeout=120)
    if out.returncode:
        raise RuntimeError(f"netns_sniff failed: {out.stderr.strip()[-2000:]}")
    kept = json.loads(out.stdout)["kept"]
    result = [0] * len(frames)
    for index, length in kept:
        if index < 0 or result[index]:
            raise RuntimeError(f"could not attribute a received packet to its frame: {kept}")
        result[index] = length
    return result
