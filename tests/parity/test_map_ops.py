"""Every user-space map operation on every map type, on the VM and in the kernel.

Two kinds of test: one body per operation, run on each side, saying what the kernel does (the kernel run checks
the claim); and a script of every operation per map type run on both sides step by step, each step's answer
(value, KeyError, or MapError with its errno) compared — the kernel is the oracle, a divergence names its step."""
from __future__ import annotations

import ctypes
import errno
from typing import Any, Callable

import pytest

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import ENOTSUPP
from pyebpf.errors import MapError

from sides import lpm_key, make_map, spec_for

HASHES = ["hash", "lru_hash", "percpu_hash", "lru_percpu_hash"]
ARRAYS = ["array", "percpu_array"]


def errno_of(fn: Callable[[], Any]) -> int | str:
    try:
        fn()
    except KeyError:
        return "KeyError"
    except MapError as e:
        return e.errno
    return 0


def one(m, value: int) -> Any:
    """What reading back `value` gives: a per-CPU map gives every possible CPU's copy."""
    return [value] * m.ncpus if m.spec.is_percpu else value


# ---- one body per operation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", HASHES + ARRAYS)
def test_put_with_flags(backend: str, kind: str):
    with make_map(backend, spec_for(kind)) as m:
        assert errno_of(lambda: m.put(1, 5, UpdateFlags.EXIST)) == (0 if kind in ARRAYS else errno.ENOENT)
        m.put(1, 6, UpdateFlags.ANY)
        assert errno_of(lambda: m.put(1, 7, UpdateFlags.NOEXIST)) == errno.EEXIST
        m.put(1, 8, UpdateFlags.EXIST)
        assert m[1] == one(m, 8)
        assert errno_of(lambda: m.put(1, 9, UpdateFlags.NOEXIST | UpdateFlags.EXIST)) == errno.EINVAL
        assert errno_of(lambda: m.put(1, 9, 8)) == errno.EINVAL  # an unknown flag bit
        assert errno_of(lambda: m.put(1, 9, UpdateFlags.F_LOCK)) == errno.EINVAL  # no bpf_spin_lock in the value


@pytest.mark.parametrize("kind", HASHES + ARRAYS + ["lpm_trie"])
def test_missing_key(backend: str, kind: str):
    key = lpm_key(32, b"\x0a\0\0\x01") if kind == "lpm_trie" else 3
    with make_map(backend, spec_for(kind, 4 if kind != "lpm_trie" else 4)) as m:
        if kind in ARRAYS:
            assert m[3] == one(m, 0)  # every slot exists
            key = 4  # past the end
        with pytest.raises(KeyError):
            m[key]
        assert m.get(key) is None and key not in m
        assert errno_of(lambda: m.__delitem__(key)) == ("KeyError" if kind not in ARRAYS else errno.EINVAL)


@pytest.mark.parametrize("kind", ["hash", "percpu_hash", "lpm_trie"])
def test_full_map_is_e2big(backend: str, kind: str):
    keys = [lpm_key(32, bytes([10, 0, 0, i])) for i in range(5)] if kind == "lpm_trie" else list(range(5))
    with make_map(backend, spec_for(kind, 4)) as m:
        for k in keys[:4]:
            m[k] = 1
        assert errno_of(lambda: m.__setitem__(keys[4], 1)) == (errno.ENOSPC if kind == "lpm_trie" else errno.E2BIG)
        m[keys[0]] = 2  # replacing an element of a full map is fine
        assert len(m) == 4


@pytest.mark.parametrize("kind", ["lru_hash", "lru_percpu_hash"])
def test_full_lru_map_evicts(backend: str, kind: str):
    with make_map(backend, spec_for(kind, 64)) as m:
        for k in range(200):
            m[k] = k
        assert 0 < len(m) <= 64 and 199 in m


@pytest.mark.parametrize("kind", ARRAYS)
def test_array_slot_past_the_end(backend: str, kind: str):
    with make_map(backend, spec_for(kind)) as m:
        assert errno_of(lambda: m.put(4, 1)) == errno.E2BIG
        assert sorted(m) == [0, 1, 2, 3] and len(m) == 4


