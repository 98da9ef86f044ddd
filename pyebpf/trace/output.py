"""Map contents and printf records printed exactly as bpftrace 0.17 prints them (text and `-f json`)."""
from __future__ import annotations

import re
from typing import Any

from pyebpf.probe.output import BAR_WIDTH, bar_row, lhist_label, size_label

_CONV = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+))?(?P<len>hh|h|ll|l|z|j|t)?"
                   r"(?P<conv>[diouxXcspr%])")
_BITS = {None: 32, "hh": 8, "h": 16, "l": 64, "ll": 64, "z": 64, "j": 64, "t": 64}


def printf_specs(fmt: str) -> list[str]:
    """The conversion of each argument-taking directive of a printf format ('d', 's', ...)."""
    return [m.group("conv") for m in _CONV.finditer(fmt) if m.group("conv") != "%"]


def format_printf(fmt: str, args: list[Any]) -> str:
    """C printf as bpftrace calls it: integers are read at the directive's width (%d: 32 bits, %ld: 64), `%%` is
    left as bpftrace 0.17 leaves it."""
    out, pos, i = [], 0, 0
    for m in _CONV.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        conv = m.group("conv")
        if conv == "%":
            out.append("%%")
            continue
        value = args[i] if i < len(args) else 0
        i += 1
        spec = "%" + (m.group("flags") or "") + (m.group("width") or "") + (
            "." + m.group("prec") if m.group("prec") else "")
        if conv in "sr":
            text = value.text(8) if isinstance(value, Stack) else str(value)
            out.append((spec + "s") % text)
            continue
        v = int(value) if not isinstance(value, str) else 0
        bits = _BITS[m.group("len")]
        v &= (1 << bits) - 1
        if conv in "di" and v >= 1 << (bits - 1):
            v -= 1 << bits
        if conv == "c":
            out.append((spec + "s") % chr(v & 0xFF))
        elif conv == "p":
            out.append((spec + "s") % hex(v))
        else:
            out.append((spec + ("d" if conv in "diu" else conv)) % v)
    out.append(fmt[pos:])
    return "".join(out)


class Stack:
    """A kstack/ustack as bpftrace prints it: one frame a line, indented 4 in map keys and 8 in printf."""

    def __init__(self, frames: list[str]):
        self.frames = frames

    def text(self, indent: int = 4) -> str:
        return "\n" + "".join(" " * indent + f + "\n" for f in self.frames)

    def __str__(self) -> str:
        return self.text(4)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stack) and other.frames == self.frames

    def __lt__(self, other: "Stack") -> bool:
        return self.frames < other.frames

    def __hash__(self) -> int:
        return hash(tuple(self.frames))


class Tup(tuple):
    """A tuple value: `(1, abc)`."""

    def __str__(self) -> str:
        return "(" + ", ".join(str(x) for x in self) + ")"


class Hex(int):
    """A pointer in a map key: printed 0x..., as bpftrace prints pointer-typed keys (values print as integers)."""

    def __str__(self) -> str:
        return hex(self)


class Buf(bytes):
    """buf(): printable bytes as they are, others as \\xNN."""

    def __str__(self) -> str:
        return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in self)


def jsonable(v: Any) -> Any:
    if isinstance(v, Tup):
        return [jsonable(x) for x in v]
    if isinstance(v, int):
        return v
    return str(v)


def key_text(key: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(k) for k in key) + "]" if key else ""


def hist_label(b: int) -> str:
    """bpftrace's hist() buckets: -1 negative, 0 and 1 exact, b >= 2 holds [2**(b-1), 2**b)."""
    if b < 0:
        return "(..., 0)"
    if b < 2:
        return f"[{b}]"
    return f"[{size_label(1 << (b - 1))}, {size_label(1 << b)})"


def hist_rows(buckets: dict[int, int], label) -> list[str]:
    """Rows from the lowest to the highest non-empty bucket (the empty ones between shown with 0)."""
    full = {b: n for b, n in buckets.items() if n}
    if not full:
        return []
    top = max(full.values())
    return [bar_row(label(b), full.get(b, 0), top) for b in range(min(full), max(full) + 1)]


