"""CO-RE: resolve `.BTF.ext` core_relo records of an object against the kernel's BTF and patch the instructions.

clang records, for each instruction that depends on a kernel type layout, the local (compile-time) type, an access
string ("0:1:3": array index of the base pointer, then member or array indexes) and what the instruction needs: a
field's byte offset/size/existence/signedness/shift amounts, a type's existence/size/id, or an enumerator's
existence/value. We compute that value twice: against the object's own BTF (it must equal what clang put in the
instruction, else the record does not belong to this instruction) and against the target BTF (vmlinux), where
candidate types are found by "essential" name (text before a `___flavor` suffix) and matched member by member by
name, through anonymous structs and unions. The new value goes into the instruction's imm (ALU, lddw) or off
(memory access, whose size is also adjusted when the field's size differs). A relocation no candidate satisfies
yields 0 for the *_EXISTS kinds and TYPE_ID_TARGET, and otherwise poisons the instruction with
`call 0xbad2310` (both slots of a lddw), as libbpf does, so the verifier rejects the program only if that path
can actually run.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.abi.opcodes import CLASS_MASK, MODE_MASK, OP_LD_IMM64, SIZE_MASK, InsnClass, Mode, Size, Source
from pyebpf.errors import ElfError
from pyebpf.isa.instruction import Instruction
from pyebpf.abi.btf import BTF_INT_SIGNED, BtfKind
from pyebpf.btf import MODIFIER_KINDS, Btf, CoreRelo, CoreReloKind, essential_name
from pyebpf.btf.core_local import bitfield_load, bitfield_shifts

#: The helper id libbpf puts in a call to poison an instruction whose relocation could not be resolved.
POISON_HELPER_ID = 0xBAD2310
#: `call 0xbad2310`: what an unresolvable relocation's instruction becomes
POISON = Instruction(InsnClass.JMP | 0x80, 0, 0, 0, POISON_HELPER_ID)
_K = CoreReloKind
FIELD_KINDS = frozenset({_K.FIELD_BYTE_OFFSET, _K.FIELD_BYTE_SIZE, _K.FIELD_EXISTS, _K.FIELD_SIGNED,
                         _K.FIELD_LSHIFT_U64, _K.FIELD_RSHIFT_U64})
TYPE_KINDS = frozenset({_K.TYPE_ID_LOCAL, _K.TYPE_ID_TARGET, _K.TYPE_EXISTS, _K.TYPE_SIZE, _K.TYPE_MATCHES})
ENUM_KINDS = frozenset({_K.ENUMVAL_EXISTS, _K.ENUMVAL_VALUE})
_COMPOSITE = (BtfKind.STRUCT, BtfKind.UNION)
_SIZE_BYTES = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}
_BYTES_OF_SIZE = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


class CoreError(ElfError):
    """A CO-RE relocation that is malformed or does not fit its instruction."""


@dataclass(frozen=True)
class FieldSpot:
    """Where an access string lands: bit offset from the base, the field's type, its bitfield size (0 if none)."""

    bit_offset: int
    type_id: int
    bitfield_size: int


@dataclass(frozen=True)
class CoreResult:
    """One resolved relocation: the instruction slot (in its section), kind, values before and after, and the
    target type id (0 when nothing matched)."""

    section: str
    slot: int
    kind: CoreReloKind
    spec: str
    local_value: int
    new_value: int
    target_type_id: int
    poisoned: bool = False


# ---- access strings --------------------------------------------------------------------------------------------

def parse_access(text: str, where: str) -> list[int]:
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise CoreError(f"{where}: bad CO-RE access string {text!r}") from None
    if not parts or any(p < 0 for p in parts):
        raise CoreError(f"{where}: bad CO-RE access string {text!r}")
    return parts


@dataclass(frozen=True)
class _Step:
    """One access after the first: a named member (name set), or an array index (name None)."""

    name: str | None
    index: int


def local_field_path(btf: Btf, type_id: int, access: list[int], where: str) -> tuple[FieldSpot, list[_Step]]:
    """Walk the access string over the local BTF; returns the field spot and the named path for matching."""
    tid = btf.skip_modifiers(type_id)
    bits = access[0] * btf.size_of(tid) * 8
    steps: list[_Step] = []
    bitfield = 0
    for idx in access[1:]:
        t = btf[tid]
        if t.kind in _COMPOSITE:
            if idx >= len(t.members):
                raise CoreError(f"{where}: member index {idx} out of range for {btf.describe(tid)}")
            m = t.members[idx]
            bits += m.bits_offset
            bitfield = m.bitfield_size
            name = btf.str_at(m.name_off)
            if name:
                steps.append(_Step(name, idx))
            tid = btf.skip_modifiers(m.type)
        elif t.kind == BtfKind.ARRAY:
            elem = t.array[0]  # type: ignore[index]
            bits += idx * btf.size_of(elem) * 8
            steps.append(_Step(None, idx))
            bitfield = 0
            tid = btf.skip_modifiers(elem)
        else:
            raise CoreError(f"{where}: access {idx} into {btf.describe(tid)}, which is not a struct/union/array")
    return FieldSpot(bits, tid, bitfield), steps


