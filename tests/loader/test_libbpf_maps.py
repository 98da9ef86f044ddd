"""Maps created as libbpf creates them (issue 8 part 5).

A corpus of small C objects compiled at test time (tests/loader/c/maps_*.bpf.c) covers the map declaration styles
libbpf accepts. Each object is loaded by us (ElfSpec -> load_collection) and by `bpftool prog loadall OBJ DIR
pinmaps DIR` (the system's bpftool and its libbpf); the kernel's map info of both sets must agree — type, key and
value size, max_entries, flags, map_extra, whether BTF was attached — and so must the inner maps of maps of maps
(probed by inserting maps of the inner shape and of another shape), the initial slots, and the verdict. The
expected values are whatever libbpf made on this machine, never numbers written here.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import LoaderError
from pyebpf.loader import KernelMap, create_map
from pyebpf.loader import syscall as sc
from pyebpf.loader.collection import load_collection
from pyebpf.loader.elf_spec import ElfSpec
from pyebpf.loader.info import map_info
from pyebpf.testing.plugin import require_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402

CORPUS = ["maps_btf_styles", "maps_special", "maps_in_maps", "maps_globals", "map_in_map", "openat_counter",
          "calls_globals", "ringbuf_retransmit", "maps_refused",
          "maps_static"]
MAPS_OF_MAPS = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
FD_ARRAYS = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY)


def obj(name: str) -> str:
    try:
        return object_path(name, ("-g",))
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


def shape(kmap: KernelMap) -> dict:
    info = map_info(kmap.fd)
    return {"type": MapType(info.type).name, "key_size": info.key_size, "value_size": info.value_size,
            "max_entries": info.max_entries, "flags": info.map_flags, "map_extra": info.map_extra,
            "btf": bool(info.btf_id)}


def inner_probe(outer: KernelMap, inner: MapSpec, key_size: int) -> tuple[int, int]:
    """What the kernel's inner-map template accepts: errno (0 = accepted) of inserting a map of the inner shape
    and one with a different value size, at the last slot."""
    results = []
    for value_size in (inner.value_size, inner.value_size + 8):
        candidate = MapSpec("probe", inner.type, inner.key_size, value_size, inner.max_entries, inner.flags)
        with create_map(candidate) as m:
            key = (outer.spec.max_entries - 1).to_bytes(key_size, "little")
            try:
                outer.update_raw(key, m.fd.to_bytes(4, "little"))
                results.append(0)
                outer.delete_raw(key)
            except LoaderError as e:
                results.append(e.errno or -1)
    return results[0], results[1]


def occupied(kmap: KernelMap, key_size: int) -> list[int]:
    """Keys of an fd-valued map that hold something (the kernel returns the id of what a slot holds)."""
    out = []
    for i in range(kmap.spec.max_entries):
        try:
            if kmap.lookup_raw(i.to_bytes(key_size, "little")) is not None:
                out.append(i)
        except LoaderError as e:
            if e.errno != errno.ENOENT:
                raise
    return out


def describe(maps: dict[str, KernelMap], spec: ElfSpec | None) -> dict[str, dict]:
    """Kernel facts of every created map, by the name the kernel holds."""
    out = {}
    for kmap in maps.values():
        facts = shape(kmap)
        name = map_info(kmap.fd).name
        mtype = MapType(map_info(kmap.fd).type)
        if mtype in FD_ARRAYS:
            facts["slots"] = occupied(kmap, facts["key_size"])
        out[name] = facts
    return out


def bpftool_load(path: str, pinmaps: bool = True) -> tuple[int, str, dict[str, KernelMap], str]:
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        require_or_skip("bpftool is not installed")
    root = f"/sys/fs/bpf/pyebpf-libbpf-{uuid.uuid4().hex[:12]}"
    os.makedirs(root)
    extra = ["pinmaps", f"{root}/maps"] if pinmaps else []  # (maps pinned by name are pinned where they say)
    proc = subprocess.run([bpftool, "prog", "loadall", path, f"{root}/progs", *extra], capture_output=True, text=True)
    maps = {}
    if os.path.isdir(f"{root}/maps"):
        for pin in sorted(os.listdir(f"{root}/maps")):
            maps[pin] = KernelMap.from_fd(sc.obj_get(f"{root}/maps/{pin}"))
    return proc.returncode, proc.stderr, maps, root


@pytest.mark.kernel
@pytest.mark.parametrize("name", CORPUS)
def test_maps_and_verdict_match_libbpf(name):
    path = obj(name)
    rc, stderr, theirs, root = bpftool_load(path)
    try:
        try:
            spec = ElfSpec(path)
            coll = load_collection(spec)
        except LoaderError as e:
            assert rc != 0, f"libbpf loads {name}, we refuse it: {e}"
            assert not theirs
            return
        with coll:
            assert rc == 0, f"we load {name}, libbpf refuses it:\n{stderr}"
            ours_facts, their_facts = describe(coll.maps, spec), describe(theirs, None)
            assert ours_facts == their_facts
            # maps of maps: the same inner-map template in the kernel
            by_name = {map_info(m.fd).name: m for m in theirs.values()}
            for key, kmap in coll.maps.items():
                mspec = spec.map_specs[key]
                if mspec.type not in MAPS_OF_MAPS:
                    continue
                inner = mspec.inner_map
                assert inner is not None, f"{key}: no inner map"
                kname = map_info(kmap.fd).name
                assert inner_probe(kmap, inner, mspec.key_size) == inner_probe(by_name[kname], inner, mspec.key_size)
                assert inner_probe(kmap, inner, mspec.key_size)[0] == 0
    finally:
        for m in theirs.values():
            m.close()
        shutil.rmtree(root, ignore_errors=True)


# ---- beyond libbpf 1.1 -----------------------------------------------------------------------------------------

RINGBUF_TYPED = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct event { __u32 pid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); __type(value, struct event); } rb SEC(".maps");
SEC("xdp") int p(struct xdp_md *ctx) { struct event e = {}; bpf_ringbuf_output(&rb, &e, sizeof(e), 0); return 2; }
char LICENSE[] SEC("license") = "GPL";
"""

