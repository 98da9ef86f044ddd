"""TCP retransmissions as a stream of JSON lines, one per retransmitted segment, through a BPF ring buffer.

    sudo python examples/tcp_retransmit_events.py [--seconds 10] [--pid PID] [--details] [--kprobe]

    {"ts":1732200000.123456,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"}

`value` is how many times that socket has retransmitted so far. Retransmissions mostly run from timers (softirq),
where the "current" task is whoever happened to be on the CPU, so the owning PID comes from a second program: on
sock/inet_sock_set_state, when a TCP socket enters SYN_SENT (connect(), in the caller's context) it records
socket -> tgid in a shared hash map, and forgets the socket when it closes. Sockets we never saw connect (accepted
ones, or ones older than this run) report the current task's tgid.

By default the retransmit program is on the tcp/tcp_retransmit_skb tracepoint. `--kprobe` selects a kprobe on
tcp_retransmit_skb() instead; on a kernel without kprobes (CONFIG_KPROBES off) that reports the missing feature and
exits 1. At the end a summary on stderr gives events/s and the latency from the kernel's timestamp to the JSON line.
Before loading, the retransmit program runs once in the VM on a synthetic record, to show an event.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import struct
import sys
import time

from pyebpf import R0, R1, R2, R3, R4, R6, R7, R8, R10, Builder

# struct trace_event_raw_inet_sock_set_state (sock/inet_sock_set_state/format)
SS_SKADDR, SS_NEWSTATE, SS_PROTOCOL = 8, 20, 30
# struct trace_event_raw_tcp_event_sk_skb (tcp/tcp_retransmit_skb/format) as Linux 5.11+ lays it out; the program
# takes the running kernel's offsets from that format file (5.10 has no `family`, so saddr/daddr sit 2 bytes lower)
RT_SKADDR, RT_STATE, RT_SPORT, RT_DPORT, RT_FAMILY, RT_SADDR, RT_DADDR = 16, 24, 28, 30, 32, 34, 38
RT_LAYOUT = {"skaddr": RT_SKADDR, "state": RT_STATE, "sport": RT_SPORT, "dport": RT_DPORT, "family": RT_FAMILY,
             "saddr": RT_SADDR, "daddr": RT_DADDR}
RT_RECORD_SIZE = 80
PT_REGS_DI = 112                     # struct pt_regs (x86-64): first argument, struct sock *sk
TCP_SYN_SENT, TCP_CLOSE = 2, 7
IPPROTO_TCP = 6
MAX_SOCKETS = 16384


class Event(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("skaddr", ctypes.c_uint64), ("pid", ctypes.c_uint32),
                ("count", ctypes.c_uint32), ("state", ctypes.c_uint32), ("sport", ctypes.c_uint16),
                ("dport", ctypes.c_uint16), ("family", ctypes.c_uint16), ("saddr", ctypes.c_uint8 * 4),
                ("daddr", ctypes.c_uint8 * 4), ("pad", ctypes.c_uint16)]


def build_owner_tracker():
    """sock/inet_sock_set_state: owner[skaddr] = tgid on SYN_SENT, delete on CLOSE."""
    b = Builder("tracepoint", name="tcp_owner", attach_to="sock/inet_sock_set_state")
    b.map("owner", "lru_hash", ctypes.c_uint64, ctypes.c_uint32, MAX_SOCKETS)
    b.mov(R6, R1)
    b.load(R1, R6 + SS_PROTOCOL, "u16")
    b.jump_if(R1 != IPPROTO_TCP, "out")
    b.load(R1, R6 + SS_SKADDR, "u64").store(R10 - 8, R1, "u64")
    b.load(R7, R6 + SS_NEWSTATE, "u32")
    with b.if_(R7 == TCP_SYN_SENT):
        b.call("get_current_pid_tgid").rsh(R0, 32).store(R10 - 16, R0, "u32")
        b.ld_map(R1, "owner").mov(R2, R10).add(R2, -8).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.call("map_update_elem")
    with b.if_(R7 == TCP_CLOSE):
        b.ld_map(R1, "owner").mov(R2, R10).add(R2, -8).call("map_delete_elem")
    b.label("out")
    return b.ret(0).build()


def running_layout() -> dict[str, int]:
    """Field offsets of this kernel's tcp_retransmit_skb record (its tracefs format), else RT_LAYOUT."""
    from pyebpf.errors import PyebpfError
    from pyebpf.system.tracefs import tracepoint_format

    try:
        fields = {f.name: f.offset for f in tracepoint_format("tcp", "tcp_retransmit_skb").fields}
    except (PyebpfError, OSError):
        return dict(RT_LAYOUT)
    return {name: off for name, off in fields.items() if name in RT_LAYOUT}


