"""docs/architecture.md stays true: every module in the package is named under its layer in "Modules, by layer"."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyebpf"
DOC = ROOT / "docs" / "architecture.md"


def documented_modules() -> dict[str, set[str]]:
    text = DOC.read_text()
    section = text.split("## Modules, by layer", 1)[1].split("\n## ", 1)[0]
    out: dict[str, set[str]] = {}
    for bullet in re.split(r"\n- ", "\n" + section.strip()):
        m = re.match(r"`(\w+)`", bullet.strip())
        if m:
            out[m.group(1)] = set(re.findall(r"`([\w/]+)", bullet))
    return out


def package_modules(layer: str) -> set[str]:
    """Modules of a layer package: `name` for name.py, `pkg/` (or `pkg`) for a subpackage; `__init__` aside."""
    names = set()
    for p in (PACKAGE / layer).iterdir():
        if p.suffix == ".py" and p.stem != "__init__":
            names.add(p.stem)
        elif p.is_dir() and (p / "__init__.py").exists():
            names.add(p.name)
    return names


def test_every_module_is_documented_under_its_layer():
    doc = documented_modules()
    assert doc, "no 'Modules, by layer' bullets found"
    missing = {}
    for layer, named in doc.items():
        if not (PACKAGE / layer).is_dir():
            continue
        named = {n.rstrip("/") for n in named}
        undocumented = package_modules(layer) - named
        if undocumented:
            missing[layer] = sorted(undocumented)
    assert not missing, f"modules missing from docs/architecture.md 'Modules, by layer': {missing}"


def test_every_layer_package_has_a_bullet():
    doc = documented_modules()
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert layers - {"commands"} <= set(doc), sorted(layers - {"commands"} - set(doc))
