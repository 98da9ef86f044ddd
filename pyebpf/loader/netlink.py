"""Netlink plumbing for XDP and tc, through pyroute2.

XDP programs are set on a link with RTM_SETLINK / IFLA_XDP (fd, flags, expected fd); tc programs are cls_bpf
filters in direct-action mode under a clsact qdisc. Every function takes an optional network namespace name, so
tests can work on a veth that lives only inside their own namespace.
"""
from __future__ import annotations

import errno
import struct
from contextlib import contextmanager
from typing import Any, Iterator

from pyebpf._lazy import optional_import
from pyebpf.abi.net import EtherType
from pyebpf.abi.netlink import (
    CLONE_NEWNET, TC_H_CLSACT_HANDLE, TCA_BPF_FLAG_ACT_DIRECT, XDP_MODES, TcaBpf, TcParent, XdpAttached,
    XdpFlags,
)
from pyebpf.errors import LoaderError


def _pyroute2() -> Any:
    return optional_import("pyroute2", "net", "XDP/tc attachment over netlink")


def _netlink_error(e: BaseException, what: str) -> LoaderError:
    code = getattr(e, "code", None) or getattr(e, "errno", None)
    return LoaderError(what, abs(code) if isinstance(code, int) else None)


@contextmanager
def rtnl(netns: str | None = None) -> Iterator[Any]:
    """An IPRoute socket, inside network namespace `netns` when given (closed on exit)."""
    pyroute2 = _pyroute2()
    if netns and not netns_exists(netns):
        raise LoaderError(f"no network namespace {netns!r}", errno.ENOENT)
    try:
        # flags=0: never create the namespace as a side effect (pyroute2's default is O_CREAT)
        ipr = pyroute2.IPRoute(netns=netns, flags=0) if netns else pyroute2.IPRoute()
    except Exception as e:  # noqa: BLE001 - pyroute2 raises several kinds
        raise _netlink_error(e, f"opening rtnetlink{' in netns ' + netns if netns else ''}") from None
    try:
        yield ipr
    finally:
        ipr.close()


def ifindex_of(interface: str | int, netns: str | None = None) -> int:
    """ifindex of an interface name (or an ifindex checked to exist), in `netns`."""
    with rtnl(netns) as ipr:
        try:
            if isinstance(interface, int):
                ipr.link("get", index=interface)
                return interface
            found = ipr.link_lookup(ifname=interface)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"no interface {interface!r}") from None
    if not found:
        raise LoaderError(f"no interface {interface!r}{' in netns ' + netns if netns else ''}", errno.ENODEV)
    return int(found[0])


def interfaces(netns: str | None = None) -> list[tuple[int, str]]:
    """(ifindex, name) of every interface in `netns`, by ifindex."""
    with rtnl(netns) as ipr:
        try:
            links = ipr.get_links()
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, "listing interfaces") from None
    return sorted((int(m["index"]), str(m.get_attr("IFLA_IFNAME"))) for m in links)


def ifname_of(ifindex: int, netns: str | None = None) -> str:
    with rtnl(netns) as ipr:
        try:
            return str(ipr.link("get", index=ifindex)[0].get_attr("IFLA_IFNAME"))
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"no interface with ifindex {ifindex}") from None


def netns_exists(name: str) -> bool:
    """True when `ip netns` knows a namespace of this name (a bind mount under /run/netns)."""
    import os

    return "/" not in name and os.path.exists(os.path.join("/run/netns", name))



