"""The bpf() wrapper: attr layouts against the C headers, errno reporting, ids, names."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest

from pyebpf.abi.maps import MapType
from pyebpf.errors import LoaderError, MapError
from pyebpf.loader import attr as A
from pyebpf.loader import syscall as sc

# (our struct, C expression naming the same struct, fields present in the Debian 6.1 uapi header)
LAYOUT_CHECKS = [
    (A.bpf_map_create_attr, "union bpf_attr", ["map_type", "key_size", "value_size", "max_entries", "map_flags",
                                               "inner_map_fd", "numa_node", "map_name", "map_ifindex", "btf_fd",
                                               "btf_key_type_id", "btf_value_type_id",
                                               "btf_vmlinux_value_type_id", "map_extra"]),
    (A.bpf_map_elem_attr, "union bpf_attr", ["map_fd", "key", "value", "flags"]),
    (A.bpf_prog_load_attr, "union bpf_attr", ["prog_type", "insn_cnt", "insns", "license", "log_level", "log_size",
                                              "log_buf", "kern_version", "prog_flags", "prog_name", "prog_ifindex",
                                              "expected_attach_type", "prog_btf_fd", "func_info_rec_size",
                                              "func_info", "func_info_cnt", "line_info_rec_size", "line_info",
                                              "line_info_cnt", "attach_btf_id", "attach_prog_fd", "core_relo_cnt",
                                              "fd_array", "core_relos", "core_relo_rec_size"]),
    (A.bpf_obj_attr, "union bpf_attr", ["pathname", "bpf_fd", "file_flags"]),
    (A.bpf_btf_load_attr, "union bpf_attr", ["btf", "btf_log_buf", "btf_size", "btf_log_size", "btf_log_level"]),
    (A.bpf_prog_info, "struct bpf_prog_info", [f for f, *_ in A.bpf_prog_info._fields_
                                               if not f.startswith("_") and f != "gpl_compatible"]),
    (A.bpf_map_info, "struct bpf_map_info", [f for f, *_ in A.bpf_map_info._fields_]),
]
NESTED = {A.bpf_map_batch_attr: "batch", A.bpf_test_run_attr: "test", A.bpf_info_attr: "info"}


def _c_offsets(checks: list[tuple[type, str, str, list[str]]]) -> dict[tuple[str, str], int]:
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/bpf.h>", "int main(void) {"]
    for name, ctype, prefix, fields in checks:
        for f in fields:
            lines.append(f'printf("{name} {f} %zu\\n", offsetof({ctype}, {prefix}{f}));')
    lines.append("return 0; }")
    return lines


@pytest.fixture(scope="module")
def c_offsets(tmp_path_factory):
    if not shutil.which("cc") and not shutil.which("clang"):
        pytest.skip("no C compiler to read linux/bpf.h offsets")
    if not os.path.exists("/usr/include/linux/bpf.h"):
        pytest.skip("no linux/bpf.h")
    checks = [(cls.__name__, ctype, "", fields) for cls, ctype, fields in LAYOUT_CHECKS]
    checks += [(cls.__name__, "union bpf_attr", f"{member}.", [f for f, *_ in cls._fields_ if not f.startswith("_")])
               for cls, member in NESTED.items()]
    # the 6.1 header lacks newer fields: keep only those it has, found by compiling field by field once
    d = tmp_path_factory.mktemp("cc")
    cc = shutil.which("cc") or shutil.which("clang")
    probe = d / "p.c"
    probe.write_text("\n".join(_c_offsets(checks)))
    out = subprocess.run([cc, "-o", str(d / "p"), str(probe)], capture_output=True, text=True)
    if out.returncode != 0:  # drop fields the header does not know, by the compiler's complaints
        bad = {ln.split("no member named '")[1].split("'")[0] for ln in out.stderr.splitlines()
               if "no member named '" in ln}
        bad |= {ln.split("has no member named ‘")[1].split("’")[0] for ln in out.stderr.splitlines()
                if "has no member named ‘" in ln}
        checks = [(n, c, p, [f for f in fs if f not in bad]) for n, c, p, fs in checks]
        probe.write_text("\n".join(_c_offsets(checks)))
        subprocess.run([cc, "-o", str(d / "p"), str(probe)], check=True, capture_output=True)
    result = subprocess.run([str(d / "p")], check=True, capture_output=True, text=True).stdout
    offsets = {}
    for line in result.splitlines():
        name, field, off = line.split()
        offsets[(name, field)] = int(off)
    return offsets


def test_attr_layouts_match_the_uapi_header(c_offsets):
    checked = 0
    for (name, field), off in c_offsets.items():
        cls = getattr(A, name)
        assert getattr(cls, field).offset == off, f"{name}.{field}: ours {getattr(cls, field).offset}, C {off}"
        checked += 1
    assert checked > 80


def test_syscall_numbers():
    assert sc.sys_bpf_number("x86_64") == 321
    assert sc.sys_bpf_number("aarch64") == 280
    with pytest.raises(LoaderError, match="no bpf"):
        sc.sys_bpf_number("pdp11")


def test_obj_name_is_what_the_kernel_accepts():
    assert sc.obj_name("count-openat per pid!") == b"count_openat_pe"
    assert len(sc.obj_name("x" * 40)) == 15


@pytest.mark.kernel
def test_errors_carry_errno_and_name():
    r, w = os.pipe()
    try:
        with pytest.raises(sc.KernelMapError) as e:
            sc.map_update_elem(r, b"\0" * 4, b"\0" * 8)  # an fd that is not a map
        assert e.value.errno == errno.EINVAL
        assert isinstance(e.value, MapError) and isinstance(e.value, LoaderError)
        assert "EINVAL" in str(e.value)
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(sc.KernelMapError) as e:
        sc.map_update_elem(r, b"\0" * 4, b"\0" * 8)  # closed fd
    assert e.value.errno == errno.EBADF
    with pytest.raises(LoaderError) as e:
        sc.map_create(MapType.HASH, 0, 8, 1)  # zero key size
    assert e.value.errno == errno.EINVAL and e.value.errno_name == "EINVAL"
    with pytest.raises(LoaderError) as e:
        sc.get_fd_by_id("prog", 0x7FFFFFF0)
    assert e.value.errno == errno.ENOENT


@pytest.mark.kernel
def test_ids_and_fd_kinds():
    fd = sc.map_create(MapType.ARRAY, 4, 4, 1, name="idprobe")
    try:
        from pyebpf.loader.info import map_info

        my_id = map_info(fd).id
        assert my_id in list(sc.iter_ids("map"))
        assert sc.bpf_fd_kind(fd) == "map"
        again = sc.get_fd_by_id("map", my_id)
        try:
            assert map_info(again).name == "idprobe"
        finally:
            os.close(again)
    finally:
        os.close(fd)
    assert sc.bpf_fd_kind(0) is None or sc.bpf_fd_kind(0) != "map"


@pytest.mark.kernel
def test_enable_stats_fd():
    fd = sc.enable_stats()
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:bpf-stats"
    finally:
        os.close(fd)


def _fake_bpf(monkeypatch, errnos):
    """Replace the raw syscall: fail with each errno of `errnos` in turn, then succeed with fd 42."""
    calls = []

    def fake(nr, cmd, attr, size):
        calls.append(cmd)
        if len(calls) <= len(errnos):
            import ctypes
            ctypes.set_errno(errnos[len(calls) - 1])
            return -1
        return 42

    monkeypatch.setattr(sc, "_syscall", fake)
    return calls


def test_eperm_on_map_create_raises_memlock_once_and_retries(monkeypatch):
    """Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK; like libbpf we raise it once and retry."""
    import resource

    raised = []
    monkeypatch.setattr(sc, "_memlock_bumped", False)
    monkeypatch.setattr(resource, "getrlimit", lambda r: (65536, 65536))
    monkeypatch.setattr(resource, "setrlimit", lambda r, lim: raised.append((r, lim)))
    calls = _fake_bpf(monkeypatch, [errno.EPERM])
    assert sc.map_create(MapType.ARRAY, 4, 8, 1) == 42
    assert len(calls) == 2 and raised == [(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY,) * 2)]
    calls = _fake_bpf(monkeypatch, [errno.EPERM])  # a second EPERM after the bump is a real one
    with pytest.raises(MapError) as e:
        sc.map_create(MapType.ARRAY, 4, 8, 1)
    assert e.value.errno == errno.EPERM and len(calls) == 1 and len(raised) == 1


@pytest.mark.kernel
def test_large_map_loads_under_a_small_memlock_limit():
    """In the kernel in front of the test: a child whose RLIMIT_MEMLOCK is 64 KiB (the old default) creates a 4 MiB
    array map and loads a program. Kernels before 5.11 charge both to that limit (EPERM until the loader raises it,
    as libbpf does); newer ones charge memcg. Run by the kernel matrix in every guest, 5.10 included."""
    import sys
    import textwrap

    child = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (65536, resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]))
        from pyebpf.abi.maps import MapType
        from pyebpf.isa.builder import Builder
        from pyebpf.loader import load
        from pyebpf.loader import syscall as sc
        fd = sc.map_create(MapType.ARRAY, 4, 4096, 1024)
        b = Builder("socket_filter"); b.ret(0)
        load(b.build()).close()
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "ok"


def test_eperm_on_other_commands_is_not_retried(monkeypatch):
    monkeypatch.setattr(sc, "_memlock_bumped", False)
    calls = _fake_bpf(monkeypatch, [errno.EPERM])
    with pytest.raises(LoaderError) as e:
        sc.obj_get("/sys/fs/bpf/none")
    assert e.value.errno == errno.EPERM and len(calls) == 1 and sc._memlock_bumped is False
