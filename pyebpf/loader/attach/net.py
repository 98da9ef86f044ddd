"""Networking attachments: socket filters, XDP and tc.

XDP and tc default to bpf_links (XDP through BPF_LINK_CREATE, tc through tcx, Linux 6.6+) wherever the kernel has
them (`pyebpf.loader.features`): the kernel removes a link when its last fd closes, however the process ends, so
nothing is left behind even after SIGKILL. `via="netlink"` (or a kernel without the link) uses IFLA_XDP and a clsact
qdisc with a cls_bpf direct-action filter, which outlive the process unless it exits through its exit hook.

An attachment already on the hook is never silently replaced: XDP takes one program per device, a cls_bpf filter one
(prio, handle), and a stale cls_bpf filter left by a dead pyebpf process would keep running beside a new tcx program.
In those cases the attach raises `AttachmentExists`, naming what is there and how to remove it (`pyebpf net detach
DEV`); `replace=True` removes it and attaches.

Detaching never removes somebody else's object: netlink XDP is cleared only while our program is the one installed,
a tc filter is deleted by the (parent, prio, handle) we created, and the clsact qdisc is removed only if we added it
and no filter is left under it. An interface or namespace that vanished counts as already detached.
"""
from __future__ import annotations

import errno
import os
import socket
from typing import Any, Callable

from pyebpf.abi.netlink import XDP_FLAGS_MODES, XDP_MODES, XdpFlags
from pyebpf.abi.prog_types import AttachType
from pyebpf.errors import LoaderError
from pyebpf.loader import attr as A
from pyebpf.loader import features, syscall
from pyebpf.loader import netlink as nl
from pyebpf.loader.attach.base import AttachScope, prog_fd
from pyebpf.loader.attach.netdev import DIRECTIONS, GONE, NetAttachment, filter_mark, on_device, remove
from pyebpf.loader.link import Link

SO_ATTACH_BPF = getattr(socket, "SO_ATTACH_BPF", 50)
SO_DETACH_BPF = getattr(socket, "SO_DETACH_BPF", 27)  # == SO_DETACH_FILTER

_GONE = GONE


class AttachmentExists(LoaderError):
    """The hook already has a program that this attach would have to replace; `.existing` lists what is there."""

    def __init__(self, message: str, errno_: int, existing: list[NetAttachment]):
        super().__init__(message, errno_)
        self.existing = existing


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


def attach_socket_filter(prog: Any, sock: Any) -> Link:
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
        return scope.attachment(prog, details={"socket": sock_obj})


