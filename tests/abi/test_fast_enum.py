"""The abi enums built through `@kernel_enum` (the standard library's fast enum construction) are the classes the
ordinary `class X(IntEnum)` would define: checked with the standard library's own `enum._test_simple_enum` (members,
values, aliases, docstrings, flag pseudo-members) against a copy of each module built the ordinary way."""
from __future__ import annotations

import enum
import importlib
import importlib.util
import pickle

import pytest

from pyebpf.abi import fast_enum

MODULES = ("pyebpf.abi.uapi", "pyebpf.abi.opcodes", "pyebpf.abi.perf_event", "pyebpf.abi.maps")


def _enums(module) -> dict[str, type]:
    return {n: v for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, enum.Enum) and v.__module__ == module.__name__ and v.__name__ == n}


def _ordinary_copy(name: str, monkeypatch):
    """The module's source executed again (same __name__, not registered) with kernel_enum building ordinarily."""
    monkeypatch.setattr(fast_enum, "_SIMPLE", None)
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(fast_enum._SIMPLE is None, reason="this Python has no enum._simple_enum: all enums are ordinary")
@pytest.mark.parametrize("name", MODULES)
def test_fast_enums_equal_ordinary_ones(name, monkeypatch):
    fast = importlib.import_module(name)
    fast_enums = _enums(fast)
    ordinary = _enums(_ordinary_copy(name, monkeypatch))
    assert fast_enums and sorted(fast_enums) == sorted(ordinary)
    for n, cls in fast_enums.items():
        assert type(cls) is type(ordinary[n]) and cls.__mro__[1:] == ordinary[n].__mro__[1:]
        enum._test_simple_enum(cls, ordinary[n])  # TypeError naming the difference, if any
        assert dict(cls.__members__.items()).keys() == ordinary[n].__members__.keys()  # aliases too, in order
        for member in cls.__members__.values():
            assert pickle.loads(pickle.dumps(member)) is member
            assert repr(member) == repr(ordinary[n](member.value)) and str(member) == str(ordinary[n](member.value))
        if issubclass(cls, enum.Flag):  # combined values: pseudo-members named as the ordinary class names them
            values = [m.value for m in cls]
            for a in values:
                for b in values[:8]:
                    assert str(cls(a | b)) == str(ordinary[n](a | b))
