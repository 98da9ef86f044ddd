"""Folded stacks and a flame graph SVG, written by pyebpf itself (no Perl, no network).

`folded()` prints the `root;caller;leaf count` lines Brendan Gregg's flamegraph.pl, speedscope and inferno read;
`flamegraph_svg()` draws the same data as a self-contained SVG: one rectangle per frame, width proportional to
samples, root at the bottom, a `<title>` per frame (the browser shows it on hover) and no script or external link.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping
from xml.sax.saxutils import escape

FONT_PX = 12
ROW_PX = 16
WIDTH_PX = 1200
MARGIN_PX = 10


def fold(stack: Iterable[str], leaf_first: bool = True) -> str:
    """One stack as a folded key: frames root first, `;`-joined (`;` in a name would split it: made `:`)."""
    frames = [f.replace(";", ":") for f in stack]
    if leaf_first:
        frames.reverse()
    return ";".join(frames)


def folded(stacks: Mapping[tuple[str, ...], int], leaf_first: bool = True) -> str:
    """`root;...;leaf count` lines, sorted by key as flamegraph.pl expects; stacks given leaf first (as
    bpf_get_stackid records them) unless `leaf_first=False`."""
    merged: dict[str, int] = {}
    for stack, count in stacks.items():
        key = fold(stack, leaf_first)
        merged[key] = merged.get(key, 0) + int(count)
    return "".join(f"{k} {v}\n" for k, v in sorted(merged.items()))


def parse_folded(text: str) -> dict[tuple[str, ...], int]:
    """Folded lines back to root-first stacks (the count is the last space-separated field)."""
    out: dict[tuple[str, ...], int] = {}
    for line in text.splitlines():
        key, _, count = line.rstrip().rpartition(" ")
        if key and count.isdigit():
            stack = tuple(key.split(";"))
            out[stack] = out.get(stack, 0) + int(count)
    return out


@dataclass
class _Node:
    name: str
    value: int = 0
    children: dict[str, "_Node"] = field(default_factory=dict)


def _tree(stacks: Mapping[tuple[str, ...], int]) -> _Node:
    root = _Node("all")
    for stack, count in stacks.items():
        root.value += count
        node = root
        for name in stack:
            node = node.children.setdefault(name, _Node(name))
            node.value += count
    return root


def _colour(name: str) -> str:
    """A warm colour fixed per name (the same function is the same colour in every graph)."""
    h = hashlib.blake2s(name.encode(), digest_size=3).digest()
    return f"rgb({205 + h[0] % 50},{80 + h[1] % 130},{h[2] % 55})"


def flamegraph_svg(stacks: Mapping[tuple[str, ...], int], title: str = "Flame Graph", count_name: str = "samples",
                   width: int = WIDTH_PX) -> str:
    """An SVG flame graph of root-first stacks (`parse_folded` output, or `{tuple(reversed(kstack)): n}`)."""
    root = _tree({s: c for s, c in stacks.items() if c > 0})
    depth = _depth(root)
    height = (depth + 1) * ROW_PX + 3 * MARGIN_PX + FONT_PX * 2
    scale = (width - 2 * MARGIN_PX) / root.value if root.value else 0.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Verdana, sans-serif" font-size="{FONT_PX}">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f8"/>',
             f'<text x="{width // 2}" y="{MARGIN_PX + FONT_PX}" text-anchor="middle" font-size="{FONT_PX + 4}">'
             f'{escape(title)}</text>']

    todo = [(root, float(MARGIN_PX), 0)] if root.value else []
    while todo:  # iterative: stacks come from user data and may be deeper than Python's recursion limit
        node, x, level = todo.pop()
        w = node.value * scale
        y = height - MARGIN_PX - (level + 1) * ROW_PX
        pct = 100.0 * node.value / root.value
        label = f"{node.name} ({node.value} {count_name}, {pct:.2f}%)"
        parts.append(f'<g class="frame" data-name="{escape(node.name, {chr(34): "&quot;"})}" '
                     f'data-value="{node.value}" data-depth="{level}"><title>{escape(label)}</title>'
                     f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{ROW_PX - 1}" '
                     f'fill="{"#e0e0e0" if level == 0 else _colour(node.name)}" rx="2"/>')
        chars = int(w / (FONT_PX * 0.6))
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[:chars - 2] + ".."
            parts.append(f'<text x="{x + 3:.2f}" y="{y + ROW_PX - 4}">{escape(text)}</text>')
        parts.append("</g>")
        cx = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            todo.append((child, cx, level + 1))
            cx += child.value * scale

    parts.append("</svg>\n")
    return "\n".join(parts)


def _depth(node: _Node) -> int:
    # iterative: a stack is at most 127 frames, but inputs are user data
    best, todo = 0, [(node, 0)]
    while todo:
        n, d = todo.pop()
        best = max(best, d)
        todo.extend((c, d + 1) for c in n.children.values())
    return best


__all__ = ["fold", "folded", "parse_folded", "flamegraph_svg"]
