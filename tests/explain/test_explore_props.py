"""Properties of the explored-path reconstruction over generated programs (the kernel-agreement generator's
blocks: spills, map lookups, packet checks, loops, ...): the paths account for every `from X to Y` the verifier
printed, each pushed path hangs off a visit of its branch instruction, a refused program's failing path ends at
the refused instruction, and explain/the HTML page/the text step-through never fail on them."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings

from pyebpf.verifier.explain import explain
from pyebpf.verifier.explore import explore
from pyebpf.verifier.report import html_report, text_exploration
from test_generated_kernel import generated


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated())
def test_paths_are_consistent(case):
    program = case.program()
    exp = explore(program, case.prog_type, case.privileged)
    log = exp.result.log
    if "do_check" in log or not re.search(r"^0: R1=", log, re.M):
        return  # refused before do_check: no path was walked
    pushed = len(re.findall(r"^from \d+ to \d+:", log, re.M))
    assert len(exp.segments) == 1 + pushed
    for seg in exp.segments[1:]:
        assert seg.parent is not None and seg.parent < seg.index
        assert exp.segments[seg.parent].steps[seg.parent_pos].idx == seg.pushed_at
    if not exp.result.accepted:
        failing = exp.failing_segment()
        assert failing is not None
        path = exp.path(failing)
        if path and exp.result.error.insn is not None:
            assert path[-1].idx == exp.result.error.insn
        ex = explain(program, case.prog_type, case.privileged)
        assert ex.text().startswith("rejected: ")
    for p in exp.prunes:
        assert exp.checkpoints[p.checkpoint].insn == p.insn
    page = html_report(program, None if exp.result.accepted else explain(program, case.prog_type, case.privileged),
                       exp=exp)
    assert page.count("<tr class='step") == sum(len(s.steps) + sum(1 for st in s.steps if st.before)
                                                for s in exp.segments)
    assert text_exploration(exp).count("\n") >= len(exp.segments)
