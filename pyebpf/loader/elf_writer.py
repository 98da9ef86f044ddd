"""Write `Program`s as a BPF ELF object that clang could have produced: `write_elf(programs, path)`.

Each program goes to a section named after its type (`xdp`, `tracepoint/<attach_to>`, `socket`, ... — the first
libbpf SEC() name of that type and expected attach type) as a global FUNC symbol; functions reached by bpf-to-bpf
calls go to `.text` as static FUNCs with R_BPF_64_32 call relocations. Maps become BTF-defined maps in `.maps`:
`__uint(type/max_entries/key_size/value_size/map_flags/pinning)` structs described in `.BTF`, `__type(key/value, T)`
when the MapSpec has ctypes key/value types, `__array(values, struct inner)` for maps of maps; lddw instructions
refer to them through R_BPF_64_64 relocations. Maps named like global data sections (`.data`, `.bss`,
`.rodata...`) become those sections, referenced by offset. A `license` section holds the license; `.BTF.ext` has one
func_info record per function (the kernel demands them for callbacks). llvm-objdump, libbpf (bpftool prog loadall,
bpftool gen object) and our own `load_elf` read the result.
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import CallSrc, InsnClass, JmpOp, OP_LD_IMM64, PseudoSrc
from pyebpf.abi.prog_types import SECTION_DEFS, ProgType, SecFlag, SectionDef
from pyebpf.errors import ElfError
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program
from pyebpf.abi.btf import BTF_MAGIC, BtfFuncLinkage, BtfVarLinkage
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.ctypes_conv import from_ctypes
from pyebpf.isa.elf_reader import EM_BPF, ET_REL, RelocType, ShFlags, ShType, SymBind, SymType

OP_CALL = InsnClass.JMP | JmpOp.CALL
DATA_PREFIXES = (".data", ".bss", ".rodata")
LIBBPF_PIN_BY_NAME = 1
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")


#: SEC() names that also set load flags (sleepable, XDP frags): never chosen for a plain program.
_FLAGGED = frozenset({SecFlag.SLEEPABLE, SecFlag.XDP_FRAGS, SecFlag.USDT})


def section_name_for(program: Program) -> str:
    """The SEC() name libbpf maps back to this program's type, expected attach type and attach point."""
    ptype = program.prog_type
    if ptype is None:
        raise ElfError(f"program {program.name!r} has no program type; cannot name its ELF section")
    ptype = ProgType(ptype)
    eat = program.expected_attach_type
    target = program.attach_to
    rows = [d for d in SECTION_DEFS if d.prog_type == ptype and not d.flags & _FLAGGED]
    if not rows:
        raise ElfError(f"program {program.name!r}: no SEC() name for program type {ptype.name}")

    def fits(d: SectionDef) -> bool:
        if eat is not None:
            return d.attach_type is not None and int(d.attach_type) == int(eat)
        return d.attach_type is None or SecFlag.ATTACHABLE_OPT in d.flags

    for d in rows:
        if fits(d) and (d.is_prefix if target else True):
            return f"{d.base}/{target}" if target else d.base
    for d in rows:  # attach point given for a type whose SEC() name has none (or the other way round)
        if fits(d):
            return d.base
    plain = [d for d in rows if "/" not in d.base]
    return (plain or rows)[0].base


@dataclass
class _Section:
    name: str
    type: int
    flags: int
    data: bytearray = field(default_factory=bytearray)
    align: int = 8
    entsize: int = 0
    link: int = 0
    info: int = 0
    size: int | None = None  # for NOBITS
    relocs: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, type, symbol name)
    func_addr_fixups: list[tuple[int, str]] = field(default_factory=list)  # (lddw offset, function symbol)


@dataclass
class _Sym:
    name: str
    section: str | None
    value: int
    size: int
    type: int
    bind: int


def _functions(program: Program) -> list[int]:
    """Slots where functions start: 0 and every bpf-to-bpf call / lddw func target."""
    starts = {0}
    for slot, insn in program.by_slot():
        if (insn.opcode == OP_CALL and insn.src == CallSrc.PSEUDO_CALL) or \
                (insn.is_lddw and insn.src == PseudoSrc.FUNC):
            target = slot + insn.imm + 1
            if not 0 <= target < program.slot_count:
                raise ElfError(f"program {program.name!r}: call at slot {slot} targets slot {target}, outside the "
                               "program")
            starts.add(target)
    return sorted(starts)


