"""BPF helper functions: ids, verifier prototypes, and which program types may call them.

* `HelperId` is enum bpf_func_id (uapi linux/bpf.h ___BPF_FUNC_MAPPER), numbered as in the running 6.18 kernel.
* `HELPER_PROTOS` mirrors the kernel's `const struct bpf_func_proto` definitions (kernel/bpf/helpers.c,
  kernel/trace/bpf_trace.c, net/core/filter.c, ...). Argument/return types are modelled as the kernel does:
  a base type (`ArgType`/`RetType`) plus `TypeFlag` modifier bits (PTR_MAYBE_NULL, MEM_RDONLY, MEM_UNINIT, ...).
  Helpers whose prototype we have not transcribed map to None rather than to a guess.
* `helper_allowed()` mirrors the per-program-type `*_func_proto()` switches (bpf_base_func_proto,
  bpf_tracing_func_proto, kprobe/tp/raw_tp/pe_prog_func_proto, sk_filter/tc_cls_act/xdp/cg_skb_func_proto),
  including bpf_base_func_proto's CAP_BPF / CAP_PERFMON split. It was checked against a live 6.18 kernel by
  tests/abi/test_helpers_kernel.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from pyebpf.abi.prog_types import AttachType, ProgType, effective_attach_type

__all__ = [
    "HelperId", "ArgType", "RetType", "TypeFlag", "Arg", "Ret", "HelperProto", "HELPER_PROTOS",
    "HELPER_BY_NAME", "helper_allowed", "allowed_helpers", "HELPER_TABLE_PROG_TYPES", "CONFIG_DEPENDENT",
    "helper_name",
]


class HelperId(IntEnum):
    """enum bpf_func_id: the imm of a BPF_CALL (src_reg 0) instruction."""

    UNSPEC = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    PROBE_READ = 4
    KTIME_GET_NS = 5
    TRACE_PRINTK = 6
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    SKB_STORE_BYTES = 9
    L3_CSUM_REPLACE = 10
    L4_CSUM_REPLACE = 11
    TAIL_CALL = 12
    CLONE_REDIRECT = 13
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    GET_CGROUP_CLASSID = 17
    SKB_VLAN_PUSH = 18
    SKB_VLAN_POP = 19
    SKB_GET_TUNNEL_KEY = 20
    SKB_SET_TUNNEL_KEY = 21
    PERF_EVENT_READ = 22
    REDIRECT = 23
    GET_ROUTE_REALM = 24
    PERF_EVENT_OUTPUT = 25
    SKB_LOAD_BYTES = 26
    GET_STACKID = 27
    CSUM_DIFF = 28
    SKB_GET_TUNNEL_OPT = 29
    SKB_SET_TUNNEL_OPT = 30
    SKB_CHANGE_PROTO = 31
    SKB_CHANGE_TYPE = 32
    SKB_UNDER_CGROUP = 33
    GET_HASH_RECALC = 34
    GET_CURRENT_TASK = 35
    PROBE_WRITE_USER = 36
    CURRENT_TASK_UNDER_CGROUP = 37
    SKB_CHANGE_TAIL = 38
    SKB_PULL_DATA = 39
    CSUM_UPDATE = 40
    SET_HASH_INVALID = 41
    GET_NUMA_NODE_ID = 42
    SKB_CHANGE_HEAD = 43
    XDP_ADJUST_HEAD = 44
    PROBE_READ_STR = 45
    GET_SOCKET_COOKIE = 46
    GET_SOCKET_UID = 47
    SET_HASH = 48
    SETSOCKOPT = 49
    SKB_ADJUST_ROOM = 50
    REDIRECT_MAP = 51
    SK_REDIRECT_MAP = 52
    SOCK_MAP_UPDATE = 53
    XDP_ADJUST_META = 54
    PERF_EVENT_READ_VALUE = 55
    PERF_PROG_READ_VALUE = 56
    GETSOCKOPT = 57
    OVERRIDE_RETURN = 58
    SOCK_OPS_CB_FLAGS_SET = 59
    MSG_REDIRECT_MAP = 60
    MSG_APPLY_BYTES = 61
    MSG_CORK_BYTES = 62
    MSG_PULL_DATA = 63
    BIND = 64
    XDP_ADJUST_TAIL = 65
    SKB_GET_XFRM_STATE = 66
    GET_STACK = 67
    SKB_LOAD_BYTES_RELATIVE = 68
    FIB_LOOKUP = 69
    SOCK_HASH_UPDATE = 70
    MSG_REDIRECT_HASH = 71
    SK_REDIRECT_HASH = 72
    LWT_PUSH_ENCAP = 73
    LWT_SEG6_STORE_BYTES = 74
    LWT_SEG6_ADJUST_SRH = 75
    LWT_SEG6_ACTION = 76
    RC_REPEAT = 77
    RC_KEYDOWN = 78
    SKB_CGROUP_ID = 79
    GET_CURRENT_CGROUP_ID = 80
    GET_LOCAL_STORAGE = 81
    SK_SELECT_REUSEPORT = 82
    SKB_ANCESTOR_CGROUP_ID = 83
    SK_LOOKUP_TCP = 84
    SK_LOOKUP_UDP = 85
    SK_RELEASE = 86
    MAP_PUSH_ELEM = 87
    MAP_POP_ELEM = 88
    MAP_PEEK_ELEM = 89
    MSG_PUSH_DATA = 90
    MSG_POP_DATA = 91
    RC_POINTER_REL = 92
    SPIN_LOCK = 93
    SPIN_UNLOCK = 94
    SK_FULLSOCK = 95
    TCP_SOCK = 96
    SKB_ECN_SET_CE = 97
    GET_LISTENER_SOCK = 98
    SKC_LOOKUP_TCP = 99
    TCP_CHECK_SYNCOOKIE = 100
    SYSCTL_GET_NAME = 101
    SYSCTL_GET_CURRENT_VALUE = 102
    SYSCTL_GET_NEW_VALUE = 103
    SYSCTL_SET_NEW_VALUE = 104
    STRTOL = 105
    STRTOUL = 106
    SK_STORAGE_GET = 107
    SK_STORAGE_DELETE = 108
    SEND_SIGNAL = 109
    TCP_GEN_SYNCOOKIE = 110
    SKB_OUTPUT = 111
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    TCP_SEND_ACK = 116
    SEND_SIGNAL_THREAD = 117
    JIFFIES64 = 118
    READ_BRANCH_RECORDS = 119
    GET_NS_CURRENT_PID_TGID = 120
    XDP_OUTPUT = 121
    GET_NETNS_COOKIE = 122
    GET_CURRENT_ANCESTOR_CGROUP_ID = 123
    SK_ASSIGN = 124
    KTIME_GET_BOOT_NS = 125
    SEQ_PRINTF = 126
    SEQ_WRITE = 127
    SK_CGROUP_ID = 128
    SK_ANCESTOR_CGROUP_ID = 129
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133
    RINGBUF_QUERY = 134
    CSUM_LEVEL = 135
    SKC_TO_TCP6_SOCK = 136
    SKC_TO_TCP_SOCK = 137
    SKC_TO_TCP_TIMEWAIT_SOCK = 138
    SKC_TO_TCP_REQUEST_SOCK = 139
    SKC_TO_UDP6_SOCK = 140
    GET_TASK_STACK = 141
    LOAD_HDR_OPT = 142
    STORE_HDR_OPT = 143
    RESERVE_HDR_OPT = 144
    INODE_STORAGE_GET = 145
    INODE_STORAGE_DELETE = 146
    D_PATH = 147
    COPY_FROM_USER = 148
    SNPRINTF_BTF = 149
    SEQ_PRINTF_BTF = 150
    SKB_CGROUP_CLASSID = 151
    REDIRECT_NEIGH = 152
    PER_CPU_PTR = 153
    THIS_CPU_PTR = 154
    REDIRECT_PEER = 155
    TASK_STORAGE_GET = 156
    TASK_STORAGE_DELETE = 157
    GET_CURRENT_TASK_BTF = 158
    BPRM_OPTS_SET = 159
    KTIME_GET_COARSE_NS = 160
    IMA_INODE_HASH = 161
    SOCK_FROM_FILE = 162
    CHECK_MTU = 163
    FOR_EACH_MAP_ELEM = 164
    SNPRINTF = 165
    SYS_BPF = 166
    BTF_FIND_BY_NAME_KIND = 167
    SYS_CLOSE = 168
    TIMER_INIT = 169
    TIMER_SET_CALLBACK = 170
    TIMER_START = 171
    TIMER_CANCEL = 172
    GET_FUNC_IP = 173
    GET_ATTACH_COOKIE = 174
    TASK_PT_REGS = 175
    GET_BRANCH_SNAPSHOT = 176
    TRACE_VPRINTK = 177
    SKC_TO_UNIX_SOCK = 178
    KALLSYMS_LOOKUP_NAME = 179
    FIND_VMA = 180
    LOOP = 181
    STRNCMP = 182
    GET_FUNC_ARG = 183
    GET_FUNC_RET = 184
    GET_FUNC_ARG_CNT = 185
    GET_RETVAL = 186
    SET_RETVAL = 187
    XDP_GET_BUFF_LEN = 188
    XDP_LOAD_BYTES = 189
    XDP_STORE_BYTES = 190
    COPY_FROM_USER_TASK = 191
    SKB_SET_TSTAMP = 192
    IMA_FILE_HASH = 193
    KPTR_XCHG = 194
    MAP_LOOKUP_PERCPU_ELEM = 195
    SKC_TO_MPTCP_SOCK = 196
    DYNPTR_FROM_MEM = 197
    RINGBUF_RESERVE_DYNPTR = 198
    RINGBUF_SUBMIT_DYNPTR = 199
    RINGBUF_DISCARD_DYNPTR = 200
    DYNPTR_READ = 201
    DYNPTR_WRITE = 202
    DYNPTR_DATA = 203
    TCP_RAW_GEN_SYNCOOKIE_IPV4 = 204
    TCP_RAW_GEN_SYNCOOKIE_IPV6 = 205
    TCP_RAW_CHECK_SYNCOOKIE_IPV4 = 206
    TCP_RAW_CHECK_SYNCOOKIE_IPV6 = 207
    KTIME_GET_TAI_NS = 208
    USER_RINGBUF_DRAIN = 209
    CGRP_STORAGE_GET = 210
    CGRP_STORAGE_DELETE = 211


class ArgType(IntEnum):
    """enum bpf_arg_type base types (include/linux/bpf.h); modifiers live in `TypeFlag`."""

    ARG_DONTCARE = 0  # unused argument
    ARG_CONST_MAP_PTR = 1  # const argument used as pointer to bpf_map
    ARG_PTR_TO_MAP_KEY = 2  # pointer to stack used as map key
    ARG_PTR_TO_MAP_VALUE = 3  # pointer to stack used as map value
    ARG_PTR_TO_MEM = 4  # pointer to valid memory (stack, packet, map value)
    ARG_PTR_TO_ARENA = 5
    ARG_CONST_SIZE = 6  # number of bytes accessed from memory, > 0
    ARG_CONST_SIZE_OR_ZERO = 7  # number of bytes accessed from memory, may be 0
    ARG_PTR_TO_CTX = 8  # pointer to context
    ARG_ANYTHING = 9  # any (initialized) argument is ok
    ARG_PTR_TO_SPIN_LOCK = 10  # pointer to bpf_spin_lock
    ARG_PTR_TO_SOCK_COMMON = 11  # pointer to sock_common
    ARG_PTR_TO_SOCKET = 12  # pointer to bpf_sock (fullsock)
    ARG_PTR_TO_BTF_ID = 13  # pointer to in-kernel struct
    ARG_PTR_TO_RINGBUF_MEM = 14  # pointer to dynamically reserved ringbuf memory
    ARG_CONST_ALLOC_SIZE_OR_ZERO = 15  # number of allocated bytes requested
    ARG_PTR_TO_BTF_ID_SOCK_COMMON = 16  # pointer to in-kernel sock_common or bpf-mirrored bpf_sock
    ARG_PTR_TO_PERCPU_BTF_ID = 17  # pointer to in-kernel percpu type
    ARG_PTR_TO_FUNC = 18  # pointer to a bpf program function
    ARG_PTR_TO_STACK = 19  # pointer to stack
    ARG_PTR_TO_CONST_STR = 20  # pointer to a null terminated read-only string
    ARG_PTR_TO_TIMER = 21  # pointer to bpf_timer
    ARG_KPTR_XCHG_DEST = 22  # pointer to destination that kptrs are bpf_kptr_xchg'd into
    ARG_PTR_TO_DYNPTR = 23  # pointer to bpf_dynptr


class RetType(IntEnum):
    """enum bpf_return_type base types; PTR_MAYBE_NULL etc. come from `TypeFlag`."""

    RET_INTEGER = 0  # function returns integer
    RET_VOID = 1  # function doesn't return anything
    RET_PTR_TO_MAP_VALUE = 2  # returns a pointer to map elem value
    RET_PTR_TO_SOCKET = 3  # returns a pointer to a socket
    RET_PTR_TO_TCP_SOCK = 4  # returns a pointer to a tcp_sock
    RET_PTR_TO_SOCK_COMMON = 5  # returns a pointer to a sock_common
    RET_PTR_TO_MEM = 6  # returns a pointer to memory
    RET_PTR_TO_MEM_OR_BTF_ID = 7  # returns a pointer to a valid memory or a btf_id
    RET_PTR_TO_BTF_ID = 8  # returns a pointer to a btf_id


class TypeFlag(IntFlag):
    """enum bpf_type_flag: modifier bits OR-ed into arg/ret/reg types (values as in the 6.18 kernel)."""

    NONE = 0
    PTR_MAYBE_NULL = 1 << 8
    MEM_RDONLY = 1 << 9
    MEM_RINGBUF = 1 << 10
    MEM_USER = 1 << 11
    MEM_PERCPU = 1 << 12
    OBJ_RELEASE = 1 << 13
    PTR_UNTRUSTED = 1 << 14
    MEM_UNINIT = 1 << 15
    DYNPTR_TYPE_LOCAL = 1 << 16
    DYNPTR_TYPE_RINGBUF = 1 << 17
    MEM_FIXED_SIZE = 1 << 18
    MEM_ALLOC = 1 << 19
    PTR_TRUSTED = 1 << 20
    MEM_RCU = 1 << 21
    NON_OWN_REF = 1 << 22
    DYNPTR_TYPE_SKB = 1 << 23
    DYNPTR_TYPE_XDP = 1 << 24
    MEM_ALIGNED = 1 << 25
    MEM_WRITE = 1 << 26
    DYNPTR_TYPE_SKB_META = 1 << 27


@dataclass(frozen=True)
class Arg:
    """One helper argument: kernel base type, modifier flags, and the extras a few prototypes carry.

    `size` is arg*_size (only with MEM_FIXED_SIZE); `btf_id` names the kernel struct of ARG_PTR_TO_BTF_ID args.
    """

    type: ArgType
    flags: TypeFlag = TypeFlag.NONE
    size: int = 0
    btf_id: str | None = None

    @property
    def raw(self) -> int:
        """The value as the kernel stores it in bpf_func_proto.argN_type (base | flags)."""
        return int(self.type) | int(self.flags)

    @property
    def maybe_null(self) -> bool:
        return bool(self.flags & TypeFlag.PTR_MAYBE_NULL)

    @property
    def rdonly(self) -> bool:
        return bool(self.flags & TypeFlag.MEM_RDONLY)

    @property
    def uninit(self) -> bool:
        return bool(self.flags & TypeFlag.MEM_UNINIT)

    @property
    def release(self) -> bool:
        return bool(self.flags & TypeFlag.OBJ_RELEASE)

    def __str__(self) -> str:
        parts = [self.type.name] + [f.name for f in TypeFlag if f and f in self.flags]
        return "|".join(p for p in parts if p)


@dataclass(frozen=True)
class Ret:
    """A helper's return type: base type, modifier flags, and the BTF struct name for PTR_TO_BTF_ID returns."""

    type: RetType
    flags: TypeFlag = TypeFlag.NONE
    btf_id: str | None = None

    @property
    def raw(self) -> int:
        return int(self.type) | int(self.flags)

    @property
    def maybe_null(self) -> bool:
        return bool(self.flags & TypeFlag.PTR_MAYBE_NULL)

    def __str__(self) -> str:
        parts = [self.type.name] + [f.name for f in TypeFlag if f and f in self.flags]
        return "|".join(p for p in parts if p)


