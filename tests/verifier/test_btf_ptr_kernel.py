"""PTR_TO_BTF_ID, BTF-typed tracing contexts, kfunc calls and map-pointer reads: our verifier against the running
kernel on the same program (verdict and the kernel's error line). Offsets come from the running kernel's BTF.

tp_btf programs load on this host; fentry/fexit need a trampoline, which some kernels refuse before verifying
(EPERM with an empty log): those cases skip here and run in the guests (scripts/matrix-tests.txt).
"""
from __future__ import annotations

import dataclasses
import errno
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.btf import attach_btf_id, kernel_btf_or_none
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_oracle import KernelVerdict  # noqa: E402

pytestmark = pytest.mark.kernel
BTF = kernel_btf_or_none()
if BTF is None:
    pytest.skip("no /sys/kernel/btf/vmlinux", allow_module_level=True)
TASK = BTF.struct("task_struct")


def off(name: str, struct=TASK) -> int:
    return struct.member(name).offset


def _kernel(program, prog_type, attach_type) -> KernelVerdict:
    from pyebpf.loader import ProgramLoadError, load
    try:
        kp = load(program, prog_type, log_level=1)
    except ProgramLoadError as e:
        return KernelVerdict(False, e.errno or 0, e.log or "")
    kp.close()
    return KernelVerdict(True, 0, "")


def agree(text: str, prog_type=ProgType.TRACING, attach_type=AttachType.TRACE_RAW_TP, target="sched_switch",
          kfuncs=(), maps=None) -> tuple[bool, str]:
    """Load `text` into the kernel and through our verifier; assert the same verdict and error line."""
    missing = [k for k in kfuncs if BTF.find(k) is None]
    if missing:
        from pyebpf.testing.plugin import skip_missing_feature
        skip_missing_feature(f"this kernel's BTF has no kfunc {missing[0]}")
    head = "".join(f".kfunc {k} {BTF.find(k)}\n" for k in kfuncs)
    program = assemble(head + text, maps=maps)
    tid = attach_btf_id(attach_type, target) if prog_type == ProgType.TRACING else 0
    program = dataclasses.replace(program, prog_type=prog_type, expected_attach_type=attach_type if tid else None,
                                  attach_btf_id=tid, license="GPL")
    k = _kernel(program, prog_type, attach_type)
    if not k.accepted and k.errno == errno.EPERM and not k.log.strip() and prog_type == ProgType.TRACING:
        from pyebpf.testing.plugin import skip_missing_feature
        skip_missing_feature(f"this kernel refuses {attach_type.name} programs before verifying (EPERM, no log); "
                             f"the guests check these")
    ours = verify(program, raise_on_reject=False, log_level=1)
    ours_msg = ours.error.message if ours.error else ""
    assert ours.accepted == k.accepted, (k.last_error, ours_msg)
    if not k.accepted:
        assert ours_msg == k.last_error.strip(), (k.last_error, ours_msg)
    return k.accepted, k.last_error


PREV = "r6 = *(u64 *)(r1 + 8)\n"  # sched_switch(bool preempt, struct task_struct *prev, *next, unsigned prev_state)
END = "r0 = 0\nexit\n"

