"""The explain catalogue's behaviour beyond the proof table (test_proof_table.py runs every row of CASES):
uninitialised vs out-of-range stack reads, classification, VerifierResult.explain()."""
from __future__ import annotations

from explain_cases import CASES
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify
from pyebpf.verifier.explain import classify, explain


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
