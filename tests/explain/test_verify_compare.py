"""`verify --kernel` names exactly the facts that differ (instruction, message, errno, statistics), not just the
verdict: the issue's case was "verdicts agree" printed while we named insn 4 and the kernel insn 3."""
from __future__ import annotations

from pyebpf.commands.verify import _facts, compare

LOG = "processed {} insns (limit 1000000) max_states_per_insn 0 total_states {} peak_states 1 mark_read 0\n"


def test_same_verdict_other_insn_and_statistics():
    ours = _facts(False, 4, "R0 !read_ok", 13, "x\n" + LOG.format(5, 1))
    kernel = _facts(False, 3, "R0 !read_ok", 13, "y\n" + LOG.format(4, 2))
    line = compare(ours, kernel)
    assert line.startswith("verdicts agree; DIFFER: ")
    assert "insn (pyebpf 4, kernel 3)" in line and "processed (pyebpf 5, kernel 4)" in line
    assert "total_states (pyebpf 1, kernel 2)" in line
    assert line.endswith("; agree: verdict, message, errno, max_states_per_insn, peak_states")


def test_message_and_errno_differ():
    ours = _facts(False, 2, "infinite loop detected at insn 1", 22, "")
    kernel = _facts(False, 2, "BPF program is too large. Processed 1000001 insn", 7, "")
    line = compare(ours, kernel)
    assert "message (pyebpf infinite loop detected at insn 1, kernel BPF program is too large." in line
    assert "errno (pyebpf 22, kernel 7)" in line


def test_verdicts_differ():
    line = compare(_facts(True, None, "", None, LOG.format(3, 0)), _facts(False, 1, "R1 !read_ok", 13, ""))
    assert line.startswith("verdicts DIFFER; DIFFER: verdict (pyebpf accepted, kernel rejected)")
