"""The explain catalogue: each class's broken program gets its class and explanation parts; its fix verifies with
our verifier and (kernel marker) the running kernel, which also refuses the broken one with the same message."""
from __future__ import annotations

import pytest

from explain_cases import CASES
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify
from pyebpf.verifier.explain import CATALOGUE, classify, explain

QUICK = [c for c in CASES if c.rule != "too-large"]  # the 1M-insn loop takes a minute: benchmarks and one test


def _ids(cases):
    return [f"{c.rule}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("case", QUICK, ids=_ids(QUICK))
def test_broken_is_explained(case):
    ex = explain(assemble(case.broken), case.prog_type, case.privileged)
    assert ex is not None, "the broken program must be rejected"
    rule = next(r for r in CATALOGUE if r.name == case.rule)
    assert (ex.func, ex.rule) == (rule.func, rule.rule), ex.text()
    assert ex.fix and ex.disasm and ex.insn is not None
    assert ex.source.startswith("line "), ex.text()  # assembly input: the .s line
    text = "\n".join(ex.why)
    assert case.why in text, ex.text()
    assert case.path in " ".join(ex.path), ex.text()


@pytest.mark.parametrize("case", QUICK, ids=_ids(QUICK))
def test_fix_verifies(case):
    assert verify(assemble(case.fixed), prog_type=case.prog_type, privileged=case.privileged,
                  raise_on_reject=False).accepted


@pytest.mark.kernel
@pytest.mark.parametrize("case", [c for c in QUICK if c.privileged], ids=_ids([c for c in QUICK if c.privileged]))
def test_kernel_agrees(case):
    from pyebpf.loader import KernelVerifierError, load

    with pytest.raises(KernelVerifierError) as info:
        load(assemble(case.broken), case.prog_type)
    ours = verify(assemble(case.broken), prog_type=case.prog_type, raise_on_reject=False).error
    assert info.value.message == ours.message
    # the kernel's log names the last instruction it printed: none for CFG-stage messages, and for a loop found
    # at a prune point the back-edge jump before the instruction (env->insn_idx) that is refused (ours)
    if info.value.insn is not None and case.rule != "infinite-loop":
        assert info.value.insn == ours.insn
    load(assemble(case.fixed), case.prog_type).close()


def test_uninit_and_out_of_range_stack_reads_differ():
    uninit = explain(assemble("r0 = *(u64 *)(r10 - 16)\nexit\n"), privileged=False)
    outside = explain(assemble("r0 = *(u64 *)(r10 - 520)\nexit\n"), privileged=False)
    assert uninit.message.split(" off=")[0] == outside.message.split(" off=")[0]  # the kernel's words are the same
    assert uninit.func == "check_stack_read" and "fp-16 was never written" in uninit.why[0]
    assert outside.func == "check_stack_access_within_bounds" and "range error" in outside.why[0]


def test_every_class_has_a_case_or_is_matched_by_the_tables():
    covered = {c.rule for c in CASES}
    assert len(covered) >= 20
    assert classify("something no kernel says") == (None, None)


def test_result_explain_and_accepted():
    r = verify(assemble("r0 = r2\nexit\n"), raise_on_reject=False)
    assert "R2 !read_ok" in r.explain().text()
    assert verify(assemble("r0 = 0\nexit\n")).explain() is None