TP_BTF_CASES = {
    "scalar field": PREV + f"r0 = *(u32 *)(r6 + {off('pid')})\n" + END,
    "walk a pointer": PREV + f"r2 = *(u64 *)(r6 + {off('real_parent')})\nr0 = *(u32 *)(r2 + {off('tgid')})\n" + END,
    "array element": PREV + f"r0 = *(u8 *)(r6 + {off('comm') + 3})\n" + END,
    "nested struct": PREV + f"r0 = *(u64 *)(r6 + {off('se') + off('vruntime', BTF.struct('sched_entity'))})\n" + END,
    "u32 of a pointer member": PREV + f"r0 = *(u32 *)(r6 + {off('real_parent')})\n" + END,
    "misaligned into a pointer member": PREV + f"r0 = *(u64 *)(r6 + {off('real_parent') + 4})\n" + END,
    "beyond the struct": PREV + f"r0 = *(u32 *)(r6 + {TASK.size})\n" + END,
    "beyond a member": PREV + f"r0 = *(u64 *)(r6 + {off('tgid')})\n" + END,
    "write refused": PREV + f"r2 = 1\n*(u32 *)(r6 + {off('pid')}) = r2\n" + END,
    "negative offset": PREV + "r6 += -8\nr0 = *(u64 *)(r6 + 0)\n" + END,
    "ctx offset not a multiple of 8": "r0 = *(u32 *)(r1 + 4)\n" + END,
    "ctx past the arguments": "r0 = *(u64 *)(r1 + 32)\n" + END,
    "ctx scalar argument": "r0 = *(u8 *)(r1 + 0)\n" + END,
    "ctx pointer argument size 4": "r0 = *(u32 *)(r1 + 8)\n" + END,
    "ctx write": "r2 = 0\n*(u64 *)(r1 + 8) = r2\n" + END,
    "pointer returned": PREV + "r0 = r6\nexit\n",
    "pointer arithmetic then load": PREV + f"r6 += {off('pid')}\nr0 = *(u32 *)(r6 + 0)\n" + END,
    "variable offset": PREV + "r2 = *(u64 *)(r1 + 24)\nr2 &= 8\nr6 += r2\nr0 = *(u32 *)(r6 + 0)\n" + END,
    "stored on the stack and back": PREV + f"*(u64 *)(r10 - 8) = r6\nr2 = *(u64 *)(r10 - 8)\n"
                                           f"r0 = *(u32 *)(r2 + {off('pid')})\n" + END,
    "null check of a walked rcu pointer": PREV + f"r2 = *(u64 *)(r6 + {off('parent')})\nif r2 == 0 goto +1\n"
                                                 f"r0 = *(u32 *)(r2 + {off('pid')})\n" + END,
    "helper taking a task": PREV + "r1 = r6\nr2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall bpf_get_task_stack\n" + END,
    "helper taking a task, given an mm": PREV + f"r1 = *(u64 *)(r6 + {off('mm')})\nr2 = r10\nr2 += -64\nr3 = 64\n"
                                                "r4 = 0\ncall bpf_get_task_stack\n" + END,
    "helper taking a task, given a maybe-NULL one": PREV + f"r1 = *(u64 *)(r6 + {off('parent')})\nr2 = r10\n"
                                                           "r2 += -64\nr3 = 64\nr4 = 0\ncall bpf_get_task_stack\n"
                                                           + END,
    "helper taking a task, given the context": "r2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall bpf_get_task_stack\n"
                                               + END,
    "task_pt_regs then a field": PREV + "r1 = r6\ncall bpf_task_pt_regs\nr0 = *(u64 *)(r0 + 0)\n" + END,
}


@pytest.mark.parametrize("name", sorted(TP_BTF_CASES))
def test_tp_btf_loads_agree(name):
    agree(TP_BTF_CASES[name])


def test_bitfields_agree():
    """A load that covers a whole bitfield is a scalar; one that starts inside it finds no field."""
    bf = next(m for m in TASK.members if m.bitfield_size)
    byte = bf.bit_offset // 8
    results = [agree(PREV + f"r0 = *({sz} *)(r6 + {byte + d})\n" + END)[0] for sz, d in (("u8", 0), ("u32", 0),
                                                                                        ("u8", 1))]
    assert True in results  # the case is not vacuous


KF = ("bpf_task_acquire", "bpf_task_release", "bpf_task_from_pid", "bpf_cgroup_from_id", "bpf_cgroup_release",
      "bpf_cpumask_create", "bpf_cpumask_release")
KFUNC_CASES = {
    "acquire and release": PREV + "r1 = r6\ncall bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\n"
                                  "call bpf_task_release\n" + END,
    "acquire without release": PREV + "r1 = r6\ncall bpf_task_acquire\n" + END,
    "acquire result not checked for NULL": PREV + "r1 = r6\ncall bpf_task_acquire\nr1 = r0\n"
                                                  "call bpf_task_release\n" + END,
    "release of an unreferenced pointer": PREV + "r1 = r6\ncall bpf_task_release\n" + END,
    "scalar where a pointer is expected": "r1 = 0\ncall bpf_task_acquire\n" + END,
    "pointer where a scalar is expected": "r1 = r10\ncall bpf_task_from_pid\n" + END,
    "wrong struct": "call bpf_cpumask_create\nif r0 == 0 goto +3\nr6 = r0\nr1 = r0\ncall bpf_task_acquire\n"
                    "r1 = r6\ncall bpf_cpumask_release\n" + END,
    "from pid, released": PREV + f"r1 = *(u32 *)(r6 + {off('pid')})\ncall bpf_task_from_pid\nif r0 == 0 goto +2\n"
                                 "r1 = r0\ncall bpf_task_release\n" + END,
    "use after release": PREV + "r1 = r6\ncall bpf_task_acquire\nif r0 == 0 goto +4\nr6 = r0\nr1 = r0\n"
                                f"call bpf_task_release\nr0 = *(u32 *)(r6 + {off('pid')})\n" + END,
    "acquire through a walked rcu pointer": PREV + f"r1 = *(u64 *)(r6 + {off('group_leader')})\n"
                                                   "call bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\n"
                                                   "call bpf_task_release\n" + END,
    "acquire through an untrusted walk": PREV + f"r1 = *(u64 *)(r6 + {off('mm')})\n"
                                                "call bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\n"
                                                "call bpf_task_release\n" + END,
    "cgroup from id": "r1 = 0\ncall bpf_cgroup_from_id\nif r0 == 0 goto +2\nr1 = r0\ncall bpf_cgroup_release\n"
                      + END,
    "released twice": "call bpf_cpumask_create\nif r0 == 0 goto +5\nr6 = r0\nr1 = r0\ncall bpf_cpumask_release\n"
                      "r1 = r6\ncall bpf_cpumask_release\n" + END,
}


