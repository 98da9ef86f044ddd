"""Externs: __kconfig values from the running kernel's config, __ksym kfuncs and typed variables from vmlinux BTF."""
from __future__ import annotations

import os
import sys

import pytest

from pyebpf.abi.opcodes import CallSrc, PseudoSrc
from pyebpf.errors import ElfError
from pyebpf.btf import BtfKind, kernel_btf
from pyebpf.loader.elf import load_elf
from pyebpf.loader.elf_externs import kconfig_image
from pyebpf.system.kconfig import kernel_config
from pyebpf.system import kernel_version_code
from pyebpf.testing.plugin import require_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no kernel BTF")


def externs_obj() -> str:
    try:
        return object_path("externs")
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


def test_kernel_version_code():
    assert kernel_version_code("6.18.44-fc-v657") == (6 << 16) | (18 << 8) | 44
    assert kernel_version_code("5.4.300") == (5 << 16) | (4 << 8) | 255  # sublevel clamped like the kernel
    assert kernel_version_code("6.1") == (6 << 16) | (1 << 8)


def test_kernel_config_file(tmp_path):
    p = tmp_path / "config"
    p.write_text("# comment\nCONFIG_A=y\nCONFIG_B=250\n# CONFIG_C is not set\nCONFIG_S=\"text\"\n")
    assert kernel_config(str(p)) == {"CONFIG_A": "y", "CONFIG_B": "250", "CONFIG_S": '"text"'}


def test_externs_are_resolved_when_reading():
    o = load_elf(externs_obj())
    vml = kernel_btf()
    kinds = {name: e.kind for name, e in o.externs.items()}
    assert kinds == {"LINUX_KERNEL_VERSION": "kconfig", "CONFIG_HZ": "kconfig", "CONFIG_BPF_SYSCALL": "kconfig",
                     "CONFIG_KPROBES": "kconfig", "CONFIG_PYEBPF_DOES_NOT_EXIST": "kconfig",
                     "bpf_task_from_pid": "kfunc", "bpf_task_release": "kfunc", "runqueues": "ksym"}
    # kconfig values live in a frozen read-only .kconfig map, at aligned offsets
    offs = [(e.offset, e.size) for e in o.externs.values() if e.kind == "kconfig"]
    assert all(off % min(size, 8) == 0 for off, size in offs)
    assert o.globals(".kconfig")["LINUX_KERNEL_VERSION"] == kernel_version_code()
    assert o.globals(".kconfig")["CONFIG_PYEBPF_DOES_NOT_EXIST"] == 0  # __weak and absent
    p = o.programs["read_externs"]
    kfunc_calls = [i for i in p if i.is_call and i.src == CallSrc.KFUNC]
    assert {i.imm for i in kfunc_calls} == {vml.find("bpf_task_from_pid", BtfKind.FUNC),
                                            vml.find("bpf_task_release", BtfKind.FUNC)}
    assert all(i.ref == ".kconfig" for i in p if i.is_lddw and i.src == PseudoSrc.MAP_VALUE and i.ref != ".bss"
               and i.ref != ".data")
    ksym = [i for i in o.programs["read_rq"] if i.is_lddw and i.src == PseudoSrc.BTF_ID]
    assert [i.imm for i in ksym] == [vml.find("runqueues", BtfKind.VAR)]
    # the BTF given to the kernel has only allocated VARs in .kconfig/.ksyms, laid out without overlap
    for sec in (".kconfig", ".ksyms"):
        ds = o.btf[o.btf.find(sec, BtfKind.DATASEC)]
        end = 0
        for var_id, off, size in ds.members:
            assert o.btf[var_id].kind == BtfKind.VAR and o.btf[var_id].linkage == 1
            assert off >= end and size > 0
            end = off + size
        assert end <= ds.size_type


def test_missing_strong_kconfig_is_an_error():
    o = load_elf(externs_obj())
    with pytest.raises(ElfError, match="'CONFIG_HZ'.*no value"):
        kconfig_image(o.btf, o.externs, config={})


@pytest.mark.kernel
def test_externs_in_the_kernel():
    config = kernel_config()
    with load_elf(externs_obj(), constants={"lookup_pid": os.getpid()}) as o:
        o.load(only=["read_externs"])  # read_rq needs kallsyms data symbols (CONFIG_KALLSYMS_ALL)
        assert o.loaded["read_externs"].test_run(repeat=0).retval == 0
        e = o.bss["ext"]
        version, hz, bpf_syscall, kprobes, missing, pid = (e.kernel_version, e.hz, e.bpf_syscall, e.kprobes,
                                                           e.missing, e.init_pid)
    assert version == kernel_version_code()
    assert hz == int(config.get("CONFIG_HZ", "0"))
    assert bpf_syscall == 1
    assert kprobes == {"y": 1, "m": 2}.get(config.get("CONFIG_KPROBES", "n"), 0)
    assert missing == 0
    assert pid == os.getpid()  # bpf_task_from_pid + task->pid through the kfunc
