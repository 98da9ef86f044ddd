"""Name → type id in the kernel's own BTF (/sys/kernel/btf/vmlinux), for tp_btf / raw_tp attach targets.

A tp_btf program is loaded with attach_btf_id = the id of typedef `btf_trace_<tracepoint>`; fentry/fexit with the
id of FUNC `<function>`. This module reads only as much of the BTF format as that lookup needs: the header, the
string section, and each type's fixed part plus the size of its trailing data (to step to the next type). The full
BTF parser lives in pyebpf.loader.btf.
"""
from __future__ import annotations

import errno
import functools
import struct

from pyebpf.errors import LoaderError

from pyebpf.abi.btf import BTF_MAGIC, BTF_TYPE_HEADER_SIZE, VMLINUX_BTF_PATH as VMLINUX_BTF, BtfKind, type_record_size


def _trailing_size(kind: int, vlen: int) -> int:
    """Bytes that follow struct btf_type for a type of this kind (uapi linux/btf.h)."""
    if kind > BtfKind.ENUM64:
        raise LoaderError(f"unknown BTF kind {kind} in {VMLINUX_BTF}", errno.EINVAL)
    return type_record_size(kind, vlen) - BTF_TYPE_HEADER_SIZE


class BtfNameIndex:
    """(kind, name) → type id for every named type of one BTF blob."""

    def __init__(self, blob: bytes, source: str = VMLINUX_BTF):
        if len(blob) < 24:
            raise LoaderError(f"{source}: too short for a BTF header", errno.EINVAL)
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", blob, 0)
        if magic != BTF_MAGIC:
            raise LoaderError(f"{source}: bad BTF magic {magic:#x} (big-endian BTF is not supported)",
                              errno.EINVAL)
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", blob, 8)
        types = hdr_len + type_off
        strings = blob[hdr_len + str_off:hdr_len + str_off + str_len]
        self.source = source
        self._ids: dict[tuple[int, str], int] = {}
        pos, end, type_id = types, types + type_len, 1
        unpack = struct.unpack_from
        while pos < end:
            name_off, info = unpack("<II", blob, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            if name_off:
                stop = strings.index(b"\0", name_off)
                self._ids.setdefault((kind, strings[name_off:stop].decode()), type_id)
            pos += 12 + _trailing_size(kind, vlen)
            type_id += 1
        self.count = type_id - 1

    def find(self, name: str, kind: BtfKind) -> int | None:
        return self._ids.get((int(kind), name))

    def type_id(self, name: str, kind: BtfKind) -> int:
        found = self.find(name, kind)
        if found is None:
            raise LoaderError(f"no BTF {kind.name.lower()} {name!r} in {self.source}", errno.ESRCH)
        return found


@functools.lru_cache(maxsize=1)
def vmlinux_index() -> BtfNameIndex:
    """The index of the running kernel's BTF (read once per process; ~0.3 s)."""
    try:
        with open(VMLINUX_BTF, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise LoaderError(f"{VMLINUX_BTF} is absent: kernel built without CONFIG_DEBUG_INFO_BTF",
                          errno.ENOENT) from None
    return BtfNameIndex(blob)


def tp_btf_type_id(tracepoint: str) -> int:
    """attach_btf_id for a tp_btf program on `tracepoint` ('sched_switch', 'sys_enter'): typedef btf_trace_<tp>."""
    return vmlinux_index().type_id(f"btf_trace_{tracepoint}", BtfKind.TYPEDEF)


def tp_btf_load_args(tracepoint: str) -> dict[str, int]:
    """Keyword arguments for load() that make a BPF_PROG_TYPE_TRACING program a tp_btf program on `tracepoint`:
    load(program, **tp_btf_load_args("sys_enter")), then attach_tp_btf(prog)."""
    from pyebpf.abi.prog_types import AttachType

    return {"expected_attach_type": AttachType.TRACE_RAW_TP, "attach_btf_id": tp_btf_type_id(tracepoint)}


def func_type_id(function: str) -> int:
    """attach_btf_id for fentry/fexit/fmod_ret on kernel function `function` (BTF_KIND_FUNC)."""
    return vmlinux_index().type_id(function, BtfKind.FUNC)


__all__ = ["BtfKind", "BtfNameIndex", "vmlinux_index", "tp_btf_type_id", "tp_btf_load_args", "func_type_id",
           "VMLINUX_BTF"]