@dataclass(frozen=True)
class HelperProto:
    """Mirror of struct bpf_func_proto (minus the C function pointer)."""

    name: str
    ret: Ret
    args: tuple[Arg, ...]
    gpl_only: bool = False
    might_sleep: bool = False
    pkt_access: bool = False

    @property
    def arg_types(self) -> tuple[ArgType, ...]:
        """Base types of the arguments actually used (ARG_DONTCARE trimmed)."""
        return tuple(a.type for a in self.args)


_T = TypeFlag
_A = ArgType
_R = RetType

# --- Named argument/return shapes, spelled like the kernel's #defines/enum aliases -------------------------
ARG_ANYTHING = Arg(_A.ARG_ANYTHING)
ARG_CONST_MAP_PTR = Arg(_A.ARG_CONST_MAP_PTR)
ARG_PTR_TO_MAP_KEY = Arg(_A.ARG_PTR_TO_MAP_KEY)
ARG_PTR_TO_MAP_VALUE = Arg(_A.ARG_PTR_TO_MAP_VALUE)
ARG_PTR_TO_MAP_VALUE_OR_NULL = Arg(_A.ARG_PTR_TO_MAP_VALUE, _T.PTR_MAYBE_NULL)
ARG_PTR_TO_UNINIT_MAP_VALUE = Arg(_A.ARG_PTR_TO_MAP_VALUE, _T.MEM_UNINIT | _T.MEM_WRITE)
ARG_PTR_TO_MEM = Arg(_A.ARG_PTR_TO_MEM)
ARG_PTR_TO_MEM_RDONLY = Arg(_A.ARG_PTR_TO_MEM, _T.MEM_RDONLY)
ARG_PTR_TO_MEM_RDONLY_OR_NULL = Arg(_A.ARG_PTR_TO_MEM, _T.PTR_MAYBE_NULL | _T.MEM_RDONLY)
ARG_PTR_TO_MEM_OR_NULL = Arg(_A.ARG_PTR_TO_MEM, _T.PTR_MAYBE_NULL)
ARG_PTR_TO_MEM_WRITE = Arg(_A.ARG_PTR_TO_MEM, _T.MEM_WRITE)
ARG_PTR_TO_UNINIT_MEM = Arg(_A.ARG_PTR_TO_MEM, _T.MEM_UNINIT | _T.MEM_WRITE)
ARG_CONST_SIZE = Arg(_A.ARG_CONST_SIZE)
ARG_CONST_SIZE_OR_ZERO = Arg(_A.ARG_CONST_SIZE_OR_ZERO)
ARG_CONST_ALLOC_SIZE_OR_ZERO = Arg(_A.ARG_CONST_ALLOC_SIZE_OR_ZERO)
ARG_PTR_TO_CTX = Arg(_A.ARG_PTR_TO_CTX)
ARG_PTR_TO_CTX_OR_NULL = Arg(_A.ARG_PTR_TO_CTX, _T.PTR_MAYBE_NULL)
ARG_PTR_TO_FUNC = Arg(_A.ARG_PTR_TO_FUNC)
ARG_PTR_TO_STACK_OR_NULL = Arg(_A.ARG_PTR_TO_STACK, _T.PTR_MAYBE_NULL)
ARG_PTR_TO_CONST_STR = Arg(_A.ARG_PTR_TO_CONST_STR)
ARG_PTR_TO_TIMER = Arg(_A.ARG_PTR_TO_TIMER)
ARG_PTR_TO_SPIN_LOCK = Arg(_A.ARG_PTR_TO_SPIN_LOCK)
ARG_PTR_TO_SOCK_COMMON = Arg(_A.ARG_PTR_TO_SOCK_COMMON)
ARG_PTR_TO_BTF_ID_SOCK_COMMON = Arg(_A.ARG_PTR_TO_BTF_ID_SOCK_COMMON)
ARG_PTR_TO_PERCPU_BTF_ID = Arg(_A.ARG_PTR_TO_PERCPU_BTF_ID)
ARG_PTR_TO_RINGBUF_MEM_RELEASE = Arg(_A.ARG_PTR_TO_RINGBUF_MEM, _T.OBJ_RELEASE)