@pytest.mark.parametrize("name", sorted(KFUNC_CASES))
def test_kfunc_calls_agree(name):
    agree(KFUNC_CASES[name], kfuncs=KF)


#: program types our verifier models, each asked whether the task and cpumask kfunc sets are registered for it
KFUNC_PROG_TYPES = (ProgType.SOCKET_FILTER, ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT,
                    ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB, ProgType.PERF_EVENT)


@pytest.mark.parametrize("kfunc", ["bpf_task_from_pid", "bpf_cpumask_create", "bpf_cgroup_from_id"])
@pytest.mark.parametrize("prog_type", KFUNC_PROG_TYPES, ids=lambda p: p.name.lower())
def test_kfunc_sets_per_program_type(prog_type, kfunc):
    release = {"bpf_task_from_pid": "bpf_task_release", "bpf_cpumask_create": "bpf_cpumask_release",
               "bpf_cgroup_from_id": "bpf_cgroup_release"}[kfunc]
    agree(f"r1 = 0\ncall {kfunc}\nif r0 == 0 goto +2\nr1 = r0\ncall {release}\n" + END, prog_type=prog_type,
          attach_type=None, kfuncs=KF)


def test_current_task_btf_agrees():
    """bpf_get_current_task_btf() returns a trusted task_struct: its fields read as through the context."""
    agree(f"call bpf_get_current_task_btf\nr0 = *(u32 *)(r0 + {off('tgid')})\n" + END)
    agree("call bpf_get_current_task_btf\nr1 = r0\ncall bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\n"
          "call bpf_task_release\n" + END, kfuncs=KF)


ARRAY = {"m": MapSpec("m", MapType.ARRAY, 4, 48, 1)}
HASH = {"m": MapSpec("m", MapType.HASH, 4, 8, 4)}


@settings(max_examples=30, deadline=None)
@given(off=st.integers(-8, 400), size=st.sampled_from(["u8", "u16", "u32", "u64"]), hash_map=st.booleans())
def test_map_pointer_reads_agree(off, size, hash_map):
    """Reads of struct bpf_array / bpf_htab through a map pointer, at any offset and size."""
    agree(f"r1 = map[m] ll\nr0 = *({size} *)(r1 + {off})\n" + END, prog_type=ProgType.SOCKET_FILTER,
          attach_type=None, maps=HASH if hash_map else ARRAY)


def test_map_pointer_walk_agrees():
    """map->ops is a pointer to struct bpf_map_ops: the load gives a PTR_TO_BTF_ID one may read through."""
    ops = BTF.struct("bpf_map").member("ops").offset
    agree(f"r1 = map[m] ll\nr2 = *(u64 *)(r1 + {ops})\nr0 = *(u64 *)(r2 + 0)\n" + END,
          prog_type=ProgType.SOCKET_FILTER, attach_type=None, maps=ARRAY)


FENTRY_CASES = {
    "fentry argument walk": ("do_unlinkat", AttachType.TRACE_FENTRY,
                             "r2 = *(u64 *)(r1 + 8)\nr0 = *(u64 *)(r2 + 0)\n" + END),
    "fentry bad size on a pointer member": ("do_unlinkat", AttachType.TRACE_FENTRY,
                                            "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 0)\n" + END),
    "fentry return slot refused": ("do_unlinkat", AttachType.TRACE_FENTRY, "r0 = *(u64 *)(r1 + 16)\n" + END),
    "fexit return slot": ("do_unlinkat", AttachType.TRACE_FEXIT, "r0 = *(u64 *)(r1 + 16)\n" + END),
    "fentry non-zero return": ("do_unlinkat", AttachType.TRACE_FENTRY, "r0 = 1\nexit\n"),
}


@pytest.mark.parametrize("name", sorted(FENTRY_CASES))
def test_fentry_agrees(name):
    target, at, text = FENTRY_CASES[name]
    agree(text, attach_type=at, target=target)
