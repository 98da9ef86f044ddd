"""The program types added in session 5 for issue 10 against the running kernel: NETFILTER (trusted nf_hook_state /
sk_buff pointers in its ctx), SYSCALL (a sleepable program reading and writing its caller's buffer),
RAW_TRACEPOINT_WRITABLE (args[0] is the tracepoint's writable buffer), TRACING iterators (the ctx from
bpf_iter_<target>'s prototype, maybe-NULL objects) and LSM (the hook's prototype, return range per hook, disabled
and sleepable hooks). Same verdict and same error line as BPF_PROG_LOAD; offsets from the running kernel's BTF.

LSM programs need a trampoline, which some kernels refuse before verifying (EPERM with an empty log, as this 6.18
host does; it refuses iterators over map elements the same way): those cases skip with that reason and run in a
guest kernel (`KERNELS=6.12 scripts/kernel-matrix.sh`).
"""
from __future__ import annotations

import dataclasses
import errno
import re

import pytest

from kernel_oracle import kernel_load
from pyebpf.abi.prog_types import AttachType as A
from pyebpf.abi.prog_types import ProgType as P
from pyebpf.abi.uapi import ProgLoadFlags
from pyebpf.btf import attach_btf_id, kernel_btf_or_none
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify

pytestmark = pytest.mark.kernel
BTF = kernel_btf_or_none()
if BTF is None:
    pytest.skip("no /sys/kernel/btf/vmlinux", allow_module_level=True)
SLEEPABLE = int(ProgLoadFlags.SLEEPABLE)


def off(struct: str, member: str) -> int:
    return BTF.struct(struct).member(member).offset


END0, END1 = "r0 = 0\nexit", "r0 = 1\nexit"
STATE, SKB = "r2 = *(u64 *)(r1 +0)\n", "r2 = *(u64 *)(r1 +8)\n"
TP_BUF = "r6 = *(u64 *)(r1 +0)\n"

