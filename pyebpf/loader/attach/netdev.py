"""Which BPF programs a network device runs, and removing them: what `pyebpf net list` / `net detach` do (bpftool
net's XDP, tcx and tc parts).

A device can hold: one XDP program per mode, installed through netlink (IFLA_XDP) or through a bpf_link; tcx
programs (Linux 6.6+), each through a bpf_link or BPF_PROG_ATTACH; cls_bpf filters under a clsact qdisc. pyebpf marks
the cls_bpf filters it adds with its process id (`name:[pyebpf:PID]`), so a filter left behind by a process that is
gone is recognised as stale. XDP through netlink cannot be marked: it is reported with its program id and name.
"""
from __future__ import annotations

import errno
import os
import re
import struct
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from pyebpf.abi.netlink import XDP_ATTACHED_NAMES, XDP_MODES, TcParent, XdpAttached
from pyebpf.abi.prog_types import AttachType
from pyebpf.abi.uapi import BpfLinkType
from pyebpf.errors import LoaderError
from pyebpf.loader import netlink as nl
from pyebpf.loader import syscall as sc
from pyebpf.loader.info import link_infos, prog_info_by_id

#: tc direction -> (tcx attach type, clsact parent)
DIRECTIONS = {"ingress": (AttachType.TCX_INGRESS, TcParent.INGRESS),
              "egress": (AttachType.TCX_EGRESS, TcParent.EGRESS)}
#: errnos that mean the thing to remove is already gone (interface or namespace deleted, filter removed).
GONE = (errno.ENODEV, errno.ENOENT, errno.EINVAL, errno.ENXIO)

_MARK = re.compile(r":\[pyebpf(?::(\d+))?\]$")


def filter_mark(name: str, pid: int | None = None) -> str:
    """The cls_bpf filter name pyebpf gives a program: 'NAME:[pyebpf:PID]' (at most 255 bytes)."""
    mark = f":[pyebpf:{os.getpid() if pid is None else pid}]"
    return (name or "pyebpf")[:255 - len(mark)] + mark


def filter_owner(name: str | None) -> tuple[bool, int | None]:
    """(made by pyebpf, the pid that made it or None) from a cls_bpf filter name."""
    m = _MARK.search(name or "")
    if m is None:
        return False, None
    return True, int(m.group(1)) if m.group(1) else None


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


@dataclass(frozen=True)
class NetAttachment:
    """One BPF program on a network device."""

    dev: str
    ifindex: int
    hook: str  # "xdp", "tcx" or "tc" (a cls_bpf filter)
    prog_id: int
    prog_name: str = ""
    direction: str = ""  # tcx/tc: "ingress" or "egress"
    via: str = ""  # "link", "netlink" or "prog_attach"
    link_id: int = 0
    mode: str = ""  # xdp: "skb", "drv", "hw"
    prio: int = 0  # tc
    handle: int = 0  # tc
    filter_name: str = ""  # tc
    pyebpf: bool = False  # tc: a filter pyebpf added
    owner_pid: int | None = None  # tc: the process that added it
    netns: str | None = None

    @property
    def stale(self) -> bool:
        """A pyebpf filter whose process is gone: nobody will remove it."""
        return self.pyebpf and self.owner_pid is not None and not _alive(self.owner_pid)

    def describe(self) -> str:
        where = f"{self.dev}{'@' + self.netns if self.netns else ''}"
        prog = f"program {self.prog_id}" + (f" {self.prog_name!r}" if self.prog_name else "")
        if self.hook == "xdp":
            how = f"bpf_link {self.link_id}" if self.link_id else "netlink"
            return f"XDP {prog} on {where} ({self.mode or 'auto'} mode, through {how})"
        if self.hook == "tcx":
            how = f"bpf_link {self.link_id}" if self.link_id else "BPF_PROG_ATTACH"
            return f"tcx {self.direction} {prog} on {where} (through {how})"
        owner = ""
        if self.pyebpf:
            state = "no longer running" if self.stale else "running"
            owner = f", added by pyebpf process {self.owner_pid} ({state})" if self.owner_pid else ", added by pyebpf"
        return (f"tc {self.direction} cls_bpf filter {self.filter_name!r} prio {self.prio} handle {self.handle:#x} "
                f"with {prog} on {where}{owner}")

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in ("", None, 0, False) or k in ("ifindex", "prog_id")}
        if self.hook == "tc":
            out["stale"] = self.stale
        return out


def _prog_name(prog_id: int) -> str:
    try:
        return prog_info_by_id(prog_id).name
    except LoaderError:
        return ""


def _xdp_link_ids() -> dict[tuple[int, int], int]:
    """(ifindex, prog id) -> link id of every XDP bpf_link (ifindexes of every namespace; matched by prog id too)."""
    out = {}
    for li in link_infos():
        if li.type == BpfLinkType.XDP and len(li.detail) >= 4:
            out[(struct.unpack_from("<I", li.detail)[0], li.prog_id)] = li.id
    return out


