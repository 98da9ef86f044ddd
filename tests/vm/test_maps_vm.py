"""VM-only map behaviour: the program side (value_ref, prog_update), iteration order, ring buffer accounting, perf
arrays, prog arrays, stack traces, LPM tries, the LRU model, and creation refusals for types the VM lacks."""
from __future__ import annotations

import ctypes
import errno

import pytest

from pyebpf.abi.maps import MapSpec, MapType, UpdateFlags
from pyebpf.errors import MapError
from pyebpf.vm.env import Environment
from pyebpf.vm.maps import create_map, jhash2
from pyebpf.abi.uapi import RingbufQuery


def test_value_ref_is_live_and_replacement_gets_a_new_buffer():
    m = create_map(MapSpec.of("h", "hash", 4, 8, 4))
    m[1] = 5
    ref = m.value_ref((1).to_bytes(4, "little"))
    ref[0] = 9
    assert m[1] == 9
    m[1] = 7  # the kernel links a new element: an old pointer keeps the old value
    assert ref[0] == 9 and m[1] == 7
    assert m.value_ref((2).to_bytes(4, "little")) is None


def test_array_value_ref_is_updated_in_place():
    a = create_map(MapSpec.of("a", "array", 4, 4, 2))
    ref = a.value_ref(bytes(4))
    a[0] = 3
    assert ref == bytearray(b"\x03\0\0\0")
    assert a.value_ref((2).to_bytes(4, "little")) is None


def test_hash_iterates_in_insertion_order_and_arrays_in_index_order():
    h = create_map(MapSpec.of("h", "hash", 4, 4, 8))
    for k in (5, 1, 3):
        h[k] = k
    assert list(h) == [5, 1, 3]
    a = create_map(MapSpec.of("a", "array", 4, 4, 3))
    assert list(a) == [0, 1, 2]


def test_percpu_program_side():
    p = create_map(MapSpec.of("p", "percpu_hash", 4, 4, 2), ncpus=3)
    key = (1).to_bytes(4, "little")
    assert p.prog_update(key, (7).to_bytes(4, "little"), 0, cpu=2) == 0
    assert p[1] == [0, 0, 7]
    p.value_ref(key, cpu=0)[0] = 1
    assert p[1] == [1, 0, 7]
    assert p.prog_update(key, bytes(4), UpdateFlags.NOEXIST, cpu=0) == -errno.EEXIST


def test_typed_values_with_ctypes_structs():
    class Point(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint32), ("y", ctypes.c_uint32)]

    m = create_map(MapSpec.of("pts", "hash", ctypes.c_uint16, Point, 4))
    m[3] = Point(1, 2)
    got = m[3]
    assert (got.x, got.y) == (1, 2)


def test_ringbuf_accounting_and_pending_records():
    rb = create_map(MapSpec("rb", MapType.RINGBUF, 0, 0, 4096))
    first = rb.reserve(100)
    assert first is not None and rb.query(RingbufQuery.PROD_POS) == 112
    second = rb.reserve(10)
    rb.commit(second, discard=False)
    assert rb.consume() == []  # the first record is still reserved: the consumer stops there
    rb.commit(first, discard=True)
    assert rb.consume() == [bytes(10)]  # discarded records are skipped
    assert rb.query(RingbufQuery.CONS_POS) == rb.query(RingbufQuery.PROD_POS) == 112 + 24
    assert rb.reserve(4096) is None  # larger than the ring
    assert rb.reserve(8, flags=1) is None  # reserve flags must be 0
    assert rb.output(b"x", flags=8) == -errno.EINVAL
    with pytest.raises(MapError):
        rb.commit(second, discard=False)  # released twice


def test_ringbuf_pending_record_blocks_wrap():
    rb = create_map(MapSpec("rb", MapType.RINGBUF, 0, 0, 4096))
    held = rb.reserve(2000)
    rb.output(b"a" * 2000)
    rb.consume()  # nothing consumable: the first record is still busy
    assert rb.reserve(100) is None  # producer may not run more than the ring size ahead of the busy record
    rb.commit(held, False)
    assert len(rb.consume()) == 2
    assert rb.reserve(2000) is not None


