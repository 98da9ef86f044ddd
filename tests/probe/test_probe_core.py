"""CO-RE: a probe written out as an ELF object (`Probe.write_object`) carries BTF and .BTF.ext core_relo records for
every kernel struct field it reads, as clang writes them, so the object loads on a kernel whose struct layout
differs. The proof compiles against a made-up `task_struct` layout (core_probes.FakeKernel), then loads the object on
the running kernel through pyebpf's loader and through libbpf (bpftool prog loadall): the relocated probe reads this
process's own pid and parent pid, which the fake offsets could not."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pyebpf.btf import CoreReloKind, kernel_btf_or_none
from pyebpf.loader.elf_spec import ElfSpec
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
import core_probes as cp  # noqa: E402

BTF = kernel_btf_or_none()
pytestmark = pytest.mark.skipif(BTF is None, reason="the running kernel has no BTF (/sys/kernel/btf/vmlinux)")


def _real_offsets() -> tuple[int, int]:
    task = BTF.struct("task_struct")
    return task.member("tgid").offset, task.member("real_parent").offset


def test_fake_layout_compiles_to_the_fake_offsets_and_runs_in_the_vm():
    """The VM runs the instructions as compiled: over kernel memory laid out as the fake BTF says."""
    prog = cp.fake_layout_parent.program
    specs = sorted((a.spec, a.kind) for a in prog.core_relos)
    assert specs == [("0:0", CoreReloKind.FIELD_BYTE_OFFSET)] * 3 + [("0:1", CoreReloKind.FIELD_BYTE_OFFSET)]
    assert sorted({prog.instructions[prog.index_of(a.slot)].imm for a in prog.core_relos}) == [cp.FAKE_TGID,
                                                                                               cp.FAKE_PARENT]
    task, parent = 0xFFFF888000100000, 0xFFFF888000200000
    t = bytearray(cp.FAKE_SIZE)
    t[cp.FAKE_TGID:cp.FAKE_TGID + 4] = cp.TARGET.to_bytes(4, "little")
    t[cp.FAKE_PARENT:cp.FAKE_PARENT + 8] = parent.to_bytes(8, "little")
    p = bytearray(cp.FAKE_SIZE)
    p[cp.FAKE_TGID:cp.FAKE_TGID + 4] = (77).to_bytes(4, "little")
    for engine in ("interp", "compiled"):
        cp.parents.clear()
        env = Environment(pid=cp.TARGET, tgid=cp.TARGET, current_task=task,
                          kernel_memory={task: bytes(t), parent: bytes(p)})
        cp.fake_layout_parent.run(engine=engine, env=env)
        assert dict(cp.parents.items()) == {cp.TARGET: 77}


def test_object_carries_core_relocations_over_minimal_local_types():
    data = cp.fake_layout_parent.write_object()
    spec = ElfSpec(data, btf_custom_path=None)
    relos = spec.btf_ext.core_relos["tracepoint/syscalls/sys_enter_getppid"]
    assert len(relos) == 4 and {r.kind for r in relos} == {CoreReloKind.FIELD_BYTE_OFFSET}
    local = spec.btf
    roots = {local.name(r.type_id) for r in relos}
    assert roots == {"task_struct"}
    # against the running kernel every relocation moved the fake offset to the real one
    tgid, parent = _real_offsets()
    moved = sorted({(r.local_value, r.new_value) for r in spec.core_results})
    assert moved == sorted({(cp.FAKE_TGID, tgid), (cp.FAKE_PARENT, parent)})
    assert not any(r.poisoned for r in spec.core_results)


def test_object_of_real_layout_resolves_to_itself_with_anonymous_members():
    """Against the BTF it was compiled on, every relocation gives back the value in the instruction; a field in an
    anonymous union (sock_common's skc_dport) has the anonymous member's index in its access string."""
    import core_probes_real as cr

    spec = ElfSpec(cr.sock_ports.write_object())
    assert spec.core_results and all(r.local_value == r.new_value for r in spec.core_results)
    assert all(not r.poisoned for r in spec.core_results)
    common = BTF.struct("sock_common")
    want = common.member("skc_dport").offset
    assert want in {r.new_value for r in spec.core_results}
    assert any(len(r.spec.split(":")) >= 4 for r in spec.core_results)  # 0:__sk_common:<anon>:skc_dport


@pytest.mark.kernel
def test_relocated_object_reads_the_real_fields_through_pyebpf_loader():
    from pyebpf.loader.collection import load_collection

    spec = ElfSpec(cp.fake_layout_parent.write_object())
    with load_collection(spec) as coll:
        coll.attach()
        os.getppid()
        got = dict(coll.maps["parents"].items())
    assert got == {os.getpid(): os.getppid()}


@pytest.mark.kernel
@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_libbpf_relocates_the_object(tmp_path):
    """libbpf (bpftool prog loadall) reads our core_relo records and patches the fake offsets to the real ones."""
    obj = tmp_path / "core.o"
    cp.fake_layout_parent.write_object(str(obj))
    pin = f"/sys/fs/bpf/pyebpf_core_{uuid.uuid4().hex[:12]}"
    try:
        r = subprocess.run(["bpftool", "prog", "loadall", str(obj), pin], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out = subprocess.run(["bpftool", "-j", "prog", "dump", "xlated", "pinned", f"{pin}/{os.listdir(pin)[0]}"],
                             capture_output=True, text=True, check=True).stdout
        imms = [i["disasm"] for i in json.loads(out)]
    finally:
        subprocess.run(["rm", "-rf", pin])
    tgid, parent = _real_offsets()
    prog = cp.fake_layout_parent.program
    for acc in prog.core_relos:
        want = tgid if acc.spec == "0:0" else parent
        assert imms[prog.index_of(acc.slot)].endswith(f"= {want}"), imms[prog.index_of(acc.slot)]


@pytest.mark.kernel
def test_tp_btf_object_with_relocated_plain_loads_runs():
    """A tp_btf probe's plain loads through PTR_TO_BTF_ID carry CO-RE relocations on the load offsets; its object,
    loaded and attached through pyebpf's loader, reads this process's ids at sched_switch."""
    import time

    import btf_probes as bp

    spec = ElfSpec(bp.btf_switch.write_object())
    assert spec.core_results and all(r.local_value == r.new_value for r in spec.core_results)
    from pyebpf.loader.collection import load_collection

    with load_collection(spec) as coll:
        coll.attach()
        end = time.monotonic() + 5
        while coll.maps["btf_out"][0] == 0 and time.monotonic() < end:
            time.sleep(0.02)
        got = [coll.maps["btf_out"][i] for i in range(2)]
    assert got == [os.getpid(), os.getppid()]