def _fixed(size: int, flags: TypeFlag = TypeFlag.NONE) -> Arg:
    """ARG_PTR_TO_FIXED_SIZE_MEM (= ARG_PTR_TO_MEM | MEM_FIXED_SIZE) with arg*_size; replaced ARG_PTR_TO_LONG/INT."""
    return Arg(_A.ARG_PTR_TO_MEM, _T.MEM_FIXED_SIZE | flags, size=size)


def _btf(struct: str, flags: TypeFlag = TypeFlag.NONE) -> Arg:
    return Arg(_A.ARG_PTR_TO_BTF_ID, flags, btf_id=struct)


_OUT_LONG = _fixed(8, _T.MEM_UNINIT | _T.MEM_WRITE | _T.MEM_ALIGNED)
_OUT_INT_INOUT = _fixed(4, _T.MEM_WRITE | _T.MEM_ALIGNED)

RET_INTEGER = Ret(_R.RET_INTEGER)
RET_VOID = Ret(_R.RET_VOID)
RET_PTR_TO_MAP_VALUE = Ret(_R.RET_PTR_TO_MAP_VALUE)
RET_PTR_TO_MAP_VALUE_OR_NULL = Ret(_R.RET_PTR_TO_MAP_VALUE, _T.PTR_MAYBE_NULL)
RET_PTR_TO_SOCKET_OR_NULL = Ret(_R.RET_PTR_TO_SOCKET, _T.PTR_MAYBE_NULL)
RET_PTR_TO_TCP_SOCK_OR_NULL = Ret(_R.RET_PTR_TO_TCP_SOCK, _T.PTR_MAYBE_NULL)
RET_PTR_TO_SOCK_COMMON_OR_NULL = Ret(_R.RET_PTR_TO_SOCK_COMMON, _T.PTR_MAYBE_NULL)
RET_PTR_TO_RINGBUF_MEM_OR_NULL = Ret(_R.RET_PTR_TO_MEM, _T.MEM_RINGBUF | _T.PTR_MAYBE_NULL)
RET_PTR_TO_DYNPTR_MEM_OR_NULL = Ret(_R.RET_PTR_TO_MEM, _T.PTR_MAYBE_NULL)
RET_PTR_TO_MEM_OR_BTF_ID_RDONLY = Ret(_R.RET_PTR_TO_MEM_OR_BTF_ID, _T.MEM_RDONLY)
RET_PTR_TO_MEM_OR_BTF_ID_OR_NULL_RDONLY = Ret(_R.RET_PTR_TO_MEM_OR_BTF_ID, _T.PTR_MAYBE_NULL | _T.MEM_RDONLY)


def _btf_ret(struct: str, flags: TypeFlag = TypeFlag.PTR_MAYBE_NULL) -> Ret:
    return Ret(_R.RET_PTR_TO_BTF_ID, flags, btf_id=struct)


def _p(ret: Ret, *args: Arg, gpl: bool = False, sleep: bool = False, pkt: bool = False) -> tuple:
    return (ret, args, gpl, sleep, pkt)


_H = HelperId
_CTX, _MAP, _ANY = ARG_PTR_TO_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING
_MEM_RO, _MEM_RO_NULL = ARG_PTR_TO_MEM_RDONLY, ARG_PTR_TO_MEM_RDONLY_OR_NULL
_UNINIT, _SIZE, _SIZE0 = ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, ARG_CONST_SIZE_OR_ZERO
_SKC = ARG_PTR_TO_BTF_ID_SOCK_COMMON
_TASK = "task_struct"
_SK_LOOKUP = _p(RET_PTR_TO_SOCKET_OR_NULL, _CTX, _MEM_RO, _SIZE, _ANY, _ANY, pkt=True)
_SKC_TO = _p(_btf_ret("sock_common"), _SKC)  # ret_btf_id differs per helper, filled below
_PROBE_READ = _p(RET_INTEGER, _UNINIT, _SIZE0, _ANY, gpl=True)
_CTX_ONLY = _p(RET_INTEGER, _CTX)
_CTX_ANY = _p(RET_INTEGER, _CTX, _ANY)
_CTX_ANY_ANY = _p(RET_INTEGER, _CTX, _ANY, _ANY)
_EVENT_OUTPUT = _p(RET_INTEGER, _CTX, _MAP, _ANY, _MEM_RO, _SIZE0, gpl=True)
_RINGBUF_DONE = _p(RET_VOID, ARG_PTR_TO_RINGBUF_MEM_RELEASE, _ANY)
_RINGBUF_DYNPTR_DONE = _p(RET_VOID, Arg(_A.ARG_PTR_TO_DYNPTR, _T.DYNPTR_TYPE_RINGBUF | _T.OBJ_RELEASE), _ANY)
_CALLBACK = (ARG_PTR_TO_FUNC, ARG_PTR_TO_STACK_OR_NULL, _ANY)

