"""`Link`: one program hooked somewhere — a kernel bpf_link, or an older hook (netlink XDP, a cls_bpf filter, a perf
event's SET_BPF, BPF_PROG_ATTACH, SO_ATTACH_BPF) — released exactly once.

    with attach_xdp(prog, "eth0") as link:      # BPF_LINK_CREATE: the kernel removes it when the fd closes
        link.info(); link.pin("/sys/fs/bpf/x")  # pinned: outlives this process until unpinned

`close()` gives up what this process holds: a bpf_link fd is closed (the kernel then detaches unless the link is
pinned or another process holds it); a hook that is not a bpf_link — it would outlive the process — is undone.
`detach()` removes the attachment for everyone: BPF_LINK_DETACH where the link type has it, our pin removed, every
undo step run. Both are idempotent; a `with` block closes.

Lifetime: links made by attach functions are kept alive by a registry (dropping the Python object does not silently
unhook a probe meant to keep running) and closed at interpreter exit by an atexit hook, only in the process that made
them (a forked child exiting must not tear down its parent's XDP program). SIGTERM is handled like SIGINT: when the
process has no SIGTERM handler of its own, the first attachment installs one that raises SystemExit(128 + SIGTERM),
so `with`/`finally` blocks and the exit hook run; a handler the user installed (before or after) is called instead
and decides — ours never replaces it, and SIG_IGN stays ignored. SIGKILL runs nothing: that is why XDP and tc default
to bpf_links, which the kernel releases with the last fd.
"""
from __future__ import annotations

import atexit
import errno
import os
import signal
import threading
from typing import TYPE_CHECKING, Any, Callable

from pyebpf.errors import LoaderError
from pyebpf.loader import syscall as sc
from pyebpf.loader.fdguard import FdHandle

if TYPE_CHECKING:
    from pyebpf.loader.info import LinkInfo

Undo = Callable[[], None]

_LIVE: dict[int, "Link"] = {}
_LIVE_LOCK = threading.RLock()  # re-entrant: the SIGTERM handler may run while the main thread holds it

#: errnos of BPF_LINK_DETACH meaning "this link type cannot be detached that way" (closing the fd still works).
_NO_LINK_DETACH = (errno.EOPNOTSUPP, errno.EINVAL, 524)  # 524: the kernel-internal ENOTSUPP