class MapPrinter:
    """Prints one map of a script: `kind` is count/sum/min/max/avg/stats/hist/lhist/value."""

    def __init__(self, name: str, kind: str, lhist: tuple[int, int, int] | None = None, top: int = 0,
                 div: int = 0):
        self.name = name
        self.kind = kind
        self.lhist = lhist
        self.top = top
        self.div = div

    def ordered(self, entries: dict[tuple[Any, ...], Any]) -> list[tuple[tuple[Any, ...], Any]]:
        """Sorted as bpftrace prints (ascending value, then key); print(@m, top) keeps the last `top`."""
        if self.kind in ("hist", "lhist"):
            rows = sorted(entries.items(), key=lambda kv: (sum(kv[1].values()), _sort_key(kv[0])))
        else:
            rows = sorted(entries.items(), key=lambda kv: (self.sort_value(kv[1]), _sort_key(kv[0])))
        return rows[-self.top:] if self.top else rows

    def scaled(self, value: Any) -> Any:
        return value // self.div if self.div and isinstance(value, int) else value

    def text(self, entries: dict[tuple[Any, ...], Any]) -> str:
        """`entries`: key tuple -> value (int; (total, count) for avg/stats; {bucket: count} for hist/lhist)."""
        out: list[str] = []
        if self.kind in ("hist", "lhist"):
            label = hist_label if self.kind == "hist" else (lambda b: lhist_label(b, *self.lhist))
            for key, buckets in self.ordered(entries):
                out.append(f"{self.name}{key_text(key)}: ")
                out.extend(hist_rows(buckets, label))
                out.append("")
            return "\n".join(out) + ("\n" if out else "\n")
        for key, value in self.ordered(entries):
            out.append(f"{self.name}{key_text(key)}: {self.value_text(value)}")
        text = "\n".join(out) + ("\n" if out else "")
        if self.kind in ("avg", "stats"):  # bpftrace ends these with a blank line, also when empty
            text += "\n" if out else "\n\n"
        elif not out:
            text += "\n"
        return text

    def sort_value(self, value: Any) -> Any:
        if self.kind == "avg":
            return _avg(*value)
        if self.kind == "stats":
            return _avg(*value)
        return (0, value) if isinstance(value, int) else (1, str(value))

    def value_text(self, value: Any) -> str:
        if self.kind == "avg":
            return str(_avg(*value))
        if self.kind == "stats":
            total, count = value
            return f"count {count}, average {_avg(total, count)}, total {total}"
        return str(self.scaled(value))

    def json(self, entries: dict[tuple[Any, ...], Any]) -> str:
        """One line of bpftrace's -f json: {"type": "map"|"hist"|"stats", "data": {"@name": ...}}."""
        import json

        def jkey(key: tuple[Any, ...]) -> str:
            return ",".join(str(k) for k in key)

        entries = dict(self.ordered(entries))

        if self.kind in ("hist", "lhist"):
            def rows(buckets: dict[int, int]) -> list[dict[str, int]]:
                res = []
                full = {b: n for b, n in buckets.items() if n}
                for b in range(min(full), max(full) + 1) if full else ():
                    lo, hi = self._bounds(b)
                    row: dict[str, Any] = {}
                    if lo is not None:
                        row["min"] = lo
                    if hi is not None:
                        row["max"] = hi
                    row["count"] = full.get(b, 0)
                    res.append(row)
                return res

            if list(entries) == [()]:
                data: Any = rows(entries[()])
            else:
                data = {jkey(k): rows(v) for k, v in entries.items()}
            return json.dumps({"type": "hist", "data": {self.name: data}})
        if self.kind == "stats":
            def one(v: Any) -> Any:
                return {"count": v[1], "average": _avg(*v), "total": v[0]}
        elif self.kind == "avg":
            def one(v: Any) -> Any:
                return _avg(*v)
        else:
            def one(v: Any) -> Any:
                return jsonable(self.scaled(v))
        kind = "stats" if self.kind in ("stats", "avg") else "map"
        if list(entries) == [()]:
            return json.dumps({"type": kind, "data": {self.name: one(entries[()])}})
        return json.dumps({"type": kind, "data": {self.name: {jkey(k): one(v) for k, v in entries.items()}}})

    def _bounds(self, b: int) -> tuple[int | None, int | None]:
        if self.kind == "hist":
            if b < 0:
                return None, -1
            if b < 2:
                return b, b
            return 1 << (b - 1), (1 << b) - 1
        lo, hi, step = self.lhist  # type: ignore[misc]
        if b < 0:
            return None, lo - 1
        start = lo + b * step
        if start >= hi:
            return hi, None
        return start, start + step - 1


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, k) if isinstance(k, int) else (1, str(k)) for k in key)


def _avg(total: int, count: int) -> int:
    if not count:
        return 0
    q = abs(total) // count
    return q if total >= 0 else -q


__all__ = ["format_printf", "printf_specs", "MapPrinter", "hist_label", "lhist_label", "BAR_WIDTH", "Stack", "Tup",
           "Buf", "jsonable"]
