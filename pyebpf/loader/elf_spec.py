"""A clang-compiled BPF object read into plain values: `ElfSpec(path)`, the collection spec (no bpf() calls).

`spec.programs[name]` are `Program`s, each complete on its own — type, attach point and expected attach type from
the SEC() name, load flags (sleepable, XDP frags), subprograms and callbacks appended and calls fixed, map
references as `ref`s, CO-RE resolved, __ksym kfuncs/variables resolved, and the object's BTF with the program's
func_info/line_info rebased to its slots — so `load(spec.programs[name])`, the VM and our verifier all take it and
the kernel's log still shows C source lines. `spec.maps[name]` are `MapSpec`s (BTF-defined `.maps` with typed
keys/values, legacy `maps`, one single-value array per global data section, `.kconfig` for __kconfig externs);
`spec.map_btf` / `spec.map_init` say what BPF_MAP_CREATE and the initial slots of maps of maps need.
`const volatile` globals are set on the spec before loading: `spec.rodata["name"] = value` or `constants={...}`.

Reading the object makes no bpf() call and creates nothing in the kernel. It does read facts of the machine the
spec is for, so that the programs and maps here are the ones the kernel will get: CO-RE and __ksym resolve against
the running kernel's BTF (/sys/kernel/btf/vmlinux, read once and cached) unless `btf_custom_path` names another,
and libbpf's map rules size perf event arrays by the possible CPUs and ring buffers by the page size. `pyebpf.loader.collection.load_collection(spec, options)` puts a spec into
the kernel.
"""
from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import CallSrc, InsnClass, JmpOp, PseudoSrc
from pyebpf.abi.prog_types import SecFlag, SectionDef, prog_type_for_section
from pyebpf.abi.uapi import BPF_OBJ_NAME_LEN, MapCreateFlags, ProgLoadFlags
from pyebpf.errors import DecodeError, ElfError
from pyebpf.isa.instruction import Instruction, decode_with_slots
from pyebpf.isa.program import Program
from pyebpf.loader.core import POISON_HELPER_ID
from pyebpf.btf import Btf, BtfExt, BtfKind, FuncInfo, LineInfo, kernel_btf
from pyebpf.btf.ctypes_conv import to_ctypes
from pyebpf.btf.fixups import fixup_datasecs, sanitize_for_kernel
from pyebpf.loader.elf_externs import (KCONFIG_SEC, KSYMS_SEC, Extern, collect_externs, kconfig_image, prepare_btf,
                                       resolve_ksyms)
from pyebpf.loader.elf_globals import DataSection, GlobalVars
from pyebpf.loader.elf_maps import (LEGACY_MAPS_SECTION, MAPS_SECTION, U32_MAX, BtfMapTypes, MapDefinitions,
                                   symbols_in)
from pyebpf.isa.elf_reader import (ElfFile, Relocation, RelocType, Section, ShFlags, ShType, SymBind, SymType,
                                      ET_REL, SHN_UNDEF)

OP_CALL = InsnClass.JMP | JmpOp.CALL
DATA_PREFIXES = (".data", ".bss", ".rodata")
#: libbpf creates every global data map mmap()able (bpf_object__init_internal_map), read-only ones also RDONLY_PROG
GLOBAL_DATA_FLAGS = MapCreateFlags.MMAPABLE


@dataclass
class Function:
    """A FUNC symbol's instructions inside an executable section, in section slots [start, end)."""

    name: str
    section: Section
    start: int
    end: int
    is_global: bool


@dataclass
class ProgramExt:
    """BTF info of one linked program: func_info and line_info with slots of the linked program."""

    func_info: list[FuncInfo] = field(default_factory=list)
    line_info: list[LineInfo] = field(default_factory=list)


