"""Values a bpftrace script fixes when it is compiled, read from the machine: `cgroupid(path)` (the cgroup v2 id
the kernel's bpf_get_current_cgroup_id() returns) and `uaddr("sym")` (a data symbol's address in the probed ELF
file). Each error is bpftrace 0.17's message for it."""
from __future__ import annotations

import ctypes
import errno
import os

AT_FDCWD = -100


class _FileHandle(ctypes.Structure):
    # struct file_handle with room for 8 bytes: a cgroup2 (kernfs) handle is exactly the 64-bit cgroup id; other
    # file systems' longer handles fail with EOVERFLOW, as bpftrace's (same size) buffer does
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int), ("f_handle", ctypes.c_uint64)]


def cgroup_id(path: str) -> int:
    """The id of the cgroup v2 directory `path`, as bpftrace finds it: name_to_handle_at(2) (OSError on failure)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fh = _FileHandle(handle_bytes=8)
    mount_id = ctypes.c_int()
    rc = libc.name_to_handle_at(AT_FDCWD, os.fsencode(path), ctypes.byref(fh), ctypes.byref(mount_id), 0)
    if rc != 0:
        err = ctypes.get_errno() or errno.EINVAL
        raise OSError(err, os.strerror(err))
    return fh.f_handle


def user_symbol(binary: str, name: str) -> tuple[int, int] | None:
    """(address, size) of data symbol `name` in `binary` (the ELF st_value: bpftrace 0.17 does not add a PIE's
    load address either), or None. The symbols come from the loader's ELF symbol reader (the one uprobes use)."""
    from pyebpf.errors import LoaderError
    from pyebpf.loader.attach.elfsym import data_symbols

    try:
        found = data_symbols(binary).get(name)
    except LoaderError:
        return None
    return found if found is not None and found[0] else None


__all__ = ["cgroup_id", "user_symbol"]
