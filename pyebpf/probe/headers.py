"""Packet headers for XDP, TC and socket-filter probes, as ctypes BigEndianStructures.

Fields read in host order (the compiler emits the byte swap), and `ctx.header(T, offset)` generates the bounds
check the verifier needs. One definition each, so probes, examples and tests share them:

    from pyebpf.probe.headers import Eth, IPv4, Udp, ETH_P_IP, IPPROTO_UDP
"""
from __future__ import annotations

import ctypes

from pyebpf.abi.net import ETH_HLEN, EtherType

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = int(EtherType.IP), int(EtherType.IPV6), int(EtherType.ARP)
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 1, 6, 17


class Eth(ctypes.BigEndianStructure):
    """struct ethhdr."""

    _pack_ = 1
    _fields_ = [("dst", ctypes.c_uint8 * 6), ("src", ctypes.c_uint8 * 6), ("proto", ctypes.c_uint16)]


class IPv4(ctypes.BigEndianStructure):
    """struct iphdr (ver_ihl: version in the high nibble, header length in 32-bit words in the low one)."""

    _pack_ = 1
    _fields_ = [("ver_ihl", ctypes.c_uint8), ("tos", ctypes.c_uint8), ("tot_len", ctypes.c_uint16),
                ("id", ctypes.c_uint16), ("frag", ctypes.c_uint16), ("ttl", ctypes.c_uint8),
                ("proto", ctypes.c_uint8), ("csum", ctypes.c_uint16), ("src", ctypes.c_uint32),
                ("dst", ctypes.c_uint32)]


class IPv6(ctypes.BigEndianStructure):
    """struct ipv6hdr."""

    _pack_ = 1
    _fields_ = [("ver_tc_flow", ctypes.c_uint32), ("payload_len", ctypes.c_uint16), ("nexthdr", ctypes.c_uint8),
                ("hop_limit", ctypes.c_uint8), ("src", ctypes.c_uint8 * 16), ("dst", ctypes.c_uint8 * 16)]


class Udp(ctypes.BigEndianStructure):
    """struct udphdr."""

    _pack_ = 1
    _fields_ = [("sport", ctypes.c_uint16), ("dport", ctypes.c_uint16), ("len", ctypes.c_uint16),
                ("csum", ctypes.c_uint16)]


class Tcp(ctypes.BigEndianStructure):
    """struct tcphdr (doff_flags: data offset in the high nibble of the first byte, then the flag bits)."""

    _pack_ = 1
    _fields_ = [("sport", ctypes.c_uint16), ("dport", ctypes.c_uint16), ("seq", ctypes.c_uint32),
                ("ack_seq", ctypes.c_uint32), ("doff_flags", ctypes.c_uint16), ("window", ctypes.c_uint16),
                ("csum", ctypes.c_uint16), ("urg_ptr", ctypes.c_uint16)]


assert ctypes.sizeof(Eth) == ETH_HLEN and ctypes.sizeof(IPv4) == 20 and ctypes.sizeof(IPv6) == 40
assert ctypes.sizeof(Udp) == 8 and ctypes.sizeof(Tcp) == 20

__all__ = ["Eth", "IPv4", "IPv6", "Udp", "Tcp", "ETH_P_IP", "ETH_P_IPV6", "ETH_P_ARP", "IPPROTO_ICMP",
           "IPPROTO_TCP", "IPPROTO_UDP"]