def call_in_netns(netns: str | None, fn: Any, *args: Any) -> Any:
    """Run fn(*args) with the calling thread inside network namespace `netns` (None: right here).

    bpf(BPF_LINK_CREATE) resolves an ifindex in the caller's namespace; setns() moves only the calling thread, so a
    short-lived thread joins the namespace, makes the call and ends. The fds it makes belong to the whole process.
    """
    if not netns:
        return fn(*args)
    import ctypes
    import os
    import threading

    if not netns_exists(netns):
        raise LoaderError(f"no network namespace {netns!r}", errno.ENOENT)
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(os.path.join("/run/netns", netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise LoaderError(f"setns into network namespace {netns!r}", ctypes.get_errno())
            finally:
                os.close(fd)
            result["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            result["error"] = e

    thread = threading.Thread(target=body, name=f"pyebpf-netns-{netns}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# ---- XDP -------------------------------------------------------------------------------------------------------

def xdp_set(ifindex: int, fd: int, flags: int, netns: str | None = None, expected_fd: int | None = None) -> None:
    """RTM_SETLINK with IFLA_XDP: fd >= 0 installs a program, fd = -1 removes it (only `expected_fd`'s with REPLACE)."""
    attrs: list[tuple[str, Any]] = [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", int(flags))]
    if expected_fd is not None:
        attrs.append(("IFLA_XDP_EXPECTED_FD", expected_fd))
    with rtnl(netns) as ipr:
        try:
            ipr.link("set", index=ifindex, xdp={"attrs": attrs})
        except Exception as e:  # noqa: BLE001
            action = "setting" if fd >= 0 else "clearing"
            raise _netlink_error(e, f"{action} XDP program on ifindex {ifindex}") from None


def xdp_query(ifindex: int, netns: str | None = None) -> dict[str, int]:
    """What XDP has on a link: {'mode': XdpAttached, 'prog_id': id or 0, 'skb_prog_id':..., 'drv_prog_id':...}."""
    with rtnl(netns) as ipr:
        try:
            msg = ipr.link("get", index=ifindex)[0]
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"querying ifindex {ifindex}") from None
    out = {"mode": 0, "prog_id": 0, "skb_prog_id": 0, "drv_prog_id": 0, "hw_prog_id": 0}
    xdp = msg.get_attr("IFLA_XDP")
    if xdp is None:
        return out
    for key, value in xdp.get("attrs", []):
        if key == "IFLA_XDP_ATTACHED":
            out["mode"] = _attached_mode(value)
        elif key == "IFLA_XDP_PROG_ID":
            out["prog_id"] = int(value)
        elif key == "IFLA_XDP_SKB_PROG_ID":
            out["skb_prog_id"] = int(value)
        elif key == "IFLA_XDP_DRV_PROG_ID":
            out["drv_prog_id"] = int(value)
        elif key == "IFLA_XDP_HW_PROG_ID":
            out["hw_prog_id"] = int(value)
    return out


def _attached_mode(value: Any) -> int:
    names = {None: 0, "xdp": 1, "xdpgeneric": 2, "xdpoffload": 3, "xdpmulti": 4}
    if isinstance(value, int):
        return value
    return names.get(value, 0)


# ---- tc (clsact + cls_bpf direct action) ----------------------------------------------------------------------

def has_clsact(ifindex: int, netns: str | None = None) -> bool:
    with rtnl(netns) as ipr:
        try:
            qdiscs = ipr.get_qdiscs(index=ifindex)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"listing qdiscs of ifindex {ifindex}") from None
    return any(q.get_attr("TCA_KIND") == "clsact" for q in qdiscs)


def clsact_add(ifindex: int, netns: str | None = None) -> None:
    with rtnl(netns) as ipr:
        try:
            ipr.tc("add", "clsact", index=ifindex)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"adding clsact qdisc to ifindex {ifindex}") from None


def clsact_del(ifindex: int, netns: str | None = None) -> None:
    with rtnl(netns) as ipr:
        try:
            ipr.tc("del", "clsact", index=ifindex)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"deleting clsact qdisc of ifindex {ifindex}") from None


def tc_bpf_filter_add(ifindex: int, parent: TcParent, fd: int, name: str, prio: int = 1, handle: int = 1,
                      netns: str | None = None) -> None:
    """A cls_bpf filter in direct-action mode (the program's return value is the tc verdict). Never replaces."""
    with rtnl(netns) as ipr:
        try:
            ipr.tc("add-filter", "bpf", index=ifindex, handle=handle, fd=fd, name=name[:255] or "pyebpf",
                   parent=int(parent), prio=prio, protocol=EtherType.ALL, direct_action=True)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"adding tc bpf filter (prio {prio}, handle {handle}) on ifindex {ifindex}") \
                from None


def tc_bpf_filter_del(ifindex: int, parent: TcParent, prio: int = 1, handle: int = 1,
                      netns: str | None = None) -> None:
    with rtnl(netns) as ipr:
        try:
            ipr.tc("del-filter", "bpf", index=ifindex, handle=handle, parent=int(parent), prio=prio,
                   protocol=EtherType.ALL)
        except Exception as e:  # noqa: BLE001
            raise _netlink_error(e, f"deleting tc bpf filter (prio {prio}) on ifindex {ifindex}") from None


def tc_filters(ifindex: int, parent: TcParent, netns: str | None = None) -> list[dict[str, Any]]:
    """Filters under a clsact parent: [{'kind', 'prio', 'handle', 'name', 'prog_id'}] (empty if there is no
    clsact)."""
    with rtnl(netns) as ipr:
        try:
            msgs = ipr.get_filters(index=ifindex, parent=int(parent))
        except Exception as e:  # noqa: BLE001
            code = getattr(e, "code", None)
            if code in (errno.EINVAL, errno.ENOENT):
                return []
            raise _netlink_error(e, f"listing tc filters of ifindex {ifindex}") from None
    out = []
    for m in msgs:
        opts = m.get_attr("TCA_OPTIONS")
        name = opts.get_attr("TCA_BPF_NAME") if opts is not None and hasattr(opts, "get_attr") else None
        if opts is None:
            continue  # the per-prio chain head carries no options
        raw = _raw_attrs(opts)
        prog_id = struct.unpack_from("<I", raw[TcaBpf.ID])[0] if len(raw.get(TcaBpf.ID, b"")) >= 4 else 0
        out.append({"kind": m.get_attr("TCA_KIND"), "prio": m["info"] >> 16, "handle": m["handle"], "name": name,
                    "prog_id": prog_id})
    return out


def _raw_attrs(nla: Any) -> dict[int, bytes]:
    """type -> payload of the attributes nested in a decoded netlink attribute, read from the message bytes
    (pyroute2 does not decode every attribute, e.g. cls_bpf's TCA_BPF_ID)."""
    data, offset, length = getattr(nla, "data", None), getattr(nla, "offset", None), getattr(nla, "length", None)
    if data is None or offset is None or length is None:
        return {}
    raw = bytes(data[offset:offset + length])
    out: dict[int, bytes] = {}
    pos = 4  # past this attribute's own header
    while pos + 4 <= len(raw):
        size, typ = struct.unpack_from("<HH", raw, pos)
        if size < 4:
            break
        out[typ & 0x3FFF] = raw[pos + 4:pos + size]  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
        pos += (size + 3) & ~3
    return out


__all__ = ["XdpFlags", "XdpAttached", "XDP_MODES", "TcParent", "rtnl", "ifindex_of", "interfaces", "ifname_of", "call_in_netns", "netns_exists", "xdp_set", "xdp_query",
           "has_clsact", "clsact_add", "clsact_del", "tc_bpf_filter_add", "tc_bpf_filter_del", "tc_filters"]
