"""Questions asked about a program type, each answered once, from the kernel's own switch statement.

"May this type write the packet?", "has it a __sk_buff context?", "does BPF_PROG_TEST_RUN run it, and how?": the
verifier, the VM, the loader and the test harness all ask; they ask here. Adding a program type means adding it to
the rows below that name it in the kernel (net/core/filter.c, kernel/bpf/verifier.c, net/bpf/test_run.c).
"""
from __future__ import annotations

from enum import Enum

from pyebpf.abi.prog_types import ProgType

_P = ProgType

SKB_CONTEXT_TYPES = frozenset({_P.SOCKET_FILTER, _P.SCHED_CLS, _P.SCHED_ACT, _P.CGROUP_SKB, _P.LWT_IN, _P.LWT_OUT,
                               _P.LWT_XMIT, _P.LWT_SEG6LOCAL, _P.SK_SKB})
"""Program types whose context is struct __sk_buff (their *_verifier_ops convert __sk_buff accesses)."""

TC_TYPES = frozenset({_P.SCHED_CLS, _P.SCHED_ACT})
"""tc classifiers and actions: r0 is a TC_ACT_* verdict."""

RAW_TRACEPOINT_TYPES = frozenset({_P.RAW_TRACEPOINT, _P.RAW_TRACEPOINT_WRITABLE})
"""Context struct bpf_raw_tracepoint_args (u64 args[])."""

DIRECT_PKT_READ_ONLY_TYPES = frozenset({_P.LWT_IN, _P.LWT_OUT, _P.LWT_SEG6LOCAL, _P.SK_REUSEPORT, _P.FLOW_DISSECTOR,
                                        _P.CGROUP_SKB})
DIRECT_PKT_WRITE_TYPES = frozenset({_P.SCHED_CLS, _P.SCHED_ACT, _P.XDP, _P.LWT_XMIT, _P.SK_SKB, _P.SK_MSG,
                                    _P.CGROUP_SOCKOPT})
"""verifier.c may_access_direct_pkt_data(): the first set reads packet data through ctx->data only; the second may
also write it (CGROUP_SOCKOPT's "packet" is the sockopt buffer)."""

LD_ABS_TYPES = frozenset({_P.SOCKET_FILTER, _P.SCHED_CLS, _P.SCHED_ACT})
"""verifier.c may_access_skb(): the types that may use legacy BPF_LD_ABS / BPF_LD_IND."""

UNPRIVILEGED_TYPES = frozenset({_P.SOCKET_FILTER, _P.CGROUP_SKB})
"""syscall.c bpf_prog_load(): without CAP_BPF only these types may be loaded at all."""


def has_skb_context(prog_type: ProgType | int | None) -> bool:
    return prog_type in SKB_CONTEXT_TYPES


def is_packet_program(prog_type: ProgType | int | None) -> bool:
    """A program that runs on a packet: an __sk_buff or an xdp_md context."""
    return prog_type in SKB_CONTEXT_TYPES or prog_type == _P.XDP


def is_tc(prog_type: ProgType | int | None) -> bool:
    return prog_type in TC_TYPES


def is_raw_tracepoint(prog_type: ProgType | int | None) -> bool:
    return prog_type in RAW_TRACEPOINT_TYPES


def may_read_packet(prog_type: ProgType | int | None) -> bool:
    """Direct packet reads through ctx->data / data_end are allowed."""
    return prog_type in DIRECT_PKT_READ_ONLY_TYPES or prog_type in DIRECT_PKT_WRITE_TYPES


def may_write_packet(prog_type: ProgType | int | None) -> bool:
    """Direct packet writes through ctx->data are allowed (the packet is writable memory)."""
    return prog_type in DIRECT_PKT_WRITE_TYPES


def may_ld_abs(prog_type: ProgType | int | None) -> bool:
    return prog_type in LD_ABS_TYPES


def unprivileged_may_load(prog_type: ProgType | int | None) -> bool:
    return prog_type in UNPRIVILEGED_TYPES


# ---- BPF_PROG_TEST_RUN (net/bpf/test_run.c): which runner each type's bpf_prog_ops.test_run is -----------------

class ProgTestRun(str, Enum):
    SKB = "bpf_prog_test_run_skb"
    XDP = "bpf_prog_test_run_xdp"
    RAW_TP = "bpf_prog_test_run_raw_tp"
    TRACING = "bpf_prog_test_run_tracing"
    FLOW_DISSECTOR = "bpf_prog_test_run_flow_dissector"
    SK_LOOKUP = "bpf_prog_test_run_sk_lookup"
    SYSCALL = "bpf_prog_test_run_syscall"
    NETFILTER = "bpf_prog_test_run_nf"


TEST_RUN: dict[ProgType, ProgTestRun] = {
    **{pt: ProgTestRun.SKB for pt in (_P.SOCKET_FILTER, _P.SCHED_CLS, _P.SCHED_ACT, _P.CGROUP_SKB, _P.LWT_IN, _P.LWT_OUT,
                                  _P.LWT_XMIT, _P.LWT_SEG6LOCAL)},
    _P.XDP: ProgTestRun.XDP, _P.RAW_TRACEPOINT: ProgTestRun.RAW_TP, _P.TRACING: ProgTestRun.TRACING,
    _P.FLOW_DISSECTOR: ProgTestRun.FLOW_DISSECTOR, _P.SK_LOOKUP: ProgTestRun.SK_LOOKUP, _P.SYSCALL: ProgTestRun.SYSCALL,
    _P.NETFILTER: ProgTestRun.NETFILTER,
}
"""Program type -> the function BPF_PROG_TEST_RUN runs it with; types not listed get ENOTSUPP."""

_SINGLE_SHOT_RUNNERS = frozenset({ProgTestRun.RAW_TP, ProgTestRun.SYSCALL})


def prog_test_run_kind(prog_type: ProgType | int | None) -> ProgTestRun | None:
    return TEST_RUN.get(prog_type)  # type: ignore[arg-type]


def prog_test_run_single_shot(prog_type: ProgType | int | None) -> bool:
    """The runner refuses `repeat` and `ctx_out` (bpf_prog_test_run_raw_tp / _syscall): one run per call."""
    return prog_test_run_kind(prog_type) in _SINGLE_SHOT_RUNNERS


def prog_test_run_pulls_l2(prog_type: ProgType | int | None) -> bool:
    """bpf_prog_test_run_skb pulls the Ethernet header (eth_type_trans) before the program runs, so skb->data starts
    at the network header: every skb runner type except tc's (`is_l2`)."""
    return prog_test_run_kind(prog_type) == ProgTestRun.SKB and prog_type not in TC_TYPES


__all__ = ["SKB_CONTEXT_TYPES", "TC_TYPES", "RAW_TRACEPOINT_TYPES", "DIRECT_PKT_READ_ONLY_TYPES",
           "DIRECT_PKT_WRITE_TYPES", "LD_ABS_TYPES", "UNPRIVILEGED_TYPES", "ProgTestRun", "TEST_RUN", "has_skb_context",
           "is_packet_program", "is_tc", "is_raw_tracepoint", "may_read_packet", "may_write_packet", "may_ld_abs",
           "unprivileged_may_load", "prog_test_run_kind", "prog_test_run_single_shot", "prog_test_run_pulls_l2"]
