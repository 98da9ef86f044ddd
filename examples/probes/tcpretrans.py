"""TCP retransmissions as JSON lines, one per retransmitted segment:

    sudo python examples/probes/tcpretrans.py [seconds]
    {"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"}

`ts` is integer milliseconds since the epoch, `value` how many times that socket has retransmitted so far.
Retransmissions run from timers (softirq), where the current task is whoever was on the CPU, so the owning PID is
recorded when the socket connects (SYN_SENT, in the caller's context) and forgotten when it closes. The Builder
version is examples/tcp_retransmit_events.py.
"""
import ctypes
import json
import sys
import time

from pyebpf.probe import LruHashMap, RingBuf, ktime_ns, load_all, pid, probe, u32, u64

TCP_SYN_SENT, TCP_CLOSE, IPPROTO_TCP = 2, 7, 6


class Retransmit(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("count", ctypes.c_uint32)]


owner = LruHashMap(u64, u32, max_entries=16384)
retransmits = LruHashMap(u64, u32, max_entries=16384)
events = RingBuf(Retransmit)


@probe("tracepoint/sock/inet_sock_set_state")
def track_owner(ctx):
    if ctx.protocol != IPPROTO_TCP:
        return 0
    if ctx.newstate == TCP_SYN_SENT:
        owner[ctx.skaddr] = pid()
    elif ctx.newstate == TCP_CLOSE:
        del owner[ctx.skaddr]
        del retransmits[ctx.skaddr]


@probe("tracepoint/tcp/tcp_retransmit_skb")
def on_retransmit(ctx):
    sk = ctx.skaddr
    retransmits[sk] += 1
    events.output(Retransmit(ts=ktime_ns(), pid=owner.get(sk, pid()), count=retransmits[sk]))


def json_line(ev, epoch_minus_monotonic_ns: int) -> str:
    return json.dumps({"ts": (ev.ts + epoch_minus_monotonic_ns) // 1_000_000, "event_type": "transport.drop",
                       "entity_id": f"network-pid-{ev.pid}", "pid": ev.pid, "value": str(ev.count)},
                      separators=(",", ":"))


def main(seconds: float = 10.0) -> None:
    offset = time.time_ns() - time.monotonic_ns()
    loaded = load_all([track_owner, on_retransmit])
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for ev in events.read(timeout=0.2):
                print(json_line(ev, offset), flush=True)
    finally:
        for lp in loaded:
            lp.close()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
