"""Program context layouts (the struct R1 points to at entry) and the kernel's ctx access rules.

Offsets come from the running 6.18 kernel's BTF (x86-64). `ctx_access_ok()` mirrors the verifier_ops
`is_valid_access` callbacks: bpf_skb_is_valid_access + sk_filter/tc_cls_act/cg_skb_is_valid_access
(net/core/filter.c), xdp_is_valid_access, kprobe/tp/raw_tp/pe_prog_is_valid_access (kernel/trace/bpf_trace.c).
`RETURN_RANGES` mirrors check_return_code() in kernel/bpf/verifier.c for the same program types.
tests/abi/test_context_kernel.py compares ctx_access_ok() with the live kernel, offset by offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pyebpf.abi.lsm import LSM_BOOL_HOOKS, MAX_ERRNO
from pyebpf.abi.prog_kinds import SKB_CONTEXT_TYPES, TC_TYPES
from pyebpf.abi.prog_types import AttachType, ProgType, effective_attach_type

__all__ = [
    "FieldKind", "CtxField", "ContextLayout", "SK_BUFF", "XDP_MD", "PT_REGS", "BPF_PERF_EVENT_DATA",
    "TRACE_EVENT_RAW_SYS_ENTER", "TRACE_EVENT_RAW_SYS_EXIT", "BPF_RAW_TRACEPOINT_ARGS", "CONTEXTS",
    "ctx_access_ok", "ReturnRange", "RETURN_RANGES", "return_range", "lsm_return_range", "MAX_BPF_FUNC_ARGS",
    "BPF_NF_CTX", "SYSCALL_CTX", "ITER_CTX_ARGS", "FMODRET_FUNCS", "NON_SLEEPABLE_ERROR_INJECT", "TRACING_DENY",
    "NORETURN_DENY", "SECURITY_PREFIX", "ITER_MAYBE_NULL", "ITER_TRUSTED", "ITER_BUF",
    "ITER_RDONLY", "BPF_RAW_TRACEPOINT_WRITABLE_ARGS", "BTF_CTX_ATTACH_TYPES",
    "PERF_MAX_TRACE_SIZE", "TRACE_ENTRY_SIZE", "BPF_SOCK", "BPF_TCP_SOCK", "BPF_XDP_SOCK", "sock_access_ok",
]

MAX_BPF_FUNC_ARGS = 12
"""Raw tracepoints / fentry see at most this many u64 arguments (include/linux/bpf.h)."""
PERF_MAX_TRACE_SIZE = 8192
"""Upper bound the verifier uses for tracepoint record accesses (include/linux/trace_events.h)."""
TRACE_ENTRY_SIZE = 8
"""struct trace_entry (common_type, flags, preempt_count, pid) opens every tracepoint record; BPF may not read it."""


class FieldKind(str, Enum):
    """What a load from the field yields in the verifier (the reg_type is_valid_access assigns)."""

    SCALAR = "scalar"
    PKT = "pkt"  # PTR_TO_PACKET
    PKT_END = "pkt_end"  # PTR_TO_PACKET_END
    PKT_META = "pkt_meta"  # PTR_TO_PACKET_META
    SOCK_COMMON_OR_NULL = "sock_common_or_null"  # __sk_buff->sk
    FLOW_KEYS = "flow_keys"  # PTR_TO_FLOW_KEYS (flow dissector only)
    SOCKET = "socket"  # PTR_TO_SOCKET (sk_msg_md / bpf_sock_addr / bpf_sockopt ->sk)
    SOCKET_OR_NULL = "socket_or_null"  # PTR_TO_SOCKET_OR_NULL (bpf_sock_ops->sk)
    TRUSTED_BTF_ID = "trusted_btf_id"  # PTR_TO_BTF_ID | PTR_TRUSTED of the field's `btf_struct` (bpf_nf_ctx)
    TP_BUFFER = "tp_buffer"  # PTR_TO_TP_BUFFER (raw_tracepoint.w args[0]: the tracepoint's writable buffer)
    PADDING = "padding"


@dataclass(frozen=True)
class CtxField:
    """One member of a context struct.

    `readable` / `writable_by` give the common-case policy for documentation and simple users; the precise
    per-program-type answer (sizes, alignment, privilege) is `ctx_access_ok()`.
    """

    name: str
    offset: int
    size: int
    readable: bool = True
    writable_by: frozenset[ProgType] = frozenset()
    kind: FieldKind = FieldKind.SCALAR
    btf_struct: str = ""  # the vmlinux struct a TRUSTED_BTF_ID field points to

    @property
    def end(self) -> int:
        return self.offset + self.size

    def contains(self, off: int) -> bool:
        return self.offset <= off < self.end


@dataclass(frozen=True)
class ContextLayout:
    """A context struct: C name, sizeof, and its fields in offset order."""

    name: str
    size: int
    fields: tuple[CtxField, ...]

    def field_at(self, off: int) -> CtxField | None:
        """The field covering byte `off`, if any."""
        for f in self.fields:
            if f.contains(off):
                return f
        return None

    def __getitem__(self, name: str) -> CtxField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_P = ProgType
_SKB_ALL = frozenset({_P.SOCKET_FILTER, _P.SCHED_CLS, _P.SCHED_ACT, _P.CGROUP_SKB, _P.LWT_IN, _P.LWT_OUT, _P.LWT_XMIT,
                      _P.LWT_SEG6LOCAL})
_LWT = frozenset({_P.LWT_IN, _P.LWT_OUT, _P.LWT_XMIT, _P.LWT_SEG6LOCAL})
_CG_SOCK_ADDR = frozenset({_P.CGROUP_SOCK_ADDR})
_SOCKOPT = frozenset({_P.CGROUP_SOCKOPT})
_CG_SOCK = frozenset({_P.CGROUP_SOCK})


def _f(name: str, off: int, size: int, writable: frozenset[ProgType] = frozenset(),
       kind: FieldKind = FieldKind.SCALAR, readable: bool = True, btf_struct: str = "") -> CtxField:
    return CtxField(name, off, size, readable, writable, kind, btf_struct)


def _u32s(name: str, off: int, n: int, writable: frozenset[ProgType] = frozenset()) -> tuple[CtxField, ...]:
    return tuple(_f(f"{name}[{i}]", off + 4 * i, 4, writable) for i in range(n))


SK_BUFF = ContextLayout("__sk_buff", 192, (
    _f("len", 0, 4),
    _f("pkt_type", 4, 4),
    _f("mark", 8, 4, TC_TYPES | _LWT | {_P.CGROUP_SKB}),
    _f("queue_mapping", 12, 4, TC_TYPES),
    _f("protocol", 16, 4),
    _f("vlan_present", 20, 4),
    _f("vlan_tci", 24, 4),
    _f("vlan_proto", 28, 4),
    _f("priority", 32, 4, TC_TYPES | _LWT | {_P.CGROUP_SKB, _P.SK_SKB}),
    _f("ingress_ifindex", 36, 4),
    _f("ifindex", 40, 4),
    _f("tc_index", 44, 4, TC_TYPES | {_P.SK_SKB}),
    *_u32s("cb", 48, 5, _SKB_ALL),
    _f("hash", 68, 4),
    _f("tc_classid", 72, 4, TC_TYPES),
    _f("data", 76, 4, kind=FieldKind.PKT),
    _f("data_end", 80, 4, kind=FieldKind.PKT_END),
    _f("napi_id", 84, 4),
    _f("family", 88, 4),
    _f("remote_ip4", 92, 4),
    _f("local_ip4", 96, 4),
    *_u32s("remote_ip6", 100, 4),
    *_u32s("local_ip6", 116, 4),
    _f("remote_port", 132, 4),
    _f("local_port", 136, 4),
    _f("data_meta", 140, 4, kind=FieldKind.PKT_META),
    _f("flow_keys", 144, 8, kind=FieldKind.FLOW_KEYS),  # readable by FLOW_DISSECTOR only
    _f("tstamp", 152, 8, TC_TYPES | {_P.CGROUP_SKB}),
    _f("wire_len", 160, 4),
    _f("gso_segs", 164, 4),
    _f("sk", 168, 8, kind=FieldKind.SOCK_COMMON_OR_NULL),
    _f("gso_size", 176, 4),
    _f("tstamp_type", 180, 1),
    _f("__pad", 181, 3, kind=FieldKind.PADDING, readable=False),
    _f("hwtstamp", 184, 8),
))
"""struct __sk_buff (uapi bpf.h), the mirror of sk_buff that socket filter, tc and cgroup_skb programs see."""

XDP_MD = ContextLayout("xdp_md", 24, (
    _f("data", 0, 4, kind=FieldKind.PKT),
    _f("data_end", 4, 4, kind=FieldKind.PKT_END),
    _f("data_meta", 8, 4, kind=FieldKind.PKT_META),
    _f("ingress_ifindex", 12, 4),
    _f("rx_queue_index", 16, 4),
    _f("egress_ifindex", 20, 4),
))
"""struct xdp_md; egress_ifindex is only readable with expected_attach_type BPF_XDP_DEVMAP."""

_PT_REGS_NAMES = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
                  "di", "orig_ax", "ip", "cs", "flags", "sp", "ss")
PT_REGS = ContextLayout("pt_regs", 8 * len(_PT_REGS_NAMES),
                        tuple(_f(n, 8 * i, 8) for i, n in enumerate(_PT_REGS_NAMES)))
"""x86-64 struct pt_regs: 21 unsigned longs (168 bytes), the kprobe/uprobe context."""

BPF_PERF_EVENT_DATA = ContextLayout("bpf_perf_event_data", PT_REGS.size + 16, (
    *(_f(f"regs.{f.name}", f.offset, 8) for f in PT_REGS.fields),
    _f("sample_period", PT_REGS.size, 8),
    _f("addr", PT_REGS.size + 8, 8),
))
"""struct bpf_perf_event_data: bpf_user_pt_regs_t regs; __u64 sample_period; __u64 addr."""

_TRACE_ENTRY = (
    _f("common_type", 0, 2, readable=False),
    _f("common_flags", 2, 1, readable=False),
    _f("common_preempt_count", 3, 1, readable=False),
    _f("common_pid", 4, 4, readable=False),
)

TRACE_EVENT_RAW_SYS_ENTER = ContextLayout("trace_event_raw_sys_enter", 64, (
    *_TRACE_ENTRY,
    _f("id", 8, 8),
    *(_f(f"args[{i}]", 16 + 8 * i, 8) for i in range(6)),
))
"""Record of tracepoint raw_syscalls/sys_enter (and the layout syscalls/sys_enter_* share up to args)."""

TRACE_EVENT_RAW_SYS_EXIT = ContextLayout("trace_event_raw_sys_exit", 24, (
    *_TRACE_ENTRY,
    _f("id", 8, 8),
    _f("ret", 16, 8),
))
"""Record of tracepoint raw_syscalls/sys_exit."""

BPF_RAW_TRACEPOINT_ARGS = ContextLayout("bpf_raw_tracepoint_args", 8 * MAX_BPF_FUNC_ARGS,
                                        tuple(_f(f"args[{i}]", 8 * i, 8) for i in range(MAX_BPF_FUNC_ARGS)))
"""struct bpf_raw_tracepoint_args { __u64 args[0]; } -- sized here to the verifier's MAX_BPF_FUNC_ARGS bound."""

