"""Mounted filesystems (/proc/mounts) and mount(2): where tracefs, cgroup v2 and bpffs live, and mounting them in a
bare container that has none. One reader of /proc/mounts and one mount() wrapper for the package."""
from __future__ import annotations

import ctypes
import os
from typing import NamedTuple

from pyebpf.errors import LoaderError

PROC_MOUNTS = "/proc/mounts"


class Mount(NamedTuple):
    source: str
    target: str
    fstype: str


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash in paths as octal escapes (\\040 ...)."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mounts(text: str) -> tuple[Mount, ...]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append(Mount(_unescape(parts[0]), _unescape(parts[1]), parts[2]))
    return tuple(out)


def mounts() -> tuple[Mount, ...]:
    """The mounts now (read each time: they change); () when /proc/mounts cannot be read."""
    try:
        with open(PROC_MOUNTS) as f:
            return parse_mounts(f.read())
    except OSError:
        return ()


def mount_point(fstype: str) -> str | None:
    """Where the first filesystem of type `fstype` is mounted ('tracefs', 'cgroup2', 'bpf'), or None."""
    return next((m.target for m in mounts() if m.fstype == fstype), None)


def mount_filesystem(source: str, target: str, fstype: str) -> None:
    """mount(2) through libc (no mount(8) needed in a bare container); LoaderError with the errno on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if libc.mount(source.encode(), os.fsencode(target), fstype.encode(), 0, None) != 0:
        raise LoaderError(f"mount -t {fstype} {source} {target}", ctypes.get_errno())


__all__ = ["Mount", "PROC_MOUNTS", "parse_mounts", "mounts", "mount_point", "mount_filesystem"]
