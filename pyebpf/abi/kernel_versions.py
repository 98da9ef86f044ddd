"""What changed in the kernel's BPF verifier between the releases users run, as data keyed by release.

One row per fact: its value on kernels older than every listed change, then `(release, value)` from each release
that changed it. The verifier's per-kernel model (`pyebpf.verifier.kernel_model`) asks `fact_at(fact, release)`;
nothing else spells a kernel version. The instruction set's own table (which release decodes which instruction)
is `pyebpf.isa.features` and is not repeated here. Each row carries the upstream change it stands for; rows were
added where a kernel of the matrix (scripts/verifier-truth.py, tests/verifier/kernels/*.json) disagreed with the
newest one.

Dating: a change seen between two modelled releases A < B is entered at the upstream release that made it when
that is known, else at the first release after A (6.13 for "after 6.12, by 6.18"). The modelled releases are
exact either way; a release between them that the matrix does not boot may be answered on the wrong side.
"""
from __future__ import annotations

import errno
import re
from enum import Enum
from typing import Any, NamedTuple

from pyebpf.abi.helpers import ARG_PTR_TO_MEM_RDONLY, Arg, HelperId
from pyebpf.abi.lsm import LSM_SLEEPABLE_HOOKS
from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import InputError


class Release(NamedTuple):
    """A kernel release as the feature tables compare it: (major, minor)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


#: the releases whose answers are checked against the kernel itself (tests/verifier/kernels/<release>.json)
MODELLED = (Release(5, 10), Release(6, 1), Release(6, 12), Release(6, 18))
NEWEST = MODELLED[-1]
OLDEST = MODELLED[0]

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:[.\-+~_][\w.\-+~]*)?\s*$")


def parse_release(text: "str | tuple[int, int] | Release") -> Release:
    """'6.1', '6.1.0-57-amd64', (6, 1) -> Release(6, 1); anything older than the oldest modelled release or newer
    than the newest is an InputError (the model says nothing about those kernels)."""
    if isinstance(text, tuple):
        rel = Release(int(text[0]), int(text[1]))
    else:
        m = _RELEASE.match(str(text))
        if not m:
            raise InputError(f"kernel version {text!r}: expected MAJOR.MINOR such as 6.1")
        rel = Release(int(m.group(1)), int(m.group(2)))
    if not OLDEST <= rel <= NEWEST:
        raise InputError(f"kernel version {rel}: the verifier models {OLDEST} to {NEWEST} "
                         f"(checked against {', '.join(map(str, MODELLED))})")
    return rel


class Fact(Enum):
    """A question whose answer depends on the kernel release; the value names it in reports."""

    JMP_SEQ_LIMIT_ERRNO = "errno of 'The sequence of 8193 jumps is too complex.'"
    MAP_IN_MAP_LOOKUP_INNER = "a lookup in a map of maps returns the inner map (map_ptr_or_null)"
    LAST_HELPER_ID = "the highest helper id the kernel knows (__BPF_FUNC_MAX_ID - 1)"
    HELPER_REFUSED_MSG = "check_helper_call's words for a helper the program type has no prototype for"
    RETVAL_AS_TNUM = "verbose_invalid_scalar prints the register and the range as tnums, not smin/smax"
    REF_LEAK_AS_ID = "a leaked reference is refused with its 'Unreleased reference id=N alloc_insn=M' line"
    STACK_FRAME_ROUND = "check_max_stack_depth rounds each frame's stack up to (bytes, from at least this depth)"
    CALL_BACK_EDGE = "check_cfg refuses a call to a subprogram on the DFS stack (recursion) as a back-edge"
    ST_INTO_CTX = "BPF_ST (store immediate) into the context is allowed"
    HELPER_STACK_INDIRECT = "helper stack accesses: bounds against the whole stack, worded 'indirect'"
    MAP_KEY_ARG_ANY_MEM = "map key/value helper arguments take every memory type (mem_types), not just map_key_value_types"
    UNINIT_STACK_READ = "privileged programs may read stack slots never written (allow_uninit_stack)"
    LDIMM64_FUNC = "lddw with BPF_PSEUDO_FUNC (a callback's address) makes its target a subprogram"
    JMP32_JA_OPCODE = "BPF_JMP32|BPF_JA is in bpf_opcode_in_insntable (decoded as ja +off before cpu v4)"
    SKB_TSTAMP_TYPE = "__sk_buff.tstamp_type (offset 180) exists; before, the bytes were padding"
    SKB_CTX_SIZE = "sizeof(struct __sk_buff): context accesses past it are invalid"
    SMP_ID_BOUNDED = "bpf_get_smp_processor_id returns a scalar bounded by nr_cpu_ids - 1"
    CALLBACKS_ITERATED = ("a sync callback (bpf_loop, for_each_map_elem ...) is visited until its visits converge; "
                          "before, once from its call site, returning past the call")
    BTF_TRUSTED_PTRS = ("kernel pointers carry trust (trusted_ptr_, rcu_ptr_, untrusted_ptr_): tp_btf arguments "
                        "are trusted, helpers take ptr_/trusted_ptr_/rcu_ptr_")
    BTF_CTX_PTR_SIZE_8 = "btf_ctx_access: a pointer argument is read with an 8-byte load only"
    KFUNC_NON_BTF_ARG_AS_MEM = ("a register that is no kernel pointer, passed where a kfunc takes a struct pointer, "
                                "is checked as memory (get_kfunc_ptr_arg_type: KF_ARG_PTR_TO_MEM)")
    BTF_WALK_UNTRUSTED = ("a pointer loaded through a trusted kernel pointer from a member no BTF_TYPE_SAFE_* list "
                          "names is untrusted_ptr_ (before: a plain ptr_ that helpers still take)")
    FMODRET_ID_SETS = ("fmod_ret and sleepable trampolines may attach to the functions of the fmodret kfunc sets "
                       "(register_btf_fmodret_id_set), not only to error-injection ones")
    LSM_RETVAL_RANGE = "check_return_code: an LSM program's R0 must lie in its hook's return range"
    LSM_SLEEPABLE_HOOKS = "the LSM hooks a sleepable LSM program may attach to"
    SLEEPABLE_ANY_TRACING = ("a BPF_F_SLEEPABLE TRACING program may have any attach type (before can_be_sleepable "
                             "limited it to fentry/fexit/fmod_ret/iter)")
    SLEEPABLE_KPROBE = "a KPROBE program (a uprobe) may be BPF_F_SLEEPABLE"
    NORETURN_FEXIT_DENY = "fexit/fmod_ret may not attach to the __noreturn functions of the noreturn_deny set"
    LSM_DISABLED_HOOKS = "bpf_lsm_disabled_hooks: LSM programs may not attach to the hooks of this list"
    DYNPTR_SLICE_RDWR_REFUSED = ("every bpf_dynptr_slice_rdwr call is refused once its arguments are checked "
                                 "('bpf_dynptr_slice_rdwr() is not allowed')")
    DYNPTR_REINIT_UNREF = ("a dynptr argument to construct may lie over an unreferenced dynptr (destroyed); before, "
                           "any dynptr slot there is refused ('Dynptr has to be an uninitialized dynptr')")
    ITER_NEXT_PTR_TRUSTED = ("an open-coded iterator's _next returning a kernel struct pointer gives a trusted one "
                             "(else untrusted_ptr_, which NULL comparisons do not settle)")
    GLOBAL_FUNC_CHANGES_PKT_DATA = ("a call to a global function that (or whose callees) may change packet data or "
                                    "tail-calls invalidates the caller's packet pointers (subprog changes_pkt_data)")


class Change(NamedTuple):
    since: Release
    value: Any
    why: str


class Row(NamedTuple):
    before: Any  # the value on every modelled release older than the first change
    changes: tuple[Change, ...]


_R = Release

FACTS: dict[Fact, Row] = {
    Fact.JMP_SEQ_LIMIT_ERRNO: Row(errno.EFAULT, (
        Change(_R(6, 18), errno.E2BIG, "push_stack: E2BIG for the jump-sequence limit (6.18.y stable)"),)),
    Fact.MAP_IN_MAP_LOOKUP_INNER: Row(False, (
        Change(_R(6, 18), True, "bpf: map-in-map lookup returns CONST_PTR_TO_MAP (6.18.y stable)"),)),
    Fact.LAST_HELPER_ID: Row(155, (  # 5.10: bpf_redirect_peer
        Change(_R(5, 11), 165, "task storage, bpf_snprintf ..."),
        Change(_R(6, 1), 209, "bpf_user_ringbuf_drain"),
        Change(_R(6, 2), 211, "bpf_cgrp_storage_get/delete, the last helpers: new interfaces are kfuncs"),
    )),
    Fact.HELPER_REFUSED_MSG: Row("unknown func {name}#{id}", (
        Change(_R(6, 12), "program of this type cannot use helper {name}#{id}",
               "check_helper_call: a helper known but not allowed is worded apart from an unknown one"),)),
    Fact.RETVAL_AS_TNUM: Row(True, (
        Change(_R(6, 8), False, "verbose_invalid_scalar: smin/smax and a [lo, hi] range"),)),
    Fact.REF_LEAK_AS_ID: Row(True, (
        Change(_R(6, 13), False, "check_resource_leak: 'BPF_EXIT instruction in main prog would lead to "
                                 "reference leak' after the per-reference lines"),)),
    Fact.STACK_FRAME_ROUND: Row((32, 1), (  # (bytes, least depth a frame counts as)
        Change(_R(6, 8), (16, 0), "round_up_stack_depth: 16 bytes for JIT-ed programs, empty frames count 0"),)),
    Fact.CALL_BACK_EDGE: Row(True, (
        Change(_R(6, 12), False, "check_cfg: calls are not DFS edges; recursion is caught by the call depth"),)),
    Fact.ST_INTO_CTX: Row(False, (
        Change(_R(6, 3), True, "bpf: allow ctx writes using BPF_ST_MEM instruction"),)),
    Fact.HELPER_STACK_INDIRECT: Row(True, (
        Change(_R(6, 13), False, "check_stack_access_within_bounds/check_stack_range_initialized: one wording "
                                "and the allocated-stack bound for helper and direct reads"),)),
    Fact.MAP_KEY_ARG_ANY_MEM: Row(False, (
        Change(_R(6, 8), True, "check_reg_type: ARG_PTR_TO_MAP_KEY/VALUE share mem_types"),)),
    Fact.UNINIT_STACK_READ: Row(False, (
        Change(_R(5, 11), True, "env->allow_uninit_stack for CAP_PERFMON (after 5.10)"),)),
    Fact.LDIMM64_FUNC: Row(False, (
        Change(_R(5, 13), True, "bpf: add bpf_for_each_map_elem() helper: BPF_PSEUDO_FUNC"),)),
    Fact.JMP32_JA_OPCODE: Row(False, (
        Change(_R(5, 11), True, "the opcode table gained BPF_JMP32|BPF_JA (after 5.10)"),)),
    Fact.SKB_TSTAMP_TYPE: Row(False, (
        Change(_R(5, 18), True, "bpf: Add __sk_buff->tstamp_type"),)),
    Fact.SKB_CTX_SIZE: Row(184, (
        Change(_R(5, 16), 192, "__sk_buff.hwtstamp"),)),
    Fact.SMP_ID_BOUNDED: Row(False, (
        Change(_R(6, 8), True, "bpf_get_smp_processor_id: return range [0, nr_cpu_ids - 1]"),)),
    Fact.CALLBACKS_ITERATED: Row(False, (
        Change(_R(6, 7), True, "bpf: verify callbacks as if they are called unknown number of times"),)),
    Fact.BTF_TRUSTED_PTRS: Row(False, (
        Change(_R(6, 12), True, "PTR_TRUSTED (6.2) and MEM_RCU (6.4); measured: 6.1 prints ptr_ and expected=ptr_"),)),
    Fact.BTF_CTX_PTR_SIZE_8: Row(False, (
        Change(_R(6, 12), True, "btf_ctx_access: \"size %d must be 8\" (measured: 6.1 accepts a u32 load of a "
                                "pointer argument, 6.12 refuses it)"),)),
    Fact.KFUNC_NON_BTF_ARG_AS_MEM: Row(True, (
        Change(_R(6, 18), False, "check_kfunc_args: the trust of a struct-pointer argument is checked first (measured "
                                 "on 6.18: 'R1 must be referenced or trusted'; 6.12: 'R1 type=scalar expected=fp')"),)),
    Fact.BTF_WALK_UNTRUSTED: Row(False, (
        Change(_R(6, 18), True, "check_ptr_to_btf_access: unknown walked pointers become PTR_UNTRUSTED (measured "
                                "on 6.18; 6.12's source clears the trust flags; the release in between that changed "
                                "it is not established)"),)),
    # measured in the 6.1 and 5.10 guests (tests/verifier/test_prog_types2_kernel.py): both refuse fmod_ret on
    # bpf_modify_return_test ("is not modifiable") and a sleepable fentry on bpf_fentry_test1, which 6.12 accepts
    # through the fmodret sets; dated at the first modelled release that has them (later is the safe side: refusing)
    Fact.FMODRET_ID_SETS: Row(False, (
        Change(_R(6, 12), True, "register_btf_fmodret_id_set (measured: 6.1 refuses, 6.12 accepts)"),)),
    # measured: 6.1 and 5.10 accept an int LSM hook returning 1 or -4096; 6.12 refuses; dated at the earliest
    # release after 6.1 (earlier is the safe side: enforcing)
    Fact.LSM_RETVAL_RANGE: Row(False, (
        Change(_R(6, 2), True, "bpf, lsm: return value range check (measured: 6.1 unchecked, 6.12 checked)"),)),
    # 5.10's verifier.c btf_sleepable_lsm_hooks held bprm_committed_creds alone (measured: 5.10 refuses a sleepable
    # file_open); the longer bpf_lsm_is_sleepable_hook list as abi/lsm.py has it, measured on 6.1 and 6.12
    Fact.LSM_SLEEPABLE_HOOKS: Row(frozenset({"bprm_committed_creds"}), (
        Change(_R(6, 1), LSM_SLEEPABLE_HOOKS, "bpf_lsm_is_sleepable_hook (measured on 6.1; 5.11 by its history)"),)),
    # the rest measured in the 6.1 and 5.10 guests with tests/verifier/test_prog_types2_kernel.py (6.12 and 6.18 refuse
    # each case); each dated on the side that refuses when the release in between is unknown
    Fact.SLEEPABLE_ANY_TRACING: Row(True, (
        Change(_R(6, 2), False, "can_be_sleepable (6.4 by its history): a sleepable tp_btf is refused (measured: "
                                "6.1 and 5.10 accept one)"),)),
    Fact.SLEEPABLE_KPROBE: Row(False, (
        Change(_R(6, 1), True, "sleepable uprobes (measured: 6.1's refusal lists kprobe/uprobe, 5.10's does not)"),)),
    Fact.NORETURN_FEXIT_DENY: Row(False, (
        Change(_R(6, 2), True, "check_attach_btf_id: noreturn_deny (measured: 6.1 and 5.10 attach fexit to do_exit, "
                               "6.12 refuses)"),)),
    Fact.LSM_DISABLED_HOOKS: Row(False, (
        Change(_R(5, 11), True, "bpf_lsm_verify_prog: bpf_lsm_disabled_hooks (measured: 5.10 accepts getprocattr, "
                                "6.1 refuses)"),)),
    # measured on this 6.18 build (6.18.44 fc-v1300): dynptr_fail.c's slice_rdwr cases and the success selftests that
    # use it (test_xdp_dynptr.c, test_l4lb_noinline_dynptr.c, test_cls_redirect_dynptr.c) are all refused with
    # 'bpf_dynptr_slice_rdwr() is not allowed' after the call's arguments are checked (a '__szk' that is no constant is
    # refused first); the rule's source is not found upstream. Dated at the first release after 6.12 (safe side)
    Fact.DYNPTR_SLICE_RDWR_REFUSED: Row(False, (
        Change(_R(6, 13), True, "bpf_dynptr_slice_rdwr refused after its arguments (measured on the 6.18 build)"),)),
    # measured in the 6.1 guest: dynptr_fail.c's dynptr_overwrite_unref (a second bpf_dynptr_from_mem over a local
    # dynptr) is refused by 6.1, accepted by 6.12 and 6.18 ("bpf: Allow reinitializing unreferenced dynptr stack slots",
    # 6.3 by its history); dated at the first modelled release that has it (later is the safe side: refusing)
    Fact.DYNPTR_REINIT_UNREF: Row(False, (
        Change(_R(6, 12), True, "is_dynptr_reg_valid_uninit: unreferenced dynptr slots may be reinitialised (measured: "
                                "6.1 refuses, 6.12 accepts)"),)),
    # measured: 6.18 prints untrusted_ptr_vm_area_struct / untrusted_ptr_task_struct for bpf_iter_task_vma_next's and
    # bpf_iter_css_task_next's element; 6.12's processed counts (iters_task_vma.c 21,037, iters_css_task.c 88) are
    # those of a trusted one. Dated at the first release after 6.12 (earlier is the safe side: untrusted)
    Fact.ITER_NEXT_PTR_TRUSTED: Row(True, (
        Change(_R(6, 13), False, "check_kfunc_call: an iterator's kernel-pointer element is untrusted (measured "
                                 "on 6.18; 6.12 trusted)"),)),
    # "bpf: track changes_pkt_data property for global functions" and "bpf: consider that tail calls invalidate packet
    # pointers" (upstream v6.13; Debian's 6.12.y source carries their selftests, so the stable 6.12 has them): measured
    # in the guests with progs/verifier_sock.c's invalidate_pkt_pointers_from_global_func / _by_tail_call and a packet
    # read after a global function calling bpf_skb_pull_data: 6.1 and 5.10 accept, 6.12 and 6.18 refuse. Dated at the
    # first release after 6.1 (earlier is the safe side: refusing)
    Fact.GLOBAL_FUNC_CHANGES_PKT_DATA: Row(False, (
        Change(_R(6, 2), True, "check_func_call: clear_all_pkt_pointers after a global function whose "
                               "changes_pkt_data is set (measured: 6.1 accepts, 6.12 refuses)"),)),
}


class Reword(NamedTuple):
    """A refusal worded differently before `since`: a newer message (errno, full-match regex) and the older
    wording (a str.format template over the match's named groups; `x_<name>` gives a group as hex)."""

    since: Release
    errno: int
    pattern: str
    older: str
    why: str
    everywhere: bool = False  # `pattern` is replaced wherever it occurs (re.sub), not matched whole


#: refusals the same rule words differently on older releases (rules that changed what they check are facts)
REWORDS: tuple[Reword, ...] = (
    Reword(_R(6, 8), errno.EACCES, r"misaligned stack access off (?P<v>\d+)\+(?P<rest>.*)",
           "misaligned stack access off ({x_v}; 0x0)+{rest}", "tnum_strn of a constant var_off"),
    Reword(_R(6, 8), errno.EACCES, r"R\d+ invalid zero-sized read: .*", "invalid zero-sized read",
           "check_mem_size_reg"),
    Reword(_R(6, 8), errno.EINVAL,
           r"invalid variable-offset (?P<rw>read from|write to) stack R(?P<r>\d+) var_off=(?P<t>\(.*?\)) off=-?\d+ "
           r"size=(?P<n>\d+)", "invalid variable-offset {rw} stack R{r} var_off={t} size={n}",
           "check_stack_access_within_bounds"),
    Reword(_R(6, 13), errno.EINVAL, r"BPF_LD_\[ABS\|IND\] would lead to reference leak",
           "BPF_LD_[ABS|IND] cannot be mixed with socket references", "check_ld_abs before check_resource_leak"),
    Reword(_R(6, 13), errno.EINVAL, r"expected prog array map for tail call",
           "kernel subsystem misconfigured verifier", "check_map_func_compatibility runs first"),
    Reword(_R(6, 4), errno.EACCES, r"ringbuf_mem", "alloc_mem", "reg_type_str: MEM_RINGBUF printed as alloc_mem",
           everywhere=True),
    Reword(_R(6, 4), errno.EACCES, r"(?P<a>.*expected=.*), trusted_ptr_(?P<b>.*)", "{a}{b}",
           "PTR_TRUSTED (trusted_ptr_) in the compatible-type lists"),
    Reword(_R(5, 13), errno.EPERM,
           r"loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
           "function calls to other bpf functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
           "add_subprog_and_kfunc: kfunc calls (5.13) joined bpf-to-bpf calls in the unprivileged refusal"),
    Reword(_R(6, 2), errno.EINVAL,
           r"Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable",
           "Only fentry/fexit/fmod_ret, lsm, and kprobe/uprobe programs can be sleepable",
           "can_be_sleepable's refusal (measured on 6.1)"),
    Reword(_R(6, 2), errno.EACCES, r"program must be sleepable to call sleepable kfunc (?P<f>\w+)",
           "kernel function {f} is sleepable but the program is not", "check_kfunc_call (measured on 6.1)"),
    # rows below apply after the ones above (they see the 6.1 wording)
    Reword(_R(6, 1), errno.EINVAL, r"Only fentry/fexit/fmod_ret, lsm, and kprobe/uprobe programs can be sleepable",
           "Only fentry/fexit/fmod_ret and lsm programs can be sleepable",
           "before sleepable uprobes (measured on 5.10)"),
    Reword(_R(5, 11), errno.EACCES, r"pkt_meta, map_key, ", "pkt_meta, ",
           "PTR_TO_MAP_KEY joined the memory argument types (after 5.10)", everywhere=True),
    Reword(_R(5, 11), errno.EACCES, r", mem, alloc_mem, buf\b", ", mem, rdonly_buf, rdwr_buf",
           "PTR_TO_BUF was two types, rdonly_buf and rdwr_buf (after 5.10)", everywhere=True),
    Reword(_R(5, 11), errno.EACCES, r"\balloc_mem", "mem", "ringbuf memory was plain mem (after 5.10)",
           everywhere=True),
    Reword(_R(5, 12), errno.EACCES, r"BPF_ATOMIC stores into (?P<rest>.*)", "BPF_XADD stores into {rest}",
           "BPF_ATOMIC generalised BPF_XADD"),
    Reword(_R(5, 18), errno.EACCES, r"(?<=')scalar(?=')|(?<=type=)scalar\b", "inv",
           "reg_type_str: SCALAR_VALUE printed as 'inv'", everywhere=True),
)


def reword(message: str, err: int, release: Release) -> tuple[str, list[int]]:
    """`message` as `release` words it, and the REWORDS rows that matched it (applied or not)."""
    matched = []
    for i, rw in enumerate(REWORDS):
        if rw.errno != err:
            continue
        if rw.everywhere:
            if re.search(rw.pattern, message):
                matched.append(i)
                if release < rw.since:
                    message = re.sub(rw.pattern, rw.older, message)
            continue
        m = re.fullmatch(rw.pattern, message)
        if m is None:
            continue
        matched.append(i)
        if release < rw.since:
            groups = {k: v for k, v in m.groupdict().items()}
            groups.update({f"x_{k}": hex(int(v)) for k, v in m.groupdict().items() if v and v.lstrip("-").isdigit()})
            message = rw.older.format(**groups)
    return message, matched


class HelperGain(NamedTuple):
    """Helpers that program types gained in `since`; before it only `before` (program types) had them."""

    helpers: frozenset[HelperId]
    since: Release
    before: frozenset[ProgType]
    why: str


_TRACING = frozenset({ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT, ProgType.PERF_EVENT,
                      ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING})

#: per program type helper availability that changed (abi/helpers.py's tables are the newest release's)
HELPER_GAINS: tuple[HelperGain, ...] = (
    HelperGain(frozenset({HelperId.GET_CURRENT_PID_TGID}), _R(6, 10), _TRACING,
               "bpf_base_func_proto: bpf_get_current_pid_tgid for every program type (CAP_PERFMON)"),
    HelperGain(frozenset({HelperId.GET_CURRENT_COMM, HelperId.SEND_SIGNAL}), _R(6, 13), _TRACING,
               "bpf_base_func_proto: bpf_get_current_comm, bpf_send_signal for every program type (CAP_PERFMON)"),
)


def helper_available_at(prog_type: ProgType, helper: HelperId, release: Release) -> bool:
    """False when `release` predates the change that gave `prog_type` the (newest-release-allowed) `helper`."""
    for gain in HELPER_GAINS:
        if helper in gain.helpers and release < gain.since and prog_type not in gain.before:
            return False
    return True


class HelperArgChange(NamedTuple):
    """An argument of `helper`'s prototype for `prog_types` that was `before` on releases older than `since`
    (abi/helpers.py's prototypes are the newest release's)."""

    prog_types: frozenset[ProgType]
    helper: HelperId
    argno: int  # 0-based: R1 is 0
    before: Arg
    since: Release
    why: str


#: per program type helper argument types that changed
HELPER_ARG_CHANGES: tuple[HelperArgChange, ...] = (
    HelperArgChange(frozenset({ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE}), HelperId.GET_STACK, 1,
                    ARG_PTR_TO_MEM_RDONLY, _R(5, 11),
                    "bpf_get_stack_proto_raw_tp: the buffer became ARG_PTR_TO_UNINIT_MEM (was ARG_PTR_TO_MEM: "
                    "initialised memory; seen after 5.10, by 6.1)"),
)


def helper_args_at(prog_type: ProgType, helper: HelperId, release: Release) -> tuple[tuple[int, Arg], ...]:
    """(argno, argument type) of `helper` for `prog_type` on `release` where it differs from the newest."""
    return tuple((c.argno, c.before) for c in HELPER_ARG_CHANGES
                 if c.helper == helper and prog_type in c.prog_types and release < c.since)


#: map types that arrived within the modelled range: (release, upstream change). Every other MapType predates
#: the oldest modelled release. A release that predates a type fails BPF_MAP_CREATE with EINVAL (find_and_alloc_map:
#: no ops for the type), so a program using such a map never reaches the verifier.
MAP_TYPE_SINCE: dict[MapType, tuple[Release, str]] = {
    MapType.TASK_STORAGE: (_R(5, 11), "bpf: Implement task local storage"),
    MapType.BLOOM_FILTER: (_R(5, 16), "bpf: Add bloom filter map implementation"),
    MapType.USER_RINGBUF: (_R(6, 1), "bpf: Define new BPF_MAP_TYPE_USER_RINGBUF map type"),
    MapType.CGRP_STORAGE: (_R(6, 2), "bpf: Implement cgroup storage available to non-cgroup-attached bpf progs"),
    MapType.ARENA: (_R(6, 9), "bpf: Introduce bpf_arena"),
}


def map_type_available_at(map_type: MapType, release: Release) -> bool:
    """Whether `release` knows `map_type` (a kernel's build may still leave a known type out)."""
    since = MAP_TYPE_SINCE.get(MapType(map_type))
    return since is None or since[0] <= release


def fact_at(fact: Fact, release: Release) -> Any:
    """The value of `fact` on `release`: the latest change at or before it, else the row's `before`."""
    row = FACTS[fact]
    value = row.before
    for change in row.changes:
        if change.since <= release:
            value = change.value
    return value


__all__ = ["Release", "MODELLED", "NEWEST", "OLDEST", "parse_release", "Fact", "Change", "Row", "FACTS", "fact_at",
           "HelperGain", "HELPER_GAINS", "helper_available_at", "HelperArgChange", "HELPER_ARG_CHANGES",
           "helper_args_at", "MAP_TYPE_SINCE", "map_type_available_at", "Reword", "REWORDS", "reword"]
