#!/usr/bin/env python3
"""Instructions per second of the two VM engines, and of the kernel where bpf() is permitted.

    python benchmarks/vm_speed.py [--seconds S] [--no-kernel]

Three XDP programs: an ALU/branch loop, a packet parser (Ethernet/IPv4/IPv6/TCP/UDP with bounds checks, run once
per packet over a mix of packets) and a map-heavy loop (hash map lookups and updates through helpers). For each it
prints the instructions executed per run, instructions per second of the interpreter and of the compiler
(process CPU time, including the per-run cost of building the context and the result), the ratio compiled/interpreter, and, with bpf(), the
kernel's figure from BPF_PROG_TEST_RUN (repeat=N, its mean duration per run) and the ratio kernel/pyebpf. r0 of
every engine is checked against the kernel's.
"""
from __future__ import annotations

import argparse
import struct
import sys
import time
from typing import Any

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.vm import VM

ALU_LOOP = """
    r0 = 0
    r1 = 20000
    r3 = 0x9e3779b9
loop:
    r2 = r1
    r2 *= 3
    r2 ^= r0
    r0 += r2
    r0 &= 0xffffff
    w4 = w1
    w4 <<= 3
    r0 -= r4
    r0 &= 0xffffff
    r1 -= 1
    if r1 != 0 goto loop
    exit
"""

PARSER = """
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 14
    if r4 > r3 goto pass
    r5 = *(u16 *)(r2 + 12)
    if r5 == 0x0008 goto ipv4
    if r5 == 0xdd86 goto ipv6
    goto pass
ipv4:
    r4 = r2
    r4 += 34
    if r4 > r3 goto pass
    r5 = *(u8 *)(r2 + 14)
    r5 &= 0xf
    if r5 < 5 goto drop
    r5 <<= 2
    r6 = *(u8 *)(r2 + 23)
    r7 = r2
    r7 += 14
    r7 += r5
    goto l4
ipv6:
    r4 = r2
    r4 += 54
    if r4 > r3 goto pass
    r6 = *(u8 *)(r2 + 20)
    r7 = r2
    r7 += 54
l4:
    if r6 == 6 goto tcp
    if r6 != 17 goto pass
    r4 = r7
    r4 += 8
    if r4 > r3 goto pass
    r5 = *(u16 *)(r7 + 2)
    be16 r5
    if r5 == 53 goto pass
    if r5 < 1024 goto drop
    goto pass
tcp:
    r4 = r7
    r4 += 20
    if r4 > r3 goto pass
    r5 = *(u16 *)(r7 + 2)
    be16 r5
    r8 = *(u8 *)(r7 + 13)
    r8 &= 0x12
    if r8 == 0x02 goto syn
    if r5 == 80 goto pass
    if r5 == 443 goto pass
    goto drop
syn:
    r0 = 3
    exit
drop:
    r0 = 1
    exit
pass:
    r0 = 2
    exit
"""

MAP_HEAVY = """
    r6 = 0
    r7 = 0
loop:
    r1 = r6
    r1 *= 2654435761
    r1 &= 255
    *(u32 *)(r10 - 4) = r1
    r1 = map[counts] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto insert
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r7 += r1
    goto next
insert:
    *(u64 *)(r10 - 16) = r6
    r1 = map[counts] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
next:
    r6 += 1
    if r6 < 512 goto loop
    r0 = r7
    exit
"""


def _packets() -> list[bytes]:
    def eth(proto: int) -> bytes:
        return bytes(6) + bytes(6) + struct.pack(">H", proto)

    def ipv4(proto: int, l4: bytes) -> bytes:
        return eth(0x0800) + bytes([0x45, 0]) + struct.pack(">H", 20 + len(l4)) + bytes(5) + bytes([proto]) \
            + bytes(10) + l4

    def ipv6(proto: int, l4: bytes) -> bytes:
        return eth(0x86DD) + bytes([0x60, 0, 0, 0]) + struct.pack(">H", len(l4)) + bytes([proto, 64]) \
            + bytes(32) + l4

    udp = lambda port: struct.pack(">HHHH", 1234, port, 8, 0)  # noqa: E731
    tcp = lambda port, flags: struct.pack(">HHIIBBHHH", 1234, port, 0, 0, 0x50, flags, 0, 0, 0)  # noqa: E731
    return [ipv4(17, udp(53)), ipv4(17, udp(123)), ipv4(6, tcp(80, 0x10)), ipv4(6, tcp(22, 0x02)),
            ipv6(17, udp(5353)), ipv6(6, tcp(443, 0x10)), ipv6(6, tcp(8080, 0x18)), bytes(60)]


