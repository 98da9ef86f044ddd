"""Extern symbols of BPF objects: Kconfig values (`__kconfig`), kernel functions and variables (`__ksym`).

clang leaves them undefined (SHN_UNDEF) and describes them in two pseudo DATASECs of .BTF: `.kconfig` (values the
loader supplies in a frozen read-only array map, read from /proc/config.gz plus libbpf's LINUX_* values) and
`.ksyms` (kfuncs, called with BPF_PSEUDO_KFUNC_CALL and the vmlinux BTF id; typed kernel variables, loaded with
lddw src=BPF_PSEUDO_BTF_ID). A `__weak` extern the kernel does not have resolves to 0 instead of failing. Because the
kernel's BTF checker accepts neither extern VARs nor FUNCs inside a DATASEC, `prepare_btf` rewrites those two
DATASECs the way the kernel accepts (allocated VARs laid out one after another, FUNCs replaced by a dummy int VAR).
"""
from __future__ import annotations

from dataclasses import dataclass
from pyebpf.errors import ElfError
from pyebpf.abi.btf import BTF_INT_BOOL
from pyebpf.btf import Btf, BtfKind, BtfType, BtfVarLinkage, kernel_btf
from pyebpf.system.kconfig import kernel_config
from pyebpf.system.kernel import kernel_version_code

KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"


@dataclass
class Extern:
    """One extern: where it lives (kconfig / ksym / kfunc), its BTF type id in the object, and the resolution."""

    name: str
    kind: str  # "kconfig", "ksym", "kfunc"
    type_id: int  # the VAR (or FUNC) in the object's BTF
    weak: bool
    offset: int = 0  # kconfig: offset in the .kconfig map
    size: int = 0
    target_id: int = 0  # ksym/kfunc: vmlinux BTF id, 0 if absent (weak)


def _special_values() -> dict[str, str]:
    return {"LINUX_KERNEL_VERSION": str(kernel_version_code()), "LINUX_HAS_BPF_COOKIE": "1",
            "LINUX_HAS_SYSCALL_WRAPPER": "1"}


def collect_externs(btf: Btf, weak_names: set[str]) -> dict[str, Extern]:
    """Externs described by the .kconfig / .ksyms DATASECs, with kconfig offsets laid out (aligned, in order)."""
    out: dict[str, Extern] = {}
    for sec_name in (KCONFIG_SEC, KSYMS_SEC):
        ds_id = btf.find(sec_name, BtfKind.DATASEC)
        if ds_id is None:
            continue
        offset = 0
        for entry in btf[ds_id].members:
            t = btf[entry[0]]
            name = btf.str_at(t.name_off)
            if sec_name == KCONFIG_SEC:
                size = btf.size_of(t.size_type)
                align = min(size, 8) or 1
                offset = (offset + align - 1) // align * align
                out[name] = Extern(name, "kconfig", entry[0], name in weak_names, offset, size)
                offset += size
            else:
                kind = "kfunc" if t.kind == BtfKind.FUNC else "ksym"
                out[name] = Extern(name, kind, entry[0], name in weak_names)
    return out


def kconfig_value(btf: Btf, ext: Extern, config: dict[str, str]) -> bytes:
    """The bytes of one Kconfig extern, typed by its BTF (bool, tristate enum, int, char array)."""
    raw = {**config, **_special_values()}.get(ext.name)
    if raw is None or raw == "":
        if ext.weak or raw == "":
            return bytes(ext.size)
        raise ElfError(f"extern {ext.name!r} (__kconfig): the running kernel's config has no value for it "
                       "(declare it __weak to default to 0)")
    var_type = btf.skip_modifiers(btf[ext.type_id].size_type)
    t = btf[var_type]
    where = f"extern {ext.name!r} (__kconfig, {btf.describe(var_type)})"
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        tri = {"y": 1, "n": 0, "m": 2}
        if raw not in tri:
            raise ElfError(f"{where}: value {raw!r} is not y/n/m")
        return tri[raw].to_bytes(ext.size, "little")
    if t.kind == BtfKind.INT and (t.int_encoding & BTF_INT_BOOL or ext.size == 1 and raw in ("y", "n")):
        if raw not in ("y", "n"):
            raise ElfError(f"{where}: value {raw!r} is not y/n")
        return (1 if raw == "y" else 0).to_bytes(ext.size, "little")
    if t.kind == BtfKind.INT:
        if raw in ("y", "n", "m"):
            return {"y": 1, "n": 0, "m": 2}[raw].to_bytes(ext.size, "little")
        try:
            value = int(raw, 0)
        except ValueError:
            raise ElfError(f"{where}: value {raw!r} is not a number") from None
        signed = bool(t.int_encoding & 1)
        try:
            return value.to_bytes(ext.size, "little", signed=signed)
        except OverflowError:
            raise ElfError(f"{where}: value {value} does not fit {ext.size} bytes") from None
    if t.kind == BtfKind.ARRAY:
        text = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
        data = text.encode()
        if len(data) >= ext.size:
            raise ElfError(f"{where}: string {text!r} does not fit {ext.size} bytes")
        return data.ljust(ext.size, b"\0")
    raise ElfError(f"{where}: unsupported type for a Kconfig value")