LEGACY_MAP_IN_MAP = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct bpf_map_def_legacy { unsigned int type, key_size, value_size, max_entries, map_flags, inner_map_idx,
                            numa_node; };
struct bpf_map_def_legacy SEC("maps") inner = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8,
                                                .max_entries = 2 };
struct bpf_map_def_legacy SEC("maps") outer = { .type = BPF_MAP_TYPE_ARRAY_OF_MAPS, .key_size = 4,
                                                .value_size = 4, .max_entries = 4, .inner_map_idx = 0 };
SEC("xdp") int p(struct xdp_md *ctx) {
    __u32 k = 0; void *m = bpf_map_lookup_elem(&outer, &k);
    if (m) { __u64 *v = bpf_map_lookup_elem(m, &k); if (v) return 1; }
    return 2;
}
char LICENSE[] SEC("license") = "GPL";
"""

IPROUTE2_MAP_IN_MAP = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct bpf_elf_map { __u32 type, size_key, size_value, max_elem, flags, id, pinning, inner_id, inner_idx; };
struct bpf_elf_map SEC("maps") outer = { .type = BPF_MAP_TYPE_HASH_OF_MAPS, .size_key = 4, .size_value = 4,
                                         .max_elem = 4, .inner_id = 42 };
struct bpf_elf_map SEC("maps") inner = { .type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 16,
                                         .max_elem = 1, .id = 42 };
SEC("xdp") int p(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&outer, &k) ? 1 : 2; }
char LICENSE[] SEC("license") = "GPL";
"""


def compile_source(tmp_path, name: str, text: str) -> str:
    from bpf_objects import clang, multiarch_include

    try:
        cc = clang()
    except ToolMissing as e:
        require_or_skip(str(e))
    src = tmp_path / f"{name}.bpf.c"
    src.write_text(text)
    out = tmp_path / f"{name}.bpf.o"
    subprocess.run([cc, "-O2", "-g", "-target", "bpf", *multiarch_include(), "-c", str(src), "-o", str(out)],
                   check=True, capture_output=True)
    return str(out)


def test_ring_buffer_with_a_value_type_is_created_with_value_size_0(tmp_path):
    spec = ElfSpec(compile_source(tmp_path, "rb_typed", RINGBUF_TYPED))
    rb = spec.maps["rb"]
    assert (rb.type, rb.key_size, rb.value_size, rb.max_entries) == (MapType.RINGBUF, 0, 0, 4096)
    assert spec.map_btf["rb"].value_type_id == 0


