"""Folded stacks and the SVG flame graph: round-trips, well-formed self-contained SVG, widths add up."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.system.flamegraph import flamegraph_svg, folded, parse_folded

NAMES = st.text(alphabet=st.characters(blacklist_characters=";\n\r ", blacklist_categories=("Cs", "Cc")),
                min_size=1, max_size=12)
STACKS = st.dictionaries(st.lists(NAMES, min_size=1, max_size=8).map(tuple), st.integers(1, 10**6), max_size=20)
SVG = "{http://www.w3.org/2000/svg}"


@settings(max_examples=60, deadline=None)
@given(STACKS)
def test_folded_round_trips(stacks):
    assert parse_folded(folded(stacks, leaf_first=False)) == stacks
    leaf_first = {tuple(reversed(s)): c for s, c in stacks.items()}
    assert parse_folded(folded(leaf_first)) == stacks


@settings(max_examples=40, deadline=None)
@given(STACKS)
def test_svg_is_well_formed_and_children_fit_in_their_parent(stacks):
    root = ET.fromstring(flamegraph_svg(stacks, title="t <&> \"q\""))
    frames = root.findall(f"{SVG}g")
    total = sum(stacks.values())
    if not total:
        assert not frames
        return
    assert frames[0].get("data-name") == "all" and int(frames[0].get("data-value")) == total
    assert not root.findall(f".//{SVG}script") and "href" not in ET.tostring(root, encoding="unicode")
    # every frame's value is the samples of the stacks through it
    by_depth: dict[int, int] = {}
    for g in frames:
        by_depth[int(g.get("data-depth"))] = by_depth.get(int(g.get("data-depth")), 0) + int(g.get("data-value"))
    assert all(v <= total for v in by_depth.values())
    widths = [float(g.find(f"{SVG}rect").get("width")) for g in frames if g.get("data-depth") == "1"]
    assert abs(sum(widths) - float(frames[0].find(f"{SVG}rect").get("width"))) < 0.05 * len(widths) + 0.01


def test_deep_stacks_do_not_recurse():
    deep = {tuple(f"f{i}" for i in range(5000)): 1}
    assert flamegraph_svg(deep).count('class="frame"') == 5001
