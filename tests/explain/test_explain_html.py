"""The HTML report in a real browser: headless Chromium loads the page (no network) and the DOM it builds (after
the page's script ran) has the basic blocks, the edges (back-edges, call edges), the failing instruction marked,
the explored paths with the failing one selected in the step-through, and the checkpoints and prunes. A screenshot
of each page is kept as a test artifact in $PYEBPF_ARTIFACTS (default /tmp/pyebpf-artifacts/explain)."""
from __future__ import annotations

import os
from html.parser import HTMLParser

from pyebpf.cli import main
from pyebpf.testing.browser import chromium

SMALL = ".map m hash key=4 value=8 entries=16\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[m] ll\n" \
        "call bpf_map_lookup_elem\nr1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n"
# a bounded loop, then four diamonds on r6: the paths that take a diamond's branch are pruned at the last join
# (r6 is dead there) by the checkpoint an earlier path stored, until the last diamond's branch dereferences r6
LOOP = "call bpf_get_prandom_u32\nr6 = r0\nr1 = 0\nl:\nr1 += 1\nif r1 < 3 goto l\n" + "".join(
    f"if r6 > {5 + i} goto a{i}\nr2 = 1\ngoto j{i}\na{i}:\n{'r4 = *(u64 *)(r6 + 0)' + chr(10) if i == 3 else ''}"
    f"r2 = 2\nj{i}:\n" for i in range(4)) + "r0 = 0\nexit\n"
SUBPROG = "r1 = 5\ncall f\nr1 = *(u64 *)(r0 + 0)\nexit\nf:\nr0 = r1\nif r0 > 3 goto g\nr0 = 0\ng:\nexit\n"


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append({"tag": tag, **{k: v or "" for k, v in attrs}})

    def having(self, cls: str) -> list[dict[str, str]]:
        return [e for e in self.elements if cls in e.get("class", "").split()]


def _render(tmp_path, capsys, name: str, source: str) -> _Dom:
    src = tmp_path / f"{name}.s"
    src.write_text(source)
    page = tmp_path / f"{name}.html"
    assert main(["explain", "--html", str(page), str(src)]) == 1
    capsys.readouterr()
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    artifacts = os.environ.get("PYEBPF_ARTIFACTS", "/tmp/pyebpf-artifacts/explain")
    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, name + ".png")
    if os.path.exists(shot):
        os.unlink(shot)
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri(), check=False)
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"  # the screenshot is kept as the test's artifact
    parsed = _Dom()
    parsed.feed(dom)
    assert "<script" in dom and "pyebpf explain" in dom  # the browser's DOM, not an empty page
    _script_ran(parsed)
    return parsed


def _script_ran(dom: _Dom) -> None:
    """The step-through script selected a path: its steps are shown, the others hidden, the first one current."""
    selected = [o for o in dom.elements if o["tag"] == "option" and "selected" in o]
    assert len(selected) == 1
    shown = [r for r in dom.having("step") if "hidden" not in r["class"].split()]
    assert shown and "current" in shown[0]["class"].split()
    assert all(r["data-path"] != selected[0]["value"] for r in dom.having("step") if "hidden" in r["class"])


def _steps_of(dom: _Dom) -> list[str]:
    return [r["data-insn"] for r in dom.having("step") if "hidden" not in r["class"].split()
            and "resume" not in r["class"].split()]


def test_small(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "small", SMALL)
    assert [b["id"] for b in dom.having("block")] == ["block-0"]
    fail = dom.having("fail")
    assert [f["id"] for f in fail] == ["insn-6"]
    assert _steps_of(dom) == ["0", "1", "2", "3", "5", "6"] and not dom.having("edge")
    assert len(dom.having("path")) == 1 and not dom.having("prune")


def test_loop(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "loop", LOOP)
    back = dom.having("back-edge")
    assert [(e["data-from"], e["data-to"]) for e in back] == [("3", "3")]
    assert "onpath" in back[0]["class"]
    assert [f["id"] for f in dom.having("fail")] == ["insn-20"]
    # the failing path is selected: its steps run from the entry through the loop to the refused load
    steps = _steps_of(dom)
    assert steps[0] == "0" and steps[-1] == "20" and steps.count("4") == 3
    # paths pruned at the last join by a checkpoint stored there, which the page lists
    prunes = dom.having("prune")
    assert prunes and {p["data-insn"] for p in prunes} == {"22"}
    ckpts = {c["id"] for c in dom.having("ckpt")}
    assert all(f"ckpt-{p['data-checkpoint']}" in ckpts for p in prunes)
    assert [i["id"] for i in dom.having("pruned")] == ["insn-22"] and dom.having("checkpoint")
    assert len(dom.having("path")) == 5


def test_subprograms(tmp_path, capsys):
    dom = _render(tmp_path, capsys, "subprog", SUBPROG)
    assert [e["id"] for e in dom.elements if e.get("class") == "subprog"] == ["subprog-0", "subprog-1"]
    calls = dom.having("call-edge")
    assert [(e["data-from"], e["data-to"]) for e in calls] == [("0", "4")]
    assert [f["id"] for f in dom.having("fail")] == ["insn-2"]
    assert {b["id"] for b in dom.having("block") if "onpath" in b["class"]} >= {"block-0", "block-4"}
    # the failing path goes into the subprogram and back: 0 1 | 4 5 7 (the taken branch) | 2
    steps = _steps_of(dom)
    assert steps == ["0", "1", "4", "5", "7", "2"]
