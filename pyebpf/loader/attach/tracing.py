"""Tracing attachments: tracepoints, raw tracepoints, tp_btf, kprobes/kretprobes, uprobes/uretprobes.

Tracepoints, kprobes and uprobes are perf events the program is hooked to: perf_event_open on the event, then a
BPF link of type BPF_PERF_EVENT (falling back to PERF_EVENT_IOC_SET_BPF on kernels without perf links), then
PERF_EVENT_IOC_ENABLE. Raw tracepoints use BPF_RAW_TRACEPOINT_OPEN; tp_btf programs (BPF_PROG_TYPE_TRACING with
BPF_TRACE_RAW_TP, loaded with the BTF id of `btf_trace_<name>`) use BPF_LINK_CREATE.
"""
from __future__ import annotations

import errno
import os
import struct
from typing import Any

from pyebpf.abi.prog_types import AttachType
from pyebpf.abi.uapi import ENOTSUPP
from pyebpf.errors import LoaderError
from pyebpf.loader import features, syscall
from pyebpf.loader.attach.base import AttachScope, prog_fd
from pyebpf.loader.link import Link
from pyebpf.loader.attach.elfsym import resolve_binary, symbol_file_offset
from pyebpf.abi.perf_event import PerfIoctl
from pyebpf.loader.perf_event import PmuMissing, perf_ioctl, pmu_type, probe_event, tracepoint_event
from pyebpf.system.tracefs import split_tracepoint, tracefs_root, tracepoint_id

#: errnos meaning "this kernel cannot make this kind of BPF link" (then the older interface is used).
_NO_LINK = (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP)


class KprobesUnavailable(LoaderError):
    """This kernel cannot place kprobes (CONFIG_KPROBES off: no 'kprobe' PMU and no kprobe_events)."""


def kprobes_available() -> str | None:
    """None when kprobes can be placed here, else the reason (tests skip with it as a missing kernel feature).

    We place kprobes through the 'kprobe' perf PMU (Linux 4.17+); without it this kernel has no kprobes for us.
    """
    try:
        pmu_type("kprobe")
        return None
    except PmuMissing:
        pass
    try:
        legacy = os.path.exists(os.path.join(tracefs_root(), "kprobe_events"))
    except LoaderError:
        legacy = False
    if legacy:
        return "no 'kprobe' perf PMU (only legacy tracefs kprobe_events, which pyebpf does not use)"
    return "CONFIG_KPROBES is off (no 'kprobe' perf PMU and no tracefs kprobe_events)"


def _hook_perf_event(scope: AttachScope, prog: Any, perf_fd: int, cookie: int, use_link: bool = True) -> None:
    """Attach `prog` to the perf event: a BPF link when the kernel has perf links (features.perf_link; and
    use_link), else the PERF_EVENT_IOC_SET_BPF ioctl (the program then stays on the event until its fd closes)."""
    pfd = prog_fd(prog)
    if use_link and features.perf_link():
        try:
            link = syscall.link_create(pfd, perf_fd, AttachType.PERF_EVENT, extra=struct.pack("<Q", cookie))
        except LoaderError as e:
            raise LoaderError(f"attaching program to {scope.kind} {scope.target} (BPF_LINK_CREATE)", e.errno,
                              e.log) from None
        scope.link(link)
    else:
        if cookie:
            why = "" if use_link else " (use_link=False)"
            raise LoaderError(f"a BPF cookie needs a perf link (BPF_LINK_CREATE, Linux 5.15+), not available "
                              f"here{why}", errno.EOPNOTSUPP)
        perf_ioctl(perf_fd, PerfIoctl.SET_BPF, pfd, f"attaching program to {scope.kind} {scope.target}")
    perf_ioctl(perf_fd, PerfIoctl.ENABLE, 0, f"enabling {scope.kind} {scope.target}")
    scope.add("disable perf event", lambda: _quiet_ioctl(perf_fd, PerfIoctl.DISABLE))


def _quiet_ioctl(fd: int, request: PerfIoctl) -> None:
    try:
        perf_ioctl(fd, request)
    except LoaderError as e:
        if e.errno != errno.EBADF:
            raise


def attach_tracepoint(prog: Any, category: str, name: str | None = None, cookie: int = 0,
                      use_link: bool = True) -> Link:
    """Run a BPF_PROG_TYPE_TRACEPOINT program on tracepoint `category:name` ('syscalls', 'sys_enter_openat').

    `category` may also be 'syscalls/sys_enter_openat' with `name` omitted. tracefs is mounted if needed.
    """
    if name is None:
        category, name = split_tracepoint(category)
    target = f"{category}:{name}"
    pfd = prog_fd(prog)
    with AttachScope("tracepoint", target) as scope:
        tp = tracepoint_id(category, name)
        perf_fd = scope.fd(tracepoint_event(tp), "perf event")
        _hook_perf_event(scope, pfd, perf_fd, cookie, use_link)
        return scope.attachment(prog, perf_fd=perf_fd, details={"tracepoint_id": tp})