def write_elf(programs: Program | Iterable[Program] | Mapping[str, Program], path: str | None = None, *,
              initial_values: Mapping[str, bytes] | None = None) -> bytes:
    """Write the programs as one relocatable BPF ELF object; returns the bytes (and writes `path` if given)."""
    if isinstance(programs, Program):
        progs = [programs]
    elif isinstance(programs, Mapping):
        progs = list(programs.values())
    else:
        progs = list(programs)
    if not progs:
        raise ElfError("write_elf: no programs")
    names = []
    for i, p in enumerate(progs):
        n = p.name or f"prog{i}"
        if n in names:
            raise ElfError(f"write_elf: two programs named {n!r}")
        names.append(n)
    licenses = {p.license for p in progs}
    if len(licenses) > 1:
        raise ElfError(f"write_elf: programs have different licenses {sorted(licenses)}; one object has one")
    maps: dict[str, MapSpec] = {}
    for p in progs:
        for key, spec in p.maps.items():
            if key in maps and maps[key] != spec:
                raise ElfError(f"write_elf: map {key!r} is defined differently by two programs")
            maps[key] = spec
    data_maps = {k: s for k, s in maps.items() if k.startswith(DATA_PREFIXES)}
    btf_maps = {k: s for k, s in maps.items() if k not in data_maps}

    sections: dict[str, _Section] = {}
    symbols: list[_Sym] = []
    text = _Section(".text", ShType.PROGBITS, ShFlags.ALLOC | ShFlags.EXECINSTR)
    core: list[tuple[str, int, Any]] = []  # (section, byte offset of the instruction, CoreAccess)
    for name, prog in zip(names, progs):
        secname = section_name_for(prog)
        sec = sections.setdefault(secname, _Section(secname, ShType.PROGBITS, ShFlags.ALLOC | ShFlags.EXECINSTR))
        starts = _functions(prog)
        ends = starts[1:] + [prog.slot_count]
        by_slot = list(prog.by_slot())
        slot_names = {v: k for k, v in prog.labels.items() if k != prog.name}
        func_sym: dict[int, str] = {}
        for start in starts:
            func_sym[start] = name if start == 0 else f"{name}__{slot_names.get(start) or f'sub_{start}'}"
        for start, end in zip(starts, ends):
            target_sec = sec if start == 0 else text
            base = len(target_sec.data)
            for slot, insn in by_slot:
                if not start <= slot < end:
                    continue
                where = base + (slot - start) * 8
                insn = _relocate(insn, slot, prog, name, target_sec, where, func_sym, data_maps, btf_maps)
                target_sec.data += insn.encode()
            symbols.append(_Sym(func_sym[start], target_sec.name, base, (end - start) * 8, SymType.FUNC,
                                SymBind.GLOBAL if start == 0 else SymBind.LOCAL))
            core += [(target_sec.name, base + (acc.slot - start) * 8, acc) for acc in prog.core_relos
                     if start <= acc.slot < end]
    placed = {s.name: s.value for s in symbols if s.type == SymType.FUNC and s.section == ".text"}
    for sec in [text, *sections.values()]:
        for where, sym in sec.func_addr_fixups:
            struct.pack_into("<i", sec.data, where + 4, placed[sym])
    ordered: list[_Section] = ([text] if text.data else []) + list(sections.values())

    # maps, BTF
    btf = BtfBuilder()
    int_id = btf.add_int("int", 4, signed=True)
    char_id = btf.add_int("unsigned char", 1)
    maps_sec = _Section(".maps", ShType.PROGBITS, ShFlags.ALLOC | ShFlags.WRITE)
    ctypes_cache: dict = {}
    map_vars = []
    def map_def(spec: MapSpec, what: str) -> tuple[int, int]:
        """BTF struct of one map definition (and of its inner map's, for maps of maps): (type id, byte size)."""
        fields: list[tuple[str, int | None]] = [("type", int(spec.type)), ("max_entries", spec.max_entries)]
        typed = {}
        of_maps = spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
        for part, size, ctype in (("key", spec.key_size, spec.key_type), ("value", spec.value_size, spec.value_type)):
            if of_maps and part == "value":
                continue  # the value is an inner map fd: described by `values` below
            tid = _btf_of(btf, ctype, size, ctypes_cache)
            if tid is not None and spec.type not in _NO_BTF_VALUE_TYPES:
                typed[part] = tid
                fields.append((part, None))
            elif size:
                fields.append((f"{part}_size", size))
        if spec.flags:
            fields.append(("map_flags", spec.flags))
        if spec.pinning == "by_name":
            fields.append(("pinning", LIBBPF_PIN_BY_NAME))
        members = []
        for i, (fname, value) in enumerate(fields):
            if value is None:  # __type(key/value, T): a pointer to T
                members.append((fname, btf.add_ptr(typed[fname]), i * 64))
                continue
            arr = btf.add_array(int_id, int_id, value)
            members.append((fname, btf.add_ptr(arr), i * 64))
        size = 8 * len(fields)
        if of_maps:  # __array(values, struct inner): a flexible array of pointers to the inner definition
            if spec.inner_map is None:
                raise ElfError(f"write_elf: map {what!r} is a map of maps without an inner map spec")
            inner_id, _ = map_def(spec.inner_map, f"{what}.inner")
            values = btf.add_array(btf.add_ptr(inner_id), int_id, 0)
            members.append(("values", values, size * 8))
        return btf.add_struct("", size, members), size

    for key, spec in btf_maps.items():
        struct_id, size = map_def(spec, key)
        var = btf.add_var(key, struct_id)
        offset = len(maps_sec.data)
        maps_sec.data += bytes(size)
        map_vars.append((var, offset, size))
        symbols.append(_Sym(key, ".maps", offset, size, SymType.OBJECT, SymBind.GLOBAL))
    if btf_maps:
        btf.add_datasec(".maps", len(maps_sec.data), map_vars)
        ordered.append(maps_sec)
    for key, spec in data_maps.items():
        if spec.max_entries != 1 or spec.type != MapType.ARRAY:
            raise ElfError(f"write_elf: map {key!r} is named like global data but is not a one-element array")
        init = bytes((initial_values or {}).get(key, b""))
        if len(init) > spec.value_size:
            raise ElfError(f"write_elf: initial value of {key!r} is longer than its {spec.value_size} bytes")
        is_bss = key.startswith(".bss")
        if is_bss and init.strip(b"\0"):
            raise ElfError(f"write_elf: {key!r} is zero-initialised data; its initial value must be zeros")
        init = b"" if is_bss else init
        flags = ShFlags.ALLOC | (0 if key.startswith(".rodata") else ShFlags.WRITE)
        sec = _Section(key, ShType.NOBITS if is_bss and not init else ShType.PROGBITS, flags,
                       bytearray(b"" if is_bss and not init else init.ljust(spec.value_size, b"\0")),
                       size=spec.value_size)
        var_name = "__" + key.strip(".").replace(".", "_")
        arr = btf.add_array(char_id, int_id, spec.value_size)
        var = btf.add_var(var_name, arr, BtfVarLinkage.GLOBAL_ALLOCATED)
        btf.add_datasec(key, spec.value_size, [(var, 0, spec.value_size)])
        symbols.append(_Sym(var_name, key, 0, spec.value_size, SymType.OBJECT, SymBind.GLOBAL))
        ordered.append(sec)
    license = _Section("license", ShType.PROGBITS, ShFlags.ALLOC | ShFlags.WRITE,
                       bytearray(progs[0].license.encode() + b"\0"), align=1)
    ordered.append(license)
    symbols.append(_Sym("LICENSE", "license", 0, len(license.data), SymType.OBJECT, SymBind.GLOBAL))
    lic_var = btf.add_var("LICENSE", btf.add_array(char_id, int_id, len(license.data)))
    btf.add_datasec("license", len(license.data), [(lic_var, 0, len(license.data))])
    proto = btf.add_func_proto(int_id, [("ctx", btf.add_ptr(0))])
    func_info: dict[str, list[tuple[int, int]]] = {}
    for s in symbols:
        if s.type == SymType.FUNC:
            linkage = BtfFuncLinkage.GLOBAL if s.bind == SymBind.GLOBAL else BtfFuncLinkage.STATIC
            func_info.setdefault(s.section or "", []).append((s.value, btf.add_func(s.name, proto, linkage)))
    ext = _btf_ext(btf, func_info, _core_records(btf, core))
    ordered.append(_Section(".BTF", ShType.PROGBITS, 0, bytearray(btf.encode()), align=4))
    ordered.append(_Section(".BTF.ext", ShType.PROGBITS, 0, bytearray(ext), align=4))
    data = _link(ordered, symbols)
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


