"""`AttachScope`: build a `Link` step by step so that a failure at any step undoes the earlier ones.

Every resource acquired while attaching registers its undo step at once (an fd to close, a qdisc to delete); the
bpf_link fd, once made, is handed to the Link, which owns it from then on. On an exception inside the scope the
steps run in reverse and nothing leaks; on success they become the Link's undo steps.
"""
from __future__ import annotations

import errno
import os
from typing import Any

from pyebpf.errors import LoaderError
from pyebpf.loader.link import Link, Undo, close_all, live_links


class AttachScope:
    """Collects undo steps while attaching; on an exception they run in reverse, on success they belong to a Link.

    with AttachScope("tracepoint", "syscalls/sys_enter_openat") as scope:
        perf_fd = scope.fd(perf_event_open(...), "perf event")
        scope.link(link_create(...))
        return scope.attachment(prog, perf_fd=perf_fd)
    """

    def __init__(self, kind: str, target: str):
        self.kind = kind
        self.target = target
        self.undo: list[tuple[str, Undo]] = []
        self.link_fd: int | None = None
        self._done = False

    def add(self, what: str, undo: Undo) -> None:
        self.undo.append((what, undo))

    def fd(self, fd: int, what: str) -> int:
        """Own `fd`: closed on failure now, on release later."""
        self.add(f"close {what} fd {fd}", lambda: _close(fd))
        return fd

    def link(self, fd: int) -> int:
        """The bpf_link fd of this attachment: closed on failure now, owned by the Link afterwards."""
        self.link_fd = fd
        return fd

    def attachment(self, prog: Any, *, perf_fd: int | None = None, details: dict[str, Any] | None = None) -> Link:
        link = Link(self.link_fd, kind=self.kind, target=self.target, prog=prog, undo=self.undo, perf_fd=perf_fd,
                    details=details, track=True)
        self._done = True
        return link

    def __enter__(self) -> "AttachScope":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._done:
            return
        if self.link_fd is not None:
            _close(self.link_fd)
        for _what, undo in reversed(self.undo):
            try:
                undo()
            except Exception:  # noqa: BLE001 - the original error matters more than a cleanup failure
                pass
        self.undo = []


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError as e:
        if e.errno != errno.EBADF:
            raise


def prog_fd(prog: Any) -> int:
    """The fd of a loaded program: a KernelProgram-like object with `.fd`, or an int."""
    if isinstance(prog, int) and not isinstance(prog, bool):
        return prog
    fd = getattr(prog, "fd", None)
    if isinstance(fd, int) and fd >= 0:
        return fd
    raise LoaderError(f"need a loaded program (an object with .fd, or an fd), got {type(prog).__name__}",
                      errno.EBADF)


#: Older names: an attachment is a Link; the registry helpers are link.live_links / link.close_all.
Attachment = Link
live_attachments = live_links
detach_all = close_all

__all__ = ["AttachScope", "Link", "Attachment", "prog_fd", "live_attachments", "detach_all", "live_links",
           "close_all"]