def attach_raw_tracepoint(prog: Any, name: str, cookie: int = 0) -> Link:
    """Run a BPF_PROG_TYPE_RAW_TRACEPOINT program on raw tracepoint `name` ('sys_enter', 'sched_switch')."""
    if not name or "/" in name or ":" in name:
        raise LoaderError(f"raw tracepoint name {name!r} must be a bare tracepoint name like 'sys_enter'",
                          errno.EINVAL)
    pfd = prog_fd(prog)
    with AttachScope("raw_tracepoint", name) as scope:
        try:
            link = syscall.raw_tracepoint_open(name, pfd, cookie)
        except LoaderError as e:
            hint = " (no such raw tracepoint)" if e.errno == errno.ENOENT else ""
            raise LoaderError(f"BPF_RAW_TRACEPOINT_OPEN {name!r}{hint}", e.errno) from None
        scope.link(link)
        return scope.attachment(prog)


def attach_tp_btf(prog: Any, name: str | None = None, cookie: int = 0) -> Link:
    """Attach a BTF-targeted program: tp_btf, fentry/fexit/fmod_ret (BPF_PROG_TYPE_TRACING) or lsm, whose
    expected attach type (BPF_TRACE_RAW_TP by default) is the link's attach type, as the kernel requires.

    The target was fixed at load time by attach_btf_id (see pyebpf.btf.tp_btf_type_id); `name` is
    only a label. Uses BPF_LINK_CREATE, falling back to BPF_RAW_TRACEPOINT_OPEN with no name on older kernels.
    """
    program = getattr(prog, "program", None)
    label = name or getattr(prog, "attach_to", None) or getattr(program, "attach_to", None) or "?"
    eat = getattr(program, "expected_attach_type", None)
    hook = AttachType(int(eat)) if isinstance(eat, int) and eat else AttachType.TRACE_RAW_TP
    pfd = prog_fd(prog)
    kind = "tp_btf" if hook == AttachType.TRACE_RAW_TP else hook.name.lower()
    with AttachScope(kind, str(label)) as scope:
        try:
            extra = struct.pack("<IIQ", 0, 0, cookie)  # tracing: target_btf_id (0: from load), pad, cookie
            link = syscall.link_create(pfd, 0, hook, extra=extra)
        except LoaderError as e:
            if e.errno not in _NO_LINK:
                raise LoaderError(f"attaching {kind} {label} (BPF_LINK_CREATE)", e.errno) from None
            link = syscall.raw_tracepoint_open(None, pfd, cookie)
        scope.link(link)
        return scope.attachment(prog)


def attach_kprobe(prog: Any, symbol: str, retprobe: bool = False, offset: int = 0, cookie: int = 0,
                  use_link: bool = True) -> Link:
    """Run a BPF_PROG_TYPE_KPROBE program at kernel function `symbol`(+offset), or on its return if `retprobe`."""
    kind = "kretprobe" if retprobe else "kprobe"
    if not symbol:
        raise LoaderError(f"{kind} needs a kernel symbol", errno.EINVAL)
    pfd = prog_fd(prog)
    with AttachScope(kind, f"{symbol}+{offset:#x}" if offset else symbol) as scope:
        try:
            fd = probe_event("kprobe", symbol.encode(), offset, retprobe)
        except PmuMissing:
            reason = kprobes_available() or "no 'kprobe' perf PMU"
            raise KprobesUnavailable(f"cannot attach {kind} {symbol}: {reason}", errno.EOPNOTSUPP) from None
        perf_fd = scope.fd(fd, "perf event")
        _hook_perf_event(scope, pfd, perf_fd, cookie, use_link)
        return scope.attachment(prog, perf_fd=perf_fd)


def attach_uprobe(prog: Any, binary: str, symbol: str | None = None, offset: int = 0, pid: int = -1,
                  retprobe: bool = False, cookie: int = 0, ref_ctr_offset: int = 0, use_link: bool = True) -> Link:
    """Run a BPF_PROG_TYPE_KPROBE program when user code reaches `symbol`+offset in `binary` (or returns from it).

    `binary` is a path or a library name ("c", "libc.so.6"); without `symbol`, `offset` is a file offset. `pid`
    limits the probe to one process (-1: every process mapping the binary). `ref_ctr_offset`: file offset of a
    u16 the kernel raises while the probe exists (a USDT semaphore; pyebpf.loader.usdt).
    """
    kind = "uretprobe" if retprobe else "uprobe"
    pfd = prog_fd(prog)
    path = resolve_binary(binary)
    file_offset = offset + (symbol_file_offset(path, symbol) if symbol else 0)
    target = f"{path}:{symbol}+{offset:#x}" if symbol else f"{path}:{file_offset:#x}"
    with AttachScope(kind, target) as scope:
        fd = probe_event("uprobe", os.fsencode(path), file_offset, retprobe, pid=pid, ref_ctr_offset=ref_ctr_offset)
        perf_fd = scope.fd(fd, "perf event")
        _hook_perf_event(scope, pfd, perf_fd, cookie, use_link)
        return scope.attachment(prog, perf_fd=perf_fd, details={"path": path, "offset": file_offset, "pid": pid})


__all__ = ["KprobesUnavailable", "kprobes_available", "attach_tracepoint", "attach_raw_tracepoint", "attach_tp_btf",
           "attach_kprobe", "attach_uprobe"]
