"""kernel.unprivileged_bpf_disabled is machine-wide: every test that reads or switches it holds one lock.

The verifier case oracle switches it to 0 for a moment (and restores it); the explain proof table's unprivileged
rows read it and then load without capabilities. Without a common lock, two suites running at once (engineers on
one machine) see each other's temporary 0 and fail at random.
"""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

UNPRIV_SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled"
SYSCTL_LOCK = "/tmp/pyebpf-unprivileged-bpf.lock"


@contextmanager
def sysctl_lock() -> Iterator[None]:
    """Hold the machine-wide lock on the sysctl (flock: released when the process dies, too)."""
    with open(SYSCTL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
