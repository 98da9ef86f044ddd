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
"""
from __future__ import annotations

import struct
from typing import Any, Mapping

from pyebpf.abi.context import (BPF_PERF_EVENT_DATA, BPF_RAW_TRACEPOINT_ARGS, MAX_BPF_FUNC_ARGS, PT_REGS, SK_BUFF,
                                TRACE_EVENT_RAW_SYS_ENTER, TRACE_EVENT_RAW_SYS_EXIT, XDP_MD, ContextLayout)
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.errors import VmError
from pyebpf.vm.memory import KIND_CTX, KIND_PACKET

ETH_HLEN = 14
LOOPBACK_IFINDEX = 1
XDP_PACKET_HEADROOM = 256
XDP_FRAME_SIZE = 4096
SIZEOF_XDP_FRAME = 40
"""struct xdp_frame sits at data_hard_start: bpf_xdp_adjust_head/meta may not move data or data_meta into it."""
SKB_SHARED_INFO_SIZE = 320
"""SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64: reserved at the frame's end (xdp_data_hard_end)."""
XDP_METADATA_MAX = 32
ENOTSUPP = 524


def _put(buf: bytearray, layout: ContextLayout, name: str, value: int) -> None:
    f = layout[name]
    buf[f.offset:f.offset + f.size] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")


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


class SkbContext(_Context):
    """struct __sk_buff around `packet`. Field keywords use the struct's names; `cb` takes up to 5 u32s,
    `remote_ip6`/`local_ip6` 4 u32s each; `protocol` is host order (default: the packet's ethertype).
    Unset fields are what BPF_PROG_TEST_RUN (given a zeroed __sk_buff) shows a tc program: ifindex 1 (the
    loopback device), wire_len = len, the rest 0. `packet` is what the program sees from skb->data: for tc the
    frame from its Ethernet header; for a socket filter on an IP socket (and BPF_PROG_TEST_RUN of a socket
    filter) pass it from the network header. The packet is read-only for program types that may not write it."""

    layout = SK_BUFF
    writable_ctx = True

    def __init__(self, packet: bytes, prog_type: ProgType = ProgType.SCHED_CLS, **fields: Any):
        super().__init__()
        self.packet = bytes(packet)
        self.prog_type = ProgType(prog_type)
        self.fields = dict(fields)
        unknown = set(fields) - {f.name.split("[")[0] for f in SK_BUFF.fields} - {"cb"}
        if unknown:
            raise VmError(f"__sk_buff has no field(s) {', '.join(sorted(unknown))}")
        self.packet_region: Any = None

    def _protocol(self) -> int:
        proto = self.fields.get("protocol")
        if proto is None:
            proto = int.from_bytes(self.packet[12:14], "big") if len(self.packet) >= ETH_HLEN else 0
        return int.from_bytes((proto & 0xFFFF).to_bytes(2, "big"), "little")  # stored as __be16

    def materialize(self, m: Any) -> int:
        writable_pkt = self.prog_type in (ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.LWT_XMIT,
                                          ProgType.SK_SKB)
        self.packet_region = m.map_run_region(bytearray(self.packet), "packet", writable_pkt, KIND_PACKET, self)
        m.packet = self.packet_region
        raw = bytearray(SK_BUFF.size)
        f = self.fields
        _put(raw, SK_BUFF, "len", f.get("len", len(self.packet)))
        _put(raw, SK_BUFF, "protocol", self._protocol())
        _put(raw, SK_BUFF, "wire_len", f.get("wire_len", len(self.packet)))
        _put(raw, SK_BUFF, "ifindex", f.get("ifindex", LOOPBACK_IFINDEX))
        for name in ("pkt_type", "mark", "queue_mapping", "vlan_present", "vlan_tci", "vlan_proto", "priority",
                     "ingress_ifindex", "tc_index", "hash", "tc_classid", "napi_id", "family",
                     "remote_ip4", "local_ip4", "remote_port", "local_port", "tstamp", "gso_segs", "gso_size",
                     "tstamp_type", "hwtstamp", "sk"):
            if name in f:
                _put(raw, SK_BUFF, name, f[name])
        for arr, n in (("cb", 5), ("remote_ip6", 4), ("local_ip6", 4)):
            values = list(f.get(arr, ()))
            if len(values) > n:
                raise VmError(f"__sk_buff.{arr} has {n} entries, got {len(values)}")
            for i, v in enumerate(values):
                _put(raw, SK_BUFF, f"{arr}[{i}]", v)
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
        out: dict[str, Any] = {"packet": bytes(self.packet_region.data)}
        for name in _SKB_WRITABLE:
            out[name] = _get(raw, SK_BUFF, name)
        out["cb"] = [_get(raw, SK_BUFF, f"cb[{i}]") for i in range(5)]
        if self.redirect is not None:
            out["redirect"] = self.redirect
        return out

    def verdict(self, r0: int) -> Any:
        if self.prog_type == ProgType.SOCKET_FILTER:
            return min(r0 & 0xFFFFFFFF, len(self.packet))  # bytes of the packet kept (0 = drop)
        if self.prog_type in (ProgType.SCHED_CLS, ProgType.SCHED_ACT):
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
        hard_end = frame_size - SKB_SHARED_INFO_SIZE
        if headroom + len(self.packet) > hard_end:
            raise VmError(f"XDP packet of {len(self.packet)} bytes does not fit a {frame_size}-byte frame")
        self.frame = bytearray(hard_end)
        self.frame[headroom:headroom + len(self.packet)] = self.packet
        self.meta = self.data = headroom
        self.data_end = headroom + len(self.packet)
        self.ingress_ifindex, self.rx_queue_index, self.egress_ifindex = ingress_ifindex, rx_queue_index, \
            egress_ifindex
        self.window: Any = None
        self._m: Any = None

    # The program sees [data_meta, data_end) as one packet region; each adjustment maps a fresh window (the
    # verifier makes programs reload packet pointers after these helpers) and kills the old one, so a stale
    # pointer faults instead of reading moved bytes.
    def _sync_back(self) -> None:
        if self.window is not None and self.window.size:
            self.frame[self.meta:self.data_end] = self.window.data

    def _map_window(self, m: Any) -> None:
        old = self.window
        self.window = m.map_run_region(bytearray(self.frame[self.meta:self.data_end]), "packet", True, KIND_PACKET,
                                       self)
        if old is not None:
            old.size = 0
            old.end = old.base
        m.packet = self.window
        if self.ctx_region is not None:
            self._write_pointers(self.ctx_region.data)

    def _write_pointers(self, raw: bytearray) -> None:
        base = self.window.base
        _put(raw, XDP_MD, "data_meta", base)
        _put(raw, XDP_MD, "data", base + (self.data - self.meta))
        _put(raw, XDP_MD, "data_end", base + (self.data_end - self.meta))

    def materialize(self, m: Any) -> int:
        self._m = m
        self._map_window(m)
        raw = bytearray(XDP_MD.size)
        self._write_pointers(raw)
        _put(raw, XDP_MD, "ingress_ifindex", self.ingress_ifindex)
        _put(raw, XDP_MD, "rx_queue_index", self.rx_queue_index)
        _put(raw, XDP_MD, "egress_ifindex", self.egress_ifindex)
        return self._map_ctx(m, raw)

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
        self._sync_back()
        return bytes(self.frame[self.data:self.data_end])

    def collect(self, m: Any) -> dict[str, Any]:
        self._sync_back()
        out: dict[str, Any] = {"packet": bytes(self.frame[self.data:self.data_end]),
                               "metadata": bytes(self.frame[self.meta:self.data])}
        if self.redirect is not None:
            out["redirect"] = self.redirect
        return out

    def verdict(self, r0: int) -> Any:
        try:
            return XdpAction(r0 & 0xFFFFFFFF)
        except ValueError:
            return r0 & 0xFFFFFFFF