@pytest.mark.kernel
def test_ring_buffer_with_a_value_type_loads(tmp_path):
    """libbpf 1.1 passes the value type's size and the kernel refuses the map (EINVAL); the kernel's rule is
    key_size = value_size = 0 for ring buffers, which we follow."""
    path = compile_source(tmp_path, "rb_typed", RINGBUF_TYPED)
    with load_collection(ElfSpec(path)) as coll:
        facts = shape(coll.maps["rb"])
        assert (facts["type"], facts["key_size"], facts["value_size"]) == ("RINGBUF", 0, 0)
    with pytest.raises(LoaderError) as e:  # the kernel in front of us refuses what libbpf 1.1 would create
        create_map(MapSpec("rb", MapType.RINGBUF, 0, 20, 4096))
    assert e.value.errno == errno.EINVAL


@pytest.mark.kernel
def test_legacy_map_in_map_gets_its_inner_map(tmp_path):
    """samples/bpf's struct bpf_map_def with inner_map_idx (libbpf v1 reads no legacy 'maps' section at all; the
    kernel decides whether the inner map is right: a map of its shape goes in, another does not)."""
    spec = ElfSpec(compile_source(tmp_path, "legacy_mim", LEGACY_MAP_IN_MAP))
    outer = spec.maps["outer"]
    assert outer.inner_map is not None and outer.inner_map.value_size == 8
    with load_collection(spec) as coll:
        assert inner_probe(coll.maps["outer"], spec.maps["inner"], 4) == (0, errno.EINVAL)
        assert coll.programs["p"].test_run(b"\0" * 64).retval == 2


@pytest.mark.kernel
def test_iproute2_map_in_map_gets_its_inner_map(tmp_path):
    """iproute2's struct bpf_elf_map: the outer map's inner_id names the inner map's id."""
    spec = ElfSpec(compile_source(tmp_path, "iproute2_mim", IPROUTE2_MAP_IN_MAP))
    assert spec.maps["outer"].inner_map is not None and spec.maps["outer"].inner_map.value_size == 16
    with load_collection(spec) as coll:
        assert inner_probe(coll.maps["outer"], spec.maps["inner"], 4) == (0, errno.EINVAL)
        assert coll.programs["p"].test_run(b"\0" * 64).retval == 2


PINNED = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64);
         __uint(pinning, LIBBPF_PIN_BY_NAME); } MAPNAME SEC(".maps");
SEC("xdp") int p(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&MAPNAME, &k) ? 1 : 2; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_pinned_by_name_maps_are_reused_as_libbpf_reuses_them(tmp_path):
    """pinning = LIBBPF_PIN_BY_NAME: whoever loads second reuses the map pinned at /sys/fs/bpf/NAME (same map id),
    and a pinned map of another shape is refused by both loaders."""
    name = f"pin_{uuid.uuid4().hex[:10]}"
    path = compile_source(tmp_path, "pinned", PINNED.replace("MAPNAME", name))
    pin = f"/sys/fs/bpf/{name}"
    theirs: dict = {}
    root = ""
    try:
        rc, stderr, theirs, root = bpftool_load(path, pinmaps=False)
        assert rc == 0, stderr
        with KernelMap.from_fd(sc.obj_get(pin)) as pinned:
            pinned_id = map_info(pinned.fd).id
        with load_collection(ElfSpec(path)) as coll:
            assert map_info(coll.maps[name].fd).id == pinned_id
        os.unlink(pin)
        with create_map(MapSpec(name, MapType.HASH, 4, 4, 8)) as other:  # same name, another value size
            sc.obj_pin(other.fd, pin)
        rc2, stderr2, theirs2, root2 = bpftool_load(path, pinmaps=False)
        shutil.rmtree(root2, ignore_errors=True)
        assert rc2 != 0 and not theirs2
        with pytest.raises(LoaderError, match="pinned at"):
            load_collection(ElfSpec(path))
    finally:
        for m in theirs.values():
            m.close()
        if root:
            shutil.rmtree(root, ignore_errors=True)
        if os.path.exists(pin):
            os.unlink(pin)
