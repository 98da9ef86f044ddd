"""Which kernel is running: its release string and the KERNEL_VERSION(a, b, c) code BPF programs compare against
(LINUX_KERNEL_VERSION externs, the kern_version of old kprobe loads)."""
from __future__ import annotations

import os
import re


def kernel_release() -> str:
    """`uname -r` of the running kernel ('6.18.44-generic')."""
    return os.uname().release


def kernel_version_code(release: str | None = None) -> int:
    """KERNEL_VERSION(a, b, c) of `release` (default: the running kernel's), c clamped to 255 as the kernel does."""
    release = release if release is not None else kernel_release()
    nums = [int(n) for n in re.findall(r"\d+", release)[:3]] + [0, 0, 0]
    return (nums[0] << 16) + (nums[1] << 8) + min(nums[2], 255)


def kernel_major_minor(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of `release` (default: the running kernel's): what feature tables keyed by release compare."""
    code = kernel_version_code(release)
    return code >> 16, (code >> 8) & 0xFF


__all__ = ["kernel_release", "kernel_version_code", "kernel_major_minor"]
