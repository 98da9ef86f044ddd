"""Map contents as text, the way bpftrace prints them (so someone who knows bpftrace reads ours at a glance).
One implementation of the bar rows: `pyebpf probe`'s Log2Histogram and `pyebpf trace`'s hist()/lhist() use it."""
from __future__ import annotations

BAR_WIDTH = 52
LABEL_WIDTH = 16  # bpftrace: setw(16) label, setw(8) count, " |", bar, "|"
COUNT_WIDTH = 8
_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def size_label(v: int) -> str:
    """1024 -> '1K' as bpftrace labels histogram bounds."""
    i = 0
    while v >= 1024 and v % 1024 == 0 and i < len(_SUFFIXES) - 1:
        v //= 1024
        i += 1
    return f"{v}{_SUFFIXES[i]}"


_size = size_label


def bar_row(label: str, n: int, top: int) -> str:
    """One histogram row: label, count and a bar scaled to the largest count `top`."""
    bar = "@" * (n * BAR_WIDTH // (top or 1))
    return f"{label:<{LABEL_WIDTH}}{n:>{COUNT_WIDTH}} |{bar:<{BAR_WIDTH}}|"


def log2_hist_lines(buckets: dict[int, int]) -> list[str]:
    """`[lo, hi)  count |@@@@   |` lines for buckets k (values in [2**k, 2**(k+1)); bucket 0 also holds 0), from
    the lowest to the highest non-empty bucket, bars scaled to the largest count."""
    if not buckets:
        return []
    lo, hi = min(buckets), max(buckets)
    top = max(buckets.values()) or 1
    out = []
    for k in range(lo, hi + 1):
        label = "[0, 2)" if k == 0 else f"[{_size(1 << k)}, {_size(1 << (k + 1))})"
        out.append(bar_row(label, buckets.get(k, 0), top))
    return out


__all__ = ["log2_hist_lines", "bar_row", "size_label", "BAR_WIDTH"]
