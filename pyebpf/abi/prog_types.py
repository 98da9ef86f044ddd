"""BPF program types, attach types and libbpf's SEC() name table.

`ProgType` and `AttachType` carry the kernel's numbering (enum bpf_prog_type / enum bpf_attach_type of
uapi linux/bpf.h, read from the running 6.18 kernel's BTF). `SECTION_DEFS` mirrors libbpf's `section_defs[]`
(src/libbpf.c) so that an ELF section name maps to the program type the loader must pass to BPF_PROG_LOAD.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

__all__ = [
    "ProgType", "AttachType", "AttachKind", "SecFlag", "SectionDef", "SECTION_DEFS",
    "prog_type_for_section", "attach_kind", "split_section_target", "parse_prog_type", "PROG_TYPE_ALIASES",
    "VALID_ATTACH_TYPES", "DEFAULT_ATTACH_TYPES", "effective_attach_type", "attach_type_valid", "NO_ATTACH_TYPE",
    "PROG_TYPE_SINCE",
]


class ProgType(IntEnum):
    """enum bpf_prog_type: what kind of program BPF_PROG_LOAD is asked to verify."""

    UNSPEC = 0
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    LWT_SEG6LOCAL = 19
    LIRC_MODE2 = 20
    SK_REUSEPORT = 21
    FLOW_DISSECTOR = 22
    CGROUP_SYSCTL = 23
    RAW_TRACEPOINT_WRITABLE = 24
    CGROUP_SOCKOPT = 25
    TRACING = 26
    STRUCT_OPS = 27
    EXT = 28
    LSM = 29
    SK_LOOKUP = 30
    SYSCALL = 31
    NETFILTER = 32


class AttachType(IntEnum):
    """enum bpf_attach_type: the hook a program is (expected to be) attached to."""

    CGROUP_INET_INGRESS = 0
    CGROUP_INET_EGRESS = 1
    CGROUP_INET_SOCK_CREATE = 2
    CGROUP_SOCK_OPS = 3
    SK_SKB_STREAM_PARSER = 4
    SK_SKB_STREAM_VERDICT = 5
    CGROUP_DEVICE = 6
    SK_MSG_VERDICT = 7
    CGROUP_INET4_BIND = 8
    CGROUP_INET6_BIND = 9
    CGROUP_INET4_CONNECT = 10
    CGROUP_INET6_CONNECT = 11
    CGROUP_INET4_POST_BIND = 12
    CGROUP_INET6_POST_BIND = 13
    CGROUP_UDP4_SENDMSG = 14
    CGROUP_UDP6_SENDMSG = 15
    LIRC_MODE2 = 16
    FLOW_DISSECTOR = 17
    CGROUP_SYSCTL = 18
    CGROUP_UDP4_RECVMSG = 19
    CGROUP_UDP6_RECVMSG = 20
    CGROUP_GETSOCKOPT = 21
    CGROUP_SETSOCKOPT = 22
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    MODIFY_RETURN = 26
    LSM_MAC = 27
    TRACE_ITER = 28
    CGROUP_INET4_GETPEERNAME = 29
    CGROUP_INET6_GETPEERNAME = 30
    CGROUP_INET4_GETSOCKNAME = 31
    CGROUP_INET6_GETSOCKNAME = 32
    XDP_DEVMAP = 33
    CGROUP_INET_SOCK_RELEASE = 34
    XDP_CPUMAP = 35
    SK_LOOKUP = 36
    XDP = 37
    SK_SKB_VERDICT = 38
    SK_REUSEPORT_SELECT = 39
    SK_REUSEPORT_SELECT_OR_MIGRATE = 40
    PERF_EVENT = 41
    TRACE_KPROBE_MULTI = 42
    LSM_CGROUP = 43
    STRUCT_OPS = 44
    NETFILTER = 45
    TCX_INGRESS = 46
    TCX_EGRESS = 47
    TRACE_UPROBE_MULTI = 48
    CGROUP_UNIX_CONNECT = 49
    CGROUP_UNIX_SENDMSG = 50
    CGROUP_UNIX_RECVMSG = 51
    CGROUP_UNIX_GETPEERNAME = 52
    CGROUP_UNIX_GETSOCKNAME = 53
    NETKIT_PRIMARY = 54
    NETKIT_PEER = 55
    TRACE_KPROBE_SESSION = 56
    TRACE_UPROBE_SESSION = 57


_SOCK_ADDR_ATTACH = frozenset({
    AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND, AttachType.CGROUP_INET4_CONNECT,
    AttachType.CGROUP_INET6_CONNECT, AttachType.CGROUP_UNIX_CONNECT, AttachType.CGROUP_INET4_GETPEERNAME,
    AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_UNIX_GETPEERNAME, AttachType.CGROUP_INET4_GETSOCKNAME,
    AttachType.CGROUP_INET6_GETSOCKNAME, AttachType.CGROUP_UNIX_GETSOCKNAME, AttachType.CGROUP_UDP4_SENDMSG,
    AttachType.CGROUP_UDP6_SENDMSG, AttachType.CGROUP_UNIX_SENDMSG, AttachType.CGROUP_UDP4_RECVMSG,
    AttachType.CGROUP_UDP6_RECVMSG, AttachType.CGROUP_UNIX_RECVMSG})

VALID_ATTACH_TYPES: dict[ProgType, frozenset[AttachType]] = {
    ProgType.CGROUP_SOCK: frozenset({AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET_SOCK_RELEASE,
                                     AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND}),
    ProgType.CGROUP_SOCK_ADDR: _SOCK_ADDR_ATTACH,
    ProgType.CGROUP_SOCKOPT: frozenset({AttachType.CGROUP_SETSOCKOPT, AttachType.CGROUP_GETSOCKOPT}),
    ProgType.SK_LOOKUP: frozenset({AttachType.SK_LOOKUP}),
    ProgType.SK_REUSEPORT: frozenset({AttachType.SK_REUSEPORT_SELECT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE}),
    ProgType.CGROUP_SKB: frozenset({AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS}),
    ProgType.NETFILTER: frozenset({AttachType.NETFILTER}),
}
"""syscall.c bpf_prog_load_check_attach(): the expected_attach_type a program type must be loaded with (EINVAL
before the verifier runs otherwise); types not listed take any."""

PROG_TYPE_SINCE: dict[ProgType, tuple[int, int]] = {
    ProgType.NETFILTER: (6, 4), ProgType.SYSCALL: (5, 14),
}
"""The first release that knows a program type, for the types newer than the oldest release the verifier models
(5.10); an older kernel refuses BPF_PROG_LOAD of them with EINVAL before verifying."""

NO_ATTACH_TYPE: frozenset[ProgType] = frozenset({ProgType.SYSCALL, ProgType.EXT})
"""bpf_prog_load_check_attach(): these types must be loaded with an expected_attach_type of 0."""

DEFAULT_ATTACH_TYPES: dict[ProgType, AttachType] = {ProgType.CGROUP_SOCK: AttachType.CGROUP_INET_SOCK_CREATE,
                                                     ProgType.SK_REUSEPORT: AttachType.SK_REUSEPORT_SELECT}
"""syscall.c bpf_prog_load_fixup_attach_type(): an expected_attach_type of 0 stands for this one."""


def effective_attach_type(prog_type: ProgType, attach_type: "AttachType | int | None") -> AttachType | None:
    """The expected_attach_type the kernel works with: 0/None fixed up as bpf_prog_load_fixup_attach_type does."""
    if not attach_type and prog_type in DEFAULT_ATTACH_TYPES:
        return DEFAULT_ATTACH_TYPES[prog_type]
    return None if attach_type is None else AttachType(attach_type)


def attach_type_valid(prog_type: ProgType, attach_type: "AttachType | int | None") -> bool:
    """bpf_prog_load_check_attach() for the program types it restricts (after the 0 fix-up)."""
    if ProgType(prog_type) in NO_ATTACH_TYPE:
        return not attach_type
    allowed = VALID_ATTACH_TYPES.get(ProgType(prog_type))
    return allowed is None or effective_attach_type(prog_type, attach_type or 0) in allowed


class AttachKind(str, Enum):
    """How a program of a given section is attached: the key of the loader's ATTACHERS table
    (pyebpf.loader.attach.table), as libbpf's section_defs[] rows carry an attach callback."""

    NONE = "none"  # loaded only; user attaches by hand (socket filters, tc classifiers, ...)
    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    KPROBE_MULTI = "kprobe_multi"
    KPROBE_SESSION = "kprobe_session"
    UPROBE = "uprobe"
    URETPROBE = "uretprobe"
    UPROBE_MULTI = "uprobe_multi"
    UPROBE_SESSION = "uprobe_session"
    KSYSCALL = "ksyscall"
    USDT = "usdt"
    TRACEPOINT = "tracepoint"
    RAW_TRACEPOINT = "raw_tracepoint"
    TRACE = "trace"  # fentry/fexit/fmod_ret/tp_btf via BPF_LINK_CREATE + BTF id
    LSM = "lsm"
    ITER = "iter"
    TCX = "tcx"
    NETKIT = "netkit"
    XDP = "xdp"
    CGROUP = "cgroup"
    SOCKMAP = "sockmap"
    NETNS = "netns"
    PERF_EVENT = "perf_event"
    STRUCT_OPS = "struct_ops"
    FREPLACE = "freplace"
    NETFILTER = "netfilter"


