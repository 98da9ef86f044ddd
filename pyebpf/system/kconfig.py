"""The running kernel's build configuration (CONFIG_* = value), from /proc/config.gz or /boot/config-<release>:
what `.kconfig` externs of BPF objects (CONFIG_HZ, LINUX_KERNEL_VERSION's neighbours) are filled from."""
from __future__ import annotations

import functools
import gzip
import re

from pyebpf.system.kernel import kernel_release

KCONFIG_PATHS = ("/proc/config.gz", "/boot/config-{release}")
_CONFIG_LINE = re.compile(r"^(CONFIG_\w+)=(.*)$")
_MAX_BYTES = 16 << 20  # a kernel config is a few hundred KiB


def parse_kernel_config(text: str) -> dict[str, str]:
    """`CONFIG_X=value` lines -> {name: value as written}; comments and `# CONFIG_X is not set` are left out."""
    out = {}
    for line in text.splitlines():
        m = _CONFIG_LINE.match(line.strip())
        if m:
            out[m[1]] = m[2]
    return out


def _read(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:  # type: ignore[operator]
        return f.read(_MAX_BYTES)


def kernel_config(path: str | None = None) -> dict[str, str]:
    """CONFIG_* of the running kernel (or of the file at `path`); {} when there is none to read."""
    if path is not None:
        try:
            return parse_kernel_config(_read(path))
        except (OSError, EOFError, ValueError):
            return {}
    return dict(_running_config())


@functools.lru_cache(maxsize=1)
def _running_config() -> tuple[tuple[str, str], ...]:
    for p in KCONFIG_PATHS:
        try:
            return tuple(parse_kernel_config(_read(p.format(release=kernel_release()))).items())
        except (OSError, EOFError, ValueError):
            continue
    return ()


__all__ = ["KCONFIG_PATHS", "kernel_config", "parse_kernel_config"]
