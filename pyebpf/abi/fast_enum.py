"""Kernel enums built through the standard library's fast path.

`class X(IntEnum): ...` runs the full Enum machinery per member (about 10 us each in CPython 3.11); the command
line's start-up builds several hundred of them (`pyebpf trace`'s start-up is measured against bpftrace's). The
standard library builds its own enums (re's flags, signal, http's status codes) with `enum._simple_enum`, which
makes the same class about twice as fast. `@kernel_enum(IntEnum)` on a plain class body uses it where the Python
has it and the ordinary construction otherwise; tests/abi/test_fast_enum.py checks with the standard library's
own `enum._test_simple_enum` that every such class equals the ordinarily built one (members, values, aliases,
flag behaviour, docstring).
"""
from __future__ import annotations

import enum
from typing import Any, Callable

_SIMPLE: Any = getattr(enum, "_simple_enum", None)


def ordinary_enum(base: type, cls: type) -> Any:
    """The class `class <cls.__name__>(base): <cls's body>` would define (the reference for the fast one)."""
    meta: Any = type(base)
    ns = meta.__prepare__(cls.__name__, (base,))
    for k, v in cls.__dict__.items():
        if k not in ("__dict__", "__weakref__"):
            ns[k] = v
    return meta(cls.__name__, (base,), ns)


def kernel_enum(base: type) -> Callable[[type], Any]:
    """Class decorator: the plain class body as an enum of `base` (IntEnum, IntFlag), built the fast way."""
    if _SIMPLE is None:  # pragma: no cover - Python 3.10
        return lambda cls: ordinary_enum(base, cls)
    return _SIMPLE(base)  # type: ignore[no-any-return]


__all__ = ["kernel_enum", "ordinary_enum"]