def _emit(b: Builder, layout: dict[str, int] | None) -> None:
    """Shared body: r6 = ctx, skaddr stored at r10-8. Count the retransmit, reserve and fill an Event, submit.
    `layout`: the tracepoint record's field offsets (None: a kprobe, no record)."""
    from_tracepoint = layout is not None
    b.map("owner", "lru_hash", ctypes.c_uint64, ctypes.c_uint32, MAX_SOCKETS)
    b.map("retransmits", "lru_hash", ctypes.c_uint64, ctypes.c_uint32, MAX_SOCKETS)
    b.map("events", "ringbuf", max_entries=1 << 18)
    # count = ++retransmits[skaddr]
    b.ld_map(R1, "retransmits").mov(R2, R10).add(R2, -8).call("map_lookup_elem")
    with b.if_(R0 != 0):  # a plain atomic add and a re-read: BPF_FETCH needs Linux 5.12, this runs on 5.10 too
        b.mov(R8, 1).atomic("add", R0 + 0, R8, "u32").load(R8, R0 + 0, "u32")
    with b.else_():
        b.mov(R8, 1).store(R10 - 16, R8, "u32")
        b.ld_map(R1, "retransmits").mov(R2, R10).add(R2, -8).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.call("map_update_elem")
    b.ld_map(R1, "events").mov(R2, ctypes.sizeof(Event)).mov(R3, 0).call("ringbuf_reserve")
    b.jump_if(R0 == 0, "out")
    b.mov(R7, R0)
    b.call("ktime_get_ns").store(R7 + Event.ts.offset, R0, "u64")
    b.load(R1, R10 - 8, "u64").store(R7 + Event.skaddr.offset, R1, "u64")
    b.store(R7 + Event.count.offset, R8, "u32")
    b.call("get_current_pid_tgid").rsh(R0, 32).store(R7 + Event.pid.offset, R0, "u32")
    b.ld_map(R1, "owner").mov(R2, R10).add(R2, -8).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.load(R1, R0 + 0, "u32").store(R7 + Event.pid.offset, R1, "u32")
    if from_tracepoint:
        b.load(R1, R6 + layout["state"], "u32").store(R7 + Event.state.offset, R1, "u32")
        for name, field in (("sport", Event.sport), ("dport", Event.dport), ("family", Event.family)):
            if name in layout:
                b.load(R1, R6 + layout[name], "u16").store(R7 + field.offset, R1, "u16")
            else:
                b.store(R7 + field.offset, 0, "u16")                # 5.10's record has no family
        for i in range(4):                                      # saddr[4], daddr[4] are byte arrays, unaligned
            b.load(R1, R6 + layout["saddr"] + i, "u8").store(R7 + Event.saddr.offset + i, R1, "u8")
            b.load(R1, R6 + layout["daddr"] + i, "u8").store(R7 + Event.daddr.offset + i, R1, "u8")
    else:
        for field in (Event.state, Event.sport, Event.dport, Event.family, Event.saddr, Event.daddr):
            b.store(R7 + field.offset, 0, {1: "u8", 2: "u16", 4: "u32"}[field.size])
    b.store(R7 + Event.pad.offset, 0, "u16")
    b.mov(R1, R7).mov(R2, 0).call("ringbuf_submit")
    b.label("out")
    b.ret(0)


def build_tracepoint():
    """The tracepoint program for the running kernel's record layout."""
    return build_tracepoint_for(running_layout())


def build_tracepoint_for(layout: dict[str, int]):
    """The tracepoint program for a record whose fields sit at `layout`'s offsets."""
    b = Builder("tracepoint", name="tcp_retrans", attach_to="tcp/tcp_retransmit_skb")
    b.mov(R6, R1).load(R1, R6 + layout["skaddr"], "u64").store(R10 - 8, R1, "u64")
    _emit(b, layout)
    return b.build()


def build_kprobe():
    """The same events from a kprobe on tcp_retransmit_skb(struct sock *sk, ...): only the socket and counts."""
    b = Builder("kprobe", name="tcp_retrans_kp", attach_to="tcp_retransmit_skb")
    b.mov(R6, R1).load(R1, R6 + PT_REGS_DI, "u64").store(R10 - 8, R1, "u64")
    _emit(b, None)
    return b.build()


def to_json(ev: Event, mono_to_epoch: float, details: bool = False) -> str:
    record = {"ts": round(ev.ts / 1e9 + mono_to_epoch, 6), "event_type": "transport.drop",
              "entity_id": f"network-pid-{ev.pid}", "pid": ev.pid, "value": str(ev.count)}
    if details:
        record.update(saddr=".".join(map(str, ev.saddr)), daddr=".".join(map(str, ev.daddr)), sport=ev.sport,
                      dport=ev.dport, state=ev.state,
                      skaddr=f"{ev.skaddr:#x}")
    return json.dumps(record, separators=(",", ":"))


