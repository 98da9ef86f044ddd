"""ELF symbol → file offset, for uprobes.

A uprobe is placed at a file offset of a binary (perf_event_attr.config2), not at a virtual address: the offset is
the symbol's address minus the vaddr of the PT_LOAD segment that holds it, plus that segment's file offset. Libraries
may be named like ctypes does ("c", "libc.so.6"); we resolve them to the file this process (or the system) maps.
"""
from __future__ import annotations

import errno
import functools
import os

from pyebpf.errors import LoaderError


class SymbolNotFound(LoaderError):
    """The binary has no function symbol of that name."""


def resolve_binary(binary: str) -> str:
    """Absolute path of `binary`: a path, a library mapped by this process, or a library name for ctypes ("c")."""
    if os.sep in binary:
        path = os.path.realpath(binary)
        if not os.path.isfile(path):
            raise LoaderError(f"no such binary {binary}", errno.ENOENT)
        return path
    mapped = _mapped_library(binary)
    if mapped:
        return mapped
    short = binary[3:] if binary.startswith("lib") else binary
    short = short.split(".so")[0]
    import ctypes.util  # (here: it imports subprocess; paths and mapped libraries need none of it)

    found = ctypes.util.find_library(short)
    if found:
        mapped = _mapped_library(found)
        if mapped:
            return mapped
        for d in ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/lib/x86_64-linux-gnu",
                  "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu"):
            candidate = os.path.join(d, found)
            if os.path.isfile(candidate):
                return os.path.realpath(candidate)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(d, binary)
        if d and os.path.isfile(candidate):
            return os.path.realpath(candidate)
    raise LoaderError(f"cannot find binary or library {binary!r}", errno.ENOENT)


def _mapped_library(name: str) -> str | None:
    """A file this process maps whose basename is `name` or starts with `name.` / `name-` (libc.so.6, libc-2.36.so)."""
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        base = os.path.basename(parts[5])
        if base == name or base.startswith(name + ".") or base.startswith(name + "-") \
                or base.startswith("lib" + name + ".so") or base.startswith("lib" + name + "-"):
            return os.path.realpath(parts[5])
    return None


@functools.lru_cache(maxsize=64)
def elf_symbols(path: str, mtime_ns: int) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """The defined symbols of .symtab and .dynsym, read in one pass: (functions: name -> st_value of FUNC/IFUNC
    symbols, .symtab's winning; data: name -> (st_value, st_size) of OBJECT symbols, the first table's winning).
    Names lose their @version. Keyed by mtime so a rebuilt binary is read again."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    functions: dict[str, int] = {}
    data: dict[str, tuple[int, int]] = {}
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for section in elf.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                is_symtab = section.name == ".symtab"
                for sym in section.iter_symbols():
                    kind = sym["st_info"]["type"]
                    if sym["st_shndx"] == "SHN_UNDEF" or kind not in ("STT_FUNC", "STT_GNU_IFUNC", "STT_OBJECT"):
                        continue
                    name = sym.name.split("@")[0]
                    if kind == "STT_OBJECT":
                        data.setdefault(name, (sym["st_value"], sym["st_size"]))
                    elif sym["st_value"] and (is_symtab or name not in functions):
                        functions[name] = sym["st_value"]
    except (ELFError, OSError) as e:
        raise LoaderError(f"cannot read ELF symbols of {path}: {e}", getattr(e, "errno", None) or errno.ENOEXEC) \
            from None
    return functions, data


def _function_symbols(path: str, mtime_ns: int) -> dict[str, int]:
    """name -> st_value of every defined FUNC/IFUNC symbol in .symtab and .dynsym (symtab wins)."""
    return elf_symbols(path, mtime_ns)[0]


def data_symbols(path: str) -> dict[str, tuple[int, int]]:
    """name -> (st_value, st_size) of the defined OBJECT symbols (local ones too) of `path` (LoaderError if it is
    no readable ELF file)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as e:
        raise LoaderError(f"cannot read ELF symbols of {path}: {e.strerror}", e.errno) from None
    return elf_symbols(path, mtime)[1]


def _load_segments(path: str) -> list[tuple[int, int, int]]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        return [(seg["p_vaddr"], seg["p_memsz"], seg["p_offset"]) for seg in elf.iter_segments()
                if seg["p_type"] == "PT_LOAD"]


def vaddr_to_file_offset(path: str, vaddr: int) -> int:
    for start, size, offset in _load_segments(path):
        if start <= vaddr < start + size:
            return vaddr - start + offset
    raise LoaderError(f"address {vaddr:#x} is in no PT_LOAD segment of {path}", errno.EINVAL)


def symbol_file_offset(path: str, symbol: str) -> int:
    """File offset of function `symbol` in the ELF file at `path` (what a uprobe on it needs)."""
    table = _function_symbols(path, os.stat(path).st_mtime_ns)
    try:
        vaddr = table[symbol]
    except KeyError:
        raise SymbolNotFound(f"no function symbol {symbol!r} in {path}", errno.ENOENT) from None
    return vaddr_to_file_offset(path, vaddr)


__all__ = ["SymbolNotFound", "resolve_binary", "symbol_file_offset", "vaddr_to_file_offset", "elf_symbols",
           "data_symbols"]