BPF_RAW_TRACEPOINT_WRITABLE_ARGS = ContextLayout("bpf_raw_tracepoint_args", BPF_RAW_TRACEPOINT_ARGS.size, (
    _f("args[0]", 0, 8, kind=FieldKind.TP_BUFFER), *BPF_RAW_TRACEPOINT_ARGS.fields[1:]))
"""raw_tracepoint.w: the same u64 args, args[0] being the tracepoint's writable buffer (PTR_TO_TP_BUFFER)."""

BPF_NF_CTX = ContextLayout("bpf_nf_ctx", 16, (
    _f("state", 0, 8, kind=FieldKind.TRUSTED_BTF_ID, btf_struct="nf_hook_state"),
    _f("skb", 8, 8, kind=FieldKind.TRUSTED_BTF_ID, btf_struct="sk_buff"),
))
"""struct bpf_nf_ctx (include/net/netfilter/nf_bpf_link.h): the context of NETFILTER programs, two trusted kernel
pointers (nf_ptr_to_btf_id)."""

SYSCALL_CTX_MAX = 0xFFFF
"""syscall_prog_is_valid_access(): a SYSCALL program's context is the caller's buffer, accessed below U16_MAX."""
SYSCALL_CTX = ContextLayout("syscall ctx (the BPF_PROG_TEST_RUN caller's buffer)", SYSCALL_CTX_MAX, ())