@pytest.mark.parametrize("kind", HASHES + ARRAYS + ["lpm_trie", "queue", "stack"])
def test_wrong_sizes_are_einval(backend: str, kind: str):
    spec = spec_for(kind)
    with make_map(backend, spec) as m:
        value = bytes(8 * (m.ncpus if spec.is_percpu else 1))
        if kind in ("queue", "stack"):
            assert errno_of(lambda: m.push_raw(bytes(7))) == errno.EINVAL
            return
        key = bytes(spec.key_size)
        assert errno_of(lambda: m.update_raw(key + b"\0", value)) == errno.EINVAL
        assert errno_of(lambda: m.update_raw(key, value + b"\0")) == errno.EINVAL
        assert errno_of(lambda: m.lookup_raw(key[:-1])) == errno.EINVAL


@pytest.mark.parametrize("kind", HASHES + ["lpm_trie"])
def test_delete_and_clear(backend: str, kind: str):
    keys = [lpm_key(24, bytes([10, 0, i, 0])) for i in range(3)] if kind == "lpm_trie" else [1, 2, 3]
    with make_map(backend, spec_for(kind)) as m:
        for k in keys:
            m[k] = 1
        del m[keys[0]]
        assert keys[0] not in m and len(m) == 2
        m.delete(keys[1])
        m.clear()
        assert len(m) == 0 and list(m) == []


@pytest.mark.parametrize("kind", HASHES + ARRAYS + ["lpm_trie"])
def test_lookup_and_delete(backend: str, kind: str):
    key = lpm_key(32, b"\x0a\0\0\x01") if kind == "lpm_trie" else 1
    with make_map(backend, spec_for(kind)) as m:
        m[key] = 7
        if kind not in HASHES:
            assert errno_of(lambda: m.lookup_and_delete(key)) == ENOTSUPP
            return
        assert m.lookup_and_delete(key) == one(m, 7)
        assert key not in m
        with pytest.raises(KeyError):
            m.lookup_and_delete(key)


@pytest.mark.parametrize("kind", HASHES + ARRAYS + ["lpm_trie"])
def test_batch_operations(backend: str, kind: str):
    keys = [lpm_key(32, bytes([10, 0, 0, i])) for i in (1, 2)] if kind == "lpm_trie" else [1, 2]
    with make_map(backend, spec_for(kind)) as m:
        assert m.update_batch({keys[0]: 5, keys[1]: 6}) == 2
        assert errno_of(lambda: m.update_batch({keys[0]: 5}, UpdateFlags.NOEXIST)) == errno.EINVAL
        batch = dict(m.lookup_batch())
        assert batch == dict(m.items()) and batch == m.items_batch()
        assert batch[keys[0]] == one(m, 5) and batch[keys[1]] == one(m, 6)
        if kind in ARRAYS:
            assert errno_of(lambda: m.delete_batch([keys[0]])) == ENOTSUPP
            assert errno_of(lambda: m.lookup_and_delete_batch()) == ENOTSUPP
            return
        assert m.delete_batch([keys[0]]) == 1
        assert errno_of(lambda: m.delete_batch([keys[0]])) == errno.ENOENT  # a batch says ENOENT, not KeyError
        if kind == "lpm_trie":
            assert errno_of(lambda: m.lookup_and_delete_batch()) == ENOTSUPP
            return
        assert m.lookup_and_delete_batch() == [(keys[1], one(m, 6))]
        assert len(m) == 0


@pytest.mark.parametrize("kind", ["hash", "array", "queue"])
def test_freeze(backend: str, kind: str):
    with make_map(backend, spec_for(kind)) as m:
        if kind == "queue":
            m.push(1)
        else:
            m[1] = 1
        m.freeze()
        write = (lambda: m.push(2)) if kind == "queue" else (lambda: m.__setitem__(1, 2))
        assert errno_of(write) == errno.EPERM
        assert (m.peek() if kind == "queue" else m[1]) == 1  # reading still works
        assert errno_of(m.freeze) == errno.EPERM  # a frozen map is no longer writable: map_freeze's own check


