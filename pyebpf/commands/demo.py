"""`pyebpf demo`: the main job, end to end, starting where users start — a probe written in Python.

It shows two Python probes (openat per process with names; an XDP filter dropping UDP to the discard port), compiles
them to eBPF with pyebpf's own compiler, verifies them with our verifier, runs them in the VM (both engines), then
the layer underneath (the same XDP job in eBPF assembly, the counter through the Builder). Where bpf() is permitted
it loads the same probe objects into the kernel: BPF_PROG_TEST_RUN must agree with the VM, the openat probe is
attached and its map read as a table of processes. Any disagreement between pyebpf and the kernel is an error.
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


def _comm(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace")


def _probe_part() -> dict[str, set[int]]:
    """Python probes: the source, what pyebpf compiles it to, our verifier, and runs in the VM."""
    import inspect

    from pyebpf.commands import demo_probes as probes
    from pyebpf.isa.disassembler import disassemble
    from pyebpf.vm.env import Environment

    opener, dropper = probes.count_openat, probes.drop_discard
    _say("a probe written in Python (pyebpf compiles it to eBPF itself: no clang, no LLVM)",
         "class Proc(ctypes.Structure): pid u32, comm char[16]\nopens = HashMap(Proc, u64, max_entries=10240)\n\n"
         + inspect.getsource(opener.fn))
    builder = _build_openat_counter()
    _say(f"compiled: {len(opener.program)} eBPF instructions (the register-level Builder version of a count "
         f"without process names takes {len(builder)})",
         disassemble(opener.program, style="kernel", symbolic=True))
    for p in (opener, dropper):
        _say(f"verifier: probe {p.name} accepted, {p.verify().processed} instructions processed")
    for who, pid, times in ((b"bash", 100, 2), (b"cat", 200, 3)):
        env = Environment(pid=pid, tgid=pid, comm=who)
        for _ in range(times):
            opener.run(env=env)
    table = sorted(probes.opens.items(), key=lambda kv: -kv[1])
    _say("VM: 5 simulated openat calls, the same `opens` map object read as a Python dict",
         "\n".join(f"{k.pid:>6} {_comm(k.comm):<16} {v}" for k, v in table))

    packets = {"udp/9 (dropped)": _packet(9), "udp/53 (passed)": _packet(53),
               "arp (passed)": _packet(9)[:12] + b"\x08\x06" + bytes(28)}
    vm_results: dict[str, set[int]] = {}
    for engine in ("interp", "compiled"):
        for label, pkt in packets.items():
            vm_results.setdefault(label, set()).add(dropper.run(packet=pkt, engine=engine).r0)
    _say("XDP probe in the VM, both engines: r0 per packet "
         f"{{{', '.join(f'{k}: {min(v)}' for k, v in vm_results.items())}}}, stats {dict(probes.stats.items())}")
    if any(len(v) != 1 for v in vm_results.values()):
        raise PyebpfError(f"the two VM engines disagree: {vm_results}")
    return vm_results


def _assembly_part() -> "tuple[object, object]":
    """The layer underneath: the same jobs in eBPF assembly and through the Builder."""
    import pyebpf

    xdp = pyebpf.assemble(XDP_SOURCE)
    counter = _build_openat_counter()
    _say(f"the assembly layer underneath: an XDP program in eBPF assembly, {len(xdp)} instructions, "
         f"{xdp.slot_count} slots, maps {list(xdp.maps)}", pyebpf.disassemble(xdp, style="llvm", symbolic=True))
    for name, prog in (("xdp", xdp), ("openat counter", counter)):
        result = pyebpf.verify(prog)
        _say(f"verifier: {name} accepted, {result.processed} instructions processed, "
             f"peak states {result.peak_states}")
    for engine in ("interp", "compiled"):
        vm = pyebpf.VM(xdp, engine=engine)
        r0 = [vm.run(packet=_packet(port)).r0 for port in (9, 53)]
        _say(f"VM ({engine}): assembled XDP program r0 udp/9 (dropped): {r0[0]}, udp/53 (passed): {r0[1]}")
    return xdp, counter


def run_demo(use_kernel: bool = True) -> int:
    vm_results = _probe_part()
    xdp, counter = _assembly_part()
    if not use_kernel:
        _say("kernel: skipped (--no-kernel)")
        return 0
    from pyebpf.testing.kernel_probe import bpf_unavailable_reason

    reason = bpf_unavailable_reason()
    if reason:
        _say(f"kernel: skipped ({reason})")
        return 0
    _kernel_probes(vm_results)
    return _kernel_part(xdp, counter)


def _kernel_probes(vm_results: dict[str, set[int]]) -> None:
    """The same probe objects in the kernel: our verifier first, then BPF_PROG_LOAD, attach by section name."""
    from pyebpf.commands import demo_probes as probes

    packets = {"udp/9 (dropped)": _packet(9), "udp/53 (passed)": _packet(53),
               "arp (passed)": _packet(9)[:12] + b"\x08\x06" + bytes(28)}
    with probes.drop_discard.load(attach=False) as lp:
        for label, pkt in packets.items():
            got = lp.test_run(data=pkt).retval
            if got != min(vm_results[label]):
                raise PyebpfError(f"kernel says {got} for {label}, the VM says {min(vm_results[label])}")
        _say(f"kernel: XDP probe loaded, BPF_PROG_TEST_RUN agrees with the VM on {len(packets)} packets; "
             f"the same `stats` object now reads the kernel map: {dict(probes.stats.items())}")
    with probes.count_openat.load():
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(5):
                with open(os.path.join(tmp, f"f{i}"), "w"):
                    pass
        table = sorted(probes.opens.items(), key=lambda kv: -kv[1])
    mine = sum(v for k, v in table if k.pid == os.getpid())
    _say(f"kernel: probe count_openat attached to syscalls/sys_enter_openat; top openers while attached "
         f"(this process, pid {os.getpid()}, opened {mine})",
         "\n".join(f"{k.pid:>6} {_comm(k.comm):<16} {v}" for k, v in table[:5]))
    if mine < 5:
        raise PyebpfError(f"expected at least 5 openat calls from pid {os.getpid()}, the map says {mine}")


def _kernel_part(xdp, counter) -> int:
    import pyebpf
    from pyebpf.loader import load

    with load(xdp, log_level=1) as kp:
        theirs = re.search(r"processed (\d+) insns", kp.log or "")
        ours = pyebpf.verify(xdp).processed
        _say(f"kernel verifier: assembled XDP program accepted, {theirs.group(1) if theirs else '?'} instructions "
             f"processed (pyebpf's verifier: {ours})")
        for port, want in ((9, 1), (53, 2)):
            got = kp.test_run(data=_packet(port)).retval
            if got != want:
                raise PyebpfError(f"kernel says {got} for udp/{port}, expected {want}")
        _say(f"kernel: assembled XDP program loaded (fd {kp.fd}), BPF_PROG_TEST_RUN agrees with the VM; "
             f"kernel stats map {dict(kp.maps['stats'].items())}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="assemble, verify, simulate and (where permitted) load a real program")
    p.add_argument("--no-kernel", action="store_true", help="stop after the simulation")
    p.set_defaults(func=lambda args: run_demo(use_kernel=not args.no_kernel))
