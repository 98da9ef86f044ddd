"""The smallest BTF that lets the kernel accept a program with subprograms: one FUNC per subprogram.

Helpers that take a callback (bpf_loop, bpf_for_each_map_elem, bpf_timer_set_callback, ...) and BPF_PSEUDO_FUNC
references make the verifier demand func_info ("missing btf func_info"), and func_info needs BTF. clang writes it
from debug info; a Python-built program has none, so we describe each subprogram as `static int name(void)`:
static linkage means the verifier does not check arguments against the prototype, exactly what we need.
"""
from __future__ import annotations

from pyebpf.abi.btf import BtfFuncLinkage
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.ext import FuncInfo
from pyebpf.isa.program import Program


def subprogram_starts(program: Program) -> list[int]:
    """Slots where subprograms start, as the kernel's add_subprog() finds them: 0, every bpf-to-bpf call target
    and every BPF_PSEUDO_FUNC target."""
    starts = {0}
    for slot, insn in program.by_slot():
        if insn.is_pseudo_call or (insn.is_lddw and insn.src == PseudoSrc.FUNC):
            starts.add(slot + 1 + (insn.imm if insn.is_lddw else insn.jump_offset))
    return sorted(starts)


def needs_func_info(program: Program) -> bool:
    """Whether `program` has subprograms (Program.references_functions, the fact verify() also asks)."""
    return program.references_functions


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"f_{cleaned}"


def func_btf(program: Program) -> tuple[bytes, list[FuncInfo]]:
    """BTF blob and func_info for every subprogram of `program` (main program first)."""
    names_by_slot: dict[int, str] = {}
    for label, slot in program.labels.items():
        names_by_slot.setdefault(slot, label)
    b = BtfBuilder()
    int_id = b.add_int("int", 4, signed=True)
    proto = b.add_func_proto(int_id, [])
    infos: list[FuncInfo] = []
    used: set[str] = set()
    for slot in subprogram_starts(program):
        if slot == 0:
            name = program.name or names_by_slot.get(0) or "main"
        else:
            name = names_by_slot.get(slot) or f"sub_{slot}"
        name = _identifier(name)
        while name in used:
            name += "_"
        used.add(name)
        linkage = BtfFuncLinkage.GLOBAL if slot == 0 else BtfFuncLinkage.STATIC
        infos.append(FuncInfo(slot, b.add_func(name, proto, linkage)))
    return b.encode(), infos


__all__ = ["func_btf", "subprogram_starts", "needs_func_info"]