def test_perf_event_array_slots():
    ev = create_map(MapSpec.of("ev", "perf_event_array", 4, 4, 4), ncpus=2)
    assert ev.output(0xFFFFFFFF, b"a", cpu=1) == 0
    assert ev.output(0, b"b", cpu=1) == -errno.EOPNOTSUPP
    assert ev.output(3, b"c", cpu=1) == -errno.ENOENT  # no event opened in slot 3
    ev.open(3, 1)
    assert ev.output(3, b"d", cpu=1) == 0
    assert ev.drain() == [(1, b"a"), (3, b"d")]
    assert ev.drain() == []


def test_prog_array_slots():
    pa = create_map(MapSpec.of("jt", "prog_array", 4, 4, 2))
    pa[1] = 1000
    assert pa.lookup_raw((1).to_bytes(4, "little")) == (1000).to_bytes(4, "little")
    del pa[1]
    with pytest.raises(KeyError):
        del pa[1]
    with pytest.raises(MapError) as e:
        pa.put(2, 1000)
    assert e.value.errno == errno.E2BIG


def test_jhash2_matches_lookup3_reference_values():
    # lookup3.c hashword() reference: hashword of zero words with initval 0 is 0xdeadbeef
    assert jhash2([]) == 0xDEADBEEF
    assert jhash2([1, 2, 3]) != jhash2([3, 2, 1])


def test_stack_trace_ids():
    st = create_map(MapSpec("st", MapType.STACK_TRACE, 4, 16, 1))
    a = st.get_stackid([1, 2, 3], 0)  # truncated to 2 frames
    assert a == 0 and st.get_stackid([1, 2], 0) == 0
    assert st.get_stackid([7, 8], 0) == -errno.EEXIST  # bucket taken by another stack
    assert st.get_stackid([7, 8], 1 << 10) == 0  # BPF_F_REUSE_STACKID replaces it
    assert st.get_stackid([1, 2, 3], 1 << 20) == -errno.EINVAL
    assert st.get_stackid([1], 1) == -errno.EFAULT  # nothing left after skipping one frame


def test_lpm_longest_match_prefers_longer_prefix():
    t = create_map(MapSpec("t", MapType.LPM_TRIE, 8, 4, 8, flags=1))

    def key(plen, *o):
        return plen.to_bytes(4, "little") + bytes(o)
    t[key(0, 0, 0, 0, 0)] = 1  # default route
    t[key(12, 10, 16, 0, 0)] = 2
    assert t.lookup(key(32, 10, 31, 1, 1)) == 2
    assert t.lookup(key(32, 10, 32, 1, 1)) == 1
    assert len(t) == 2


def test_lru_evicts_unreferenced_before_referenced():
    """With one CPU and a full map, program lookups (ref bits) protect keys from the next shrink."""
    lru = create_map(MapSpec.of("l", "lru_hash", 4, 4, 8), ncpus=1)
    for k in range(8):
        lru.prog_update(k.to_bytes(4, "little"), bytes(4), 0)
    for k in range(4):
        lru.value_ref(k.to_bytes(4, "little"))  # referenced
    for k in range(100, 104):
        lru.prog_update(k.to_bytes(4, "little"), bytes(4), 0)
    assert set(range(4)) <= set(lru)
    assert len(lru) <= 8


@pytest.mark.parametrize("type_", ["devmap", "sockmap", "xskmap", "bloom_filter", "arena"])
def test_unsupported_types_are_refused_clearly(type_):
    with pytest.raises(MapError, match="does not simulate"):
        create_map(MapSpec.of("x", type_, 4, 4, 1))


def test_environment_clock_steps_and_jiffies():
    env = Environment(time_ns=1_000_000_000, time_step_ns=5)
    assert [env.ktime_ns(), env.ktime_ns()] == [1_000_000_000, 1_000_000_005]
    env.set_time(2_000_000_000)
    j1 = env.jiffies64()
    env.set_time(3_000_000_000)
    assert env.jiffies64() - j1 == 250
    assert env.coarse_ns() % env.coarse_granularity_ns == 0


def test_environment_memory_ranges():
    env = Environment(kernel_memory={0x1000: b"abcdef"})
    assert env.read_kernel(0x1002, 3) == b"cde"
    assert env.read_kernel(0x1004, 3) is None  # runs past the range
    assert env.read_kernel(0x0FFF, 1) is None
