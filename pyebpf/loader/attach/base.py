"""`Attachment`: one program hooked somewhere, undone exactly once.

An attachment owns the steps that undo it (close a link fd, disable and close a perf event, remove a tc filter and
the qdisc we added, clear XDP on a link, SO_DETACH_BPF). `detach()` runs them in reverse order, once; `with` does it
on exit; attachments still alive at interpreter exit are detached by an atexit hook (only in the process that made
them: a forked child exiting must not tear down its parent's XDP program). Attachments are kept alive by a registry
until detached, so dropping the Python object does not silently unhook a probe that is meant to keep running.

`AttachScope` builds one: every resource acquired while attaching registers its undo step at once, so a failure at
any later step undoes the earlier ones and nothing leaks.
"""
from __future__ import annotations

import atexit
import errno
import os
import threading
from typing import Any, Callable

from pyebpf.errors import LoaderError

Undo = Callable[[], None]

_LIVE: dict[int, "Attachment"] = {}
_LIVE_LOCK = threading.Lock()


class Attachment:
    """A program attached to a hook. `detach()` is idempotent; use as a context manager to scope it."""

    def __init__(self, kind: str, target: str, undo: list[tuple[str, Undo]], prog: Any = None,
                 link_fd: int | None = None, perf_fd: int | None = None, info: dict[str, Any] | None = None):
        self.kind = kind
        self.target = target
        self.prog = prog  # keeps the program object (and its fd) alive while attached
        self.link_fd = link_fd
        self.perf_fd = perf_fd
        self.info = dict(info or {})
        self._undo = list(undo)
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._detached = False
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        _register_exit_hook()

    @property
    def attached(self) -> bool:
        return not self._detached

    def detach(self) -> None:
        """Undo every step in reverse order; later calls do nothing. Raises the first failure after trying all."""
        with self._lock:
            steps, self._undo = self._undo, []
            self._detached = True
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
        first: BaseException | None = None
        for what, undo in reversed(steps):
            try:
                undo()
            except Exception as e:  # noqa: BLE001 - keep undoing the rest, report the first failure
                if first is None:
                    first = e if isinstance(e, LoaderError) else LoaderError(f"detach {self.kind}: {what}: {e}",
                                                                             getattr(e, "errno", None))
        self.prog = None
        if first is not None:
            raise first

    close = detach

    def __enter__(self) -> "Attachment":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return f"<Attachment {self.kind} {self.target} {state}>"


class AttachScope:
    """Collects undo steps while attaching; on an exception they run in reverse, on success they become an Attachment.

    with AttachScope("tracepoint", "syscalls/sys_enter_openat") as scope:
        fd = scope.fd(perf_event_open(...), "perf event")
        ...
        return scope.attachment(prog, link_fd=link)
    """

    def __init__(self, kind: str, target: str):
        self.kind = kind
        self.target = target
        self.undo: list[tuple[str, Undo]] = []
        self._done = False

    def add(self, what: str, undo: Undo) -> None:
        self.undo.append((what, undo))

    def fd(self, fd: int, what: str) -> int:
        """Own `fd`: closed on failure now, on detach later."""
        self.add(f"close {what} fd {fd}", lambda: _close(fd))
        return fd

    def attachment(self, prog: Any, **kw: Any) -> Attachment:
        att = Attachment(self.kind, self.target, self.undo, prog=prog, **kw)
        self._done = True
        return att

    def __enter__(self) -> "AttachScope":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._done:
            return
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


def live_attachments() -> list[Attachment]:
    """Attachments made by this process and not yet detached (oldest first)."""
    with _LIVE_LOCK:
        return list(_LIVE.values())


def detach_all() -> None:
    """Detach everything this process attached, newest first (run at exit)."""
    for att in reversed(live_attachments()):
        if att._owner_pid != os.getpid():
            continue
        try:
            att.detach()
        except Exception:  # noqa: BLE001 - at exit, best effort for every attachment
            pass


def _at_exit() -> None:
    # In a forked child that exits normally, the parent's attachments are not ours to undo.
    with _LIVE_LOCK:
        mine = [a for a in _LIVE.values() if a._owner_pid == os.getpid()]
    if mine:
        detach_all()


_hook_registered = False


def _register_exit_hook() -> None:
    """Register at the first attachment: atexit runs last-registered first, so our hook then runs before the
    weakref finalizers that close program fds (registered when the first program was loaded)."""
    global _hook_registered
    if not _hook_registered:
        _hook_registered = True
        atexit.register(_at_exit)

__all__ = ["Attachment", "AttachScope", "prog_fd", "live_attachments", "detach_all"]