BPF_SOCK = ContextLayout("bpf_sock", 80, (
    _f("bound_dev_if", 0, 4, _CG_SOCK), _f("family", 4, 4), _f("type", 8, 4), _f("protocol", 12, 4),
    _f("mark", 16, 4, _CG_SOCK), _f("priority", 20, 4, _CG_SOCK), _f("src_ip4", 24, 4), *_u32s("src_ip6", 28, 4), _f("src_port", 44, 4),
    _f("dst_port", 48, 2), _f("dst_ip4", 52, 4), *_u32s("dst_ip6", 56, 4), _f("state", 72, 4),
    _f("rx_queue_mapping", 76, 4),
))
"""struct bpf_sock (uapi): what PTR_TO_SOCKET / PTR_TO_SOCK_COMMON point at (read-only), and the context of
CGROUP_SOCK programs (bound_dev_if, mark, priority writable at sock_create/sock_release)."""

BPF_TCP_SOCK = ContextLayout("bpf_tcp_sock", 112, (
    *(_f(n, 4 * i, 4) for i, n in enumerate((
        "snd_cwnd", "srtt_us", "rtt_min", "snd_ssthresh", "rcv_nxt", "snd_nxt", "snd_una", "mss_cache",
        "ecn_flags", "rate_delivered", "rate_interval_us", "packets_out", "retrans_out", "total_retrans",
        "segs_in", "data_segs_in", "segs_out", "data_segs_out", "lost_out", "sacked_out"))),
    _f("bytes_received", 80, 8), _f("bytes_acked", 88, 8),
    *(_f(n, 96 + 4 * i, 4) for i, n in enumerate(("dsack_dups", "delivered", "delivered_ce", "icsk_retransmits"))),
))
"""struct bpf_tcp_sock (uapi): what PTR_TO_TCP_SOCK points at; read-only."""

BPF_XDP_SOCK = ContextLayout("bpf_xdp_sock", 4, (_f("queue_id", 0, 4),))

BPF_SOCK_ADDR = ContextLayout("bpf_sock_addr", 72, (
    _f("user_family", 0, 4), _f("user_ip4", 4, 4, _CG_SOCK_ADDR), *_u32s("user_ip6", 8, 4, _CG_SOCK_ADDR),
    _f("user_port", 24, 4, _CG_SOCK_ADDR), _f("family", 28, 4), _f("type", 32, 4), _f("protocol", 36, 4),
    _f("msg_src_ip4", 40, 4, _CG_SOCK_ADDR), *_u32s("msg_src_ip6", 44, 4, _CG_SOCK_ADDR),
    _f("__pad", 60, 4, kind=FieldKind.PADDING, readable=False),
    _f("sk", 64, 8, kind=FieldKind.SOCKET),
))
"""struct bpf_sock_addr (uapi): the context of CGROUP_SOCK_ADDR programs (bind/connect/sendmsg/recvmsg/...)."""

_SOCK_OPS_U32 = ("family", "remote_ip4", "local_ip4", *(f"remote_ip6[{i}]" for i in range(4)),
                 *(f"local_ip6[{i}]" for i in range(4)), "remote_port", "local_port", "is_fullsock", "snd_cwnd",
                 "srtt_us", "bpf_sock_ops_cb_flags", "state", "rtt_min", "snd_ssthresh", "rcv_nxt", "snd_nxt",
                 "snd_una", "mss_cache", "ecn_flags", "rate_delivered", "rate_interval_us", "packets_out",
                 "retrans_out", "total_retrans", "segs_in", "data_segs_in", "segs_out", "data_segs_out", "lost_out",
                 "sacked_out")
BPF_SOCK_OPS = ContextLayout("bpf_sock_ops", 224, (
    _f("op", 0, 4),
    _f("reply", 4, 4, frozenset({_P.SOCK_OPS})),  # union { args[4]; reply; replylong[4] }
    *(_f(f"args[{i}]", 4 + 4 * i, 4) for i in range(1, 4)),
    *(_f(n, 20 + 4 * i, 4) for i, n in enumerate(_SOCK_OPS_U32)),
    _f("sk_txhash", 164, 4, frozenset({_P.SOCK_OPS})),
    _f("bytes_received", 168, 8), _f("bytes_acked", 176, 8),
    _f("sk", 184, 8, kind=FieldKind.SOCKET_OR_NULL),
    _f("skb_data", 192, 8, kind=FieldKind.PKT), _f("skb_data_end", 200, 8, kind=FieldKind.PKT_END),
    _f("skb_len", 208, 4), _f("skb_tcp_flags", 212, 4), _f("skb_hwtstamp", 216, 8),
))
"""struct bpf_sock_ops (uapi): the context of SOCK_OPS programs; `reply` and `sk_txhash` are writable."""

SK_MSG_MD = ContextLayout("sk_msg_md", 80, (
    _f("data", 0, 8, kind=FieldKind.PKT), _f("data_end", 8, 8, kind=FieldKind.PKT_END),
    _f("family", 16, 4), _f("remote_ip4", 20, 4), _f("local_ip4", 24, 4), *_u32s("remote_ip6", 28, 4),
    *_u32s("local_ip6", 44, 4), _f("remote_port", 60, 4), _f("local_port", 64, 4), _f("size", 68, 4),
    _f("sk", 72, 8, kind=FieldKind.SOCKET),
))
"""struct sk_msg_md (uapi): the context of SK_MSG programs; read-only."""

BPF_SYSCTL = ContextLayout("bpf_sysctl", 8, (
    _f("write", 0, 4), _f("file_pos", 4, 4, frozenset({_P.CGROUP_SYSCTL})),
))
"""struct bpf_sysctl (uapi): the context of CGROUP_SYSCTL programs."""

BPF_SOCKOPT = ContextLayout("bpf_sockopt", 40, (
    _f("sk", 0, 8, kind=FieldKind.SOCKET), _f("optval", 8, 8, kind=FieldKind.PKT),
    _f("optval_end", 16, 8, kind=FieldKind.PKT_END), _f("level", 24, 4, _SOCKOPT), _f("optname", 28, 4, _SOCKOPT),
    _f("optlen", 32, 4, _SOCKOPT), _f("retval", 36, 4, _SOCKOPT),
))
"""struct bpf_sockopt (uapi): the context of CGROUP_SOCKOPT programs; optval..optval_end is its "packet"."""

BPF_SK_LOOKUP = ContextLayout("bpf_sk_lookup", 72, (
    _f("sk", 0, 8, kind=FieldKind.SOCKET_OR_NULL),  # union with __u64 cookie
    _f("family", 8, 4), _f("protocol", 12, 4), _f("remote_ip4", 16, 4), *_u32s("remote_ip6", 20, 4),
    _f("remote_port", 36, 2), _f("__pad", 38, 2), _f("local_ip4", 40, 4), *_u32s("local_ip6", 44, 4),
    _f("local_port", 60, 4), _f("ingress_ifindex", 64, 4),
))
"""struct bpf_sk_lookup (uapi): the context of SK_LOOKUP programs; read-only."""

