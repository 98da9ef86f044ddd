"""Count packets per EtherType with XDP: `sudo pyebpf probe examples/probes/xdp_count_packets.py --attach lo`.

The Builder version is examples/xdp_count_packets.py (bounds check and byte swap written by hand).
"""

from pyebpf.probe import HashMap, probe, u16, u64
from pyebpf.probe.headers import Eth


per_ethertype = HashMap(u16, u64, max_entries=64)


@probe("xdp")
def count_packets(ctx):
    per_ethertype[ctx.header(Eth).proto] += 1      # a packet shorter than Ethernet passes uncounted
