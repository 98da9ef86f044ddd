"""Run one Program in the VM and in the kernel on the same input and say where they differ.

    with Differential(program) as diff:              # loads it into the kernel when bpf() is permitted
        for pkt in packets:
            diff.run(packet=pkt).check()             # AssertionError naming every difference

    assert_vm_matches_kernel(program, packet=pkt)    # one-shot form (loads, runs, closes)

Compared after each run: the return value (BPF_PROG_TEST_RUN reports R0's low 32 bits, so that is what is
compared), the packet as the program left it, the __sk_buff fields both sides report back (mark, priority, cb[],
tstamp), the contents of every map whose contents are plain data (hash, array, LRU, LPM, their per-CPU
variants), and the records each run submitted to ring buffers (in order). Perf event arrays, program arrays,
queues and stacks are not compared.

Maps persist across runs on both sides (like one loaded program fed a stream of packets), so a run's map contents
reflect every earlier input too. The kernel side runs pinned to CPU 0, the CPU the VM's Environment reports, so
per-CPU maps line up.

Where bpf() is not permitted the kernel side is skipped (`Comparison.kernel is None`, `.skipped` says why) unless
`kernel=True` was asked for. Program types BPF_PROG_TEST_RUN does not run (tracepoints, kprobes) are VM-only for
the same reason. An input the kernel refuses to run (a packet shorter than an Ethernet header) is reported in
`.skipped`, not as a difference, and its effect on the VM's maps is undone so that both sides stay in step.
"""
from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Mapping

from pyebpf.abi.context import SK_BUFF, XDP_MD
from pyebpf.abi.maps import MapType
from pyebpf.abi.net import ETH_HLEN
from pyebpf.abi.prog_kinds import TEST_RUN, ProgTestRun, is_packet_program, prog_test_run_single_shot
from pyebpf.abi.prog_types import ProgType, parse_prog_type
from pyebpf.errors import LoaderError, PyebpfError, VmError
from pyebpf.isa.program import Program
from pyebpf.testing.kernel_probe import bpf_unavailable_reason

COMPARED_MAP_TYPES = frozenset({MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY,
                                MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.LPM_TRIE})
"""Maps whose contents are plain data both sides can list."""

TEST_RUN_TYPES = frozenset(pt for pt, run in TEST_RUN.items()
                           if run in (ProgTestRun.SKB, ProgTestRun.XDP, ProgTestRun.RAW_TP))
"""Program types BPF_PROG_TEST_RUN runs with a context the VM builds too (bpf_prog_test_run_xdp/_skb/_raw_tp)."""
SKB_ECHOED_FIELDS = ("mark", "priority", "tstamp")
"""Scalar __sk_buff fields BPF_PROG_TEST_RUN copies back (convert_skb_to___skb) that the VM reports too."""


@dataclass
class Outcome:
    """What one side produced: `retval` (low 32 bits of R0), the packet after the run, map contents, the echoed
    context fields, or the error that stopped the run."""

    side: str
    retval: int | None = None
    packet: bytes | None = None
    maps: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)
    ring: dict[str, list[bytes]] = field(default_factory=dict)
    """Records submitted to each ring buffer map during the run, in order."""
    error: str | None = None
    r0: int | None = None
    """The full 64-bit R0 (VM only; the kernel reports 32 bits)."""


@dataclass
class Comparison:
    """The two outcomes of one input and their differences (empty when they agree or nothing was compared)."""

    vm: Outcome
    kernel: Outcome | None
    differences: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def compared(self) -> bool:
        return self.kernel is not None and self.skipped is None

    @property
    def agree(self) -> bool:
        return not self.differences

    def check(self) -> "Comparison":
        """Raise AssertionError listing every difference; returns self so calls chain."""
        if self.differences:
            raise AssertionError("VM and kernel disagree:\n  " + "\n  ".join(self.differences))
        return self


def _prog_type(program: Program, prog_type: Any) -> ProgType:
    value = prog_type if prog_type is not None else program.prog_type
    if value is None:
        raise PyebpfError("no program type: build the program with one or pass prog_type=")
    return parse_prog_type(value) if isinstance(value, str) else ProgType(value)


