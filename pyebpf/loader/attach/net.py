"""Networking attachments: socket filters, XDP (netlink), tc clsact direct-action filters (netlink).

Detaching never removes somebody else's object: XDP is cleared only while our program is the one installed, a tc
filter is deleted by the (parent, prio, handle) we created exclusively, and the clsact qdisc is removed only if we
added it and no filter is left under it. An interface or namespace that vanished counts as already detached.
"""
from __future__ import annotations

import errno
import socket
from typing import Any

from pyebpf.abi.prog_types import AttachType
from pyebpf.errors import LoaderError
from pyebpf.loader import attr as A
from pyebpf.loader import netlink as nl
from pyebpf.loader import syscall
from pyebpf.loader.attach.base import AttachScope, Attachment, prog_fd

SO_ATTACH_BPF = getattr(socket, "SO_ATTACH_BPF", 50)
SO_DETACH_BPF = getattr(socket, "SO_DETACH_BPF", 27)  # == SO_DETACH_FILTER

#: errnos that mean the thing to undo is already gone (interface or namespace deleted, filter removed).
_GONE = (errno.ENODEV, errno.ENOENT, errno.EINVAL, errno.ENXIO)


def prog_id(fd: int) -> int:
    info = A.bpf_prog_info()
    syscall.obj_get_info_by_fd(fd, info)
    return int(info.id)


def _sock_fd(sock: Any) -> int:
    if isinstance(sock, int):
        return sock
    fileno = getattr(sock, "fileno", None)
    if fileno is None:
        raise LoaderError(f"need a socket or a socket fd, got {type(sock).__name__}", errno.ENOTSOCK)
    return int(fileno())


def attach_socket_filter(prog: Any, sock: Any) -> Attachment:
    """SO_ATTACH_BPF: a BPF_PROG_TYPE_SOCKET_FILTER program on `sock` (return 0 drops, n keeps n bytes)."""
    pfd = prog_fd(prog)
    fd = _sock_fd(sock)
    if fd < 0:
        raise LoaderError("socket is closed", errno.EBADF)
    try:
        sock_obj = sock if isinstance(sock, socket.socket) else socket.socket(fileno=fd)
    except OSError as e:
        raise LoaderError(f"fd {fd} is not a socket", e.errno) from None
    owned_dup = not isinstance(sock, socket.socket)
    with AttachScope("socket_filter", f"fd {fd}") as scope:
        if owned_dup:
            scope.add("forget socket wrapper", sock_obj.detach)
        try:
            sock_obj.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, pfd)
        except OSError as e:
            raise LoaderError(f"SO_ATTACH_BPF on socket fd {fd}", e.errno) from None

        def undo() -> None:
            if sock_obj.fileno() < 0:
                return  # socket closed: the filter went with it
            try:
                sock_obj.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.EBADF):
                    raise LoaderError(f"SO_DETACH_BPF on socket fd {fd}", e.errno) from None

        scope.add("SO_DETACH_BPF", undo)
        return scope.attachment(prog, info={"socket": sock_obj})


