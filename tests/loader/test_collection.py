"""ElfSpec -> load_collection -> Collection (issue 9 part 2): the spec is plain values, each Program carries what
BPF_PROG_LOAD needs (so one program loaded alone keeps its C source lines), the collection owns the kernel
objects."""
from __future__ import annotations

import os
import sys

import pytest

from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import ProgLoadFlags, XdpAction
from pyebpf.errors import ElfError
from pyebpf.isa.program import Program
from pyebpf.loader import Collection, CollectionOptions, ElfSpec, KernelMap, LoadOptions, load, load_collection
from pyebpf.testing.plugin import require_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402


def obj(name: str) -> str:
    try:
        return object_path(name, ("-g",))
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_spec_programs_carry_btf_func_and_line_info():
    spec = ElfSpec(obj("calls_globals"))
    p = spec.programs["xdp_globals"]
    assert isinstance(p, Program) and p.section == "xdp" and p.btf is spec.btf
    assert [slot for slot, _ in p.func_info] == sorted(p.labels.values())
    assert p.line_info and all(0 <= r[0] < p.slot_count for r in p.line_info)
    assert all(isinstance(m, MapSpec) for m in spec.maps.values())
    # the load fields survive the copies the loader makes
    q = p.replace_instructions(p.instructions)
    assert (q.section, q.btf, q.func_info, q.line_info, q.kern_version) == \
           (p.section, p.btf, p.func_info, p.line_info, p.kern_version)


@pytest.mark.parametrize("name", ["calls_globals", "map_in_map", "maps_special", "maps_in_maps", "maps_globals",
                                  "legacy_maps", "ringbuf_retransmit"])
def test_reading_a_spec_makes_no_bpf_call(monkeypatch, name):
    """The spec is plain values: every bpf() call fails here, and reading (and editing) the spec still works."""
    from pyebpf.loader import syscall

    path = obj(name)

    def no_bpf(*args, **kw):
        raise AssertionError(f"bpf() called while reading a spec: {args[:1]}")

    monkeypatch.setattr(syscall, "_syscall", no_bpf)
    spec = ElfSpec(path)
    assert spec.programs and spec.maps
    for section in spec.data_sections:
        for var in spec.globals(section):
            spec.globals(section)[var]  # noqa: B018 - reading goes to the spec, not to a kernel map


def test_sec_flags_become_load_flags(tmp_path):
    from bpf_objects import clang

    import subprocess

    src = tmp_path / "frags.bpf.c"
    src.write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n'
                   'SEC("xdp.frags") int f(struct xdp_md *c) { return XDP_PASS; }\n'
                   'char LICENSE[] SEC("license") = "GPL";\n')
    out = tmp_path / "frags.o"
    try:
        cc = clang()
    except ToolMissing as e:
        require_or_skip(str(e))
    from bpf_objects import multiarch_include

    subprocess.run([cc, "-O2", "-g", "-target", "bpf", *multiarch_include(), "-c", str(src), "-o", str(out)],
                   check=True)
    p = ElfSpec(str(out)).programs["f"]
    assert p.prog_type == ProgType.XDP and p.prog_flags == ProgLoadFlags.XDP_HAS_FRAGS


@pytest.mark.kernel
def test_one_program_loaded_alone_keeps_its_source_lines():
    spec = ElfSpec(obj("calls_globals"))
    with load(spec.programs["xdp_globals"], options=LoadOptions(log_level=2)) as kp:
        assert "calls++;" in kp.log and "base += scaled(len) + sum_table();" in kp.log
        assert kp.test_run(b"\0" * 64).retval == XdpAction.PASS
    # the collection path gives the same source lines
    with load_collection(spec, CollectionOptions(log_level=2, only=["xdp_globals"])) as coll:
        assert "calls++;" in coll.programs["xdp_globals"].log


@pytest.mark.kernel
def test_collection_owns_maps_and_programs_and_reads_globals():
    spec = ElfSpec(obj("calls_globals"), constants={"multiplier": 2})
    before = _fds()
    coll = load_collection(spec)
    try:
        assert isinstance(coll, Collection)
        assert sorted(coll.programs) == ["xdp_globals", "xdp_second"]
        assert all(isinstance(m, KernelMap) for m in coll.maps.values())
        # both programs share one .data map
        assert coll.programs["xdp_globals"].maps[".data"] is coll.programs["xdp_second"].maps[".data"]
        assert coll.programs["xdp_globals"].test_run(b"\0" * 64).retval == XdpAction.PASS
        assert coll.bss["calls"] == 1
        assert coll.data["base"] == 100 + 64 * 2 + ord("e") + 10
        assert spec.bss["calls"] == 0  # the spec is unchanged: still loadable again
        with pytest.raises(ElfError, match="frozen"):
            coll.rodata["multiplier"] = 5
    finally:
        coll.close()
    assert _fds() == before


@pytest.mark.kernel
def test_collection_load_failure_releases_everything():
    spec = ElfSpec(obj("calls_globals"))
    before = _fds()
    with pytest.raises(ElfError, match="no program 'nope'"):
        load_collection(spec, CollectionOptions(only=["xdp_globals", "nope"]))
    assert _fds() == before


def test_load_keywords_are_the_options_or_program_fields():
    from pyebpf.loader.program import _apply_keywords

    p = Program([], name="a")
    q, o = _apply_keywords(p, None, {"log_level": 2, "name": "b", "maps": {}})
    assert (q.name, o.log_level, o.maps) == ("b", 2, {}) and p.name == "a"
    with pytest.raises(TypeError, match="unexpected keyword"):
        _apply_keywords(p, None, {"nope": 1})
