"""Count packets per EtherType arriving on an interface with XDP (generic mode), then detach.

    sudo python examples/xdp_count_packets.py [ifname] [seconds]      (default: lo, 5 s)

The program reads the EtherType behind the 14-byte Ethernet header (after the bounds check the verifier demands)
and bumps a per-EtherType counter in a hash map; every packet is passed on (XDP_PASS).
"""
import ctypes
import sys
import time

from pyebpf import R0, R1, R2, R3, R4, R6, R10, Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_xdp

XDP_PASS = 2


def build():
    b = Builder("xdp")
    b.map("per_ethertype", "hash", key=ctypes.c_uint16, value=ctypes.c_uint64, max_entries=64)
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32")             # xdp_md->data, ->data_end
    b.mov(R4, R2).add(R4, 14)
    b.jump_if(R4 > R3, "pass")
    b.load(R6, R2 + 12, "u16").be(R6, 16)                           # EtherType in host order
    b.store(R10 - 2, R6, "u16")
    b.ld_map(R1, "per_ethertype").mov(R2, R10).add(R2, -2).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():
        b.store(R10 - 16, 1, "u64")
        b.ld_map(R1, "per_ethertype").mov(R2, R10).add(R2, -2).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.call("map_update_elem")
    b.label("pass")
    return b.ret(XDP_PASS).build()


def main(ifname: str = "lo", seconds: float = 5.0) -> None:
    with load(build()) as prog:
        with attach_xdp(prog, ifname, mode="skb"):
            time.sleep(seconds)
        for ethertype, count in sorted(prog.maps["per_ethertype"].items()):
            print(f"ethertype {ethertype:#06x}: {count} packets")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lo", float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
