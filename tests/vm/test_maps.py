"""Map semantics and errnos. Every test in this module runs against the VM's maps and, marked `kernel`, against
the kernel's maps (pyebpf.loader) with the same body: the VM must answer as the kernel does."""
from __future__ import annotations

import ctypes
import errno

import pytest

from pyebpf.abi.maps import MapSpec, MapType, UpdateFlags
from pyebpf.errors import MapError
from pyebpf.vm import maps as vm_maps

ANY, NOEXIST, EXIST, F_LOCK = UpdateFlags.ANY, UpdateFlags.NOEXIST, UpdateFlags.EXIST, UpdateFlags.F_LOCK


def _possible_cpus() -> int:
    from pyebpf.system import num_possible_cpus

    return num_possible_cpus()


@pytest.fixture(params=["vm", pytest.param("kernel", marks=pytest.mark.kernel)])
def make(request):
    """make(spec) -> a map of that spec in the VM or in the kernel (closed after the test)."""
    made = []
    ncpus = _possible_cpus()

    def factory(spec: MapSpec):
        if request.param == "vm":
            return vm_maps.create_map(spec, ncpus=ncpus)
        from pyebpf.loader.maps import create_map

        m = create_map(spec)
        made.append(m)
        return m

    yield factory
    for m in made:
        m.close()


def errno_of(fn) -> int:
    try:
        fn()
    except MapError as e:
        return e.errno
    return 0


# ---- hash -----------------------------------------------------------------------------------------------------

def test_hash_flags_and_full(make):
    m = make(MapSpec.of("h", "hash", ctypes.c_uint32, ctypes.c_uint64, 3))
    m[1] = 10
    assert errno_of(lambda: m.put(1, 11, NOEXIST)) == errno.EEXIST
    assert errno_of(lambda: m.put(2, 20, EXIST)) == errno.ENOENT
    m.put(1, 12, EXIST)
    m.put(2, 20, NOEXIST)
    m.put(3, 30)
    assert errno_of(lambda: m.put(4, 40)) == errno.E2BIG
    m.put(3, 31)  # replacing when full is fine
    assert errno_of(lambda: m.put(1, 1, 3)) == errno.EINVAL
    assert errno_of(lambda: m.put(1, 1, F_LOCK)) == errno.EINVAL
    assert sorted(m.items()) == [(1, 12), (2, 20), (3, 31)]
    assert len(m) == 3
    del m[2]
    with pytest.raises(KeyError):
        del m[2]
    assert errno_of(lambda: m.delete(2)) == errno.ENOENT
    assert m.lookup(2) is None
    m.put(4, 40)
    assert sorted(m) == [1, 3, 4]


