"""pyebpf.btf against the running kernel: every vmlinux type as bpftool prints it, struct layouts and prototypes as
bpftool's C dump declares them, and tracepoint records as tracefs describes them."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pyebpf.abi.btf import VMLINUX_BTF_PATH, BtfKind
from pyebpf.btf import (Func, FuncProto, Int, Pointer, Struct, Typedef, attach_btf_id, c_decl, func_proto, kernel_btf,
                        raw_tracepoint_args, tp_btf_type_id, tracepoint_proto)
from pyebpf.btf.dump import raw_dump
from pyebpf.errors import BtfError
from pyebpf.testing.plugin import require_or_skip

pytestmark = pytest.mark.skipif(not os.path.exists(VMLINUX_BTF_PATH), reason="kernel without CONFIG_DEBUG_INFO_BTF")


def _bpftool(fmt: str) -> str:
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    return subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX_BTF_PATH, "format", fmt], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def bpftool_c() -> str:
    return _bpftool("c")


def test_every_type_reads_as_bpftool_prints_it():
    """The parser and every typed view, over all of vmlinux: our raw dump is bpftool's, line for line."""
    ours = "\n".join(raw_dump(kernel_btf())).splitlines()
    theirs = _bpftool("raw").splitlines()
    assert len(ours) == len(theirs)
    diff = [(a, b) for a, b in zip(ours, theirs) if a != b]
    assert not diff, diff[:5]


def test_kernel_btf_is_read_once():
    assert kernel_btf() is kernel_btf()


def _c_body(dump: str, name: str) -> list[str]:
    start = dump.index(f"\nstruct {name} {{\n") + 1
    end = dump.index("\n};\n", start)
    return dump[start:end].splitlines()[1:]


@pytest.mark.parametrize("name", ["file_operations", "linux_binprm", "trace_event_raw_sched_switch", "bpf_prog_info"])
def test_struct_members_as_bpftool_declares_them(bpftool_c, name):
    btf = kernel_btf()
    s = btf.struct(name)
    assert isinstance(s, Struct) and s.size == s.byte_size > 0
    ours = [f"\t{c_decl(btf, m.type_id, m.name)}{f': {m.bitfield_size}' if m.bitfield_size else ''};"
            for m in s.members]
    theirs = [line for line in _c_body(bpftool_c, name) if not re.match(r"\t(long|int|short|char): \d+;", line)]
    assert [re.sub(r" __attribute__\(\(.*\)\)", "", line) for line in theirs] == ours
    ends = [m.offset + (0 if m.bitfield_size else m.size) for m in s.members]
    assert max(ends) <= s.size


def test_task_struct_members_resolve():
    btf = kernel_btf()
    task = btf.struct("task_struct")
    pid = task.member("pid")
    assert pid.size == 4 and isinstance(pid.type.resolve(), Int) and pid.type.resolve().signed
    comm = task.member("comm")
    assert comm.type.c_type() == "char [16]" and comm.size == 16
    parent = task.member("real_parent").type
    assert isinstance(parent, Pointer) and parent.target == task
    assert parent.c_type() == "struct task_struct *"
    with pytest.raises(BtfError, match="no member"):
        task.member("no_such_member")
    with pytest.raises(BtfError, match="no BTF struct"):
        btf.struct("no_such_struct_anywhere")


@pytest.mark.parametrize("tp", ["sched_switch", "sys_enter", "sched_process_exec"])
def test_tracepoint_prototypes_as_bpftool_declares_them(bpftool_c, tp):
    btf = kernel_btf()
    td = btf.type(tp_btf_type_id(tp))
    assert isinstance(td, Typedef) and td.name == f"btf_trace_{tp}"
    assert f"\ntypedef {c_decl(btf, td.target_id, td.name)};\n" in bpftool_c
    proto = tracepoint_proto(tp)
    assert isinstance(proto, FuncProto) and proto.params[0].type.c_type() == "void *"
    assert raw_tracepoint_args(tp) == proto.params[1:]


def test_sched_switch_args():
    args = raw_tracepoint_args("sched_switch")
    assert [a.type.c_type() for a in args][-3:] == ["struct task_struct *", "struct task_struct *", "unsigned int"]


def test_function_prototype_and_attach_ids(bpftool_c):
    btf = kernel_btf()
    fn = btf.func("do_sys_openat2")
    assert isinstance(fn, Func) and fn.proto == func_proto("do_sys_openat2")
    assert [p.name for p in fn.proto.params] == ["dfd", "filename", "how"]
    assert fn.proto.params[1].type.c_type() == "const char *"
    from pyebpf.abi.prog_types import AttachType
    assert attach_btf_id(AttachType.TRACE_FENTRY, "do_sys_openat2") == fn.id
    assert btf.kind(tp_btf_type_id("sys_enter")) == BtfKind.TYPEDEF
    with pytest.raises(BtfError) as e:
        tp_btf_type_id("no_such_tracepoint_anywhere")
    assert "btf_trace_no_such_tracepoint_anywhere" in str(e.value)


def test_enum_values_match_uapi():
    from pyebpf.abi.maps import MapType

    values = dict(kernel_btf().enum("bpf_map_type").values)
    for t in MapType:
        assert values[f"BPF_MAP_TYPE_{t.name}"] == t.value
    assert kernel_btf().enum_value("BPF_MAP_TYPE_RINGBUF") == MapType.RINGBUF


def test_kfunc_ids_are_tagged_funcs():
    btf = kernel_btf()
    ids = btf.kfunc_ids
    assert ids and all(btf.kind(i) == BtfKind.FUNC for i in ids)
