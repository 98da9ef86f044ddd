"""Register state (struct bpf_reg_state): type, fixed offset, tnum and the eight scalar bounds.

A register is a small mutable object; the engine copies a register (or a whole frame) only when a state is forked
(branches, checkpoints), never per instruction.
"""
from __future__ import annotations

from enum import IntEnum, IntFlag

from pyebpf.verifier.tnum import TNUM_UNKNOWN, U32, U64, Tnum

S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1


class RegType(IntEnum):
    """enum bpf_reg_type base types (include/linux/bpf.h), in kernel order."""

    NOT_INIT = 0
    SCALAR_VALUE = 1
    PTR_TO_CTX = 2
    CONST_PTR_TO_MAP = 3
    PTR_TO_MAP_VALUE = 4
    PTR_TO_MAP_KEY = 5
    PTR_TO_STACK = 6
    PTR_TO_PACKET_META = 7
    PTR_TO_PACKET = 8
    PTR_TO_PACKET_END = 9
    PTR_TO_FLOW_KEYS = 10
    PTR_TO_SOCKET = 11
    PTR_TO_SOCK_COMMON = 12
    PTR_TO_TCP_SOCK = 13
    PTR_TO_TP_BUFFER = 14
    PTR_TO_XDP_SOCK = 15
    PTR_TO_BTF_ID = 16
    PTR_TO_MEM = 17
    PTR_TO_ARENA = 18
    PTR_TO_BUF = 19
    PTR_TO_FUNC = 20
    CONST_PTR_TO_DYNPTR = 21


class RegFlag(IntFlag):
    """enum bpf_type_flag bits that change a register's type (values as in 6.18)."""

    NONE = 0
    PTR_MAYBE_NULL = 1 << 8
    MEM_RDONLY = 1 << 9
    MEM_RINGBUF = 1 << 10
    MEM_USER = 1 << 11
    MEM_PERCPU = 1 << 12
    PTR_UNTRUSTED = 1 << 14
    MEM_ALLOC = 1 << 19
    PTR_TRUSTED = 1 << 20
    MEM_RCU = 1 << 21


BASE_TYPE_MASK = 0xFF
PTR_MAYBE_NULL = int(RegFlag.PTR_MAYBE_NULL)
MEM_RDONLY = int(RegFlag.MEM_RDONLY)
MEM_RINGBUF = int(RegFlag.MEM_RINGBUF)

NOT_INIT = int(RegType.NOT_INIT)
SCALAR_VALUE = int(RegType.SCALAR_VALUE)
PTR_TO_CTX = int(RegType.PTR_TO_CTX)
CONST_PTR_TO_MAP = int(RegType.CONST_PTR_TO_MAP)
PTR_TO_MAP_VALUE = int(RegType.PTR_TO_MAP_VALUE)
PTR_TO_MAP_KEY = int(RegType.PTR_TO_MAP_KEY)
PTR_TO_STACK = int(RegType.PTR_TO_STACK)
PTR_TO_PACKET_META = int(RegType.PTR_TO_PACKET_META)
PTR_TO_PACKET = int(RegType.PTR_TO_PACKET)
PTR_TO_PACKET_END = int(RegType.PTR_TO_PACKET_END)
PTR_TO_SOCKET = int(RegType.PTR_TO_SOCKET)
PTR_TO_SOCK_COMMON = int(RegType.PTR_TO_SOCK_COMMON)
PTR_TO_TCP_SOCK = int(RegType.PTR_TO_TCP_SOCK)
PTR_TO_MEM = int(RegType.PTR_TO_MEM)
PTR_TO_FUNC = int(RegType.PTR_TO_FUNC)
PTR_TO_BTF_ID = int(RegType.PTR_TO_BTF_ID)
PTR_TO_FLOW_KEYS = int(RegType.PTR_TO_FLOW_KEYS)
PTR_TO_MAP_VALUE_OR_NULL = PTR_TO_MAP_VALUE | PTR_MAYBE_NULL
PTR_TO_SOCKET_OR_NULL = PTR_TO_SOCKET | PTR_MAYBE_NULL

_TYPE_NAMES = {
    NOT_INIT: "?", SCALAR_VALUE: "scalar", PTR_TO_CTX: "ctx", CONST_PTR_TO_MAP: "map_ptr",
    PTR_TO_MAP_VALUE: "map_value", PTR_TO_STACK: "fp", PTR_TO_PACKET: "pkt", PTR_TO_PACKET_META: "pkt_meta",
    PTR_TO_PACKET_END: "pkt_end", PTR_TO_FLOW_KEYS: "flow_keys", PTR_TO_SOCKET: "sock",
    PTR_TO_SOCK_COMMON: "sock_common", PTR_TO_TCP_SOCK: "tcp_sock", RegType.PTR_TO_TP_BUFFER: "tp_buffer",
    RegType.PTR_TO_XDP_SOCK: "xdp_sock", PTR_TO_BTF_ID: "ptr_", PTR_TO_MEM: "mem", RegType.PTR_TO_ARENA: "arena",
    RegType.PTR_TO_BUF: "buf", PTR_TO_FUNC: "func", PTR_TO_MAP_KEY: "map_key",
    RegType.CONST_PTR_TO_DYNPTR: "dynptr_ptr",
}


