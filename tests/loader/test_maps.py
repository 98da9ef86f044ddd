"""Kernel maps through the dict-like face: ops and errnos per map type, per-CPU values, queues, batches, closing."""
from __future__ import annotations

import ctypes
import errno
import gc

import pytest

from pyebpf.abi.maps import MapSpec, MapType, UpdateFlags
from pyebpf.errors import LoaderError, MapError
from pyebpf.loader import FdValueMap, KernelMap, create_map
from pyebpf.loader.fdguard import open_fd_count
from pyebpf.system import num_possible_cpus

pytestmark = pytest.mark.kernel
u32, u64 = ctypes.c_uint32, ctypes.c_uint64


def test_hash_ops_and_errnos():
    with create_map(MapSpec.of("h", "hash", u32, u64, 4)) as m:
        m[1] = 10
        m[2] = 20
        assert m[1] == 10 and m.lookup(3) is None
        with pytest.raises(KeyError):
            m[3]
        with pytest.raises(MapError) as e:
            m.put(1, 11, UpdateFlags.NOEXIST)
        assert e.value.errno == errno.EEXIST
        with pytest.raises(MapError) as e:
            m.put(9, 1, UpdateFlags.EXIST)
        assert e.value.errno == errno.ENOENT
        m[3], m[4] = 30, 40
        with pytest.raises(MapError) as e:
            m[5] = 50
        assert e.value.errno == errno.E2BIG
        assert sorted(m) == [1, 2, 3, 4] and len(m) == 4
        del m[4]
        with pytest.raises(KeyError):
            del m[4]
        assert dict(m.items()) == {1: 10, 2: 20, 3: 30}
        assert 2 in m and 4 not in m
        assert m.lookup_and_delete(2) == 20 and 2 not in m
        with pytest.raises(KeyError):
            m.lookup_and_delete(2)


def test_array_ops_and_errnos():
    with create_map(MapSpec.of("a", "array", u32, u64, 3)) as m:
        assert list(m) == [0, 1, 2] and len(m) == 3
        assert [m[i] for i in range(3)] == [0, 0, 0]
        m[2] = 7
        assert m[2] == 7
        with pytest.raises(KeyError):
            m[3]
        with pytest.raises(MapError) as e:
            m[3] = 1
        assert e.value.errno == errno.E2BIG
        with pytest.raises(MapError) as e:
            del m[0]
        assert e.value.errno == errno.EINVAL
        with pytest.raises(MapError) as e:
            m.put(0, 1, UpdateFlags.NOEXIST)
        assert e.value.errno == errno.EEXIST


def test_struct_values():
    class Pair(ctypes.Structure):
        _fields_ = [("a", u32), ("b", u32)]

    with create_map(MapSpec.of("s", "hash", u32, Pair, 8)) as m:
        m[1] = Pair(3, 4)
        got = m[1]
        assert isinstance(got, Pair) and (got.a, got.b) == (3, 4)


@pytest.mark.parametrize("kind", ["percpu_array", "percpu_hash", "lru_percpu_hash"])
def test_percpu_values_are_lists(kind):
    n = num_possible_cpus()
    with create_map(MapSpec.of("pc", kind, u32, u32, 4)) as m:
        assert m.ncpus == n
        m[1] = list(range(100, 100 + n))
        assert m[1] == list(range(100, 100 + n))
        m[2] = 5  # a scalar goes to every CPU
        assert m[2] == [5] * n
        with pytest.raises(MapError) as e:
            m[1] = [1] * (n + 1)
        assert e.value.errno == errno.EINVAL


def test_lru_hash_evicts_instead_of_failing():
    with create_map(MapSpec.of("lru", "lru_hash", u32, u32, 64)) as m:
        for i in range(500):
            m[i] = i
        assert 0 < len(m) <= 64 and m[499] == 499


@pytest.mark.parametrize("kind,order", [("queue", [1, 2, 3]), ("stack", [3, 2, 1])])
def test_queue_and_stack(kind, order):
    with create_map(MapSpec.of("q", kind, 0, u32, 3)) as m:
        for v in (1, 2, 3):
            m.push(v)
        with pytest.raises(MapError) as e:
            m.push(4)
        assert e.value.errno == errno.E2BIG
        assert m.peek() == order[0]
        assert [m.pop() for _ in range(3)] == order
        with pytest.raises(KeyError):
            m.pop()
        with pytest.raises(KeyError):
            m.peek()
        assert m.pop(None) is None


