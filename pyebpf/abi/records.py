"""Bytes -> typed value for one ctypes type: the one decoder for map keys and values (MapFace's Codec), the VM's
ring buffer records and the kernel ring/perf buffer readers.

It lives in `abi` because MapFace (here) needs it and every layer above shares MapFace; turning BTF into the ctypes
type in the first place is pyebpf.btf.ctypes_conv's job.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

Decoder = Callable[[bytes], Any]
CTYPES_BASES = (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)


def is_ctypes_type(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, CTYPES_BASES)


def record_decoder(decode: Any) -> Decoder | None:
    """A bytes -> value function for `decode`: a ctypes type (Structure, Union, array, or a scalar, which gives its
    `.value`), a callable (used as it is), or None / `bytes` (None: keep the raw bytes). A record shorter than the
    type is zero-filled (a program may send it without its tail padding); a longer one is read from its start.
    TypeError for anything else."""
    if decode is None or decode is bytes:
        return None
    if is_ctypes_type(decode):
        size = ctypes.sizeof(decode)
        from_buf = decode.from_buffer_copy
        pad = b"\0" * size

        def decode_ctypes(raw: bytes) -> Any:
            try:
                return from_buf(raw)
            except ValueError:  # shorter than the type
                return from_buf((bytes(raw) + pad)[:size])

        if issubclass(decode, ctypes._SimpleCData):
            return lambda raw: decode_ctypes(raw).value  # noqa: E731
        return decode_ctypes
    if callable(decode):
        return decode
    raise TypeError(f"decode must be a ctypes type, a callable or None, not {decode!r}")


__all__ = ["Decoder", "record_decoder", "is_ctypes_type", "CTYPES_BASES"]
