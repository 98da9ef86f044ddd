"""Program contexts for the VM, built from Python values, laid out as the kernel's UAPI structs (pyebpf.abi.context).

Each builder has `materialize(machine) -> r1` (maps the context and packet regions for one run) and
`collect(machine) -> dict` (what the program changed: the packet as modified, writable fields, a redirect), plus
`verdict(r0)` that names the return value (XdpAction, TcAction, bytes kept by a socket filter).

* `SkbContext` — struct __sk_buff for socket filter, tc (sched_cls/act), cgroup_skb and lwt programs: packet data,
  len, protocol (host order in Python, network order in the struct as the kernel keeps it; by default the packet's
  ethertype), ifindex, mark, priority, cb[5], data/data_end/data_meta as u32 addresses, ...
* `XdpContext` — struct xdp_md with data/data_meta/data_end in a frame with the kernel's 256 bytes of headroom and
  4096-byte frame, so bpf_xdp_adjust_head/tail/meta work (and fail) as in the kernel.
* `SysEnterContext` / `SysExitContext` — raw_syscalls sys_enter/sys_exit tracepoint records; `TracepointContext`
  for any tracepoint record given as bytes.
* `KprobeContext` — x86-64 struct pt_regs from register names ("di", "rdi", "arg1", "ip", ...).
* `RawTracepointContext` — u64 args; `PerfEventContext` — struct bpf_perf_event_data.

`default_context(prog_type, packet=..., **fields)` / `for_packet(prog_type, packet, **fields)` pick the builder of
a program type.

Every builder checks its fields when constructed, against the widths of the abi.context layout: an unknown name,
a value that is not an integer, an integer wider than its field (signed or unsigned spelling both fit), a list too
long or not a list, registers not given as a mapping are a `ContextError` (a VmError and a ValueError) naming
`struct.field` -- never a struct.error or TypeError in the middle of a run.
"""
from __future__ import annotations

import operator
import struct
from typing import Any, Callable, Mapping

from pyebpf.abi.context import (BPF_PERF_EVENT_DATA, BPF_RAW_TRACEPOINT_ARGS, MAX_BPF_FUNC_ARGS, PT_REGS, SK_BUFF,
                                TRACE_EVENT_RAW_SYS_ENTER, TRACE_EVENT_RAW_SYS_EXIT, XDP_MD, ContextLayout, FieldKind)
from pyebpf.abi.net import ETH_HLEN, ETH_P_802_3_MIN, EtherType
from pyebpf.abi.prog_kinds import (has_skb_context, is_packet_program, is_raw_tracepoint, is_tc, may_write_packet,
                                   prog_test_run_pulls_l2)
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.errors import VmError
from pyebpf.vm.memory import KIND_CTX, KIND_PACKET

LOOPBACK_IFINDEX = 1
XDP_PACKET_HEADROOM = 256
XDP_FRAME_SIZE = 4096
SIZEOF_XDP_FRAME = 40
"""struct xdp_frame sits at data_hard_start: bpf_xdp_adjust_head/meta may not move data or data_meta into it."""
SKB_SHARED_INFO_SIZE = 320
"""SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64: reserved at the frame's end (xdp_data_hard_end)."""
XDP_METADATA_MAX = 32
_XDP_HARD_END = XDP_FRAME_SIZE - SKB_SHARED_INFO_SIZE


class ContextError(VmError, ValueError):
    """A context builder was given a field it cannot hold: an unknown name, a value that is not an integer (or not
    a list / an object where one is expected), or an integer wider than the field. Raised when the builder is
    constructed, naming the struct and field, so bad input never surfaces later as struct.error or TypeError."""