_RAW: dict[HelperId, tuple] = {
    # kernel/bpf/helpers.c
    _H.MAP_LOOKUP_ELEM: _p(RET_PTR_TO_MAP_VALUE_OR_NULL, _MAP, ARG_PTR_TO_MAP_KEY, pkt=True),
    _H.MAP_UPDATE_ELEM: _p(RET_INTEGER, _MAP, ARG_PTR_TO_MAP_KEY, ARG_PTR_TO_MAP_VALUE, _ANY, pkt=True),
    _H.MAP_DELETE_ELEM: _p(RET_INTEGER, _MAP, ARG_PTR_TO_MAP_KEY, pkt=True),
    _H.MAP_PUSH_ELEM: _p(RET_INTEGER, _MAP, ARG_PTR_TO_MAP_VALUE, _ANY, pkt=True),
    _H.MAP_POP_ELEM: _p(RET_INTEGER, _MAP, ARG_PTR_TO_UNINIT_MAP_VALUE),
    _H.MAP_PEEK_ELEM: _p(RET_INTEGER, _MAP, ARG_PTR_TO_UNINIT_MAP_VALUE),
    _H.MAP_LOOKUP_PERCPU_ELEM: _p(RET_PTR_TO_MAP_VALUE_OR_NULL, _MAP, ARG_PTR_TO_MAP_KEY, _ANY, pkt=True),
    _H.GET_PRANDOM_U32: _p(RET_INTEGER),
    _H.GET_SMP_PROCESSOR_ID: _p(RET_INTEGER),
    _H.GET_NUMA_NODE_ID: _p(RET_INTEGER),
    _H.KTIME_GET_NS: _p(RET_INTEGER),
    _H.KTIME_GET_BOOT_NS: _p(RET_INTEGER),
    _H.KTIME_GET_COARSE_NS: _p(RET_INTEGER),
    _H.KTIME_GET_TAI_NS: _p(RET_INTEGER),
    _H.GET_CURRENT_PID_TGID: _p(RET_INTEGER),
    _H.GET_CURRENT_UID_GID: _p(RET_INTEGER),
    _H.GET_CURRENT_COMM: _p(RET_INTEGER, _UNINIT, _SIZE),
    _H.SPIN_LOCK: _p(RET_VOID, ARG_PTR_TO_SPIN_LOCK),
    _H.SPIN_UNLOCK: _p(RET_VOID, ARG_PTR_TO_SPIN_LOCK),
    _H.JIFFIES64: _p(RET_INTEGER),
    _H.GET_CURRENT_CGROUP_ID: _p(RET_INTEGER),
    _H.GET_CURRENT_ANCESTOR_CGROUP_ID: _p(RET_INTEGER, _ANY),
    _H.STRTOL: _p(RET_INTEGER, _MEM_RO, _SIZE, _ANY, _OUT_LONG),
    _H.STRTOUL: _p(RET_INTEGER, _MEM_RO, _SIZE, _ANY, _OUT_LONG),
    _H.STRNCMP: _p(RET_INTEGER, _MEM_RO, _SIZE, ARG_PTR_TO_CONST_STR),
    _H.GET_NS_CURRENT_PID_TGID: _p(RET_INTEGER, _ANY, _ANY, _UNINIT, _SIZE),
    _H.COPY_FROM_USER: _p(RET_INTEGER, _UNINIT, _SIZE0, _ANY, sleep=True),
    _H.COPY_FROM_USER_TASK: _p(RET_INTEGER, _UNINIT, _SIZE0, _ANY, _btf(_TASK), _ANY, gpl=True, sleep=True),
    _H.PER_CPU_PTR: _p(RET_PTR_TO_MEM_OR_BTF_ID_OR_NULL_RDONLY, ARG_PTR_TO_PERCPU_BTF_ID, _ANY),
    _H.THIS_CPU_PTR: _p(RET_PTR_TO_MEM_OR_BTF_ID_RDONLY, ARG_PTR_TO_PERCPU_BTF_ID),
    _H.SNPRINTF: _p(RET_INTEGER, ARG_PTR_TO_MEM_OR_NULL, _SIZE0, ARG_PTR_TO_CONST_STR, _MEM_RO_NULL, _SIZE0,
                    gpl=True),
    _H.TIMER_INIT: _p(RET_INTEGER, ARG_PTR_TO_TIMER, _MAP, _ANY, gpl=True),
    _H.TIMER_SET_CALLBACK: _p(RET_INTEGER, ARG_PTR_TO_TIMER, ARG_PTR_TO_FUNC, gpl=True),
    _H.TIMER_START: _p(RET_INTEGER, ARG_PTR_TO_TIMER, _ANY, _ANY, gpl=True),
    _H.TIMER_CANCEL: _p(RET_INTEGER, ARG_PTR_TO_TIMER, gpl=True),
    _H.KPTR_XCHG: _p(Ret(_R.RET_PTR_TO_BTF_ID, _T.PTR_MAYBE_NULL), Arg(_A.ARG_KPTR_XCHG_DEST),
                     Arg(_A.ARG_PTR_TO_BTF_ID, _T.PTR_MAYBE_NULL | _T.OBJ_RELEASE)),
    _H.DYNPTR_FROM_MEM: _p(RET_INTEGER, _UNINIT, _SIZE0, _ANY,
                           Arg(_A.ARG_PTR_TO_DYNPTR, _T.DYNPTR_TYPE_LOCAL | _T.MEM_UNINIT | _T.MEM_WRITE)),
    _H.DYNPTR_READ: _p(RET_INTEGER, _UNINIT, _SIZE0, Arg(_A.ARG_PTR_TO_DYNPTR, _T.MEM_RDONLY), _ANY, _ANY),
    _H.DYNPTR_WRITE: _p(RET_INTEGER, Arg(_A.ARG_PTR_TO_DYNPTR, _T.MEM_RDONLY), _ANY, _MEM_RO, _SIZE0, _ANY),
    _H.DYNPTR_DATA: _p(RET_PTR_TO_DYNPTR_MEM_OR_NULL, Arg(_A.ARG_PTR_TO_DYNPTR, _T.MEM_RDONLY), _ANY,
                       ARG_CONST_ALLOC_SIZE_OR_ZERO),
    _H.CURRENT_TASK_UNDER_CGROUP: _p(RET_INTEGER, _MAP, _ANY),
    _H.LOOP: _p(RET_INTEGER, _ANY, *_CALLBACK),
    _H.FOR_EACH_MAP_ELEM: _p(RET_INTEGER, _MAP, *_CALLBACK),
    _H.FIND_VMA: _p(RET_INTEGER, _btf(_TASK), _ANY, *_CALLBACK),
    _H.TAIL_CALL: _p(RET_VOID, _CTX, _MAP, _ANY),
    # kernel/bpf/ringbuf.c
    _H.RINGBUF_OUTPUT: _p(RET_INTEGER, _MAP, _MEM_RO, _SIZE0, _ANY),
    _H.RINGBUF_RESERVE: _p(RET_PTR_TO_RINGBUF_MEM_OR_NULL, _MAP, ARG_CONST_ALLOC_SIZE_OR_ZERO, _ANY),
    _H.RINGBUF_SUBMIT: _RINGBUF_DONE,
    _H.RINGBUF_DISCARD: _RINGBUF_DONE,
    _H.RINGBUF_QUERY: _p(RET_INTEGER, _MAP, _ANY),
    _H.RINGBUF_RESERVE_DYNPTR: _p(RET_INTEGER, _MAP, _ANY, _ANY, Arg(
        _A.ARG_PTR_TO_DYNPTR, _T.DYNPTR_TYPE_RINGBUF | _T.MEM_UNINIT | _T.MEM_WRITE)),
    _H.RINGBUF_SUBMIT_DYNPTR: _RINGBUF_DYNPTR_DONE,
    _H.RINGBUF_DISCARD_DYNPTR: _RINGBUF_DYNPTR_DONE,
    _H.USER_RINGBUF_DRAIN: _p(RET_INTEGER, _MAP, *_CALLBACK),
    # kernel/trace/bpf_trace.c (generic variants; tracepoint/raw_tp/perf_event use same-shaped *_tp protos)
    _H.PROBE_READ: _PROBE_READ,
    _H.PROBE_READ_STR: _PROBE_READ,
    _H.PROBE_READ_USER: _PROBE_READ,
    _H.PROBE_READ_KERNEL: _PROBE_READ,
    _H.PROBE_READ_USER_STR: _PROBE_READ,
    _H.PROBE_READ_KERNEL_STR: _PROBE_READ,
    _H.PROBE_WRITE_USER: _p(RET_INTEGER, _ANY, _MEM_RO, _SIZE, gpl=True),
    _H.TRACE_PRINTK: _p(RET_INTEGER, _MEM_RO, _SIZE, gpl=True),
    _H.TRACE_VPRINTK: _p(RET_INTEGER, _MEM_RO, _SIZE, _MEM_RO_NULL, _SIZE0, gpl=True),
    _H.SEQ_PRINTF: _p(RET_INTEGER, _btf("seq_file"), _MEM_RO, _SIZE, _MEM_RO_NULL, _SIZE0, gpl=True),
    _H.SEQ_WRITE: _p(RET_INTEGER, _btf("seq_file"), _MEM_RO, _SIZE0, gpl=True),
    _H.SEQ_PRINTF_BTF: _p(RET_INTEGER, _btf("seq_file"), _MEM_RO, _SIZE0, _ANY, gpl=True),
    _H.PERF_EVENT_READ: _p(RET_INTEGER, _MAP, _ANY, gpl=True),
    _H.PERF_EVENT_READ_VALUE: _p(RET_INTEGER, _MAP, _ANY, _UNINIT, _SIZE, gpl=True),
    _H.PERF_EVENT_OUTPUT: _EVENT_OUTPUT,
    _H.GET_CURRENT_TASK: _p(RET_INTEGER, gpl=True),
    _H.GET_CURRENT_TASK_BTF: _p(_btf_ret(_TASK, _T.PTR_TRUSTED), gpl=True),
    _H.TASK_PT_REGS: _p(_btf_ret("pt_regs", _T.NONE), _btf(_TASK), gpl=True),
    _H.SEND_SIGNAL: _p(RET_INTEGER, _ANY),
    _H.SEND_SIGNAL_THREAD: _p(RET_INTEGER, _ANY),
    _H.D_PATH: _p(RET_INTEGER, _btf("path"), ARG_PTR_TO_MEM_WRITE, _SIZE0),
    _H.BPRM_OPTS_SET: _p(RET_INTEGER, _btf("linux_binprm"), _ANY),  # bpf_lsm.c: LSM programs only
    # bpf_lsm.c; their .allowed (sleepable hooks only, 'helper call is not allowed in probe') is not modelled: a
    # program that fails it is refused anyway, as non-sleepable ('helper call might sleep in a non-sleepable prog')
    _H.IMA_INODE_HASH: _p(RET_INTEGER, _btf("inode"), _UNINIT, _SIZE, sleep=True),
    _H.IMA_FILE_HASH: _p(RET_INTEGER, _btf("file"), _UNINIT, _SIZE, sleep=True),
    _H.SNPRINTF_BTF: _p(RET_INTEGER, ARG_PTR_TO_MEM_WRITE, _SIZE, _MEM_RO, _SIZE, _ANY),
    _H.GET_FUNC_IP: _p(RET_INTEGER, _CTX, gpl=True),
    _H.GET_ATTACH_COOKIE: _CTX_ONLY,
    _H.GET_BRANCH_SNAPSHOT: _p(RET_INTEGER, _UNINIT, _SIZE0, gpl=True),
    _H.GET_FUNC_ARG: _p(RET_INTEGER, _CTX, _ANY, _OUT_LONG),
    _H.GET_FUNC_RET: _p(RET_INTEGER, _CTX, _OUT_LONG),
    _H.GET_FUNC_ARG_CNT: _CTX_ONLY,
    _H.OVERRIDE_RETURN: _p(RET_INTEGER, _CTX, _ANY, gpl=True),
    _H.PERF_PROG_READ_VALUE: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE, gpl=True),
    _H.READ_BRANCH_RECORDS: _p(RET_INTEGER, _CTX, Arg(_A.ARG_PTR_TO_MEM, _T.PTR_MAYBE_NULL | _T.MEM_WRITE), _SIZE0,
                               _ANY, gpl=True),
    # kernel/bpf/stackmap.c
    _H.GET_STACKID: _p(RET_INTEGER, _CTX, _MAP, _ANY, gpl=True),
    _H.GET_STACK: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE0, _ANY, gpl=True),
    _H.GET_TASK_STACK: _p(RET_INTEGER, _btf(_TASK), _UNINIT, _SIZE0, _ANY),
    # local storages
    _H.GET_LOCAL_STORAGE: _p(RET_PTR_TO_MAP_VALUE, _MAP, _ANY),
    _H.SK_STORAGE_GET: _p(RET_PTR_TO_MAP_VALUE_OR_NULL, _MAP, _SKC, ARG_PTR_TO_MAP_VALUE_OR_NULL, _ANY),
    _H.SK_STORAGE_DELETE: _p(RET_INTEGER, _MAP, _SKC),
    _H.TASK_STORAGE_GET: _p(RET_PTR_TO_MAP_VALUE_OR_NULL, _MAP, _btf(_TASK, _T.PTR_MAYBE_NULL),
                            ARG_PTR_TO_MAP_VALUE_OR_NULL, _ANY),
    _H.TASK_STORAGE_DELETE: _p(RET_INTEGER, _MAP, _btf(_TASK, _T.PTR_MAYBE_NULL)),
    _H.CGRP_STORAGE_GET: _p(RET_PTR_TO_MAP_VALUE_OR_NULL, _MAP, _btf("cgroup", _T.PTR_MAYBE_NULL),
                            ARG_PTR_TO_MAP_VALUE_OR_NULL, _ANY),
    _H.CGRP_STORAGE_DELETE: _p(RET_INTEGER, _MAP, _btf("cgroup", _T.PTR_MAYBE_NULL)),
    # net/core/filter.c
    _H.SKB_STORE_BYTES: _p(RET_INTEGER, _CTX, _ANY, _MEM_RO, _SIZE, _ANY),
    _H.SKB_LOAD_BYTES: _p(RET_INTEGER, _CTX, _ANY, _UNINIT, _SIZE),
    _H.SKB_LOAD_BYTES_RELATIVE: _p(RET_INTEGER, _CTX, _ANY, _UNINIT, _SIZE, _ANY),
    _H.SKB_PULL_DATA: _CTX_ANY,
    _H.SK_FULLSOCK: _p(RET_PTR_TO_SOCKET_OR_NULL, ARG_PTR_TO_SOCK_COMMON),
    _H.L3_CSUM_REPLACE: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY, _ANY),
    _H.L4_CSUM_REPLACE: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY, _ANY),
    _H.CSUM_DIFF: _p(RET_INTEGER, _MEM_RO_NULL, _SIZE0, _MEM_RO_NULL, _SIZE0, _ANY, pkt=True),
    _H.CSUM_UPDATE: _CTX_ANY,
    _H.CSUM_LEVEL: _CTX_ANY,
    _H.CLONE_REDIRECT: _CTX_ANY_ANY,
    _H.REDIRECT: _p(RET_INTEGER, _ANY, _ANY),
    _H.REDIRECT_PEER: _p(RET_INTEGER, _ANY, _ANY),
    _H.REDIRECT_NEIGH: _p(RET_INTEGER, _ANY, _MEM_RO_NULL, _SIZE0, _ANY),
    _H.REDIRECT_MAP: _p(RET_INTEGER, _MAP, _ANY, _ANY),
    _H.MSG_APPLY_BYTES: _CTX_ANY,
    _H.MSG_CORK_BYTES: _CTX_ANY,
    _H.MSG_PULL_DATA: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    _H.MSG_PUSH_DATA: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    _H.MSG_POP_DATA: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    _H.GET_CGROUP_CLASSID: _CTX_ONLY,  # tc variant; bpf_base_func_proto's current-task variant takes no args
    _H.SKB_CGROUP_CLASSID: _CTX_ONLY,
    _H.GET_ROUTE_REALM: _CTX_ONLY,
    _H.GET_HASH_RECALC: _CTX_ONLY,
    _H.SET_HASH_INVALID: _CTX_ONLY,
    _H.SET_HASH: _CTX_ANY,
    _H.SKB_VLAN_PUSH: _CTX_ANY_ANY,
    _H.SKB_VLAN_POP: _CTX_ONLY,
    _H.SKB_CHANGE_PROTO: _CTX_ANY_ANY,
    _H.SKB_CHANGE_TYPE: _CTX_ANY,
    _H.SKB_ADJUST_ROOM: _p(RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    _H.SKB_CHANGE_TAIL: _CTX_ANY_ANY,
    _H.SKB_CHANGE_HEAD: _CTX_ANY_ANY,
    _H.XDP_GET_BUFF_LEN: _CTX_ONLY,
    _H.XDP_ADJUST_HEAD: _CTX_ANY,
    _H.XDP_ADJUST_TAIL: _CTX_ANY,
    _H.XDP_ADJUST_META: _CTX_ANY,
    _H.XDP_LOAD_BYTES: _p(RET_INTEGER, _CTX, _ANY, _UNINIT, _SIZE),
    _H.XDP_STORE_BYTES: _p(RET_INTEGER, _CTX, _ANY, _UNINIT, _SIZE),
    _H.SKB_OUTPUT: _p(RET_INTEGER, _btf("sk_buff"), _MAP, _ANY, _MEM_RO, _SIZE0, gpl=True),
    _H.XDP_OUTPUT: _p(RET_INTEGER, _btf("xdp_buff"), _MAP, _ANY, _MEM_RO, _SIZE0, gpl=True),
    _H.SKB_GET_TUNNEL_KEY: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE, _ANY),
    _H.SKB_GET_TUNNEL_OPT: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE),
    _H.SKB_SET_TUNNEL_KEY: _p(RET_INTEGER, _CTX, _MEM_RO, _SIZE, _ANY),
    _H.SKB_SET_TUNNEL_OPT: _p(RET_INTEGER, _CTX, _MEM_RO, _SIZE),
    _H.SKB_UNDER_CGROUP: _p(RET_INTEGER, _CTX, _MAP, _ANY),
    _H.SKB_CGROUP_ID: _CTX_ONLY,
    _H.SKB_ANCESTOR_CGROUP_ID: _CTX_ANY,
    _H.SK_CGROUP_ID: _p(RET_INTEGER, _SKC),
    _H.SK_ANCESTOR_CGROUP_ID: _p(RET_INTEGER, _SKC, _ANY),
    _H.GET_SOCKET_COOKIE: _CTX_ONLY,
    _H.GET_SOCKET_UID: _CTX_ONLY,
    _H.GET_NETNS_COOKIE: _p(RET_INTEGER, ARG_PTR_TO_CTX_OR_NULL),
    _H.SETSOCKOPT: _p(RET_INTEGER, _CTX, _ANY, _ANY, _MEM_RO, _SIZE),
    _H.GETSOCKOPT: _p(RET_INTEGER, _CTX, _ANY, _ANY, _UNINIT, _SIZE),
    _H.SOCK_OPS_CB_FLAGS_SET: _CTX_ANY,
    _H.BIND: _p(RET_INTEGER, _CTX, _MEM_RO, _SIZE),
    _H.SKB_GET_XFRM_STATE: _p(RET_INTEGER, _CTX, _ANY, _UNINIT, _SIZE, _ANY),
    _H.FIB_LOOKUP: _p(RET_INTEGER, _CTX, ARG_PTR_TO_MEM, _SIZE, _ANY, gpl=True),
    _H.CHECK_MTU: _p(RET_INTEGER, _CTX, _ANY, _OUT_INT_INOUT, _ANY, _ANY, gpl=True),
    _H.LWT_PUSH_ENCAP: _p(RET_INTEGER, _CTX, _ANY, _MEM_RO, _SIZE),
    _H.LWT_SEG6_STORE_BYTES: _p(RET_INTEGER, _CTX, _ANY, _MEM_RO, _SIZE),
    _H.LWT_SEG6_ACTION: _p(RET_INTEGER, _CTX, _ANY, _MEM_RO, _SIZE),
    _H.LWT_SEG6_ADJUST_SRH: _CTX_ANY_ANY,
    _H.SKC_LOOKUP_TCP: _p(RET_PTR_TO_SOCK_COMMON_OR_NULL, _CTX, _MEM_RO, _SIZE, _ANY, _ANY, pkt=True),
    _H.SK_LOOKUP_TCP: _SK_LOOKUP,
    _H.SK_LOOKUP_UDP: _SK_LOOKUP,
    _H.SK_RELEASE: _p(RET_INTEGER, Arg(_A.ARG_PTR_TO_BTF_ID_SOCK_COMMON, _T.OBJ_RELEASE)),
    _H.TCP_SOCK: _p(RET_PTR_TO_TCP_SOCK_OR_NULL, ARG_PTR_TO_SOCK_COMMON),
    _H.GET_LISTENER_SOCK: _p(RET_PTR_TO_SOCKET_OR_NULL, ARG_PTR_TO_SOCK_COMMON),
    _H.SKB_ECN_SET_CE: _CTX_ONLY,
    _H.TCP_CHECK_SYNCOOKIE: _p(RET_INTEGER, _SKC, _MEM_RO, _SIZE, _MEM_RO, _SIZE, gpl=True, pkt=True),
    _H.TCP_GEN_SYNCOOKIE: _p(RET_INTEGER, _SKC, _MEM_RO, _SIZE, _MEM_RO, _SIZE, gpl=True, pkt=True),
    _H.SK_ASSIGN: _p(RET_INTEGER, _CTX, _SKC, _ANY),
    _H.LOAD_HDR_OPT: _p(RET_INTEGER, _CTX, ARG_PTR_TO_MEM, _SIZE, _ANY),
    _H.STORE_HDR_OPT: _p(RET_INTEGER, _CTX, _MEM_RO, _SIZE, _ANY),
    _H.RESERVE_HDR_OPT: _CTX_ANY_ANY,
    _H.SKB_SET_TSTAMP: _CTX_ANY_ANY,
    # kernel/bpf/cgroup.c
    _H.GET_RETVAL: _p(RET_INTEGER),
    _H.SET_RETVAL: _p(RET_INTEGER, _ANY),
    _H.SYSCTL_GET_NAME: _p(RET_INTEGER, _CTX, ARG_PTR_TO_MEM_WRITE, _SIZE, _ANY),
    _H.SYSCTL_GET_CURRENT_VALUE: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE),
    _H.SYSCTL_GET_NEW_VALUE: _p(RET_INTEGER, _CTX, _UNINIT, _SIZE),
    _H.SYSCTL_SET_NEW_VALUE: _p(RET_INTEGER, _CTX, _MEM_RO, _SIZE),
    # net/core/sock_map.c
    _H.SOCK_MAP_UPDATE: _p(RET_INTEGER, _CTX, _MAP, ARG_PTR_TO_MAP_KEY, _ANY, pkt=True),
    _H.SOCK_HASH_UPDATE: _p(RET_INTEGER, _CTX, _MAP, ARG_PTR_TO_MAP_KEY, _ANY, pkt=True),
    _H.SK_SELECT_REUSEPORT: _p(RET_INTEGER, _CTX, _MAP, ARG_PTR_TO_MAP_KEY, _ANY),
    _H.SK_REDIRECT_MAP: _p(RET_INTEGER, _CTX, _MAP, _ANY, _ANY),
    _H.SK_REDIRECT_HASH: _p(RET_INTEGER, _CTX, _MAP, ARG_PTR_TO_MAP_KEY, _ANY),
    _H.MSG_REDIRECT_MAP: _p(RET_INTEGER, _CTX, _MAP, _ANY, _ANY),
    _H.MSG_REDIRECT_HASH: _p(RET_INTEGER, _CTX, _MAP, ARG_PTR_TO_MAP_KEY, _ANY),
    _H.TCP_RAW_GEN_SYNCOOKIE_IPV4: _p(RET_INTEGER, _fixed(20), ARG_PTR_TO_MEM, _SIZE, gpl=True, pkt=True),
    _H.TCP_RAW_GEN_SYNCOOKIE_IPV6: _p(RET_INTEGER, _fixed(40), ARG_PTR_TO_MEM, _SIZE, gpl=True, pkt=True),
    _H.TCP_RAW_CHECK_SYNCOOKIE_IPV4: _p(RET_INTEGER, _fixed(20), _fixed(20), gpl=True, pkt=True),
    _H.TCP_RAW_CHECK_SYNCOOKIE_IPV6: _p(RET_INTEGER, _fixed(40), _fixed(20), gpl=True, pkt=True),
}

