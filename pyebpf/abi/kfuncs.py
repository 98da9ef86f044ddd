"""kfunc facts the kernel keeps outside BTF: each kfunc's KF_* flags and which program types may call it.

vmlinux BTF says which FUNCs are kfuncs (the `bpf_kfunc` decl tag pahole emits) and gives their prototypes, but
the flags (BTF_ID_FLAGS(func, name, KF_ACQUIRE | KF_RET_NULL)) and the id sets registered per program type
(register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &generic_kfunc_set)) live in the kernel image's `.BTF_ids`
section, which /sys/kernel/btf/vmlinux does not carry. So they are data here, copied from kernel/bpf/helpers.c
(generic_btf_ids, common_btf_ids) and kernel/bpf/cpumask.c (cpumask_kfunc_btf_ids), and checked against the
running kernel by tests/verifier/test_btf_kfunc_kernel.py. A kfunc that is not listed here is refused by our
verifier as not modelled (never accepted unchecked).
"""
from __future__ import annotations

from enum import IntEnum, IntFlag

from pyebpf.abi.prog_types import ProgType


class KfFlag(IntFlag):
    """KF_* (include/linux/btf.h)."""

    NONE = 0
    ACQUIRE = 1 << 0
    RELEASE = 1 << 1
    RET_NULL = 1 << 2
    TRUSTED_ARGS = 1 << 4
    SLEEPABLE = 1 << 5
    DESTRUCTIVE = 1 << 6
    RCU = 1 << 7
    ITER_NEW = 1 << 8
    ITER_NEXT = 1 << 9
    ITER_DESTROY = 1 << 10
    RCU_PROTECTED = 1 << 11


class KfuncHook(IntEnum):
    """enum btf_kfunc_hook (kernel/bpf/btf.c)."""

    COMMON = 0
    XDP = 1
    TC = 2
    STRUCT_OPS = 3
    TRACING = 4
    SYSCALL = 5
    FMODRET = 6
    CGROUP = 7
    SCHED_ACT = 8
    SK_SKB = 9
    SOCKET_FILTER = 10
    LWT = 11
    NETFILTER = 12
    KPROBE = 13


_P = ProgType
#: bpf_prog_type_to_kfunc_hook(); a type not listed has no hook of its own (only COMMON kfuncs)
PROG_TYPE_HOOK: dict[ProgType, KfuncHook] = {
    _P.XDP: KfuncHook.XDP, _P.SCHED_CLS: KfuncHook.TC, _P.STRUCT_OPS: KfuncHook.STRUCT_OPS,
    _P.TRACING: KfuncHook.TRACING, _P.TRACEPOINT: KfuncHook.TRACING, _P.PERF_EVENT: KfuncHook.TRACING,
    _P.LSM: KfuncHook.TRACING, _P.SYSCALL: KfuncHook.SYSCALL,
    **dict.fromkeys((_P.CGROUP_SKB, _P.CGROUP_SOCK, _P.CGROUP_DEVICE, _P.CGROUP_SOCK_ADDR, _P.CGROUP_SOCKOPT,
                     _P.CGROUP_SYSCTL), KfuncHook.CGROUP),
    _P.SCHED_ACT: KfuncHook.SCHED_ACT, _P.SK_SKB: KfuncHook.SK_SKB, _P.SOCKET_FILTER: KfuncHook.SOCKET_FILTER,
    **dict.fromkeys((_P.LWT_OUT, _P.LWT_IN, _P.LWT_XMIT, _P.LWT_SEG6LOCAL), KfuncHook.LWT),
    _P.NETFILTER: KfuncHook.NETFILTER, _P.KPROBE: KfuncHook.KPROBE,
}