BPF_CGROUP_DEV_CTX = ContextLayout("bpf_cgroup_dev_ctx", 12, (
    _f("access_type", 0, 4), _f("major", 4, 4), _f("minor", 8, 4),
))
"""struct bpf_cgroup_dev_ctx (uapi): the context of CGROUP_DEVICE programs; read-only."""

SK_REUSEPORT_MD = ContextLayout("sk_reuseport_md", 56, (
    _f("data", 0, 8, kind=FieldKind.PKT), _f("data_end", 8, 8, kind=FieldKind.PKT_END), _f("len", 16, 4),
    _f("eth_protocol", 20, 4), _f("ip_protocol", 24, 4), _f("bind_inany", 28, 4), _f("hash", 32, 4),
    _f("__pad", 36, 4, kind=FieldKind.PADDING, readable=False),
    _f("sk", 40, 8, kind=FieldKind.SOCKET), _f("migrating_sk", 48, 8, kind=FieldKind.SOCK_COMMON_OR_NULL),
))
"""struct sk_reuseport_md (uapi): the context of SK_REUSEPORT programs; read-only."""

BPF_FLOW_KEYS_SIZE = 56
"""sizeof(struct bpf_flow_keys) (uapi): what PTR_TO_FLOW_KEYS points at (check_flow_keys_access)."""

CONTEXTS: dict[ProgType, ContextLayout] = {
    **{pt: SK_BUFF for pt in sorted(SKB_CONTEXT_TYPES)},
    _P.FLOW_DISSECTOR: SK_BUFF,
    _P.XDP: XDP_MD,
    _P.KPROBE: PT_REGS,
    _P.PERF_EVENT: BPF_PERF_EVENT_DATA,
    _P.TRACEPOINT: TRACE_EVENT_RAW_SYS_ENTER,
    _P.RAW_TRACEPOINT: BPF_RAW_TRACEPOINT_ARGS,
    _P.RAW_TRACEPOINT_WRITABLE: BPF_RAW_TRACEPOINT_WRITABLE_ARGS,
    _P.NETFILTER: BPF_NF_CTX,
    _P.SYSCALL: SYSCALL_CTX,
    _P.CGROUP_SOCK: BPF_SOCK,
    _P.CGROUP_SOCK_ADDR: BPF_SOCK_ADDR,
    _P.SOCK_OPS: BPF_SOCK_OPS,
    _P.SK_MSG: SK_MSG_MD,
    _P.CGROUP_SYSCTL: BPF_SYSCTL,
    _P.CGROUP_SOCKOPT: BPF_SOCKOPT,
    _P.SK_LOOKUP: BPF_SK_LOOKUP,
    _P.CGROUP_DEVICE: BPF_CGROUP_DEV_CTX,
    _P.SK_REUSEPORT: SK_REUSEPORT_MD,
}
"""Context struct per program type. TRACEPOINT records differ per tracepoint; sys_enter is the usual one.
FLOW_DISSECTOR sees __sk_buff too, but only data, data_end and flow_keys of it."""


BTF_CTX_ATTACH_TYPES: dict[ProgType, frozenset[AttachType]] = {
    _P.TRACING: frozenset({AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                           AttachType.MODIFY_RETURN, AttachType.TRACE_ITER}),
    _P.LSM: frozenset({AttachType.LSM_MAC}),
}
"""Program types with no fixed context struct: R1 points to the u64 arguments of the attach target's BTF prototype
(btf_ctx_access: tp_btf, fentry/fexit/fmod_ret, iterators' bpf_iter_<target>, LSM hooks' bpf_lsm_<hook>), with
the expected_attach_types modelled (LSM_CGROUP is not)."""


ITER_MAYBE_NULL, ITER_TRUSTED, ITER_BUF, ITER_RDONLY = "maybe_null", "trusted", "buf", "rdonly"
ITER_CTX_ARGS: dict[str, dict[int, frozenset[str]]] = {
    "task": {1: frozenset({ITER_MAYBE_NULL, ITER_TRUSTED})},
    "task_file": {1: frozenset({ITER_MAYBE_NULL}), 3: frozenset({ITER_MAYBE_NULL})},
    "task_vma": {1: frozenset({ITER_MAYBE_NULL}), 2: frozenset({ITER_MAYBE_NULL})},
    "bpf_map": {1: frozenset({ITER_MAYBE_NULL, ITER_TRUSTED})},
    "bpf_prog": {1: frozenset({ITER_MAYBE_NULL})},
    "bpf_link": {1: frozenset({ITER_MAYBE_NULL})},
    "cgroup": {1: frozenset({ITER_MAYBE_NULL, ITER_TRUSTED})},
    "bpf_map_elem": {2: frozenset({ITER_BUF, ITER_MAYBE_NULL, ITER_RDONLY}), 3: frozenset({ITER_BUF, ITER_MAYBE_NULL})},
    "sockmap": {2: frozenset({ITER_BUF, ITER_MAYBE_NULL, ITER_RDONLY}), 3: frozenset({ITER_MAYBE_NULL})},
    "bpf_sk_storage_map": {2: frozenset({ITER_MAYBE_NULL}), 3: frozenset({ITER_BUF, ITER_MAYBE_NULL})},
}
"""The iterator targets modelled (an iterator attaches to the FUNC bpf_iter_<target>, whose arguments are the
members of struct bpf_iter__<target>, one u64 slot each), with their bpf_iter_reg.ctx_arg_info (kernel/bpf/*_iter.c,
linux 6.12): argument index -> the register type the kernel gives it instead of btf_ctx_access's default:
PTR_TO_BTF_ID_OR_NULL (trusted for some), or for a map's key and value PTR_TO_BUF_OR_NULL (read-only for keys; how
far the program reads is checked against the map when the iterator is attached, not at load). Other targets (tcp,
udp, unix, netlink, ipv6_route, ksym, kmem_cache, ...) are not modelled: verify() refuses them as such."""


FMODRET_FUNCS: dict[str, bool] = {"bpf_modify_return_test": False, "bpf_modify_return_test2": False,
                                  "bpf_modify_return_test_tp": False, "bpf_fentry_test1": True,
                                  "update_socket_protocol": False}
"""register_btf_fmodret_id_set() sets (net/bpf/test_run.c, net/mptcp/bpf.c): functions fmod_ret may modify whatever
the error-injection list says; True: KF_SLEEPABLE, so sleepable fentry/fexit/fmod_ret may attach to them too."""
NON_SLEEPABLE_ERROR_INJECT = frozenset({"__filemap_add_folio", "should_fail_alloc_page", "should_failslab"})
"""btf_non_sleepable_error_inject: on the error-injection list, but no sleepable program may attach to them."""
TRACING_DENY = frozenset({"migrate_disable", "migrate_enable", "rcu_read_unlock_strict", "preempt_count_add",
                          "preempt_count_sub", "__rcu_read_lock", "__rcu_read_unlock"})
