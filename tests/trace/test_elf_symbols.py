"""One ELF symbol reader for uprobes (functions) and uaddr() (data): pyebpf.loader.attach.elfsym.elf_symbols,
checked against binutils' nm on the test target and the C library."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from pyebpf.loader.attach.elfsym import _function_symbols, data_symbols, elf_symbols, resolve_binary


def nm(path: str, *flags: str) -> dict[str, tuple[str, int]]:
    if shutil.which("nm") is None:
        pytest.skip("needs binutils' nm")
    out = subprocess.run(["nm", *flags, path], capture_output=True, text=True).stdout
    table: dict[str, tuple[str, int]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table.setdefault(parts[2].split("@")[0], (parts[1], int(parts[0], 16)))
    return table


def test_functions_and_data_of_the_target_as_nm_says(target: str):
    import os

    functions, data = elf_symbols(target, os.stat(target).st_mtime_ns)
    theirs = nm(target)
    for name in ("add", "greet", "main"):
        assert functions[name] == theirs[name][1] and theirs[name][0] in "Tt"
    assert data["sink"][0] == theirs["sink"][1] and theirs["sink"][0] in "bBdD"
    assert "sink" not in functions and "add" not in data
    assert data_symbols(target) is data and _function_symbols(target, os.stat(target).st_mtime_ns) is functions


def test_library_dynamic_symbols_as_nm_says():
    libc = resolve_binary("c")
    functions, data = elf_symbols(libc, __import__("os").stat(libc).st_mtime_ns)
    theirs = nm(libc, "-D", "--defined-only")
    for name in ("malloc", "getpid"):
        assert functions[name] == theirs[name][1]
    assert data["environ"][0] == theirs["environ"][1] and theirs["environ"][0] in "bBdDvV"