def _hex(data: bytes | None, limit: int = 48) -> str:
    if data is None:
        return "None"
    text = data[:limit].hex()
    return f"{len(data)} bytes {text}{'...' if len(data) > limit else ''}"


def snapshot_maps(maps: Mapping[str, Any]) -> dict[str, dict[bytes, bytes]]:
    """Raw contents {key: value} of every map in `maps` whose type is in COMPARED_MAP_TYPES."""
    out: dict[str, dict[bytes, bytes]] = {}
    for name, m in maps.items():
        spec = getattr(m, "spec", None)
        if spec is None or spec.type not in COMPARED_MAP_TYPES:
            continue
        contents: dict[bytes, bytes] = {}
        for key in list(m.keys_raw()):
            value = m.lookup_raw(key)
            if value is not None:
                contents[bytes(key)] = bytes(value)
        out[str(name)] = contents
    return out


def restore_maps(maps: Mapping[str, Any], snapshot: dict[str, dict[bytes, bytes]]) -> None:
    """Put the compared maps back to `snapshot` (elements added since are deleted, array slots rewritten)."""
    for name, contents in snapshot.items():
        m = maps[name]
        for key in list(m.keys_raw()):
            if bytes(key) not in contents and m.spec.type not in (MapType.ARRAY, MapType.PERCPU_ARRAY):
                m.delete_raw(key)
        for key, value in contents.items():
            m.update_raw(key, value, 0)


def _diff_maps(vm: dict[str, dict[bytes, bytes]], kernel: dict[str, dict[bytes, bytes]]) -> list[str]:
    diffs: list[str] = []
    for name in sorted(set(vm) | set(kernel)):
        a, b = vm.get(name, {}), kernel.get(name, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"map {name!r} key {key.hex()}: vm {_hex(a.get(key))}, kernel {_hex(b.get(key))}")
    return diffs


class _PinnedToCpu0:
    """Run the kernel side on CPU 0 (the CPU the VM reports), restoring the thread's affinity afterwards."""

    def __enter__(self) -> None:
        self.saved = os.sched_getaffinity(0)
        if 0 in self.saved and len(self.saved) > 1:
            os.sched_setaffinity(0, {0})

    def __exit__(self, *exc: Any) -> None:
        os.sched_setaffinity(0, self.saved)


