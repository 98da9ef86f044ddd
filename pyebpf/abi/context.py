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

from pyebpf.abi.prog_kinds import RAW_TRACEPOINT_TYPES, SKB_CONTEXT_TYPES, TC_TYPES
from pyebpf.abi.prog_types import AttachType, ProgType

__all__ = [
    "FieldKind", "CtxField", "ContextLayout", "SK_BUFF", "XDP_MD", "PT_REGS", "BPF_PERF_EVENT_DATA",
    "TRACE_EVENT_RAW_SYS_ENTER", "TRACE_EVENT_RAW_SYS_EXIT", "BPF_RAW_TRACEPOINT_ARGS", "CONTEXTS",
    "ctx_access_ok", "ReturnRange", "RETURN_RANGES", "return_range", "MAX_BPF_FUNC_ARGS",
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
_SKB_ALL = frozenset({_P.SOCKET_FILTER, _P.SCHED_CLS, _P.SCHED_ACT, _P.CGROUP_SKB})


def _f(name: str, off: int, size: int, writable: frozenset[ProgType] = frozenset(),
       kind: FieldKind = FieldKind.SCALAR, readable: bool = True) -> CtxField:
    return CtxField(name, off, size, readable, writable, kind)


def _u32s(name: str, off: int, n: int, writable: frozenset[ProgType] = frozenset()) -> tuple[CtxField, ...]:
    return tuple(_f(f"{name}[{i}]", off + 4 * i, 4, writable) for i in range(n))


SK_BUFF = ContextLayout("__sk_buff", 192, (
    _f("len", 0, 4),
    _f("pkt_type", 4, 4),
    _f("mark", 8, 4, TC_TYPES | {_P.CGROUP_SKB}),
    _f("queue_mapping", 12, 4, TC_TYPES),
    _f("protocol", 16, 4),
    _f("vlan_present", 20, 4),
    _f("vlan_tci", 24, 4),
    _f("vlan_proto", 28, 4),
    _f("priority", 32, 4, TC_TYPES | {_P.CGROUP_SKB}),
    _f("ingress_ifindex", 36, 4),
    _f("ifindex", 40, 4),
    _f("tc_index", 44, 4, TC_TYPES),
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
    _f("flow_keys", 144, 8, kind=FieldKind.FLOW_KEYS, readable=False),
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

CONTEXTS: dict[ProgType, ContextLayout] = {
    **{pt: SK_BUFF for pt in sorted(SKB_CONTEXT_TYPES)},
    _P.XDP: XDP_MD,
    _P.KPROBE: PT_REGS,
    _P.PERF_EVENT: BPF_PERF_EVENT_DATA,
    _P.TRACEPOINT: TRACE_EVENT_RAW_SYS_ENTER,
    **{pt: BPF_RAW_TRACEPOINT_ARGS for pt in sorted(RAW_TRACEPOINT_TYPES)},
}
"""Context struct per program type. TRACEPOINT records differ per tracepoint; sys_enter is the usual one."""


BPF_SOCK = ContextLayout("bpf_sock", 80, (
    _f("bound_dev_if", 0, 4), _f("family", 4, 4), _f("type", 8, 4), _f("protocol", 12, 4), _f("mark", 16, 4),
    _f("priority", 20, 4), _f("src_ip4", 24, 4), *_u32s("src_ip6", 28, 4), _f("src_port", 44, 4),
    _f("dst_port", 48, 2), _f("dst_ip4", 52, 4), *_u32s("dst_ip6", 56, 4), _f("state", 72, 4),
    _f("rx_queue_mapping", 76, 4),
))
"""struct bpf_sock (uapi): what PTR_TO_SOCKET / PTR_TO_SOCK_COMMON point at; read-only."""

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

#: bpf_sock fields that allow narrow (1/2-byte) loads (bpf_sock_is_valid_access's first case group)
_SOCK_NARROW = ("state", "family", "type", "protocol", "src_port", "rx_queue_mapping", "src_ip4", "src_ip6",
                "dst_ip4", "dst_ip6")
#: bpf_sock_common_is_valid_access: a sock_common has no type..priority
_SOCK_COMMON_DENY = ("type", "protocol", "mark", "priority")


def _bpf_sock_is_valid_access(off: int, size: int) -> bool:
    if off < 0 or off >= BPF_SOCK.size or off % size:
        return False
    f = BPF_SOCK.field_at(off)
    if f is None:
        return False  # the padding after dst_port
    base = f.name.split("[")[0]
    if base in _SOCK_NARROW:
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


def _pe_access(off: int, size: int, write: bool) -> bool:
    if off < 0 or off >= BPF_PERF_EVENT_DATA.size or write or off % size:
        return False
    if off >= PT_REGS.size:  # sample_period, addr: narrow loads allowed
        return _narrow_ok(size, 8)
    return size == 8


_SKB_RULES = {
    _P.SOCKET_FILTER: _sk_filter_access,
    _P.SCHED_CLS: _tc_access,
    _P.SCHED_ACT: _tc_access,
    _P.CGROUP_SKB: _cg_skb_access,
}

_SIMPLE_RULES = {
    _P.KPROBE: _kprobe_access,
    _P.TRACEPOINT: _tp_access,
    _P.RAW_TRACEPOINT: _raw_tp_access,
    _P.PERF_EVENT: _pe_access,
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
    elif pt == _P.XDP:
        ok = _xdp_access(off, size, write, attach_type)
    elif pt in _SIMPLE_RULES:
        ok = _SIMPLE_RULES[pt](off, size, write)
    else:
        raise ValueError(f"no context access rule for program type {pt.name}")
    return ok, field


# --- return values --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnRange:
    """Inclusive range check_return_code() enforces on R0 at program exit."""

    min: int
    max: int

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
    _P.PERF_EVENT: None,
    _P.CGROUP_SKB: ReturnRange(0, 1),  # [0, 3] when attached BPF_CGROUP_INET_EGRESS (congestion notification)
    _P.CGROUP_SOCK: ReturnRange(0, 1),
    _P.CGROUP_DEVICE: ReturnRange(0, 1),
    _P.CGROUP_SYSCTL: ReturnRange(0, 1),
    _P.CGROUP_SOCKOPT: ReturnRange(0, 1),
    _P.CGROUP_SOCK_ADDR: ReturnRange(0, 1),  # [1, 1] for recvmsg/getpeername/getsockname hooks
    _P.SOCK_OPS: ReturnRange(0, 1),
    _P.SK_LOOKUP: ReturnRange(0, 1),  # SK_DROP..SK_PASS
    _P.NETFILTER: ReturnRange(0, 1),  # NF_DROP..NF_ACCEPT
    _P.TRACING: None,  # tp_btf and fmod_ret: unchecked; fentry/fexit: [0, 0] (_ATTACH_RANGES)
}
"""R0 range enforced at exit per program type; None means the verifier only requires R0 to be initialized."""

_ATTACH_RANGES: dict[tuple[ProgType, AttachType], ReturnRange] = {
    (_P.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS): ReturnRange(0, 3),
    (_P.TRACING, AttachType.TRACE_FENTRY): ReturnRange(0, 0),
    (_P.TRACING, AttachType.TRACE_FEXIT): ReturnRange(0, 0),
    (_P.KPROBE, AttachType.TRACE_KPROBE_SESSION): ReturnRange(0, 1),
    (_P.KPROBE, AttachType.TRACE_UPROBE_SESSION): ReturnRange(0, 1),
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


def return_range(prog_type: ProgType, attach_type: AttachType | None = None) -> ReturnRange | None:
    """The R0 range the verifier enforces for this program/attach type (None: unchecked)."""
    pt = ProgType(prog_type)
    if attach_type is not None and (pt, AttachType(attach_type)) in _ATTACH_RANGES:
        return _ATTACH_RANGES[(pt, AttachType(attach_type))]
    return RETURN_RANGES.get(pt)
