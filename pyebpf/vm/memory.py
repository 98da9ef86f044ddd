"""The VM's address space: byte regions with bounds and permissions, and nothing in between.

A program sees 64-bit addresses; every valid one lies inside a `Region` (the stack frames, the context, the packet,
a map value, the conformance memory block, ...). Regions live below 2**32 because the UAPI hands some pointers to
programs as u32 context fields (`__sk_buff.data`, `xdp_md.data_end`), and programs use those 32-bit values as
pointers. Address 0 and the first page are never mapped, so a NULL or small scalar used as a pointer faults.

Layout: the 4 GiB space is cut into 64 KiB pages. A region starts on a page boundary and owns
`size // PAGE + 1` pages, so it always ends with unused slack inside its last page and the next region starts on a
later page: an off-by-one (or off-by-a-few-KiB) pointer past the end or before the start faults instead of reading
a neighbour. Lookup is one dict probe (`pages.get(addr >> PAGE_SHIFT)`) plus a bounds check, cheap enough for the
interpreter and inlinable by the compiler (the engines use `pages` directly).

Every fault raises `VmError` with the faulting address; the engines add pc and instruction text.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pyebpf.errors import VmError

PAGE_SHIFT = 16
PAGE = 1 << PAGE_SHIFT
#: First page handed out: the zero page stays unmapped (NULL and small scalars fault).
FIRST_PAGE = 1
#: Pages below 2**32 (context fields that carry pointers are u32).
LAST_PAGE = (1 << 32) >> PAGE_SHIFT

#: Region kinds; helpers and contexts use them to tell what a pointer points to.
KIND_MEM = "mem"
KIND_STACK = "stack"
KIND_CTX = "ctx"
KIND_PACKET = "packet"
KIND_MAP = "map"  # 0-byte map handle from `lddw rX, map[...]`: never dereferenceable
KIND_MAP_VALUE = "map_value"
KIND_RODATA = "rodata"

#: struct.Struct unpack_from/pack_into per access width, unsigned little-endian (the VM is little-endian like x86).
UNPACK = {1: struct.Struct("<B").unpack_from, 2: struct.Struct("<H").unpack_from,
          4: struct.Struct("<I").unpack_from, 8: struct.Struct("<Q").unpack_from}
PACK = {1: struct.Struct("<B").pack_into, 2: struct.Struct("<H").pack_into,
        4: struct.Struct("<I").pack_into, 8: struct.Struct("<Q").pack_into}


class Region:
    """A mapped byte range [base, end). `data` is the live bytearray (a map value region aliases the map's buffer,
    so stores through a map-value pointer change the map). `obj` is what the region stands for (the VmMap of a map
    handle or map value), for helpers that receive the pointer."""

    __slots__ = ("base", "end", "size", "data", "writable", "name", "kind", "obj")

    def __init__(self, base: int, data: bytearray, name: str, writable: bool, kind: str, obj: Any = None):
        self.base = base
        self.size = len(data)
        self.end = base + self.size
        self.data = data
        self.writable = writable
        self.name = name
        self.kind = kind
        self.obj = obj

    def __repr__(self) -> str:
        rw = "rw" if self.writable else "ro"
        return f"<Region {self.name} {self.kind} {self.base:#x}..{self.end:#x} {rw}>"


@dataclass
class Memory:
    """The set of mapped regions. `strict_alignment` models BPF_F_STRICT_ALIGNMENT: every load and store must be
    naturally aligned (atomics must always be, as on every architecture)."""

    strict_alignment: bool = False
    pages: dict[int, Region] = field(default_factory=dict)
    _next_page: int = FIRST_PAGE

    # ---- mapping ------------------------------------------------------------------------------------------------
    def map(self, data: bytearray, name: str, writable: bool = True, kind: str = KIND_MEM, obj: Any = None) -> int:
        """Map `data` (kept by reference, not copied) and return its base address (non-zero, below 2**32)."""
        if not isinstance(data, bytearray):
            data = bytearray(data)
        npages = len(data) // PAGE + 1
        first = self._next_page
        if npages != 1 or first in self.pages or first >= LAST_PAGE:  # the one-page case at the next page: no search
            first = self._find_pages(npages)
        region = Region(first << PAGE_SHIFT, data, name, writable, kind, obj)
        for p in range(first, first + npages):
            self.pages[p] = region
        self._next_page = first + npages
        return region.base

    def map_region(self, data: bytearray, name: str, writable: bool = True, kind: str = KIND_MEM,
                   obj: Any = None) -> Region:
        """Like `map` but returns the Region."""
        return self.pages[self.map(data, name, writable, kind, obj) >> PAGE_SHIFT]

    def _find_pages(self, npages: int) -> int:
        # Allocate upwards so a freed range is not reused soon (a stale pointer then faults); wrap when full.
        pages = self.pages
        for start in (self._next_page, FIRST_PAGE):
            p = start
            while p + npages <= LAST_PAGE:
                q = p
                end = p + npages
                while q < end and q not in pages:
                    q += 1
                if q == end:
                    return p
                p = q + 1
        raise VmError(f"VM address space exhausted mapping {npages} pages")

    def unmap(self, base: int) -> None:
        region = self.pages.get(base >> PAGE_SHIFT)
        if region is None or region.base != base:
            raise VmError("unmap of an address that is not a region base", address=base)
        for p in range(base >> PAGE_SHIFT, (base >> PAGE_SHIFT) + region.size // PAGE + 1):
            del self.pages[p]

    def regions(self) -> list[Region]:
        seen: dict[int, Region] = {}
        for r in self.pages.values():
            seen.setdefault(r.base, r)
        return sorted(seen.values(), key=lambda r: r.base)

    # ---- lookup -------------------------------------------------------------------------------------------------
    def region_at(self, addr: int) -> Region:
        """The region containing `addr` (a 0-byte map handle region contains only its base)."""
        region = self.pages.get(addr >> PAGE_SHIFT) if 0 <= addr < (1 << 64) else None
        if region is None or not (region.base <= addr < region.end or addr == region.base):
            raise VmError("address is not in any mapped region", address=addr)
        return region

    def check(self, addr: int, n: int, write: bool = False) -> Region:
        """The region holding [addr, addr+n), checked for bounds and permission; VmError otherwise."""
        region = self.pages.get(addr >> PAGE_SHIFT) if 0 <= addr < (1 << 64) else None
        if region is None:
            raise VmError(f"invalid memory access of {n} bytes: address not mapped", address=addr)
        if addr < region.base or addr + n > region.end:
            raise VmError(f"invalid memory access of {n} bytes outside {region.name} "
                          f"[{region.base:#x}, {region.end:#x})", address=addr)
        if write and not region.writable:
            raise VmError(f"write of {n} bytes to read-only {region.name}", address=addr)
        return region

    # ---- access -------------------------------------------------------------------------------------------------
    def read(self, addr: int, n: int) -> bytes:
        if n == 0:
            return b""
        r = self.check(addr, n)
        o = addr - r.base
        return bytes(r.data[o:o + n])

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        r = self.check(addr, len(data), write=True)
        o = addr - r.base
        r.data[o:o + len(data)] = data

    def load(self, addr: int, size: int) -> int:
        """Unsigned little-endian load of 1/2/4/8 bytes."""
        self._align(addr, size)
        r = self.check(addr, size)
        return UNPACK[size](r.data, addr - r.base)[0]

    def store(self, addr: int, size: int, value: int) -> None:
        self._align(addr, size)
        r = self.check(addr, size, write=True)
        PACK[size](r.data, addr - r.base, value & ((1 << (8 * size)) - 1))

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """NUL-terminated string at addr (without the NUL); faults if it runs off its region before a NUL."""
        r = self.check(addr, 1)
        o = addr - r.base
        stop = min(r.size, o + limit)
        nul = r.data.find(0, o, stop)
        if nul < 0:
            if stop - o >= limit:
                return bytes(r.data[o:stop])
            raise VmError(f"string runs past the end of {r.name} without a NUL", address=addr)
        return bytes(r.data[o:nul])

    def _align(self, addr: int, size: int) -> None:
        if self.strict_alignment and addr % size:
            raise VmError(f"misaligned {size}-byte access (strict alignment)", address=addr)


__all__ = ["Memory", "Region", "PAGE", "PAGE_SHIFT", "UNPACK", "PACK", "KIND_MEM", "KIND_STACK", "KIND_CTX",
           "KIND_PACKET", "KIND_MAP", "KIND_MAP_VALUE", "KIND_RODATA"]