#: map types whose values the kernel fills itself (fds, ids): described by size, never by a BTF value type
_NO_BTF_VALUE_TYPES = frozenset({MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS,
                                 MapType.HASH_OF_MAPS, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.SOCKMAP,
                                 MapType.SOCKHASH, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP,
                                 MapType.XSKMAP, MapType.RINGBUF, MapType.USER_RINGBUF})


def _btf_of(btf: BtfBuilder, ctype: Any, size: int, cache: dict) -> int | None:
    """BTF type id for a MapSpec key/value ctypes type of the declared size; None when there is none to give."""
    if ctype is None or ctype in (int, bytes) or not size:
        return None
    try:
        if ctypes.sizeof(ctype) != size:
            return None
        return from_ctypes(btf, ctype, cache)
    except TypeError:
        return None


def _core_records(btf: BtfBuilder, core: list[tuple[str, int, Any]]) -> dict[str, list[tuple[int, ...]]]:
    """bpf_core_relo records (insn byte offset, local type id, access string offset, kind) by section, over local
    copies of the kernel types the relocations walk (btf.core_local)."""
    from pyebpf.btf.core_local import LocalTypes

    local = LocalTypes(btf)
    out: dict[str, list[tuple[int, ...]]] = {}
    try:
        for _, _, acc in core:
            local.note(acc)
        for section, offset, acc in core:
            type_id, spec = local.relocation(acc)
            out.setdefault(section, []).append((offset, type_id, btf.string(spec), int(acc.kind)))
    except (ValueError, IndexError, KeyError) as e:
        raise ElfError(f"write_elf: a CO-RE relocation cannot be described in the object's BTF: {e}") from None
    return out