"""btf_id_deny: functions no fentry/fexit/fmod_ret program may attach to (EINVAL, no log line)."""
NORETURN_DENY = frozenset({"__ia32_sys_exit", "__ia32_sys_exit_group", "__kunit_abort", "kunit_try_catch_throw",
                           "__module_put_and_kthread_exit", "__x64_sys_exit", "__x64_sys_exit_group", "do_exit",
                           "do_group_exit", "kthread_complete_and_exit", "kthread_exit", "make_task_dead"})
"""noreturn_deny: __noreturn functions fexit/fmod_ret may not attach to."""
SECURITY_PREFIX = "security_"
"""check_attach_modify_return(): security_* functions are modifiable by fmod_ret."""


#: bpf_sock fields that allow narrow (1/2-byte) loads (bpf_sock_is_valid_access's first case group)
_SOCK_NARROW = ("state", "family", "type", "protocol", "src_port", "rx_queue_mapping")
#: ... of which these are bpf_ctx_range()s (narrow loads anywhere inside); the others are `case offsetof(...)`
_SOCK_NARROW_RANGE = ("src_ip4", "src_ip6", "dst_ip4", "dst_ip6")
#: bpf_sock_common_is_valid_access: a sock_common has no type..priority
_SOCK_COMMON_DENY = ("type", "protocol", "mark", "priority")


def _bpf_sock_is_valid_access(off: int, size: int) -> bool:
    if off < 0 or off >= BPF_SOCK.size or off % size:
        return False
    f = BPF_SOCK.field_at(off)
    if f is None:
        return False  # the padding after dst_port
    base = f.name.split("[")[0]
    if base in _SOCK_NARROW_RANGE or (base in _SOCK_NARROW and off == f.offset):
        return _narrow_ok(size, 4)
    if base == "dst_port":
        return _narrow_ok(size, 4 if size == 4 else 2)
    return size == 4


def _fixed_sizes_access(layout: ContextLayout, off: int, size: int) -> bool:
    """bpf_tcp_sock/xdp_sock_is_valid_access: aligned whole-field loads only."""
    if off < 0 or off >= layout.size or off % size:
        return False
    f = layout.field_at(off)
    return f is not None and size == f.size


def sock_access_ok(kind: str, off: int, size: int) -> bool:
    """check_sock_access(): may a load of `size` bytes at `off` read a socket of `kind` ('sock', 'sock_common',
    'tcp_sock', 'xdp_sock')? Socket pointers are never writable."""
    if kind == "sock":
        return _bpf_sock_is_valid_access(off, size)
    if kind == "sock_common":
        f = BPF_SOCK.field_at(off) if 0 <= off < BPF_SOCK.size else None
        return not (f is not None and f.name in _SOCK_COMMON_DENY) and _bpf_sock_is_valid_access(off, size)
    if kind == "tcp_sock":
        return _fixed_sizes_access(BPF_TCP_SOCK, off, size)
    if kind == "xdp_sock":
        return _fixed_sizes_access(BPF_XDP_SOCK, off, size)
    return False


# --- access rules ---------------------------------------------------------------------------------------------

_SIZE_DEFAULT = 4  # size_default in bpf_skb_is_valid_access: __sk_buff fields are __u32


def _narrow_ok(size: int, field_size: int) -> bool:
    """bpf_ctx_narrow_access_ok(): loads of a power-of-two size up to the field's size."""
    return size <= field_size and size & (size - 1) == 0


def _skb_field(off: int) -> CtxField | None:
    return SK_BUFF.field_at(off)


def _in(off: int, *names: str) -> bool:
    """True if `off` falls in one of the named __sk_buff fields ('cb' / 'remote_ip6' match all elements)."""
    f = _skb_field(off)
    if f is None:
        return False
    base = f.name.split("[")[0]
    return f.name in names or base in names


def _bpf_skb_is_valid_access(off: int, size: int, write: bool) -> bool:
    """Common __sk_buff rules (bpf_skb_is_valid_access)."""
    if off < 0 or off >= SK_BUFF.size or off % size:
        return False
    if _in(off, "cb"):
        return off + size <= SK_BUFF["cb[4]"].end
    if _in(off, "remote_ip6", "local_ip6", "remote_ip4", "local_ip4", "data", "data_meta", "data_end"):
        return size == _SIZE_DEFAULT
    if _in(off, "flow_keys", "tstamp_type", "__pad"):
        return False
    if _in(off, "hwtstamp"):
        return not write and size == 8
    if _in(off, "tstamp"):
        return size == 8
    if _in(off, "sk"):  # bpf_ctx_range_ptr(): only the full pointer load is allowed
        return off == SK_BUFF["sk"].offset and not write and size == 8
    if write:
        return size == _SIZE_DEFAULT
    return _narrow_ok(size, _SIZE_DEFAULT)


_SK_FILTER_DENY = ("tc_classid", "data", "data_meta", "data_end", "family", "remote_ip4", "local_ip4",
                   "remote_ip6", "local_ip6", "remote_port", "local_port", "tstamp", "wire_len", "hwtstamp")
"""Fields sk_filter_is_valid_access() refuses outright (family..local_port is bpf_ctx_range_till)."""
_SK_LOOKUP_FIELDS = ("family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port")
_CG_SKB_DENY = ("tc_classid", "data_meta", "wire_len")
_CG_SKB_PRIV_ONLY = ("data", "data_end")
_CG_SKB_WRITE = ("mark", "priority", "cb")
_TC_WRITE = ("mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping")


def _sk_filter_access(off: int, size: int, write: bool, privileged: bool) -> bool:
    if _in(off, *_SK_FILTER_DENY):
        return False
    if write and not _in(off, "cb"):
        return False
    return _bpf_skb_is_valid_access(off, size, write)


def _cg_skb_access(off: int, size: int, write: bool, privileged: bool) -> bool:
    if _in(off, *_CG_SKB_DENY):
        return False
    if _in(off, *_CG_SKB_PRIV_ONLY) and not privileged:
        return False
    if write and not (_in(off, *_CG_SKB_WRITE) or (_in(off, "tstamp") and privileged)):
        return False
    return _bpf_skb_is_valid_access(off, size, write)