class SecFlag(str, Enum):
    """libbpf SEC_* flags that change how the program is loaded."""

    ATTACHABLE = "attachable"  # expected_attach_type must be passed at load
    ATTACHABLE_OPT = "attachable_opt"  # ... but the load is retried without it
    ATTACH_BTF = "attach_btf"  # needs attach_btf_id (the part after the '/')
    SLEEPABLE = "sleepable"  # BPF_F_SLEEPABLE
    XDP_FRAGS = "xdp_frags"  # BPF_F_XDP_HAS_FRAGS
    USDT = "usdt"


@dataclass(frozen=True)
class SectionDef:
    """One row of libbpf's section_defs: SEC() name -> program type, expected attach type, attach kind.

    `name` is written as in libbpf: a trailing '+' means "this name, or this name followed by '/...'"; without
    '+' the section name must match exactly.
    """

    name: str
    prog_type: ProgType
    attach_type: AttachType | None
    kind: AttachKind
    flags: frozenset[SecFlag] = frozenset()

    @property
    def is_prefix(self) -> bool:
        """True if the definition accepts a '/target' suffix."""
        return self.name.endswith("+")

    @property
    def base(self) -> str:
        """The name without libbpf's '+' marker."""
        return self.name[:-1] if self.is_prefix else self.name

    def matches(self, sec: str) -> bool:
        """libbpf sec_def_matches(): exact name, or for '+' entries also 'name/<anything>'."""
        if self.is_prefix:
            return sec == self.base or sec.startswith(self.base + "/")
        return sec == self.name

    def target(self, sec: str) -> str:
        """The attach target encoded after the '/' (kprobe function, tracepoint 'cat/name', ...); '' if none. A
        leading '?' (not auto-loaded, SEC("?tp_btf/x")) is not part of it."""
        sec = sec[1:] if sec.startswith("?") else sec
        if self.is_prefix and sec.startswith(self.base + "/"):
            return sec[len(self.base) + 1:]
        return ""


