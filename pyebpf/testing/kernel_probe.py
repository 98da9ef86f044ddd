"""Can this process use bpf()? Answered once by loading the smallest program there is.

Kept free of the loader layer on purpose: the pytest plugin must be able to decide to skip before anything else is
imported, and a broken loader must show up as failing tests, not as skipped ones.
"""
from __future__ import annotations

import ctypes
import functools
import os
import platform
import struct

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}
_BPF_PROG_LOAD = 5
_SOCKET_FILTER = 1


@functools.lru_cache(maxsize=None)
def bpf_unavailable_reason() -> str | None:
    """None when bpf(BPF_PROG_LOAD) works here, else a one-line reason."""
    if platform.system() != "Linux":
        return f"bpf() needs Linux, this is {platform.system()}"
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        return f"no bpf() syscall number known for {platform.machine()}"
    libc = ctypes.CDLL(None, use_errno=True)
    insns = ctypes.create_string_buffer(struct.pack("<BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0), 16)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = struct.pack("<IIQQ", _SOCKET_FILTER, 2, ctypes.addressof(insns), ctypes.addressof(lic))
    buf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
    fd = libc.syscall(nr, _BPF_PROG_LOAD, buf, 128)
    if fd < 0:
        err = ctypes.get_errno()
        return f"bpf(BPF_PROG_LOAD) is not permitted here: {os.strerror(err)} (errno {err}); run as root or with CAP_BPF"
    os.close(fd)
    return None


def require_kernel_env() -> bool:
    """True when PYEBPF_REQUIRE_KERNEL=1: kernel tests must run, a skip is a failure (CI sets it)."""
    return os.environ.get("PYEBPF_REQUIRE_KERNEL", "") not in ("", "0")