def _find_member(btf: Btf, comp_id: int, name: str, depth: int = 0) -> tuple[int, int, int] | None:
    """(bit offset, member type id, bitfield size) of member `name`, looking into anonymous members too."""
    t = btf[comp_id]
    for m in t.members:
        mname = btf.str_at(m.name_off)
        if mname == name:
            return m.bits_offset, m.type, m.bitfield_size
        if not mname and depth < 32:
            inner = btf.skip_modifiers(m.type)
            if btf[inner].kind in _COMPOSITE:
                found = _find_member(btf, inner, name, depth + 1)
                if found is not None:
                    return m.bits_offset + found[0], found[1], found[2]
    return None


def _kind_class(btf: Btf, tid: int) -> BtfKind:
    k = btf[tid].kind
    if k in (BtfKind.ENUM, BtfKind.ENUM64):
        return BtfKind.INT  # enums and ints are interchangeable in libbpf's field compatibility
    if k == BtfKind.FWD:
        return BtfKind.STRUCT
    return k


def fields_compatible(local: Btf, lid: int, target: Btf, tid: int) -> bool:
    """libbpf's bpf_core_fields_are_compat, in short: same kind class; composites also same essential name."""
    lid, tid = local.skip_modifiers(lid), target.skip_modifiers(tid)
    lk, tk = _kind_class(local, lid), _kind_class(target, tid)
    if lk != tk:
        return False
    if lk in _COMPOSITE:
        ln, tn = essential_name(local.name(lid)), essential_name(target.name(tid))
        return not ln or not tn or ln == tn
    if lk == BtfKind.ARRAY:
        return fields_compatible(local, local[lid].array[0], target, target[tid].array[0])  # type: ignore[index]
    return True


def match_field(local: Btf, local_spot: FieldSpot, steps: list[_Step], access0: int, target: Btf, cand: int
                ) -> FieldSpot | None:
    """Follow the named path over a target candidate; None when a member is missing or a type does not fit."""
    tid = target.skip_modifiers(cand)
    bits = access0 * target.size_of(tid) * 8
    bitfield = 0
    for step in steps:
        t = target[tid]
        if step.name is not None:
            if t.kind not in _COMPOSITE:
                return None
            found = _find_member(target, tid, step.name)
            if found is None:
                return None
            off, mtype, bitfield = found
            bits += off
            tid = target.skip_modifiers(mtype)
        else:
            if t.kind != BtfKind.ARRAY:
                return None
            elem, _, nelems = t.array  # type: ignore[misc]
            if nelems and step.index >= nelems:
                return None
            bits += step.index * target.size_of(elem) * 8
            bitfield = 0
            tid = target.skip_modifiers(elem)
    if not fields_compatible(local, local_spot.type_id, target, tid):
        return None
    return FieldSpot(bits, tid, bitfield)


def field_value(btf: Btf, spot: FieldSpot, kind: CoreReloKind, where: str) -> int:
    """The number a field relocation asks for, computed on one BTF (libbpf's bpf_core_calc_field_relo)."""
    if kind == _K.FIELD_EXISTS:
        return 1
    t = btf[spot.type_id]
    size = btf.size_of(spot.type_id) if t.kind != BtfKind.ARRAY or t.array[2] else 0  # type: ignore[index]
    bit_size = spot.bitfield_size
    if not bit_size and t.kind == BtfKind.INT and t.int_bits != size * 8:
        bit_size = t.int_bits
    if bit_size:  # bitfield: smallest naturally aligned load that covers it
        try:
            byte_off, byte_sz = bitfield_load(spot.bit_offset, bit_size, size)
        except ValueError as e:
            raise CoreError(f"{where}: {e}") from None
    else:
        if spot.bit_offset % 8:
            raise CoreError(f"{where}: field at bit {spot.bit_offset} is not byte aligned")
        byte_sz, byte_off, bit_size = size, spot.bit_offset // 8, size * 8
    if kind == _K.FIELD_BYTE_OFFSET:
        return byte_off
    if kind == _K.FIELD_BYTE_SIZE:
        return byte_sz
    if kind == _K.FIELD_SIGNED:
        if t.kind == BtfKind.INT:
            return int(bool(t.int_encoding & BTF_INT_SIGNED))
        if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
            return t.kind_flag
        return 0
    if kind == _K.FIELD_LSHIFT_U64:
        return bitfield_shifts(spot.bit_offset, bit_size, byte_off)[0]
    if kind == _K.FIELD_RSHIFT_U64:
        return bitfield_shifts(spot.bit_offset, bit_size, byte_off)[1]
    raise CoreError(f"{where}: {kind.name} is not a field relocation")


