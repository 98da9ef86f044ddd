"""Why an instruction's encoding was refused, read from the instruction itself: the reserved field that is set,
the register number past r10, the opcode no instruction uses, the call or jump target outside the program or in
the second half of an lddw, the map fd that names no map. These rejections happen before (or without) any
abstract state, so the instruction's fields are the whole story; explain.py asks here for them.
"""
from __future__ import annotations

from typing import Any

from pyebpf.abi.opcodes import CLASS_MASK, OP_LD_IMM64, OP_MASK, SOURCE_MASK, InsnClass, JmpOp, PseudoSrc, Source

#: The fields each (class, source) leaves unused, which do_check/check_subprogs require to be zero
#: (the common case; BPF_END, the sign-extending and atomic forms reuse some of them).
_UNUSED: dict[tuple[int, int], tuple[str, ...]] = {
    (int(InsnClass.ALU), int(Source.K)): ("src",), (int(InsnClass.ALU64), int(Source.K)): ("src",),
    (int(InsnClass.ALU), int(Source.X)): ("imm",), (int(InsnClass.ALU64), int(Source.X)): ("imm",),
    (int(InsnClass.JMP), int(Source.K)): ("src",), (int(InsnClass.JMP32), int(Source.K)): ("src",),
    (int(InsnClass.JMP), int(Source.X)): ("imm",), (int(InsnClass.JMP32), int(Source.X)): ("imm",),
}
_FIELD = {"dst": "dst_reg", "src": "src_reg", "off": "off", "imm": "imm"}


def fields(insn: Any) -> str:
    """`code=0xb7 dst_reg=0 src_reg=1 off=0 imm=0`: the encoding as the kernel's struct bpf_insn names it."""
    return f"code={insn.opcode:#04x} dst_reg={insn.dst} src_reg={insn.src} off={insn.off} imm={insn.imm}"


def _at(program: Any, slot: int | None) -> Any:
    return program.slot_map().get(slot) if slot is not None else None


def reserved_fields(program: Any, slot: int | None, name: str) -> list[str]:
    insn = _at(program, slot)
    if insn is None:
        return []
    key = (insn.opcode & CLASS_MASK, insn.opcode & SOURCE_MASK)
    unused = _UNUSED.get(key, ("dst", "src", "off", "imm"))
    if insn.opcode & CLASS_MASK in (InsnClass.JMP, InsnClass.JMP32) and insn.opcode & OP_MASK == JmpOp.EXIT:
        unused = ("dst", "src", "off", "imm")
    set_ = [f"{_FIELD[f]}={getattr(insn, f)}" for f in unused if getattr(insn, f)]
    return [f"insn {slot} is encoded as {fields(insn)}; {name} does not use "
            f"{', '.join(set_) if set_ else 'some of these fields'}, and an unused field must be 0"]


def bad_register(program: Any, slot: int | None, regno: int) -> list[str]:
    insn = _at(program, slot)
    which = [n for n in ("dst", "src") if insn is not None and getattr(insn, n) == regno]
    where = f" in its {_FIELD[which[0]]} field" if which else ""
    return [f"the instruction names register {regno}{where}, but eBPF has only r0-r10 (r10 being the read-only "
            f"frame pointer)"]


def unknown_opcode(program: Any, slot: int | None) -> list[str]:
    insn = _at(program, slot)
    if insn is None:
        return []
    cls = InsnClass(insn.opcode & CLASS_MASK)
    return [f"opcode {insn.opcode:#04x} is class BPF_{cls.name} with operation bits {insn.opcode & 0xF8:#04x}, a "
            f"combination no eBPF instruction uses ({fields(insn)})"]


def bad_call(program: Any, slot: int | None) -> list[str]:
    insn = _at(program, slot)
    if insn is None:
        return []
    target, end = slot + 1 + insn.imm, program.slot_count
    return [f"`call pc{insn.imm:+d}` at insn {slot} targets insn {target}, but the program's instructions are "
            f"0-{end - 1}"]


def jump_into_ldimm64(program: Any, second_half_of: int) -> list[str]:
    """The jumps that land on slot `second_half_of + 1`, the second half of the lddw at `second_half_of`."""
    target = second_half_of + 1
    out = []
    for start, insn in zip(program.slot_starts, program.instructions):
        cls, op = insn.opcode & CLASS_MASK, insn.opcode & OP_MASK
        if cls not in (InsnClass.JMP, InsnClass.JMP32) or op in (JmpOp.CALL, JmpOp.EXIT):
            continue
        off = insn.imm if cls == InsnClass.JMP32 and op == JmpOp.JA else insn.off
        if start + 1 + off == target:
            out.append(f"the jump at insn {start} lands on insn {target}, the second half of the lddw at insn "
                       f"{second_half_of} (a 64-bit immediate load fills two slots)")
    return out or [f"insn {target} is the second half of the lddw at insn {second_half_of}"]


def bad_map_fd(program: Any, slot: int | None, fd: int) -> list[str]:
    insn = _at(program, slot)
    if insn is None or insn.opcode != OP_LD_IMM64:
        return [f"no map is open as fd {fd} in the loading process"]
    kind = {int(PseudoSrc.MAP_FD): "BPF_PSEUDO_MAP_FD", int(PseudoSrc.MAP_VALUE): "BPF_PSEUDO_MAP_VALUE"}.get(
        insn.src, f"src_reg={insn.src}")
    return [f"the lddw at insn {slot} has src_reg {kind}, so its immediate {fd} must be the fd of a map the "
            f"loading process holds open; fd {fd} is not one (a map fd only exists once the map is created)"]


__all__ = ["fields", "reserved_fields", "bad_register", "unknown_opcode", "bad_call", "jump_into_ldimm64",
           "bad_map_fd"]