def _xdp_mode_flags(mode: str | int | None) -> nl.XdpFlags:
    """'skb'/'drv'/'hw'/None, or XDP_FLAGS_*_MODE bits as an int (0: let the kernel choose)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        modes = nl.XdpFlags.SKB_MODE | nl.XdpFlags.DRV_MODE | nl.XdpFlags.HW_MODE
        if mode & ~int(modes | nl.XdpFlags.UPDATE_IF_NOEXIST) or bin(mode & modes).count("1") > 1:
            raise LoaderError(f"bad XDP mode flags {mode:#x}", errno.EINVAL)
        return nl.XdpFlags(mode & modes)
    if mode not in nl.XDP_MODES:
        raise LoaderError(f"unknown XDP mode {mode!r}; use one of skb, drv, hw", errno.EINVAL)
    return nl.XDP_MODES[mode]


def attach_xdp(prog: Any, interface: str | int, mode: str | int | None = "skb", netns: str | None = None,
               replace: bool = False, use_link: bool = False) -> Attachment:
    """Install an XDP program on `interface` (name or ifindex) in `mode` 'skb' (generic), 'drv' or 'hw'
    (None or 0: the kernel picks; an int is taken as XDP_FLAGS_*_MODE bits).

    Without `replace`, fails with EBUSY/EEXIST if the interface already has an XDP program. `netns` names the
    network namespace the interface lives in. With `use_link` the program is attached through a BPF link
    (BPF_LINK_CREATE, Linux 5.9+) instead of netlink: the kernel removes it when the link fd closes, even if this
    process is killed; links never replace another program.
    """
    mode_flags = _xdp_mode_flags(mode)
    pfd = prog_fd(prog)
    ifindex = nl.ifindex_of(interface, netns)
    ours = prog_id(pfd)
    flags = mode_flags | (0 if replace else nl.XdpFlags.UPDATE_IF_NOEXIST)
    mode = {nl.XdpFlags.SKB_MODE: "skb", nl.XdpFlags.DRV_MODE: "drv", nl.XdpFlags.HW_MODE: "hw"}.get(mode_flags)
    label = f"{interface}{'@' + netns if netns else ''} ({mode or 'auto'})"
    if use_link:
        with AttachScope("xdp", label) as scope:
            try:
                link = nl.call_in_netns(netns, syscall.link_create, pfd, ifindex, AttachType.XDP, int(mode_flags))
            except LoaderError as e:
                raise LoaderError(f"attaching XDP link on {label}", e.errno) from None
            scope.fd(link, "XDP link")
            return scope.attachment(prog, link_fd=link, info={"ifindex": ifindex, "prog_id": ours,
                                                              "netns": netns, "mode": mode})
    with AttachScope("xdp", label) as scope:
        nl.xdp_set(ifindex, pfd, flags, netns)

        def undo() -> None:
            try:
                state = nl.xdp_query(ifindex, netns)
            except LoaderError as e:
                if e.errno in _GONE:
                    return
                raise
            if ours not in (state["prog_id"], state["skb_prog_id"], state["drv_prog_id"], state["hw_prog_id"]):
                return  # replaced by someone else since: not ours to remove
            try:
                nl.xdp_set(ifindex, -1, mode_flags, netns)
            except LoaderError as e:
                if e.errno not in _GONE:
                    raise

        scope.add("clear XDP", undo)
        return scope.attachment(prog, info={"ifindex": ifindex, "prog_id": ours, "netns": netns, "mode": mode})


def attach_tc(prog: Any, interface: str | int, direction: str = "ingress", netns: str | None = None,
              prio: int = 1, handle: int = 1, use_tcx: bool = False) -> Attachment:
    """A BPF_PROG_TYPE_SCHED_CLS program as a direct-action cls_bpf filter on the clsact qdisc of `interface`.

    The clsact qdisc is added if missing (and removed on detach if we added it and it is empty again). The filter is
    created exclusively at (`direction`, `prio`, `handle`): an existing filter there is an error, never replaced.
    With `use_tcx` the program goes on the tcx hook through a BPF link instead (Linux 6.6+; no qdisc, appended
    after other tcx programs, removed by the kernel when the link fd closes even if this process is killed).
    """
    try:
        parent = {"ingress": nl.TcParent.INGRESS, "egress": nl.TcParent.EGRESS}[direction]
    except KeyError:
        raise LoaderError(f"tc direction must be 'ingress' or 'egress', not {direction!r}", errno.EINVAL) from None
    pfd = prog_fd(prog)
    ifindex = nl.ifindex_of(interface, netns)
    name = getattr(prog, "name", "") or getattr(getattr(prog, "program", None), "name", "") or "pyebpf"
    label = f"{interface}{'@' + netns if netns else ''} {direction}"
    if use_tcx:
        hook = AttachType.TCX_INGRESS if direction == "ingress" else AttachType.TCX_EGRESS
        with AttachScope("tcx", label) as scope:
            try:
                link = nl.call_in_netns(netns, syscall.link_create, pfd, ifindex, hook)
            except LoaderError as e:
                raise LoaderError(f"attaching tcx link on {label}", e.errno) from None
            scope.fd(link, "tcx link")
            return scope.attachment(prog, link_fd=link, info={"ifindex": ifindex, "netns": netns,
                                                              "direction": direction})
    with AttachScope("tc", label) as scope:
        added_qdisc = False
        if not nl.has_clsact(ifindex, netns):
            nl.clsact_add(ifindex, netns)
            added_qdisc = True

            def drop_qdisc() -> None:
                try:
                    if any(nl.tc_filters(ifindex, p, netns) for p in nl.TcParent):
                        return  # someone else's filters live there now
                    nl.clsact_del(ifindex, netns)
                except LoaderError as e:
                    if e.errno not in _GONE:
                        raise

            scope.add("delete clsact qdisc", drop_qdisc)
        nl.tc_bpf_filter_add(ifindex, parent, pfd, f"{name}:[pyebpf]", prio, handle, netns)

        def drop_filter() -> None:
            try:
                nl.tc_bpf_filter_del(ifindex, parent, prio, handle, netns)
            except LoaderError as e:
                if e.errno not in _GONE:
                    raise

        scope.add("delete tc filter", drop_filter)
        return scope.attachment(prog, info={"ifindex": ifindex, "netns": netns, "parent": parent, "prio": prio,
                                            "handle": handle, "added_qdisc": added_qdisc})


attach_socket = attach_socket_filter

__all__ = ["attach_socket_filter", "attach_socket", "attach_xdp", "attach_tc", "prog_id", "SO_ATTACH_BPF", "SO_DETACH_BPF"]