_SKC_TO_TARGETS: dict[HelperId, str] = {
    _H.SKC_TO_TCP6_SOCK: "tcp6_sock",
    _H.SKC_TO_TCP_SOCK: "tcp_sock",
    _H.SKC_TO_TCP_TIMEWAIT_SOCK: "tcp_timewait_sock",
    _H.SKC_TO_TCP_REQUEST_SOCK: "tcp_request_sock",
    _H.SKC_TO_UDP6_SOCK: "udp6_sock",
    _H.SKC_TO_UNIX_SOCK: "unix_sock",
    _H.SKC_TO_MPTCP_SOCK: "mptcp_sock",
}
for _hid, _target in _SKC_TO_TARGETS.items():
    _RAW[_hid] = _p(_btf_ret(_target), _SKC)


def helper_name(helper: "HelperId | int") -> str | None:
    """The kernel's name for a helper as func_id_str[] spells it, e.g. 'bpf_map_lookup_elem' (verifier logs,
    disassembly); None for a number that is no helper id."""
    if helper.__class__ is not HelperId:
        try:
            helper = HelperId(helper)
        except ValueError:
            return None
    return "bpf_" + helper.name.lower()  # type: ignore[union-attr]


HELPER_PROTOS: dict[HelperId, HelperProto | None] = {
    h: (HelperProto(helper_name(h), *_RAW[h]) if h in _RAW else None) for h in HelperId if h != HelperId.UNSPEC
}
"""Every helper id -> its prototype, or None where we have not transcribed the kernel's definition."""

