"""Kernel symbols from /proc/kallsyms: address <-> name, as bpftool resolves helper calls in a JIT dump.

The kernel's own symbols are fixed after boot and read once; BPF programs' symbols (`[bpf]`) come and go with
programs, so `kallsyms(bpf_only=True)` reads them fresh each time. None where kptr_restrict hides the addresses.
"""
from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Iterable

KALLSYMS_PATH = "/proc/kallsyms"


@dataclass(frozen=True)
class Kallsyms:
    """Sorted addresses with their names, and name -> address."""

    addrs: tuple[int, ...]
    names: tuple[str, ...]
    by_name: dict[str, int]
    modules: tuple[str, ...] = ()  # per symbol: "" for the kernel image, else the module (or "bpf")

    def symbol_at(self, addr: int) -> str | None:
        """The symbol starting exactly at `addr` (None if none does)."""
        i = bisect.bisect_left(self.addrs, addr)
        if i < len(self.addrs) and self.addrs[i] == addr:
            return self.names[i]
        return None

    def address(self, name: str) -> int | None:
        return self.by_name.get(name)

    def containing(self, addr: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of the last symbol at or below `addr`, as `func+0x1c` in a stack; None below
        the first symbol. kallsyms has no sizes, so an address past a symbol's end still resolves to it (as in
        bpftrace and perf)."""
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return None
        return self.names[i], addr - self.addrs[i], self.modules[i] if self.modules else ""


def parse_kallsyms(lines: Iterable[str], bpf_only: bool = False) -> Kallsyms | None:
    """Symbols from kallsyms text (`<addr> <type> <name> [module]` lines): BPF programs' symbols only, or all but
    them; None when every address is zero (kptr_restrict)."""
    rows = []
    for line in lines:
        if line.rstrip().endswith("[bpf]") != bpf_only:
            continue
        parts = line.split()
        if len(parts) >= 3:
            try:
                addr = int(parts[0], 16)
            except ValueError:
                continue
            if addr:
                module = parts[3].strip("[]") if len(parts) >= 4 else ""
                rows.append((addr, parts[2], module))
    if not rows:
        return None
    rows.sort()
    return Kallsyms(tuple(r[0] for r in rows), tuple(r[1] for r in rows), {r[1]: r[0] for r in rows},
                    tuple(r[2] for r in rows))


def _read(bpf_only: bool) -> Kallsyms | None:
    try:
        with open(KALLSYMS_PATH) as f:
            return parse_kallsyms(f, bpf_only)
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _kernel_symbols() -> Kallsyms | None:
    return _read(bpf_only=False)


def kallsyms(bpf_only: bool = False) -> Kallsyms | None:
    """The kernel's symbols (read once), or with `bpf_only` the BPF programs' symbols now (read each time)."""
    return _read(True) if bpf_only else _kernel_symbols()


__all__ = ["KALLSYMS_PATH", "Kallsyms", "kallsyms", "parse_kallsyms"]