class _XdpLinks:
    """_xdp_link_ids(), read once per listing and only if some device has an XDP program (it walks every link)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[int, int], int] | None = None

    def get(self, key: tuple[int, int], default: int = 0) -> int:
        if self._ids is None:
            self._ids = _xdp_link_ids()
        return self._ids.get(key, default)


def _xdp(dev: str, ifindex: int, netns: str | None, links: _XdpLinks) -> list[NetAttachment]:
    state = nl.xdp_query(ifindex, netns)
    found: list[tuple[str, int]] = []
    if state["mode"] == XdpAttached.MULTI:
        found = [(m, state[f"{m}_prog_id"]) for m in ("skb", "drv", "hw") if state[f"{m}_prog_id"]]
    elif state["prog_id"]:
        found = [(XDP_ATTACHED_NAMES.get(XdpAttached(state["mode"]), ""), state["prog_id"])]
    out = []
    for mode, pid in found:
        link_id = links.get((ifindex, pid), 0)
        out.append(NetAttachment(dev, ifindex, "xdp", pid, _prog_name(pid), via="link" if link_id else "netlink",
                                 link_id=link_id, mode=mode, netns=netns))
    return out


def _tcx(dev: str, ifindex: int, netns: str | None, only: str | None = None) -> list[NetAttachment]:
    out = []
    for direction, (attach_type, _parent) in DIRECTIONS.items():
        if only is not None and direction != only:
            continue
        try:
            progs, links, _rev = nl.call_in_netns(netns, sc.prog_query, ifindex, attach_type, 64, True)
        except LoaderError as e:
            if e.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENODEV):
                return []  # a kernel without tcx, or the device went away
            raise
        for pid, lid in zip(progs, links):
            out.append(NetAttachment(dev, ifindex, "tcx", pid, _prog_name(pid), direction=direction,
                                     via="link" if lid else "prog_attach", link_id=lid, netns=netns))
    return out


def _tc(dev: str, ifindex: int, netns: str | None, only: str | None = None) -> list[NetAttachment]:
    out = []
    for direction, (_attach_type, parent) in DIRECTIONS.items():
        if only is not None and direction != only:
            continue
        for f in nl.tc_filters(ifindex, parent, netns):
            if f["kind"] != "bpf":
                continue
            mine, owner = filter_owner(f["name"])
            out.append(NetAttachment(dev, ifindex, "tc", f["prog_id"], _prog_name(f["prog_id"]),
                                     direction=direction, via="netlink", prio=f["prio"], handle=f["handle"],
                                     filter_name=f["name"] or "", pyebpf=mine, owner_pid=owner, netns=netns))
    return out


def net_list(dev: str | int | None = None, netns: str | None = None,
             hooks: Iterable[str] = ("xdp", "tcx", "tc"), direction: str | None = None) -> list[NetAttachment]:
    """Every BPF program on `dev` (default: every device of `netns`), XDP first, then tcx, then tc filters (only
    those of one tc `direction` when given)."""
    hooks = set(hooks)
    if dev is None:
        devices = nl.interfaces(netns)
    else:
        ifindex = nl.ifindex_of(dev, netns)
        devices = [(ifindex, dev if isinstance(dev, str) else nl.ifname_of(ifindex, netns))]
    links = _XdpLinks()
    out: list[NetAttachment] = []
    for ifindex, name in devices:
        try:
            out += on_device(name, ifindex, netns, hooks, direction, links)
        except LoaderError as e:
            if dev is None and e.errno in GONE:
                continue  # the device went away while we listed
            raise
    return out


def on_device(name: str, ifindex: int, netns: str | None, hooks: Iterable[str] = ("xdp", "tcx", "tc"),
              direction: str | None = None, links: "_XdpLinks | None" = None) -> list[NetAttachment]:
    """net_list for one device already resolved (ifindex in `netns`): what attach functions ask, cheaply."""
    hooks = set(hooks)
    out: list[NetAttachment] = []
    if "xdp" in hooks:
        out += _xdp(name, ifindex, netns, links or _XdpLinks())
    if "tcx" in hooks:
        out += _tcx(name, ifindex, netns, direction)
    if "tc" in hooks:
        out += _tc(name, ifindex, netns, direction)
    return out


def _detach_link(link_id: int) -> None:
    try:
        fd = sc.get_fd_by_id("link", link_id)
    except LoaderError as e:
        if e.errno == errno.ENOENT:
            return  # released meanwhile
        raise
    try:
        sc.link_detach(fd)
    finally:
        os.close(fd)


def remove(att: NetAttachment) -> None:
    """Remove one attachment found by net_list (a vanished one counts as removed)."""
    try:
        if att.link_id:
            _detach_link(att.link_id)
        elif att.hook == "xdp":
            nl.xdp_set(att.ifindex, -1, XDP_MODES.get(att.mode or None, 0), att.netns)
        elif att.hook == "tcx":
            prog = sc.get_fd_by_id("prog", att.prog_id)
            try:
                nl.call_in_netns(att.netns, sc.prog_detach, prog, att.ifindex, DIRECTIONS[att.direction][0])
            finally:
                os.close(prog)
        else:
            parent = DIRECTIONS[att.direction][1]
            nl.tc_bpf_filter_del(att.ifindex, parent, att.prio, att.handle, att.netns)
            if not any(nl.tc_filters(att.ifindex, p, att.netns) for p in TcParent):
                nl.clsact_del(att.ifindex, att.netns)  # the qdisc held only what we removed
    except LoaderError as e:
        if e.errno not in GONE:
            raise LoaderError(f"removing {att.describe()}", e.errno) from None


def net_detach(dev: str | int, netns: str | None = None, hooks: Iterable[str] = ("xdp", "tcx", "tc"),
               direction: str | None = None) -> list[NetAttachment]:
    """Remove every BPF program from `dev` (or only `hooks` / one tc `direction`); returns what was removed."""
    if direction is not None and direction not in DIRECTIONS:
        raise LoaderError(f"tc direction must be 'ingress' or 'egress', not {direction!r}", errno.EINVAL)
    found = net_list(dev, netns, hooks, direction)
    for att in found:
        remove(att)
    return found


__all__ = ["NetAttachment", "net_list", "on_device", "net_detach", "remove", "filter_mark", "filter_owner", "DIRECTIONS", "GONE"]