def _tc_access(off: int, size: int, write: bool, privileged: bool) -> bool:
    if write and not _in(off, *_TC_WRITE):
        return False
    if _in(off, *_SK_LOOKUP_FIELDS):
        return False
    if off == SK_BUFF["tstamp_type"].offset:
        return size == 1
    return _bpf_skb_is_valid_access(off, size, write)


def _xdp_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    if off == XDP_MD["egress_ifindex"].offset and attach != AttachType.XDP_DEVMAP:
        return False
    if write:  # only dev-bound (offloaded) programs may write rx_queue_index; we never load those
        return False
    return 0 <= off < XDP_MD.size and off % size == 0 and size == 4


def _kprobe_access(off: int, size: int, write: bool) -> bool:
    return 0 <= off < PT_REGS.size and off % size == 0 and off + size <= PT_REGS.size and not write


def _tp_access(off: int, size: int, write: bool) -> bool:
    """tp_prog_is_valid_access(). Its `off < sizeof(void *)` compares as unsigned, so the kernel lets negative
    offsets through; we mirror that quirk rather than be stricter than the kernel."""
    lower_ok = off < 0 or off >= TRACE_ENTRY_SIZE
    return lower_ok and off < PERF_MAX_TRACE_SIZE and not write and off % size == 0


def _raw_tp_access(off: int, size: int, write: bool) -> bool:
    """bpf_tracing_ctx_access(): read-only, aligned, within MAX_BPF_FUNC_ARGS u64 slots."""
    return 0 <= off < 8 * MAX_BPF_FUNC_ARGS and not write and off % size == 0


def _raw_tp_writable_access(off: int, size: int, write: bool) -> bool:
    """raw_tp_writable_prog_is_valid_access(): args[0] (the buffer pointer) is a u64 read; the rest as raw_tp."""
    if off == 0 and (size != 8 or write):
        return False
    return _raw_tp_access(off, size, write)


def _nf_access(off: int, size: int, write: bool) -> bool:
    """nf_is_valid_access(): read-only, the two pointers as whole u64 loads."""
    if off < 0 or off >= BPF_NF_CTX.size or off % size or write:
        return False
    f = BPF_NF_CTX.field_at(off)
    return f is not None and size == f.size


def _syscall_access(off: int, size: int, write: bool) -> bool:
    """syscall_prog_is_valid_access(): any aligned read or write below U16_MAX (there is no ctx conversion)."""
    return 0 <= off < SYSCALL_CTX_MAX and off % size == 0


def _pe_access(off: int, size: int, write: bool) -> bool:
    if off < 0 or off >= BPF_PERF_EVENT_DATA.size or write or off % size:
        return False
    if off >= PT_REGS.size:  # sample_period, addr: narrow loads allowed
        return _narrow_ok(size, 8)
    return size == 8