def test_hash_create_errors(make):
    assert errno_of(lambda: make(MapSpec("h", MapType.HASH, 4, 8, 0))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("h", MapType.HASH, 0, 8, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("h", MapType.HASH, 4, 0, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("h", MapType.HASH, 513, 8, 1))) == 0  # only programs need keys <= 512
    assert errno_of(lambda: make(MapSpec("h", MapType.HASH, 4, 8, 1, flags=2))) == errno.EINVAL


def test_hash_wrong_sizes_are_einval(make):
    m = make(MapSpec.of("h", "hash", 4, 8, 4))
    with pytest.raises(MapError) as e:
        m.put(b"abc", 1)
    assert e.value.errno == errno.EINVAL


# ---- arrays ---------------------------------------------------------------------------------------------------

def test_array_semantics(make):
    m = make(MapSpec.of("a", "array", ctypes.c_uint32, ctypes.c_uint32, 4))
    assert list(m.items()) == [(0, 0), (1, 0), (2, 0), (3, 0)]
    m[2] = 7
    m.put(3, 8, EXIST)
    assert errno_of(lambda: m.put(1, 1, NOEXIST)) == errno.EEXIST
    assert errno_of(lambda: m.put(4, 1)) == errno.E2BIG
    assert errno_of(lambda: m.put(4, 1, NOEXIST)) == errno.E2BIG  # the index is checked first
    assert errno_of(lambda: m.put(0, 1, 3)) == errno.EINVAL
    assert errno_of(lambda: m.delete(0)) == errno.EINVAL
    assert m.lookup(4) is None
    assert [m[i] for i in range(4)] == [0, 0, 7, 8]
    assert len(m) == 4


def test_array_create_errors(make):
    assert errno_of(lambda: make(MapSpec("a", MapType.ARRAY, 8, 4, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("a", MapType.ARRAY, 4, 0, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("a", MapType.ARRAY, 4, 4, 0))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("a", MapType.ARRAY, 4, 4, 1, flags=1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("a", MapType.PERCPU_ARRAY, 4, 32769, 1))) == errno.E2BIG


# ---- per-CPU ----------------------------------------------------------------------------------------------------

def test_percpu_hash_and_array(make):
    n = _possible_cpus()
    h = make(MapSpec.of("ph", "percpu_hash", ctypes.c_uint32, ctypes.c_uint32, 2))
    h[1] = list(range(10, 10 + n))
    assert h[1] == list(range(10, 10 + n))
    h[2] = 5  # one value for every CPU
    assert h[2] == [5] * n
    assert errno_of(lambda: h.put(3, 1)) == errno.E2BIG
    assert errno_of(lambda: h.put(1, 1, NOEXIST)) == errno.EEXIST
    a = make(MapSpec.of("pa", "percpu_array", ctypes.c_uint32, ctypes.c_uint64, 2))
    assert a[1] == [0] * n
    a[1] = list(range(n))
    assert a[1] == list(range(n))
    assert errno_of(lambda: a.put(2, 0)) == errno.E2BIG
    assert errno_of(lambda: a.delete(0)) == errno.EINVAL


# ---- queue / stack -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["queue", "stack"])
def test_queue_stack(make, kind):
    m = make(MapSpec.of("q", kind, 0, ctypes.c_uint32, 3))
    with pytest.raises(KeyError):
        m.pop()
    with pytest.raises(KeyError):
        m.peek()
    for v in (1, 2, 3):
        m.push(v)
    assert errno_of(lambda: m.push(4)) == errno.E2BIG
    m.push(4, EXIST)  # full + BPF_EXIST drops the oldest (1)
    assert errno_of(lambda: m.push(5, F_LOCK)) == errno.EINVAL
    assert errno_of(lambda: m.push(5, 3)) == errno.EINVAL
    assert errno_of(lambda: m.push(5, NOEXIST)) == errno.EINVAL
    order = [2, 3, 4] if kind == "queue" else [4, 3, 2]
    assert m.peek() == order[0]
    assert [m.pop() for _ in range(3)] == order
    assert m.pop(None) is None


def test_queue_create_errors(make):
    assert errno_of(lambda: make(MapSpec("q", MapType.QUEUE, 4, 4, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("q", MapType.QUEUE, 0, 0, 1))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("q", MapType.STACK, 0, 4, 0))) == errno.EINVAL


# ---- LRU -----------------------------------------------------------------------------------------------------------

def test_lru_never_full(make):
    m = make(MapSpec.of("l", "lru_hash", ctypes.c_uint32, ctypes.c_uint32, 8))
    for i in range(50):
        m[i] = i
        assert m[i] == i  # the key just written is always there
        assert len(m) <= 8
    assert errno_of(lambda: m.put(1000, 1, 3)) == errno.EINVAL
    assert errno_of(lambda: m.put(49, 1, NOEXIST)) == errno.EEXIST


# ---- ring buffer and LPM creation ------------------------------------------------------------------------------------

def test_ringbuf_create_errors(make):
    assert errno_of(lambda: make(MapSpec("r", MapType.RINGBUF, 0, 0, 4096 * 3))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("r", MapType.RINGBUF, 0, 0, 1000))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("r", MapType.RINGBUF, 4, 0, 4096))) == errno.EINVAL
    make(MapSpec("r", MapType.RINGBUF, 0, 0, 4096 * 4))


def _lpm_key(plen: int, *octets: int) -> bytes:
    return plen.to_bytes(4, "little") + bytes(octets)


def test_lpm_trie(make):
    assert errno_of(lambda: make(MapSpec("t", MapType.LPM_TRIE, 8, 4, 4))) == errno.EINVAL  # needs NO_PREALLOC
    m = make(MapSpec("t", MapType.LPM_TRIE, 8, 4, 3, flags=1))
    m[_lpm_key(8, 10, 0, 0, 0)] = 1
    m[_lpm_key(24, 10, 1, 2, 0)] = 2
    m[_lpm_key(16, 10, 1, 0, 0)] = 3
    assert m.lookup(_lpm_key(32, 10, 1, 2, 3)) == 2
    assert m.lookup(_lpm_key(32, 10, 1, 9, 3)) == 3
    assert m.lookup(_lpm_key(32, 10, 9, 9, 3)) == 1
    assert m.lookup(_lpm_key(32, 11, 1, 2, 3)) is None
    assert m.lookup(_lpm_key(12, 10, 1, 2, 3)) == 1  # the key's own prefix length bounds the match
    assert errno_of(lambda: m.put(_lpm_key(30, 1, 2, 3, 4), 9)) == errno.ENOSPC
    assert errno_of(lambda: m.put(_lpm_key(33, 1, 2, 3, 4), 9)) == errno.EINVAL
    assert errno_of(lambda: m.put(_lpm_key(8, 10, 0, 0, 0), 9, NOEXIST)) == errno.EEXIST
    assert errno_of(lambda: m.delete(_lpm_key(9, 10, 0, 0, 0))) == errno.ENOENT
    del m[_lpm_key(24, 10, 1, 2, 0)]
    assert m.lookup(_lpm_key(32, 10, 1, 2, 3)) == 3


def test_stack_trace_create_errors(make):
    assert errno_of(lambda: make(MapSpec("s", MapType.STACK_TRACE, 4, 12, 4))) == errno.EINVAL
    assert errno_of(lambda: make(MapSpec("s", MapType.STACK_TRACE, 8, 16, 4))) == errno.EINVAL
    s = make(MapSpec("s", MapType.STACK_TRACE, 4, 16, 4))
    assert errno_of(lambda: s.update_raw(bytes(4), bytes(16))) == errno.EINVAL
    assert errno_of(lambda: s.delete_raw(bytes(4))) == errno.ENOENT


@pytest.mark.parametrize("spec,code", [
    (MapSpec("l", MapType.LRU_HASH, 4, 4, 8, flags=1), 524),      # LRU maps are always preallocated: ENOTSUPP
    (MapSpec("h", MapType.HASH, 4, 4, 8, flags=2), errno.EINVAL),   # NO_COMMON_LRU only for LRU maps
    (MapSpec("h", MapType.HASH, 4, 4, 8, flags=1 << 10), errno.EINVAL),  # MMAPABLE is for arrays
    (MapSpec("a", MapType.ARRAY, 4, 4, 8, flags=1 << 10), 0),
    (MapSpec("p", MapType.PERF_EVENT_ARRAY, 4, 8, 2), errno.EINVAL),  # fd arrays hold 4-byte fds
    (MapSpec("j", MapType.PROG_ARRAY, 8, 4, 2), errno.EINVAL),
    (MapSpec("t", MapType.LPM_TRIE, 4, 4, 8, flags=1), errno.EINVAL),  # no room for any prefix
    (MapSpec("t", MapType.LPM_TRIE, 4 + 257, 4, 8, flags=1), errno.EINVAL),
    (MapSpec("q", MapType.STACK, 0, 4, 4, flags=1), errno.EINVAL),  # queue/stack: only NUMA/access flags
    (MapSpec("q", MapType.QUEUE, 0, 4, 4, flags=1 << 3), 0),
    (MapSpec("r", MapType.RINGBUF, 0, 0, 4096, flags=1), errno.EINVAL),
    (MapSpec("s", MapType.STACK_TRACE, 4, 16, 4, flags=1), errno.EINVAL),
])
def test_more_create_errors(make, spec, code):
    assert errno_of(lambda: make(spec)) == code
