"""Putting an `ElfObject` into the kernel: BTF, maps (with initial global data, frozen .rodata, pinning), programs.

Programs are loaded with BPF_PROG_LOAD directly (not `pyebpf.loader.program.load`) because objects from clang come
with their own BTF, func_info *and* line_info — line_info is what makes verifier logs show the C source — plus a
kernel version and attach BTF ids; the result is wrapped in the same `KernelProgram` that `load()` returns.
Everything created is closed again if any step fails.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.prog_types import AttachType, ProgType, SecFlag, parse_prog_type
from pyebpf.abi.uapi import ProgLoadFlags
from pyebpf.errors import ElfError, LoaderError
from pyebpf.loader import syscall as sc
from pyebpf.loader.btf import BtfKind, vmlinux_btf
from pyebpf.loader.fdguard import FdHandle, FdScope
from pyebpf.loader.maps import KernelMap, create_map
from pyebpf.loader.program import KernelProgram, ProgramLoadError, patch_map_references, prog_load_with_log

def load_object(obj: Any, *, log_level: int = 0, prog_types: Mapping[str, Any], only: list[str] | None) -> None:
    """Create everything and fill obj._kernel_maps / obj.loaded / obj._btf_handle; on failure, close what was made
    and leave the object as it was (still loadable, maps still specs)."""
    with FdScope() as scope:
        btf_fd = 0
        btf_handle = None
        if obj.btf is not None:
            try:
                fd, _ = sc.btf_load(obj.btf.encode())
                btf_handle = scope.add(FdHandle(fd))
                btf_fd = fd
            except LoaderError as e:
                obj.warnings.append(f".BTF not accepted by the kernel, loading without it: {e}")
        kmaps: dict[str, KernelMap] = {}
        outer = [k for k, s in obj.map_specs.items() if s.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)]
        for key, spec in obj.map_specs.items():  # inner maps before the maps of maps that hold them
            if key not in outer:
                kmaps[key] = scope.add(_create(obj, key, spec, btf_fd))
        for key in outer:
            slots = obj.map_init.get(key, {})
            template = kmaps[next(iter(slots.values()))[1]] if slots else None
            kmaps[key] = scope.add(_create(obj, key, obj.map_specs[key], btf_fd, inner=template))
            for index, (_, inner_name) in slots.items():
                _set_slot(obj, key, kmaps[key], index, kmaps[inner_name].fd)
        names = only if only is not None else list(obj.programs)
        loaded: dict[str, KernelProgram] = {}
        for name in names:
            if name not in obj.programs:
                raise ElfError(f"{obj.path}: no program {name!r} (have {sorted(obj.programs)})")
            loaded[name] = scope.add(_load_program(obj, name, kmaps, btf_fd, log_level, prog_types.get(name)))
        for key, slots in obj.map_init.items():
            for index, (kind, prog_name) in slots.items():
                if kind == "prog" and prog_name in loaded:
                    _set_slot(obj, key, kmaps[key], index, loaded[prog_name].fd)
        # whoever keeps a program or a map keeps the object (and so every shared map) alive with it
        for owner in [*loaded.values(), *kmaps.values()]:
            owner.elf_object = obj
        obj._btf_handle, obj._kernel_maps, obj.loaded = btf_handle, kmaps, loaded
        scope.keep()


def _set_slot(obj: Any, key: str, kmap: KernelMap, index: int, fd: int) -> None:
    spec = obj.map_specs[key]
    try:
        kmap.update_raw(index.to_bytes(spec.key_size, "little"), fd.to_bytes(4, "little"))
    except LoaderError as e:
        raise ElfError(f"{obj.path}: setting slot {index} of map {key!r}: {e}", e.errno) from None


def _create(obj: Any, key: str, spec: MapSpec, btf_fd: int, inner: KernelMap | None = None) -> KernelMap:
    if spec.pinning == "by_name":
        path = os.path.join(obj.pin_root, spec.name)
        if os.path.exists(path):
            with KernelMap.from_fd(sc.obj_get(path)) as pinned:  # its shape, read back from the kernel
                have = pinned.spec
            if (have.type, have.key_size, have.value_size, have.max_entries, have.flags) != \
                    (spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags):
                raise ElfError(f"{obj.path}: map {key!r}: the map pinned at {path} is {have.type.name} "
                               f"{have.key_size}/{have.value_size}/{have.max_entries} flags {have.flags:#x}, the "
                               f"object wants {spec.type.name} {spec.key_size}/{spec.value_size}/"
                               f"{spec.max_entries} flags {spec.flags:#x}")
            return KernelMap.from_fd(sc.obj_get(path), spec)  # reuse the pinned map, as libbpf does
    types = obj.map_btf.get(key)
    kw: dict[str, Any] = {"inner_map": inner} if inner is not None else {}
    btf_kw: dict[str, Any] = {}
    maps_of_maps = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY)
    if btf_fd and types is not None and (types.key_type_id or types.value_type_id) and spec.type not in maps_of_maps:
        btf_kw = dict(btf_fd=btf_fd, btf_key_type_id=types.key_type_id, btf_value_type_id=types.value_type_id)
    elif btf_fd and key in obj.data_sections and obj.btf is not None:
        ds = obj.btf.find(key, BtfKind.DATASEC)
        if ds is not None:
            btf_kw = dict(btf_fd=btf_fd, btf_key_type_id=0, btf_value_type_id=ds)
    try:
        m = create_map(spec, **kw, **btf_kw)
    except LoaderError as e:
        if not btf_kw:
            raise ElfError(f"{obj.path}: creating map {key!r}: {e}", e.errno) from None
        try:  # the kernel may refuse the BTF description (old kernel, odd types): plain map then
            m = create_map(spec, **kw)
        except LoaderError as e2:
            raise ElfError(f"{obj.path}: creating map {key!r}: {e2}", e2.errno) from None
        obj.warnings.append(f"map {key!r} created without BTF: {e}")
    try:
        if key in obj.data_sections:
            data = obj.data_sections[key]
            image = data.image()
            if image is not None:  # an untouched .bss stays as the kernel made it: zeros
                m.update_raw(b"\0\0\0\0", image)
            if data.readonly:
                m.freeze()
        if spec.pinning == "by_name":
            sc.obj_pin(m.fd, os.path.join(obj.pin_root, spec.name))
    except BaseException:
        m.close()
        raise
    return m


def _attach_btf_id(obj: Any, prog: Any, section: str) -> int:
    """attach_btf_id for fentry/fexit/fmod_ret/tp_btf/lsm/iter programs, looked up in vmlinux BTF."""
    sdef = obj.sections.get(section)
    if sdef is None or SecFlag.ATTACH_BTF not in sdef.flags or not prog.attach_to:
        return 0
    vml = vmlinux_btf()
    target = prog.attach_to
    at = sdef.attach_type
    if at == AttachType.TRACE_RAW_TP:
        name, kind = f"btf_trace_{target}", BtfKind.TYPEDEF
    elif at in (AttachType.LSM_MAC, AttachType.LSM_CGROUP):
        name, kind = f"bpf_lsm_{target}", BtfKind.FUNC
    elif at == AttachType.TRACE_ITER:
        name, kind = f"bpf_iter_{target}", BtfKind.FUNC
    else:
        name, kind = target, BtfKind.FUNC
    tid = vml.find(name, kind)
    if tid is None:
        raise ElfError(f"{obj.path}: program {prog.name!r}: kernel BTF has no {kind.name} {name!r} to attach to")
    return tid


def _load_program(obj: Any, name: str, kmaps: dict[str, KernelMap], btf_fd: int, log_level: int,
                  prog_type: Any) -> KernelProgram:
    prog = obj.programs[name]
    section = next((f.section.name for fns in obj.functions.values() for f in fns if f.name == name), "")
    ptype = prog.prog_type
    if prog_type is not None:
        ptype = prog_type if isinstance(prog_type, ProgType) else parse_prog_type(str(prog_type))
    if ptype is None:
        raise ElfError(f"{obj.path}: program {name!r}: section {section!r} names no known program type; pass "
                       f"prog_types={{{name!r}: ...}} to load()")
    insns, _ = patch_map_references(prog, kmaps)
    code = prog.replace_instructions(insns).to_bytes()
    sdef = obj.sections.get(section)
    flags = 0
    if sdef is not None:
        if SecFlag.SLEEPABLE in sdef.flags:
            flags |= ProgLoadFlags.SLEEPABLE
        if SecFlag.XDP_FRAGS in sdef.flags:
            flags |= ProgLoadFlags.XDP_HAS_FRAGS
    eat = int(prog.expected_attach_type) if prog.expected_attach_type is not None else 0
    ext = obj.program_ext.get(name)
    func_info = ext.func_info if (ext and btf_fd) else []
    line_info = ext.line_info if (ext and btf_fd) else []
    attach_btf_id = _attach_btf_id(obj, prog, section)
    try:
        fd, log = prog_load_with_log(code, ptype, obj.license, name, log_level, None, eat, int(flags), btf_fd,
                                     func_info, attach_btf_id, 0, 0, [], line_info, obj.kern_version)
    except ProgramLoadError as e:
        if sdef is not None and SecFlag.ATTACHABLE_OPT in sdef.flags and eat:
            fd, log = prog_load_with_log(code, ptype, obj.license, name, log_level, None, 0, int(flags), btf_fd,
                                         func_info, attach_btf_id, 0, 0, [], line_info, obj.kern_version)
        else:
            raise e
    used = {ref: kmaps[ref] for ref in prog.maps if ref in kmaps}
    return KernelProgram(FdHandle(fd), ptype, sc.obj_name(name).decode(), used, [], prog, log)


__all__ = ["load_object"]
