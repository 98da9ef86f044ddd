"""The HTML report in a real browser: headless Chromium loads the page (no network) and the DOM it builds has the
basic blocks, the edges (back-edges, call edges), the failing instruction marked and the step-through rows."""
from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from pyebpf.cli import main

SMALL = ".map m hash key=4 value=8 entries=16\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[m] ll\n" \
        "call bpf_map_lookup_elem\nr1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n"
LOOP = "r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nr1 = *(u64 *)(r0 + 0)\nexit\n"
SUBPROG = "r1 = 5\ncall f\nr1 = *(u64 *)(r0 + 0)\nexit\nf:\nr0 = r1\nif r0 > 3 goto g\nr0 = 0\ng:\nexit\n"


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append({"tag": tag, **{k: v or "" for k, v in attrs}})

    def having(self, cls: str) -> list[dict[str, str]]:
        return [e for e in self.elements if cls in e.get("class", "").split()]


def _browser() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (scripts/setup.sh installs Debian's chromium)")


def _render(tmp_path, capsys, name: str, source: str) -> _Dom:
    src = tmp_path / f"{name}.s"
    src.write_text(source)
    page = tmp_path / f"{name}.html"
    assert main(["explain", "--html", str(page), str(src)]) == 1
    capsys.readouterr()
    browser = _browser()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    artifacts = os.environ.get("PYEBPF_ARTIFACTS", str(tmp_path))
    subprocess.run([browser, *flags, f"--screenshot={os.path.join(artifacts, name + '.png')}",
                    "--window-size=1200,1600", page.as_uri()], capture_output=True, timeout=120)
    parsed = _Dom()
    parsed.feed(dom)
    assert "<script" in dom and "pyebpf explain" in dom  # the browser's DOM, not an empty page
    return parsed


def test_small(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "small", SMALL)
    assert [b["id"] for b in dom.having("block")] == ["block-0"]
    fail = dom.having("fail")
    assert [f["id"] for f in fail] == ["insn-6"]
    assert len(dom.having("step")) == 6 and not dom.having("edge")


def test_loop(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "loop", LOOP)
    assert [b["id"] for b in dom.having("block")] == ["block-0", "block-1", "block-3"]
    back = dom.having("back-edge")
    assert [(e["data-from"], e["data-to"]) for e in back] == [("1", "1")]
    assert "onpath" in back[0]["class"]
    assert [f["id"] for f in dom.having("fail")] == ["insn-3"]


def test_subprograms(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "subprog", SUBPROG)
    assert [e["id"] for e in dom.elements if e.get("class") == "subprog"] == ["subprog-0", "subprog-1"]
    calls = dom.having("call-edge")
    assert [(e["data-from"], e["data-to"]) for e in calls] == [("0", "4")]
    assert [f["id"] for f in dom.having("fail")] == ["insn-2"]
    assert {b["id"] for b in dom.having("block") if "onpath" in b["class"]} >= {"block-0", "block-4"}