def test_lpm_longest_prefix_wins(backend: str):
    with make_map(backend, spec_for("lpm_trie", 8)) as m:
        m[lpm_key(8, b"\x0a\0\0\0")] = 8
        m[lpm_key(24, b"\x0a\x01\x02\0")] = 24
        m[lpm_key(32, b"\x0a\x01\x02\x03")] = 32
        assert m[lpm_key(32, b"\x0a\x01\x02\x03")] == 32
        assert m[lpm_key(32, b"\x0a\x01\x02\x04")] == 24
        assert m[lpm_key(32, b"\x0a\x09\x09\x09")] == 8
        assert m.get(lpm_key(32, b"\x0b\0\0\0")) is None
        assert errno_of(lambda: m.__setitem__(lpm_key(33, bytes(4)), 1)) == errno.EINVAL  # prefix past the data
        # get_next_key walks the trie post-order: more specific prefixes first
        assert [k.prefixlen for k in m] == [32, 24, 8]


@pytest.mark.parametrize("kind", ["percpu_hash", "percpu_array", "lru_percpu_hash"])
def test_percpu_values(backend: str, kind: str):
    with make_map(backend, spec_for(kind)) as m:
        m[1] = list(range(m.ncpus))
        assert m[1] == list(range(m.ncpus))
        m[1] = 9
        assert m[1] == [9] * m.ncpus
        assert errno_of(lambda: m.__setitem__(1, [1] * (m.ncpus + 1))) != 0


def test_iteration_order_of_an_array_is_index_order(backend: str):
    with make_map(backend, spec_for("array", 6)) as m:
        assert list(m) == [0, 1, 2, 3, 4, 5]


def test_ringbuf_and_perf_array_have_no_elements(backend: str):
    with make_map(backend, spec_for("ringbuf")) as rb:
        assert errno_of(lambda: rb.lookup_raw(b"")) == ENOTSUPP and len(rb) == 0 and list(rb) == []
    with make_map(backend, spec_for("perf_event_array", 2)) as pa:
        assert errno_of(lambda: pa.lookup_raw(bytes(4))) in (errno.EOPNOTSUPP, ENOTSUPP)


# ---- the same script on both sides, step by step ----------------------------------------------------------------

def script(kind: str) -> list[tuple[str, Callable[[Any], Any]]]:
    """Every operation the family allows (and some it refuses), in an order that visits each errno."""
    if kind in ("queue", "stack"):
        return [("pop empty", lambda m: m.pop()), ("peek empty", lambda m: m.peek()),
                *[(f"push {v}", (lambda v: lambda m: m.push(v))(v)) for v in range(4)],
                ("push full", lambda m: m.push(9)), ("push EXIST", lambda m: m.push(10, UpdateFlags.EXIST)),
                ("push bad flag", lambda m: m.push(1, UpdateFlags.NOEXIST)), ("peek", lambda m: m.peek()),
                ("keyed get", lambda m: m[0]), ("len", len), ("pop all", lambda m: [m.pop() for _ in range(4)]),
                ("pop default", lambda m: m.pop(None))]
    k = (lambda i: lpm_key(32, bytes([10, 0, 0, i]))) if kind == "lpm_trie" else (lambda i: i)
    steps = [("get missing", lambda m: m[k(1)]), ("del missing", lambda m: m.__delitem__(k(1))),
             ("put EXIST missing", lambda m: m.put(k(1), 1, UpdateFlags.EXIST)),
             ("put", lambda m: m.put(k(1), 2)), ("put NOEXIST present", lambda m: m.put(k(1), 3, UpdateFlags.NOEXIST)),
             ("put EXIST present", lambda m: m.put(k(1), 4, UpdateFlags.EXIST)), ("get", lambda m: m[k(1)]),
             ("bad flags", lambda m: m.put(k(1), 4, 3)), ("fill", lambda m: [m.put(k(i), i) for i in range(2, 6)]),
             ("len", len), ("keys", lambda m: sorted(m)),
             ("lookup_and_delete", lambda m: m.lookup_and_delete(k(1))),
             ("lookup_batch", lambda m: sorted(m.lookup_batch(), key=repr)),
             ("update_batch", lambda m: m.update_batch([(k(2), 7)])),
             ("delete_batch", lambda m: m.delete_batch([k(2)])), ("clear", lambda m: m.clear()), ("len", len)]
    return steps