# ---- candidates --------------------------------------------------------------------------------------------------

def candidates(local: Btf, local_id: int, target: Btf) -> list[int]:
    """Target type ids whose essential name and kind class match the local type's."""
    lid = local.skip_modifiers(local_id)
    name = essential_name(local.name(lid))
    if not name:
        return []
    lk = _kind_class(local, lid)
    out = []
    for tid in target.ids_by_name(name):
        tt = target[tid]
        if tt.kind in MODIFIER_KINDS:
            continue
        if _kind_class(target, tid) == lk or (lk in _COMPOSITE and tt.kind in _COMPOSITE and tt.kind == local[lid].kind):
            out.append(tid)
    return out


def _enumerators(btf: Btf, tid: int) -> dict[str, int]:
    return {essential_name(btf.str_at(n)): v for n, v in btf[tid].members}


# ---- one relocation ------------------------------------------------------------------------------------------

def resolve(relo: CoreRelo, local: Btf, target: Btf, where: str) -> tuple[int, int | None, int]:
    """(local value, target value or None when nothing matched, target type id)."""
    access = parse_access(local.str_at(relo.access_str_off), where)
    kind = relo.kind
    if not 0 < relo.type_id < len(local):
        raise CoreError(f"{where}: local type id {relo.type_id} out of range")
    if kind in TYPE_KINDS:
        lid = relo.type_id
        local_value = {_K.TYPE_ID_LOCAL: lid, _K.TYPE_ID_TARGET: lid, _K.TYPE_EXISTS: 1, _K.TYPE_MATCHES: 1,
                       _K.TYPE_SIZE: local.size_of(lid) if kind == _K.TYPE_SIZE else 0}[kind]
        if kind == _K.TYPE_ID_LOCAL:
            return local_value, lid, 0
        cands = [c for c in candidates(local, lid, target) if fields_compatible(local, lid, target, c)]
        if not cands:
            return local_value, None, 0
        c = cands[0]
        value = {_K.TYPE_ID_TARGET: c, _K.TYPE_EXISTS: 1, _K.TYPE_MATCHES: 1,
                 _K.TYPE_SIZE: target.size_of(c) if kind == _K.TYPE_SIZE else 0}[kind]
        return local_value, value, c
    if kind in ENUM_KINDS:
        lid = local.skip_modifiers(relo.type_id)
        lt = local[lid]
        if lt.kind not in (BtfKind.ENUM, BtfKind.ENUM64) or access[0] >= len(lt.members):
            raise CoreError(f"{where}: enum relocation on {local.describe(lid)} with access {access}")
        ename_off, lvalue = lt.members[access[0]]
        ename = essential_name(local.str_at(ename_off))
        local_value = 1 if kind == _K.ENUMVAL_EXISTS else lvalue
        for c in candidates(local, lid, target):
            values = _enumerators(target, c)
            if ename in values:
                return local_value, (1 if kind == _K.ENUMVAL_EXISTS else values[ename]), c
        return local_value, None, 0
    spot, steps = local_field_path(local, relo.type_id, access, where)
    local_value = field_value(local, spot, kind, where)
    results: list[tuple[int, int]] = []
    for c in candidates(local, relo.type_id, target):
        tspot = match_field(local, spot, steps, access[0], target, c)
        if tspot is not None:
            results.append((field_value(target, tspot, kind, where), c))
    if not results:
        return local_value, None, 0
    if len({v for v, _ in results}) > 1:
        raise CoreError(f"{where}: {kind.name} is ambiguous: candidates {[c for _, c in results]} give "
                        f"{sorted({v for v, _ in results})}")
    return local_value, results[0][0], results[0][1]


