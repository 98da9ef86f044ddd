"""Stack addresses to names, as bcc's `ksym`/`sym` and bpftrace print them (`do_sys_openat2+0x1c`).

Kernel addresses resolve through /proc/kallsyms: the kernel image, modules (`[ext4]`) and BPF programs (`[bpf]`,
read fresh for each symbolizer because programs come and go). User addresses resolve through the process's
/proc/PID/maps and the ELF symbol tables of the mapped files (pyelftools), with the debug file found by build-id
or `.gnu_debuglink` under /usr/lib/debug when the binary itself is stripped. Nothing here raises on an address it
cannot name: a frame without a name prints as its hex address, as bpftrace prints it.
"""
from __future__ import annotations

import bisect
import functools
import os
from dataclasses import dataclass
from typing import Iterable

from pyebpf.system.kallsyms import Kallsyms, kallsyms

DEBUG_ROOT = "/usr/lib/debug"


@dataclass(frozen=True)
class Frame:
    """One resolved stack address."""

    addr: int
    name: str | None = None
    offset: int = 0
    module: str = ""  # kernel module / "bpf" for kernel frames, the mapped file's base name for user frames

    def format(self, offsets: bool = True, modules: bool = False) -> str:
        """`name+off` (bpftrace's kstack/ustack style; `name` alone without offsets), or `0x...` when unknown."""
        if self.name is None:
            return f"0x{self.addr:x}"
        text = f"{self.name}+{self.offset}" if offsets else self.name
        return f"{text} ([{self.module}])" if modules and self.module else text


# ---- kernel ----------------------------------------------------------------------------------------------------

class KernelSymbolizer:
    """Kernel addresses → frames; BPF programs' symbols are read when the symbolizer is made."""

    def __init__(self, kernel: Kallsyms | None = None, bpf: Kallsyms | None = None) -> None:
        self._tables = [t for t in (kernel if kernel is not None else kallsyms(),
                                    bpf if bpf is not None else kallsyms(bpf_only=True)) if t is not None]

    def resolve(self, addr: int) -> Frame:
        # each table gives the last symbol at or below addr; the one starting nearest is the containing symbol
        best: tuple[str, int, str] | None = None
        for table in self._tables:
            hit = table.containing(addr)
            if hit is not None and (best is None or hit[1] < best[1]):
                best = hit
        if best is None:
            return Frame(addr)
        name, off, module = best
        return Frame(addr, name, off, module)

    def stack(self, addrs: Iterable[int]) -> list[Frame]:
        return [self.resolve(a) for a in addrs if a]


# ---- user space ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Segment:
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True)
class ElfSymbols:
    """Function symbols of one ELF file (.symtab, else .dynsym), sorted by address, with its loadable segments."""

    addrs: tuple[int, ...]
    sizes: tuple[int, ...]
    names: tuple[str, ...]
    segments: tuple[_Segment, ...]

    def vaddr_of_file_offset(self, off: int) -> int | None:
        for seg in self.segments:
            if seg.offset <= off < seg.offset + seg.filesz:
                return off - seg.offset + seg.vaddr
        return None

    def resolve(self, vaddr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.addrs, vaddr) - 1
        if i < 0:
            return None
        off = vaddr - self.addrs[i]
        if self.sizes[i] and off >= self.sizes[i]:
            return None  # past the end of the nearest function: not inside any
        return self.names[i], off


def _read_elf_symbols(path: str) -> ElfSymbols | None:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            segments = tuple(_Segment(s["p_offset"], s["p_vaddr"], s["p_filesz"]) for s in elf.iter_segments()
                             if s["p_type"] == "PT_LOAD")
            # .symtab names static functions too (__libc_start_call_main): the file's own, else its debug file's
            # (a stripped library keeps only .dynsym), and .dynsym when neither has one
            rows = _function_symbols(elf, (".symtab",))
            if not rows:
                debug = _debug_file(elf, path)
                if debug:
                    with open(debug, "rb") as g:
                        rows = _function_symbols(ELFFile(g), (".symtab",))
            if not rows:
                rows = _function_symbols(elf, (".dynsym",))
    except (OSError, ELFError, ValueError, KeyError, IndexError):
        return None
    rows.sort()
    return ElfSymbols(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows), segments)


