"""Random sequences of dict-like calls on a VM map and a kernel map made from the same MapSpec give the same
answers and the same errnos, step by step (hypothesis; the kernel is the oracle)."""
from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.maps import MapSpec
from pyebpf.errors import MapError

KINDS = ["hash", "array", "percpu_hash", "percpu_array", "lru_hash", "lru_percpu_hash"]
KEYS = st.integers(0, 5)  # max_entries 4: arrays refuse 4 and 5, hashes fill up
VALUES = st.integers(0, 2**64 - 1)
FLAGS = st.sampled_from([0, 1, 2, 4, 8])  # ANY, NOEXIST, EXIST, F_LOCK (no spin lock: EINVAL), unknown
OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), KEYS, VALUES, FLAGS),
    st.tuples(st.just("del"), KEYS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("keys")),
), max_size=25)


def apply(m, op: tuple) -> object:
    try:
        if op[0] == "put":
            m.put(op[1], op[2], op[3])
            return None
        if op[0] == "del":
            del m[op[1]]
            return None
        if op[0] == "get":
            return m.lookup(op[1])
        return (len(m), sorted(m))
    except KeyError:
        return "KeyError"
    except MapError as e:
        return ("MapError", e.errno)


@pytest.mark.kernel
@pytest.mark.parametrize("kind", KINDS)
def test_same_answers_step_by_step(kind: str) -> None:
    from pyebpf.loader import create_map as kernel_map
    from pyebpf.system import num_possible_cpus
    from pyebpf.vm.maps import create_map as vm_map

    spec = MapSpec.of("m", kind, ctypes.c_uint32, ctypes.c_uint64, 4)

    @settings(max_examples=40, deadline=None)
    @given(OPS)
    def check(ops: list[tuple]) -> None:
        with kernel_map(spec) as k:
            v = vm_map(spec, ncpus=num_possible_cpus())  # per-CPU lists of the same length on both sides
            for i, op in enumerate(ops):
                assert apply(v, op) == apply(k, op), f"step {i}: {op}"

    check()
