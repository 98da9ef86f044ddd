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


def lhist_label(b: int, lo: int, hi: int, step: int) -> str:
    """bpftrace's lhist() row labels: b < 0 below lo, b from 0 the step-wide buckets, then [hi, ...)."""
    if b < 0:
        return f"(..., {size_label(lo)})"
    start = lo + b * step
    if start >= hi:
        return f"[{size_label(hi)}, ...)"
    return f"[{size_label(start)}, {size_label(start + step)})"


def linear_hist_lines(buckets: dict[int, int], lo: int, hi: int, step: int) -> list[str]:
    """Rows of a LinearHistogram (bucket 0 below lo, 1 + (v - lo) // step inside, the last from hi on), from the
    lowest to the highest non-empty bucket as bpftrace prints an lhist."""
    full = {b: n for b, n in buckets.items() if n}
    if not full:
        return []
    top = max(full.values())
    return [bar_row(lhist_label(b - 1, lo, hi, step), full.get(b, 0), top) for b in range(min(full), max(full) + 1)]


def key_label(key: object) -> str:
    """A map key as bpftrace prints it between brackets: strings without their NUL padding, tuples joined."""
    if isinstance(key, bytes):
        return key.split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(key, tuple):
        return ", ".join(key_label(k) for k in key)
    return str(key)


__all__ = ["log2_hist_lines", "linear_hist_lines", "lhist_label", "key_label", "bar_row", "size_label", "BAR_WIDTH"]
