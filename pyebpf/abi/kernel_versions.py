"""What changed in the kernel's BPF verifier between the releases users run, as data keyed by release.

One row per fact: its value on kernels older than every listed change, then `(release, value)` from each release
that changed it. The verifier's per-kernel model (`pyebpf.verifier.kernel_model`) asks `fact_at(fact, release)`;
nothing else spells a kernel version. The instruction set's own table (which release decodes which instruction)
is `pyebpf.isa.features` and is not repeated here. Each row carries the upstream change it stands for; rows were
added where a kernel of the matrix (scripts/verifier-truth.py, tests/verifier/kernels/*.json) disagreed with the
newest one.
"""
from __future__ import annotations

import errno
import re
from enum import Enum
from typing import Any, NamedTuple

from pyebpf.errors import InputError


class Release(NamedTuple):
    """A kernel release as the feature tables compare it: (major, minor)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


#: the releases whose answers are checked against the kernel itself (tests/verifier/kernels/<release>.json)
MODELLED = (Release(5, 10), Release(6, 1), Release(6, 12), Release(6, 18))
NEWEST = MODELLED[-1]
OLDEST = MODELLED[0]

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:[.\-+~_][\w.\-+~]*)?\s*$")


def parse_release(text: "str | tuple[int, int] | Release") -> Release:
    """'6.1', '6.1.0-57-amd64', (6, 1) -> Release(6, 1); anything older than the oldest modelled release or newer
    than the newest is an InputError (the model says nothing about those kernels)."""
    if isinstance(text, tuple):
        rel = Release(int(text[0]), int(text[1]))
    else:
        m = _RELEASE.match(str(text))
        if not m:
            raise InputError(f"kernel version {text!r}: expected MAJOR.MINOR such as 6.1")
        rel = Release(int(m.group(1)), int(m.group(2)))
    if not OLDEST <= rel <= NEWEST:
        raise InputError(f"kernel version {rel}: the verifier models {OLDEST} to {NEWEST} "
                         f"(checked against {', '.join(map(str, MODELLED))})")
    return rel


class Fact(Enum):
    """A question whose answer depends on the kernel release; the value names it in reports."""

    JMP_SEQ_LIMIT_ERRNO = "errno of 'The sequence of 8193 jumps is too complex.'"
    MAP_IN_MAP_LOOKUP_INNER = "a lookup in a map of maps returns the inner map (map_ptr_or_null)"
    LAST_HELPER_ID = "the highest helper id the kernel knows (__BPF_FUNC_MAX_ID - 1)"


class Change(NamedTuple):
    since: Release
    value: Any
    why: str


class Row(NamedTuple):
    before: Any  # the value on every modelled release older than the first change
    changes: tuple[Change, ...]


_R = Release

FACTS: dict[Fact, Row] = {
    Fact.JMP_SEQ_LIMIT_ERRNO: Row(errno.EFAULT, (
        Change(_R(6, 18), errno.E2BIG, "push_stack: E2BIG for the jump-sequence limit (6.18.y stable)"),)),
    Fact.MAP_IN_MAP_LOOKUP_INNER: Row(False, (
        Change(_R(6, 18), True, "bpf: map-in-map lookup returns CONST_PTR_TO_MAP (6.18.y stable)"),)),
    Fact.LAST_HELPER_ID: Row(155, (  # 5.10: bpf_redirect_peer
        Change(_R(5, 11), 165, "task storage, bpf_snprintf ..."),
        Change(_R(6, 1), 209, "bpf_user_ringbuf_drain"),
        Change(_R(6, 2), 211, "bpf_cgrp_storage_get/delete, the last helpers: new interfaces are kfuncs"),
    )),
}


def fact_at(fact: Fact, release: Release) -> Any:
    """The value of `fact` on `release`: the latest change at or before it, else the row's `before`."""
    row = FACTS[fact]
    value = row.before
    for change in row.changes:
        if change.since <= release:
            value = change.value
    return value


__all__ = ["Release", "MODELLED", "NEWEST", "OLDEST", "parse_release", "Fact", "Change", "Row", "FACTS", "fact_at"]