def xdp(packet: bytes, **fields: Any) -> XdpContext:
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


def _trace_entry(type_id: int, pid: int) -> bytes:
    return struct.pack("<HBBi", type_id & 0xFFFF, 0, 0, pid)


class TracepointContext(_BytesContext):
    """Any tracepoint record from its raw bytes (starting with the 8-byte struct trace_entry)."""

    def __init__(self, raw: bytes, layout: ContextLayout | None = None):
        super().__init__(raw, layout or ContextLayout("tracepoint record", len(raw), ()))


class SysEnterContext(TracepointContext):
    """raw_syscalls:sys_enter / syscalls:sys_enter_*: syscall number `id` and up to 6 args."""

    def __init__(self, id: int, args: list[int] | tuple[int, ...] = (), pid: int = 0, type_id: int = 0):
        if len(args) > 6:
            raise VmError(f"sys_enter has 6 args, got {len(args)}")
        a = [int(x) & 0xFFFFFFFFFFFFFFFF for x in args] + [0] * (6 - len(args))
        raw = _trace_entry(type_id, pid) + struct.pack("<q6Q", id, *a)
        super().__init__(raw, TRACE_EVENT_RAW_SYS_ENTER)


class SysExitContext(TracepointContext):
    """raw_syscalls:sys_exit / syscalls:sys_exit_*: syscall number and return value."""

    def __init__(self, id: int, ret: int, pid: int = 0, type_id: int = 0):
        raw = _trace_entry(type_id, pid) + struct.pack("<qq", id, ret)
        super().__init__(raw, TRACE_EVENT_RAW_SYS_EXIT)