_P, _A, _K, _F = ProgType, AttachType, AttachKind, SecFlag


def _d(name: str, pt: ProgType, at: AttachType | None, kind: AttachKind, *flags: SecFlag) -> SectionDef:
    return SectionDef(name, pt, at, kind, frozenset(flags))


SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", _P.SOCKET_FILTER, None, _K.NONE),
    _d("sk_reuseport/migrate", _P.SK_REUSEPORT, _A.SK_REUSEPORT_SELECT_OR_MIGRATE, _K.NONE, _F.ATTACHABLE),
    _d("sk_reuseport", _P.SK_REUSEPORT, _A.SK_REUSEPORT_SELECT, _K.NONE, _F.ATTACHABLE),
    _d("kprobe+", _P.KPROBE, None, _K.KPROBE),
    _d("uprobe+", _P.KPROBE, None, _K.UPROBE),
    _d("uprobe.s+", _P.KPROBE, None, _K.UPROBE, _F.SLEEPABLE),
    _d("kretprobe+", _P.KPROBE, None, _K.KRETPROBE),
    _d("uretprobe+", _P.KPROBE, None, _K.URETPROBE),
    _d("uretprobe.s+", _P.KPROBE, None, _K.URETPROBE, _F.SLEEPABLE),
    _d("kprobe.multi+", _P.KPROBE, _A.TRACE_KPROBE_MULTI, _K.KPROBE_MULTI),
    _d("kretprobe.multi+", _P.KPROBE, _A.TRACE_KPROBE_MULTI, _K.KPROBE_MULTI),
    _d("kprobe.session+", _P.KPROBE, _A.TRACE_KPROBE_SESSION, _K.KPROBE_SESSION),
    _d("uprobe.multi+", _P.KPROBE, _A.TRACE_UPROBE_MULTI, _K.UPROBE_MULTI),
    _d("uretprobe.multi+", _P.KPROBE, _A.TRACE_UPROBE_MULTI, _K.UPROBE_MULTI),
    _d("uprobe.multi.s+", _P.KPROBE, _A.TRACE_UPROBE_MULTI, _K.UPROBE_MULTI, _F.SLEEPABLE),
    _d("uretprobe.multi.s+", _P.KPROBE, _A.TRACE_UPROBE_MULTI, _K.UPROBE_MULTI, _F.SLEEPABLE),
    _d("uprobe.session+", _P.KPROBE, _A.TRACE_UPROBE_SESSION, _K.UPROBE_SESSION),
    _d("uprobe.session.s+", _P.KPROBE, _A.TRACE_UPROBE_SESSION, _K.UPROBE_SESSION, _F.SLEEPABLE),
    _d("ksyscall+", _P.KPROBE, None, _K.KSYSCALL),
    _d("kretsyscall+", _P.KPROBE, None, _K.KSYSCALL),
    _d("usdt+", _P.KPROBE, None, _K.USDT, _F.USDT),
    _d("usdt.s+", _P.KPROBE, None, _K.USDT, _F.USDT, _F.SLEEPABLE),
    _d("tc/ingress", _P.SCHED_CLS, _A.TCX_INGRESS, _K.TCX),
    _d("tc/egress", _P.SCHED_CLS, _A.TCX_EGRESS, _K.TCX),
    _d("tcx/ingress", _P.SCHED_CLS, _A.TCX_INGRESS, _K.TCX),
    _d("tcx/egress", _P.SCHED_CLS, _A.TCX_EGRESS, _K.TCX),
    _d("netkit/primary", _P.SCHED_CLS, _A.NETKIT_PRIMARY, _K.NETKIT),
    _d("netkit/peer", _P.SCHED_CLS, _A.NETKIT_PEER, _K.NETKIT),
    _d("tc", _P.SCHED_CLS, None, _K.NONE),
    _d("classifier", _P.SCHED_CLS, None, _K.NONE),
    _d("action", _P.SCHED_ACT, None, _K.NONE),
    _d("tracepoint+", _P.TRACEPOINT, None, _K.TRACEPOINT),
    _d("tp+", _P.TRACEPOINT, None, _K.TRACEPOINT),
    _d("raw_tracepoint+", _P.RAW_TRACEPOINT, None, _K.RAW_TRACEPOINT),
    _d("raw_tp+", _P.RAW_TRACEPOINT, None, _K.RAW_TRACEPOINT),
    _d("raw_tracepoint.w+", _P.RAW_TRACEPOINT_WRITABLE, None, _K.RAW_TRACEPOINT),
    _d("raw_tp.w+", _P.RAW_TRACEPOINT_WRITABLE, None, _K.RAW_TRACEPOINT),
    _d("tp_btf+", _P.TRACING, _A.TRACE_RAW_TP, _K.TRACE, _F.ATTACH_BTF),
    _d("fentry+", _P.TRACING, _A.TRACE_FENTRY, _K.TRACE, _F.ATTACH_BTF),
    _d("fmod_ret+", _P.TRACING, _A.MODIFY_RETURN, _K.TRACE, _F.ATTACH_BTF),
    _d("fexit+", _P.TRACING, _A.TRACE_FEXIT, _K.TRACE, _F.ATTACH_BTF),
    _d("fentry.s+", _P.TRACING, _A.TRACE_FENTRY, _K.TRACE, _F.ATTACH_BTF, _F.SLEEPABLE),
    _d("fmod_ret.s+", _P.TRACING, _A.MODIFY_RETURN, _K.TRACE, _F.ATTACH_BTF, _F.SLEEPABLE),
    _d("fexit.s+", _P.TRACING, _A.TRACE_FEXIT, _K.TRACE, _F.ATTACH_BTF, _F.SLEEPABLE),
    _d("freplace+", _P.EXT, None, _K.FREPLACE, _F.ATTACH_BTF),
    _d("lsm+", _P.LSM, _A.LSM_MAC, _K.LSM, _F.ATTACH_BTF),
    _d("lsm.s+", _P.LSM, _A.LSM_MAC, _K.LSM, _F.ATTACH_BTF, _F.SLEEPABLE),
    _d("lsm_cgroup+", _P.LSM, _A.LSM_CGROUP, _K.CGROUP, _F.ATTACH_BTF),
    _d("iter+", _P.TRACING, _A.TRACE_ITER, _K.ITER, _F.ATTACH_BTF),
    _d("iter.s+", _P.TRACING, _A.TRACE_ITER, _K.ITER, _F.ATTACH_BTF, _F.SLEEPABLE),
    _d("syscall", _P.SYSCALL, None, _K.NONE, _F.SLEEPABLE),
    _d("xdp.frags/devmap", _P.XDP, _A.XDP_DEVMAP, _K.NONE, _F.XDP_FRAGS),
    _d("xdp/devmap", _P.XDP, _A.XDP_DEVMAP, _K.NONE, _F.ATTACHABLE),
    _d("xdp.frags/cpumap", _P.XDP, _A.XDP_CPUMAP, _K.NONE, _F.XDP_FRAGS),
    _d("xdp/cpumap", _P.XDP, _A.XDP_CPUMAP, _K.NONE, _F.ATTACHABLE),
    _d("xdp.frags", _P.XDP, _A.XDP, _K.XDP, _F.XDP_FRAGS),
    _d("xdp", _P.XDP, _A.XDP, _K.XDP, _F.ATTACHABLE_OPT),
    _d("perf_event", _P.PERF_EVENT, None, _K.PERF_EVENT),
    _d("lwt_in", _P.LWT_IN, None, _K.NONE),
    _d("lwt_out", _P.LWT_OUT, None, _K.NONE),
    _d("lwt_xmit", _P.LWT_XMIT, None, _K.NONE),
    _d("lwt_seg6local", _P.LWT_SEG6LOCAL, None, _K.NONE),
    _d("sockops", _P.SOCK_OPS, _A.CGROUP_SOCK_OPS, _K.CGROUP, _F.ATTACHABLE_OPT),
    _d("sk_skb/stream_parser", _P.SK_SKB, _A.SK_SKB_STREAM_PARSER, _K.SOCKMAP, _F.ATTACHABLE_OPT),
    _d("sk_skb/stream_verdict", _P.SK_SKB, _A.SK_SKB_STREAM_VERDICT, _K.SOCKMAP, _F.ATTACHABLE_OPT),
    _d("sk_skb/verdict", _P.SK_SKB, _A.SK_SKB_VERDICT, _K.SOCKMAP, _F.ATTACHABLE_OPT),
    _d("sk_skb", _P.SK_SKB, None, _K.SOCKMAP),
    _d("sk_msg", _P.SK_MSG, _A.SK_MSG_VERDICT, _K.SOCKMAP, _F.ATTACHABLE_OPT),
    _d("lirc_mode2", _P.LIRC_MODE2, _A.LIRC_MODE2, _K.NONE, _F.ATTACHABLE_OPT),
    _d("flow_dissector", _P.FLOW_DISSECTOR, _A.FLOW_DISSECTOR, _K.NETNS, _F.ATTACHABLE_OPT),
    _d("cgroup_skb/ingress", _P.CGROUP_SKB, _A.CGROUP_INET_INGRESS, _K.CGROUP, _F.ATTACHABLE_OPT),
    _d("cgroup_skb/egress", _P.CGROUP_SKB, _A.CGROUP_INET_EGRESS, _K.CGROUP, _F.ATTACHABLE_OPT),
    _d("cgroup/skb", _P.CGROUP_SKB, None, _K.CGROUP),
    _d("cgroup/sock_create", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_CREATE, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sock_release", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_RELEASE, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sock", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_CREATE, _K.CGROUP, _F.ATTACHABLE_OPT),
    _d("cgroup/post_bind4", _P.CGROUP_SOCK, _A.CGROUP_INET4_POST_BIND, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/post_bind6", _P.CGROUP_SOCK, _A.CGROUP_INET6_POST_BIND, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/bind4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_BIND, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/bind6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_BIND, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/connect4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_CONNECT, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/connect6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_CONNECT, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/connect_unix", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UNIX_CONNECT, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sendmsg4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP4_SENDMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sendmsg6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP6_SENDMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sendmsg_unix", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UNIX_SENDMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/recvmsg4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP4_RECVMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/recvmsg6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP6_RECVMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/recvmsg_unix", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UNIX_RECVMSG, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getpeername4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_GETPEERNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getpeername6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_GETPEERNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getpeername_unix", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UNIX_GETPEERNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getsockname4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_GETSOCKNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getsockname6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_GETSOCKNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getsockname_unix", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UNIX_GETSOCKNAME, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/sysctl", _P.CGROUP_SYSCTL, _A.CGROUP_SYSCTL, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/getsockopt", _P.CGROUP_SOCKOPT, _A.CGROUP_GETSOCKOPT, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/setsockopt", _P.CGROUP_SOCKOPT, _A.CGROUP_SETSOCKOPT, _K.CGROUP, _F.ATTACHABLE),
    _d("cgroup/dev", _P.CGROUP_DEVICE, _A.CGROUP_DEVICE, _K.CGROUP, _F.ATTACHABLE_OPT),
    _d("struct_ops+", _P.STRUCT_OPS, None, _K.STRUCT_OPS),
    _d("struct_ops.s+", _P.STRUCT_OPS, None, _K.STRUCT_OPS, _F.SLEEPABLE),
    _d("sk_lookup", _P.SK_LOOKUP, _A.SK_LOOKUP, _K.NETNS, _F.ATTACHABLE),
    _d("netfilter", _P.NETFILTER, _A.NETFILTER, _K.NETFILTER),
)
"""libbpf section_defs[] in libbpf's order; the first matching row wins."""

