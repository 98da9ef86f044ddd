"""VM maps against kernel maps on random operation sequences (hypothesis): same results, same errnos, same contents.

The process is pinned to CPU 0 while a sequence runs, so the kernel's per-CPU LRU lists behave deterministically
and the VM model (which runs every syscall-side operation on CPU 0) can be compared key for key.
"""
from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import MapError
from pyebpf.vm.maps import create_map as vm_create

pytestmark = pytest.mark.kernel

FLAGS = st.sampled_from([0, 0, 0, 1, 2, 4, 3])
KEYS = st.integers(0, 11)
VALUES = st.integers(0, 2**32 - 1)


def keyed_ops(percpu_cpus: int = 0):
    value = st.lists(VALUES, min_size=percpu_cpus, max_size=percpu_cpus) if percpu_cpus else VALUES
    return st.lists(st.one_of(
        st.tuples(st.just("update"), KEYS, value, FLAGS),
        st.tuples(st.just("lookup"), KEYS),
        st.tuples(st.just("delete"), KEYS),
    ), max_size=40)


def queue_ops():
    return st.lists(st.one_of(
        st.tuples(st.just("push"), VALUES, st.sampled_from([0, 0, 2, 1, 4])),
        st.tuples(st.just("pop")),
        st.tuples(st.just("peek")),
    ), max_size=30)


@contextlib.contextmanager
def on_cpu0():
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def apply(m, op) -> object:
    try:
        kind = op[0]
        if kind == "update":
            m.put(op[1], op[2], op[3])
            return 0
        if kind == "lookup":
            return m.lookup(op[1])
        if kind == "delete":
            m.delete(op[1])
            return 0
        if kind == "push":
            m.push(op[1], op[2])
            return 0
        if kind == "pop":
            return m.pop(None)
        if kind == "peek":
            try:
                return m.peek()
            except KeyError:
                return "empty"
    except MapError as e:
        return ("errno", e.errno)
    raise AssertionError(op)


def run_both(spec: MapSpec, ops, keyed: bool = True, check_contents_each_step: bool = False):
    from pyebpf.loader.maps import create_map as k_create
    from pyebpf.system import num_possible_cpus

    with on_cpu0(), k_create(spec) as km:
        vm = vm_create(spec, ncpus=num_possible_cpus())
        for i, op in enumerate(ops):
            got_k, got_v = apply(km, op), apply(vm, op)
            assert got_v == got_k, f"op {i} {op}: kernel {got_k!r}, vm {got_v!r} (ops so far {ops[:i + 1]})"
            if keyed and check_contents_each_step:
                assert sorted(vm) == sorted(km), f"after op {i} {op}: ops {ops[:i + 1]}"
        if keyed:
            contents_k = {k: km[k] for k in km}
            contents_v = {k: vm[k] for k in vm}
            assert contents_v == contents_k
            if spec.is_array:
                assert list(vm) == list(km)  # arrays iterate in index order in both


@settings(max_examples=60)
@given(keyed_ops(), st.integers(1, 6))
def test_hash_sequences(ops, max_entries):
    run_both(MapSpec.of("h", "hash", 4, 4, max_entries), ops)


@settings(max_examples=40)
@given(keyed_ops(), st.integers(1, 14))
def test_array_sequences(ops, max_entries):
    run_both(MapSpec.of("a", "array", 4, 4, max_entries), ops)


@settings(max_examples=30)
@given(keyed_ops(percpu_cpus=2), st.integers(1, 6))
def test_percpu_hash_sequences(ops, max_entries):
    from pyebpf.system import num_possible_cpus

    if num_possible_cpus() != 2:
        pytest.skip("sequence strategy is built for 2 possible CPUs")
    run_both(MapSpec.of("ph", "percpu_hash", 4, 4, max_entries), ops)


@settings(max_examples=30)
@given(keyed_ops(percpu_cpus=2), st.integers(1, 14))
def test_percpu_array_sequences(ops, max_entries):
    from pyebpf.system import num_possible_cpus

    if num_possible_cpus() != 2:
        pytest.skip("sequence strategy is built for 2 possible CPUs")
    run_both(MapSpec.of("pa", "percpu_array", 4, 4, max_entries), ops)


@settings(max_examples=60)
@given(queue_ops(), st.integers(1, 5), st.sampled_from(["queue", "stack"]))
def test_queue_stack_sequences(ops, max_entries, kind):
    run_both(MapSpec.of("q", kind, 0, 4, max_entries), ops, keyed=False)


@settings(max_examples=80)
@given(keyed_ops(), st.integers(1, 12))
def test_lru_sequences(ops, max_entries):
    """Syscall-side LRU operations: the VM's model of the kernel's LRU lists evicts the same keys."""
    run_both(MapSpec.of("l", "lru_hash", 4, 4, max_entries), ops, check_contents_each_step=True)


