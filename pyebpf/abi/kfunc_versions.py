"""Which kfuncs each kernel release lets a program call, and from which program types: data keyed by release.

Ground truth is generated, never written by hand: `scripts/verifier-truth.py --corpus kfuncs` tries a call of every
kfunc the newest kernel's BTF tags `bpf_kfunc` (and every kfunc `abi.kfuncs` models) from one program of each
kernel-function hook's program types, inside each kernel of the matrix, and records which types get past
check_kfunc_call's set check ("calling kernel function X is not allowed") in tests/verifier/kernels/<release>.json.
This table is those files in release order, and tests/verifier/test_kfunc_versions.py checks it against them.

The newest release's sets per program type are `abi.kfuncs` (flags and hooks); rows here say what an older
release lacked. Dating follows abi.kernel_versions: a kfunc first seen on modelled release B (absent on the older
modelled A) is entered at the first release after A (kfunc calls themselves arrived in 5.13), so releases between
two modelled ones are less certain. Kfuncs of modules (nf_conntrack's bpf_ct_*, when not built in), kfuncs callable
only with more than a program type (struct_ops congestion control, arena kfuncs that need an arena map on 6.18) and
kfuncs no modelled release lets any probed type call are not listed: `verify(kernel=...)` then knows a kfunc only on
the newest release.
"""
from __future__ import annotations

from typing import NamedTuple

from pyebpf.abi.kernel_versions import NEWEST, Release
from pyebpf.abi.prog_types import ProgType

_R = Release
_P = ProgType

#: release -> the kfuncs callable from it on (as the newest release allows them, unless KFUNC_TYPE_CHANGES says less)
KFUNCS_SINCE: dict[Release, frozenset[str]] = {
    # first seen on 6.1 (absent on 5.10, which has no kfunc calls: they arrived in 5.13)
    _R(5, 13): frozenset("""
        bpf_key_put bpf_kfunc_call_memb_release bpf_kfunc_call_test_release bpf_lookup_system_key
        bpf_lookup_user_key
    """.split()),
    # first seen on 6.12 (absent on 6.1)
    _R(6, 2): frozenset("""
        bpf_cast_to_kern_ctx bpf_cgroup_acquire bpf_cgroup_ancestor bpf_cgroup_from_id bpf_cgroup_release
        bpf_copy_from_user_str bpf_cpumask_acquire bpf_cpumask_and bpf_cpumask_any_and_distribute
        bpf_cpumask_any_distribute bpf_cpumask_clear bpf_cpumask_clear_cpu bpf_cpumask_copy bpf_cpumask_create
        bpf_cpumask_empty bpf_cpumask_equal bpf_cpumask_first bpf_cpumask_first_and bpf_cpumask_first_zero
        bpf_cpumask_full bpf_cpumask_intersects bpf_cpumask_or bpf_cpumask_release bpf_cpumask_set_cpu
        bpf_cpumask_setall bpf_cpumask_subset bpf_cpumask_test_and_clear_cpu bpf_cpumask_test_and_set_cpu
        bpf_cpumask_test_cpu bpf_cpumask_weight bpf_cpumask_xor bpf_crypto_ctx_acquire bpf_crypto_ctx_create
        bpf_crypto_ctx_release bpf_crypto_decrypt bpf_crypto_encrypt bpf_dynptr_adjust bpf_dynptr_clone
        bpf_dynptr_from_skb bpf_dynptr_from_xdp bpf_dynptr_is_null bpf_dynptr_is_rdonly bpf_dynptr_size
        bpf_dynptr_slice bpf_dynptr_slice_rdwr bpf_iter_bits_destroy bpf_iter_bits_new bpf_iter_bits_next
        bpf_iter_css_destroy bpf_iter_css_new bpf_iter_css_next bpf_iter_css_task_destroy bpf_iter_css_task_new
        bpf_iter_css_task_next bpf_iter_num_destroy bpf_iter_num_new bpf_iter_num_next bpf_iter_task_destroy
        bpf_iter_task_new bpf_iter_task_next bpf_iter_task_vma_destroy bpf_iter_task_vma_new
        bpf_iter_task_vma_next bpf_list_pop_back bpf_list_pop_front bpf_list_push_back_impl
        bpf_list_push_front_impl bpf_map_sum_elem_count bpf_modify_return_test_tp bpf_obj_drop_impl
        bpf_obj_new_impl bpf_percpu_obj_drop_impl bpf_percpu_obj_new_impl bpf_preempt_disable bpf_preempt_enable
        bpf_rbtree_add_impl bpf_rbtree_first bpf_rbtree_remove bpf_rcu_read_lock bpf_rcu_read_unlock
        bpf_rdonly_cast bpf_refcount_acquire_impl bpf_sk_assign_tcp_reqsk bpf_sock_addr_set_sun_path
        bpf_task_acquire bpf_task_from_pid bpf_task_get_cgroup1 bpf_task_release bpf_task_under_cgroup bpf_throw
        bpf_wq_init bpf_wq_set_callback_impl bpf_wq_start bpf_xdp_get_xfrm_state bpf_xdp_metadata_rx_hash
        bpf_xdp_metadata_rx_timestamp bpf_xdp_metadata_rx_vlan_tag bpf_xdp_xfrm_state_release
    """.split()),
    # first seen on 6.18 (absent on 6.12)
    _R(6, 13): frozenset("""
        bpf_cgroup_read_xattr bpf_copy_from_user_dynptr bpf_copy_from_user_str_dynptr
        bpf_copy_from_user_task_dynptr bpf_copy_from_user_task_str bpf_copy_from_user_task_str_dynptr
        bpf_cpumask_populate bpf_ct_change_status bpf_ct_change_timeout bpf_ct_insert_entry bpf_ct_release
        bpf_ct_set_nat_info bpf_ct_set_status bpf_ct_set_timeout bpf_dynptr_copy bpf_dynptr_from_skb_meta
        bpf_dynptr_memset bpf_get_kmem_cache bpf_iter_dmabuf_destroy bpf_iter_dmabuf_new bpf_iter_dmabuf_next
        bpf_iter_kmem_cache_destroy bpf_iter_kmem_cache_new bpf_iter_kmem_cache_next bpf_list_back
        bpf_list_front bpf_local_irq_restore bpf_local_irq_save bpf_probe_read_kernel_dynptr
        bpf_probe_read_kernel_str_dynptr bpf_probe_read_user_dynptr bpf_probe_read_user_str_dynptr
        bpf_rbtree_left bpf_rbtree_right bpf_rbtree_root bpf_res_spin_lock bpf_res_spin_lock_irqsave
        bpf_res_spin_unlock bpf_res_spin_unlock_irqrestore bpf_send_signal_task bpf_skb_ct_alloc
        bpf_skb_ct_lookup bpf_sock_ops_enable_tx_tstamp bpf_strcasecmp bpf_strchr bpf_strchrnul bpf_strcmp
        bpf_strcspn bpf_stream_vprintk_impl bpf_strlen bpf_strnchr bpf_strnlen bpf_strnstr bpf_strrchr
        bpf_strspn bpf_strstr bpf_task_from_vpid bpf_task_work_schedule_resume_impl
        bpf_task_work_schedule_signal_impl bpf_xdp_ct_alloc bpf_xdp_ct_lookup bpf_xdp_pull_data css_rstat_flush
        css_rstat_updated
    """.split()),
}
#: kfuncs only BPF LSM programs may call (their set's filter, abi.kfuncs.KFUNC_FILTERS): no probed program type gets
#: past the set check, so each release's truth file tells only whether its BTF has them (`btf`). Dated by the
#: upstream release that added them (fs/bpf_fs_kfuncs.c, 6.12: the 6.12 guest's BTF has them, 6.1's has not)
LSM_KFUNCS_SINCE: dict[Release, frozenset[str]] = {
    _R(6, 12): frozenset({"bpf_get_task_exe_file", "bpf_put_file", "bpf_path_d_path"}),
}
_SINCE: dict[str, Release] = {name: rel for table in (KFUNCS_SINCE, LSM_KFUNCS_SINCE)
                              for rel, names in table.items() for name in names}