HELPER_BY_NAME: dict[str, HelperId] = {}
"""'bpf_map_lookup_elem', 'map_lookup_elem' and 'MAP_LOOKUP_ELEM' all map to HelperId.MAP_LOOKUP_ELEM."""
for _h in HelperId:
    if _h == HelperId.UNSPEC:
        continue
    HELPER_BY_NAME[_h.name.lower()] = _h
    HELPER_BY_NAME[helper_name(_h)] = _h
    HELPER_BY_NAME[_h.name] = _h


# --- Which program types may call which helper ---------------------------------------------------------------
# Sets mirror the kernel's get_func_proto switches; `_CAP_BPF` / `_CAP_PERFMON` are the parts of
# bpf_base_func_proto (and bpf_sk_base_func_proto) that return NULL unless bpf_token_capable(CAP_BPF/CAP_PERFMON).

def _ids(*names: str) -> frozenset[HelperId]:
    return frozenset(HelperId[n.upper()] for n in names)


_BASE_UNPRIV = _ids(
    "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem", "map_pop_elem", "map_peek_elem",
    "map_lookup_percpu_elem", "get_prandom_u32", "get_smp_processor_id", "get_numa_node_id", "tail_call",
    "ktime_get_ns", "ktime_get_boot_ns", "ktime_get_tai_ns", "ringbuf_output", "ringbuf_reserve",
    "ringbuf_submit", "ringbuf_discard", "ringbuf_query", "strncmp", "strtol", "strtoul",
    "get_current_pid_tgid", "get_ns_current_pid_tgid", "get_current_uid_gid",
)
"""bpf_base_func_proto(): first switch, available without capabilities."""

_BASE_CAP_BPF = _ids(
    "spin_lock", "spin_unlock", "jiffies64", "per_cpu_ptr", "this_cpu_ptr", "timer_init", "timer_set_callback",
    "timer_start", "timer_cancel", "kptr_xchg", "for_each_map_elem", "loop", "user_ringbuf_drain",
    "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr", "ringbuf_discard_dynptr", "dynptr_from_mem",
    "dynptr_read", "dynptr_write", "dynptr_data", "cgrp_storage_get", "cgrp_storage_delete",
    "get_current_cgroup_id", "get_current_ancestor_cgroup_id", "current_task_under_cgroup",
    "get_cgroup_classid", "task_storage_get", "task_storage_delete",
)
"""bpf_base_func_proto(): second switch, needs CAP_BPF."""

_BASE_CAP_PERFMON = _ids(
    "trace_printk", "get_current_task", "get_current_task_btf", "get_current_comm", "probe_read_user",
    "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str", "copy_from_user",
    "copy_from_user_task", "snprintf_btf", "snprintf", "task_pt_regs", "trace_vprintk",
    "perf_event_read_value", "perf_event_read", "send_signal", "send_signal_thread", "get_task_stack",
    "get_branch_snapshot", "find_vma",
)
"""bpf_base_func_proto(): third switch, needs CAP_PERFMON."""

_SK_BASE = _ids("ktime_get_coarse_ns")
_SK_BASE_PERFMON = _ids(
    "skc_to_tcp6_sock", "skc_to_tcp_sock", "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock",
    "skc_to_udp6_sock", "skc_to_unix_sock", "skc_to_mptcp_sock",
)
"""bpf_sk_base_func_proto(): skc_to_* casts need CAP_PERFMON, then it falls back to bpf_base_func_proto."""

_TRACING = _ids("get_smp_processor_id", "probe_read", "probe_read_str", "get_func_ip")
"""bpf_tracing_func_proto() on top of bpf_base_func_proto.

probe_read{,_str} need CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE (true on x86-64). get_func_ip is offered to
every tracing type here (so no "cannot use helper"), but the verifier's check_get_func_ip() then refuses it in
tracepoint, raw_tracepoint and perf_event programs with ENOTSUPP (6.18: only kprobes and trampoline programs).
"""
_TRACING_SYS_ADMIN = _ids("probe_write_user")
"""bpf_tracing_func_proto(): needs CAP_SYS_ADMIN and no lockdown (LOCKDOWN_BPF_WRITE_USER)."""

_TRACE_COMMON = _ids("perf_event_output", "get_stackid", "get_stack", "get_attach_cookie")
"""Added by kprobe_prog_func_proto, tp_prog_func_proto, raw_tp_prog_func_proto and pe_prog_func_proto alike."""
_KPROBE = _TRACE_COMMON | _ids("override_return", "get_func_ip")
_PERF_EVENT = _TRACE_COMMON | _ids("perf_prog_read_value", "read_branch_records")

_SK_FILTER = _ids("skb_load_bytes", "skb_load_bytes_relative", "get_socket_cookie", "get_socket_uid",
                  "perf_event_output", "get_netns_cookie")
"""sk_filter_func_proto() additions."""

_CG_SKB = _ids(
    "get_local_storage", "sk_fullsock", "sk_storage_get", "sk_storage_delete", "perf_event_output",
    "skb_cgroup_id", "skb_ancestor_cgroup_id", "sk_cgroup_id", "sk_ancestor_cgroup_id", "sk_lookup_tcp",
    "sk_lookup_udp", "sk_release", "skc_lookup_tcp", "tcp_sock", "get_listener_sock", "skb_ecn_set_ce",
) | _SK_FILTER
"""cg_skb_func_proto(): its own cases, then sk_filter_func_proto()."""

_SYNCOOKIES = _ids("tcp_raw_gen_syncookie_ipv4", "tcp_raw_gen_syncookie_ipv6", "tcp_raw_check_syncookie_ipv4",
                   "tcp_raw_check_syncookie_ipv6")

_TC = _ids(
    "skb_store_bytes", "skb_load_bytes", "skb_load_bytes_relative", "skb_pull_data", "csum_diff", "csum_update",
    "csum_level", "l3_csum_replace", "l4_csum_replace", "clone_redirect", "get_cgroup_classid", "skb_vlan_push",
    "skb_vlan_pop", "skb_change_proto", "skb_change_type", "skb_adjust_room", "skb_change_tail",
    "skb_change_head", "skb_get_tunnel_key", "skb_set_tunnel_key", "skb_get_tunnel_opt", "skb_set_tunnel_opt",
    "redirect", "redirect_neigh", "redirect_peer", "get_route_realm", "get_hash_recalc", "set_hash_invalid",
    "set_hash", "perf_event_output", "get_smp_processor_id", "skb_under_cgroup", "get_socket_cookie",
    "get_netns_cookie", "get_socket_uid", "fib_lookup", "check_mtu", "sk_fullsock", "sk_storage_get",
    "sk_storage_delete", "skb_get_xfrm_state", "skb_cgroup_classid", "skb_cgroup_id", "skb_ancestor_cgroup_id",
    "sk_lookup_tcp", "sk_lookup_udp", "sk_release", "tcp_sock", "get_listener_sock", "skc_lookup_tcp",
    "tcp_check_syncookie", "skb_ecn_set_ce", "tcp_gen_syncookie", "sk_assign", "skb_set_tstamp",
) | _SYNCOOKIES
"""tc_cls_act_func_proto() additions (SCHED_CLS and SCHED_ACT)."""

_XDP = _ids(
    "perf_event_output", "get_smp_processor_id", "csum_diff", "xdp_adjust_head", "xdp_adjust_meta", "redirect",
    "redirect_map", "xdp_adjust_tail", "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes", "fib_lookup",
    "check_mtu", "sk_lookup_udp", "sk_lookup_tcp", "sk_release", "skc_lookup_tcp", "tcp_check_syncookie",
    "tcp_gen_syncookie",
) | _SYNCOOKIES
"""xdp_func_proto() additions."""

_CG_COMMON = _ids("get_local_storage", "get_retval", "set_retval")
"""kernel/bpf/cgroup.c cgroup_common_func_proto() (get/set_retval: not for every attach type, _ATTACH_ONLY)."""
_CG_CURRENT = _ids("get_current_uid_gid", "get_current_comm", "get_cgroup_classid", "current_task_under_cgroup")
"""cgroup_current_func_proto(): current-task helpers cgroup hooks get without CAP_PERFMON."""

_CG_SOCK = _CG_COMMON | _CG_CURRENT | _ids("get_socket_cookie", "get_netns_cookie", "perf_event_output",
                                           "sk_storage_get", "ktime_get_coarse_ns")
"""sock_filter_func_proto() (CGROUP_SOCK), on top of bpf_base_func_proto."""
_CG_SOCK_ADDR = _CG_COMMON | _CG_CURRENT | _ids(
    "bind", "get_socket_cookie", "get_netns_cookie", "perf_event_output", "sk_lookup_tcp", "sk_lookup_udp",
    "sk_release", "skc_lookup_tcp", "sk_storage_get", "sk_storage_delete", "setsockopt", "getsockopt")
