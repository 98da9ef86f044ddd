"""What a loader changes in an object's BTF before BPF_BTF_LOAD: the DATASEC sizes and VAR offsets clang leaves
zero, and the FUNC linkage the kernel refuses (as libbpf's bpf_object__sanitize_and_load_btf does)."""
from __future__ import annotations

from pyebpf.abi.btf import BtfFuncLinkage, BtfKind
from pyebpf.btf.spec import Btf
from pyebpf.errors import BtfError


def fixup_datasecs(btf: Btf, section_sizes: dict[str, int], symbol_offsets: dict[tuple[str, str], int],
                   globals_by_name: dict[str, int] | None = None, skip: frozenset[str] = frozenset()) -> None:
    """Fill in what clang leaves zero in raw .BTF: DATASEC sizes (the ELF section's size) and VAR offsets.

    `symbol_offsets[(section, symbol)]` is the symbol's st_value; `globals_by_name` resolves a VAR name to its offset
    when the section-qualified lookup fails (static variables named like the function-scoped symbol). DATASECs of
    sections the object does not have (e.g. extern `.kconfig`) raise BtfError: they need a kernel-side source we do
    not provide.
    """
    for _, t in btf.datasecs():
        sec = btf.str_at(t.name_off)
        if sec in skip:
            continue
        if sec not in section_sizes:
            raise BtfError(f".BTF: DATASEC {sec!r} names no ELF section")
        if t.size_type == 0:
            t.size_type = section_sizes[sec]
        for v in t.members:
            var = btf.types[v[0]]
            if var.kind != BtfKind.VAR:
                continue  # FUNC entries of .ksyms
            vname = btf.str_at(var.name_off)
            off = symbol_offsets.get((sec, vname))
            if off is None and globals_by_name:
                off = globals_by_name.get(vname)
            if off is None:
                raise BtfError(f".BTF: DATASEC {sec!r}: no ELF symbol for variable {vname!r}")
            v[1] = off
        t.members.sort(key=lambda v: v[1])


def sanitize_for_kernel(btf: Btf) -> None:
    """Make object BTF loadable: the kernel refuses FUNC linkage `extern` (what clang writes for __ksym kfunc
    declarations), so those become static, as libbpf does. (.kconfig/.ksyms DATASECs: see elf_externs.)"""
    for t in btf.types:
        if t.kind == BtfKind.FUNC and t.vlen == BtfFuncLinkage.EXTERN:
            t.vlen = BtfFuncLinkage.STATIC


__all__ = ["fixup_datasecs", "sanitize_for_kernel"]
