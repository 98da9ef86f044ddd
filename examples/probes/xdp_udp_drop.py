"""Drop UDP packets to one port at XDP, counting them: `pyebpf probe examples/probes/xdp_udp_drop.py` needs an
attach target, so this one is used as a module (see tests/probe/test_probe_packets.py) or with `pyebpf load`.

Headers are ctypes.BigEndianStructure classes: fields read in host order; `ctx.header(T, offset)` generates the
bounds check the verifier needs (a packet too short for the header lets the packet pass).
"""

from pyebpf.probe import XDP_DROP, XDP_PASS, Array, probe, u64
from pyebpf.probe.headers import Eth, IPv4, Udp

DROP_PORT = 9999


drops = Array(u64, max_entries=1)


@probe("xdp")
def drop_udp_port(ctx):
    eth = ctx.header(Eth)
    if eth.proto != 0x0800:
        return XDP_PASS
    ip = ctx.header(IPv4, 14)
    if ip.proto != 17:
        return XDP_PASS
    udp = ctx.header(Udp, 14 + (ip.ver_ihl & 0xF) * 4)
    if udp.dport == DROP_PORT:
        drops[0] += 1
        return XDP_DROP
    return XDP_PASS