def _btf_ext(btf: BtfBuilder, func_info: dict[str, list[tuple[int, int]]],
             core: dict[str, list[tuple[int, ...]]] | None = None) -> bytes:
    """.BTF.ext with one func_info record per function (callbacks and subprograms need them in the kernel) and, when
    the programs carry CO-RE relocations, a core_relo part (a 32-byte header, as clang writes it then)."""
    body = bytearray(struct.pack("<I", 8))
    for section, records in func_info.items():
        body += struct.pack("<II", btf.string(section), len(records))
        for offset, type_id in sorted(records):
            body += struct.pack("<II", offset, type_id)
    if not core:
        header = struct.pack("<HBBIIIII", BTF_MAGIC, 1, 0, 24, 0, len(body), len(body), 0)
        return header + bytes(body)
    func_len = len(body)
    relo = bytearray(struct.pack("<I", 16))
    for section, records in core.items():
        relo += struct.pack("<II", btf.string(section), len(records))
        for rec in sorted(records):
            relo += struct.pack("<IIII", *rec)
    header = struct.pack("<HBBIIIIIII", BTF_MAGIC, 1, 0, 32, 0, func_len, func_len, 0, func_len, len(relo))
    return header + bytes(body) + bytes(relo)


def _relocate(insn: Instruction, slot: int, prog: Program, name: str, sec: _Section, where: int,
              func_sym: dict[int, str], data_maps: dict[str, MapSpec], btf_maps: dict[str, MapSpec]) -> Instruction:
    """The instruction as written (numbers that depend on placement zeroed) plus its relocation."""
    if (insn.opcode == OP_CALL and insn.src == CallSrc.PSEUDO_CALL) or (insn.is_lddw and insn.src == PseudoSrc.FUNC):
        sym = func_sym[slot + insn.imm + 1]  # every call target starts a function (see _functions)
        if insn.is_lddw:
            # as clang does for static functions: against the .text section symbol, imm = byte offset (filled in
            # once every function is placed); libbpf accepts function addresses only in this form
            sec.relocs.append((where, RelocType.R_BPF_64_64, "\0section:.text"))
            sec.func_addr_fixups.append((where, sym))
            return insn._replace(imm=0, ref=None)
        sec.relocs.append((where, RelocType.R_BPF_64_32, sym))
        return insn._replace(imm=-1, ref=None)
    if insn.is_lddw and insn.ref is not None and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE,
                                                             PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE):
        ref = insn.ref
        value = insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE)
        if ref in data_maps:
            if not value:
                raise ElfError(f"program {name!r} slot {slot}: global data {ref!r} used as a map fd")
            offset = (insn.imm >> 32) & 0xFFFFFFFF
            sec.relocs.append((where, RelocType.R_BPF_64_64, "\0section:" + ref))
            return Instruction(OP_LD_IMM64, insn.dst, 0, 0, offset)
        if ref in btf_maps:
            if value:
                raise ElfError(f"program {name!r} slot {slot}: direct value access to map {ref!r} cannot be "
                               "expressed as an ELF relocation (libbpf only allows it for global data)")
            sec.relocs.append((where, RelocType.R_BPF_64_64, ref))
            return Instruction(OP_LD_IMM64, insn.dst, 0, 0, 0)
        raise ElfError(f"program {name!r} slot {slot}: lddw names map {ref!r}, which is not in program.maps")
    if insn.is_lddw and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX,
                                     PseudoSrc.MAP_IDX_VALUE):
        raise ElfError(f"program {name!r} slot {slot}: lddw with a map fd/index but no map name (ref)")
    return insn


