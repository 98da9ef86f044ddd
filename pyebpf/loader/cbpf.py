"""Loading classic BPF for real: socket filters through SO_ATTACH_FILTER and seccomp filters through seccomp(2).

The kernel checks the program itself (bpf_check_classic, seccomp_check_filter) and answers EINVAL; these
functions hand it over as given and turn the kernel's errno into LoaderError, so what pyebpf.cbpf.check says and
what the kernel says can be compared. Nothing here needs closing: a socket filter lives as long as its socket, a
seccomp filter as long as the process (it cannot be removed).
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import socket
from typing import Any

from pyebpf.abi.cbpf import (
    NR_SECCOMP, PR_SET_NO_NEW_PRIVS, SECCOMP_SET_MODE_FILTER, SO_ATTACH_FILTER, SO_DETACH_FILTER, SO_LOCK_FILTER,
    SOL_SOCKET, SockFprog,
)
from pyebpf.cbpf.insn import ClassicProgram
from pyebpf.errors import LoaderError

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _fprog(prog: ClassicProgram | bytes) -> tuple[SockFprog, ctypes.Array]:
    """struct sock_fprog and the buffer it points at (keep both alive for the call)."""
    data = prog.to_bytes() if isinstance(prog, ClassicProgram) else bytes(prog)
    count = len(data) // 8
    if len(data) % 8 or count > 0xFFFF:
        raise LoaderError(f"a classic program is a whole number of 8-byte instructions, at most 65535 "
                          f"(got {len(data)} bytes)", _errno.EINVAL)
    buf = ctypes.create_string_buffer(data, max(len(data), 1))
    return SockFprog(count, ctypes.addressof(buf)), buf


def _fd(sock: socket.socket | int) -> int:
    return sock if isinstance(sock, int) else sock.fileno()


def _setsockopt(sock: socket.socket | int, option: int, value: Any, size: int, what: str) -> None:
    if _libc.setsockopt(_fd(sock), SOL_SOCKET, option, value, size) != 0:
        err = ctypes.get_errno()
        raise LoaderError(what, err)


def attach_socket_filter(sock: socket.socket | int, prog: ClassicProgram | bytes) -> None:
    """setsockopt(SO_ATTACH_FILTER): the socket now receives only packets `prog` keeps (r != 0, cut to r bytes).
    Replaces a filter already attached; LoaderError with the kernel's errno (EINVAL: the checker refused it,
    EPERM: the filter is locked, ENOMEM: over net.core.optmem_max)."""
    fprog, buf = _fprog(prog)
    _setsockopt(sock, SO_ATTACH_FILTER, ctypes.byref(fprog), ctypes.sizeof(fprog), "SO_ATTACH_FILTER")
    del buf


def detach_socket_filter(sock: socket.socket | int) -> None:
    """setsockopt(SO_DETACH_FILTER) (ENOENT if none is attached)."""
    zero = ctypes.c_int(0)
    _setsockopt(sock, SO_DETACH_FILTER, ctypes.byref(zero), ctypes.sizeof(zero), "SO_DETACH_FILTER")


def lock_socket_filter(sock: socket.socket | int) -> None:
    """setsockopt(SO_LOCK_FILTER, 1): the filter can no longer be replaced or removed."""
    one = ctypes.c_int(1)
    _setsockopt(sock, SO_LOCK_FILTER, ctypes.byref(one), ctypes.sizeof(one), "SO_LOCK_FILTER")


def install_seccomp(prog: ClassicProgram | bytes, flags: int = 0, no_new_privs: bool = True) -> int:
    """Install a seccomp filter on the calling thread (and its future children): seccomp(SECCOMP_SET_MODE_FILTER).

    Irreversible for this process: call it in a child (os.fork) unless that is what you want. `no_new_privs`
    first sets PR_SET_NO_NEW_PRIVS, which an unprivileged caller needs. Returns the syscall's result (a listener
    fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0)."""
    nr = NR_SECCOMP.get(os.uname().machine)
    if nr is None:
        raise LoaderError(f"seccomp(2) number unknown for {os.uname().machine}", _errno.ENOSYS)
    if no_new_privs and _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LoaderError("prctl(PR_SET_NO_NEW_PRIVS)", ctypes.get_errno())
    fprog, buf = _fprog(prog)
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_long(SECCOMP_SET_MODE_FILTER), ctypes.c_long(flags),
                        ctypes.byref(fprog))
    del buf
    if ret < 0:
        raise LoaderError("seccomp(SECCOMP_SET_MODE_FILTER)", ctypes.get_errno())
    return int(ret)


__all__ = ["attach_socket_filter", "detach_socket_filter", "lock_socket_filter", "install_seccomp"]
