"""Load programs into the kernel as an unprivileged process would, to check the proof table's unprivileged rows.

The verifier's unprivileged rules hang on three capabilities: without CAP_BPF no loops, no bpf-to-bpf calls
(env->bpf_capable); without CAP_PERFMON no pointer leaks or comparisons, no uninitialised stack reads, Spectre
masking (allow_ptr_leaks, allow_uninit_stack, bypass_spec_v1/v4); CAP_SYS_ADMIN implies both. A forked child drops
what the row says and loads there, so nothing global changes:
- `keep_bpf=True`: the child keeps CAP_BPF only (capset). kernel.unprivileged_bpf_disabled lets a CAP_BPF holder
  load, so this works on any kernel, and checks every rule that hangs on CAP_PERFMON.
- `keep_bpf=False`: the child drops every capability (it stays uid 0, so it can still read the files Python
  imports lazily; the kernel's bpf() checks capabilities, never the uid). The kernel lets it call bpf() only when
  kernel.unprivileged_bpf_disabled is 0; `allow_unprivileged_bpf()` sets that in a throw-away guest kernel
  (scripts/kernel-matrix.sh exports KERNEL_VM there) and never on a shared machine.
"""
from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Any, Callable

from helpers.unpriv_sysctl import UNPRIV_SYSCTL

SYSCTL = Path(UNPRIV_SYSCTL)
CAP_BPF = 39  # linux/capability.h
_CAP_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _keep_only(cap: int | None) -> None:
    """capset(2): this process keeps `cap` (effective and permitted) and nothing else (None: nothing at all)."""
    libc = ctypes.CDLL(None, use_errno=True)
    data = (_Data * 2)()
    if cap is not None:
        data[cap // 32].effective = data[cap // 32].permitted = 1 << (cap % 32)
    if libc.capset(ctypes.byref(_Header(_CAP_VERSION_3, 0)), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def unprivileged_bpf_disabled() -> int | None:
    try:
        return int(SYSCTL.read_text())
    except OSError:
        return None


def allow_unprivileged_bpf() -> str | None:
    """Make unprivileged bpf() possible where that is ours to change: only inside a guest of the kernel matrix
    (KERNEL_VM set), and only from 2 (the admin may change it) to 0. None when allowed, else the reason not."""
    value = unprivileged_bpf_disabled()
    if value == 0:
        return None
    if value is None:
        return f"{SYSCTL} is not readable"
    if not os.environ.get("KERNEL_VM"):
        return (f"kernel.unprivileged_bpf_disabled={value} on this machine (a shared host: not changed here; "
                f"scripts/kernel-matrix.sh runs these rows in a guest kernel that allows it)")
    if value == 1:
        return "kernel.unprivileged_bpf_disabled=1 locks unprivileged bpf() off until reboot"
    SYSCTL.write_text("0\n")
    return None


def in_child(fn: Callable[[], Any], keep_bpf: bool) -> Any:
    """Run `fn` in a forked child that dropped its privileges (see the module docstring) and return what it
    returned (JSON-able), or raise the RuntimeError the child reported."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(rfd)
        try:
            _keep_only(CAP_BPF if keep_bpf else None)
            out = {"ok": fn()}
        except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
            out = {"error": f"{type(e).__name__}: {e}"}
        with os.fdopen(wfd, "w") as f:
            json.dump(out, f)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        raise RuntimeError(f"the unprivileged child died (wait status {status})")
    out = json.loads(text)
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["ok"]


def kernel_verdict(load: Callable[[], None]) -> dict[str, Any]:
    """What the kernel said to `load()`: accepted, or its verifier's message, instruction, errno and log."""
    from pyebpf.errors import LoaderError
    from pyebpf.loader import KernelVerifierError

    try:
        load()
    except KernelVerifierError as e:
        return {"accepted": False, "message": e.message, "insn": e.insn, "errno": e.errno, "log": e.log or ""}
    except LoaderError as e:  # refused before the verifier ran (EPERM: no right to bpf() at all)
        return {"accepted": False, "message": str(e), "insn": None, "errno": getattr(e, "errno", None), "log": ""}
    return {"accepted": True}


__all__ = ["allow_unprivileged_bpf", "in_child", "kernel_verdict", "unprivileged_bpf_disabled"]