_LWT_DENY = ("tc_classid", *_SK_LOOKUP_FIELDS, "data_meta", "tstamp", "wire_len", "hwtstamp")
_LWT_WRITE = ("mark", "priority", "cb")
_SK_SKB_DENY = ("tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "mark")
_SK_SKB_WRITE = ("tc_index", "priority")


def _lwt_access(off: int, size: int, write: bool, privileged: bool) -> bool:
    """lwt_is_valid_access() (LWT_IN/OUT/XMIT/SEG6LOCAL)."""
    if _in(off, *_LWT_DENY) or (write and not _in(off, *_LWT_WRITE)):
        return False
    return _bpf_skb_is_valid_access(off, size, write)


def _sk_skb_access(off: int, size: int, write: bool, privileged: bool) -> bool:
    """sk_skb_is_valid_access(): mark is unreadable, tc_index and priority writable."""
    if _in(off, *_SK_SKB_DENY) or (write and not _in(off, *_SK_SKB_WRITE)):
        return False
    return _bpf_skb_is_valid_access(off, size, write)


def _flow_dissector_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """flow_dissector_is_valid_access(): data, data_end (u32) and the flow_keys pointer, read-only."""
    if off < 0 or off >= SK_BUFF.size or off % size or write:
        return False
    if _in(off, "data", "data_end"):
        return size == _SIZE_DEFAULT
    return _in(off, "flow_keys") and size == 8


_SOCK_CREATE_RELEASE = frozenset({AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET_SOCK_RELEASE})
_POST_BIND = {"src_ip4": frozenset({AttachType.CGROUP_INET4_POST_BIND}),
              "src_ip6": frozenset({AttachType.CGROUP_INET6_POST_BIND}),
              "src_port": frozenset({AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND})}


def _cg_sock_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sock_filter_is_valid_access(): bpf_sock_is_valid_access, then __sock_filter_check_attach_type()."""
    if not _bpf_sock_is_valid_access(off, size):
        return False
    attach = effective_attach_type(_P.CGROUP_SOCK, attach)
    if off in (BPF_SOCK["bound_dev_if"].offset, BPF_SOCK["mark"].offset, BPF_SOCK["priority"].offset):
        return attach in _SOCK_CREATE_RELEASE
    f = BPF_SOCK.field_at(off)
    base = f.name.split("[")[0] if f is not None else ""
    if base in _POST_BIND and attach not in _POST_BIND[base]:
        return False
    return not write


_A = AttachType
_SOCK_ADDR_FAMILY = {
    "user_ip4": frozenset({_A.CGROUP_INET4_BIND, _A.CGROUP_INET4_CONNECT, _A.CGROUP_INET4_GETPEERNAME,
                           _A.CGROUP_INET4_GETSOCKNAME, _A.CGROUP_UDP4_SENDMSG, _A.CGROUP_UDP4_RECVMSG}),
    "user_ip6": frozenset({_A.CGROUP_INET6_BIND, _A.CGROUP_INET6_CONNECT, _A.CGROUP_INET6_GETPEERNAME,
                           _A.CGROUP_INET6_GETSOCKNAME, _A.CGROUP_UDP6_SENDMSG, _A.CGROUP_UDP6_RECVMSG}),
    "msg_src_ip4": frozenset({_A.CGROUP_UDP4_SENDMSG}),
    "msg_src_ip6": frozenset({_A.CGROUP_UDP6_SENDMSG}),
}
"""sock_addr_is_valid_access(): address fields exist only for the attach types of their family."""
_SOCK_ADDR_RW = ("user_ip4", "user_ip6", "msg_src_ip4", "msg_src_ip6", "user_port")
_SOCK_ADDR_RO = ("user_family", "family", "type", "protocol")


def _wide_ok(layout: ContextLayout, off: int, size: int, field: str) -> bool:
    """bpf_ctx_wide_access_ok(): an aligned u64 access inside a u32 array field."""
    first, last = layout[f"{field}[0]"], layout[f"{field}[3]"]
    return size == 8 and off % 8 == 0 and first.offset <= off and off + 8 <= last.end


def _sock_addr_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    if off < 0 or off >= BPF_SOCK_ADDR.size or off % size:
        return False
    f = BPF_SOCK_ADDR.field_at(off)
    base = f.name.split("[")[0] if f is not None else ""
    if base in _SOCK_ADDR_FAMILY and attach not in _SOCK_ADDR_FAMILY[base]:
        return False
    if base in _SOCK_ADDR_RW:
        if _wide_ok(BPF_SOCK_ADDR, off, size, "user_ip6") or _wide_ok(BPF_SOCK_ADDR, off, size, "msg_src_ip6"):
            return True
        return size == _SIZE_DEFAULT if write else _narrow_ok(size, _SIZE_DEFAULT)
    if base == "sk":
        return not write and size == 8
    if base in _SOCK_ADDR_RO:
        return not write and size == _SIZE_DEFAULT
    return False


def _sock_ops_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sock_ops_is_valid_access(): reply and sk_txhash writable (u32), u64 counters, three pointers."""
    if off < 0 or off >= BPF_SOCK_OPS.size or off % size:
        return False
    f = BPF_SOCK_OPS.field_at(off)
    if write:
        return f is not None and f.name in ("reply", "sk_txhash") and off == f.offset and size == _SIZE_DEFAULT
    if f is not None and f.name == "skb_tcp_flags" and off == f.offset:
        return _narrow_ok(size, _SIZE_DEFAULT)
    if f is not None and f.size == 8:
        return size == 8
    return size == _SIZE_DEFAULT


def _sk_msg_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sk_msg_is_valid_access(): read-only; the three pointers u64, the rest u32."""
    if write or off < 0 or off >= SK_MSG_MD.size or off % size:
        return False
    f = SK_MSG_MD.field_at(off)
    return f is not None and size == f.size


def _sysctl_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sysctl_is_valid_access(): write is read-only (narrow loads ok); file_pos also takes u32 stores."""
    if off < 0 or off + size > BPF_SYSCTL.size or off % size:
        return False
    if write:
        return BPF_SYSCTL["file_pos"].contains(off) and size == _SIZE_DEFAULT
    return _narrow_ok(size, _SIZE_DEFAULT)


_SOCKOPT_WRITE = {"retval": AttachType.CGROUP_GETSOCKOPT, "optname": AttachType.CGROUP_SETSOCKOPT,
                  "level": AttachType.CGROUP_SETSOCKOPT, "optlen": None}
"""cg_sockopt_is_valid_access(): which hook may store to which field (None: both)."""


def _sockopt_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    if off < 0 or off >= BPF_SOCKOPT.size or off % size:
        return False
    f = BPF_SOCKOPT.field_at(off)
    if write:
        if f is None or off != f.offset or f.name not in _SOCKOPT_WRITE or size != _SIZE_DEFAULT:
            return False
        need = _SOCKOPT_WRITE[f.name]
        return need is None or attach == need
    if f is not None and f.size == 8:
        return size == 8
    if f is not None and f.name == "retval":
        return size == _SIZE_DEFAULT and attach == AttachType.CGROUP_GETSOCKOPT
    return size == _SIZE_DEFAULT



def _sk_lookup_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sk_lookup_is_valid_access(): read-only; u32 fields narrow, remote_port u16 (or u32), its padding u16."""
    if write or off < 0 or off >= BPF_SK_LOOKUP.size or off % size:
        return False
    f = BPF_SK_LOOKUP.field_at(off)
    if f is None:
        return False
    if f.name == "sk":
        return size == 8
    if f.name == "remote_port":
        return size == 4 or _narrow_ok(size, 2)
    if f.name == "__pad":
        return _narrow_ok(size, 2)
    return _narrow_ok(size, _SIZE_DEFAULT)


def _cgroup_dev_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """cgroup_dev_is_valid_access(): read-only; access_type allows narrow loads, major/minor u32 only."""
    if write or off < 0 or off + size > BPF_CGROUP_DEV_CTX.size or off % size:
        return False
    if BPF_CGROUP_DEV_CTX["access_type"].contains(off):
        return _narrow_ok(size, _SIZE_DEFAULT)
    return size == _SIZE_DEFAULT



def _sk_reuseport_access(off: int, size: int, write: bool, attach: AttachType | None) -> bool:
    """sk_reuseport_is_valid_access(): read-only; pointers and hash at their exact offsets, len/ip_protocol/
    bind_inany narrow, eth_protocol narrow down to skb->protocol's 2 bytes."""
    if write or off < 0 or off >= SK_REUSEPORT_MD.size or off % size:
        return False
    f = SK_REUSEPORT_MD.field_at(off)
    if f is None or f.kind == FieldKind.PADDING:
        return False
    if f.size == 8 or f.name == "hash":
        return off == f.offset and size == f.size
    if f.name == "eth_protocol" and size < 2:
        return False
    return _narrow_ok(size, _SIZE_DEFAULT)


_SKB_RULES = {
    _P.SOCKET_FILTER: _sk_filter_access,
    _P.SCHED_CLS: _tc_access,
    _P.SCHED_ACT: _tc_access,
    _P.CGROUP_SKB: _cg_skb_access,
    **{pt: _lwt_access for pt in (_P.LWT_IN, _P.LWT_OUT, _P.LWT_XMIT, _P.LWT_SEG6LOCAL)},
    _P.SK_SKB: _sk_skb_access,
}
"""__sk_buff program types: rule(off, size, write, privileged)."""

_ATTACH_RULES = {
    _P.XDP: _xdp_access,
    _P.FLOW_DISSECTOR: _flow_dissector_access,
    _P.CGROUP_SOCK: _cg_sock_access,
    _P.CGROUP_SOCK_ADDR: _sock_addr_access,
    _P.SOCK_OPS: _sock_ops_access,
    _P.SK_MSG: _sk_msg_access,
    _P.CGROUP_SYSCTL: _sysctl_access,
    _P.CGROUP_SOCKOPT: _sockopt_access,
    _P.SK_LOOKUP: _sk_lookup_access,
    _P.CGROUP_DEVICE: _cgroup_dev_access,
    _P.SK_REUSEPORT: _sk_reuseport_access,
}
"""Program types whose rule depends on expected_attach_type: rule(off, size, write, attach)."""

_SIMPLE_RULES = {
    _P.KPROBE: _kprobe_access,
    _P.TRACEPOINT: _tp_access,
    _P.RAW_TRACEPOINT: _raw_tp_access,
    _P.RAW_TRACEPOINT_WRITABLE: _raw_tp_writable_access,
    _P.PERF_EVENT: _pe_access,
    _P.NETFILTER: _nf_access,
    _P.SYSCALL: _syscall_access,
}

_VALID_SIZES = frozenset({1, 2, 4, 8})


def ctx_access_ok(prog_type: ProgType, off: int, size: int, write: bool, *,
                  attach_type: AttachType | None = None,
                  privileged: bool = True) -> tuple[bool, CtxField | None]:
    """Would the verifier accept a `size`-byte load (or store, if `write`) at ctx+`off`?

    Returns (ok, field) where field is the context member at `off` (None if outside the layout); its `kind`
    tells which register type the load produces (packet pointers etc.). `privileged` stands for
    bpf_capable(), which gates cgroup_skb data/data_end/tstamp access. Raises ValueError for program types
    without a modelled rule.
    """
    pt = ProgType(prog_type)
    layout = CONTEXTS.get(pt)
    field = layout.field_at(off) if layout is not None and off >= 0 else None
    if size not in _VALID_SIZES:
        return False, field
    if pt in _SKB_RULES:
        ok = _SKB_RULES[pt](off, size, write, privileged)
    elif pt in _ATTACH_RULES:
        ok = _ATTACH_RULES[pt](off, size, write, attach_type)
    elif pt in _SIMPLE_RULES:
        ok = _SIMPLE_RULES[pt](off, size, write)
    else:
        raise ValueError(f"no context access rule for program type {pt.name}")
    return ok, field


# --- return values --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnRange:
    """Inclusive range check_return_code() enforces on R0 at program exit (on its low 32 bits when `bits32`:
    retval_range_within() with return_32bit, as for LSM hooks returning int)."""

    min: int
    max: int
    bits32: bool = False

    def __contains__(self, value: int) -> bool:
        return self.min <= value <= self.max


RETURN_RANGES: dict[ProgType, ReturnRange | None] = {
    _P.SOCKET_FILTER: None,
    _P.SCHED_CLS: None,
    _P.SCHED_ACT: None,
    _P.XDP: None,
    _P.KPROBE: None,  # [0, 1] only for BPF_TRACE_KPROBE_SESSION / UPROBE_SESSION
    _P.TRACEPOINT: None,
    _P.RAW_TRACEPOINT: None,
    _P.RAW_TRACEPOINT_WRITABLE: None,
    _P.SYSCALL: None,
    _P.PERF_EVENT: None,
    _P.CGROUP_SKB: ReturnRange(0, 1),  # [0, 3] when attached BPF_CGROUP_INET_EGRESS (congestion notification)
    _P.CGROUP_SOCK: ReturnRange(0, 1),
    _P.CGROUP_DEVICE: ReturnRange(0, 1),
    _P.CGROUP_SYSCTL: ReturnRange(0, 1),
    _P.CGROUP_SOCKOPT: ReturnRange(0, 1),
    _P.CGROUP_SOCK_ADDR: ReturnRange(0, 1),  # [1, 1] for recvmsg/getpeername/getsockname, [0, 3] for bind
    _P.SOCK_OPS: ReturnRange(0, 1),
    _P.SK_LOOKUP: ReturnRange(0, 1),  # SK_DROP..SK_PASS
    _P.SK_SKB: None,
    _P.SK_MSG: None,
    _P.FLOW_DISSECTOR: None,
    _P.LWT_IN: None,
    _P.LWT_OUT: None,
    _P.LWT_XMIT: None,
    _P.LWT_SEG6LOCAL: None,
    _P.SK_REUSEPORT: None,
    _P.NETFILTER: ReturnRange(0, 1),  # NF_DROP..NF_ACCEPT
    _P.TRACING: None,  # tp_btf and fmod_ret: unchecked; fentry/fexit: [0, 0], iterators [0, 1] (_ATTACH_RANGES)
    _P.LSM: None,  # per hook: lsm_return_range()
}
"""R0 range enforced at exit per program type; None means the verifier only requires R0 to be initialized."""

_ATTACH_RANGES: dict[tuple[ProgType, AttachType], ReturnRange] = {
    (_P.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS): ReturnRange(0, 3),
    (_P.TRACING, AttachType.TRACE_FENTRY): ReturnRange(0, 0),
    (_P.TRACING, AttachType.TRACE_FEXIT): ReturnRange(0, 0),
    (_P.TRACING, AttachType.TRACE_ITER): ReturnRange(0, 1),
    (_P.KPROBE, AttachType.TRACE_KPROBE_SESSION): ReturnRange(0, 1),
    (_P.KPROBE, AttachType.TRACE_UPROBE_SESSION): ReturnRange(0, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND): ReturnRange(0, 3),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND): ReturnRange(0, 3),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_RECVMSG): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_RECVMSG): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_RECVMSG): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETPEERNAME): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETPEERNAME): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETPEERNAME): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETSOCKNAME): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETSOCKNAME): ReturnRange(1, 1),
    (_P.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETSOCKNAME): ReturnRange(1, 1),
}
"""Attach-type specific overrides of RETURN_RANGES (check_return_code's switch on expected_attach_type)."""