def _link(sections: list[_Section], symbols: list[_Sym]) -> bytes:
    """Lay out sections, symbol table, relocation sections and headers into the ELF bytes."""
    strtab = bytearray(b"\0")
    str_index: dict[str, int] = {"": 0}

    def string(s: str) -> int:
        if s not in str_index:
            str_index[s] = len(strtab)
            strtab.extend(s.encode() + b"\0")
        return str_index[s]

    # section indexes: 0 null, 1 .strtab, then contents (each followed by its .rel), then .symtab last
    layout: list[_Section] = []
    for sec in sections:
        layout.append(sec)
        if sec.relocs:
            layout.append(_Section(".rel" + sec.name, ShType.REL, 0, align=8, entsize=_REL.size))
    index = {s.name: i + 2 for i, s in enumerate(layout)}
    symtab_index = len(layout) + 2
    # symbols: null, section symbols (local), local funcs, then globals
    syms: list[tuple[str, int, int, int, int, int]] = [("", 0, 0, 0, 0, 0)]  # name, info, shndx, value, size, bind
    sym_index: dict[str, int] = {}
    for sec in sections:
        if sec.type != ShType.REL:
            sym_index["\0section:" + sec.name] = len(syms)
            syms.append(("", (SymBind.LOCAL << 4) | SymType.SECTION, index[sec.name], 0, 0, SymBind.LOCAL))
    for bind in (SymBind.LOCAL, SymBind.GLOBAL):
        for s in symbols:
            if s.bind == bind:
                sym_index[s.name] = len(syms)
                syms.append((s.name, (bind << 4) | s.type, index[s.section] if s.section else 0, s.value, s.size,
                             bind))
    first_global = next((i for i, s in enumerate(syms) if s[5] == SymBind.GLOBAL), len(syms))
    symtab = b"".join(_SYM.pack(string(n), info, 0, shndx, value, size) for n, info, shndx, value, size, _ in syms)
    for i, sec in enumerate(layout):
        if sec.type == ShType.REL:
            target = layout[i - 1]
            sec.link, sec.info = symtab_index, index[target.name]
            sec.data = bytearray(b"".join(_REL.pack(off, (sym_index[sym] << 32) | typ)
                                          for off, typ, sym in target.relocs))
    for sec in layout:
        string(sec.name)
    string(".strtab")
    string(".symtab")
    # file layout
    out = bytearray(_EHDR.size)
    headers: list[tuple] = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    strtab_off = len(out)
    out += strtab
    headers.append((str_index[".strtab"], ShType.STRTAB, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0))
    for sec in layout:
        while len(out) % sec.align:
            out += b"\0"
        off = len(out)
        size = sec.size if sec.type == ShType.NOBITS else len(sec.data)
        if sec.type != ShType.NOBITS:
            out += sec.data
        headers.append((str_index[sec.name], sec.type, sec.flags, 0, off, size or 0, sec.link, sec.info, sec.align,
                        sec.entsize))
    while len(out) % 8:
        out += b"\0"
    symtab_off = len(out)
    out += symtab
    headers.append((str_index[".symtab"], ShType.SYMTAB, 0, 0, symtab_off, len(symtab), 1, first_global, 8,
                    _SYM.size))
    while len(out) % 8:
        out += b"\0"
    shoff = len(out)
    for h in headers:
        out += _SHDR.pack(*h)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    _EHDR.pack_into(out, 0, ident, ET_REL, EM_BPF, 1, 0, 0, shoff, 0, _EHDR.size, 0, 0, _SHDR.size, len(headers), 1)
    return bytes(out)


__all__ = ["write_elf", "section_name_for"]