_F = KfFlag
#: generic_btf_ids (kernel/bpf/helpers.c), the kfuncs whose arguments are plain scalars or kernel struct pointers
GENERIC_KFUNCS: dict[str, KfFlag] = {
    "bpf_task_acquire": _F.ACQUIRE | _F.RCU | _F.RET_NULL,
    "bpf_task_release": _F.RELEASE,
    "bpf_cgroup_acquire": _F.ACQUIRE | _F.RCU | _F.RET_NULL,
    "bpf_cgroup_release": _F.RELEASE,
    "bpf_cgroup_ancestor": _F.ACQUIRE | _F.RCU | _F.RET_NULL,
    "bpf_cgroup_from_id": _F.ACQUIRE | _F.RET_NULL,
    "bpf_task_under_cgroup": _F.RCU,
    "bpf_task_get_cgroup1": _F.ACQUIRE | _F.RCU | _F.RET_NULL,
    "bpf_task_from_pid": _F.ACQUIRE | _F.RET_NULL,
    # the key kfuncs (CONFIG_KEYS; kernel/trace/bpf_trace.c's key_sig_kfunc_set before, TRACING hook only: dated in
    # abi/kfunc_versions.py); bpf_verify_pkcs7_signature (dynptr arguments) is not modelled
    "bpf_lookup_user_key": _F.ACQUIRE | _F.RET_NULL | _F.SLEEPABLE,
    "bpf_lookup_system_key": _F.ACQUIRE | _F.RET_NULL,
    "bpf_key_put": _F.RELEASE,
}
KFUNC_ARG_IGNORE_SUFFIX = "__ign"
"""A kfunc parameter named `*__ign` is not checked by the verifier at all (is_kfunc_arg_ignore)."""

#: cpumask_kfunc_btf_ids (kernel/bpf/cpumask.c)
CPUMASK_KFUNCS: dict[str, KfFlag] = {
    "bpf_cpumask_create": _F.ACQUIRE | _F.RET_NULL,
    "bpf_cpumask_release": _F.RELEASE,
    "bpf_cpumask_acquire": _F.ACQUIRE | _F.TRUSTED_ARGS,
    **dict.fromkeys((
        "bpf_cpumask_first", "bpf_cpumask_first_zero", "bpf_cpumask_first_and", "bpf_cpumask_set_cpu",
        "bpf_cpumask_clear_cpu", "bpf_cpumask_test_cpu", "bpf_cpumask_test_and_set_cpu",
        "bpf_cpumask_test_and_clear_cpu", "bpf_cpumask_setall", "bpf_cpumask_clear", "bpf_cpumask_and",
        "bpf_cpumask_or", "bpf_cpumask_xor", "bpf_cpumask_equal", "bpf_cpumask_intersects", "bpf_cpumask_subset",
        "bpf_cpumask_empty", "bpf_cpumask_full", "bpf_cpumask_copy", "bpf_cpumask_any_distribute",
        "bpf_cpumask_any_and_distribute", "bpf_cpumask_weight"), _F.RCU),
}

#: common_btf_ids (kernel/bpf/helpers.c, registered for BPF_PROG_TYPE_UNSPEC: every program type), the parts
#: modelled: the numbers and bits iterators (verifier/iters.py) and the dynptr kfuncs of verifier/dynptr.py
COMMON_KFUNCS: dict[str, KfFlag] = {
    "bpf_iter_num_new": _F.ITER_NEW,
    "bpf_iter_num_next": _F.ITER_NEXT | _F.RET_NULL,
    "bpf_iter_num_destroy": _F.ITER_DESTROY,
    "bpf_iter_bits_new": _F.ITER_NEW,
    "bpf_iter_bits_next": _F.ITER_NEXT | _F.RET_NULL,
    "bpf_iter_bits_destroy": _F.ITER_DESTROY,
    # iterators over kernel objects whose _new takes a kernel pointer and whose _next returns a trusted one (the
    # task and css iterators, KF_RCU_PROTECTED, need bpf_rcu_read_lock sections: not modelled, left out)
    "bpf_iter_task_vma_new": _F.ITER_NEW | _F.RCU,
    "bpf_iter_task_vma_next": _F.ITER_NEXT | _F.RET_NULL,
    "bpf_iter_task_vma_destroy": _F.ITER_DESTROY,
    "bpf_iter_css_task_new": _F.ITER_NEW | _F.TRUSTED_ARGS,
    "bpf_iter_css_task_next": _F.ITER_NEXT | _F.RET_NULL,
    "bpf_iter_css_task_destroy": _F.ITER_DESTROY,
    "bpf_dynptr_slice": _F.RET_NULL,
    "bpf_dynptr_slice_rdwr": _F.RET_NULL,
    **dict.fromkeys(("bpf_dynptr_adjust", "bpf_dynptr_is_null", "bpf_dynptr_is_rdonly", "bpf_dynptr_size",
                     "bpf_dynptr_clone"), _F.NONE),
}
#: bpf_kfunc_check_set_skb / _xdp (net/core/filter.c)
SKB_KFUNCS: dict[str, KfFlag] = {"bpf_dynptr_from_skb": _F.TRUSTED_ARGS}
XDP_KFUNCS: dict[str, KfFlag] = {"bpf_dynptr_from_xdp": _F.NONE}
#: nf_ct_kfunc_set (net/netfilter/nf_conntrack_bpf.c), the lookup and release of a conntrack entry
NF_CT_KFUNCS: dict[str, KfFlag] = {
    "bpf_xdp_ct_lookup": _F.ACQUIRE | _F.RET_NULL, "bpf_skb_ct_lookup": _F.ACQUIRE | _F.RET_NULL,
    "bpf_ct_release": _F.RELEASE,
}