def lsm_return_range(hook: str, returns_void: bool, attach_type: AttachType | None = None) -> ReturnRange | None:
    """check_return_code() for an LSM program on `hook` (its name without bpf_lsm_): void hooks are unchecked
    (BPF_LSM_CGROUP: must return 1), bool hooks [0, 1], the other int hooks [-MAX_ERRNO, 0] (BPF_LSM_CGROUP: [0, 1]),
    both compared on the low 32 bits (bpf_lsm_get_retval_range)."""
    if attach_type == AttachType.LSM_CGROUP:
        return ReturnRange(1, 1) if returns_void else ReturnRange(0, 1)
    if returns_void:
        return None
    if hook in LSM_BOOL_HOOKS:
        return ReturnRange(0, 1, bits32=True)
    return ReturnRange(-MAX_ERRNO, 0, bits32=True)


def return_range(prog_type: ProgType, attach_type: AttachType | None = None, *, hook: str | None = None,
                 returns_void: bool = False) -> ReturnRange | None:
    """The R0 range the verifier enforces for this program/attach type (None: unchecked). LSM programs need the
    `hook` they attach to and whether it `returns_void`."""
    pt = ProgType(prog_type)
    if pt == _P.LSM:
        return lsm_return_range(hook or "", returns_void, attach_type)
    if attach_type is not None and (pt, AttachType(attach_type)) in _ATTACH_RANGES:
        return _ATTACH_RANGES[(pt, AttachType(attach_type))]
    return RETURN_RANGES.get(pt)
