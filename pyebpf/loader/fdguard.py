"""Owning kernel-object file descriptors: closed exactly once, on close(), on exit of a `with`, or when collected.

`FdHandle` is the owner every loader object (program, map, link, BTF) holds. `FdScope` collects fds made while a
multi-step operation runs (create maps, load BTF, load the program) and closes them all if a later step fails, so
no error path leaks a kernel object.
"""
from __future__ import annotations

import os
import weakref
from typing import Any

from pyebpf.errors import LoaderError


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class FdHandle:
    """An fd that is closed once: explicitly, by a context manager, or by the finalizer at collection/exit."""

    __slots__ = ("_fd", "_finalizer", "__weakref__")

    def __init__(self, fd: int):
        if fd < 0:
            raise ValueError(f"invalid fd {fd}")
        self._fd = fd
        self._finalizer = weakref.finalize(self, _close_quietly, fd)

    @property
    def fd(self) -> int:
        if not self._finalizer.alive:
            raise LoaderError("kernel object already closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        self._finalizer()

    def release(self) -> int:
        """Give up ownership: the caller now closes the fd."""
        self._finalizer.detach()
        return self._fd

    def fileno(self) -> int:
        return self.fd

    def __enter__(self) -> "FdHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FdHandle {self._fd}{' closed' if self.closed else ''}>"


class FdScope:
    """Collects owners (FdHandle or anything with close()) during a multi-step operation.

    with FdScope() as scope:
        m = scope.add(create_map(...))
        p = scope.add(load(...))
        scope.keep()          # success: nothing is closed
    On an exception before keep(), everything added is closed in reverse order.
    """

    def __init__(self) -> None:
        self._owned: list[Any] = []
        self._kept = False

    def add(self, obj: Any) -> Any:
        if isinstance(obj, int):
            obj = FdHandle(obj)
        self._owned.append(obj)
        return obj

    def keep(self) -> None:
        self._kept = True

    def close_all(self) -> None:
        while self._owned:
            obj = self._owned.pop()
            try:
                obj.close()
            except Exception:  # noqa: BLE001 - closing on an error path must not mask the original error
                pass

    def __enter__(self) -> "FdScope":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None or not self._kept:
            self.close_all()
        self._owned.clear()

class Closeable:
    """`with` and garbage-collection plumbing for objects that own kernel resources; subclasses define close().

    close() must be idempotent: it runs on leaving a `with` block and again, harmlessly, when the object is
    collected (a finalizer must never raise, so errors there are dropped)."""

    def close(self) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a finalizer must not raise
            pass


def open_fd_count() -> int:
    """Number of fds this process holds (for leak tests)."""
    return len(os.listdir("/proc/self/fd"))


__all__ = ["FdHandle", "FdScope", "open_fd_count", "Closeable"]
