"""The kernel-log reader the agreement tests rely on: which line of a verifier log is the kernel's reason."""
from __future__ import annotations

from cases import all_cases
from cases.oracle import Verdict, agree, kernel_error_line, kernel_reason
from pyebpf import assemble

STATS = "processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"


def test_reason_is_last_line_before_statistics():
    log = ("0: R1=ctx() R10=fp0\n0: (b7) r1 = 0                        ; R1=0\n"
           "7: (79) r0 = *(u64 *)(r0 +0)\nR0 invalid mem access 'map_value_or_null'\n" + STATS)
    assert kernel_error_line(log) == "R0 invalid mem access 'map_value_or_null'"


def test_two_line_reason_kept_whole():
    log = ("9: (61) r1 = *(u32 *)(r0 +8)\ninvalid access to map value, value_size=8 off=8 size=4\n"
           "R0 min value is outside of the allowed memory range\n" + STATS)
    assert kernel_reason(log) == ("invalid access to map value, value_size=8 off=8 size=4",
                                  "R0 min value is outside of the allowed memory range")


def test_reason_glued_to_instruction_and_state_comparison_skipped():
    prog = assemble("r0 = 0\nif r1 == 0 goto -1\nexit\n")
    log = ("0: (b7) r0 = 0                        ; R0=0\n"
           "1: (15) if r1 == 0x0 goto pc-1 infinite loop detected at insn 1\n"
           "cur state: R0=0 R1=ctx() R10=fp0\nold state: R0=0 R1=ctx() R10=fp0\n" + STATS)
    assert kernel_error_line(log, prog) == "infinite loop detected at insn 1"


def test_reason_glued_to_statistics():
    log = "nonzero insn_off 3 for the first func info record" + STATS
    assert kernel_error_line(log) == "nonzero insn_off 3 for the first func info record"


def test_cfg_only_log_and_stats_trailer():
    log = "back-edge from insn 2 to 1\n" + STATS + "verification time 5 usec\nstack depth 0\n"
    assert kernel_error_line(log) == "back-edge from insn 2 to 1"
    assert kernel_error_line("") == ""


def test_agreement_rules():
    kern = Verdict(False, 13, "b", reason=("a", "b"))
    assert agree(Verdict(False, 13, "a"), kern) == (True, True, True)
    assert agree(Verdict(False, 22, "b"), kern) == (True, True, False)
    assert agree(Verdict(True), kern) == (False, False, False)
    assert agree(Verdict(None, 0, "no verdict"), Verdict(True)) == (False, False, False)
    assert agree(Verdict(False, 7, "ours"), Verdict(False, 7, "")) == (True, True, True)  # kernel gave no log


def test_tables_are_big_and_ids_unique():
    cases = all_cases()
    assert len(cases) >= 300
    assert len({c.id for c in cases}) == len(cases)
    for c in cases:
        c.program()  # every case assembles
