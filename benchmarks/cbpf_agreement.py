#!/usr/bin/env python3
"""tcpdump filters: how often our VM agrees with the kernel, over many random frames (a longer campaign than the
tests run). Needs root (BPF_PROG_TEST_RUN, unshare -n) and tcpdump.

    PYTHONPATH=. python3 benchmarks/cbpf_agreement.py [--frames 300] [--socket-frames 150]

Per expression: frames tried, frames the filter keeps, and agreement of the VM (running pyebpf's conversion) with
(a) BPF_PROG_TEST_RUN of the same conversion and (b) a packet socket on lo in a private netns with the classic
program attached by SO_ATTACH_FILTER (the kernel's own check and conversion; VLAN frames arrive there untagged
with the tag in the skb, as the VM is told). Exits 1 on any disagreement.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cbpf"))

from cbpf_frames import (  # noqa: E402
    ethernet, frame_for_test_run, socket_safe, socket_verdicts, tcpdump_program, vm_socket_verdict,
)
from hypothesis import HealthCheck, given, settings  # noqa: E402

from pyebpf.cbpf import to_ebpf  # noqa: E402
from pyebpf.loader.program import load  # noqa: E402
from pyebpf.vm import VM  # noqa: E402

EXPRESSIONS = [
    ("tcp port 80", ()), ("udp and dst port 53", ()), ("icmp", ()), ("ip6", ()), ("vlan", ()),
    ("tcp[tcpflags] & tcp-syn != 0", ()), ("net 10.0.0.0/8", ()), ("len > 100", ()), ("arp", ()),
    ("udp portrange 1000-2000", ()), ("ip6 and tcp dst port 443", ()), ("ip[8] < 64", ()),
    ("icmp6 or ip proto 17", ()), ("greater 60 and less 200", ()), ("tcp[13] & 2 != 0 and not port 22", ()),
    ("ether broadcast", ()), ("vlan and tcp", ()), ("ip[6:2] & 0x1fff = 0 and udp[8:2] = 0x1234", ()),
    ("vlan", ("-i", "lo")), ("vlan 5", ("-i", "lo")), ("vlan and ip", ("-i", "lo")),
]


def draw_frames(n: int, vlan: bool) -> list[bytes]:
    out: list[bytes] = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ethernet(vlan=vlan))
    def collect(frame: bytes) -> None:
        out.append(frame)
    collect()
    return out[:n]


def short_l3(frame: bytes) -> bool:
    return (frame[12:14] == b"\x08\x00" and len(frame) < 34) or (frame[12:14] == b"\x86\xdd" and len(frame) < 54)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--socket-frames", type=int, default=150)
    args = ap.parse_args()
    bad = 0
    totals = [0, 0, 0, 0, 0, 0]
    print(f"{'expression':<48} {'frames':>6} {'kept':>5} {'test_run':>9} {'socket':>20}")
    start = time.monotonic()
    for expr, extra in EXPRESSIONS:
        prog = tcpdump_program(expr, *extra)
        vm = VM(to_ebpf(prog))
        frames = [f for f in draw_frames(args.frames, True) if not short_l3(f)]
        with load(to_ebpf(prog)) as kp:
            tr_agree = sum(vm.run(packet=frame_for_test_run(f)).r0 == kp.test_run(frame_for_test_run(f)).retval
                           for f in frames)
        kept = sum(bool(vm.run(packet=frame_for_test_run(f)).r0) for f in frames)
        sock_frames = [f for f in draw_frames(args.socket_frames, True) if socket_safe(f)]
        got = socket_verdicts(prog, sock_frames)
        sock_agree = sum(a == b for a, b in zip(got, [vm_socket_verdict(vm, f) for f in sock_frames]))
        sock_kept = sum(bool(g) for g in got)
        name = expr + (" (-i lo)" if extra else "")
        sock_text = f"{sock_agree}/{len(sock_frames)} ({sock_kept} kept)" if sock_frames else "-"
        print(f"{name:<48} {len(frames):>6} {kept:>5} {tr_agree:>4}/{len(frames):<4} {sock_text:>20}")
        bad += (len(frames) - tr_agree) + (len(sock_frames) - sock_agree)
        for i, v in enumerate((len(frames), kept, tr_agree, len(sock_frames), sock_agree, sock_kept)):
            totals[i] += v
    print(f"{len(EXPRESSIONS)} expressions: test_run agreement {totals[2]}/{totals[0]} (filters kept {totals[1]}), "
          f"socket agreement {totals[4]}/{totals[3]} (kept {totals[5]}); {time.monotonic() - start:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