def prog_type_for_section(sec: str) -> SectionDef:
    """Resolve an ELF section name the way libbpf's find_sec_def() does; ValueError if nothing matches. A leading
    '?' (libbpf: the program is not auto-loaded, SEC("?raw_tp")) does not change the type."""
    sec = sec[1:] if sec.startswith("?") else sec
    for d in SECTION_DEFS:
        if d.matches(sec):
            return d
    raise ValueError(f"unknown BPF section name {sec!r}")


def attach_kind(prog_type: ProgType, expected_attach_type: AttachType | int | None = None,
                section: str | None = None) -> AttachKind:
    """How a program is attached: its SEC() row's kind when the section name is known, else that of the first row
    of its program type (and expected attach type, when given) that attaches at all (NONE if none does).

    A tc classifier built without a section gets TCX (the first SCHED_CLS row), an XDP program XDP, a devmap XDP
    program (expected attach type XDP_DEVMAP) NONE, as libbpf would for the matching SEC() names.
    """
    if section is not None:
        try:
            return prog_type_for_section(section).kind
        except ValueError:
            pass
    rows = [d for d in SECTION_DEFS if d.prog_type == prog_type]
    if expected_attach_type is not None:
        exact = [d for d in rows if d.attach_type is not None and d.attach_type == expected_attach_type]
        if exact:
            return exact[0].kind
    for d in rows:
        if d.kind != AttachKind.NONE:
            return d.kind
    return AttachKind.NONE


