"""The CPUs of the running system, as the kernel's cpumasks list them (/sys/devices/system/cpu/{possible,online}).

One representation: a tuple of CPU numbers. Everything else is derived from it here — `num_possible_cpus()`
(how many entries a per-CPU map value holds, the kernel's num_possible_cpus()) and `nr_cpu_ids()` (the highest
possible CPU + 1, what bounds bpf_get_smp_processor_id()) — so no module reads the file or counts on its own.
"""
from __future__ import annotations

import functools
import os

POSSIBLE_CPUS_PATH = "/sys/devices/system/cpu/possible"
ONLINE_CPUS_PATH = "/sys/devices/system/cpu/online"
_MAX_CPUS = 1 << 16  # bounds a hostile cpulist ('0-4294967295')


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """'0-3,5' -> (0, 1, 2, 3, 5): the kernel's cpulist format; ValueError for text that is not one."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last < _MAX_CPUS:
            raise ValueError(f"bad cpu range {part!r}")
        cpus.extend(range(first, last + 1))
    return tuple(sorted(set(cpus)))


def _read_cpus(path: str) -> tuple[int, ...]:
    try:
        with open(path) as f:
            cpus = parse_cpu_list(f.read(4096))
    except (OSError, ValueError):
        cpus = ()
    return cpus or tuple(range(os.cpu_count() or 1))


@functools.lru_cache(maxsize=None)
def possible_cpus() -> tuple[int, ...]:
    """The possible CPUs (fixed at boot; per-CPU maps hold one value for each)."""
    return _read_cpus(POSSIBLE_CPUS_PATH)


def online_cpus() -> tuple[int, ...]:
    """The CPUs online now (read each time: CPUs go on- and offline)."""
    return _read_cpus(ONLINE_CPUS_PATH)


def num_possible_cpus() -> int:
    """How many possible CPUs: the number of values in a per-CPU map element."""
    return len(possible_cpus())


def nr_cpu_ids() -> int:
    """Highest possible CPU + 1 (the kernel's nr_cpu_ids): the bound of bpf_get_smp_processor_id()."""
    return possible_cpus()[-1] + 1


__all__ = ["POSSIBLE_CPUS_PATH", "ONLINE_CPUS_PATH", "parse_cpu_list", "possible_cpus", "online_cpus",
           "num_possible_cpus", "nr_cpu_ids"]
