"""The layering of docs/architecture.md holds: a layer imports only layers below it; verifier, vm and loader are
siblings that never import each other. Checked on every `import` in the package source, lazy ones included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pyebpf"

# layer -> the pyebpf layers it may import (itself always allowed)
ALLOWED = {
    "errors": set(),
    "abi": {"errors"},
    "btf": {"errors", "abi"},
    "system": {"errors", "abi", "btf"},
    "isa": {"errors", "abi", "btf", "system"},
    "cbpf": {"errors", "abi", "isa"},  # classic BPF sits beside isa
    "verifier": {"errors", "abi", "btf", "system", "isa"},
    "vm": {"errors", "abi", "btf", "system", "isa"},
    "loader": {"errors", "abi", "btf", "system", "isa", "cbpf"},
    "compiler": {"errors", "abi", "btf", "system", "isa"},
    "testing": {"errors", "abi", "btf", "system", "isa", "cbpf", "verifier", "vm", "loader"},
    "probe": {"errors", "abi", "btf", "system", "isa", "compiler", "verifier", "vm", "loader"},
    "trace": {"errors", "abi", "btf", "system", "isa", "compiler", "verifier", "vm", "loader", "probe"},
    "metrics": {"errors", "abi", "btf", "system"},  # the exporter's core: reads any map face, loads nothing
    "commands": {"errors", "abi", "btf", "system", "isa", "cbpf", "verifier", "vm", "loader", "testing", "compiler",
                 "probe", "trace", "cli", "facade", "metrics"},
    "cli": {"errors", "commands"},
    "facade": {"errors", "abi", "btf", "system", "isa", "cbpf", "verifier", "vm", "loader", "testing", "compiler",
               "probe", "trace", "cli", "metrics"},
}


#: Modules that belong to the bottom layer beside `errors`: stdlib-only plumbing (lazy re-exports, optional imports).
BOTTOM_MODULES = {"_lazy": "errors", "_gc": "errors"}


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if rel.parts[0] in ("__init__.py", "__main__.py"):
        return "facade"
    name = rel.parts[0].removesuffix(".py")
    return BOTTOM_MODULES.get(name, name)


def imported_layers(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module",) and node.args and isinstance(node.args[0], ast.Constant):
            names = [str(node.args[0].value)]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pyebpf":
                # `from pyebpf import X` / `import pyebpf` reach the facade, which sits above every layer
                layer = parts[1] if len(parts) > 1 else "facade"
                found.add((BOTTOM_MODULES.get(layer, layer), node.lineno))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_respect_the_layers(path: Path):
    layer = layer_of(path)
    allowed = ALLOWED[layer] | {layer}
    bad = sorted((other, line) for other, line in imported_layers(path) if other not in allowed)
    assert not bad, f"{layer} may not import {', '.join(f'pyebpf.{o} (line {n})' for o, n in bad)}"


def test_every_layer_is_known():
    assert {layer_of(p) for p in SOURCES} <= set(ALLOWED)