def test_batch_ops_hash_and_array():
    with create_map(MapSpec.of("bh", "hash", u32, u64, 1000)) as m:
        items = {i: i * i for i in range(600)}
        assert m.update_batch(items) == 600
        got = m.lookup_batch(batch_size=64)
        assert dict(got) == items and len(got) == 600
        assert m.delete_batch(range(0, 600, 2)) == 300
        assert sorted(m) == list(range(1, 600, 2))
        popped = m.lookup_and_delete_batch(batch_size=50)
        assert dict(popped) == {i: i * i for i in range(1, 600, 2)}
        assert len(m) == 0
        with pytest.raises(MapError) as e:
            m.update_batch({1: 1, 2: 2}, UpdateFlags.EXIST)  # batch elem_flags take only BPF_F_LOCK
        assert e.value.errno == errno.EINVAL
    with create_map(MapSpec.of("full", "hash", u32, u64, 4)) as m:
        with pytest.raises(MapError) as e:
            m.update_batch({i: i for i in range(6)})
        assert e.value.errno == errno.E2BIG and e.value.count == 4 and len(m) == 4
    with create_map(MapSpec.of("ba", "array", u32, u32, 100)) as m:
        m.update_batch({i: i + 1 for i in range(100)})
        assert m.items_batch(batch_size=7) == {i: i + 1 for i in range(100)}


def test_percpu_batch():
    n = num_possible_cpus()
    with create_map(MapSpec.of("pb", "percpu_hash", u32, u64, 64)) as m:
        m.update_batch({i: [i * 10 + c for c in range(n)] for i in range(20)})
        assert m.items_batch(batch_size=8) == {i: [i * 10 + c for c in range(n)] for i in range(20)}


def test_map_of_maps_takes_fds_and_returns_ids():
    inner_spec = MapSpec.of("inner", "array", u32, u32, 4)
    outer_spec = MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=inner_spec)
    with create_map(outer_spec) as outer, create_map(inner_spec) as inner:
        assert isinstance(outer, FdValueMap)
        outer[0] = inner
        assert outer[0] == inner.id
        with pytest.raises(KeyError):
            outer[1]  # empty slot


def test_from_fd_reads_the_spec_and_the_same_test_runs_on_vm_and_kernel():
    spec = MapSpec.of("shared", "hash", u32, u64, 8)
    from pyebpf.vm.maps import create_map as vm_create

    def scenario(m):
        m[1] = 5
        m.put(2, 6, UpdateFlags.NOEXIST)
        errs = []
        for op in (lambda: m.put(2, 7, UpdateFlags.NOEXIST), lambda: m.put(3, 7, UpdateFlags.EXIST)):
            try:
                op()
            except MapError as e:
                errs.append(e.errno)
        del m[1]
        return sorted(m.items()), errs

    with create_map(spec) as km:
        kernel = scenario(km)
        again = KernelMap.from_id(km.id)
        with again:
            assert again.spec.key_size == 4 and again.spec.type == MapType.HASH and again.name == "shared"
            assert dict(again.items()) == {2: 6}
    assert scenario(vm_create(spec)) == kernel == ([(2, 6)], [errno.EEXIST, errno.ENOENT])


def test_close_context_manager_and_finalizer_release_fds():
    before = open_fd_count()
    m = create_map(MapSpec.of("c", "array", u32, u32, 1))
    assert open_fd_count() == before + 1
    m.close()
    m.close()  # idempotent
    assert open_fd_count() == before and m.closed
    with pytest.raises(LoaderError):
        m[0]
    with create_map(MapSpec.of("c", "array", u32, u32, 1)):
        assert open_fd_count() == before + 1
    assert open_fd_count() == before
    create_map(MapSpec.of("c", "array", u32, u32, 1))  # dropped at once
    gc.collect()
    assert open_fd_count() == before


def test_create_errors_are_map_errors():
    with pytest.raises(MapError) as e:
        create_map(MapSpec("bad", MapType.ARRAY, 4, 4, 0))  # zero max_entries
    assert e.value.errno == errno.EINVAL
    with pytest.raises(MapError):
        create_map(MapSpec("mom", MapType.HASH_OF_MAPS, 4, 4, 1))  # no inner map


def test_bloom_filter_push_and_membership():
    spec = MapSpec(name="bloom", type=MapType.BLOOM_FILTER, key_size=0, value_size=4, max_entries=100)
    with create_map(spec) as m:
        for v in range(0, 100, 2):
            m.push(v)
        assert all(v in m for v in range(0, 100, 2))  # no false negatives
        assert sum(v in m for v in range(1, 100, 2)) < 25  # few false positives


@pytest.mark.parametrize("spec", [
    MapSpec("bad_key", MapType.ARRAY, 8, 8, 4),
    MapSpec("no_entries", MapType.HASH, 4, 8, 0),
    MapSpec("queue_flags", MapType.QUEUE, 0, 8, 4, flags=0x1),
    MapSpec("lpm_prealloc", MapType.LPM_TRIE, 8, 8, 4),
    MapSpec("ring_size", MapType.RINGBUF, 0, 0, 12345),
], ids=lambda s: s.name)
def test_create_error_says_why(spec):
    """A refused BPF_MAP_CREATE keeps the kernel's errno and says which rule (abi.map_create) it broke, when the
    rule reaches the same errno on this kernel."""
    from pyebpf.abi.map_create import check_map_create

    with pytest.raises(MapError) as kernel:
        create_map(spec)
    with pytest.raises(MapError) as ours:
        check_map_create(spec)
    assert ours.value.errno == kernel.value.errno
    assert ours.value.message in str(kernel.value) and "creating map" in str(kernel.value)