CASES = {
    # name: (prog type, expected_attach_type, prog_flags, program text)
    "nf_state_field": (P.NETFILTER, A.NETFILTER, 0, STATE + f"r0 = *(u8 *)(r2 +{off('nf_hook_state', 'pf')})\n"
                       + END1),
    "nf_skb_len": (P.NETFILTER, A.NETFILTER, 0, SKB + f"r0 = *(u32 *)(r2 +{off('sk_buff', 'len')})\n" + END1),
    "nf_skb_walk_sk": (P.NETFILTER, A.NETFILTER, 0, SKB + f"r3 = *(u64 *)(r2 +{off('sk_buff', 'sk')})\n"
                       "r0 = *(u32 *)(r3 +0)\n" + END1),
    "nf_ctx_u32": (P.NETFILTER, A.NETFILTER, 0, "r2 = *(u32 *)(r1 +8)\n" + END1),
    "nf_ctx_write": (P.NETFILTER, A.NETFILTER, 0, "r2 = 0\n*(u64 *)(r1 +0) = r2\n" + END1),
    "nf_state_write": (P.NETFILTER, A.NETFILTER, 0, STATE + "r3 = 0\n*(u8 *)(r2 +1) = r3\n" + END1),
    "nf_ret2": (P.NETFILTER, A.NETFILTER, 0, "r0 = 2\nexit"),
    "nf_ret_field": (P.NETFILTER, A.NETFILTER, 0, STATE + f"r0 = *(u8 *)(r2 +{off('nf_hook_state', 'pf')})\nexit"),
    "nf_ret_ptr": (P.NETFILTER, A.NETFILTER, 0, STATE + "r0 = r2\nexit"),
    "nf_no_attach": (P.NETFILTER, None, 0, END1),
    "nf_base_helper": (P.NETFILTER, A.NETFILTER, 0, "call 5\n" + END1),  # ktime_get_ns
    "nf_skb_helper": (P.NETFILTER, A.NETFILTER, 0, "r2 = 0\nr3 = r10\nr3 += -8\nr4 = 4\ncall 26\n" + END1),
    "syscall_ctx_rw": (P.SYSCALL, None, SLEEPABLE, "r2 = *(u64 *)(r1 +0)\n*(u64 *)(r1 +8) = r2\n" + END0),
    "syscall_ctx_far": (P.SYSCALL, None, SLEEPABLE, "r2 = *(u8 *)(r1 +32767)\n" + END0),
    "syscall_ctx_misaligned": (P.SYSCALL, None, SLEEPABLE, "r2 = *(u64 *)(r1 +4)\n" + END0),
    "syscall_ctx_leak": (P.SYSCALL, None, SLEEPABLE, "*(u64 *)(r1 +0) = r1\n" + END0),
    "syscall_ctx_moved": (P.SYSCALL, None, SLEEPABLE, "r1 += 8\nr2 = *(u64 *)(r1 +0)\n" + END0),
    "syscall_not_sleepable": (P.SYSCALL, None, 0, END0),
    "syscall_attach_type": (P.SYSCALL, A.NETFILTER, SLEEPABLE, END0),
    "syscall_ret_any": (P.SYSCALL, None, SLEEPABLE, "r0 = -5\nexit"),
    "syscall_might_sleep_helper": (P.SYSCALL, None, SLEEPABLE,
                                   "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\n" + END0),  # copy_from_user
    "syscall_attach_cookie": (P.SYSCALL, None, SLEEPABLE, "call 174\n" + END0),
    "sleepable_socket_filter": (P.SOCKET_FILTER, None, SLEEPABLE, END0),
    "rtw_buf_write": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "r2 = 1\n*(u64 *)(r6 +0) = r2\n" + END0),
    "rtw_buf_far_read": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "r0 = *(u8 *)(r6 +4000)\n" + END0),
    "rtw_buf_moved": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "r6 += 16\nr0 = *(u64 *)(r6 +0)\n" + END0),
    "rtw_buf_negative": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "r0 = *(u64 *)(r6 -8)\n" + END0),
    "rtw_buf_var_off": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "r2 = *(u64 *)(r1 +8)\nr2 &= 8\nr6 += r2\n"
                        "r0 = *(u64 *)(r6 +0)\n" + END0),
    "rtw_buf_ptr_store": (P.RAW_TRACEPOINT_WRITABLE, None, 0, TP_BUF + "*(u64 *)(r6 +0) = r1\n" + END0),
    "rtw_args0_u32": (P.RAW_TRACEPOINT_WRITABLE, None, 0, "r6 = *(u32 *)(r1 +0)\n" + END0),
    "rtw_args1": (P.RAW_TRACEPOINT_WRITABLE, None, 0, "r6 = *(u32 *)(r1 +8)\n" + END0),
    "rtw_args0_write": (P.RAW_TRACEPOINT_WRITABLE, None, 0, "r2 = 0\n*(u64 *)(r1 +0) = r2\n" + END0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_program_type_rules_as_kernel(name):
    pt, attach, flags, text = CASES[name]
    program = assemble(text)
    ours = verify(program, pt, attach_type=attach, prog_flags=flags, raise_on_reject=False)
    kern = kernel_load(program, int(pt), expected_attach_type=int(attach or 0), prog_flags=flags)
    assert ours.accepted == kern.accepted, f"kernel: {kern.last_error!r} / ours: {ours.error}"
    if not kern.accepted and kern.log:
        assert ours.error.message == kern.last_error


# ---- BTF-context programs: iterators and LSM hooks, loaded with their attach_btf_id -----------------------------

ITER_TASK = "r2 = *(u64 *)(r1 +8)\n"
PID = off("task_struct", "pid")
SEQ = off("bpf_iter_meta", "seq")

BTF_CASES = {
    # name: (prog type, attach type, target, prog_flags, license, program text)
    "iter_task_unchecked": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", ITER_TASK + f"r0 = *(u32 *)(r2 +{PID})\n"
                            + END0),
    "iter_task_checked": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", ITER_TASK + "if r2 == 0 goto +1\n"
                          f"r0 = *(u32 *)(r2 +{PID})\n" + END0),
    "iter_task_sleepable": (P.TRACING, A.TRACE_ITER, "task", SLEEPABLE, "GPL", END0),
    "iter_task_ret1": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", END1),
    "iter_task_ret2": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", "r0 = 2\nexit"),
    "iter_task_seq_write": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", f"r2 = *(u64 *)(r1 +0)\nr1 = *(u64 *)(r2 +{SEQ})"
                            "\nr2 = r10\nr2 += -8\nr3 = 0\n*(u64 *)(r10 -8) = r3\nr3 = 8\ncall 127\n" + END0),
    "iter_task_seq_untrusted": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", "r2 = *(u64 *)(r1 +0)\nr1 = r2\n"
                                "r2 = r10\nr2 += -8\nr3 = 0\n*(u64 *)(r10 -8) = r3\nr3 = 8\ncall 127\n" + END0),
    "iter_task_attach_cookie": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", "call 174\n" + END0),
    "iter_task_ctx_past_args": (P.TRACING, A.TRACE_ITER, "task", 0, "GPL", "r2 = *(u64 *)(r1 +16)\n" + END0),
    "iter_bpf_map_id": (P.TRACING, A.TRACE_ITER, "bpf_map", 0, "GPL", "r2 = *(u64 *)(r1 +8)\nif r2 == 0 goto +1\n"
                        f"r0 = *(u32 *)(r2 +{off('bpf_map', 'id')})\n" + END0),
    "iter_task_file_fd": (P.TRACING, A.TRACE_ITER, "task_file", 0, "GPL", "r0 = *(u32 *)(r1 +16)\n" + END0),
    "iter_map_elem_key_read": (P.TRACING, A.TRACE_ITER, "bpf_map_elem", 0, "GPL", "r2 = *(u64 *)(r1 +16)\n"
                               "if r2 == 0 goto +1\nr0 = *(u64 *)(r2 +8)\n" + END0),
    "iter_map_elem_key_unchecked": (P.TRACING, A.TRACE_ITER, "bpf_map_elem", 0, "GPL", "r2 = *(u64 *)(r1 +16)\n"
                                    "r0 = *(u64 *)(r2 +0)\n" + END0),
    "iter_map_elem_key_write": (P.TRACING, A.TRACE_ITER, "bpf_map_elem", 0, "GPL", "r2 = *(u64 *)(r1 +16)\n"
                                "if r2 == 0 goto +2\nr3 = 0\n*(u64 *)(r2 +0) = r3\n" + END0),
    "iter_map_elem_value_write": (P.TRACING, A.TRACE_ITER, "bpf_map_elem", 0, "GPL", "r2 = *(u64 *)(r1 +24)\n"
                                  "if r2 == 0 goto +2\nr3 = 0\n*(u64 *)(r2 +64) = r3\n" + END0),
    "iter_map_elem_value_negative": (P.TRACING, A.TRACE_ITER, "bpf_map_elem", 0, "GPL", "r2 = *(u64 *)(r1 +24)\n"
                                     "if r2 == 0 goto +1\nr0 = *(u64 *)(r2 -8)\n" + END0),
    "iter_sockmap_sk": (P.TRACING, A.TRACE_ITER, "sockmap", 0, "GPL", "r2 = *(u64 *)(r1 +24)\n"
                        f"r0 = *(u32 *)(r2 +0)\n" + END0),
    "fmod_ret_fmodret_set": (P.TRACING, A.MODIFY_RETURN, "bpf_modify_return_test", 0, "GPL", END0),
    "fmod_ret_security": (P.TRACING, A.MODIFY_RETURN, "security_file_open", 0, "GPL", END0),
    "fmod_ret_not_modifiable": (P.TRACING, A.MODIFY_RETURN, "vfs_read", 0, "GPL", END0),
    "fexit_noreturn": (P.TRACING, A.TRACE_FEXIT, "do_exit", 0, "GPL", END0),
    "fentry_denied": (P.TRACING, A.TRACE_FENTRY, "migrate_disable", 0, "GPL", END0),
    "fentry_sleepable_kf": (P.TRACING, A.TRACE_FENTRY, "bpf_fentry_test1", SLEEPABLE, "GPL", END0),
    "fentry_sleepable_not": (P.TRACING, A.TRACE_FENTRY, "vfs_read", SLEEPABLE, "GPL", END0),
    "tp_btf_seq_write": (P.TRACING, A.TRACE_RAW_TP, "sched_switch", 0, "GPL", "r1 = 0\nr2 = 0\nr3 = 0\ncall 127\n"
                         + END0),
    "tp_btf_sleepable": (P.TRACING, A.TRACE_RAW_TP, "sched_switch", SLEEPABLE, "GPL", END0),
    "lsm_ret0": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", END0),
    "lsm_ret_errno": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r0 = -4095\nexit"),
    "lsm_ret1": (P.LSM, A.LSM_MAC, "file_mprotect", 0, "GPL", END1),
    "lsm_ret_past_errno": (P.LSM, A.LSM_MAC, "file_mprotect", 0, "GPL", "r0 = -4096\nexit"),
    "lsm_ret_32bit": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r0 = 0xffffffff ll\nexit"),
    "lsm_bool_hook": (P.LSM, A.LSM_MAC, "audit_rule_known", 0, "GPL", END1),
    "lsm_bool_hook_minus1": (P.LSM, A.LSM_MAC, "audit_rule_known", 0, "GPL", "r0 = -1\nexit"),
    "lsm_void_hook_no_r0": (P.LSM, A.LSM_MAC, "file_free_security", 0, "GPL", "exit"),
    "lsm_void_hook_any": (P.LSM, A.LSM_MAC, "file_free_security", 0, "GPL", "r0 = 4096\nexit"),
    "lsm_disabled_hook": (P.LSM, A.LSM_MAC, "getprocattr", 0, "GPL", END0),
    "lsm_not_gpl": (P.LSM, A.LSM_MAC, "file_open", 0, "Proprietary", END0),
    "lsm_sleepable_hook": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", END0),
    "lsm_not_sleepable_hook": (P.LSM, A.LSM_MAC, "file_mprotect", SLEEPABLE, "GPL", END0),
    "lsm_arg_field": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r2 = *(u64 *)(r1 +0)\n"
                      f"r0 = *(u32 *)(r2 +{off('file', 'f_flags')})\n" + END0),
    "lsm_retval_slot": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r0 = *(u64 *)(r1 +8)\nexit"),
    "lsm_past_retval": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r0 = *(u64 *)(r1 +16)\nexit"),
    "lsm_attach_cookie": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "call 174\n" + END0),
    # LSM-only kfuncs (fs/bpf_fs_kfuncs.c; their set's filter refuses every other program type) and LSM helpers
    "lsm_exe_file_put": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "call 158\nr1 = r0\ncall bpf_get_task_exe_file\n"
                         "if r0 == 0 goto +2\nr1 = r0\ncall bpf_put_file\n" + END0),
    "lsm_exe_file_leak": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "call 158\nr1 = r0\n"
                          "call bpf_get_task_exe_file\n" + END0),
    "lsm_exe_file_unchecked_put": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "call 158\nr1 = r0\n"
                                   "call bpf_get_task_exe_file\nr1 = r0\ncall bpf_put_file\n" + END0),
    "lsm_put_file_arg": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r1 = *(u64 *)(r1 +0)\ncall bpf_put_file\n"
                         + END0),
    "lsm_exe_file_null": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r1 = 0\ncall bpf_get_task_exe_file\n" + END0),
    "lsm_d_path_file_arg": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", "r1 = *(u64 *)(r1 +0)\n"
                            f"r1 += {off('file', 'f_path')}\nr2 = 0\n*(u64 *)(r10 -8) = r2\nr2 = r10\n"
                            "r2 += -8\nr3 = 8\ncall bpf_path_d_path\n" + END0),
    "lsm_d_path_short_buf": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", "r1 = *(u64 *)(r1 +0)\n"
                             f"r1 += {off('file', 'f_path')}\nr2 = 0\n*(u64 *)(r10 -8) = r2\nr2 = r10\n"
                             "r2 += -8\nr3 = 16\ncall bpf_path_d_path\n" + END0),
    "lsm_d_path_wrong_struct": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", "r1 = *(u64 *)(r1 +0)\n"
                                "r2 = 0\n*(u64 *)(r10 -8) = r2\nr2 = r10\nr2 += -8\nr3 = 8\n"
                                "call bpf_path_d_path\n" + END0),
    "tp_btf_put_file": (P.TRACING, A.TRACE_RAW_TP, "sched_switch", 0, "GPL", "r1 = 0\ncall bpf_put_file\n" + END0),
    "lsm_bprm_opts_set": (P.LSM, A.LSM_MAC, "bprm_check_security", 0, "GPL", "r1 = *(u64 *)(r1 +0)\nr2 = 1\n"
                          "call 159\n" + END0),
    "lsm_bprm_opts_set_scalar": (P.LSM, A.LSM_MAC, "bprm_check_security", 0, "GPL", "r1 = 0\nr2 = 1\ncall 159\n"
                                 + END0),
    "lsm_ima_file_hash": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", "r1 = *(u64 *)(r1 +0)\nr2 = r10\n"
                          "r2 += -8\nr3 = 8\ncall 193\n" + END0),
    "lsm_ima_file_hash_not_sleepable": (P.LSM, A.LSM_MAC, "file_open", 0, "GPL", "r1 = *(u64 *)(r1 +0)\nr2 = r10\n"
                                        "r2 += -8\nr3 = 8\ncall 193\n" + END0),
    "lsm_ima_file_hash_scalar": (P.LSM, A.LSM_MAC, "file_open", SLEEPABLE, "GPL", "r1 = 0\nr2 = r10\n"
                                 "r2 += -8\nr3 = 8\ncall 193\n" + END0),
    "lsm_lookup_user_key": (P.LSM, A.LSM_MAC, "bpf", SLEEPABLE, "GPL", "r1 = 1\nr2 = 0\ncall bpf_lookup_user_key\n"
                            "if r0 == 0 goto +2\nr1 = r0\ncall bpf_key_put\n" + END0),
    "lsm_lookup_user_key_not_sleepable": (P.LSM, A.LSM_MAC, "bpf", 0, "GPL", "r1 = 1\nr2 = 0\n"
                                          "call bpf_lookup_user_key\nif r0 == 0 goto +2\nr1 = r0\n"
                                          "call bpf_key_put\n" + END0),
}
_CALLED = re.compile(r"call ([a-z_][a-z0-9_]*)")