"""sock_addr_func_proto(), on top of bpf_sk_base_func_proto (bind/setsockopt/getsockopt per attach type)."""
_SOCK_OPS = _CG_COMMON | _ids(
    "setsockopt", "getsockopt", "sock_ops_cb_flags_set", "sock_map_update", "sock_hash_update", "get_socket_cookie",
    "perf_event_output", "sk_storage_get", "sk_storage_delete", "get_netns_cookie", "load_hdr_opt",
    "store_hdr_opt", "reserve_hdr_opt", "tcp_sock")
"""sock_ops_func_proto(), on top of bpf_sk_base_func_proto."""
_SK_MSG = _ids("msg_redirect_map", "msg_redirect_hash", "msg_apply_bytes", "msg_cork_bytes", "msg_pull_data",
               "msg_push_data", "msg_pop_data", "perf_event_output", "get_current_uid_gid", "sk_storage_get",
               "sk_storage_delete", "get_netns_cookie", "get_cgroup_classid")
"""sk_msg_func_proto(), on top of bpf_sk_base_func_proto."""
_SK_SKB = _ids("skb_store_bytes", "skb_load_bytes", "skb_pull_data", "skb_change_tail", "skb_change_head",
               "skb_adjust_room", "get_socket_cookie", "get_socket_uid", "sk_redirect_map", "sk_redirect_hash",
               "perf_event_output", "sk_lookup_tcp", "sk_lookup_udp", "sk_release", "skc_lookup_tcp")
"""sk_skb_func_proto(), on top of bpf_sk_base_func_proto."""
_FLOW_DISSECTOR = _ids("skb_load_bytes")
_LWT_OUT = _ids("skb_load_bytes", "skb_pull_data", "csum_diff", "get_cgroup_classid", "get_route_realm",
                "get_hash_recalc", "perf_event_output", "get_smp_processor_id", "skb_under_cgroup")
"""lwt_out_func_proto(), on top of bpf_sk_base_func_proto; lwt_in/xmit/seg6local build on it."""
_LWT_IN = _LWT_OUT | _ids("lwt_push_encap")
_LWT_XMIT = _LWT_OUT | _ids(
    "skb_get_tunnel_key", "skb_set_tunnel_key", "skb_get_tunnel_opt", "skb_set_tunnel_opt", "redirect",
    "clone_redirect", "skb_change_tail", "skb_change_head", "skb_store_bytes", "csum_update", "csum_level",
    "l3_csum_replace", "l4_csum_replace", "set_hash_invalid", "lwt_push_encap")
_LWT_SEG6LOCAL = _LWT_OUT | _ids("lwt_seg6_store_bytes", "lwt_seg6_action", "lwt_seg6_adjust_srh")
"""lwt_seg6local_func_proto(): its NULL for skb_pull_data sits with the seg6 helpers under CONFIG_IPV6_SEG6_BPF
(a 6.18 build without it offers skb_pull_data and none of the lwt_seg6_* helpers, as measured)."""
_CG_SYSCTL = _CG_COMMON | _CG_CURRENT | _ids("sysctl_get_name", "sysctl_get_current_value", "sysctl_get_new_value",
                                             "sysctl_set_new_value", "ktime_get_coarse_ns", "perf_event_output")
"""sysctl_func_proto(), on top of bpf_base_func_proto."""
_CG_SOCKOPT = _CG_COMMON | _CG_CURRENT | _ids("get_netns_cookie", "sk_storage_get", "sk_storage_delete",
                                              "setsockopt", "getsockopt", "tcp_sock", "perf_event_output")
"""cg_sockopt_func_proto(), on top of bpf_base_func_proto (setsockopt/getsockopt at BPF_CGROUP_SETSOCKOPT only)."""

_SK_LOOKUP = _ids("perf_event_output", "sk_assign", "sk_release")
"""sk_lookup_func_proto(), on top of bpf_sk_base_func_proto (sk_assign is bpf_sk_lookup_assign_proto there)."""
_SK_REUSEPORT = _ids("sk_select_reuseport", "skb_load_bytes", "skb_load_bytes_relative", "get_socket_cookie",
                     "ktime_get_coarse_ns")
"""sk_reuseport_func_proto(), on top of bpf_base_func_proto (get_socket_cookie takes a socket pointer there)."""
_CG_DEVICE = _CG_COMMON | _CG_CURRENT | _ids("perf_event_output")
"""cgroup_dev_func_proto(), on top of bpf_base_func_proto."""

_SEQ = _ids("seq_printf", "seq_write", "seq_printf_btf")
"""tracing_prog_func_proto(): the seq_file helpers, for iterators only (_ATTACH_ONLY)."""
_SYSCALL = _ids("btf_find_by_name_kind", "sys_close", "kallsyms_lookup_name")
"""syscall_prog_func_proto() (kernel/bpf/syscall.c) on top of tracing_prog_func_proto(); sys_bpf needs CAP_PERFMON.
Their prototypes are not transcribed (HELPER_PROTOS: None), so our verifier refuses calls to them as not modelled."""
_LSM = _ids("inode_storage_get", "inode_storage_delete", "sk_storage_get", "sk_storage_delete", "bprm_opts_set",
            "ima_inode_hash", "ima_file_hash")
"""bpf_lsm_func_proto() (kernel/bpf/bpf_lsm.c) on top of tracing_prog_func_proto(); the ima helpers are further
limited to sleepable hooks (.allowed, not modelled: such a program is refused as non-sleepable instead);
inode_storage_* have no transcribed prototype here: refused by our verifier as not modelled."""

_TRACING_VARIANTS = _ids("skb_output", "xdp_output", "sk_storage_get", "sk_storage_delete", "sock_from_file",
                         "get_socket_cookie", "xdp_get_buff_len", "d_path")
"""tracing_prog_func_proto()'s own cases: available to every type built on it, but with tracing variants of their
prototypes (BTF-typed arguments, .allowed lists) not transcribed here: _PROTO_OVERRIDES maps them to None, so our
verifier refuses them (TRACING leaves them out of its table altogether)."""

_Table = tuple[frozenset[HelperId], frozenset[HelperId]]  # (always allowed, allowed only when privileged)

_SK_PRIV = _BASE_CAP_BPF | _BASE_CAP_PERFMON | _SK_BASE_PERFMON
_TRACE_PRIV = _BASE_CAP_BPF | _BASE_CAP_PERFMON | _TRACING_SYS_ADMIN
_BASE_PRIV = _BASE_CAP_BPF | _BASE_CAP_PERFMON

_TABLES: dict[ProgType, _Table] = {
    ProgType.SOCKET_FILTER: (_BASE_UNPRIV | _SK_BASE | _SK_FILTER, _SK_PRIV),
    ProgType.SCHED_CLS: (_BASE_UNPRIV | _SK_BASE | _TC, _SK_PRIV),
    ProgType.SCHED_ACT: (_BASE_UNPRIV | _SK_BASE | _TC, _SK_PRIV),
    ProgType.XDP: (_BASE_UNPRIV | _SK_BASE | _XDP, _SK_PRIV),
    ProgType.CGROUP_SKB: (_BASE_UNPRIV | _SK_BASE | _CG_SKB, _SK_PRIV),
    ProgType.KPROBE: (_BASE_UNPRIV | _TRACING | _KPROBE, _TRACE_PRIV),
    ProgType.TRACEPOINT: (_BASE_UNPRIV | _TRACING | _TRACE_COMMON, _TRACE_PRIV),
    ProgType.RAW_TRACEPOINT: (_BASE_UNPRIV | _TRACING | _TRACE_COMMON, _TRACE_PRIV),
    ProgType.PERF_EVENT: (_BASE_UNPRIV | _TRACING | _PERF_EVENT, _TRACE_PRIV),
    ProgType.CGROUP_SOCK: (_BASE_UNPRIV | _CG_SOCK, _BASE_PRIV),
    ProgType.CGROUP_SOCK_ADDR: (_BASE_UNPRIV | _SK_BASE | _CG_SOCK_ADDR, _SK_PRIV),
    ProgType.SOCK_OPS: (_BASE_UNPRIV | _SK_BASE | _SOCK_OPS, _SK_PRIV),
    ProgType.SK_MSG: (_BASE_UNPRIV | _SK_BASE | _SK_MSG, _SK_PRIV),
    ProgType.SK_SKB: (_BASE_UNPRIV | _SK_BASE | _SK_SKB, _SK_PRIV),
    ProgType.FLOW_DISSECTOR: (_BASE_UNPRIV | _SK_BASE | _FLOW_DISSECTOR, _SK_PRIV),
    ProgType.LWT_IN: (_BASE_UNPRIV | _SK_BASE | _LWT_IN, _SK_PRIV),
    ProgType.LWT_OUT: (_BASE_UNPRIV | _SK_BASE | _LWT_OUT, _SK_PRIV),
    ProgType.LWT_XMIT: (_BASE_UNPRIV | _SK_BASE | _LWT_XMIT, _SK_PRIV),
    ProgType.LWT_SEG6LOCAL: (_BASE_UNPRIV | _SK_BASE | _LWT_SEG6LOCAL, _SK_PRIV),
    ProgType.CGROUP_SYSCTL: (_BASE_UNPRIV | _CG_SYSCTL, _BASE_PRIV),
    ProgType.CGROUP_SOCKOPT: (_BASE_UNPRIV | _CG_SOCKOPT, _BASE_PRIV),
    ProgType.SK_LOOKUP: (_BASE_UNPRIV | _SK_BASE | _SK_LOOKUP, _SK_PRIV),
    ProgType.CGROUP_DEVICE: (_BASE_UNPRIV | _CG_DEVICE, _BASE_PRIV),
    ProgType.SK_REUSEPORT: (_BASE_UNPRIV | _SK_REUSEPORT, _BASE_PRIV),
    # tracing_prog_func_proto(): raw_tp's set plus the skc_to_* casts; its attach-type dependent helpers and those
    # with tracing-only prototypes (d_path, get_func_arg*, skb/xdp_output, sk_storage_*, sock_from_file,
    # get_socket_cookie) are left out: refused by our verifier, never accepted unchecked
    ProgType.TRACING: (_BASE_UNPRIV | _TRACING | _TRACE_COMMON | _SEQ, _TRACE_PRIV | _SK_BASE_PERFMON),
    ProgType.RAW_TRACEPOINT_WRITABLE: (_BASE_UNPRIV | _TRACING | _TRACE_COMMON, _TRACE_PRIV),
    ProgType.NETFILTER: (_BASE_UNPRIV, _BASE_PRIV),
    ProgType.SYSCALL: ((_BASE_UNPRIV | _TRACING | _TRACE_COMMON | _SYSCALL | _TRACING_VARIANTS)
                       - _ids("get_attach_cookie"), _TRACE_PRIV | _SK_BASE_PERFMON | _ids("sys_bpf")),
    ProgType.LSM: (_BASE_UNPRIV | _TRACING | _TRACE_COMMON | _LSM | _TRACING_VARIANTS,
                   _TRACE_PRIV | _SK_BASE_PERFMON),
}

