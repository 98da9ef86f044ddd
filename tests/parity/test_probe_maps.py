"""A Python probe's map objects are the same kind of object as the VM's and the kernel's maps (issue 17): each
satisfies its family's Protocol, and the same calls give the same answers whether the map is backed by the VM or by
the kernel (while a probe is loaded)."""
from __future__ import annotations

import ctypes
import errno

import pytest

from pyebpf.abi.protocols import ArrayLikeMap, HashLikeMap, MapObject
from pyebpf.errors import MapError
from pyebpf.probe import Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, u32, u64


class Key(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


MAKERS = {
    "hash": (lambda: HashMap(u32, u64, max_entries=8), HashLikeMap),
    "lru_hash": (lambda: LruHashMap(u32, u64, max_entries=8), HashLikeMap),
    "struct_key_hash": (lambda: HashMap(Key, u64, max_entries=8), HashLikeMap),
    "percpu_hash": (lambda: PerCpuHashMap(u32, u64, max_entries=8), HashLikeMap),
    "array": (lambda: Array(u64, max_entries=4), ArrayLikeMap),
    "percpu_array": (lambda: PerCpuArray(u64, max_entries=4), ArrayLikeMap),
}


def _key(kind: str, i: int):
    return Key(i, b"proc%d" % i) if kind == "struct_key_hash" else i


def _script(m, kind: str) -> list:
    """The same calls on either backend; what they return (or the errno they raise) is the transcript."""
    out = []

    def call(f, *a):
        try:
            r = f(*a)
            out.append(("ok", r if not isinstance(r, list) else sorted(r, key=repr)))
        except KeyError:
            out.append(("KeyError",))
        except MapError as e:
            out.append(("errno", e.errno))

    k1, k2, k3 = (_key(kind, i) for i in (1, 2, 3))
    call(m.__setitem__, k1, 10)
    call(m.__setitem__, k2, 20)
    call(m.get, k1)
    call(m.get, k3, "default")
    call(lambda: k2 in m)
    call(lambda: sorted(m.keys(), key=repr))
    call(lambda: len(m))
    call(m.put, k1, 11, 0)
    call(m.lookup, k1)
    if isinstance(m, HashLikeMap) and "array" not in kind:
        call(m.put, k1, 12, 1)  # BPF_NOEXIST on an existing key: EEXIST
        call(m.delete, k2)
        call(m.delete, k2)  # ENOENT
        call(m.pop, k1)
        call(m.pop, k3, "gone")
    call(lambda: sorted(m.items(), key=repr))
    call(lambda: m.lookup_raw(m.encode_key(k1)) is not None)
    return out


@pytest.mark.parametrize("kind", list(MAKERS))
def test_probe_map_satisfies_its_protocol(kind):
    m, proto = MAKERS[kind][0](), MAKERS[kind][1]
    assert isinstance(m, MapObject) and isinstance(m, proto)


@pytest.mark.kernel
@pytest.mark.parametrize("kind", list(MAKERS))
def test_same_calls_same_answers_vm_and_kernel(kind):
    vm_side = MAKERS[kind][0]()
    ours = _script(vm_side, kind)
    kernel_side = MAKERS[kind][0]()
    kernel_side.kernel_acquire()
    try:
        assert isinstance(kernel_side, MAKERS[kind][1])
        theirs = _script(kernel_side, kind)
    finally:
        kernel_side.kernel_release()
    assert ours == theirs
    # after release the object keeps what the kernel held (a snapshot in a VM map)
    assert sorted(kernel_side.items(), key=repr) == sorted(vm_side.items(), key=repr)


def test_errno_of_a_missing_delete_is_the_kernels():
    m = HashMap(u32, u64, max_entries=2)
    with pytest.raises(MapError) as e:
        m.delete(7)
    assert e.value.errno == errno.ENOENT