def _with_kfuncs(text: str) -> str:
    """`call NAME` of a kfunc gets its `.kfunc NAME ID` line from the running kernel's BTF (the case skips where the
    kernel has no such kfunc)."""
    lines = []
    for name in dict.fromkeys(_CALLED.findall(text)):
        tid = BTF.find(name)
        if tid is None:
            from pyebpf.testing.plugin import skip_missing_feature
            skip_missing_feature(f"this kernel's BTF has no kfunc {name}")
        lines.append(f".kfunc {name} {tid}\n")
    return "".join(lines) + text


def _kernel(program, pt):
    from kernel_oracle import KernelVerdict
    from pyebpf.loader import ProgramLoadError, load
    try:
        kp = load(program, pt, log_level=1)
    except ProgramLoadError as e:
        return KernelVerdict(False, e.errno or 0, e.log or "")
    kp.close()
    return KernelVerdict(True, 0, "")


@pytest.mark.parametrize("name", sorted(BTF_CASES))
def test_btf_context_types_as_kernel(name):
    pt, attach, target, flags, license, text = BTF_CASES[name]
    func = f"bpf_lsm_{target}" if pt == P.LSM else target
    if attach not in (A.TRACE_ITER, A.TRACE_RAW_TP) and BTF.find(func) is None:
        from pyebpf.testing.plugin import skip_missing_feature
        skip_missing_feature(f"this kernel has no BTF function for {target}")
    program = dataclasses.replace(assemble(_with_kfuncs(text)), prog_type=pt, expected_attach_type=attach,
                                  attach_btf_id=attach_btf_id(attach, target), license=license, prog_flags=flags)
    kern = _kernel(program, pt)
    if not kern.accepted and kern.errno == errno.EPERM and not kern.last_error.strip() and (
            pt == P.LSM or attach != A.TRACE_RAW_TP):
        from pyebpf.testing.plugin import skip_missing_feature
        what = f"{target} iterators" if attach == A.TRACE_ITER else f"{attach.name} programs"
        skip_missing_feature(f"this kernel refuses {what} with EPERM and no reason (6.18 here); the guests check "
                             "these")
    ours = verify(program, raise_on_reject=False)
    ours_msg = ours.error.message if ours.error else ""
    assert ours.accepted == kern.accepted, (kern.last_error, ours_msg)
    if not kern.accepted and kern.log.strip() and not ours_msg.endswith("error_injection/list is unreadable)"):
        # (where neither debugfs nor the build config tells the error-injection list, ours says so instead)
        assert ours_msg == kern.last_error.strip(), (kern.last_error, ours_msg)