#: the further prefixes of reg_type_str(), in the kernel's order (kernel pointers typed by BTF carry them)
_BTF_PREFIXES = ((RegFlag.MEM_USER, "user_"), (RegFlag.MEM_PERCPU, "percpu_"), (RegFlag.MEM_RCU, "rcu_"),
                 (RegFlag.PTR_UNTRUSTED, "untrusted_"), (RegFlag.PTR_TRUSTED, "trusted_"))
_BTF_FLAGS = int(RegFlag.MEM_USER | RegFlag.MEM_PERCPU | RegFlag.MEM_RCU | RegFlag.PTR_UNTRUSTED | RegFlag.PTR_TRUSTED)


def base_type(t: int) -> int:
    return t & BASE_TYPE_MASK


def reg_type_str(t: int) -> str:
    """The kernel's reg_type_str(): prefix (rdonly_, ringbuf_, ... trusted_) + base name + _or_null
    (`or_null_` after `ptr_`)."""
    prefix = ""
    if t & MEM_RDONLY:
        prefix += "rdonly_"
    if t & MEM_RINGBUF:
        prefix += "ringbuf_"
    if t & _BTF_FLAGS:
        prefix += "".join(name for flag, name in _BTF_PREFIXES if t & flag)
    postfix = ("or_null_" if t & BASE_TYPE_MASK == PTR_TO_BTF_ID else "_or_null") if t & PTR_MAYBE_NULL else ""
    return prefix + _TYPE_NAMES[RegType(t & BASE_TYPE_MASK)] + postfix


def type_is_pkt_pointer(t: int) -> bool:
    return t in (PTR_TO_PACKET, PTR_TO_PACKET_META)


def reg_is_pkt_pointer_any(t: int) -> bool:
    return t in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END)


def type_may_be_null(t: int) -> bool:
    return bool(t & PTR_MAYBE_NULL)


class MapRef:
    """What a CONST_PTR_TO_MAP / PTR_TO_MAP_VALUE register points into: a map spec and its identity."""

    __slots__ = ("name", "spec", "uid")

    def __init__(self, name: str, spec, uid: int) -> None:
        self.name = name
        self.spec = spec
        self.uid = uid

    @property
    def key_size(self) -> int:
        return self.spec.key_size

    @property
    def value_size(self) -> int:
        return self.spec.value_size


class Reg:
    """struct bpf_reg_state, minus BTF details and liveness bits."""

    __slots__ = ("type", "off", "var_off", "smin", "smax", "umin", "umax", "s32_min", "s32_max", "u32_min",
                 "u32_max", "id", "ref_obj_id", "range", "map", "mem_size", "frameno", "subprogno", "precise")

    def __init__(self) -> None:
        self.type = NOT_INIT
        self.off = 0
        self.var_off = TNUM_UNKNOWN
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = S32_MIN, S32_MAX, 0, U32
        self.id = 0
        self.ref_obj_id = 0
        self.range = 0
        self.map: MapRef | None = None
        self.mem_size = 0
        self.frameno = 0
        self.subprogno = 0
        self.precise = False

    def copy(self) -> "Reg":
        # one field per statement: measurably faster than tuple assignments (this runs ~12 times per fork)
        r = _new_reg(Reg)
        r.type = self.type
        r.off = self.off
        r.var_off = self.var_off
        r.smin = self.smin
        r.smax = self.smax
        r.umin = self.umin
        r.umax = self.umax
        r.s32_min = self.s32_min
        r.s32_max = self.s32_max
        r.u32_min = self.u32_min
        r.u32_max = self.u32_max
        r.id = self.id
        r.ref_obj_id = self.ref_obj_id
        r.range = self.range
        r.map = self.map
        r.mem_size = self.mem_size
        r.frameno = self.frameno
        r.subprogno = self.subprogno
        r.precise = self.precise
        return r

    @staticmethod
    def not_init() -> "Reg":
        """A fresh NOT_INIT register, as Reg() (and as mark_reg_not_init leaves one) but without a call chain."""
        r = _new_reg(Reg)
        r.type = 0
        r.off = 0
        r.var_off = TNUM_UNKNOWN
        r.smin = S64_MIN
        r.smax = S64_MAX
        r.umin = 0
        r.umax = U64
        r.s32_min = S32_MIN
        r.s32_max = S32_MAX
        r.u32_min = 0
        r.u32_max = U32
        r.id = 0
        r.ref_obj_id = 0
        r.range = 0
        r.map = None
        r.mem_size = 0
        r.frameno = 0
        r.subprogno = 0
        r.precise = False
        return r

    def assign(self, other: "Reg") -> None:
        """*self = *other."""
        self.type = other.type
        self.off = other.off
        self.var_off = other.var_off
        self.smin = other.smin
        self.smax = other.smax
        self.umin = other.umin
        self.umax = other.umax
        self.s32_min = other.s32_min
        self.s32_max = other.s32_max
        self.u32_min = other.u32_min
        self.u32_max = other.u32_max
        self.id = other.id
        self.ref_obj_id = other.ref_obj_id
        self.range = other.range
        self.map = other.map
        self.mem_size = other.mem_size
        self.frameno = other.frameno
        self.subprogno = other.subprogno
        self.precise = other.precise

    @property
    def is_scalar(self) -> bool:
        return self.type == SCALAR_VALUE

    @property
    def is_pointer(self) -> bool:
        return self.type not in (NOT_INIT, SCALAR_VALUE)

    @property
    def is_const(self) -> bool:
        return self.type == SCALAR_VALUE and not self.var_off.mask

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        from pyebpf.verifier.log import reg_state_str
        return f"Reg({reg_state_str(self, 0)})"


_new_reg = object.__new__