class ElfSpec:
    """A parsed BPF object; see the module docstring."""

    def __init__(self, path: "str | os.PathLike[str] | bytes", *, constants: Mapping[str, Any] | None = None,
                 btf_custom_path: str | None = None, name: str | None = None):
        if isinstance(path, (bytes, bytearray, memoryview)):  # an object in memory (e.g. from write_elf)
            self.elf = ElfFile(bytes(path), "<bytes>")
            path = "<bytes>"
        else:
            path = os.fspath(path)
            self.elf = ElfFile.open(path)
        if not self.elf.little_endian:
            raise ElfError(f"{path}: big-endian BPF objects are not supported (compile with -target bpfel)")
        if self.elf.e_type != ET_REL:
            raise ElfError(f"{path}: not a relocatable object (e_type={self.elf.e_type})")
        self.path = path
        self.name = name or _object_name(path)
        self._btf_custom_path = btf_custom_path
        self.license = self._read_license()
        self.kern_version = self._read_version()
        self.btf: Btf | None = None
        self.btf_ext: BtfExt | None = None
        self.externs: dict[str, Extern] = {}
        self._kconfig = b""
        self._read_btf()
        defs = MapDefinitions(self.elf, self.btf, path, self._ctype)
        self.map_specs: dict[str, MapSpec] = defs.map_specs
        self.map_btf: dict[str, BtfMapTypes] = defs.map_btf
        self._map_symbols = defs.symbols  # (section index, offset) -> map name
        #: initial slots of maps of maps and program arrays from `.values = { [i] = &x }`: map -> {i: (kind, name)}
        self.map_init: dict[str, dict[int, tuple[str, str]]] = defs.map_init
        self.data_sections: dict[str, DataSection] = {}
        self._read_data_sections()
        self.core_results: list = []
        self._section_insns: dict[int, dict[int, Instruction]] = {}
        self._decode_sections()
        self.functions = self._read_functions()
        self.sections: dict[str, SectionDef | None] = {}
        self.programs: dict[str, Program] = {}
        self._link_programs()
        for key, value in (constants or {}).items():
            self.set_global(key, value)

    # ---- reading ---------------------------------------------------------------------------------------------
    def _read_license(self) -> str:
        sec = self.elf.by_name.get("license")
        if sec is None:
            return ""
        return sec.data.split(b"\0", 1)[0].decode(errors="replace")

    def _read_version(self) -> int:
        sec = self.elf.by_name.get("version")
        if sec is None:
            return 0
        if len(sec.data) != 4:
            raise ElfError(f"{self.path}: section 'version' is {len(sec.data)} bytes, expected 4")
        return struct.unpack("<I", sec.data)[0]

    def _read_btf(self) -> None:
        sec = self.elf.by_name.get(".BTF")
        if sec is None:
            return
        self.btf = Btf.parse(sec.data, f"{self.path}: .BTF")
        sizes = {s.name: s.size for s in self.elf.sections if s.name}
        offsets = {}
        for sym in self.elf.symbols:
            if 0 < sym.shndx < len(self.elf.sections) and sym.type in (SymType.OBJECT, SymType.NOTYPE, SymType.FUNC):
                offsets[(self.elf.sections[sym.shndx].name, sym.name)] = sym.value
        weak = {s.name for s in self.elf.symbols if s.shndx == SHN_UNDEF and s.bind == SymBind.WEAK and s.name}
        try:
            self.externs = collect_externs(self.btf, weak)
            if self.externs:
                resolve_ksyms(self.externs, self._btf_custom_path)
                self._kconfig = kconfig_image(self.btf, self.externs)
                prepare_btf(self.btf, self.externs)
            fixup_datasecs(self.btf, sizes, offsets, skip=frozenset({KCONFIG_SEC, KSYMS_SEC}))
        except ElfError as e:
            raise ElfError(f"{self.path}: {e}") from None
        sanitize_for_kernel(self.btf)
        ext = self.elf.by_name.get(".BTF.ext")
        if ext is not None:
            self.btf_ext = BtfExt.parse(ext.data, self.btf)

    def _read_data_sections(self) -> None:
        if self._kconfig:
            variables = {e.name: (e.offset, e.size, self.btf[e.type_id].size_type)  # type: ignore[index]
                         for e in self.externs.values() if e.kind == "kconfig"}
            kname = _internal_map_name(self.name, KCONFIG_SEC)
            self.map_specs[KCONFIG_SEC] = MapSpec(kname, MapType.ARRAY, 4, len(self._kconfig), 1,
                                                  int(GLOBAL_DATA_FLAGS | MapCreateFlags.RDONLY_PROG), value_type=bytes,
                                                  initial=bytes(self._kconfig))
            self.data_sections[KCONFIG_SEC] = DataSection(KCONFIG_SEC, KCONFIG_SEC, bytearray(self._kconfig), True,
                                                          variables)
        for sec in self.elf.sections:
            if not sec.name.startswith(DATA_PREFIXES) or not sec.flags & ShFlags.ALLOC or sec.is_exec:
                continue
            if sec.size == 0:
                continue
            if sec.size > U32_MAX:
                raise ElfError(f"{self.path}: section {sec.name!r} is {sec.size} bytes, more than a map value can "
                               f"be ({U32_MAX}, bpf_attr.value_size is a __u32)")
            readonly = sec.name.startswith(".rodata")
            init = None if sec.type == ShType.NOBITS else bytearray(sec.data)  # .bss: zeros, allocated on write
            variables: dict[str, tuple[int, int, int]] = {}
            if self.btf is not None:
                ds = self.btf.find(sec.name, BtfKind.DATASEC)
                if ds is not None:
                    for var_id, off, size in self.btf[ds].members:
                        var = self.btf[var_id]
                        if var.kind == BtfKind.VAR:
                            variables[self.btf.str_at(var.name_off)] = (off, size, var.size_type)
            for sym in symbols_in(self.elf, sec):
                if sym.type == SymType.OBJECT and sym.name not in variables:
                    variables[sym.name] = (sym.value, sym.size, 0)
            flags = GLOBAL_DATA_FLAGS | (MapCreateFlags.RDONLY_PROG if readonly else 0)
            kname = _internal_map_name(self.name, sec.name)
            self.map_specs[sec.name] = MapSpec(kname, MapType.ARRAY, 4, sec.size, 1, int(flags), value_type=bytes,
                                               initial=bytes(init) if init is not None else None)
            self.data_sections[sec.name] = DataSection(sec.name, sec.name, init, readonly, variables, sec.size)

    def _decode_sections(self) -> None:
        for sec in self.elf.sections:
            if not sec.is_exec or sec.size == 0:
                continue
            if sec.size % 8:
                raise ElfError(f"{self.path}: section {sec.name!r} is {sec.size} bytes, not whole instructions")
            try:
                self._section_insns[sec.index] = dict(decode_with_slots(sec.data, validate=False))
            except DecodeError as e:
                raise ElfError(f"{self.path}: section {sec.name!r}: {e}") from None
        relos = self.btf_ext.core_relos if self.btf_ext is not None else {}
        if not relos:
            return
        from pyebpf.loader.core import apply_relocations

        target = kernel_btf(self._btf_custom_path) if self._btf_custom_path else kernel_btf()
        assert self.btf is not None
        for sec_name, records in relos.items():
            sec = self.elf.by_name.get(sec_name)
            if sec is None or sec.index not in self._section_insns:
                raise ElfError(f"{self.path}: .BTF.ext has CO-RE relocations for missing section {sec_name!r}")
            self.core_results.extend(apply_relocations(sec_name, self._section_insns[sec.index], records, self.btf,
                                                       target))

    def _read_functions(self) -> dict[int, list[Function]]:
        """Functions of every executable section, by section index, sorted by start."""
        out: dict[int, list[Function]] = {}
        for sym in self.elf.symbols:
            if sym.type != SymType.FUNC or sym.shndx not in self._section_insns:
                continue
            sec = self.elf.sections[sym.shndx]
            if sym.value % 8 or sym.size % 8 or sym.value + sym.size > sec.size:
                raise ElfError(f"{self.path}: section {sec.name!r}: function {sym.name!r} at offset {sym.value:#x} "
                               f"size {sym.size} is not within whole instructions")
            end = (sym.value + sym.size) // 8 if sym.size else sec.size // 8
            out.setdefault(sym.shndx, []).append(Function(sym.name, sec, sym.value // 8, end, sym.bind != 0))
        for idx in self._section_insns:
            if idx not in out:  # hand-written assembly without FUNC symbols: the section is one function
                sec = self.elf.sections[idx]
                out[idx] = [Function(sec.name.replace("/", "_"), sec, 0, sec.size // 8, True)]
        for fns in out.values():
            fns.sort(key=lambda f: f.start)
        return out

    def _function_at(self, sec_index: int, slot: int, where: str) -> Function:
        for f in self.functions.get(sec_index, []):
            if f.start <= slot < f.end:
                return f
        sec = self.elf.sections[sec_index].name if sec_index < len(self.elf.sections) else sec_index
        raise ElfError(f"{self.path}: {where}: call target slot {slot} of section {sec!r} is in no function")

    # ---- linking ---------------------------------------------------------------------------------------------
    def _link_programs(self) -> None:
        text = self.elf.by_name.get(".text")
        for idx, fns in self.functions.items():
            sec = self.elf.sections[idx]
            if text is not None and idx == text.index:
                continue
            try:
                sdef: SectionDef | None = prog_type_for_section(sec.name)
            except ValueError:
                sdef = None
            self.sections[sec.name] = sdef
            for fn in fns:
                if fn.name in self.programs:
                    raise ElfError(f"{self.path}: two programs named {fn.name!r}")
                self.programs[fn.name] = self._link(fn, sdef)

    def _link(self, main: Function, sdef: SectionDef | None) -> Program:
        """The program: `main`, then every function it reaches through calls or function addresses.

        Reached functions are laid out in file order (section, offset) — what clang's own layout gives and what
        makes write_elf -> load_elf reproduce a Program exactly — and call/lddw immediates are rebased.
        """
        maps: dict[str, MapSpec] = {}
        order: list[Function] = [main]
        bodies: dict[int, list[tuple[Instruction, tuple[int, int] | None]]] = {}
        i = 0
        while i < len(order):
            fn = order[i]
            i += 1
            insns = self._section_insns[fn.section.index]
            relocs = {r.offset: r for r in self.elf.relocations.get(fn.section.index, [])}
            body = []
            s = fn.start
            while s < fn.end:
                insn = insns.get(s)
                if insn is None:
                    raise ElfError(f"{self.path}: section {fn.section.name!r}: function {fn.name!r} splits the "
                                   f"lddw at slot {s - 1}")
                where = f"section {fn.section.name!r} offset {s * 8:#x}"
                insn, target = self._relocate(insn, relocs.get(s * 8), fn, s, where, maps)
                if target is not None:
                    tfn = self._function_at(target[0], target[1], where)
                    if not any(f is tfn for f in order):
                        order.append(tfn)
                    target = (id(tfn), target[1] - tfn.start)
                body.append((insn, target))
                s += insn.slots
            bodies[id(fn)] = body
        layout = [main] + sorted(order[1:], key=lambda f: (f.section.index, f.start))
        placed: dict[int, int] = {}
        slot = 0
        for fn in layout:
            placed[id(fn)] = slot
            slot += fn.end - fn.start
        out: list[Instruction] = []
        labels: dict[str, int] = {}
        ext = ProgramExt()
        for fn in layout:
            base = placed[id(fn)]
            labels[fn.name] = base
            at = base
            for insn, target in bodies[id(fn)]:
                if target is not None:  # call / lddw func: imm is the target relative to the next instruction
                    insn = insn._replace(imm=placed[target[0]] + target[1] - (at + 1), ref=None)
                out.append(insn)
                at += insn.slots
            self._rebase_ext(fn, base, ext)
        ptype = sdef.prog_type if sdef is not None else None
        attach_to = sdef.target(main.section.name) if sdef is not None else None
        eat = sdef.attach_type if sdef is not None else None
        flags = 0
        if sdef is not None:
            for sec_flag, load_flag in _SEC_LOAD_FLAGS.items():
                if sec_flag in sdef.flags:
                    flags |= load_flag
        return Program(out, maps, ptype, self.license, main.name, labels, eat, attach_to or None,
                       section=main.section.name, prog_flags=int(flags), btf=self.btf,
                       func_info=sorted(ext.func_info) if self.btf is not None else [],
                       line_info=sorted(ext.line_info) if self.btf is not None else [],
                       kern_version=self.kern_version)

    def _relocate(self, insn: Instruction, rel: Relocation | None, fn: Function, s: int, where: str,
                  maps: dict[str, MapSpec]) -> tuple[Instruction, tuple[int, int] | None]:
        """Apply the relocation at this instruction; returns it and, for calls/func refs, (section, slot) target."""
        is_call = insn.opcode == OP_CALL and insn.src == CallSrc.PSEUDO_CALL
        if rel is None:
            if is_call:  # call inside the same section without a relocation
                return insn, (fn.section.index, s + insn.imm + 1)
            if insn.is_lddw and insn.src == PseudoSrc.FUNC:
                return insn, (fn.section.index, s + insn.imm + 1)
            return insn, None
        sym = rel.symbol
        if sym.shndx == SHN_UNDEF:
            return self._relocate_extern(insn, sym.name, where, maps), None
        if sym.shndx >= len(self.elf.sections):
            raise ElfError(f"{self.path}: {where}: relocation against symbol {sym.name!r} in special section "
                           f"{sym.shndx:#x}")
        tsec = self.elf.sections[sym.shndx]
        if is_call:
            if rel.type != RelocType.R_BPF_64_32:
                raise ElfError(f"{self.path}: {where}: call relocation of type {rel.type}, expected R_BPF_64_32")
            if not tsec.is_exec:
                raise ElfError(f"{self.path}: {where}: call to {sym.name!r} in non-code section {tsec.name!r}")
            return insn, (tsec.index, sym.value // 8 + insn.imm + 1)
        if not insn.is_lddw:
            raise ElfError(f"{self.path}: {where}: relocation (type {rel.type}, symbol {sym.name!r}) on an "
                           f"instruction that is neither lddw nor a call (opcode {insn.opcode:#04x})")
        if rel.type not in (RelocType.R_BPF_64_64,):
            raise ElfError(f"{self.path}: {where}: lddw relocation of type {rel.type}, expected R_BPF_64_64")
        if tsec.is_exec:  # address of a subprogram (callbacks for bpf_loop & co)
            target = (sym.value + (insn.imm & 0xFFFFFFFF)) // 8
            return insn._replace(src=PseudoSrc.FUNC, imm=0), (tsec.index, target)
        if tsec.name in (MAPS_SECTION, LEGACY_MAPS_SECTION):
            offset = sym.value + (insn.imm & 0xFFFFFFFF)
            name = self._map_symbols.get((tsec.index, offset))
            if name is None:
                raise ElfError(f"{self.path}: {where}: lddw refers to offset {offset} of {tsec.name!r}, where no map "
                               "is defined")
            maps[name] = self.map_specs[name]
            return insn._replace(src=PseudoSrc.MAP_FD, imm=0, ref=name), None
        if tsec.name in self.data_sections:
            offset = sym.value + (insn.imm & 0xFFFFFFFF)
            if offset > tsec.size:
                raise ElfError(f"{self.path}: {where}: offset {offset} is past the end of {tsec.name!r}")
            maps[tsec.name] = self.map_specs[tsec.name]
            return insn._replace(src=PseudoSrc.MAP_VALUE, imm=offset << 32, ref=tsec.name), None
        raise ElfError(f"{self.path}: {where}: lddw refers to symbol {sym.name!r} in section {tsec.name!r}, which "
                       "is neither maps, global data nor code")

    def _relocate_extern(self, insn: Instruction, name: str, where: str, maps: dict[str, MapSpec]) -> Instruction:
        ext = self.externs.get(name)
        if ext is None:
            raise ElfError(f"{self.path}: {where}: relocation against undefined symbol {name!r}, which .BTF does not "
                           "declare as __kconfig or __ksym")
        if ext.kind == "kfunc":
            if insn.opcode != OP_CALL:
                raise ElfError(f"{self.path}: {where}: kfunc {name!r} referenced by a non-call instruction")
            if not ext.target_id:  # weak and absent: poisoned like an unresolved CO-RE relocation
                return Instruction(OP_CALL, 0, CallSrc.HELPER, 0, POISON_HELPER_ID)
            return Instruction(OP_CALL, 0, CallSrc.KFUNC, 0, ext.target_id)
        if not insn.is_lddw:
            raise ElfError(f"{self.path}: {where}: extern {name!r} referenced by a non-lddw instruction")
        if ext.kind == "kconfig":
            maps[KCONFIG_SEC] = self.map_specs[KCONFIG_SEC]
            return insn._replace(src=PseudoSrc.MAP_VALUE, imm=(ext.offset + (insn.imm & 0xFFFFFFFF)) << 32,
                                 ref=KCONFIG_SEC)
        if not ext.target_id:
            return insn._replace(src=PseudoSrc.IMM, imm=0)  # weak typed ksym the kernel lacks: NULL
        return insn._replace(src=PseudoSrc.BTF_ID, imm=ext.target_id)

    def _rebase_ext(self, fn: Function, base: int, ext: ProgramExt) -> None:
        if self.btf_ext is None:
            return
        sec = fn.section.name
        for fi in self.btf_ext.func_info.get(sec, []):  # instruction slots (btf.ext), as bpf_func_info counts
            if fn.start <= fi.insn_off < fn.end:
                ext.func_info.append(fi._replace(insn_off=base + fi.insn_off - fn.start))
        for li in self.btf_ext.line_info.get(sec, []):
            if fn.start <= li.insn_off < fn.end:
                ext.line_info.append(li._replace(insn_off=base + li.insn_off - fn.start))

    # ---- globals ---------------------------------------------------------------------------------------------
    def _ctype(self, type_id: int) -> Any:
        """ctypes type for a BTF type (None for plain scalars, bytes for byte strings and opaque types)."""
        if self.btf is None:
            return None
        tid = self.btf.skip_modifiers(type_id)
        if self.btf[tid].kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.PTR):
            return None
        if self.btf.size_of(tid) > U32_MAX:  # no map key or value is this large; nor can ctypes be
            raise ElfError(f"{self.path}: BTF type {self.btf.describe(tid)} is {self.btf.size_of(tid)} bytes, more "
                           "than any map key or value")
        ctype = to_ctypes(self.btf, tid)
        if issubclass(ctype, ctypes.Array) and ctype._type_ in (ctypes.c_uint8, ctypes.c_int8, ctypes.c_char):
            return bytes
        return ctype

    def _is_signed(self, type_id: int) -> bool:
        if not type_id or self.btf is None:
            return False
        t = self.btf[self.btf.skip_modifiers(type_id)]
        return t.kind == BtfKind.INT and bool(t.int_encoding & 1)

    def globals(self, section: str) -> GlobalVars:
        try:
            return GlobalVars(self, self.data_sections[section])
        except KeyError:
            raise KeyError(f"no global data section {section!r} (have {sorted(self.data_sections)})") from None

    @property
    def rodata(self) -> GlobalVars:
        return self.globals(".rodata")

    @property
    def data(self) -> GlobalVars:
        return self.globals(".data")

    @property
    def bss(self) -> GlobalVars:
        return self.globals(".bss")

    def set_global(self, name: str, value: Any) -> None:
        """Set a global variable by name in whichever data section holds it (const volatile ones in .rodata)."""
        for section, data in self.data_sections.items():
            if name in data.variables:
                self.globals(section)[name] = value
                return
        raise KeyError(f"{self.path}: no global variable {name!r}")

    def _sync_initial(self, map_name: str) -> None:
        """A global changed before load: its map's MapSpec.initial (in map_specs and in every program) follows, so
        `VM(spec.programs[name])` and `load(spec.programs[name])` start from the same values as load_collection."""
        spec = replace(self.map_specs[map_name], initial=self.data_sections[map_name].image())
        self.map_specs[map_name] = spec
        for program in self.programs.values():
            if map_name in program.maps:
                program.maps[map_name] = spec

    def initial_value(self, map_name: str) -> bytes:
        """The bytes a global data map starts with (for the VM and for load)."""
        data = self.data_sections[map_name]
        return data.image() or bytes(data.size)

    # ---- maps ------------------------------------------------------------------------------------------------
    @property
    def maps(self) -> dict[str, MapSpec]:
        """Every map the object declares (and one per global data section), by name."""
        return dict(self.map_specs)

    def __repr__(self) -> str:
        return f"<ElfSpec {self.path} programs={list(self.programs)} maps={list(self.map_specs)}>"


#: SEC() flags that become BPF_PROG_LOAD flags
_SEC_LOAD_FLAGS = {SecFlag.SLEEPABLE: ProgLoadFlags.SLEEPABLE, SecFlag.XDP_FRAGS: ProgLoadFlags.XDP_HAS_FRAGS}


def _object_name(path: str) -> str:
    """libbpf's object name: the file's base name up to its first dot ("xdp_count.bpf.o" -> "xdp_count")."""
    return os.path.basename(path).split(".", 1)[0] or os.path.basename(path)


def _internal_map_name(obj_name: str, section: str) -> str:
    """libbpf's name for a global data map (internal_map_name): a prefix of the object name, then the section name
    (at least 7 characters of room kept for it), BPF_OBJ_NAME_LEN - 1 characters in all; custom sections with a
    second dot (".data.extra") keep their name alone; characters the kernel refuses become '_'."""
    sfx_len = max(7, len(section))
    pfx_len = 0 if "." in section[1:] else max(0, min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name)))
    name = (obj_name[:pfx_len] + section[:sfx_len])[:BPF_OBJ_NAME_LEN - 1]
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)


__all__ = ["ElfSpec", "GlobalVars", "DataSection", "Function", "DATA_PREFIXES"]
