"""Pinning kernel objects in bpffs and opening them again.

`pin_fd(fd, path)` mounts bpffs at /sys/fs/bpf when nothing is mounted there and creates missing directories under
the mount; `open_pinned(path)` returns a KernelProgram, KernelMap or Link, whichever the pinned object is.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
from typing import Any

from pyebpf.errors import LoaderError
from pyebpf.loader import syscall as sc
from pyebpf.loader.fdguard import FdHandle
from pyebpf.system.mounts import mount_filesystem

BPFFS_ROOT = "/sys/fs/bpf"
BPF_FS_MAGIC = 0xCAFE4A11


def _fs_magic(path: str) -> int | None:
    """f_type of statfs(path) (os.statvfs lacks it), or None when the path does not exist."""

    class _Statfs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 120)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = _Statfs()
    if libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return None
    return buf.f_type & 0xFFFFFFFF


def is_bpffs(path: str) -> bool:
    return _fs_magic(path) == BPF_FS_MAGIC


def ensure_bpffs(root: str = BPFFS_ROOT) -> str:
    """Make sure bpffs is mounted at `root` (mount it if not); returns root."""
    if is_bpffs(root):
        return root
    os.makedirs(root, exist_ok=True)
    mount_filesystem("bpf", root, "bpf")
    return root


def _prepare(path: str) -> None:
    path = os.path.abspath(path)
    if path.startswith(BPFFS_ROOT + "/"):
        ensure_bpffs(BPFFS_ROOT)
    parent = os.path.dirname(path)
    existing = parent
    while not os.path.isdir(existing):  # check before creating anything: never make directories outside bpffs
        existing = os.path.dirname(existing)
    if not is_bpffs(existing):
        raise LoaderError(f"cannot pin at {path}: {parent} is not on a bpf filesystem (mount -t bpf bpf DIR)")
    if existing != parent:
        os.makedirs(parent, exist_ok=True)


def pin_fd(fd: int, path: str) -> None:
    """BPF_OBJ_PIN, creating parent directories inside bpffs."""
    _prepare(path)
    sc.obj_pin(fd, path)


def unpin(path: str) -> None:
    """Remove a pin (the object lives on while something else holds it)."""
    os.unlink(path)


def open_pinned_fd(path: str, flags: int = 0) -> tuple[FdHandle, str]:
    """(fd owner, kind) for a pinned object; kind is 'prog', 'map', 'link' or 'btf'."""
    try:
        handle = FdHandle(sc.obj_get(path, flags))
    except LoaderError as e:
        # The kernel answers EACCES for anything that is not a pinned object; say which case this is.
        if e.errno == _errno.EACCES and os.path.isdir(path):
            raise LoaderError(f"opening pinned {path}: a directory, not a pinned object", e.errno) from None
        if e.errno == _errno.EACCES and not is_bpffs(path):
            raise LoaderError(f"opening pinned {path}: not on a bpf filesystem", e.errno) from None
        raise
    kind = sc.bpf_fd_kind(handle.fd)
    if kind is None:
        handle.close()
        raise LoaderError(f"{path}: not a BPF object")
    return handle, kind


def open_pinned(path: str, flags: int = 0) -> Any:
    """The pinned object at `path` as KernelProgram, KernelMap or Link."""
    handle, kind = open_pinned_fd(path, flags)
    if kind == "prog":
        from pyebpf.loader.program import KernelProgram

        return KernelProgram.from_fd(handle)
    if kind == "map":
        from pyebpf.loader.maps import KernelMap

        return KernelMap.from_fd(handle)
    if kind == "link":
        from pyebpf.loader.link import Link

        return Link(handle)
    handle.close()
    raise LoaderError(f"{path}: pinned {kind} objects cannot be opened here")


__all__ = ["pin_fd", "unpin", "open_pinned", "open_pinned_fd", "ensure_bpffs", "is_bpffs", "BPFFS_ROOT"]
