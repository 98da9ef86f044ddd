"""`auto_attach`: attach a loaded program where its type and target string say (KernelProgram.attach()).

Target strings follow libbpf's SEC() suffixes: 'syscalls/sys_enter_openat' (tracepoint), 'sys_enter'
(raw_tracepoint, tp_btf), 'kprobe/do_sys_openat2' / 'kretprobe/...' / 'uprobe/<path>:<symbol>' /
'uretprobe/<path>:<symbol>' (kprobe type; a bare symbol means kprobe), '<ifname>' (XDP), '<ifname>' or
'<ifname>/egress' (tc), '<cgroup dir>' (cgroup programs, hook from expected_attach_type).
"""
from __future__ import annotations

import errno
from typing import Any

from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.errors import LoaderError
from pyebpf.loader.attach.base import Attachment
from pyebpf.loader.attach.cgroup import attach_cgroup
from pyebpf.loader.attach.net import attach_tc, attach_xdp
from pyebpf.loader.attach.tracing import (
    attach_kprobe, attach_raw_tracepoint, attach_tp_btf, attach_tracepoint, attach_uprobe,
)

_CGROUP_TYPES = {ProgType.CGROUP_SKB, ProgType.CGROUP_SOCK, ProgType.CGROUP_SOCK_ADDR, ProgType.SOCK_OPS,
                 ProgType.CGROUP_DEVICE, ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT}
_DEFAULT_CGROUP_HOOK = {ProgType.CGROUP_SKB: AttachType.CGROUP_INET_INGRESS,
                        ProgType.CGROUP_SOCK: AttachType.CGROUP_INET_SOCK_CREATE,
                        ProgType.SOCK_OPS: AttachType.CGROUP_SOCK_OPS,
                        ProgType.CGROUP_DEVICE: AttachType.CGROUP_DEVICE,
                        ProgType.CGROUP_SYSCTL: AttachType.CGROUP_SYSCTL}


def _program_of(prog: Any) -> Any:
    return getattr(prog, "program", None)


def _expected_attach_type(prog: Any) -> Any:
    program = _program_of(prog)
    return getattr(program, "expected_attach_type", None)


def auto_attach(prog: Any, target: str | None = None, **kw: Any) -> Attachment:
    """Attach `prog` (a KernelProgram) at `target`, or at its Program's attach_to when target is None."""
    program = _program_of(prog)
    target = target if target is not None else getattr(program, "attach_to", None)
    ptype = getattr(prog, "prog_type", None) or getattr(program, "prog_type", None)
    if target is None:
        raise LoaderError(f"no attach target for {getattr(ptype, 'name', ptype)} program: pass one or set "
                          f"Program.attach_to",
                          errno.EINVAL)
    if ptype == ProgType.TRACEPOINT:
        return attach_tracepoint(prog, target, **kw)
    if ptype in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        return attach_raw_tracepoint(prog, target, **kw)
    if ptype == ProgType.TRACING:
        return attach_tp_btf(prog, target, **kw)
    if ptype == ProgType.KPROBE:
        kind, sep, rest = target.partition("/")
        if not sep:
            return attach_kprobe(prog, target, **kw)
        if kind in ("kprobe", "kretprobe"):
            return attach_kprobe(prog, rest, retprobe=kind == "kretprobe", **kw)
        if kind in ("uprobe", "uretprobe"):
            binary, _, symbol = rest.rpartition(":")
            if not binary:
                raise LoaderError(f"uprobe target {target!r} must be uprobe/<binary>:<symbol>", errno.EINVAL)
            offset = 0
            if "+" in symbol:
                symbol, _, off = symbol.partition("+")
                offset = int(off, 0)
            return attach_uprobe(prog, binary, symbol or None, offset=offset, retprobe=kind == "uretprobe", **kw)
        raise LoaderError(f"kprobe target {target!r}: expected kprobe/, kretprobe/, uprobe/ or uretprobe/",
                          errno.EINVAL)
    if ptype == ProgType.XDP:
        return attach_xdp(prog, target, **kw)
    if ptype in (ProgType.SCHED_CLS, ProgType.SCHED_ACT):
        ifname, _, direction = target.replace(":", "/").partition("/")
        return attach_tc(prog, ifname, direction or "ingress", **kw)
    if ptype in _CGROUP_TYPES:
        hook = _expected_attach_type(prog) or _DEFAULT_CGROUP_HOOK.get(ptype)
        if hook is None:
            raise LoaderError(f"{ptype.name} program needs an expected_attach_type to attach to a cgroup",
                              errno.EINVAL)
        return attach_cgroup(prog, target, hook, **kw)
    raise LoaderError(f"don't know how to attach a {getattr(ptype, 'name', ptype)} program automatically",
                      errno.EOPNOTSUPP)


__all__ = ["auto_attach"]