def _xdp_mode_flags(mode: str | int | None) -> XdpFlags:
    """'skb'/'drv'/'hw'/None, or XDP_FLAGS_*_MODE bits as an int (0: let the kernel choose)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        if mode & ~int(XDP_FLAGS_MODES | XdpFlags.UPDATE_IF_NOEXIST) or bin(mode & XDP_FLAGS_MODES).count("1") > 1:
            raise LoaderError(f"bad XDP mode flags {mode:#x}", errno.EINVAL)
        return XdpFlags(mode & XDP_FLAGS_MODES)
    if mode not in XDP_MODES:
        raise LoaderError(f"unknown XDP mode {mode!r}; use one of skb, drv, hw", errno.EINVAL)
    return XDP_MODES[mode]


_VIAS = ("auto", "link", "netlink")


def _use_link(via: str, legacy: bool | None, available: Callable[[], bool], what: str) -> bool:
    """Resolve via= (and the older use_link/use_tcx booleans) against what the kernel has (probed only when
    it matters)."""
    if legacy is not None:
        via = "link" if legacy else "netlink"
    if via not in _VIAS:
        raise LoaderError(f"via must be one of {', '.join(_VIAS)}, not {via!r}", errno.EINVAL)
    if via == "netlink":
        return False
    if available():
        return True
    if via == "link":
        raise LoaderError(f"this kernel has no {what} (pass via='netlink' or via='auto')", errno.EOPNOTSUPP)
    return False


def _in_the_way(label: str, hook: str, existing: list[NetAttachment], dev: Any, netns: str | None,
                errno_: int = errno.EBUSY) -> AttachmentExists:
    what = "; ".join(a.describe() for a in existing) or "another program"
    ns = f" --netns {netns}" if netns else ""
    return AttachmentExists(f"attaching {hook} on {label}: already attached: {what}. Remove it with `pyebpf net "
                            f"detach {dev}{ns}` or pass replace=True", errno_, existing)


def attach_xdp(prog: Any, interface: str | int, mode: str | int | None = "skb", netns: str | None = None,
               replace: bool = False, via: str = "auto", use_link: bool | None = None) -> Link:
    """Run an XDP program on `interface` (name or ifindex) in `mode` 'skb' (generic), 'drv' or 'hw' (None or 0:
    the kernel picks; an int is taken as XDP_FLAGS_*_MODE bits). `netns` names the interface's network namespace.

    `via`: "auto" (a bpf_link when the kernel has XDP links, else netlink), "link" or "netlink" (`use_link` is the
    older spelling). A device holds one XDP program: if one is there, AttachmentExists (EBUSY) says which and how to
    remove it; `replace=True` replaces it (atomically through netlink; a link is created after removing it).
    """
    mode_flags = _xdp_mode_flags(mode)
    pfd = prog_fd(prog)
    ifindex = nl.ifindex_of(interface, netns)
    ours = prog_id(pfd)
    link = _use_link(via, use_link, features.xdp_link, "XDP links (BPF_LINK_CREATE, Linux 5.9+)")
    mode_name = {XdpFlags.SKB_MODE: "skb", XdpFlags.DRV_MODE: "drv", XdpFlags.HW_MODE: "hw"}.get(mode_flags)
    label = f"{interface}{'@' + netns if netns else ''} ({mode_name or 'auto'})"
    details = {"ifindex": ifindex, "prog_id": ours, "netns": netns, "mode": mode_name}

    def refused(e: LoaderError) -> LoaderError:
        """EBUSY/EEXIST: what is in the way, and how to remove it (looked up only now: attaching stays cheap)."""
        if e.errno not in (errno.EBUSY, errno.EEXIST):
            return e
        return _in_the_way(label, "XDP", on_device(str(interface), ifindex, netns, ("xdp",)), interface, netns,
                           e.errno)

    if replace:
        for old in on_device(str(interface), ifindex, netns, ("xdp",)):
            if link or old.link_id:
                remove(old)  # a link never replaces, and netlink cannot replace a link's program: make room
    if link:
        with AttachScope("xdp", label) as scope:
            try:
                fd = nl.call_in_netns(netns, syscall.link_create, pfd, ifindex, AttachType.XDP, int(mode_flags))
            except LoaderError as e:
                err = refused(e)
                raise (err if err is not e else LoaderError(f"attaching XDP link on {label}", e.errno)) from None
            scope.link(fd)
            return scope.attachment(prog, details=details)
    flags = mode_flags | (0 if replace else XdpFlags.UPDATE_IF_NOEXIST)
    with AttachScope("xdp", label) as scope:
        try:
            nl.xdp_set(ifindex, pfd, flags, netns)
        except LoaderError as e:
            raise refused(e) from None

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
        return scope.attachment(prog, details=details)


def attach_tc(prog: Any, interface: str | int, direction: str = "ingress", netns: str | None = None,
              prio: int = 1, handle: int = 1, via: str = "auto", replace: bool = False,
              use_tcx: bool | None = None) -> Link:
    """Run a BPF_PROG_TYPE_SCHED_CLS program (direct action: its return value is the verdict) on `interface`.

    `via`: "auto" (tcx when the kernel has it, else netlink), "link" (tcx: a bpf_link appended after the other tcx
    programs) or "netlink" (a cls_bpf filter created exclusively at (`direction`, `prio`, `handle`) under the clsact
    qdisc, which is added if missing and removed on detach if we added it and it is empty again); `use_tcx` is the
    older spelling. A cls_bpf filter already at that place, or a stale one left by a pyebpf process that is gone
    (it would keep running beside the new program), raises AttachmentExists; `replace=True` removes it first.
    """
    if direction not in DIRECTIONS:
        raise LoaderError(f"tc direction must be 'ingress' or 'egress', not {direction!r}", errno.EINVAL)
    hook, parent = DIRECTIONS[direction]
    pfd = prog_fd(prog)
    ifindex = nl.ifindex_of(interface, netns)
    tcx = _use_link(via, use_tcx, features.tcx, "tcx (Linux 6.6+)")
    name = getattr(prog, "name", "") or getattr(getattr(prog, "program", None), "name", "") or "pyebpf"
    label = f"{interface}{'@' + netns if netns else ''} {direction}"
    filters = on_device(str(interface), ifindex, netns, ("tc",), direction)
    in_the_way = [a for a in filters if a.stale or (not tcx and (a.prio, a.handle) == (prio, handle))]
    if in_the_way:
        if not replace:
            raise _in_the_way(label, "tc", in_the_way, interface, netns, errno.EEXIST)
        for old in in_the_way:
            remove(old)
    if tcx:
        with AttachScope("tcx", label) as scope:
            try:
                fd = nl.call_in_netns(netns, syscall.link_create, pfd, ifindex, hook)
            except LoaderError as e:
                raise LoaderError(f"attaching tcx link on {label}", e.errno) from None
            scope.link(fd)
            return scope.attachment(prog, details={"ifindex": ifindex, "netns": netns, "direction": direction})
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
        try:
            nl.tc_bpf_filter_add(ifindex, parent, pfd, filter_mark(name), prio, handle, netns)
        except LoaderError as e:
            if e.errno == errno.EEXIST:  # added by someone else since we looked
                there = [a for a in on_device(str(interface), ifindex, netns, ("tc",), direction)
                         if (a.prio, a.handle) == (prio, handle)]
                raise _in_the_way(label, "tc", there, interface, netns, e.errno) from None
            raise

        def drop_filter() -> None:
            try:
                nl.tc_bpf_filter_del(ifindex, parent, prio, handle, netns)
            except LoaderError as e:
                if e.errno not in _GONE:
                    raise

        scope.add("delete tc filter", drop_filter)
        return scope.attachment(prog, details={"ifindex": ifindex, "netns": netns, "parent": parent, "prio": prio,
                                               "handle": handle, "added_qdisc": added_qdisc})


def attach_netns(prog: Any, netns: str | None = None, attach_type: AttachType | int | None = None) -> Link:
    """Attach an sk_lookup or flow_dissector program to a whole network namespace through a bpf_link:
    `netns` is a name `ip netns` knows, a path to a namespace file, or None for this process's namespace; the hook
    is the program's expected attach type (BPF_SK_LOOKUP, BPF_FLOW_DISSECTOR) unless given."""
    if attach_type is None:
        attach_type = getattr(getattr(prog, "program", None), "expected_attach_type", None)
    if attach_type is None:
        raise LoaderError("attach_netns needs an attach type (the program has no expected_attach_type)",
                          errno.EINVAL)
    hook = AttachType(int(attach_type))
    path = "/proc/self/ns/net" if netns is None else netns if "/" in netns else os.path.join("/run/netns", netns)
    pfd = prog_fd(prog)
    with AttachScope("netns", f"{netns or 'self'} {hook.name.lower()}") as scope:
        try:
            nsfd = scope.fd(os.open(path, os.O_RDONLY | os.O_CLOEXEC), "netns")
        except OSError as e:
            raise LoaderError(f"no network namespace {netns!r} ({path})", e.errno) from None
        try:
            scope.link(syscall.link_create(pfd, nsfd, hook))
        except LoaderError as e:
            raise LoaderError(f"attaching {hook.name} program to network namespace {netns or 'self'}",
                              e.errno) from None
        return scope.attachment(prog, details={"netns": netns, "attach_type": hook})


attach_socket = attach_socket_filter

__all__ = ["attach_socket_filter", "attach_socket", "attach_xdp", "attach_tc", "attach_netns", "prog_id",
           "AttachmentExists",
           "SO_ATTACH_BPF", "SO_DETACH_BPF"]
