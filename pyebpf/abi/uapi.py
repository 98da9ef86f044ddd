"""Kernel UAPI constants for the bpf() syscall (include/uapi/linux/bpf.h, Linux 6.18).

Values were taken from the running 6.18 kernel's BTF (/sys/kernel/btf/vmlinux), so
numbering matches the kernel exactly; flags follow the #defines of uapi bpf.h.
Stdlib only, so this module imports on its own.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from pyebpf.abi.fast_enum import kernel_enum

__all__ = [
    "BpfCmd", "BpfLinkType", "XdpAction", "TcAction", "SkAction", "UpdateFlags",
    "MapFlags", "MapCreateFlags", "ProgLoadFlags", "AttachFlags", "PerfEventType",
    "PerfTypeId", "PerfCountSw", "BpfRetCode", "TaskFdType", "AdjRoomMode",
    "HdrStartOff", "LwtEncapMode", "StackBuildIdStatus", "HelperFlags",
    "BPF_F_CURRENT_CPU", "BPF_F_INDEX_MASK", "BPF_F_CTXLEN_MASK",
    "BPF_OBJ_NAME_LEN", "BPF_TAG_SIZE", "BPF_MAX_INSNS", "MAX_BPF_STACK", "BPF_MAX_LOOPS",
]


@kernel_enum(IntEnum)
class BpfCmd:
    """First argument of bpf(2): which command to run (enum bpf_cmd)."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35
    TOKEN_CREATE = 36
    PROG_STREAM_READ_BY_FD = 37


@kernel_enum(IntEnum)
class BpfLinkType:
    """Kind of a bpf_link as reported by BPF_OBJ_GET_INFO_BY_FD (enum bpf_link_type)."""

    UNSPEC = 0
    RAW_TRACEPOINT = 1
    TRACING = 2
    CGROUP = 3
    ITER = 4
    NETNS = 5
    XDP = 6
    PERF_EVENT = 7
    KPROBE_MULTI = 8
    STRUCT_OPS = 9
    NETFILTER = 10
    TCX = 11
    UPROBE_MULTI = 12
    NETKIT = 13
    SOCKMAP = 14


@kernel_enum(IntEnum)
class XdpAction:
    """Verdict an XDP program returns (enum xdp_action)."""

    ABORTED = 0
    DROP = 1
    PASS = 2
    TX = 3
    REDIRECT = 4


@kernel_enum(IntEnum)
class TcAction:
    """Verdict a tc (cls_bpf direct-action / act_bpf) program returns (uapi pkt_cls.h TC_ACT_*)."""

    UNSPEC = -1
    OK = 0
    RECLASSIFY = 1
    SHOT = 2
    PIPE = 3
    STOLEN = 4
    QUEUED = 5
    REPEAT = 6
    REDIRECT = 7
    TRAP = 8


@kernel_enum(IntEnum)
class SkAction:
    """Verdict of sk_skb / sk_msg / sk_lookup / sk_reuseport programs (enum sk_action)."""

    DROP = 0
    PASS = 1


@kernel_enum(IntEnum)
class BpfRetCode:
    """Return codes of LWT and flow-dissector programs (enum bpf_ret_code)."""

    OK = 0
    DROP = 2
    REDIRECT = 7
    LWT_REROUTE = 128
    FLOW_DISSECTOR_CONTINUE = 129