class Differential:
    """One Program, one VM and (where permitted) one kernel copy, fed the same inputs.

    `kernel=None` uses the kernel when bpf() is permitted, `True` requires it (LoaderError otherwise), `False` runs
    the VM alone. `engine` picks the VM engine; `vm_kw` go to `pyebpf.vm.VM`."""

    def __init__(self, program: Program, *, prog_type: Any = None, engine: str = "interp", kernel: bool | None = None,
                 compare_maps: bool = True, **vm_kw: Any):
        from pyebpf.vm import VM

        self.program = program
        self.prog_type = _prog_type(program, prog_type)
        self.compare_maps = compare_maps
        self.kernel_program: Any = None
        self.rings: dict[str, Any] = {}
        self.skipped: str | None = None
        reason = bpf_unavailable_reason() if kernel is not False else "kernel side not requested"
        if reason is None and self.prog_type not in TEST_RUN_TYPES:
            reason = f"BPF_PROG_TEST_RUN does not run {self.prog_type.name} programs"
        if reason is not None and kernel:
            raise LoaderError(f"kernel side required but {reason}")
        if reason is None:
            from pyebpf.loader import load

            self.kernel_program = load(program, self.prog_type)
            try:
                self._open_rings()
            except BaseException:
                self.close()
                raise
        else:
            self.skipped = reason
        self.vm = VM(program, engine=engine, prog_type=self.prog_type, **vm_kw)

    def _open_rings(self) -> None:
        from pyebpf.loader.ringbuf import RingBuffer

        for name, m in self.kernel_program.maps.items():
            if m.spec.type == MapType.RINGBUF:
                self.rings[name] = RingBuffer(m)

    # -- lifetime ------------------------------------------------------------------------------------------------
    def close(self) -> None:
        for ring in self.rings.values():
            ring.close()
        self.rings = {}
        if self.kernel_program is not None:
            self.kernel_program.close()
            self.kernel_program = None

    def __enter__(self) -> "Differential":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- maps ----------------------------------------------------------------------------------------------------
    def update_map(self, name: str, key: Any, value: Any) -> None:
        """Put the same element into the map on both sides (typed through the map's codec)."""
        self.vm.maps[name][key] = value
        if self.kernel_program is not None:
            self.kernel_program.maps[name][key] = value

    # -- running -------------------------------------------------------------------------------------------------
    def run(self, packet: bytes | None = None, ctx: Any = None) -> Comparison:
        """Run `packet` (the program type's default context around it) or `ctx` (a pyebpf.vm.context builder) on
        both sides and compare."""
        if (packet is None) == (ctx is None):
            raise ValueError("pass exactly one of packet= or ctx=")
        data = bytes(packet) if packet is not None else bytes(getattr(ctx, "packet", b""))
        before = snapshot_maps(self.vm.maps) if self.kernel_program is not None and self.compare_maps else None
        vm_out = self._run_vm(packet, ctx)
        if self.kernel_program is None:
            return Comparison(vm_out, None, skipped=self.skipped)
        kernel_out, refused = self._run_kernel(data, ctx)
        if refused is not None:
            if before is not None:  # the kernel never saw this input: undo its effect on the VM's maps
                restore_maps(self.vm.maps, before)
            return Comparison(vm_out, kernel_out, skipped=refused)
        return Comparison(vm_out, kernel_out, self._differences(vm_out, kernel_out))

    def _run_vm(self, packet: bytes | None, ctx: Any) -> Outcome:
        out = Outcome("vm")
        try:
            res = self.vm.run(ctx) if ctx is not None else self.vm.run(packet=packet)
        except VmError as e:
            out.error = str(e)
        else:
            out.r0, out.retval, out.packet = res.r0, res.r0 & 0xFFFFFFFF, res.packet
            out.ctx = {k: res.ctx[k] for k in (*SKB_ECHOED_FIELDS, "cb") if k in res.ctx}
            for record in res.ring:
                out.ring.setdefault(str(record.map), []).append(bytes(record.data))
        if self.compare_maps:
            out.maps = snapshot_maps(self.vm.maps)
        return out

    def _kernel_ctx(self, data: bytes, ctx: Any) -> bytes | None:
        """The context BPF_PROG_TEST_RUN takes for this input, or None for the kernel's defaults."""
        from pyebpf.vm.context import SkbContext, XdpContext

        if isinstance(ctx, XdpContext):
            if (ctx.ingress_ifindex, ctx.rx_queue_index, ctx.egress_ifindex) == (1, 0, 0):
                return None
            raw = bytearray(XDP_MD.size)
            for name, value in (("data_end", len(data)), ("ingress_ifindex", ctx.ingress_ifindex),
                                ("rx_queue_index", ctx.rx_queue_index), ("egress_ifindex", ctx.egress_ifindex)):
                f = XDP_MD[name]
                raw[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
            return bytes(raw)
        if isinstance(ctx, SkbContext):
            raw = bytearray(SK_BUFF.size)
            for name, value in ctx.fields.items():
                values = list(value) if isinstance(value, (list, tuple)) else [value]
                names = [f"{name}[{i}]" for i in range(len(values))] if isinstance(value, (list, tuple)) else [name]
                for n, v in zip(names, values):
                    f = SK_BUFF[n]
                    raw[f.offset:f.offset + f.size] = (int(v) & ((1 << 8 * f.size) - 1)).to_bytes(f.size, "little")
            return bytes(raw)
        if ctx is not None and not hasattr(ctx, "packet"):
            return bytes(getattr(ctx, "raw", b""))
        return None

    def _run_kernel(self, data: bytes, ctx: Any) -> tuple[Outcome, str | None]:
        out = Outcome("kernel")
        kctx = self._kernel_ctx(data, ctx)
        try:
            with _PinnedToCpu0():
                if prog_test_run_single_shot(self.prog_type):  # bpf_prog_test_run_raw_tp refuses repeat/ctx_out
                    res = self.kernel_program.test_run(b"", ctx=kctx, repeat=0, ctx_out_size=0)
                else:
                    res = self.kernel_program.test_run(data, ctx=kctx)
        except LoaderError as e:
            out.error = str(e)
            if e.errno == errno.EINVAL and len(data) < ETH_HLEN and is_packet_program(self.prog_type):
                return out, f"the kernel does not run packets shorter than {ETH_HLEN} bytes (EINVAL)"
            return out, None
        out.retval, out.packet = res.retval, res.data if is_packet_program(self.prog_type) else None
        if isinstance(res.ctx, (bytes, bytearray)) and len(res.ctx) >= SK_BUFF.size:
            raw = bytes(res.ctx)
            for name in SKB_ECHOED_FIELDS:
                f = SK_BUFF[name]
                out.ctx[name] = int.from_bytes(raw[f.offset:f.end], "little")
            out.ctx["cb"] = list(struct.unpack_from("<5I", raw, SK_BUFF["cb[0]"].offset))
        for name, ring in self.rings.items():
            records = [bytes(r) for r in ring.read(timeout=0)]
            if records:
                out.ring[name] = records
        if self.compare_maps:
            out.maps = snapshot_maps(self.kernel_program.maps)
        return out, None

    def _differences(self, vm: Outcome, kernel: Outcome) -> list[str]:
        diffs: list[str] = []
        if vm.error or kernel.error:
            if vm.error != kernel.error:
                diffs.append(f"error: vm {vm.error or 'none'}; kernel {kernel.error or 'none'}")
            return diffs + _diff_maps(vm.maps, kernel.maps)
        if vm.retval != kernel.retval:
            diffs.append(f"retval: vm {vm.retval:#x}, kernel {kernel.retval:#x}")
        if kernel.packet is not None and vm.packet != kernel.packet:
            diffs.append(f"packet: vm {_hex(vm.packet)}, kernel {_hex(kernel.packet)}")
        for name in sorted(set(vm.ctx) & set(kernel.ctx)):
            if vm.ctx[name] != kernel.ctx[name]:
                diffs.append(f"ctx.{name}: vm {vm.ctx[name]}, kernel {kernel.ctx[name]}")
        for name in sorted(set(vm.ring) | set(kernel.ring)):
            a, b = vm.ring.get(name, []), kernel.ring.get(name, [])
            if a != b:
                diffs.append(f"ring {name!r}: vm {len(a)} records {[_hex(r, 16) for r in a][:4]}, kernel {len(b)} "
                             f"records {[_hex(r, 16) for r in b][:4]}")
        return diffs + _diff_maps(vm.maps, kernel.maps)


def run_both(program: Program, packet: bytes | None = None, ctx: Any = None, **kw: Any) -> Comparison:
    """Load, run once on each side, close: the Comparison of one input. Keywords go to `Differential`."""
    with Differential(program, **kw) as diff:
        return diff.run(packet=packet, ctx=ctx)


def assert_vm_matches_kernel(program: Program, packet: bytes | None = None, ctx: Any = None, **kw: Any
                             ) -> Comparison:
    """run_both, then AssertionError naming every difference. Without a kernel side it checks only that the VM
    ran (a VM fault is an AssertionError: the kernel would have run the program)."""
    result = run_both(program, packet=packet, ctx=ctx, **kw)
    if result.kernel is None and result.vm.error:
        raise AssertionError(f"VM fault with no kernel to compare: {result.vm.error}")
    return result.check()


__all__ = ["Differential", "Comparison", "Outcome", "run_both", "assert_vm_matches_kernel", "snapshot_maps",
           "restore_maps", "COMPARED_MAP_TYPES", "TEST_RUN_TYPES"]