_AT = AttachType
_NO_RETVAL = frozenset({_AT.CGROUP_INET_INGRESS, _AT.CGROUP_INET_EGRESS, _AT.CGROUP_SOCK_OPS, _AT.CGROUP_UDP4_RECVMSG,
                        _AT.CGROUP_UDP6_RECVMSG, _AT.CGROUP_UNIX_RECVMSG, _AT.CGROUP_INET4_GETPEERNAME,
                        _AT.CGROUP_INET6_GETPEERNAME, _AT.CGROUP_UNIX_GETPEERNAME, _AT.CGROUP_INET4_GETSOCKNAME,
                        _AT.CGROUP_INET6_GETSOCKNAME, _AT.CGROUP_UNIX_GETSOCKNAME})
"""cgroup_common_func_proto(): hooks without a settable return value refuse get_retval/set_retval."""
_SOCK_ADDR_SOCKOPT = frozenset({
    _AT.CGROUP_INET4_BIND, _AT.CGROUP_INET6_BIND, _AT.CGROUP_INET4_CONNECT, _AT.CGROUP_INET6_CONNECT,
    _AT.CGROUP_UNIX_CONNECT, _AT.CGROUP_UDP4_RECVMSG, _AT.CGROUP_UDP6_RECVMSG, _AT.CGROUP_UNIX_RECVMSG,
    _AT.CGROUP_UDP4_SENDMSG, _AT.CGROUP_UDP6_SENDMSG, _AT.CGROUP_UNIX_SENDMSG, _AT.CGROUP_INET4_GETPEERNAME,
    _AT.CGROUP_INET6_GETPEERNAME, _AT.CGROUP_INET4_GETSOCKNAME, _AT.CGROUP_INET6_GETSOCKNAME,
    _AT.CGROUP_UNIX_GETPEERNAME, _AT.CGROUP_UNIX_GETSOCKNAME})
"""sock_addr_func_proto(): the hooks that may call setsockopt/getsockopt (6.18 includes the unix get*name hooks,
as measured; 6.12 did not)."""
_ALL_AT = frozenset(AttachType)

_ATTACH_ONLY: dict[tuple[ProgType, HelperId], frozenset[AttachType]] = {
    **{(pt, h): _ALL_AT - _NO_RETVAL for pt in (ProgType.CGROUP_SOCK, ProgType.CGROUP_SOCK_ADDR, ProgType.SOCK_OPS,
                                                ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT,
                                                ProgType.CGROUP_DEVICE)
       for h in (HelperId.GET_RETVAL, HelperId.SET_RETVAL)},
    (ProgType.CGROUP_SOCK_ADDR, HelperId.BIND): frozenset({_AT.CGROUP_INET4_CONNECT, _AT.CGROUP_INET6_CONNECT}),
    (ProgType.CGROUP_SOCK_ADDR, HelperId.SETSOCKOPT): _SOCK_ADDR_SOCKOPT,
    (ProgType.CGROUP_SOCK_ADDR, HelperId.GETSOCKOPT): _SOCK_ADDR_SOCKOPT,
    (ProgType.CGROUP_SOCKOPT, HelperId.SETSOCKOPT): frozenset({_AT.CGROUP_SETSOCKOPT}),
    (ProgType.CGROUP_SOCKOPT, HelperId.GETSOCKOPT): frozenset({_AT.CGROUP_SETSOCKOPT}),
    **{(ProgType.TRACING, h): frozenset({_AT.TRACE_ITER}) for h in _SEQ},
    # bpf_prog_has_trampoline() (or tp_btf): an iterator gets no attach cookie
    (ProgType.TRACING, HelperId.GET_ATTACH_COOKIE): frozenset({_AT.TRACE_RAW_TP, _AT.TRACE_FENTRY, _AT.TRACE_FEXIT,
                                                               _AT.MODIFY_RETURN}),
    (ProgType.LSM, HelperId.GET_ATTACH_COOKIE): frozenset({_AT.LSM_MAC}),
}
"""Helpers whose func_proto switches on prog->expected_attach_type: the attach types that get a prototype
(after the load-time fix-up: CGROUP_SOCK's 0 is sock_create)."""

HELPER_TABLE_PROG_TYPES: frozenset[ProgType] = frozenset(_TABLES)
"""Program types for which helper_allowed() has a table."""

CONFIG_DEPENDENT: dict[HelperId, str] = {
    HelperId.OVERRIDE_RETURN: "CONFIG_BPF_KPROBE_OVERRIDE",
    HelperId.PROBE_WRITE_USER: "CAP_SYS_ADMIN and lockdown != LOCKDOWN_BPF_WRITE_USER",
    HelperId.PROBE_READ: "CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE",
    HelperId.PROBE_READ_STR: "CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE",
    HelperId.SKB_GET_XFRM_STATE: "CONFIG_XFRM",
    HelperId.SKB_CGROUP_CLASSID: "CONFIG_CGROUP_NET_CLASSID",
    HelperId.GET_CGROUP_CLASSID: "CONFIG_CGROUP_NET_CLASSID (bpf_base_func_proto variant)",
    HelperId.LWT_SEG6_STORE_BYTES: "CONFIG_IPV6_SEG6_BPF",
    HelperId.LWT_SEG6_ACTION: "CONFIG_IPV6_SEG6_BPF",
    HelperId.LWT_SEG6_ADJUST_SRH: "CONFIG_IPV6_SEG6_BPF",
    HelperId.XDP_ADJUST_META: "the kernel build: 6.18.44 build fc-v1300 refuses it to XDP ('cannot use helper'), "
                              "upstream and the earlier 6.18.44 build allow it",
}
"""Helpers the tables list but a given kernel build may still refuse (kernel config / lockdown)."""


def allowed_helpers(prog_type: ProgType, privileged: bool = True) -> frozenset[HelperId]:
    """All helpers a program of `prog_type` may call; `privileged` means CAP_BPF+CAP_PERFMON (+CAP_SYS_ADMIN)."""
    try:
        always, priv = _TABLES[ProgType(prog_type)]
    except KeyError:
        raise ValueError(f"no helper table for program type {ProgType(prog_type).name}") from None
    return always | priv if privileged else always


def helper_allowed(prog_type: ProgType, helper: HelperId | int, privileged: bool = True,
                   attach_type: AttachType | int | None = None) -> bool:
    """Whether the verifier's get_func_proto() for `prog_type` (loaded with `attach_type` as its
    expected_attach_type, None = 0) returns a prototype for `helper`."""
    try:
        hid = HelperId(helper)
    except ValueError:
        return False
    if hid not in allowed_helpers(prog_type, privileged):
        return False
    only = _ATTACH_ONLY.get((ProgType(prog_type), hid))
    return only is None or effective_attach_type(ProgType(prog_type), attach_type or 0) in only


_PROTO_OVERRIDES: dict[tuple[ProgType, HelperId], HelperProto | None] = {
    # pe_prog_func_proto returns bpf_get_stackid_proto_pe, which (unlike the kprobe/tp variants) is not gpl_only.
    (ProgType.PERF_EVENT, HelperId.GET_STACKID): HelperProto(
        "bpf_get_stackid", RET_INTEGER, (_CTX, _MAP, _ANY), gpl_only=False),
    # sk_reuseport_func_proto returns bpf_get_socket_ptr_cookie_proto: a nullable socket, not the context
    (ProgType.SK_REUSEPORT, HelperId.GET_SOCKET_COOKIE): HelperProto(
        "bpf_get_socket_cookie", RET_INTEGER, (Arg(_A.ARG_PTR_TO_BTF_ID_SOCK_COMMON, _T.PTR_MAYBE_NULL),)),
    # sk_lookup_func_proto returns bpf_sk_lookup_assign_proto: (ctx, PTR_TO_SOCKET_OR_NULL, flags)
    (ProgType.SK_LOOKUP, HelperId.SK_ASSIGN): HelperProto(
        "bpf_sk_assign", RET_INTEGER, (_CTX, Arg(_A.ARG_PTR_TO_SOCKET, _T.PTR_MAYBE_NULL), _ANY)),
    # tracing_prog_func_proto()'s variants (bpf_lsm_func_proto returns the plain sk_storage protos first)
    **{(pt, h): None for pt in (ProgType.SYSCALL, ProgType.LSM) for h in _TRACING_VARIANTS
       if not (pt == ProgType.LSM and h in _ids("sk_storage_get", "sk_storage_delete"))},
}
"""Per-program-type prototype variants whose shape or flags differ from the generic HELPER_PROTOS entry (None: a
variant not transcribed, refused by our verifier)."""

__all__.append("proto_for")


def proto_for(prog_type: ProgType, helper: HelperId | int,
              attach_type: AttachType | int | None = None) -> HelperProto | None:
    """The prototype the verifier uses for `helper` in a `prog_type` program (None: unknown or not allowed)."""
    hid = HelperId(helper)
    if prog_type in _TABLES and not helper_allowed(prog_type, hid, attach_type=attach_type):
        return None
    key = (ProgType(prog_type), hid)
    return _PROTO_OVERRIDES[key] if key in _PROTO_OVERRIDES else HELPER_PROTOS.get(hid)