def _measure(vm: VM, packets: list[bytes], seconds: float) -> tuple[float, int, list[int]]:
    """(instructions per second, instructions per pass over the packets, r0 per packet)."""
    results = [vm.run(packet=p) for p in packets]  # warm up (the compiler compiles on first run)
    per_pass = sum(r.insns for r in results)
    r0s = [r.r0 for r in results]
    runs = 0
    start = time.process_time()  # CPU time: the machine may be shared, wall time would measure the neighbours
    while True:
        for p in packets:
            vm.run(packet=p)
        runs += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            break
    return per_pass * runs / elapsed, per_pass, r0s


def _kernel(program: Any, packets: list[bytes], repeat: int) -> tuple[list[int], float] | None:
    """(retval per packet, mean ns for one pass over the packets) from BPF_PROG_TEST_RUN, or None."""
    from pyebpf.testing.kernel_probe import bpf_unavailable_reason

    if bpf_unavailable_reason() is not None:
        return None
    from pyebpf.loader import load

    with load(program) as kp:  # first runs on fresh maps give the r0 to compare with a fresh VM
        rets = [kp.test_run(data=p).retval for p in packets]
    with load(program) as kp:
        total_ns = sum(kp.test_run(data=p, repeat=repeat).duration_ns for p in packets)
        return rets, float(total_ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per engine per program (default 2)")
    parser.add_argument("--no-kernel", action="store_true", help="skip BPF_PROG_TEST_RUN")
    parser.add_argument("--repeat", type=int, default=2000, help="kernel test_run repeat count")
    args = parser.parse_args(argv)

    counts = MapSpec.of("counts", "hash", 4, 8, 1024)
    pkts = _packets()
    benches = [
        ("ALU/branch loop", pyebpf.assemble(ALU_LOOP), [bytes(64)], {}),
        ("packet parser", pyebpf.assemble(PARSER), pkts, {}),
        ("map-heavy loop", pyebpf.assemble(MAP_HEAVY, maps=[counts]), [bytes(64)], {}),
    ]
    header = (f"{'program':<16} {'insns/run':>9} {'interp M/s':>10} {'compiled M/s':>12} {'comp/interp':>11} "
              f"{'comp us/run':>11} {'kernel M/s':>10} {'kernel/interp':>13} {'kernel/comp':>11}  r0 check")
    print(header)
    print("-" * len(header))
    ok = True
    for name, program, packets, _ in benches:
        program.prog_type = ProgType.XDP
        rates, r0s, per_pass = {}, {}, 0
        for engine in ("interp", "compiled"):
            vm = VM(program, engine=engine, max_insns=10_000_000)
            rates[engine], per_pass, r0s[engine] = _measure(vm, packets, args.seconds)
        insns_per_run = per_pass / len(packets)
        same = r0s["interp"] == r0s["compiled"]
        kernel = None if args.no_kernel else _kernel(program, packets, args.repeat)
        if kernel is not None:
            k_rets, k_ns = kernel
            k_rate = per_pass / (k_ns / 1e9) if k_ns else float("inf")
            agree = same and [r & 0xFFFFFFFF for r in r0s["interp"]] == k_rets
            kcols = (f"{k_rate / 1e6:>10.1f} {k_rate / rates['interp']:>13.0f} "
                     f"{k_rate / rates['compiled']:>11.0f}")
            check = "same as kernel" if agree else f"DIFFERS: vm {r0s['interp']} kernel {k_rets}"
        else:
            agree = same
            kcols = f"{'-':>10} {'-':>13} {'-':>11}"
            check = "engines agree (no kernel)" if same else "ENGINES DIFFER"
        ok &= agree
        us_per_run = insns_per_run / rates["compiled"] * 1e6
        print(f"{name:<16} {insns_per_run:>9.0f} {rates['interp'] / 1e6:>10.2f} {rates['compiled'] / 1e6:>12.2f} "
              f"{rates['compiled'] / rates['interp']:>11.2f} {us_per_run:>11.1f} {kcols}  {check}")
    print("targets: interpreter >= 5 M/s and compiler >= 20 M/s on the ALU/branch loop; rates include each run's "
          "set-up (context, result), which dominates short programs such as the parser")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
