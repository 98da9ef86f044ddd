"""Link-layer facts packet programs see: Ethernet and VLAN header sizes, ETH_P_* values, classic BPF's SKF offsets.

uapi linux/if_ether.h, linux/if_vlan.h and linux/filter.h; the VM's contexts and LD_ABS, the packet strategies and
the differential harness read them here.
"""
from __future__ import annotations

from enum import IntEnum

ETH_ALEN = 6
ETH_HLEN = 14
"""Ethernet header: two addresses and the ethertype."""
VLAN_HLEN = 4
"""An 802.1Q tag."""
ETH_P_802_3_MIN = 0x0600
"""Ethertype field values below this are 802.3 lengths, not types."""


class EtherType(IntEnum):
    """if_ether.h ETH_P_* values (host order)."""

    P_802_3 = 0x0001  # ETH_P_802_3: raw 802.3 (IPX)
    ALL = 0x0003  # ETH_P_ALL: every protocol (packet sockets, the protocol of a catch-all tc filter)
    P_802_2 = 0x0004  # ETH_P_802_2: 802.2 LLC
    IP = 0x0800
    ARP = 0x0806
    VLAN = 0x8100
    IPV6 = 0x86DD


SKF_NET_OFF = -0x100000
"""LD_ABS offsets from SKF_NET_OFF are relative to the network header."""
SKF_LL_OFF = -0x200000
"""LD_ABS offsets from SKF_LL_OFF are relative to the link-layer header."""

__all__ = ["ETH_ALEN", "ETH_HLEN", "VLAN_HLEN", "ETH_P_802_3_MIN", "EtherType", "SKF_NET_OFF", "SKF_LL_OFF"]