#: bpf_fs_kfunc_set_ids (fs/bpf_fs_kfuncs.c): registered for BPF_PROG_TYPE_LSM, i.e. the TRACING hook LSM programs
#: share, with a filter (bpf_fs_kfuncs_filter) that refuses every other program type of that hook. The xattr kfuncs
#: of the set take `name__str` constant strings and dynptrs, not modelled: they stay out (refused as not modelled)
FS_KFUNCS: dict[str, KfFlag] = {
    "bpf_get_task_exe_file": _F.ACQUIRE | _F.TRUSTED_ARGS | _F.RET_NULL,
    "bpf_put_file": _F.RELEASE,
    "bpf_path_d_path": _F.TRUSTED_ARGS,
}

#: (kfunc set, the hooks it is registered for): register_btf_kfunc_id_set() calls of helpers.c and cpumask.c
KFUNC_SETS: tuple[tuple[dict[str, KfFlag], frozenset[KfuncHook]], ...] = (
    (GENERIC_KFUNCS, frozenset({KfuncHook.TRACING, KfuncHook.TC, KfuncHook.XDP, KfuncHook.STRUCT_OPS,
                                KfuncHook.SYSCALL, KfuncHook.CGROUP})),
    (CPUMASK_KFUNCS, frozenset({KfuncHook.TRACING, KfuncHook.STRUCT_OPS, KfuncHook.SYSCALL})),
    (COMMON_KFUNCS, frozenset({KfuncHook.COMMON})),
    (SKB_KFUNCS, frozenset({KfuncHook.TC, KfuncHook.SCHED_ACT, KfuncHook.SK_SKB, KfuncHook.SOCKET_FILTER,
                            KfuncHook.CGROUP, KfuncHook.LWT, KfuncHook.NETFILTER, KfuncHook.TRACING})),
    (XDP_KFUNCS, frozenset({KfuncHook.XDP})),
    (NF_CT_KFUNCS, frozenset({KfuncHook.XDP, KfuncHook.TC})),
    (FS_KFUNCS, frozenset({KfuncHook.TRACING})),
)
#: kfunc -> the program types its set's `.filter` lets call it (the other types of the hook are refused with
#: "calling kernel function X is not allowed", as a set not registered for them)
KFUNC_FILTERS: dict[str, frozenset[ProgType]] = dict.fromkeys(FS_KFUNCS, frozenset({_P.LSM}))


def kfunc_flags(name: str, prog_type: ProgType) -> KfFlag | None:
    """The KF_* flags of kfunc `name` as a `prog_type` program sees it (btf_kfunc_id_set_contains: the COMMON
    hook, then the program type's own); None when the set that holds it is not registered for that type or the
    kfunc is not in this table."""
    prog_type = ProgType(prog_type)
    allowed = KFUNC_FILTERS.get(name)
    if allowed is not None and prog_type not in allowed:
        return None
    hook = PROG_TYPE_HOOK.get(prog_type)
    for kfuncs, hooks in KFUNC_SETS:
        if name in kfuncs and (KfuncHook.COMMON in hooks or hook in hooks):
            return kfuncs[name]
    return None


def modelled_kfunc(name: str) -> bool:
    """Whether this table knows kfunc `name` at all (else: our verifier refuses it as not modelled)."""
    return any(name in kfuncs for kfuncs, _ in KFUNC_SETS)


__all__ = ["KfFlag", "KFUNC_ARG_IGNORE_SUFFIX", "KfuncHook", "PROG_TYPE_HOOK", "GENERIC_KFUNCS", "CPUMASK_KFUNCS", "COMMON_KFUNCS", "SKB_KFUNCS", "XDP_KFUNCS", "NF_CT_KFUNCS", "FS_KFUNCS", "KFUNC_SETS", "KFUNC_FILTERS", "kfunc_flags",
           "modelled_kfunc"]
