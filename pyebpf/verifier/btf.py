"""Just enough of the running kernel's BTF (/sys/kernel/btf/vmlinux) for add_kfunc_call: the kind and name of a
type id.

Why a reader here instead of a resolver the loader passes in: the verifier may not import the loader (sibling
layers), and a kfunc's BTF id is a fact of the kernel, not of a load — reading the kernel's BTF file directly keeps
verify() self-contained (the same answer from the CLI, the facade and tests) without a cross-layer callback. Only
the type section's headers are walked (once, lazily, ~0.3 s for 130k types); nothing else of BTF is modelled.
"""
from __future__ import annotations

import struct
from functools import lru_cache

from pyebpf.abi.btf import BTF_MAGIC, TYPE_EXTRA_SIZES, VMLINUX_BTF_PATH, BtfKind

VMLINUX_BTF = VMLINUX_BTF_PATH


class Btf:
    """Type ids -> (kind, name offset, type) of one BTF blob (split BTF is not needed: kfuncs of vmlinux only)."""

    def __init__(self, data: bytes) -> None:
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
        if magic != BTF_MAGIC:
            raise ValueError("not BTF (bad magic)")
        self._strings = data[hdr_len + str_off:hdr_len + str_off + str_len]
        self._types: list[tuple[int, int, int]] = [(BtfKind.UNKN, 0, 0)]  # id 0 is void
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        unpack = struct.Struct("<III").unpack_from
        extra = TYPE_EXTRA_SIZES
        tagged: list[tuple[int, int]] = []
        while pos < end:
            name_off, info, size_or_type = unpack(data, pos)
            kind = (info >> 24) & 0x1F
            fixed, per = extra.get(kind, (0, 0))
            if kind == BtfKind.DECL_TAG:
                tagged.append((name_off, size_or_type))
            self._types.append((kind, name_off, size_or_type))
            pos += 12 + fixed + per * (info & 0xFFFF)
        #: FUNC ids tagged `bpf_kfunc` (pahole's decl_tag_kfuncs): the functions registered as kfuncs; any other
        #: FUNC is in no kfunc id set, so check_kfunc_call refuses it ("calling kernel function X is not allowed")
        self.kfunc_ids = frozenset(t for off, t in tagged if self._string(off) == "bpf_kfunc")

    def kind(self, type_id: int) -> int | None:
        """BTF kind of `type_id`, or None where there is no such type (btf_type_by_id() returning NULL)."""
        if 0 < type_id < len(self._types):
            return self._types[type_id][0]
        return None

    def name(self, type_id: int) -> str:
        return self._string(self._types[type_id][1])

    def _string(self, off: int) -> str:
        return self._strings[off:self._strings.index(b"\0", off)].decode()

    def func_proto_ok(self, func_id: int) -> bool:
        """The FUNC's type is a FUNC_PROTO (add_kfunc_call's second check)."""
        return self.kind(self._types[func_id][2]) == BtfKind.FUNC_PROTO


@lru_cache(maxsize=1)
def vmlinux_btf() -> Btf | None:
    """The running kernel's BTF, or None without CONFIG_DEBUG_INFO_BTF (or no permission to read it)."""
    try:
        with open(VMLINUX_BTF, "rb") as f:
            return Btf(f.read())
    except (OSError, ValueError, struct.error):
        return None


__all__ = ["Btf", "BtfKind", "vmlinux_btf", "VMLINUX_BTF"]
