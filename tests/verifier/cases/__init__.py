"""Data tables of verifier cases: each program written once, with its program type, privilege and maps.

A `Case` is assembly text (LLVM dialect, `.map` directives for maps) or a builder callable. `expect` is the
verdict we believe the kernel gives — documentation and a sanity check on the table only: the kernel test
(`test_table_kernel.py`) compares our verifier with what the running kernel actually says, message included.
`xfail` names a known engine disagreement (strict: the case must keep failing until the engine is fixed).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from typing import Callable

from pyebpf.isa.program import Program

ACCEPT, REJECT = "accept", "reject"


@dataclass(frozen=True)
class Case:
    """One program, its environment, and the verdict the table documents."""

    name: str
    source: str | Callable[[], Program]
    prog_type: str = "socket_filter"
    privileged: bool = True
    expect: str = ACCEPT
    xfail: str | None = None
    #: seconds our verifier may take (0: no limit); such cases run into the kernel's complexity limits, whose
    #: kernel logs are also read with a small buffer
    slow: float = 0
    #: privileged loads of programs with subprograms carry loader-generated BTF func_info, as compiled programs
    #: do; False loads without it (Program.func_info=[]), to see the kernel's no-BTF rules
    btf: bool = True

    @property
    def id(self) -> str:
        return f"{self.name}[{'priv' if self.privileged else 'unpriv'}]"

    def program(self) -> Program:
        """The case's program; one loaded without BTF (`btf=False`, or unprivileged: BTF_LOAD needs CAP_BPF)
        says so itself (`func_info=[]`), so the loader and verify() read the same fact from it."""
        if callable(self.source):
            prog = self.source()
        else:
            from pyebpf.isa.assembler import assemble
            prog = assemble(textwrap.dedent(self.source))
        if not (self.privileged and self.btf):
            prog.func_info = []
        return prog


#: The tables, one module each, in report order.
TABLES = ("cfg", "alu", "stack", "ctx", "maps", "packet", "helpers", "retval", "loops", "calls", "unpriv")


def all_cases() -> list[Case]:
    """Every case of every table, in a stable order; ids are unique."""
    import importlib
    out: list[Case] = []
    for name in TABLES:
        out.extend(importlib.import_module(f"cases.{name}").CASES)
    from cases.known import KNOWN
    out = [replace(c, xfail=KNOWN[c.id]) if c.id in KNOWN and not c.xfail else c for c in out]
    missing = set(KNOWN) - {c.id for c in out}
    if missing:
        raise ValueError(f"known disagreements name no case: {sorted(missing)}")
    seen: set[str] = set()
    for c in out:
        if c.id in seen:
            raise ValueError(f"duplicate case id {c.id}")
        seen.add(c.id)
    return out
