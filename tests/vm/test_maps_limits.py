"""Map creation follows BPF_MAP_CREATE for specs too big for the machine: the kernel refuses an area larger than
RAM (ENOMEM) or a bucket count that overflows (E2BIG) before allocating; the VM gives the same errno, and arrays
allocate their values lazily so a big-but-allowed array costs nothing up front."""
from __future__ import annotations

import errno

import pytest

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.uapi import MapCreateFlags
from pyebpf.errors import MapError
from pyebpf.vm.maps import HTAB_MAX_ENTRIES, MAP_AREAS, check_map_memory, create_map, total_ram

NO_PREALLOC = int(MapCreateFlags.NO_PREALLOC)

# Specs the kernel refuses before it allocates anything (so asking it costs no memory), with its errno on a
# machine with less than 32 GB of RAM (the test machine has 24 GB; bigger machines skip the ENOMEM ones).
REFUSED = [
    pytest.param(MapSpec("a", MapType.ARRAY, 4, 8, 4_000_000_000), errno.ENOMEM, id="array-4e9-u64"),
    pytest.param(MapSpec("a", MapType.ARRAY, 4, 1, 4_000_000_000), errno.ENOMEM, id="array-4e9-u8"),
    pytest.param(MapSpec("a", MapType.ARRAY, 4, 8, 4_000_000_000, flags=int(MapCreateFlags.MMAPABLE)),
                 errno.ENOMEM, id="array-mmapable"),
    pytest.param(MapSpec("a", MapType.ARRAY, 4, 1 << 31, 1), errno.E2BIG, id="array-value-over-int-max"),
    pytest.param(MapSpec("a", MapType.PERCPU_ARRAY, 4, 8, 4_000_000_000), errno.ENOMEM, id="percpu-array"),
    pytest.param(MapSpec("a", MapType.PROG_ARRAY, 4, 4, 4_000_000_000), errno.ENOMEM, id="prog-array"),
    pytest.param(MapSpec("a", MapType.PERF_EVENT_ARRAY, 4, 4, 4_000_000_000), errno.ENOMEM, id="perf-array"),
    pytest.param(MapSpec("q", MapType.QUEUE, 0, 8, 4_000_000_000), errno.ENOMEM, id="queue"),
    pytest.param(MapSpec("h", MapType.HASH, 4, 8, 4_000_000_000), errno.E2BIG, id="hash-4e9"),
    pytest.param(MapSpec("h", MapType.HASH, 4, 8, (1 << 27) + 1, flags=NO_PREALLOC), errno.E2BIG,
                 id="hash-buckets-overflow-u32"),
    pytest.param(MapSpec("h", MapType.LRU_HASH, 4, 8, 1 << 31), errno.E2BIG, id="lru-hash-2g"),
    pytest.param(MapSpec("h", MapType.HASH, 4, 1 << 20, 1 << 20), errno.ENOMEM, id="hash-prealloc-1tb"),
    pytest.param(MapSpec("s", MapType.STACK_TRACE, 4, 8, (1 << 31) + 1), errno.E2BIG, id="stack-trace"),
]

SMALL_RAM = 32 << 30


def _refused_errno(spec: MapSpec) -> int:
    with pytest.raises(MapError) as info:
        create_map(spec)
    return info.value.errno


@pytest.mark.parametrize("spec, code", REFUSED)
def test_vm_refuses_what_the_kernel_refuses(spec: MapSpec, code: int):
    if code == errno.ENOMEM and total_ram() >= SMALL_RAM:
        pytest.skip("the machine has enough RAM for this map")
    assert _refused_errno(spec) == code


@pytest.mark.kernel
@pytest.mark.parametrize("spec, code", REFUSED)
def test_kernel_refuses_with_the_same_errno(spec: MapSpec, code: int):
    from pyebpf.loader import create_map as kernel_create_map

    if code == errno.ENOMEM and total_ram() >= SMALL_RAM:
        pytest.skip("the machine has enough RAM for this map")
    with pytest.raises(Exception) as info:  # a kernel map error carries the errno, as MapError does
        kernel_create_map(spec).close()
    assert getattr(info.value, "errno", None) == code, info.value


def test_the_limit_is_the_machines_ram():
    spec = MapSpec("a", MapType.ARRAY, 4, 8, 1000)
    check_map_memory(spec, ram=8000)  # 1000 values of 8 bytes fit exactly
    with pytest.raises(MapError) as info:
        check_map_memory(spec, ram=7999)
    assert info.value.errno == errno.ENOMEM and "creating map 'a'" in str(info.value)
    odd = MapSpec("a", MapType.ARRAY, 4, 5, 1000)  # values are rounded up to 8 bytes
    with pytest.raises(MapError):
        check_map_memory(odd, ram=7999)
    percpu = MapSpec("p", MapType.PERCPU_ARRAY, 4, 8, 1000)  # values for every CPU
    check_map_memory(percpu, ncpus=2, ram=16000)
    with pytest.raises(MapError):
        check_map_memory(percpu, ncpus=3, ram=16000)
    assert set(MAP_AREAS) >= {MapType.ARRAY, MapType.HASH, MapType.QUEUE}


def test_hash_bucket_limits():
    ok = MapSpec("h", MapType.HASH, 4, 8, 1 << 27, flags=NO_PREALLOC)
    check_map_memory(ok, ram=1 << 62)
    for n in ((1 << 27) + 1, HTAB_MAX_ENTRIES + 1):
        with pytest.raises(MapError) as info:
            check_map_memory(MapSpec("h", MapType.HASH, 4, 8, n, flags=NO_PREALLOC), ram=1 << 62)
        assert info.value.errno == errno.E2BIG


@pytest.mark.parametrize("kind", ["array", "percpu_array"])
def test_big_array_allocates_values_on_use(kind: str):
    """2**28 values (2 GiB in the kernel, under this machine's RAM): created at once; untouched values read as
    zeros; a value a program points into keeps its identity; writes land in place."""
    spec = MapSpec.of("big", kind, 4, 8, 1 << 28)
    if total_ram() < (1 << 28) * 8 * 2:
        pytest.skip("the machine has too little RAM for this array")
    m = create_map(spec, ncpus=2)
    assert len(m) == 1 << 28
    zero = bytes(16) if kind == "percpu_array" else bytes(8)
    last = ((1 << 28) - 1).to_bytes(4, "little")
    assert m.lookup_raw(last) == zero and m.lookup_raw((1 << 28).to_bytes(4, "little")) is None
    ref = m.value_ref(last, cpu=1)
    ref[:] = b"\x01" * 8
    assert m.value_ref(last, cpu=1) is ref
    assert m.lookup_raw(last) == (bytes(8) + b"\x01" * 8 if kind == "percpu_array" else b"\x01" * 8)
    assert m.prog_update(last, b"\x02" * 8, 0, cpu=1) == 0 and bytes(ref) == b"\x02" * 8
    assert m.value_ref((1 << 28).to_bytes(4, "little")) is None
