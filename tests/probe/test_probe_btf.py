"""BTF-named arguments (raw_tp, tp_btf, kprobe, fentry) and kernel structs read through pointers
(`ctx.prev.real_parent.tgid`, `current_task().signal.nr_threads`, `kstr(task.comm)`): in the VM on both engines
over a kernel memory laid out from the running kernel's BTF, and in the kernel, where the answers are this
process's own ids as the kernel reports them (os.getpid(), os.getppid(), /proc/self)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pyebpf.btf import kernel_btf_or_none
from pyebpf.errors import CompileError, LoaderError
from pyebpf.probe.module import load_module
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btf_probes as bp  # noqa: E402

BTF = kernel_btf_or_none()
pytestmark = pytest.mark.skipif(BTF is None, reason="the running kernel has no BTF (/sys/kernel/btf/vmlinux)")

TASK, PARENT, SIGNAL = 0xFFFF888000100000, 0xFFFF888000200000, 0xFFFF888000300000


def _switch_args() -> list[str]:
    from pyebpf.btf.kernel import raw_tracepoint_params

    return [p.name for p in raw_tracepoint_params("sched_switch", BTF)] if BTF is not None else []


def _need_prev_state() -> None:
    """raw_switch/btf_switch read sched_switch's prev_state argument, which Linux 5.18 added."""
    from pyebpf.testing.plugin import skip_missing_feature

    if "prev_state" not in _switch_args():
        skip_missing_feature("sched_switch has no prev_state argument here (Linux 5.18+)")


def _need_atomic_refcnt() -> None:
    """unlink_kprobe reads struct filename's refcnt.counter: an atomic_t on newer kernels (5.10's is a plain int)."""
    from pyebpf.testing.plugin import skip_missing_feature

    if BTF.name(BTF.struct("filename").member("refcnt").type_id) != "atomic_t":
        skip_missing_feature("struct filename's refcnt is a plain int here, not an atomic_t with .counter")


def _put(buf: bytearray, off: int, value: int, size: int) -> None:
    buf[off:off + size] = value.to_bytes(size, "little")


def _kernel_memory(tgid: int, ppid: int, threads: int, comm: bytes) -> dict[int, bytes]:
    """A task_struct, its parent and its signal_struct at fixed kernel addresses, laid out by the kernel's BTF."""
    task_t, sig_t = BTF.struct("task_struct"), BTF.struct("signal_struct")
    off = {n: task_t.member(n).offset for n in ("tgid", "pid", "real_parent", "signal", "comm")}
    task, parent, sig = bytearray(task_t.size), bytearray(task_t.size), bytearray(sig_t.size)
    _put(task, off["tgid"], tgid, 4)
    _put(task, off["pid"], tgid + 1, 4)
    _put(task, off["real_parent"], PARENT, 8)
    _put(task, off["signal"], SIGNAL, 8)
    task[off["comm"]:off["comm"] + len(comm)] = comm
    _put(parent, off["tgid"], ppid, 4)
    _put(sig, sig_t.member("nr_threads").offset, threads, 4)
    return {TASK: bytes(task), PARENT: bytes(parent), SIGNAL: bytes(sig)}


def _reset() -> None:
    bp.out.clear()
    bp.tasks.read()


def test_arguments_are_named_and_typed_from_btf():
    from pyebpf.compiler.context import context_spec
    from pyebpf.compiler.ktypes import SYSTEM_TYPES
    from pyebpf.abi.prog_types import AttachType, ProgType

    tp = context_spec(ProgType.RAW_TRACEPOINT, "sched_switch", None, SYSTEM_TYPES)
    # prev_state: Linux 5.18+
    expected = ["preempt", "prev", "next"] + (["prev_state"] if "prev_state" in _switch_args() else [])
    assert [n for n, f in tp.fields.items() if f.kind == "btf"] == expected
    assert tp.fields["prev"].offset == 8 and tp.fields["prev"].ctype == "struct task_struct *"
    fentry = context_spec(ProgType.TRACING, "do_unlinkat", None, SYSTEM_TYPES, AttachType.TRACE_FENTRY)
    params = BTF.func("do_unlinkat").proto.params
    assert [n for n, f in fentry.fields.items() if f.kind == "btf"] == [p.name for p in params]
    kp = context_spec(ProgType.KPROBE, "do_unlinkat", None, SYSTEM_TYPES, None, "kprobe/do_unlinkat")
    assert kp.fields[params[0].name].offset == kp.fields["di"].offset  # first argument: rdi