def _function_symbols(elf, sections: tuple[str, ...] = (".symtab", ".dynsym")) -> list[tuple[int, int, str]]:
    for section_name in sections:
        sec = elf.get_section_by_name(section_name)
        if sec is None or not hasattr(sec, "iter_symbols"):
            continue
        rows = [(s["st_value"], s["st_size"], s.name) for s in sec.iter_symbols()
                if s["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and s["st_value"] and s.name]
        if rows:
            return rows
    return []


def _debug_file(elf, path: str) -> str | None:
    """The separate debug file: by build-id (/usr/lib/debug/.build-id/ab/cdef.debug), else by .gnu_debuglink."""
    for sec in elf.iter_sections():
        if sec["sh_type"] == "SHT_NOTE":
            for note in sec.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    bid = note["n_desc"]
                    cand = os.path.join(DEBUG_ROOT, ".build-id", bid[:2], bid[2:] + ".debug")
                    if os.path.exists(cand):
                        return cand
    link = elf.get_section_by_name(".gnu_debuglink")
    if link is not None:
        name = link.data().split(b"\0", 1)[0].decode(errors="replace")
        here = os.path.dirname(os.path.realpath(path))
        for cand in (os.path.join(here, name), os.path.join(here, ".debug", name),
                     os.path.join(DEBUG_ROOT + here, name)):
            if os.path.exists(cand):
                return cand
    return None


@functools.lru_cache(maxsize=256)
def elf_symbols(path: str, _stamp: tuple[int, int, int] = (0, 0, 0)) -> ElfSymbols | None:
    """ELF symbols of a file, cached per (path, device, inode, mtime): a rebuilt binary is read again."""
    return _read_elf_symbols(path)


def _cached_elf_symbols(path: str) -> ElfSymbols | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return elf_symbols(path, (st.st_dev, st.st_ino, int(st.st_mtime_ns)))


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    offset: int
    path: str


def parse_maps(text: str) -> list[Mapping]:
    """/proc/PID/maps lines (`start-end perms offset dev inode path`), executable mappings of files only."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or "x" not in parts[1] or not parts[5].startswith("/"):
            continue
        try:
            start, end = (int(x, 16) for x in parts[0].split("-", 1))
            out.append(Mapping(start, end, int(parts[2], 16), parts[5].removesuffix(" (deleted)")))
        except ValueError:
            continue
    out.sort(key=lambda m: m.start)
    return out


class ProcessSymbolizer:
    """User addresses of one process → frames. The maps are read when made: make one per process per report."""

    def __init__(self, pid: int, maps_text: str | None = None) -> None:
        self.pid = pid
        if maps_text is None:
            try:
                with open(f"/proc/{pid}/maps") as f:
                    maps_text = f.read()
            except OSError:
                maps_text = ""  # the process is gone: every frame prints as its address
        self._maps = parse_maps(maps_text)
        self._starts = [m.start for m in self._maps]

    def resolve(self, addr: int) -> Frame:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0 or addr >= self._maps[i].end:
            return Frame(addr)
        m = self._maps[i]
        # through /proc/PID/root, so a process in another mount namespace (a container) is read right
        path = f"/proc/{self.pid}/root{m.path}" if os.path.exists(f"/proc/{self.pid}/root") else m.path
        syms = _cached_elf_symbols(path) or _cached_elf_symbols(m.path)
        module = os.path.basename(m.path)
        if syms is None:
            return Frame(addr, module=module)
        vaddr = syms.vaddr_of_file_offset(addr - m.start + m.offset)
        hit = syms.resolve(vaddr) if vaddr is not None else None
        if hit is None:
            return Frame(addr, module=module)
        return Frame(addr, hit[0], hit[1], module)

    def stack(self, addrs: Iterable[int]) -> list[Frame]:
        return [self.resolve(a) for a in addrs if a]


__all__ = ["Frame", "KernelSymbolizer", "ProcessSymbolizer", "ElfSymbols", "elf_symbols", "Mapping", "parse_maps"]