@settings(max_examples=30)
@given(keyed_ops(percpu_cpus=2), st.integers(1, 12))
def test_lru_percpu_sequences(ops, max_entries):
    from pyebpf.system import num_possible_cpus

    if num_possible_cpus() != 2:
        pytest.skip("sequence strategy is built for 2 possible CPUs")
    run_both(MapSpec.of("lp", "lru_percpu_hash", 4, 4, max_entries), ops, check_contents_each_step=True)


def test_lru_long_fill_matches_kernel():
    """A long deterministic sequence on a bigger map: fill, overwrite, delete, refill."""
    ops = [("update", i % 300, i, 0) for i in range(600)] + [("delete", i) for i in range(0, 300, 7)] + \
          [("update", 1000 + i, i, 1) for i in range(200)]
    run_both(MapSpec.of("l", "lru_hash", 4, 4, 128), ops)


@settings(max_examples=40)
@given(keyed_ops(), st.integers(1, 14))
def test_lru_no_common_lru_sequences(ops, max_entries):
    """BPF_F_NO_COMMON_LRU: per-CPU LRU lists (one CPU holds only its share of the nodes)."""
    run_both(MapSpec("l", MapType.LRU_HASH, 4, 4, max_entries, flags=2), ops, check_contents_each_step=True)


def _lpm_key(plen: int, addr: int) -> bytes:
    return plen.to_bytes(4, "little") + addr.to_bytes(4, "big")


LPM_ADDRS = st.sampled_from([0x0A000000, 0x0A010000, 0x0A010200, 0x0A0102FF, 0xC0A80001, 0x00000000, 0xFFFFFFFF])


@settings(max_examples=60)
@given(st.lists(st.one_of(
    st.tuples(st.just("update"), st.integers(0, 33), LPM_ADDRS, VALUES, st.sampled_from([0, 0, 1, 2, 4])),
    st.tuples(st.just("delete"), st.integers(0, 33), LPM_ADDRS),
    st.tuples(st.just("lookup"), st.integers(0, 33), LPM_ADDRS),
), max_size=30), st.integers(1, 6))
def test_lpm_trie_sequences(ops, max_entries):
    """Longest-prefix lookups, prefix-length checks, ENOSPC when full: the VM's LPM trie answers as the kernel's."""
    from pyebpf.loader.maps import create_map as k_create

    spec = MapSpec("t", MapType.LPM_TRIE, 8, 4, max_entries, flags=1)
    with k_create(spec) as km:
        vm = vm_create(spec)
        for i, op in enumerate(ops):
            key = _lpm_key(op[1], op[2])
            mapped = ("update", key, op[3], op[4]) if op[0] == "update" else (op[0], key)
            got_k, got_v = apply(km, mapped), apply(vm, mapped)
            assert got_v == got_k, f"op {i} {op}: kernel {got_k!r}, vm {got_v!r}; ops {ops[:i + 1]}"
        assert sorted(vm.keys_raw()) == sorted(km.keys_raw())


ZERO_SEED = 1 << 6


@settings(max_examples=40)
@given(keyed_ops(), st.integers(1, 20), st.sampled_from(["hash", "lru_hash", "percpu_hash_any"]))
def test_zero_seed_iteration_order_matches_kernel(ops, max_entries, kind):
    """With BPF_F_ZERO_SEED the kernel's bucket order is reproducible: the VM iterates in exactly that order."""
    from pyebpf.loader.maps import create_map as k_create
    from pyebpf.system import num_possible_cpus

    if kind == "percpu_hash_any":
        kind = "percpu_hash"
        ops = [op for op in ops if op[0] != "update"] + [("update", k, [k] * num_possible_cpus(), 0) for k in (3, 1, 7)]
    spec = MapSpec(kind, MapType[kind.upper()], 4, 4, max_entries, flags=ZERO_SEED)
    with on_cpu0(), k_create(spec) as km:
        vm = vm_create(spec, ncpus=num_possible_cpus())
        for op in ops:
            assert apply(vm, op) == apply(km, op)
        assert list(vm.keys_raw()) == list(km.keys_raw())


@pytest.mark.parametrize("key_size", [1, 3, 5, 7, 13, 16])
def test_zero_seed_order_with_odd_key_sizes(key_size):
    """Keys whose size is not a multiple of 4 hash with jhash over bytes, the others with jhash2 over words."""
    from pyebpf.loader.maps import create_map as k_create

    spec = MapSpec("h", MapType.HASH, key_size, 4, 64, flags=ZERO_SEED)
    with k_create(spec) as km:
        vm = vm_create(spec)
        for i in range(40):
            key = bytes((i * 37 + j * 11) & 0xFF for j in range(key_size))
            km.update_raw(key, bytes(4))
            vm.update_raw(key, bytes(4))
        assert list(vm.keys_raw()) == list(km.keys_raw())
