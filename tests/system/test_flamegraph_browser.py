"""The flame graph SVG pyebpf writes, opened in headless Chromium (Debian's chromium): the browser parses the file
as XML, and in the DOM it lays out every frame has its <title>, widths proportional to the counts, children on their
parent's row above it and inside its span. A screenshot is saved as an artifact (PYEBPF_ARTIFACTS, else tmp)."""
from __future__ import annotations

import html
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest

from pyebpf.system.flamegraph import ROW_PX, flamegraph_svg
from pyebpf.testing.browser import chromium as shared_chromium

STACKS = {  # root first; names a browser must not take for markup
    ("all_main", "parse", "lex"): 30,
    ("all_main", "parse", "<alloc & \"copy\">"): 10,
    ("all_main", "run"): 40,
    ("idle",): 20,
}
TOTAL = sum(STACKS.values())

HARNESS = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="flame.svg" width="1220" height="%d" style="border:0"></iframe>
<pre id="out">pending</pre>
<script>
document.getElementById("f").addEventListener("load", () => {
  const doc = document.getElementById("f").contentDocument;
  const rows = [...doc.querySelectorAll("g.frame")].map(g => {
    const r = g.querySelector("rect").getBoundingClientRect();
    const t = g.querySelector("text");
    return {name: g.getAttribute("data-name"), value: +g.getAttribute("data-value"),
            depth: +g.getAttribute("data-depth"), title: g.querySelector("title").textContent,
            x: r.x, y: r.y, width: r.width, height: r.height, text: t ? t.textContent : null};
  });
  document.getElementById("out").textContent = JSON.stringify({
    root: doc.documentElement.localName, ns: doc.documentElement.namespaceURI,
    errors: doc.getElementsByTagName("parsererror").length, rows});
});
</script></body></html>
"""


def chromium(tmp_path: Path, *args: str) -> str:
    return shared_chromium(tmp_path, "--allow-file-access-from-files", *args)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG, as Chromium writes screenshots."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    assert depth == 8 and colour in (2, 6) and not interlace, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # the five PNG filters
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if bpp == 3 else bytes(v for j, v in enumerate(line) if j % 4 != 3))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flame")
    svg = flamegraph_svg(STACKS, title="Browser <check>")
    (tmp / "flame.svg").write_text(svg)
    height = int(re.search(r'height="(\d+)"', svg).group(1))
    (tmp / "harness.html").write_text(HARNESS % (height + 20))
    dom = chromium(tmp, "--virtual-time-budget=10000", "--dump-dom", (tmp / "harness.html").as_uri())
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) != "pending", dom[-2000:]
    return tmp, height, json.loads(html.unescape(found.group(1)))


def test_the_browser_parses_the_file_as_svg(laid_out):
    _, _, page = laid_out
    assert (page["root"], page["ns"], page["errors"]) == ("svg", "http://www.w3.org/2000/svg", 0)


def test_every_frame_with_its_title(laid_out):
    rows = laid_out[2]["rows"]
    frames: dict[tuple[int, str], int] = {(0, "all"): TOTAL}
    for stack, n in STACKS.items():
        for depth, name in enumerate(stack, 1):
            frames[(depth, name)] = frames.get((depth, name), 0) + n
    assert {(r["depth"], r["name"]): r["value"] for r in rows} == frames and len(rows) == len(frames)
    for r in rows:
        assert r["title"] == f"{r['name']} ({r['value']} samples, {100 * r['value'] / TOTAL:.2f}%)"
    assert any(r["name"] == '<alloc & "copy">' for r in rows)


def test_widths_are_proportional_to_counts_and_children_sit_on_their_parent(laid_out):
    rows = laid_out[2]["rows"]
    root = next(r for r in rows if r["depth"] == 0)
    px_per_sample = root["width"] / TOTAL
    assert root["width"] > 1000  # drawn at the page's width, not collapsed
    for r in rows:
        assert r["width"] == pytest.approx(r["value"] * px_per_sample, abs=0.02), r
        assert r["height"] == pytest.approx(ROW_PX - 1, abs=0.01)
    for depth in range(1, max(r["depth"] for r in rows) + 1):
        for child in (r for r in rows if r["depth"] == depth):
            parents = [p for p in rows if p["depth"] == depth - 1
                       and p["x"] - 0.02 <= child["x"] and child["x"] + child["width"] <= p["x"] + p["width"] + 0.02]
            assert parents, child
            assert child["y"] == pytest.approx(parents[0]["y"] - ROW_PX, abs=0.01)  # root at the bottom
        siblings = sorted((r for r in rows if r["depth"] == depth), key=lambda r: r["x"])
        for a, b in zip(siblings, siblings[1:]):
            assert a["x"] + a["width"] <= b["x"] + 0.02  # no overlap on a row
    wide = [r for r in rows if r["width"] > 200]
    assert wide and all(r["text"] == r["name"] for r in wide)  # wide frames carry their full name


def test_screenshot_is_saved_as_an_artifact(laid_out):
    """The picture has each frame's fill colour where the layout put the frame (the pixels, not just the DOM)."""
    tmp, height, page = laid_out
    artifacts = Path(os.environ.get("PYEBPF_ARTIFACTS", tmp))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "flamegraph.png"
    chromium(tmp, f"--screenshot={shot}", "--hide-scrollbars", f"--window-size=1240,{height + 40}",
             (tmp / "flame.svg").as_uri())
    width, h, rows = read_png(shot)
    assert (width, h) == (1240, height + 40)
    svg = (tmp / "flame.svg").read_text()
    fills = {html.unescape(n): f for n, f in re.findall(r'data-name="([^"]*)".*?fill="(rgb\([^)]*\)|#e0e0e0)"', svg)}
    for r in page["rows"]:
        fill = fills[r["name"]]
        want = (224, 224, 224) if fill == "#e0e0e0" else tuple(map(int, re.findall(r"\d+", fill)))
        x, y = int(r["x"] + 1), int(r["y"] + 2)  # inside the rectangle, left of its label, above the text
        assert tuple(rows[y][3 * x:3 * x + 3]) == want, (r["name"], x, y)