@pytest.mark.parametrize("engine", ["interp", "compiled"])
@pytest.mark.parametrize("which", ["raw_switch", "btf_switch"])
def test_vm_reads_through_task_pointers(which, engine):
    _need_prev_state()
    _reset()
    env = Environment(kernel_memory=_kernel_memory(bp.TARGET, 4321, 3, b"probe"))
    probe = getattr(bp, which)
    probe.run(prev=TASK, next=0, prev_state=1, preempt=0, engine=engine, env=env)
    assert [bp.out[i] for i in range(4)] == [bp.TARGET, 4321, 1, 1]
    _reset()
    probe.run(prev=PARENT, next=TASK, engine=engine, env=env)  # the parent's tgid is not ours: nothing written
    assert [bp.out[i] for i in range(4)] == [0, 0, 0, 0]


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_current_task_fields_and_comm(engine):
    _reset()
    env = Environment(kernel_memory=_kernel_memory(bp.TARGET, 99, 5, b"pyebpf-task"), current_task=TASK)
    bp.current.run(args=[0, 0], engine=engine, env=env)
    assert [bp.out[i] for i in (4, 5, 6)] == [99, 5, bp.TARGET + 1]
    (rec,) = bp.tasks.read()
    assert (rec.pid, rec.ppid, rec.comm.rstrip(b"\0"), rec.pcomm) == (bp.TARGET, 99, b"pyebpf-task", bytes(16))


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_kprobe_named_parameters(engine):
    _need_atomic_refcnt()
    _reset()
    fname = 0xFFFF888000400000
    refcnt = BTF.struct("filename").member("refcnt").offset
    mem = bytearray(BTF.struct("filename").size)
    _put(mem, refcnt, 3, 4)
    env = Environment(kernel_memory={fname: bytes(mem)})
    bp.unlink_kprobe.run(dfd=-100, name=fname, engine=engine, env=env)
    assert bp.out[0] == (-100) % 2 ** 64 and bp.out[1] == 3  # int dfd sign-extended, then stored as u64
    bp.unlink_kprobe.run(dfd=5, name=0, engine=engine)
    assert bp.out[0] == 5 and bp.out[1] == 7


def _wait_for(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.02)


@pytest.mark.kernel
@pytest.mark.parametrize("which", ["raw_switch", "btf_switch"])
def test_kernel_reads_through_task_pointers(which):
    _need_prev_state()
    _reset()
    with getattr(bp, which).load():
        _wait_for(lambda: bp.out[0] != 0)
    assert [bp.out[i] for i in range(4)] == [os.getpid(), os.getppid(), 1, 1]


@pytest.mark.kernel
def test_kernel_current_task_fields_and_comm():
    _reset()
    comm = Path("/proc/self/comm").read_bytes().strip()
    with bp.current.load():
        _wait_for(lambda: bp.out[4] != 0)
        threads = len(os.listdir("/proc/self/task"))
        records = bp.tasks.read(timeout=1)
    tids = set(int(t) for t in os.listdir("/proc/self/task"))
    assert bp.out[4] == os.getppid()
    assert bp.out[5] == threads
    assert bp.out[6] in tids
    mine = [r for r in records if r.pid == os.getpid()]
    pcomm = Path(f"/proc/{os.getppid()}/comm").read_bytes().strip()
    assert mine and all((r.ppid, r.comm.rstrip(b"\0"), r.pcomm.rstrip(b"\0")) == (os.getppid(), comm, pcomm)
                        for r in mine)


def _kernel_refuses(probe) -> str | None:
    """Why this kernel cannot run `probe` (no kprobes, fentry refused), or None."""
    from pyebpf.loader.attach import kprobes_available

    if probe.prog_type.name == "KPROBE":
        return kprobes_available()
    try:
        with probe.load():
            return None
    except LoaderError as e:
        return f"fentry refused: {e}"


@pytest.mark.kernel
@pytest.mark.parametrize("which", ["unlink_kprobe", "unlink_fentry"])
def test_kernel_function_parameters(which, tmp_path):
    from pyebpf.testing.plugin import skip_missing_feature

    if which == "unlink_kprobe":
        _need_atomic_refcnt()
    probe = getattr(bp, which)
    reason = _kernel_refuses(probe)
    if reason is not None:
        skip_missing_feature(reason)
    _reset()
    victim = tmp_path / "victim"
    victim.write_text("x")
    with probe.load():
        dfd = os.open(str(tmp_path), os.O_RDONLY)
        try:
            os.unlink("victim", dir_fd=dfd)
        finally:
            os.close(dfd)
    assert bp.out[0] == dfd
    if which == "unlink_kprobe":
        assert bp.out[1] >= 1  # the struct filename's reference count, read through the pointer argument


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm_kernel_pointers_into_subprograms(engine):
    _reset()
    env = Environment(kernel_memory=_kernel_memory(bp.TARGET, 99, 5, b"pyebpf-task"), current_task=TASK)
    bp.via_subprograms.run(args=[0, 0], engine=engine, env=env)
    assert [bp.out[i] for i in (4, 5)] == [99, 5]
    names = [n for n, _ in bp.via_subprograms.compiled.functions]
    assert names == ["via_subprograms", "parent_tgid", "nr_threads"]
    _reset()
    bp.btf_via_subprogram.run(prev=TASK, next=0, engine=engine, env=env)
    assert [bp.out[i] for i in (0, 1)] == [bp.TARGET, 99]