def _int_value(where: str, value: Any, size: int) -> int:
    """`value` for a field of `size` bytes: an integer in [-2**(bits-1), 2**bits) (signed or unsigned spelling),
    returned as the unsigned field value."""
    if isinstance(value, bool):  # an int to Python, but True for a field is a mistake, not 1
        raise ContextError(f"{where}: expected an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ContextError(f"{where}: expected an integer, got {type(value).__name__} {value!r}") from None
    bits = 8 * size
    if not -(1 << (bits - 1)) <= number < (1 << bits):
        raise ContextError(f"{where}: {number} does not fit the field's {bits} bits")
    return number & ((1 << bits) - 1)


def _int_list(where: str, value: Any, count: int, size: int) -> list[int]:
    """Up to `count` integers of `size` bytes each (a list or tuple), as unsigned field values."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, (list, tuple)):
        raise ContextError(f"{where}: expected a list of up to {count} integers, got {type(value).__name__} "
                           f"{value!r}")
    if len(value) > count:
        raise ContextError(f"{where}: has {count} entries, got {len(value)}")
    return [_int_value(f"{where}[{i}]", v, size) for i, v in enumerate(value)]


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContextError(f"{where}: expected an object of register names, got {type(value).__name__} {value!r}")
    return value


def _no_unknown(struct_name: str, given: Any, known: Any) -> None:
    unknown = set(given) - set(known)
    if unknown:
        raise ContextError(f"{struct_name} has no field(s) {', '.join(sorted(map(str, unknown)))} "
                           f"(known: {', '.join(sorted(known))})")


def _pack(layout: ContextLayout, values: Mapping[str, int], size: int | None = None) -> bytearray:
    """The struct's bytes with `values` (layout field name -> unsigned value already checked) at their offsets."""
    raw = bytearray(layout.size if size is None else size)
    for name, value in values.items():
        _put(raw, layout, name, value)
    return raw


def _put(buf: bytearray, layout: ContextLayout, name: str, value: int) -> None:
    f = layout[name]
    buf[f.offset:f.offset + f.size] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")


def _packer(layout: ContextLayout, names: tuple[str, ...]) -> struct.Struct:
    """One struct.Struct that packs `names` (in that order) at their layout offsets: a context written in one call
    instead of a layout lookup and a to_bytes per field. Gaps between the fields are pad bytes."""
    fields = sorted((layout[n] for n in names), key=lambda f: f.offset)
    if [f.name for f in fields] != list(names):
        raise ValueError(f"{layout.name}: pack names in offset order")
    fmt, at = "<", 0
    for f in fields:
        fmt += "x" * (f.offset - at) + {1: "B", 2: "H", 4: "I", 8: "Q"}[f.size]
        at = f.offset + f.size
    return struct.Struct(fmt)


def _get(buf: bytes, layout: ContextLayout, name: str) -> int:
    f = layout[name]
    return int.from_bytes(buf[f.offset:f.offset + f.size], "little")


class _Context:
    """Shared bookkeeping: the context region, the packet region, a redirect target."""

    layout: ContextLayout
    writable_ctx = False

    def __init__(self) -> None:
        self.ctx_region: Any = None
        self.redirect: tuple[int, int] | None = None

    def _map_ctx(self, m: Any, raw: bytearray) -> int:
        self.ctx_region = m.map_run_region(raw, self.layout.name, self.writable_ctx, KIND_CTX, self)
        m.ctx_region = self.ctx_region
        return self.ctx_region.base

    def collect(self, m: Any) -> dict[str, Any]:
        return {}

    def verdict(self, r0: int) -> Any:
        return r0


# ---- __sk_buff -----------------------------------------------------------------------------------------------------

_SKB_WRITABLE = ("mark", "priority", "queue_mapping", "tc_index", "tc_classid", "tstamp")
_SKB_COMPUTED = frozenset({FieldKind.PKT, FieldKind.PKT_END, FieldKind.PKT_META, FieldKind.FLOW_KEYS,
                           FieldKind.PADDING})
"""__sk_buff fields the builder computes (packet pointers) or that hold no value: not settable."""


def _skb_settable() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """From the layout: settable scalar fields (name -> bytes) and array fields (name -> (entries, bytes each))."""
    scalars: dict[str, int] = {}
    arrays: dict[str, tuple[int, int]] = {}
    for f in SK_BUFF.fields:
        if f.kind in _SKB_COMPUTED:
            continue
        name, bracket, _ = f.name.partition("[")
        if bracket:
            arrays[name] = (arrays.get(name, (0, f.size))[0] + 1, f.size)
        else:
            scalars[name] = f.size
    return scalars, arrays


_SKB_SCALARS, _SKB_ARRAYS = _skb_settable()




def _eth_type_trans(frame: bytes) -> int:
    """skb->protocol as eth_type_trans computes it (host order): the ethertype, or for an 802.3 length field
    ETH_P_802_3 (raw IPX, payload starting 0xFFFF) / ETH_P_802_2 (an LLC header)."""
    proto = int.from_bytes(frame[12:14], "big")
    if proto >= ETH_P_802_3_MIN:
        return proto
    return EtherType.P_802_3 if frame[ETH_HLEN:ETH_HLEN + 2] == b"\xff\xff" else EtherType.P_802_2


PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 2, 3


def _loopback_pkt_type(frame: bytes) -> int:
    """skb->pkt_type as eth_type_trans sets it on the loopback device (BPF_PROG_TEST_RUN's): PACKET_HOST for its
    all-zero address, PACKET_MULTICAST for a group address (broadcast too: lo's broadcast address is all zeros),
    PACKET_OTHERHOST otherwise."""
    if len(frame) < ETH_HLEN or frame[:6] == bytes(6):
        return PACKET_HOST
    return PACKET_MULTICAST if frame[0] & 1 else PACKET_OTHERHOST


class SkbContext(_Context):
    """struct __sk_buff around `packet`. Field keywords use the struct's names; `cb` takes up to 5 u32s,
    `remote_ip6`/`local_ip6` 4 u32s each; `protocol` is host order (default: the packet's ethertype).
    Unset fields are what BPF_PROG_TEST_RUN (given a zeroed __sk_buff) shows: ifindex 1 (the loopback device),
    wire_len = len, pkt_type as eth_type_trans on lo sets it from the destination MAC, the rest 0. `packet` is the Ethernet frame, as BPF_PROG_TEST_RUN takes it; like
    bpf_prog_test_run_skb, tc programs (SCHED_CLS/ACT, the L2 types) see skb->data at the Ethernet header, while the
    other test-run types (socket filter, cgroup_skb, lwt) see it after eth_type_trans: from the network header,
    len = len(frame) - 14, protocol from the ethertype; their packet comes back with the 14 Ethernet bytes zeroed
    (the kernel pushes the header back and memsets it). Those types refuse a frame shorter than an Ethernet header
    (the kernel's EINVAL). The packet is read-only for program types that may not write it."""

    layout = SK_BUFF
    writable_ctx = True

    def __init__(self, packet: bytes, prog_type: ProgType = ProgType.SCHED_CLS, **fields: Any):
        super().__init__()
        self.packet = bytes(packet)
        self.prog_type = ProgType(prog_type)
        self.fields = dict(fields)
        _no_unknown("__sk_buff", fields, set(_SKB_SCALARS) | set(_SKB_ARRAYS))
        self.values: dict[str, int] = {}
        """The fields given, checked: layout field name ("mark", "cb[2]") -> unsigned value."""
        for name, value in fields.items():
            if name in _SKB_ARRAYS:
                for i, v in enumerate(_int_list(f"__sk_buff.{name}", value, *_SKB_ARRAYS[name])):
                    self.values[f"{name}[{i}]"] = v
            else:
                where = f"__sk_buff.{name}"
                size = 2 if name == "protocol" else _SKB_SCALARS[name]  # protocol holds a __be16
                self.values[name] = _int_value(where, value, size)
        self.packet_region: Any = None
        self.pulled = ETH_HLEN if prog_test_run_pulls_l2(self.prog_type) else 0
        """Bytes of Ethernet header eth_type_trans pulled before the program runs (the skb starts after them)."""
        if len(self.packet) < self.pulled:
            raise ContextError(f"{self.prog_type.name} packet of {len(self.packet)} bytes is shorter than an "
                               f"Ethernet header ({ETH_HLEN} bytes): BPF_PROG_TEST_RUN refuses it (EINVAL)")

    @property
    def data(self) -> bytes:
        """What the program sees from skb->data."""
        return self.packet[self.pulled:]

    def _protocol(self) -> int:
        proto = self.values.get("protocol")
        if proto is None:
            proto = _eth_type_trans(self.packet) if len(self.packet) >= ETH_HLEN else 0
        return int.from_bytes(proto.to_bytes(2, "big"), "little")  # stored as __be16

    def materialize(self, m: Any) -> int:
        self.packet_region = m.map_run_region(bytearray(self.data), "packet", may_write_packet(self.prog_type),
                                              KIND_PACKET, self)
        m.packet = self.packet_region
        defaults = {"len": len(self.data), "wire_len": len(self.data), "ifindex": LOOPBACK_IFINDEX,
                    "pkt_type": _loopback_pkt_type(self.packet)}
        raw = _pack(SK_BUFF, {**defaults, **self.values, "protocol": self._protocol()})
        base, end = self.packet_region.base, self.packet_region.end
        _put(raw, SK_BUFF, "data", base)
        _put(raw, SK_BUFF, "data_end", end)
        _put(raw, SK_BUFF, "data_meta", base)
        return self._map_ctx(m, raw)

    def event_packet(self) -> bytes:
        """The packet as bpf_skb_event_output appends it."""
        return bytes(self.packet_region.data)

    def collect(self, m: Any) -> dict[str, Any]:
        raw = bytes(self.ctx_region.data)
        out: dict[str, Any] = {"packet": bytes(self.pulled) + bytes(self.packet_region.data)}
        for name in _SKB_WRITABLE:
            out[name] = _get(raw, SK_BUFF, name)
        out["cb"] = [_get(raw, SK_BUFF, f"cb[{i}]") for i in range(5)]
        if self.redirect is not None:
            out["redirect"] = self.redirect
        return out

    def verdict(self, r0: int) -> Any:
        if self.prog_type == ProgType.SOCKET_FILTER:
            return min(r0 & 0xFFFFFFFF, len(self.data))  # bytes of the skb kept (0 = drop)
        if is_tc(self.prog_type):
            v = r0 & 0xFFFFFFFF
            v = v - (1 << 32) if v >> 31 else v
            try:
                return TcAction(v)
            except ValueError:
                return v
        return r0


def skb(packet: bytes, prog_type: ProgType = ProgType.SCHED_CLS, **fields: Any) -> SkbContext:
    return SkbContext(packet, prog_type, **fields)


# ---- xdp_md ---------------------------------------------------------------------------------------------------------

class XdpContext(_Context):
    """struct xdp_md around `packet`, in a frame of XDP_FRAME_SIZE bytes with XDP_PACKET_HEADROOM of headroom."""

    layout = XDP_MD

    def __init__(self, packet: bytes, ingress_ifindex: int = 1, rx_queue_index: int = 0, egress_ifindex: int = 0,
                 headroom: int = XDP_PACKET_HEADROOM, frame_size: int = XDP_FRAME_SIZE):
        super().__init__()
        self.packet = bytes(packet)
        ingress_ifindex, rx_queue_index, egress_ifindex = (
            _int_value(f"xdp_md.{name}", value, XDP_MD[name].size) for name, value in
            (("ingress_ifindex", ingress_ifindex), ("rx_queue_index", rx_queue_index),
             ("egress_ifindex", egress_ifindex)))
        headroom = _int_value("XDP headroom", headroom, 4)
        frame_size = _int_value("XDP frame_size", frame_size, 4)
        hard_end = frame_size - SKB_SHARED_INFO_SIZE
        if headroom + len(self.packet) > hard_end:
            raise ContextError(f"XDP packet of {len(self.packet)} bytes does not fit a {frame_size}-byte frame "
                               f"with {headroom} bytes of headroom")
        self._frame_up(headroom, hard_end, ingress_ifindex, rx_queue_index, egress_ifindex)

    def _frame_up(self, headroom: int, hard_end: int, ingress_ifindex: int, rx_queue_index: int,
                  egress_ifindex: int) -> None:
        self._frame: bytearray | None = None  # built when first needed (most runs never adjust the packet)
        self._hard_end = hard_end
        self.meta = self.data = headroom
        self.data_end = headroom + len(self.packet)
        self.ingress_ifindex, self.rx_queue_index, self.egress_ifindex = ingress_ifindex, rx_queue_index, \
            egress_ifindex
        self.window: Any = None
        self._m: Any = None

    @property
    def frame(self) -> bytearray:
        """The whole frame, [0, xdp_data_hard_end): headroom, metadata, packet, tailroom."""
        frame = self._frame
        if frame is None:  # nothing moved yet: the packet sits at the headroom, data == data_meta
            frame = self._frame = bytearray(self._hard_end)
            frame[self.data:self.data_end] = self.packet
        return frame

    @classmethod
    def default(cls, packet: bytes) -> "XdpContext":
        """The context BPF_PROG_TEST_RUN gives a packet with no ctx_in (the VM's `run(packet=...)`): every field
        at its default, so nothing to check but the packet's length."""
        self = cls.__new__(cls)  # the other attributes are the class-level defaults below
        self.packet = packet = bytes(packet)
        end = XDP_PACKET_HEADROOM + len(packet)
        if end > _XDP_HARD_END:
            raise ContextError(f"XDP packet of {len(packet)} bytes does not fit a {XDP_FRAME_SIZE}-byte frame "
                               f"with {XDP_PACKET_HEADROOM} bytes of headroom")
        self.data_end = end
        return self

    # Defaults of a `default()` context (the constructor sets each on the instance).
    ctx_region: Any = None
    redirect: tuple[int, int] | None = None
    window: Any = None
    _wdata: bytearray | None = None
    _m: Any = None
    _frame: bytearray | None = None
    meta = data = XDP_PACKET_HEADROOM
    ingress_ifindex, rx_queue_index, egress_ifindex = LOOPBACK_IFINDEX, 0, 0
    _hard_end = XDP_FRAME_SIZE - SKB_SHARED_INFO_SIZE

    # The program sees [data_meta, data_end) as one packet region; each adjustment maps a fresh window (the
    # verifier makes programs reload packet pointers after these helpers) and kills the old one, so a stale
    # pointer faults instead of reading moved bytes.
    def _sync_back(self) -> None:
        if self._wdata is not None:  # the window's bytes (its Region is rebound by the machine's next run)
            self.frame[self.meta:self.data_end] = self._wdata

    def _map_window(self, m: Any) -> None:
        old = self.window
        data = bytearray(self.packet) if self._frame is None else self.frame[self.meta:self.data_end]
        self.window = m.map_run_region(data, "packet", True, KIND_PACKET, self)
        self._wdata = data
        if old is not None:
            old.size = 0
            old.end = old.base
        m.packet = self.window
        if self.ctx_region is not None:
            self._write_pointers(self.ctx_region.data)

    def _write_pointers(self, raw: bytearray) -> None:
        base = self.window.base
        _XDP_POINTERS.pack_into(raw, 0, base + (self.data - self.meta), base + (self.data_end - self.meta), base)

    def materialize(self, m: Any) -> int:
        # The first window and the xdp_md are the regions every XDP run maps: the machine rebinds the ones of its
        # last run (this context keeps its own reference to the bytes for reading after the run).
        self._m = m
        data = self._wdata = bytearray(self.packet) if self._frame is None else self.frame[self.meta:self.data_end]
        window = self.window = m.reuse_run_region(data, "packet", True, KIND_PACKET, self)
        m.packet = window
        base = window.base
        meta = self.meta
        raw = bytearray(_XDP_ALL.pack(base + (self.data - meta), base + (self.data_end - meta), base,
                                      self.ingress_ifindex, self.rx_queue_index, self.egress_ifindex))
        region = self.ctx_region = m.ctx_region = m.reuse_run_region(raw, "xdp_md", False, KIND_CTX, self)
        return region.base

    def adjust_head(self, m: Any, delta: int) -> int:
        """bpf_xdp_adjust_head (net/core/filter.c): 0 or -EINVAL."""
        self._sync_back()
        metalen = self.data - self.meta
        data = self.data + delta
        if data < SIZEOF_XDP_FRAME + metalen or data > self.data_end - ETH_HLEN:
            return -22
        if metalen:
            self.frame[self.meta + delta:self.meta + delta + metalen] = self.frame[self.meta:self.data]
        self.meta += delta
        self.data = data
        self._map_window(m)
        return 0

    def adjust_tail(self, m: Any, delta: int) -> int:
        """bpf_xdp_adjust_tail: 0 or -EINVAL; grown bytes are zeroed."""
        self._sync_back()
        end = self.data_end + delta
        if end > len(self.frame) or end < self.data + ETH_HLEN:
            return -22
        if delta > 0:
            self.frame[self.data_end:end] = bytes(delta)
        self.data_end = end
        self._map_window(m)
        return 0

    def adjust_meta(self, m: Any, delta: int) -> int:
        """bpf_xdp_adjust_meta: 0, -EINVAL (out of the headroom / past data) or -EACCES (length not 4-aligned or
        over 32 bytes)."""
        self._sync_back()
        meta = self.meta + delta
        if meta < SIZEOF_XDP_FRAME or meta > self.data:
            return -22
        metalen = self.data - meta
        if metalen & 3 or metalen > XDP_METADATA_MAX:
            return -13
        self.meta = meta
        self._map_window(m)
        return 0

    def event_packet(self) -> bytes:
        """The packet as bpf_xdp_event_output appends it."""
        if self._frame is None:
            return bytes(self._wdata) if self.window is not None else self.packet
        self._sync_back()
        return bytes(self.frame[self.data:self.data_end])

    def collect(self, m: Any) -> dict[str, Any]:
        if self._frame is None:
            out: dict[str, Any] = {"packet": self.event_packet(), "metadata": b""}
        else:
            self._sync_back()
            out = {"packet": bytes(self.frame[self.data:self.data_end]),
                   "metadata": bytes(self.frame[self.meta:self.data])}
        if self.redirect is not None:
            out["redirect"] = self.redirect
        return out

    def verdict(self, r0: int) -> Any:
        v = r0 & 0xFFFFFFFF
        return _XDP_ACTIONS.get(v, v)


_XDP_ACTIONS = {int(a): a for a in XdpAction}
"""XdpAction by value, looked up instead of calling the enum on every run."""
_XDP_POINTERS = _packer(XDP_MD, ("data", "data_end", "data_meta"))
_XDP_ALL = _packer(XDP_MD, ("data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex"))
if _XDP_ALL.size != XDP_MD.size:
    raise ImportError("xdp_md packer does not cover the struct")


XDP_FIELDS = ("ingress_ifindex", "rx_queue_index", "egress_ifindex", "headroom", "frame_size")
"""Keywords of XdpContext besides the packet."""


def xdp(packet: bytes, **fields: Any) -> XdpContext:
    _no_unknown("xdp_md", fields, XDP_FIELDS)
    return XdpContext(packet, **fields)


# ---- tracing contexts ---------------------------------------------------------------------------------------------

class _BytesContext(_Context):
    """A read-only context given by its bytes (tracepoint records, pt_regs, raw tp args)."""

    def __init__(self, raw: bytes, layout: ContextLayout):
        super().__init__()
        self.raw = bytes(raw)
        self.layout = layout

    def materialize(self, m: Any) -> int:
        return self._map_ctx(m, bytearray(self.raw))


def _trace_entry(struct_name: str, type_id: Any, pid: Any) -> dict[str, int]:
    """struct trace_entry's fields (common_type, common_pid) checked against their widths."""
    return {"common_type": _int_value(f"{struct_name}.type_id", type_id, 2),
            "common_pid": _int_value(f"{struct_name}.pid", pid, 4)}


def _fields_of(layout: ContextLayout, struct_name: str, **values: Any) -> dict[str, int]:
    """Keyword (= layout field name) -> checked unsigned value, widths from the layout."""
    return {name: _int_value(f"{struct_name}.{name}", v, layout[name].size) for name, v in values.items()}


class TracepointContext(_BytesContext):
    """Any tracepoint record from its raw bytes (starting with the 8-byte struct trace_entry)."""

    def __init__(self, raw: bytes, layout: ContextLayout | None = None):
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise ContextError(f"tracepoint record: expected bytes, got {type(raw).__name__}")
        super().__init__(raw, layout or ContextLayout("tracepoint record", len(raw), ()))


class SysEnterContext(TracepointContext):
    """raw_syscalls:sys_enter / syscalls:sys_enter_*: syscall number `id` and up to 6 args."""

    FIELDS = ("id", "args", "pid", "type_id")

    def __init__(self, id: int, args: list[int] | tuple[int, ...] = (), pid: int = 0, type_id: int = 0):
        layout, name = TRACE_EVENT_RAW_SYS_ENTER, "sys_enter"
        values = {**_trace_entry(name, type_id, pid), **_fields_of(layout, name, id=id)}
        for i, v in enumerate(_int_list(f"{name}.args", args, 6, layout["args[0]"].size)):
            values[f"args[{i}]"] = v
        super().__init__(_pack(layout, values), layout)


class SysExitContext(TracepointContext):
    """raw_syscalls:sys_exit / syscalls:sys_exit_*: syscall number and return value."""

    FIELDS = ("id", "ret", "pid", "type_id")

    def __init__(self, id: int, ret: int, pid: int = 0, type_id: int = 0):
        layout, name = TRACE_EVENT_RAW_SYS_EXIT, "sys_exit"
        values = {**_trace_entry(name, type_id, pid), **_fields_of(layout, name, id=id, ret=ret)}
        super().__init__(_pack(layout, values), layout)


_REG_ALIASES = {"rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si", "rdi": "di", "rbp": "bp",
                "rsp": "sp", "rip": "ip", "eflags": "flags", "orig_rax": "orig_ax",
                "arg1": "di", "arg2": "si", "arg3": "dx", "arg4": "cx", "arg5": "r8", "arg6": "r9", "ret": "ax"}


def _pt_regs_values(regs: Mapping[str, Any], where: str = "pt_regs") -> dict[str, int]:
    """Register name (kernel, r-prefixed or argN spelling) -> checked u64, keyed by the pt_regs field name."""
    values: dict[str, int] = {}
    for name, value in _mapping(where, regs).items():
        key = _REG_ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
        try:
            size = PT_REGS[key].size
        except KeyError:
            raise ContextError(f"pt_regs has no register {name!r}") from None
        values[key] = _int_value(f"{where}.{name}", value, size)
    return values


def pt_regs_bytes(regs: Mapping[str, int]) -> bytes:
    """x86-64 struct pt_regs from register names (kernel names 'di', 'ip' or 'rdi', 'rip', or 'arg1'..'arg6')."""
    return bytes(_pack(PT_REGS, _pt_regs_values(regs)))


class KprobeContext(_BytesContext):
    """struct pt_regs (x86-64) of a kprobe/uprobe hit."""

    def __init__(self, regs: Mapping[str, int] | None = None, **kw: int):
        super().__init__(pt_regs_bytes({**_mapping("pt_regs", regs or {}), **kw}), PT_REGS)


class RawTracepointContext(_BytesContext):
    """struct bpf_raw_tracepoint_args: u64 args, zero-padded to MAX_BPF_FUNC_ARGS (the verifier's bound)."""

    FIELDS = ("args",)

    def __init__(self, args: list[int] | tuple[int, ...] = ()):
        layout = BPF_RAW_TRACEPOINT_ARGS
        values = {f"args[{i}]": v for i, v in enumerate(
            _int_list("bpf_raw_tracepoint_args.args", args, MAX_BPF_FUNC_ARGS, layout["args[0]"].size))}
        super().__init__(_pack(layout, values), layout)


class PerfEventContext(_BytesContext):
    """struct bpf_perf_event_data: registers, sample_period, addr."""

    FIELDS = ("regs", "sample_period", "addr")

    def __init__(self, regs: Mapping[str, int] | None = None, sample_period: int = 0, addr: int = 0):
        layout, name = BPF_PERF_EVENT_DATA, "bpf_perf_event_data"
        values = {f"regs.{k}": v for k, v in _pt_regs_values(regs or {}, f"{name}.regs").items()}
        values.update(_fields_of(layout, name, sample_period=sample_period, addr=addr))
        super().__init__(_pack(layout, values), layout)


# ---- choosing by program type ---------------------------------------------------------------------------------------

def _prog_type(prog_type: Any) -> ProgType | None:
    if prog_type is None:
        return None
    if isinstance(prog_type, str):
        from pyebpf.abi.prog_types import parse_prog_type

        return parse_prog_type(prog_type)
    return ProgType(prog_type)


def for_packet(prog_type: Any, packet: bytes, **fields: Any) -> _Context:
    """The context of a packet program type around `packet` (XDP when the type is unknown)."""
    pt = _prog_type(prog_type)
    if not isinstance(packet, (bytes, bytearray, memoryview)):
        raise ContextError(f"packet: expected bytes, got {type(packet).__name__}")
    if pt is None or pt == ProgType.XDP:
        return xdp(packet, **fields)
    if has_skb_context(pt):
        return SkbContext(packet, pt, **fields)
    raise VmError(f"{pt.name} programs do not take a packet; build their context with pyebpf.vm.context "
                  f"(SysEnterContext, KprobeContext, RawTracepointContext, PerfEventContext, TracepointContext)")


def packet_builder(prog_type: Any) -> Callable[[bytes], _Context]:
    """`packet -> context` for run(packet=...) without fields, the program type resolved once (a VM asks once)."""
    pt = _prog_type(prog_type)
    if pt is None or pt == ProgType.XDP:
        return XdpContext.default
    if has_skb_context(pt):
        return lambda packet: SkbContext(packet, pt)
    return lambda packet: for_packet(pt, packet)  # refuses with the reason


def _tracepoint(fields: dict[str, Any]) -> _Context:
    if "raw" in fields:
        _no_unknown("tracepoint record", fields, ("raw",))
        return TracepointContext(fields["raw"])
    cls: Any = SysExitContext if "ret" in fields else SysEnterContext
    _no_unknown("sys_exit" if "ret" in fields else "sys_enter", fields, cls.FIELDS)
    return cls(**{"id": 0, **fields})


def default_context(prog_type: Any, packet: bytes | None = None, **fields: Any) -> _Context:
    """A context for `prog_type`: around `packet` for packet programs, else from the fields (zeros by default).
    Unknown field names and values that do not fit their fields raise ContextError."""
    pt = _prog_type(prog_type)
    if packet is not None or is_packet_program(pt):
        return for_packet(pt, b"" if packet is None else packet, **fields)
    if pt == ProgType.KPROBE:
        return KprobeContext(fields.pop("regs", None), **fields)
    if pt == ProgType.TRACEPOINT:
        return _tracepoint(fields)
    if is_raw_tracepoint(pt):
        _no_unknown("bpf_raw_tracepoint_args", fields, RawTracepointContext.FIELDS)
        return RawTracepointContext(**fields)
    if pt == ProgType.PERF_EVENT:
        _no_unknown("bpf_perf_event_data", fields, PerfEventContext.FIELDS)
        return PerfEventContext(**fields)
    raise VmError(f"no VM context builder for {pt.name if pt is not None else 'an untyped'} program")


__all__ = ["ContextError", "SkbContext", "XdpContext", "TracepointContext", "SysEnterContext", "SysExitContext",
           "KprobeContext", "RawTracepointContext", "PerfEventContext", "pt_regs_bytes", "for_packet",
           "default_context", "packet_builder", "skb", "xdp", "XDP_PACKET_HEADROOM", "XDP_FIELDS"]