def retransmit_record(skaddr: int, sport: int, dport: int, saddr: bytes, daddr: bytes, state: int = TCP_SYN_SENT
                      ) -> bytes:
    """A tcp_retransmit_skb record as the tracepoint hands it over (ports in host order: the event converts)."""
    raw = bytearray(RT_RECORD_SIZE)
    struct.pack_into("<QQiHHH", raw, 8, 0xFFFF888000001000, skaddr, state, sport, dport, 2)
    raw[RT_SADDR:RT_SADDR + 4], raw[RT_DADDR:RT_DADDR + 4] = saddr, daddr
    return bytes(raw)


def simulate(pid: int = 1024) -> list[str]:
    """Both programs in the VM: pid 1024 connects, its SYN is retransmitted twice (from a timer, pid 0)."""
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    skaddr = 0xFFFF888012345678
    env = Environment(pid=pid, tgid=pid, time_ns=1_000_000_000)
    tracker = VM(build_owner_tracker(), env=env)
    connect = bytearray(72)
    struct.pack_into("<QiiHHHH", connect, SS_SKADDR, skaddr, TCP_CLOSE, TCP_SYN_SENT, 40000, 9, 2, IPPROTO_TCP)
    tracker.run(TracepointContext(bytes(connect)))
    env.pid = env.tgid = 0                                           # the retransmit timer runs in softirq
    retrans = VM(build_tracepoint_for(RT_LAYOUT), env=env, maps={"owner": tracker.maps["owner"]})
    lines = []
    for _ in range(2):
        res = retrans.run(TracepointContext(retransmit_record(skaddr, 40000, 9, bytes([192, 0, 2, 1]),
                                                              bytes([192, 0, 2, 2]))))
        lines += [to_json(Event.from_buffer_copy(r.data), 0.0) for r in res.ring]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to stream (default 10)")
    ap.add_argument("--pid", type=int, help="only events of this process")
    ap.add_argument("--details", action="store_true", help="add addresses, ports, state and the socket to each line")
    ap.add_argument("--kprobe", action="store_true", help="use a kprobe on tcp_retransmit_skb() instead of the "
                                                          "tracepoint (needs CONFIG_KPROBES)")
    args = ap.parse_args(argv)

    from pyebpf.errors import PyebpfError
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_kprobe, attach_tracepoint, kprobes_available
    from pyebpf.loader.ringbuf import RingBuffer

    for line in simulate():
        print(f"vm: {line}", file=sys.stderr)
    if args.kprobe and (why := kprobes_available()) is not None:
        print(f"error: the kprobe variant needs kprobes, and this kernel has none: {why}; "
              f"run without --kprobe to use the tcp/tcp_retransmit_skb tracepoint", file=sys.stderr)
        return 1
    events, latencies = 0, []
    try:
        with load(build_owner_tracker()) as tracker, \
                load(build_kprobe() if args.kprobe else build_tracepoint(),
                     maps={"owner": tracker.maps["owner"]}) as prog, \
                RingBuffer(prog.maps["events"], decode=Event) as rb, \
                attach_tracepoint(tracker, "sock", "inet_sock_set_state"), \
                (attach_kprobe(prog, "tcp_retransmit_skb") if args.kprobe
                 else attach_tracepoint(prog, "tcp", "tcp_retransmit_skb")):
            mono_to_epoch = time.time() - time.monotonic()
            start = time.monotonic()
            deadline = start + args.seconds
            try:
                print(f"streaming TCP retransmissions for {args.seconds:g}s", file=sys.stderr, flush=True)
                while (left := deadline - time.monotonic()) > 0:
                    for ev in rb.read(timeout=min(left, 0.2)):
                        latencies.append(time.monotonic_ns() - ev.ts)
                        if args.pid is not None and ev.pid != args.pid:
                            continue
                        events += 1
                        print(to_json(ev, mono_to_epoch, args.details), flush=True)
            except KeyboardInterrupt:                               # Ctrl-C ends the stream; `with` detaches
                pass
            elapsed = time.monotonic() - start
    except PyebpfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    summary = f"{events} events in {elapsed:.1f}s ({events / elapsed:.2f} events/s)"
    if latencies:
        latencies.sort()
        summary += (f"; kernel-to-line latency p50 {latencies[len(latencies) // 2] / 1e3:.0f} us, "
                    f"max {latencies[-1] / 1e3:.0f} us")
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
