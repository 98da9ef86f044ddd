"""Maps whose values are objects (prog arrays, maps of maps, perf event arrays): their user-space calls and errnos
on both sides; the programs and maps stored are each side's own (a VM / KernelProgram, a VM map / KernelMap)."""
from __future__ import annotations

import ctypes
import errno
from typing import Any

import pytest

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import MapError

from sides import INNER, make_map, spec_for


def outcome(fn) -> Any:
    try:
        fn()
    except KeyError:
        return "KeyError"
    except MapError as e:
        return e.errno
    return 0


def xdp_target(backend: str):
    prog = assemble("r0 = 42\nexit")
    prog.prog_type = ProgType.XDP
    return open_program(backend, prog)


def test_prog_array_calls(backend: str):
    with make_map(backend, spec_for("prog_array", 2)) as jt, xdp_target(backend) as target:
        assert outcome(lambda: jt[0]) == "KeyError"  # an empty slot
        jt[0] = target
        assert 0 in jt and 1 not in jt and list(jt) == [0, 1]
        assert outcome(lambda: jt.__setitem__(2, target)) == errno.E2BIG  # past max_entries
        assert outcome(lambda: jt.put(1, target, UpdateFlags.NOEXIST)) == errno.EINVAL  # fd arrays: ANY only
        assert outcome(lambda: jt.__delitem__(1)) == "KeyError"
        del jt[0]
        assert 0 not in jt


def test_prog_array_refuses_a_map(backend: str):
    with make_map(backend, spec_for("prog_array", 2)) as jt, make_map(backend, INNER) as not_a_program:
        assert outcome(lambda: jt.__setitem__(0, not_a_program)) == errno.EINVAL


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_map_of_maps_calls(backend: str, kind: str):
    with make_map(backend, spec_for(kind, 2)) as outer, make_map(backend, INNER) as inner:
        assert outcome(lambda: outer[0]) == "KeyError"
        outer[0] = inner
        assert 0 in outer
        if kind == "array_of_maps":
            assert outcome(lambda: outer.__setitem__(2, inner)) == errno.E2BIG
        else:
            outer[1] = inner
            assert outcome(lambda: outer.__setitem__(2, inner)) == errno.E2BIG  # full
        assert outcome(lambda: outer.put(0, inner, UpdateFlags.NOEXIST)) == (
            errno.EINVAL if kind == "array_of_maps" else errno.EEXIST)
        del outer[0]
        assert 0 not in outer


def test_perf_event_array_slots(backend: str):
    """User space may empty a perf event array's slot (an event is stored by whoever opened it) and sees no values."""
    with make_map(backend, spec_for("perf_event_array", 2)) as ev:
        assert outcome(lambda: ev[0]) in (errno.EOPNOTSUPP, 524)  # no lookups from user space
        assert outcome(lambda: ev.__setitem__(2, 0)) == errno.E2BIG