def _insn_value(insn: Instruction, where: str) -> tuple[str, int]:
    """Which field of the instruction holds a CO-RE value ('imm' or 'off') and its current value."""
    cls = insn.opcode & CLASS_MASK
    if insn.opcode == OP_LD_IMM64:
        return "imm", insn.imm
    if cls in (InsnClass.ALU, InsnClass.ALU64) and not insn.opcode & Source.X:
        return "imm", insn.imm
    if cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX) and insn.opcode & MODE_MASK in (Mode.MEM, Mode.MEMSX):
        return "off", insn.off
    raise CoreError(f"{where}: CO-RE relocation on an instruction that has no patchable field "
                    f"(opcode {insn.opcode:#04x})")


def patch(insn: Instruction, kind: CoreReloKind, local_value: int, new_value: int | None, local: Btf,
          target: Btf, where: str, new_size: int | None = None, old_size: int | None = None) -> Instruction:
    """The instruction with the CO-RE value replaced (or poisoned when `new_value` is None)."""
    if new_value is None:
        return POISON
    field, current = _insn_value(insn, where)
    if field == "imm" and insn.opcode != OP_LD_IMM64:
        current &= 0xFFFFFFFF
        if current != local_value & 0xFFFFFFFF:
            raise CoreError(f"{where}: instruction holds {current}, the {kind.name} relocation expects "
                            f"{local_value}")
        if not -(1 << 31) <= new_value < (1 << 32):
            raise CoreError(f"{where}: {kind.name} value {new_value} does not fit a 32-bit immediate")
        imm = new_value - (1 << 32) if new_value >= 1 << 31 else new_value
        return insn._replace(imm=imm)
    if field == "imm":
        if current & 0xFFFFFFFFFFFFFFFF != local_value & 0xFFFFFFFFFFFFFFFF:
            raise CoreError(f"{where}: lddw holds {current}, the {kind.name} relocation expects {local_value}")
        imm = new_value - (1 << 64) if new_value >= 1 << 63 else new_value
        return insn._replace(imm=imm)
    if current != local_value:
        raise CoreError(f"{where}: memory access offset {current}, the {kind.name} relocation expects {local_value}")
    if not -(1 << 15) <= new_value < (1 << 15):
        raise CoreError(f"{where}: offset {new_value} does not fit the 16-bit offset field")
    out = insn._replace(off=new_value)
    if new_size is not None and old_size is not None and new_size != old_size:
        access = _BYTES_OF_SIZE[Size(insn.opcode & SIZE_MASK)]
        if access == old_size and new_size in _SIZE_BYTES:
            out = out._replace(opcode=(insn.opcode & ~SIZE_MASK) | _SIZE_BYTES[new_size])
    return out


def apply_relocations(section: str, insns: dict[int, Instruction], relos: list[CoreRelo], local: Btf,
                      target: Btf) -> list[CoreResult]:
    """Patch `insns` (slot -> Instruction of one ELF section) in place; returns what each relocation did."""
    results = []
    for relo in relos:
        slot = relo.insn_off // 8
        where = f"section {section!r} insn {slot} (offset {relo.insn_off:#x}) {relo.kind.name}"
        if relo.insn_off % 8 or slot not in insns:
            raise CoreError(f"{where}: CO-RE relocation does not point at an instruction")
        insn = insns[slot]
        local_value, new_value, tid = resolve(relo, local, target, where)
        if relo.kind in (_K.FIELD_EXISTS, _K.TYPE_EXISTS, _K.ENUMVAL_EXISTS, _K.TYPE_MATCHES, _K.TYPE_ID_TARGET) \
                and new_value is None:
            new_value = 0
        new_size = old_size = None
        if relo.kind == _K.FIELD_BYTE_OFFSET and new_value is not None and insn.opcode & CLASS_MASK == InsnClass.LDX:
            access = parse_access(local.str_at(relo.access_str_off), where)
            spot, _ = local_field_path(local, relo.type_id, access, where)
            old_size = field_value(local, spot, _K.FIELD_BYTE_SIZE, where)
            _, new_size, _ = resolve(CoreRelo(relo.insn_off, relo.type_id, relo.access_str_off,
                                              _K.FIELD_BYTE_SIZE), local, target, where)
        insns[slot] = patch(insn, relo.kind, local_value, new_value, local, target, where, new_size, old_size)
        if new_value is None and insn.opcode == OP_LD_IMM64:
            insns[slot + 1] = POISON  # both halves of a lddw, so the slots stay where they were
        results.append(CoreResult(section, slot, relo.kind, local.str_at(relo.access_str_off), local_value,
                                  0 if new_value is None else new_value, tid, new_value is None))
    return results


__all__ = ["apply_relocations", "resolve", "candidates", "CoreResult", "CoreError", "FieldSpot", "parse_access",
           "field_value", "POISON_HELPER_ID"]
