"""Map contents as text, the way bpftrace prints them (so someone who knows bpftrace reads ours at a glance)."""
from __future__ import annotations

BAR_WIDTH = 52
_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def _size(v: int) -> str:
    """1024 -> '1K' as bpftrace labels histogram bounds."""
    i = 0
    while v >= 1024 and v % 1024 == 0 and i < len(_SUFFIXES) - 1:
        v //= 1024
        i += 1
    return f"{v}{_SUFFIXES[i]}"


def log2_hist_lines(buckets: dict[int, int]) -> list[str]:
    """`[lo, hi)  count |@@@@   |` lines for buckets k (values in [2**k, 2**(k+1)); bucket 0 also holds 0), from
    the lowest to the highest non-empty bucket, bars scaled to the largest count."""
    if not buckets:
        return []
    lo, hi = min(buckets), max(buckets)
    top = max(buckets.values()) or 1
    out = []
    for k in range(lo, hi + 1):
        n = buckets.get(k, 0)
        label = "[0, 2)" if k == 0 else f"[{_size(1 << k)}, {_size(1 << (k + 1))})"
        bar = "@" * (n * BAR_WIDTH // top)
        out.append(f"{label:<20}{n:>8} |{bar:<{BAR_WIDTH}}|")
    return out


__all__ = ["log2_hist_lines"]
