"""`pyebpf demo`: the main job, end to end on one real program.

It assembles an XDP program from text, builds the openat-per-PID counter with the builder, disassembles both,
verifies them with our verifier, runs the XDP program in both VM engines on a sample packet, and — where bpf() is
permitted — loads both into the kernel, runs the XDP program there on the same packet, attaches the tracepoint
program and reads its map. Each step prints what it found; any disagreement between pyebpf and the kernel is an
error (exit 1).
"""
from __future__ import annotations

import argparse
import os
import re
import struct
import tempfile
from ctypes import c_uint32, c_uint64

from pyebpf.errors import PyebpfError

XDP_SOURCE = """\
; Count IPv4 and other packets, drop IPv4 packets to UDP port 9 (discard), pass the rest.
.type xdp
.map stats array key=4 value=8 max_entries=2
    r2 = *(u32 *)(r1 + 4)            ; data_end
    r1 = *(u32 *)(r1 + 0)            ; data
    r6 = 0                           ; stats index: 0 = other
    r7 = 2                           ; XDP_PASS
    r3 = r1
    r3 += 14
    if r3 > r2 goto count            ; too short for Ethernet
    r4 = *(u16 *)(r1 + 12)           ; ethertype (network order)
    if r4 != 0x8 goto count          ; htons(ETH_P_IP) read little-endian
    r6 = 1
    r3 = r1
    r3 += 42                         ; eth(14) + ip(20) + udp(8)
    if r3 > r2 goto count
    r4 = *(u8 *)(r1 + 23)            ; ip->protocol
    if r4 != 17 goto count
    r4 = *(u16 *)(r1 + 36)           ; udp->dest
    r4 = be16 r4
    if r4 != 9 goto count
    r7 = 1                           ; XDP_DROP
count:
    *(u32 *)(r10 - 4) = r6
    r2 = r10
    r2 += -4
    r1 = map[stats] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = r7
    exit
"""


def _packet(udp_port: int) -> bytes:
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    udp = struct.pack("!HHHH", 40000, udp_port, 8, 0)
    return eth + ip + udp + b"payload!"


def _build_openat_counter():
    from pyebpf.isa.builder import R0, R1, R2, R3, R4, R10, Builder

    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat", name="count_openat")
    counts = b.map("counts", "hash", key=c_uint32, value=c_uint64, max_entries=10240)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.store(R10 - 4, R0, "u32")
    b.mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():
        b.store(R10 - 16, 1, "u64")
        b.mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.ld_map(R1, counts).call("map_update_elem")
    return b.ret(0).build()


def _say(step: str, text: str = "") -> None:
    print(f"== {step}")
    if text:
        for line in text.rstrip("\n").splitlines():
            print(f"   {line}")


def run_demo(use_kernel: bool = True) -> int:
    import pyebpf

    xdp = pyebpf.assemble(XDP_SOURCE)
    counter = _build_openat_counter()
    _say(f"assembled XDP program: {len(xdp)} instructions, {xdp.slot_count} slots, maps {list(xdp.maps)}")
    _say("disassembly (llvm-objdump style)", pyebpf.disassemble(xdp, style="llvm", symbolic=True))
    _say(f"built openat counter with the builder: {len(counter)} instructions", pyebpf.disassemble(counter,
                                                                                                  style="kernel",
                                                                                                  symbolic=True))

    for name, prog in (("xdp", xdp), ("openat counter", counter)):
        result = pyebpf.verify(prog)
        _say(f"verifier: {name} accepted, {result.processed} instructions processed, "
             f"peak states {result.peak_states}")

    packets = {"udp/9 (dropped)": _packet(9), "udp/53 (passed)": _packet(53),
               "arp (passed)": _packet(9)[:12] + b"\x08\x06" + bytes(28)}
    vm_results = {}
    for engine in ("interp", "compiled"):
        vm = pyebpf.VM(xdp, engine=engine)
        for label, pkt in packets.items():
            res = vm.run(packet=pkt)
            vm_results.setdefault(label, set()).add(res.r0)
        stats = dict(vm.maps["stats"].items())
        _say(f"VM ({engine}): r0 per packet {{{', '.join(f'{k}: {min(v)}' for k, v in vm_results.items())}}}, "
             f"stats {stats}")
    if any(len(v) != 1 for v in vm_results.values()):
        raise PyebpfError(f"the two VM engines disagree: {vm_results}")

    if not use_kernel:
        _say("kernel: skipped (--no-kernel)")
        return 0
    from pyebpf.testing.kernel_probe import bpf_unavailable_reason

    reason = bpf_unavailable_reason()
    if reason:
        _say(f"kernel: skipped ({reason})")
        return 0
    return _kernel_part(xdp, counter, packets, vm_results)


def _kernel_part(xdp, counter, packets, vm_results) -> int:
    import pyebpf
    from pyebpf.loader import load

    with load(xdp, log_level=1) as kp:
        theirs = re.search(r"processed (\d+) insns", kp.log or "")
        ours = pyebpf.verify(xdp).processed
        _say(f"kernel verifier: XDP program accepted, {theirs.group(1) if theirs else '?'} instructions processed "
             f"(pyebpf's verifier: {ours})")
        for label, pkt in packets.items():
            got = kp.test_run(data=pkt).retval
            want = min(vm_results[label])
            if got != want:
                raise PyebpfError(f"kernel says {got} for {label}, the VM says {want}")
        _say(f"kernel: XDP program loaded (fd {kp.fd}), BPF_PROG_TEST_RUN agrees with the VM on "
             f"{len(packets)} packets; kernel stats map {dict(kp.maps['stats'].items())}")
    with load(counter) as kp:
        with kp.attach_tracepoint("syscalls", "sys_enter_openat"):
            with tempfile.TemporaryDirectory() as tmp:
                for i in range(5):
                    with open(os.path.join(tmp, f"f{i}"), "w"):
                        pass
            count = kp.maps["counts"].get(os.getpid(), 0)
        _say(f"kernel: openat counter attached to syscalls/sys_enter_openat; this process (pid {os.getpid()}) "
             f"opened {count} files while attached")
        if count < 5:
            raise PyebpfError(f"expected at least 5 openat calls from pid {os.getpid()}, the map says {count}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="assemble, verify, simulate and (where permitted) load a real program")
    p.add_argument("--no-kernel", action="store_true", help="stop after the simulation")
    p.set_defaults(func=lambda args: run_demo(use_kernel=not args.no_kernel))
