"""Small helpers for writing cases: raw instruction lists for programs assembly cannot spell."""
from __future__ import annotations

from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program

I = Instruction
EXIT = I(0x95, 0, 0, 0, 0)
MOV0 = I(0xB7, 0, 0, 0, 0)  # r0 = 0


def raw(*insns: Instruction):
    """A case source that builds a Program from instructions as given (reserved fields and all)."""
    return lambda: Program(list(insns))


def lines(*text: str) -> str:
    return "\n".join(text) + "\n"


MAP_HASH = ".map m hash key=4 value=8 max_entries=16\n"
MAP_ARRAY = ".map a array key=4 value=16 max_entries=4\n"

#: Look `m` up with a zero key from fp-4; r0 = map_value_or_null (hash map, value 8 bytes).
LOOKUP_HASH = """
  r1 = 0
  *(u32 *)(r10 - 4) = r1
  r2 = r10
  r2 += -4
  r1 = map[m] ll
  call bpf_map_lookup_elem
"""
#: Same on the array map `a` (value 16 bytes).
LOOKUP_ARRAY = LOOKUP_HASH.replace("r1 = map[m] ll", "r1 = map[a] ll")
