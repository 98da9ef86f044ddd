"""Values a bpftrace script fixes when it is compiled, read from the machine: `cgroupid(path)` (the cgroup v2 id
the kernel's bpf_get_current_cgroup_id() returns) and `uaddr("sym")` (a data symbol's address in the probed ELF
file). Each error is bpftrace 0.17's message for it."""
from __future__ import annotations

import ctypes
import errno
import functools
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


@functools.lru_cache(maxsize=16)
def _object_symbols(path: str, mtime_ns: int) -> dict[str, tuple[int, int]]:
    """name -> (st_value, st_size) of the defined OBJECT symbols (local ones too) of .symtab and .dynsym."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    table: dict[str, tuple[int, int]] = {}
    try:
        with open(path, "rb") as f:
            for section in ELFFile(f).iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for sym in section.iter_symbols():
                    if sym["st_info"]["type"] != "STT_OBJECT" or sym["st_shndx"] == "SHN_UNDEF":
                        continue
                    table.setdefault(sym.name.split("@")[0], (sym["st_value"], sym["st_size"]))
    except (ELFError, OSError):
        return {}
    return table


def user_symbol(binary: str, name: str) -> tuple[int, int] | None:
    """(address, size) of data symbol `name` in `binary` (the ELF st_value: bpftrace 0.17 does not add a PIE's
    load address either), or None."""
    try:
        mtime = os.stat(binary).st_mtime_ns
    except OSError:
        return None
    found = _object_symbols(binary, mtime).get(name)
    return found if found is not None and found[0] else None


__all__ = ["cgroup_id", "user_symbol"]
