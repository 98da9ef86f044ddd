"""Lazy re-exports for the facade and the packages that re-export names of their modules on first use, and the
import of optional dependencies (pip extras).

`import pyebpf` (and `import pyebpf.testing`, done by the pytest plugin) must stay cheap: a user of the assembler does
not pay for the VM or the loader. Each such package declares a table and takes its module `__getattr__` / `__dir__`
from here, so the mechanism exists once. Part of the bottom layer (with `errors`): it imports nothing of pyebpf.
"""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_exports(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`, resolving `table`'s names on first use and caching them.

    A target is "module" (the attribute of the same name), "module:attr", or "module:" (the module itself)."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, sep, attr = target.partition(":")
        loaded = import_module(module)
        value = loaded if sep and not attr else getattr(loaded, attr or name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__


def optional_import(module: str, extra: str, feature: str) -> Any:
    """`module`, a dependency installed by the pip extra `extra`; MissingExtraError naming the extra when absent."""
    try:
        return import_module(module)
    except ImportError:
        from pyebpf.errors import MissingExtraError

        raise MissingExtraError(feature, module.split(".")[0], extra) from None


__all__ = ["lazy_exports", "optional_import"]