def split_section_target(prog_type: ProgType, target: str) -> tuple[AttachKind | None, str]:
    """A target written with its SEC() prefix ('kretprobe/do_exit', 'uprobe//bin/sh:main', 'tp/sched/x') ->
    (that row's kind, the rest), for rows of `prog_type` that take a '/target'; (None, target) otherwise."""
    for d in SECTION_DEFS:
        if d.is_prefix and d.prog_type == prog_type and target.startswith(d.base + "/"):
            return d.kind, target[len(d.base) + 1:]
    return None, target


PROG_TYPE_ALIASES: dict[str, ProgType] = {
    "socket": ProgType.SOCKET_FILTER,
    "socket_filter": ProgType.SOCKET_FILTER,
    "sk_filter": ProgType.SOCKET_FILTER,
    "filter": ProgType.SOCKET_FILTER,
    "kretprobe": ProgType.KPROBE,
    "uprobe": ProgType.KPROBE,
    "uretprobe": ProgType.KPROBE,
    "tc": ProgType.SCHED_CLS,
    "classifier": ProgType.SCHED_CLS,
    "cls": ProgType.SCHED_CLS,
    "tcx": ProgType.SCHED_CLS,
    "action": ProgType.SCHED_ACT,
    "act": ProgType.SCHED_ACT,
    "tp": ProgType.TRACEPOINT,
    "raw_tp": ProgType.RAW_TRACEPOINT,
    "raw_tracepoint.w": ProgType.RAW_TRACEPOINT_WRITABLE,
    "raw_tp.w": ProgType.RAW_TRACEPOINT_WRITABLE,
    "cgroup_skb": ProgType.CGROUP_SKB,
    "cgroup/skb": ProgType.CGROUP_SKB,
    "cgroup_sock": ProgType.CGROUP_SOCK,
    "cgroup_sock_addr": ProgType.CGROUP_SOCK_ADDR,
    "cgroup_device": ProgType.CGROUP_DEVICE,
    "cgroup_dev": ProgType.CGROUP_DEVICE,
    "cgroup_sysctl": ProgType.CGROUP_SYSCTL,
    "cgroup_sockopt": ProgType.CGROUP_SOCKOPT,
    "sockops": ProgType.SOCK_OPS,
    "perf": ProgType.PERF_EVENT,
    "fentry": ProgType.TRACING,
    "fexit": ProgType.TRACING,
    "tp_btf": ProgType.TRACING,
    "iter": ProgType.TRACING,
    "freplace": ProgType.EXT,
    "lsm": ProgType.LSM,
    "lsm.s": ProgType.LSM,
    "nf": ProgType.NETFILTER,
    "struct_ops": ProgType.STRUCT_OPS,
}
"""Common short names (bpftool / libbpf section spellings) beyond the enum member names themselves."""


def parse_prog_type(name: str) -> ProgType:
    """Parse 'xdp', 'SCHED_CLS', 'BPF_PROG_TYPE_KPROBE', 'tc', 'raw_tp', '6', ... into a ProgType."""
    key = name.strip()
    if key.isdigit():
        return ProgType(int(key))
    low = key.lower().replace("-", "_")
    if low.startswith("bpf_prog_type_"):
        low = low[len("bpf_prog_type_"):]
    if low in PROG_TYPE_ALIASES:
        return PROG_TYPE_ALIASES[low]
    try:
        return ProgType[low.upper()]
    except KeyError:
        raise ValueError(f"unknown BPF program type {name!r}") from None
