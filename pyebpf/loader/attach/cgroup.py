"""cgroup attachments (cgroup_skb, cgroup_sock, sock_ops, ...) on a cgroup v2 directory, and cgroup v2 helpers.

We attach with a BPF link (BPF_LINK_CREATE on the cgroup fd): the kernel removes it when the link fd is closed, even
if this process dies. Kernels without cgroup links get BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI and BPF_PROG_DETACH.
"""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import time
from typing import Any

from pyebpf.abi.prog_types import AttachType
from pyebpf.abi.uapi import ENOTSUPP, AttachFlags
from pyebpf.errors import LoaderError
from pyebpf.loader import syscall
from pyebpf.loader.attach.base import AttachScope, prog_fd
from pyebpf.loader.link import Link
from pyebpf.system.mounts import mount_filesystem, mount_point

_ATTACH_ALIASES = {
    "ingress": AttachType.CGROUP_INET_INGRESS, "egress": AttachType.CGROUP_INET_EGRESS,
    "skb_ingress": AttachType.CGROUP_INET_INGRESS, "skb_egress": AttachType.CGROUP_INET_EGRESS,
    "sock_create": AttachType.CGROUP_INET_SOCK_CREATE, "sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
    "sock_ops": AttachType.CGROUP_SOCK_OPS, "device": AttachType.CGROUP_DEVICE,
    "sysctl": AttachType.CGROUP_SYSCTL, "getsockopt": AttachType.CGROUP_GETSOCKOPT,
    "setsockopt": AttachType.CGROUP_SETSOCKOPT,
}
_NO_LINK = (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP)


def parse_attach_type(value: AttachType | int | str) -> AttachType:
    if isinstance(value, AttachType):
        return value
    if isinstance(value, int):
        return AttachType(value)
    key = value.lower().removeprefix("bpf_")
    if key in _ATTACH_ALIASES:
        return _ATTACH_ALIASES[key]
    try:
        return AttachType[key.upper()]
    except KeyError:
        raise LoaderError(f"unknown cgroup attach type {value!r}", errno.EINVAL) from None


def attach_cgroup(prog: Any, cgroup_path: str, attach_type: AttachType | int | str | None = None,
                  flags: int = AttachFlags.ALLOW_MULTI, use_link: bool = True) -> Link:
    """Attach a cgroup program to the cgroup v2 directory `cgroup_path` at hook `attach_type`
    (AttachType.CGROUP_INET_EGRESS, or 'ingress' / 'egress' / 'sock_create' ...; None: the program's
    expected_attach_type)."""
    if attach_type is None:
        attach_type = getattr(getattr(prog, "program", None), "expected_attach_type", None)
        if attach_type is None:
            raise LoaderError("attach_cgroup needs an attach_type (the program has no expected_attach_type)",
                              errno.EINVAL)
    at = parse_attach_type(attach_type)
    pfd = prog_fd(prog)
    with AttachScope("cgroup", f"{cgroup_path} {at.name.lower()}") as scope:
        try:
            cgfd = os.open(cgroup_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise LoaderError(f"opening cgroup {cgroup_path}", e.errno) from None
        scope.fd(cgfd, "cgroup dir")
        link = None
        if use_link:
            try:
                link = scope.link(syscall.link_create(pfd, cgfd, at))
            except LoaderError as e:
                if e.errno not in _NO_LINK:
                    raise LoaderError(f"attaching to cgroup {cgroup_path} as {at.name} (BPF_LINK_CREATE)",
                                      e.errno) from None
        if link is None:
            # Our own reference to the program: BPF_PROG_DETACH names it by fd, and the caller may close theirs
            # (or the interpreter may, at exit, before our exit hook runs) while the attachment lives on.
            pfd = scope.fd(fcntl.fcntl(pfd, fcntl.F_DUPFD_CLOEXEC, 3), "program (dup)")
            try:
                syscall.prog_attach(pfd, cgfd, at, flags)
            except LoaderError as e:
                raise LoaderError(f"attaching to cgroup {cgroup_path} as {at.name} (BPF_PROG_ATTACH)",
                                  e.errno) from None

            def undo() -> None:
                try:
                    syscall.prog_detach(pfd, cgfd, at)
                except LoaderError as e:
                    if e.errno != errno.ENOENT:
                        raise

            scope.add("BPF_PROG_DETACH", undo)
        return scope.attachment(prog, details={"cgroup": cgroup_path, "attach_type": at})


# ---- cgroup v2 -------------------------------------------------------------------------------------------------

def cgroup2_root() -> str:
    """Mount point of the cgroup v2 hierarchy; mounts one under /run/pyebpf-cgroup2 if none is mounted."""
    found = mount_point("cgroup2")
    if found:
        return found
    target = "/run/pyebpf-cgroup2"
    os.makedirs(target, exist_ok=True)
    mount_filesystem("cgroup2", target, "cgroup2")
    return target


class TemporaryCgroup:
    """A fresh cgroup v2 directory, removed on exit (its processes are moved back to the parent first)."""

    def __init__(self, prefix: str = "pyebpf-") -> None:
        self.parent = cgroup2_root()
        self.path = tempfile.mkdtemp(prefix=prefix, dir=self.parent)

    def add_pid(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def pids(self) -> list[int]:
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def remove(self) -> None:
        if not os.path.isdir(self.path):
            return
        for pid in self.pids():
            try:
                with open(os.path.join(self.parent, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError:
                pass
        for _ in range(50):  # exiting tasks leave the cgroup asynchronously
            try:
                os.rmdir(self.path)
                return
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                time.sleep(0.02)
        os.rmdir(self.path)

    def __enter__(self) -> "TemporaryCgroup":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


__all__ = ["attach_cgroup", "parse_attach_type", "cgroup2_root", "TemporaryCgroup"]