@kernel_enum(IntEnum)
class UpdateFlags:
    """Flags for BPF_MAP_UPDATE_ELEM and bpf_map_update_elem(); BPF_ANY/NOEXIST/EXIST are exclusive."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    F_LOCK = 4


MapFlags = UpdateFlags
"""Alias: the kernel calls these simply 'map update flags'."""


@kernel_enum(IntFlag)
class MapCreateFlags:
    """map_flags of BPF_MAP_CREATE (uapi bpf.h anonymous enum of BPF_F_*)."""

    NO_PREALLOC = 1 << 0
    NO_COMMON_LRU = 1 << 1
    NUMA_NODE = 1 << 2
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    STACK_BUILD_ID = 1 << 5
    ZERO_SEED = 1 << 6
    RDONLY_PROG = 1 << 7
    WRONLY_PROG = 1 << 8
    CLONE = 1 << 9
    MMAPABLE = 1 << 10
    PRESERVE_ELEMS = 1 << 11
    INNER_MAP = 1 << 12
    LINK = 1 << 13
    PATH_FD = 1 << 14
    VTYPE_BTF_OBJ_FD = 1 << 15
    TOKEN_FD = 1 << 16
    SEGV_ON_FAULT = 1 << 17
    NO_USER_CONV = 1 << 18


@kernel_enum(IntFlag)
class ProgLoadFlags:
    """prog_flags of BPF_PROG_LOAD (BPF_F_* #defines of uapi bpf.h)."""

    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5
    XDP_DEV_BOUND_ONLY = 1 << 6
    TEST_REG_INVARIANTS = 1 << 7
    TOKEN_FD = 1 << 16


@kernel_enum(IntFlag)
class AttachFlags:
    """attach_flags of BPF_PROG_ATTACH / BPF_LINK_CREATE for cgroups, tcx and netkit."""

    ALLOW_OVERRIDE = 1 << 0
    ALLOW_MULTI = 1 << 1
    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    LINK = 1 << 13


@kernel_enum(IntFlag)
class HelperFlags:
    """Flag bits taken by individual helpers (uapi bpf.h anonymous enums)."""

    # bpf_skb_store_bytes
    RECOMPUTE_CSUM = 1 << 0
    INVALIDATE_HASH = 1 << 1
    # bpf_l3/l4_csum_replace
    HDR_FIELD_MASK = 0xF
    PSEUDO_HDR = 1 << 4
    MARK_MANGLED_0 = 1 << 5
    MARK_ENFORCE = 1 << 6
    IPV6 = 1 << 7
    # bpf_clone_redirect / bpf_redirect
    INGRESS = 1 << 0
    # bpf_skb_set_tunnel_key
    TUNINFO_IPV6 = 1 << 0
    # bpf_get_stack{,id}
    SKIP_FIELD_MASK = 0xFF
    USER_STACK = 1 << 8
    FAST_STACK_CMP = 1 << 9
    REUSE_STACKID = 1 << 10
    USER_BUILD_ID = 1 << 11
    # bpf_redirect_map
    BROADCAST = 1 << 3
    EXCLUDE_INGRESS = 1 << 4
    # bpf_timer_start
    TIMER_ABS = 1 << 0
    TIMER_CPU_PIN = 1 << 1


BPF_F_INDEX_MASK = 0xFFFFFFFF
"""Low 32 bits of perf_event_output/perf_event_read flags select the perf-array slot."""
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK
"""Slot value meaning 'the current CPU' for perf-event-array helpers."""
BPF_F_CTXLEN_MASK = 0xFFFFF << 32
"""Bits 32..51 of bpf_skb/xdp_event_output flags: number of packet bytes to append."""

BPF_OBJ_NAME_LEN = 16
"""Size of prog_name/map_name in union bpf_attr, including the NUL."""
BPF_TAG_SIZE = 8
"""Size of the program tag reported by BPF_OBJ_GET_INFO_BY_FD."""
BPF_MAX_INSNS = 4096
"""Instruction limit for programs loaded without CAP_BPF (BPF_MAXINSNS)."""
MAX_BPF_STACK = 512
"""Bytes of stack a BPF program (frame) may use."""
BPF_MAX_LOOPS = 1 << 23
"""include/linux/bpf.h: most iterations bpf_loop() runs, and the may_goto budget of one stack frame."""


ENOTSUPP = 524
"""Kernel-internal errno (include/linux/errno.h) that bpf() returns for unsupported map/program operations."""


@kernel_enum(IntFlag)
class RingbufFlags:
    """Flags of bpf_ringbuf_output/submit/discard (BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP)."""

    NO_WAKEUP = 1
    FORCE_WAKEUP = 2


@kernel_enum(IntEnum)
class RingbufQuery:
    """bpf_ringbuf_query's flags argument (BPF_RB_AVAIL_DATA ...)."""

    AVAIL_DATA = 0
    RING_SIZE = 1
    CONS_POS = 2
    PROD_POS = 3


BPF_RINGBUF_BUSY_BIT = 1 << 31
"""Record header bit: reserved by the producer, not yet committed."""
BPF_RINGBUF_DISCARD_BIT = 1 << 30
"""Record header bit: the record was discarded; skip it."""
BPF_RINGBUF_HDR_SZ = 8
"""Bytes of the header before each ring buffer record (length + flags, page offset)."""


@kernel_enum(IntEnum)
class PerfEventType:
    """Type of the perf event a BPF perf link is attached to (enum bpf_perf_event_type)."""

    UNSPEC = 0
    UPROBE = 1
    URETPROBE = 2
    KPROBE = 3
    KRETPROBE = 4
    TRACEPOINT = 5
    EVENT = 6


@kernel_enum(IntEnum)
class PerfTypeId:
    """perf_event_attr.type (uapi perf_event.h enum perf_type_id)."""

    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


@kernel_enum(IntEnum)
class PerfCountSw:
    """perf_event_attr.config for PERF_TYPE_SOFTWARE (enum perf_sw_ids)."""

    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


@kernel_enum(IntEnum)
class TaskFdType:
    """What BPF_TASK_FD_QUERY found behind a perf fd (enum bpf_task_fd_type)."""

    RAW_TRACEPOINT = 0
    TRACEPOINT = 1
    KPROBE = 2
    KRETPROBE = 3
    UPROBE = 4
    URETPROBE = 5


@kernel_enum(IntEnum)
class AdjRoomMode:
    """mode argument of bpf_skb_adjust_room (enum bpf_adj_room_mode)."""

    NET = 0
    MAC = 1


@kernel_enum(IntEnum)
class HdrStartOff:
    """start_header argument of bpf_skb_load_bytes_relative (enum bpf_hdr_start_off)."""

    MAC = 0
    NET = 1


@kernel_enum(IntEnum)
class LwtEncapMode:
    """type argument of bpf_lwt_push_encap (enum bpf_lwt_encap_mode)."""

    SEG6 = 0
    SEG6_INLINE = 1
    IP = 2


@kernel_enum(IntEnum)
class StackBuildIdStatus:
    """status of a struct bpf_stack_build_id entry in a BPF_F_STACK_BUILD_ID stack map."""

    EMPTY = 0
    VALID = 1
    IP = 2