@pytest.mark.kernel
def test_kernel_pointers_into_subprograms():
    _reset()
    with bp.via_subprograms.load():
        _wait_for(lambda: bp.out[4] != 0)
        threads = len(os.listdir("/proc/self/task"))
    assert (bp.out[4], bp.out[5]) == (os.getppid(), threads)
    _reset()
    with bp.btf_via_subprogram.load():
        _wait_for(lambda: bp.out[0] != 0)
    assert (bp.out[0], bp.out[1]) == (os.getpid(), os.getppid())


def test_kernel_pointer_parameter_errors(tmp_path):
    src = tmp_path / "bad_sub.py"
    src.write_text(
        "from pyebpf.probe import probe, Array, u64, noinline, current_task\n"
        "out = Array(u64, 4)\n"
        "@noinline\n"
        "def f(t: 'struct task_struct *') -> u64:\n"
        "    return t.tgid\n"
        "@probe('raw_tp/sys_enter')\n"
        "def a(ctx):\n"
        "    out[0] = f(ctx.args[0])\n"
        "@noinline\n"
        "def g(t: 'struct task_struct') -> u64:\n"
        "    return 0\n"
        "@probe('raw_tp/sys_enter')\n"
        "def b(ctx):\n"
        "    out[0] = g(current_task())\n")
    mod = load_module(str(src))
    with pytest.raises(CompileError) as e:
        mod.a.compile()
    assert "takes a kernel struct task_struct * here, not an integer" in str(e.value) and ":8:16:" in str(e.value)
    with pytest.raises(CompileError) as e:
        mod.b.compile()
    assert "struct NAME *" in str(e.value) and ":10:10:" in str(e.value)


def test_errors_name_the_kernel_type(tmp_path):
    src = tmp_path / "bad_btf.py"
    src.write_text(
        "from pyebpf.probe import probe, Array, u64\n"
        "out = Array(u64, 4)\n"
        "@probe('raw_tp/sched_switch')\n"
        "def a(ctx):\n"
        "    out[0] = ctx.prev.no_such_field\n"
        "@probe('raw_tp/sched_switch')\n"
        "def b(ctx):\n"
        "    out[0] = ctx.prev.signal\n"
        "@probe('raw_tp/sched_switch')\n"
        "def c(ctx):\n"
        "    out[0] = ctx.nope\n")
    mod = load_module(str(src))
    with pytest.raises(CompileError) as e:
        mod.a.compile()
    assert "struct task_struct has no field 'no_such_field'" in str(e.value) and ":5:14:" in str(e.value)
    assert "^" in str(e.value)
    mod.b.compile()  # a pointer member is an integer (its address)
    with pytest.raises(CompileError) as e:
        mod.c.compile()
    assert "has no field 'nope'" in str(e.value) and "prev" in str(e.value)


def test_tp_btf_reads_arguments_with_plain_loads():
    """tp_btf arguments are PTR_TO_BTF_ID: their fields (and the fields of struct pointers read from them) are plain
    loads with CO-RE relocations on the load's offset, no bpf_probe_read_kernel; raw_tp arguments are scalars."""
    from pyebpf.abi.helpers import HelperId
    from pyebpf.abi.opcodes import CLASS_MASK, InsnClass

    def helpers(p):
        return [i.imm for i in p.program.instructions if i.is_call]

    _need_prev_state()
    assert HelperId.PROBE_READ_KERNEL not in helpers(bp.btf_switch)
    assert HelperId.PROBE_READ_KERNEL in helpers(bp.raw_switch)
    prog = bp.btf_switch.program
    relocated = [prog.instructions[prog.index_of(a.slot)] for a in prog.core_relos]
    assert relocated and all(i.opcode & CLASS_MASK == InsnClass.LDX for i in relocated)
    assert len(prog.instructions) < len(bp.raw_switch.program.instructions)


def test_direct_pointer_variable_cannot_become_a_scalar(tmp_path):
    src = tmp_path / "bad_direct.py"
    src.write_text(
        "from pyebpf.probe import probe, Array, u64, current_task\n"
        "out = Array(u64, 4)\n"
        "@probe('tp_btf/sched_switch')\n"
        "def a(ctx):\n"
        "    p = ctx.prev\n"
        "    p = current_task()\n"
        "    out[0] = p.tgid\n")
    mod = load_module(str(src))
    with pytest.raises(CompileError) as e:
        mod.a.compile()
    assert "cannot become another value" in str(e.value) and ":6:5:" in str(e.value)
