"""Known disagreements between our verifier and the running kernel (6.18), by case id: each one is a bug or a
missing feature in the engine (pyebpf/verifier, not the CFG stage), kept as a strict xfail until fixed — when a
fix lands, the case XPASSes and fails: delete its line here.

Grouped by cause so the engine's owner can fix them a group at a time.
"""
from __future__ import annotations

#: fixed in the engine (fc5bef3); kept as a signature so generated programs name it if it comes back
SUBPROG_R0 = ("verdict (precision): a static subprogram may exit with R0 uninitialized (6.18 checks R0 only at "
              "the main program's exit, or when the caller reads it); engine rejects at the callee's exit with "
              "'R0 !read_ok'")

KNOWN: dict[str, str] = {}


def known_disagreement(program, mine, kern) -> str | None:
    """For generated programs: the reason, if this disagreement is one of the known engine bugs above (the test
    then xfails with it instead of failing at random); None for anything new."""
    if (mine.accepted is False and mine.message == "R0 !read_ok" and kern.message != "R0 !read_ok"
            and mine.insn is not None and _is_callee_exit(program, mine.insn)):
        return SUBPROG_R0
    return None


def _is_callee_exit(program, slot: int) -> bool:
    from pyebpf.verifier.cfg import check_cfg
    try:
        info = check_cfg(program, True)
    except Exception:  # noqa: BLE001 - not a program whose subprograms we can name
        return False
    insn = info.insns[slot] if 0 <= slot < info.slot_count else None
    return insn is not None and insn.is_exit and info.subprog_of(slot) > 0
