"""TCP sessions as they close: process, addresses, ports, bytes each way and how long they lived (bcc
libbpf-tools tcplife):

    sudo python examples/probes/tcplife.py [seconds]

sock:inet_sock_set_state gives every state change; birth time per socket from the first states, the owning
process where the kernel runs in its context (SYN_SENT, LAST_ACK), and at TCP_CLOSE the byte counts read from the
socket's `struct tcp_sock` through the kernel's BTF.
"""
import ctypes
import sys
import time

from pyebpf.probe import HashMap, PerfEventArray, comm, kptr, ktime_ns, pid, probe, u64

IPPROTO_TCP = 6
TCP_ESTABLISHED, TCP_SYN_SENT, TCP_FIN_WAIT1, TCP_CLOSE, TCP_LAST_ACK = 1, 2, 4, 7, 9


class Ident(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


class Event(ctypes.Structure):
    _fields_ = [("span_us", ctypes.c_uint64), ("rx_b", ctypes.c_uint64), ("tx_b", ctypes.c_uint64),
                ("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16), ("saddr", ctypes.c_uint8 * 4),
                ("daddr", ctypes.c_uint8 * 4), ("family", ctypes.c_uint16), ("sport", ctypes.c_uint16),
                ("dport", ctypes.c_uint16)]


birth = HashMap(u64, u64, max_entries=10240)
idents = HashMap(u64, Ident, max_entries=10240)
events = PerfEventArray(Event)


@probe("tracepoint/sock/inet_sock_set_state")
def state_change(ctx):
    if ctx.protocol != IPPROTO_TCP:
        return 0
    sk = ctx.skaddr
    if ctx.newstate < TCP_FIN_WAIT1:
        birth[sk] = ktime_ns()
    if ctx.newstate == TCP_SYN_SENT or ctx.newstate == TCP_LAST_ACK:
        idents[sk] = Ident(pid=pid(), comm=comm())
    if ctx.newstate != TCP_CLOSE:
        return 0
    began = birth.get(sk, 0)
    if began != 0:
        tp = kptr(sk, "struct tcp_sock")
        e = Event(span_us=(ktime_ns() - began) // 1000, rx_b=tp.bytes_received, tx_b=tp.bytes_acked, pid=pid(),
                  comm=comm(), saddr=ctx.saddr, daddr=ctx.daddr, family=ctx.family, sport=ctx.sport,
                  dport=ctx.dport)
        if sk in idents:  # the process that opened or closed it, not whoever runs now (softirq)
            who = idents[sk]
            e.pid = who.pid
            e.comm = who.comm
        events.output(e)
        del birth[sk]
    del idents[sk]
    return 0


def lines(records) -> list[str]:
    return [f"{e.pid:<7} {e.comm.decode(errors='replace'):<16} {'.'.join(map(str, e.saddr)):<15} {e.sport:<5} "
            f"{'.'.join(map(str, e.daddr)):<15} {e.dport:<5} {e.tx_b // 1024:>5} {e.rx_b // 1024:>5} "
            f"{e.span_us / 1000:.2f}" for e in records]


if __name__ == "__main__":
    print(f"{'PID':<7} {'COMM':<16} {'LADDR':<15} {'LPORT':<5} {'RADDR':<15} {'RPORT':<5} TX_KB RX_KB MS")
    with state_change.load():
        end = time.monotonic() + (float(sys.argv[1]) if len(sys.argv) > 1 else 1e9)
        try:
            while time.monotonic() < end:
                for line in lines(events.read(timeout=0.5)):
                    print(line, flush=True)
        except KeyboardInterrupt:
            pass