def resolve_ksyms(externs: dict[str, Extern], btf_path: str | None = None) -> None:
    """Fill target_id of ksym/kfunc externs from vmlinux BTF; a missing strong one is an ElfError."""
    wanted = [e for e in externs.values() if e.kind in ("ksym", "kfunc")]
    if not wanted:
        return
    vml = kernel_btf(btf_path) if btf_path else kernel_btf()
    for e in wanted:
        kind = BtfKind.FUNC if e.kind == "kfunc" else BtfKind.VAR
        tid = vml.find(e.name, kind)
        if tid is None and not e.weak:
            what = "kernel function" if e.kind == "kfunc" else "typed kernel variable"
            raise ElfError(f"extern {e.name!r} (__ksym): the kernel's BTF has no {what} of that name")
        e.target_id = tid or 0


def prepare_btf(btf: Btf, externs: dict[str, Extern]) -> None:
    """Rewrite .kconfig/.ksyms DATASECs so the kernel's BTF checker accepts them (sizes, offsets, linkage)."""
    dummy = None
    for sec_name in (KCONFIG_SEC, KSYMS_SEC):
        ds_id = btf.find(sec_name, BtfKind.DATASEC)
        if ds_id is None:
            continue
        ds = btf[ds_id]
        offset = 0
        for entry in ds.members:
            t = btf[entry[0]]
            if t.kind == BtfKind.FUNC:
                if dummy is None:
                    dummy = _dummy_var(btf)
                # the kernel's btf_func_check() wants every parameter named ("Invalid arg#N"); clang leaves a
                # kfunc declaration's unnamed: libbpf reuses dummy_ksym's name for them
                proto = btf[t.size_type]
                if proto.kind == BtfKind.FUNC_PROTO:
                    proto.members = [(btf[dummy].name_off if ty and not n else n, ty) for n, ty in proto.members]
                entry[0] = dummy
                t = btf[dummy]
            t.linkage = BtfVarLinkage.GLOBAL_ALLOCATED
            size = btf.size_of(t.size_type)
            ext = externs.get(btf.str_at(t.name_off))
            if sec_name == KCONFIG_SEC and ext is not None:
                offset = ext.offset
            else:
                align = min(size, 8) or 1
                offset = (offset + align - 1) // align * align
            entry[1], entry[2] = offset, size
            offset += size
        ds.size_type = max(offset, 1)


def _dummy_var(btf: Btf) -> int:
    """An `int` VAR standing in for kfuncs in .ksyms (the kernel wants only VARs in a DATASEC)."""
    int_id = next((i for i, t in enumerate(btf.types) if t.kind == BtfKind.INT and t.size_type == 4), None)
    if int_id is None:
        btf.types.append(BtfType(BtfKind.INT, _add_string(btf, "int"), 0, 0, 4, int_data=(1 << 24) | 32))
        int_id = len(btf.types) - 1
    btf.types.append(BtfType(BtfKind.VAR, _add_string(btf, "dummy_ksym"), 0, 0, int_id,
                             linkage=BtfVarLinkage.GLOBAL_ALLOCATED))
    return len(btf.types) - 1


def _add_string(btf: Btf, s: str) -> int:
    off = len(btf.strings)
    btf.strings = btf.strings + s.encode() + b"\0"
    return off


def kconfig_image(btf: Btf, externs: dict[str, Extern], config: dict[str, str] | None = None) -> bytes:
    """The .kconfig map value: every kconfig extern at its offset."""
    kc = [e for e in externs.values() if e.kind == "kconfig"]
    if not kc:
        return b""
    config = kernel_config() if config is None else config
    size = max(e.offset + e.size for e in kc)
    image = bytearray(size)
    for e in kc:
        image[e.offset:e.offset + e.size] = kconfig_value(btf, e, config)
    return bytes(image)


__all__ = ["Extern", "collect_externs", "kconfig_value", "kconfig_image", "resolve_ksyms", "prepare_btf",
           "KCONFIG_SEC", "KSYMS_SEC"]
