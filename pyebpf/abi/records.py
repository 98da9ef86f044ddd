"""Bytes -> typed value for one ctypes type: the one decoder for map keys and values (MapFace's Codec), the VM's
ring buffer records and the kernel ring/perf buffer readers.

It lives in `abi` because MapFace (here) needs it and every layer above shares MapFace; turning BTF into the ctypes
type in the first place is pyebpf.btf.ctypes_conv's job.
"""
from __future__ import annotations

import ctypes
from itertools import repeat
from typing import Any, Callable

Decoder = Callable[[bytes], Any]
CTYPES_BASES = (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)


def is_ctypes_type(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, CTYPES_BASES)


class CtypesDecoder:
    """bytes -> instance of a ctypes Structure/Union/array type (zero-filled when the bytes are shorter)."""

    __slots__ = ("size", "ctype", "_from", "_pad")

    def __init__(self, ctype: Any):
        self.size = ctypes.sizeof(ctype)
        self.ctype = ctype
        self._from = ctype.from_buffer_copy
        self._pad = b"\0" * self.size

    def __call__(self, raw: bytes) -> Any:
        try:
            return self._from(raw)
        except ValueError:  # shorter than the type
            return self._from((bytes(raw) + self._pad)[:self.size])

    def run(self, buf: Any, first: int, step: int, count: int, length: int) -> list[Any] | None:
        """`count` records of `length` bytes, `step` bytes apart from offset `first` of `buf`, decoded where they lie
        (no bytes object per record); None when they are shorter than the type (decode them one by one)."""
        if length < self.size:
            return None
        return list(map(self._from, repeat(buf, count), range(first, first + count * step, step)))


    def array(self, buf: Any, first: int, step: int, count: int, length: int) -> Any:
        """The same `count` records as one ctypes array `ctype * count` (records packed, each zero-filled or cut to
        the type's size as __call__ does): one Python object for the run instead of one per record; indexing it
        gives instances that share the array's memory. `step` must be a multiple of 8 (ring and perf records are
        8-byte aligned). The records are gathered with one strided memoryview copy per machine word of the type."""
        size, copy = self.size, min(length, self.size)
        out = bytearray(count * size)
        if copy and count:
            w = next(w for w in (8, 4, 2, 1) if not (copy % w or size % w or step % w))
            fmt = _WORD_FORMATS[w]
            dst = memoryview(out).cast(fmt)
            src = memoryview(buf)[first:first + (count - 1) * step + copy].cast(fmt)
            dst_step, src_step = size // w, step // w
            for k in range(copy // w):
                dst[k::dst_step] = src[k::src_step]
        return (self.ctype * count).from_buffer(out)


_WORD_FORMATS = {8: "Q", 4: "I", 2: "H", 1: "B"}


def list_of_append(callback: Any) -> list[Any] | None:
    """The list when `callback` is that list's own `append` (`consume(out.append)`, read()), else None: a reader
    may then extend the list itself, the same records in the same order, without a call per record."""
    owner = getattr(callback, "__self__", None)
    if type(owner) is list and type(callback) is _BUILTIN_METHOD and callback.__name__ == "append":
        return owner
    return None


_BUILTIN_METHOD = type([].append)


def record_decoder(decode: Any) -> Decoder | None:
    """A bytes -> value function for `decode`: a ctypes type (Structure, Union, array, or a scalar, which gives its
    `.value`), a callable (used as it is), or None / `bytes` (None: keep the raw bytes). A record shorter than the
    type is zero-filled (a program may send it without its tail padding); a longer one is read from its start.
    TypeError for anything else. A Structure/Union/array type gives a CtypesDecoder, which also decodes runs of
    records in place (CtypesDecoder.run) for the event readers."""
    if decode is None or decode is bytes:
        return None
    if is_ctypes_type(decode):
        if issubclass(decode, ctypes._SimpleCData):
            one = CtypesDecoder(decode)
            return lambda raw: one(raw).value  # noqa: E731
        return CtypesDecoder(decode)
    if callable(decode):
        return decode
    raise TypeError(f"decode must be a ctypes type, a callable or None, not {decode!r}")


__all__ = ["Decoder", "CtypesDecoder", "list_of_append", "record_decoder", "is_ctypes_type", "CTYPES_BASES"]