class Link:
    """A program attached to a hook: `info()`, `pin(path)`, `unpin()`, `detach()`, `close()`, context manager.

    `kind` names the hook ("xdp", "tcx", "tc", "tracepoint", "kprobe", "cgroup", ...), `target` where it is,
    `details` what the attach function learnt (ifindex, prog_id, netns, mode ...). `fd` is the bpf_link fd; hooks
    that are not bpf_links (`is_bpf_link` False) have none and cannot be pinned.
    """

    def __init__(self, fd: int | FdHandle | None = None, *, kind: str = "", target: str = "", prog: Any = None,
                 undo: list[tuple[str, Undo]] | None = None, perf_fd: int | None = None,
                 details: dict[str, Any] | None = None, track: bool = False):
        self._handle = fd if isinstance(fd, FdHandle) or fd is None else FdHandle(fd)
        self.kind = kind or (self._type_name() if self._handle is not None else "link")
        self.target = target
        self.prog = prog  # keeps the program object (and its fd) alive while attached
        self.perf_fd = perf_fd
        self.details: dict[str, Any] = dict(details or {})
        self.pinned: str | None = None  # the path we pinned it at
        self._undo = list(undo or [])
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        if track:
            with _LIVE_LOCK:
                _LIVE[id(self)] = self
            _install_lifetime_hooks()

    # -- construction from existing kernel links -------------------------------------------------------------------
    @classmethod
    def from_id(cls, link_id: int) -> "Link":
        """Open the bpf_link with this id (BPF_LINK_GET_FD_BY_ID); closing ours leaves the link to its owners."""
        return cls(sc.get_fd_by_id("link", link_id))

    @classmethod
    def from_pinned(cls, path: str) -> "Link":
        from pyebpf.loader.pin import open_pinned_fd

        handle, kind = open_pinned_fd(path)
        if kind != "link":
            handle.close()
            raise LoaderError(f"{path}: pinned object is a {kind}, not a link", errno.EINVAL)
        return cls(handle)

    def _type_name(self) -> str:
        from pyebpf.loader.info import link_info  # (here: making a link need not import the info decoders)

        try:
            return link_info(self._handle.fd).type_name.lower()
        except LoaderError:
            return "link"

    # -- state -----------------------------------------------------------------------------------------------------
    @property
    def is_bpf_link(self) -> bool:
        return self._handle is not None

    @property
    def fd(self) -> int:
        """The bpf_link fd (LoaderError if this hook is not a bpf_link or is closed)."""
        if self._handle is None:
            raise LoaderError(f"{self!r} is not a BPF link (attached through {self.kind}'s older interface)",
                              errno.EOPNOTSUPP)
        return self._handle.fd

    @property
    def link_fd(self) -> int | None:
        """The bpf_link fd, or None for hooks that are not bpf_links."""
        if self._handle is None or self._handle.closed:
            return None
        return self._handle.fd

    @property
    def attached(self) -> bool:
        return not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    def info(self) -> "LinkInfo":
        """BPF_OBJ_GET_INFO_BY_FD on the link: id, type, prog_id and the per-type detail."""
        from pyebpf.loader.info import link_info

        return link_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def pin(self, path: str) -> None:
        """Pin the link in bpffs: the attachment then outlives this process until the pin is removed."""
        from pyebpf.loader.pin import pin_fd

        pin_fd(self.fd, path)
        self.pinned = path

    def unpin(self) -> None:
        if self.pinned is None:
            return
        path, self.pinned = self.pinned, None
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise LoaderError(f"unpinning link {path}", e.errno) from None

    # -- release ---------------------------------------------------------------------------------------------------
    def detach(self) -> None:
        """Remove the attachment from the kernel (for every holder), unpin what we pinned, release our fds."""
        if self._closed:
            return
        handle = self._handle
        if handle is not None and not handle.closed:
            try:
                sc.link_detach(handle.fd)
            except LoaderError as e:
                if e.errno not in _NO_LINK_DETACH:
                    raise
        self.unpin()
        self._release()

    def close(self) -> None:
        """Release what this process holds: a bpf_link's fd (a pinned link stays), other hooks are undone."""
        self._release()

    def _release(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            steps, self._undo = self._undo, []
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
        first: BaseException | None = None
        if self._handle is not None:
            self._handle.close()
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

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("pinned " + self.pinned if self.pinned else "attached")
        how = f"fd={self._handle._fd}" if self._handle is not None and not self._handle.closed else "no link fd"
        return f"<Link {self.kind} {self.target} {how} {state}>"


# ---- lifetime: the registry, the exit hook, SIGTERM ----------------------------------------------------------------

def live_links() -> list[Link]:
    """Links made by this process's attach functions and not yet released (oldest first)."""
    with _LIVE_LOCK:
        return [link for link in _LIVE.values() if link._owner_pid == os.getpid()]


def close_all() -> None:
    """Close every link this process attached, newest first (what the exit hook runs)."""
    for link in reversed(live_links()):
        try:
            link.close()
        except Exception:  # noqa: BLE001 - at exit, best effort for every link
            pass


_exit_hook_registered = False
_previous_sigterm: Any = None
_sigterm_pid = 0


def _install_lifetime_hooks() -> None:
    """At the first attachment: the atexit hook (registered after the first program load's fd finalizers, so it
    runs before them) and the SIGTERM handler."""
    global _exit_hook_registered
    if not _exit_hook_registered:
        _exit_hook_registered = True
        atexit.register(close_all)
    install_sigterm_handler()


def install_sigterm_handler() -> bool:
    """Make SIGTERM unwind like SIGINT does unless the process chose otherwise; True when ours is in place.

    Only the main thread may set handlers; from another thread this is retried at the next attachment. SIG_IGN and
    handlers installed from C (getsignal() None) are left alone; a Python handler already installed is kept and
    called from ours (chained), so it still decides what SIGTERM does.
    """
    global _previous_sigterm, _sigterm_pid
    if threading.current_thread() is not threading.main_thread():
        return False
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return True
    if current is None or current == signal.SIG_IGN:
        return False
    _previous_sigterm = current
    _sigterm_pid = os.getpid()
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # embedded interpreters without signal support
        return False
    return True


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    if os.getpid() != _sigterm_pid or not live_links():
        # A forked child (pyroute2, multiprocessing) inherits this handler but none of our links: it must die by
        # SIGTERM as it would have, not unwind a copy of its parent's stack.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    # default disposition: unwind like KeyboardInterrupt, so finally/with blocks and the exit hook release links
    raise SystemExit(128 + signum)


#: The older name of Link (BPF links opened by id or from a pin).
KernelLink = Link

__all__ = ["Link", "KernelLink", "live_links", "close_all", "install_sigterm_handler"]
