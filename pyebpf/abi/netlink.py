"""rtnetlink and tc facts used to attach XDP and tc programs (uapi if_link.h, pkt_sched.h, pkt_cls.h, sched.h).

The netlink plumbing itself (pyroute2 calls) is in `pyebpf.loader.netlink`; the numbers it sends live here.
"""
from __future__ import annotations

from enum import IntEnum, IntFlag


class XdpFlags(IntFlag):
    """IFLA_XDP_FLAGS bits, also BPF_LINK_CREATE flags for XDP links (uapi if_link.h XDP_FLAGS_*)."""

    UPDATE_IF_NOEXIST = 1 << 0
    SKB_MODE = 1 << 1
    DRV_MODE = 1 << 2
    HW_MODE = 1 << 3
    REPLACE = 1 << 4


#: The mode bits: at most one may be set (the kernel refuses two with EINVAL).
XDP_FLAGS_MODES = XdpFlags.SKB_MODE | XdpFlags.DRV_MODE | XdpFlags.HW_MODE


class XdpAttached(IntEnum):
    """IFLA_XDP_ATTACHED values (uapi if_link.h XDP_ATTACHED_*): how the program on a device runs."""

    NONE = 0
    DRV = 1
    SKB = 2
    HW = 3
    MULTI = 4


#: Names users give XDP modes (ip link's xdpgeneric/xdpdrv/xdpoffload, libbpf's skb/drv/hw) -> the mode flag.
XDP_MODES: dict[str | None, XdpFlags] = {
    "skb": XdpFlags.SKB_MODE, "generic": XdpFlags.SKB_MODE, "drv": XdpFlags.DRV_MODE,
    "native": XdpFlags.DRV_MODE, "hw": XdpFlags.HW_MODE, "offload": XdpFlags.HW_MODE, None: XdpFlags(0),
}

#: The mode name pyebpf reports for each XDP_ATTACHED_* value.
XDP_ATTACHED_NAMES = {XdpAttached.DRV: "drv", XdpAttached.SKB: "skb", XdpAttached.HW: "hw",
                      XdpAttached.MULTI: "multi"}


class TcParent(IntEnum):
    """Parents of clsact filters: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS)."""

    INGRESS = 0xFFFFFFF2
    EGRESS = 0xFFFFFFF3


class TcaBpf(IntEnum):
    """Attributes of a cls_bpf filter's TCA_OPTIONS (uapi pkt_cls.h TCA_BPF_*)."""

    UNSPEC = 0
    ACT = 1
    POLICE = 2
    CLASSID = 3
    OPS_LEN = 4
    OPS = 5
    FD = 6
    NAME = 7
    FLAGS = 8
    FLAGS_GEN = 9
    TAG = 10
    ID = 11


#: The clsact qdisc's own handle (TC_H_CLSACT << 16).
TC_H_CLSACT_HANDLE = 0xFFFF0000
#: TCA_BPF_FLAGS bit: the program's return value is the tc verdict (direct action).
TCA_BPF_FLAG_ACT_DIRECT = 1
#: unshare(2)/setns(2) flag for a network namespace (uapi sched.h).
CLONE_NEWNET = 0x40000000

__all__ = ["XdpFlags", "XDP_FLAGS_MODES", "XdpAttached", "XDP_MODES", "XDP_ATTACHED_NAMES", "TcParent", "TcaBpf",
           "TC_H_CLSACT_HANDLE", "TCA_BPF_FLAG_ACT_DIRECT", "CLONE_NEWNET"]
