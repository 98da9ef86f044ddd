"""CPUs, kallsyms and the kernel release: one reading each, checked against what the system shows."""
from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyebpf.system import (kallsyms, kernel_release, kernel_version_code, nr_cpu_ids, num_possible_cpus, online_cpus,
                           parse_cpu_list, possible_cpus)
from pyebpf.system.kallsyms import parse_kallsyms


def test_parse_cpu_list():
    assert parse_cpu_list("0-3,5\n") == (0, 1, 2, 3, 5)
    assert parse_cpu_list("0") == (0,)
    assert parse_cpu_list("0-3,5,7-8") == (0, 1, 2, 3, 5, 7, 8)
    assert parse_cpu_list("") == ()
    for bad in ("3-1", "x", "0-99999999", "-1"):
        with pytest.raises(ValueError):
            parse_cpu_list(bad)


@given(st.lists(st.integers(0, 300), max_size=20))
def test_cpu_list_round_trip(cpus):
    text = ",".join(str(c) for c in cpus)
    assert parse_cpu_list(text) == tuple(sorted(set(cpus)))


def test_possible_cpus_as_sysfs_lists_them():
    with open("/sys/devices/system/cpu/possible") as f:
        expected = parse_cpu_list(f.read())
    assert possible_cpus() == expected
    assert num_possible_cpus() == len(expected) and nr_cpu_ids() == expected[-1] + 1
    assert set(online_cpus()) <= set(possible_cpus())


def test_kallsyms_parse():
    text = ["ffffffff81000000 T _stext\n", "ffffffff81000100 t helper\n", "ffffffffc0000000 t bpf_prog_x  [bpf]\n",
            "zzzz t broken\n"]
    syms = parse_kallsyms(text)
    assert syms is not None and syms.symbol_at(0xFFFFFFFF81000100) == "helper" and syms.symbol_at(1) is None
    assert syms.address("_stext") == 0xFFFFFFFF81000000 and syms.address("bpf_prog_x") is None
    bpf = parse_kallsyms(text, bpf_only=True)
    assert bpf is not None and bpf.names == ("bpf_prog_x",)
    assert parse_kallsyms(["0000000000000000 T _stext\n"]) is None  # kptr_restrict


def test_kallsyms_of_the_running_kernel():
    syms = kallsyms()
    if syms is None:
        pytest.skip("kallsyms addresses are hidden (kptr_restrict)")
    assert syms.address("__bpf_call_base") is not None
    assert syms.symbol_at(syms.address("__bpf_call_base")) is not None
    assert kallsyms() is syms


def test_kernel_version_code():
    assert kernel_release() == os.uname().release
    assert kernel_version_code("6.18.44-generic") == (6 << 16) + (18 << 8) + 44
    assert kernel_version_code("4.19.300") == (4 << 16) + (19 << 8) + 255
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    assert kernel_version_code() >> 8 == (major << 8) + minor


def test_mounts_parse_and_the_running_system():
    from pyebpf.system.mounts import mount_point, mounts, parse_mounts

    text = "proc /proc proc rw 0 0\nnone /mnt/with\\040space tracefs rw 0 0\nshort line\n"
    parsed = parse_mounts(text)
    assert [(m.target, m.fstype) for m in parsed] == [("/proc", "proc"), ("/mnt/with space", "tracefs")]
    assert any(m.fstype == "proc" for m in mounts())
    assert mount_point("proc") == "/proc"
    assert mount_point("no_such_fs_type") is None


def test_kernel_config(tmp_path):
    import gzip

    from pyebpf.system.kconfig import kernel_config, parse_kernel_config

    text = "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_HZ=250\nCONFIG_S=\"x y\"\n"
    assert parse_kernel_config(text) == {"CONFIG_A": "y", "CONFIG_HZ": "250", "CONFIG_S": '"x y"'}
    gz = tmp_path / "config.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert kernel_config(str(gz)) == parse_kernel_config(text)
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    assert kernel_config(str(tmp_path / "bad.gz")) == {}
    assert kernel_config(str(tmp_path / "missing")) == {}
    running = kernel_config()
    if running:  # /proc/config.gz or /boot/config-<release> exists here
        assert running.get("CONFIG_BPF") == "y"