class KfuncTypes(NamedTuple):
    """Before `since`, `kfuncs` were callable only from `before` (of the program types the newest release allows)."""

    kfuncs: frozenset[str]
    since: Release
    before: frozenset[ProgType]
    why: str


_KEYS = frozenset({"bpf_key_put", "bpf_lookup_system_key", "bpf_lookup_user_key"})
_TEST_RUN = frozenset({"bpf_kfunc_call_memb_release", "bpf_kfunc_call_test_release"})
#: (LSM programs share the TRACING hook on every modelled release; they are not probed: that needs a BPF LSM kernel)
KFUNC_TYPE_CHANGES: tuple[KfuncTypes, ...] = (
    KfuncTypes(_KEYS, _R(6, 2), frozenset({_P.TRACING, _P.LSM}),
               "bpf_prog_type_to_kfunc_hook: tracepoint and perf_event programs joined the TRACING hook (6.1: only "
               "BPF_PROG_TYPE_TRACING and LSM had it)"),
    KfuncTypes(_KEYS, _R(6, 13), frozenset({_P.TRACING, _P.LSM, _P.TRACEPOINT, _P.PERF_EVENT}),
               "the key kfuncs' set registered for more hooks after 6.12 (measured: 6.12 refuses them to xdp, "
               "sched_cls, cgroup_skb and syscall programs, 6.18 allows them)"),
    KfuncTypes(_TEST_RUN, _R(6, 2), frozenset({_P.SCHED_CLS, _P.SYSCALL, _P.TRACING, _P.LSM}),
               "BPF_PROG_TEST_RUN's kfuncs: tracepoint and perf_event programs joined the TRACING hook"),
)


def kfunc_known_at(name: str, release: Release) -> bool:
    """Whether `release` has kfunc `name` (its BTF names it and some program type may call it). A kfunc this table
    does not list is known to the newest release only."""
    since = _SINCE.get(name)
    return release >= NEWEST if since is None else since <= release


def kfunc_since(name: str) -> Release | None:
    """The release the table dates kfunc `name` from (None: not listed)."""
    return _SINCE.get(name)


def kfunc_prog_type_at(name: str, prog_type: ProgType, release: Release) -> bool:
    """False when `release` did not yet let `prog_type` call kfunc `name`, which the newest release allows."""
    return all(prog_type in row.before for row in KFUNC_TYPE_CHANGES if name in row.kfuncs and release < row.since)


__all__ = ["KFUNCS_SINCE", "LSM_KFUNCS_SINCE", "KfuncTypes", "KFUNC_TYPE_CHANGES", "kfunc_known_at", "kfunc_since", "kfunc_prog_type_at"]
