"""Helpers for running the same script through `pyebpf trace` and `bpftrace` (imported by bare name)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(argv: list[str], timeout: float = 120) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def ours(*args: str) -> tuple[int, str, str]:
    return run([sys.executable, "-m", "pyebpf", "trace", *args])


def bpftrace(*args: str) -> tuple[int, str, str]:
    if shutil.which("bpftrace") is None:
        pytest.skip("bpftrace is not installed (scripts/setup.sh installs it)")
    rc, out, err = run(["bpftrace", *args])
    return rc, out, "\n".join(l for l in err.split("\n") if "RLIMIT_MEMLOCK" not in l)


def map_blocks(out: str) -> list[str]:
    """The map lines after the run (`@name[key]: value`, multi-line keys and histograms as one block each),
    sorted: bpftrace orders equal values by hash, pyebpf by key."""
    text = out.split("\n\n\n", 1)[1] if "\n\n\n" in out else out
    blocks, cur = [], []
    for line in text.split("\n"):
        if line.startswith("@") and cur:
            blocks.append("\n".join(cur).rstrip("\n"))
            cur = []
        if line.startswith("@") or cur:
            cur.append(line)
    if cur:
        blocks.append("\n".join(cur).rstrip("\n"))
    return sorted(b for b in blocks if b)


def map_names(out: str) -> list[str]:
    return sorted({re.match(r"@\w*", b).group() for b in map_blocks(out)})  # type: ignore[union-attr]


__all__ = ["run", "ours", "bpftrace", "map_blocks", "map_names", "ROOT"]
