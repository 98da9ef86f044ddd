"""`SockFilter`, one classic BPF instruction (`struct sock_filter`), and `ClassicProgram`, a list of them.

Classic BPF has two 32-bit registers (A, X), sixteen scratch words M[0..15], forward-only jumps (jt/jf are
unsigned 8-bit skips, `ja` skips k) and RET as its only exit. Encoding is native-endian `{u16 code, u8 jt, u8 jf,
u32 k}`, 8 bytes, the bytes SO_ATTACH_FILTER and seccomp take through `struct sock_fprog`.
"""
from __future__ import annotations

import struct
from typing import Iterable, Iterator, NamedTuple, Sequence

from pyebpf.abi.cbpf import (
    BPF_MAXINSNS, C_CLASS_MASK, C_MODE_MASK, C_OP_MASK, C_SIZE_MASK, C_SRC_MASK, SOCK_FILTER_SIZE, CClass,
)
from pyebpf.abi.opcodes import JmpOp
from pyebpf.errors import BuildError, DecodeError

_NATIVE = struct.Struct("=HBBI")
_LIMITS = (("code", 0xFFFF), ("jt", 0xFF), ("jf", 0xFF), ("k", 0xFFFFFFFF))


class SockFilter(NamedTuple):
    """struct sock_filter: opcode, jump-true skip, jump-false skip, generic field k (an unsigned 32-bit value)."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0

    @property
    def cls(self) -> int:
        return self.code & C_CLASS_MASK

    @property
    def size(self) -> int:
        return self.code & C_SIZE_MASK

    @property
    def mode(self) -> int:
        return self.code & C_MODE_MASK

    @property
    def op(self) -> int:
        return self.code & C_OP_MASK

    @property
    def src(self) -> int:
        return self.code & C_SRC_MASK

    @property
    def is_cond_jump(self) -> bool:
        return self.cls == CClass.JMP and self.op != JmpOp.JA

    @property
    def k_signed(self) -> int:
        return self.k - (1 << 32) if self.k & 0x80000000 else self.k

    def checked(self, index: int | None = None) -> "SockFilter":
        """Self, if every field fits its C type; otherwise BuildError naming the field (and the instruction)."""
        for (name, high), value in zip(_LIMITS, self):
            if not isinstance(value, int) or not 0 <= value <= high:
                where = f"instruction {index}: " if index is not None else ""
                raise BuildError(f"{where}{name} {value!r} does not fit in [0, {high}]")
        return self

    def encode(self) -> bytes:
        return _NATIVE.pack(*self.checked())


class ClassicProgram:
    """A classic BPF program: an immutable sequence of SockFilter, with its byte form."""

    __slots__ = ("insns",)

    def __init__(self, insns: Iterable[SockFilter | Sequence[int]]):
        items = []
        for i, insn in enumerate(insns):
            if i >= BPF_MAXINSNS * 16:  # bounded work on hostile input; the kernel's own limit is checked by check()
                raise BuildError(f"more than {BPF_MAXINSNS * 16} classic instructions")
            items.append(SockFilter(*insn).checked(i))
        self.insns: tuple[SockFilter, ...] = tuple(items)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ClassicProgram":
        data = bytes(data)
        if len(data) % SOCK_FILTER_SIZE:
            raise DecodeError(f"{len(data)} bytes is not a whole number of {SOCK_FILTER_SIZE}-byte sock_filter",
                              slot=len(data) // SOCK_FILTER_SIZE, offset=len(data) - len(data) % SOCK_FILTER_SIZE)
        if len(data) > BPF_MAXINSNS * 16 * SOCK_FILTER_SIZE:
            raise DecodeError(f"{len(data) // SOCK_FILTER_SIZE} classic instructions is more than this reader takes "
                              f"({BPF_MAXINSNS * 16})")
        return cls(SockFilter(*t) for t in _NATIVE.iter_unpack(data))

    def to_bytes(self) -> bytes:
        return b"".join(_NATIVE.pack(*i) for i in self.insns)

    def __len__(self) -> int:
        return len(self.insns)

    def __iter__(self) -> Iterator[SockFilter]:
        return iter(self.insns)

    def __getitem__(self, i: int) -> SockFilter:
        return self.insns[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassicProgram) and self.insns == other.insns

    def __hash__(self) -> int:
        return hash(self.insns)

    def __repr__(self) -> str:
        return f"ClassicProgram({len(self.insns)} insns)"


__all__ = ["SockFilter", "ClassicProgram"]