def answer(m: Any, step: Callable[[Any], Any]) -> Any:
    try:
        out = step(m)
        return ("ok", out if out is None or isinstance(out, (int, list, bytes)) else repr(out))
    except KeyError:
        return "KeyError"
    except MapError as e:
        return ("MapError", e.errno)


SCRIPT_KINDS = HASHES + ARRAYS + ["lpm_trie", "queue", "stack"]


@pytest.mark.kernel
@pytest.mark.parametrize("kind", SCRIPT_KINDS)
def test_same_answers_for_every_operation(kind: str):
    from pyebpf.loader import create_map as kernel_map
    from pyebpf.vm.maps import create_map as vm_map

    spec = spec_for(kind, 4)
    with kernel_map(spec) as k, vm_map(spec) as v:
        for name, step in script(kind):
            assert answer(v, step) == answer(k, step), f"{kind}: {name}"


@pytest.mark.kernel
@pytest.mark.parametrize("kind", HASHES)
def test_hash_iteration_order_with_zero_seed_is_the_kernels(kind: str):
    """With BPF_F_ZERO_SEED the kernel's order is defined (buckets in order, newest first within one), and the VM
    follows it; without it the kernel seeds jhash at random, so no order is promised (compare sorted)."""
    from pyebpf.abi.uapi import MapCreateFlags
    from pyebpf.loader import create_map as kernel_map
    from pyebpf.vm.maps import create_map as vm_map

    spec = MapSpec.of("m", kind, ctypes.c_uint32, ctypes.c_uint64, 64, flags=MapCreateFlags.ZERO_SEED)
    with kernel_map(spec) as k, vm_map(spec) as v:
        for i in (5, 100, 7, 3, 99, 1234, 42, 0, 17, 1, 2, 4, 6, 8, 9, 10, 11, 63, 64, 65):
            k[i] = v[i] = i
        del k[7], v[7]
        assert list(v) == list(k)
        assert [key for key, _ in v.lookup_batch()] == [key for key, _ in k.lookup_batch()]


class Flow(ctypes.Structure):
    _fields_ = [("saddr", ctypes.c_uint32), ("sport", ctypes.c_uint16), ("proto", ctypes.c_uint8)]  # 1 pad byte


class Stats(ctypes.Structure):
    _fields_ = [("packets", ctypes.c_uint64), ("bytes", ctypes.c_uint64), ("tag", ctypes.c_char * 4)]


@pytest.mark.parametrize("kind", ["hash", "lru_hash", "percpu_hash"])
def test_struct_keys_and_values(backend: str, kind: str):
    with make_map(backend, MapSpec.of("flows", kind, Flow, Stats, 8)) as m:
        m[Flow(0x0A000001, 80, 6)] = Stats(1, 60, b"web")
        m.put(Flow(0x0A000002, 53, 17), Stats(2, 120, b"dns"), UpdateFlags.NOEXIST)
        table = dict(m.items())  # keys are hashable named tuples
        by_port = {k.sport: k for k in table}
        web = table[by_port[80]]
        first = web[0] if m.spec.is_percpu else web
        assert (first.packets, first.bytes, first.tag) == (1, 60, b"web")
        assert errno_of(lambda: m.put(by_port[53], Stats(), UpdateFlags.NOEXIST)) == errno.EEXIST
        del m[by_port[53]]
        assert list(m) == [by_port[80]] and Flow(0x0A000001, 80, 6) in m