_REG_ALIASES = {"rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si", "rdi": "di", "rbp": "bp",
                "rsp": "sp", "rip": "ip", "eflags": "flags", "orig_rax": "orig_ax",
                "arg1": "di", "arg2": "si", "arg3": "dx", "arg4": "cx", "arg5": "r8", "arg6": "r9", "ret": "ax"}


def pt_regs_bytes(regs: Mapping[str, int]) -> bytes:
    """x86-64 struct pt_regs from register names (kernel names 'di', 'ip' or 'rdi', 'rip', or 'arg1'..'arg6')."""
    raw = bytearray(PT_REGS.size)
    for name, value in regs.items():
        key = _REG_ALIASES.get(name.lower(), name.lower())
        try:
            _put(raw, PT_REGS, key, int(value))
        except KeyError:
            raise VmError(f"pt_regs has no register {name!r}") from None
    return bytes(raw)


class KprobeContext(_BytesContext):
    """struct pt_regs (x86-64) of a kprobe/uprobe hit."""

    def __init__(self, regs: Mapping[str, int] | None = None, **kw: int):
        super().__init__(pt_regs_bytes({**(regs or {}), **kw}), PT_REGS)


class RawTracepointContext(_BytesContext):
    """struct bpf_raw_tracepoint_args: u64 args, zero-padded to MAX_BPF_FUNC_ARGS (the verifier's bound)."""

    def __init__(self, args: list[int] | tuple[int, ...] = ()):
        if len(args) > MAX_BPF_FUNC_ARGS:
            raise VmError(f"raw tracepoints have at most {MAX_BPF_FUNC_ARGS} args")
        a = [int(x) & 0xFFFFFFFFFFFFFFFF for x in args] + [0] * (MAX_BPF_FUNC_ARGS - len(args))
        super().__init__(struct.pack(f"<{MAX_BPF_FUNC_ARGS}Q", *a), BPF_RAW_TRACEPOINT_ARGS)


class PerfEventContext(_BytesContext):
    """struct bpf_perf_event_data: registers, sample_period, addr."""

    def __init__(self, regs: Mapping[str, int] | None = None, sample_period: int = 0, addr: int = 0):
        raw = pt_regs_bytes(regs or {}) + struct.pack("<QQ", sample_period, addr)
        super().__init__(raw, BPF_PERF_EVENT_DATA)


# ---- choosing by program type ---------------------------------------------------------------------------------------

_SKB_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB,
                        ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL,
                        ProgType.SK_SKB})


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
    if pt is None or pt == ProgType.XDP:
        return XdpContext(packet, **fields)
    if pt in _SKB_TYPES:
        return SkbContext(packet, pt, **fields)
    raise VmError(f"{pt.name} programs do not take a packet; build their context with pyebpf.vm.context "
                  f"(SysEnterContext, KprobeContext, RawTracepointContext, PerfEventContext, TracepointContext)")


def default_context(prog_type: Any, packet: bytes | None = None, **fields: Any) -> _Context:
    """A context for `prog_type`: around `packet` for packet programs, else from the fields (zeros by default)."""
    pt = _prog_type(prog_type)
    if packet is not None or pt in _SKB_TYPES or pt == ProgType.XDP:
        return for_packet(pt, packet or b"", **fields)
    if pt == ProgType.KPROBE:
        return KprobeContext(fields.pop("regs", None), **fields)
    if pt == ProgType.TRACEPOINT:
        if "raw" in fields:
            return TracepointContext(fields["raw"])
        if "ret" in fields:
            return SysExitContext(fields.get("id", 0), fields["ret"], fields.get("pid", 0))
        return SysEnterContext(fields.get("id", 0), fields.get("args", ()), fields.get("pid", 0))
    if pt in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        return RawTracepointContext(fields.get("args", ()))
    if pt == ProgType.PERF_EVENT:
        return PerfEventContext(fields.get("regs"), fields.get("sample_period", 0), fields.get("addr", 0))
    raise VmError(f"no VM context builder for {pt.name if pt is not None else 'an untyped'} program")


__all__ = ["SkbContext", "XdpContext", "TracepointContext", "SysEnterContext", "SysExitContext", "KprobeContext",
           "RawTracepointContext", "PerfEventContext", "pt_regs_bytes", "for_packet", "default_context", "skb",
           "xdp", "XDP_PACKET_HEADROOM"]
