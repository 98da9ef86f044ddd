"""Count packets per EtherType with XDP: `sudo pyebpf probe examples/probes/xdp_count_packets.py --attach lo`.

The Builder version is examples/xdp_count_packets.py (bounds check and byte swap written by hand).
"""
import ctypes

from pyebpf.probe import HashMap, probe, u16, u64


class Eth(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("dst", ctypes.c_uint8 * 6), ("src", ctypes.c_uint8 * 6), ("proto", ctypes.c_uint16)]


per_ethertype = HashMap(u16, u64, max_entries=64)


@probe("xdp")
def count_packets(ctx):
    per_ethertype[ctx.header(Eth).proto] += 1      # a packet shorter than Ethernet passes uncounted
