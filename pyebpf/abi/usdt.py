"""USDT (SystemTap SDT) facts: the `.note.stapsdt` note format, x86-64 register names as `struct pt_regs` fields,
and the uprobe PMU's reference-counter (semaphore) field.

A probe's arguments are written by the compiler as GNU assembler operands (`-4@%edi`, `8@-16(%rbp)`, `4@$5`); a BPF
program reads the register operands from the uprobe's pt_regs. The table maps every width of every general
register to its pt_regs slot (offsets come from `pyebpf.abi.context.PT_REGS`, the one place they are written).
"""
from __future__ import annotations

from pyebpf.abi.context import PT_REGS

NT_STAPSDT = 3
STAPSDT_OWNER = "stapsdt"
STAPSDT_NOTE_SECTION = ".note.stapsdt"
STAPSDT_BASE_SECTION = ".stapsdt.base"
#: perf_event_attr.config bits 32..63 of the uprobe PMU: the file offset of a reference counter (the semaphore)
#: the kernel increments in every process that maps the file while the uprobe exists
PERF_UPROBE_REF_CTR_OFFSET_SHIFT = 32

#: x86-64 register spelling (any width) -> struct pt_regs field. High-byte registers (%ah ...) are not listed:
#: no USDT argument can use them as a whole value.
X86_64_REGS: dict[str, str] = {}
for _field, _names in {
    "ax": ("rax", "eax", "ax", "al"), "bx": ("rbx", "ebx", "bx", "bl"), "cx": ("rcx", "ecx", "cx", "cl"),
    "dx": ("rdx", "edx", "dx", "dl"), "si": ("rsi", "esi", "si", "sil"), "di": ("rdi", "edi", "di", "dil"),
    "bp": ("rbp", "ebp", "bp", "bpl"), "sp": ("rsp", "esp", "sp", "spl"), "ip": ("rip", "eip", "ip"),
    **{f"r{n}": (f"r{n}", f"r{n}d", f"r{n}w", f"r{n}b") for n in range(8, 16)},
}.items():
    for _name in _names:
        X86_64_REGS[_name] = _field


def pt_regs_offset(register: str) -> int:
    """Byte offset in struct pt_regs of an x86-64 register named any way (`edi`, `rdi`, `dil`); KeyError else."""
    return PT_REGS[X86_64_REGS[register]].offset


__all__ = ["NT_STAPSDT", "STAPSDT_OWNER", "STAPSDT_NOTE_SECTION", "STAPSDT_BASE_SECTION",
           "PERF_UPROBE_REF_CTR_OFFSET_SHIFT", "X86_64_REGS", "pt_regs_offset"]
