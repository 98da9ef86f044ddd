"""The public simulator API: `VM(program, ...).run(...) -> RunResult` and `run(program, mem=...) -> r0`.

    vm = VM(program, engine="compiled")          # or "interp"; same results, the compiler is faster
    res = vm.run(packet=pkt)                      # the program type's default context around the packet
    res.r0, res.packet, res.printk, vm.maps["stats"][0]

Maps persist across runs of one VM (like a loaded program's maps); everything else (stack, context, packet) is
fresh per run. Helpers come from `pyebpf.vm.helpers.DEFAULT_HELPERS`; `helpers={id_or_name: fn}` adds or replaces
some (fn(machine, r1, r2, r3, r4, r5) -> r0, see `pyebpf.vm.runtime`).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pyebpf.abi.helpers import HELPER_BY_NAME, HelperId
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import CLASS_MASK, OP_MASK, InsnClass, JmpOp, PseudoSrc
from pyebpf.abi.uapi import BPF_MAX_LOOPS, MapCreateFlags
from pyebpf.system.cpus import num_possible_cpus
from pyebpf.errors import VmError
from pyebpf.isa.program import Program
from pyebpf.vm.interp import Interpreter
from pyebpf.vm.memory import KIND_CTX, KIND_MEM
from pyebpf.vm.runtime import Helper, Machine, tail_call_helper

ENGINES: dict[str, Callable[..., Any]] = {}


def _engines() -> dict[str, Callable[..., Any]]:
    if not ENGINES:
        from pyebpf.vm.compiler import Compiler, Tiered

        ENGINES.update(interp=Interpreter, compiled=Compiler, auto=Tiered)
    return ENGINES


@dataclass
class TraceStep:
    """One executed instruction: its slot, its text, and the registers it changed (number -> new value)."""

    pc: int
    text: str
    changed: dict[int, int]

    def __str__(self) -> str:
        regs = " ".join(f"r{i}={v:#x}" for i, v in sorted(self.changed.items()))
        return f"{self.pc:5}: {self.text:<40} {regs}".rstrip()


@dataclass
class RunResult:
    """What one run produced. `r0` is the full 64-bit return value (BPF_PROG_TEST_RUN reports `retval`, its low 32
    bits). `packet` is the packet after the run (programs may rewrite it), `mem` the conformance memory after it."""

    r0: int
    insns: int
    maps: dict[str, Any]
    packet: bytes | None = None
    mem: bytes | None = None
    ctx: Any = field(default_factory=dict)
    """Fields of a context builder's context after the run (dict), or, for a raw `ctx` (bytes or a ctypes object),
    the context memory after the run in the same type — as KernelProgram.test_run returns it."""
    printk: list[str] = field(default_factory=list)
    ring: list[Any] = field(default_factory=list)
    perf: list[Any] = field(default_factory=list)
    trace: list[TraceStep] | None = None
    action: Any = None
    """The verdict as the context builder names r0: XdpAction for XDP, TcAction for tc, the bytes kept for a socket
    filter, r0 itself for other builders; None for raw contexts and memory runs, which know no program type."""

    @property
    def retval(self) -> int:
        return self.r0 & 0xFFFFFFFF

    def __getattr__(self, name: str) -> Any:
        # Called only for a field missing from the instance: a fast run's result builds the rest on first use.
        d = self.__dict__
        if name in _LAZY_FIELDS and "_fill" in d:
            fill, *args = d.pop("_fill")
            d.update(fill(*args))
            return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def data(self) -> bytes | None:
        """The kernel's TestRunResult name for the packet after the run."""
        return self.packet


_LAZY_FIELDS = frozenset({"packet", "mem", "ctx", "printk", "ring", "perf", "trace", "action"})
for _name in _LAZY_FIELDS:  # their class-level defaults would hide them from __getattr__ (__init__ keeps its own)
    if _name in RunResult.__dict__:
        delattr(RunResult, _name)
_new_result = object.__new__


def _fill_lazy(m: Machine, builder: Any, out: Any, r0: int, mem: bytearray | None) -> dict[str, Any]:
    """The lazily built fields of a fast run: what its context collected, its verdict, its output, its memory
    (the run's own buffer: nothing writes it once the run is over)."""
    if out is not None:
        printk, ring, perf = out.printk, out.ring, out.perf
    else:
        printk, ring, perf = [], [], []
    fields: dict[str, Any] = {"packet": None, "mem": None if mem is None else bytes(mem), "ctx": {}, "printk": printk, "ring": ring, "perf": perf,
                              "trace": None, "action": None}
    if builder is not None:
        collected = builder.collect(m)
        fields.update(packet=collected.get("packet"), ctx=collected, action=builder.verdict(r0))
    return fields


def _default_helpers() -> dict[int, Helper]:
    from pyebpf.vm.helpers import DEFAULT_HELPERS

    table: dict[int, Helper] = dict(DEFAULT_HELPERS)
    table.setdefault(HelperId.TAIL_CALL, tail_call_helper)
    return table


def _helper_id(key: int | str) -> int:
    if isinstance(key, int):
        return int(key)
    hid = HELPER_BY_NAME.get(key) or HELPER_BY_NAME.get(key.lower())
    if hid is None:
        raise VmError(f"unknown helper name {key!r}: name a kernel helper (e.g. 'bpf_map_lookup_elem') or use its "
                      f"number")
    return int(hid)


def _as_program(program: Any) -> Program:
    if isinstance(program, Program):
        return program
    if isinstance(program, (bytes, bytearray, memoryview)):
        return Program.from_bytes(bytes(program))
    if isinstance(program, str):
        from pyebpf.isa.assembler import assemble

        return assemble(program)
    if isinstance(program, (list, tuple)):
        return Program(list(program))
    raise VmError(f"cannot run a {type(program).__name__}: pass a Program, instruction bytes or assembly text")


class VM:
    """A simulated eBPF machine for one program (and the programs it tail-calls).

    program: a Program, instruction bytes or assembly text. maps: name -> MapSpec or VM map, over program.maps.
    helpers: id or kernel helper name -> fn(machine, r1..r5). engine: "interp", "compiled" or "auto" (same
    results; "auto" interprets a program until it is hot, then compiles it: see pyebpf.vm.compiler.Tiered).
    max_insns: instructions per run before VmError (1,000,000, the kernel's complexity limit). may_goto_budget:
    how often may_goto falls through per stack frame before it jumps (BPF_MAX_LOOPS; the x86 JIT in 6.x uses a
    time budget instead). strict_alignment: BPF_F_STRICT_ALIGNMENT (every access naturally aligned). ncpus: for
    per-CPU maps and the environment; by default the machine's possible CPUs, as the kernel's per-CPU maps hold.
    """

    def __init__(self, program: Any, maps: Mapping[Any, Any] | None = None,
                 helpers: Mapping[int | str, Helper] | None = None, env: Any = None, engine: str = "interp",
                 prog_type: Any = None, max_insns: int = 1_000_000, strict_alignment: bool = False,
                 ncpus: int | None = None, may_goto_budget: int = BPF_MAX_LOOPS):
        self.program = _as_program(program)
        engines = _engines()
        if engine not in engines:
            raise VmError(f"unknown engine {engine!r} (choose from {', '.join(engines)})")
        self.engine = engine
        self.prog_type = prog_type if prog_type is not None else self.program.prog_type
        self.ncpus = num_possible_cpus() if ncpus is None else ncpus
        self.maps: dict[Any, Any] = {}
        specs: dict[Any, Any] = dict(self.program.maps)
        specs.update(maps or {})
        for name, spec in specs.items():
            self.maps[name] = self._make_map(spec) if isinstance(spec, MapSpec) else spec
        self.helpers = _default_helpers()
        for key, fn in (helpers or {}).items():
            self.helpers[_helper_id(key)] = fn
        if env is None:
            from pyebpf.vm.env import Environment

            env = Environment(ncpus=self.ncpus)
        self.env = env
        factory = engines[engine]
        self.machine = Machine(self.program, self.maps, self.helpers, env=env, prog_type=self.prog_type,
                               max_insns=max_insns, strict_alignment=strict_alignment,
                               engine_factory=lambda p, m: factory(p, m, may_goto_budget))
        self.machine.may_goto_budget = may_goto_budget
        from pyebpf.vm.output import Output

        self._output_class: Any = Output
        self.machine.output = self._new_output()

    def _make_map(self, spec: MapSpec) -> Any:
        from pyebpf.vm.maps import create_map

        vm_map = create_map(spec, ncpus=self.ncpus)  # writes MapSpec.initial
        if spec.initial is not None and spec.flags & MapCreateFlags.RDONLY_PROG:
            vm_map.freeze()  # constant global data (.rodata), frozen as pyebpf.loader.load does
        return vm_map

    @property
    def max_insns(self) -> int:
        return self.machine.max_insns

    def prog_fd(self, program: Program) -> int:
        """The number to store in a PROG_ARRAY so that bpf_tail_call jumps to `program`."""
        return self.machine.prog_fd(program)

    def run(self, ctx: Any = None, *, packet: bytes | None = None, mem: bytes | None = None, trace: bool = False,
            **ctx_kw: Any) -> RunResult:
        """Run once. Exactly one of: `ctx` (a pyebpf.vm.context builder, or raw context bytes), `packet` (the
        program type's default context around these bytes), `mem` (r1 = pointer to a private copy, r2 = its
        length, as bpf_conformance does); none means r1 = 0. `trace=True` records every executed instruction
        (the interpreter runs traced runs, whichever engine the VM uses: results are identical)."""
        if ctx is None and not trace and not ctx_kw and (mem is None or packet is None):
            # The fast path (property tests and conformance suites run thousands of these): no trace, a context
            # the VM builds itself, and a result whose other fields are built when first read.
            m = self.machine
            if m.needs_reset:
                m.reset()
                self._fresh_output(m)
            builder = mem_data = None
            r1 = r2 = 0
            if packet is not None:
                make = self._make_packet_ctx or self._packet_builder
                builder = make(packet)
                m.ctx_addr = r1 = builder.materialize(m)
            elif mem is not None:
                mem_data = bytearray(mem)
                if mem_data:
                    region = m.reuse_run_region(mem_data, "mem", True, KIND_MEM)
                    r1, r2 = region.base, region.size
            direct = m.direct
            if direct is not None:
                try:
                    r0, count = direct[0](direct[1], r1, r2, 0, 0, 0, 0, m.max_insns)
                except Exception:  # noqa: BLE001 - the program changes nothing: run_main repeats it and names the
                    r0, count = m.run_main(r1, r2)  # instruction in its error (or ends it as LD_ABS does)
            else:
                r0, count = m.run_main(r1, r2)
            res = _new_result(RunResult)
            res.r0 = r0
            res.insns = count
            res.maps = self.maps
            out = m.output
            if m.needs_reset and out is not None and (out.printk or out.perf or out.ring):
                m.output = self._new_output()  # the result takes this run's output
            else:
                out = None  # (a run that needs no reset called no helper, so it emitted nothing)
            res._fill = (_fill_lazy, m, builder, out, r0, mem_data)
            return res
        return self._run_full(ctx, packet, mem, trace, ctx_kw)

    def _fresh_output(self, m: Machine) -> None:
        out = m.output
        if out is None or out.printk or out.perf or out.ring:  # left over by a run that failed
            m.output = self._new_output()

    _make_packet_ctx: Callable[[bytes], Any] | None = None

    def _packet_builder(self, packet: bytes) -> Any:
        """The program type's default context around `packet` (the builder chosen once per VM)."""
        from pyebpf.vm.context import packet_builder

        self._make_packet_ctx = packet_builder(self.prog_type)
        return self._make_packet_ctx(packet)

    def _run_full(self, ctx: Any, packet: Any, mem: Any, trace: bool, ctx_kw: dict[str, Any]) -> RunResult:
        m = self.machine
        m.reset()
        self._fresh_output(m)
        m.needs_reset = True  # whatever this run's context does, the next run starts from a reset
        r1 = r2 = 0
        mem_region = raw_ctx = None
        if (ctx is not None) + (packet is not None) + (mem is not None) > 1:
            raise VmError("pass only one of ctx=, packet=, mem=")
        if packet is not None and ctx is None:
            ctx = self._default_context(bytes(packet), ctx_kw)
        if mem is not None:
            if len(mem):
                mem_data = bytearray(mem)  # read after the run: the machine rebinds its region in the next one
                mem_region = m.reuse_run_region(mem_data, "mem", True, KIND_MEM)
                r1, r2 = mem_region.base, mem_region.size
        elif ctx is not None:
            if hasattr(ctx, "materialize"):
                r1 = ctx.materialize(m)
            elif isinstance(ctx, (bytes, bytearray, ctypes.Structure, ctypes.Union, ctypes.Array)):
                # raw context memory, as BPF_PROG_TEST_RUN's ctx_in: bytes or a ctypes object
                raw_ctx = m.map_run_region(bytearray(bytes(ctx)), "ctx", True, KIND_CTX)
                m.ctx_region = raw_ctx
                r1 = raw_ctx.base
            else:
                raise VmError(f"ctx must be a context builder, bytes or a ctypes object, not {type(ctx).__name__}")
        m.ctx_addr = r1
        steps: list | None = [] if trace else None
        r0, count = m.run_main(r1, r2, trace=steps)
        collected = ctx.collect(m) if ctx is not None and hasattr(ctx, "collect") else {}
        ctx_after: Any = collected
        if raw_ctx is not None:  # the context as the program left it, in the type it came in (as test_run does)
            ctx_after = bytes(raw_ctx.data)
            if not isinstance(ctx, (bytes, bytearray)):
                ctx_after = type(ctx).from_buffer_copy(ctx_after)
        out = m.output
        if out is not None and (out.printk or out.perf or out.ring):
            m.output = self._new_output()
            printk, ring, perf = out.printk, out.ring, out.perf
        else:
            printk, ring, perf = [], [], []
        return RunResult(
            r0=r0, insns=count, maps=self.maps, packet=collected.get("packet"),
            mem=bytes(mem_data) if mem_region is not None else (b"" if mem is not None else None),
            ctx=ctx_after, printk=printk, ring=ring, perf=perf,
            trace=[TraceStep(*s) for s in steps] if steps is not None else None,
            action=ctx.verdict(r0) if hasattr(ctx, "verdict") else None)

    def test_run(self, data: bytes = b"", ctx: Any = None) -> RunResult:
        """The kernel loader's call: `vm.test_run(pkt)` is `vm.run(packet=pkt)` (KernelProgram.test_run's name).

        With both a packet and `ctx` (an __sk_buff, or an xdp_md for XDP, as bytes or a ctypes object) the context
        starts from the fields BPF_PROG_TEST_RUN takes from ctx_in, and `.ctx` is that struct after the run with the
        fields the kernel copies back (see _skb_ctx_in, _run_xdp_ctx_in)."""
        if ctx is not None and data:
            from pyebpf.vm.context import XdpContext, for_packet

            if isinstance(for_packet(self.prog_type, bytes(data)), XdpContext):
                return self._run_xdp_ctx_in(bytes(data), ctx)
            return self._run_skb_ctx_in(bytes(data), ctx)
        if ctx is not None:
            return self.run(ctx)
        return self.run(packet=bytes(data)) if data else self.run()

    def _run_skb_ctx_in(self, data: bytes, ctx: Any) -> RunResult:
        from pyebpf.abi.context import SK_BUFF
        from pyebpf.vm.context import SkbContext, for_packet

        raw = bytes(ctx)
        fields = _skb_ctx_in(raw, len(data), SK_BUFF)
        builder = for_packet(self.prog_type, data, **fields)
        if not isinstance(builder, SkbContext):
            raise VmError("test_run(data, ctx=...) with both is simulated for __sk_buff and XDP programs only; build a "
                          "context (pyebpf.vm.context) and pass it to run() instead")
        res = self.run(builder)
        after = bytearray(raw.ljust(SK_BUFF.size, b"\0"))
        vm_skb = bytes(builder.ctx_region.data)
        for name in _SKB_CTX_OUT:
            f = SK_BUFF[name]
            after[f.offset:f.offset + f.size] = vm_skb[f.offset:f.offset + f.size]
        out = bytes(after[:len(raw)])
        res.ctx = out if isinstance(ctx, (bytes, bytearray)) else type(ctx).from_buffer_copy(out)
        return res

    def _run_xdp_ctx_in(self, data: bytes, ctx: Any) -> RunResult:
        """BPF_PROG_TEST_RUN of XDP with an xdp_md in: its `data` is the metadata length (the first bytes of the
        packet given become metadata, in the headroom), `data_end` the packet's end; `.ctx` is the xdp_md after the
        run (data / data_end relative to data_meta) and `.data` the bytes from data_meta to data_end."""
        from pyebpf.abi.context import XDP_MD
        from pyebpf.vm.context import SIZEOF_XDP_FRAME, XDP_PACKET_HEADROOM, XdpContext

        raw = bytes(ctx)
        if len(raw) > XDP_MD.size and any(raw[XDP_MD.size:]):
            raise VmError(f"test_run ctx: bytes past the {XDP_MD.size}-byte xdp_md must be zero (the kernel: E2BIG)")
        raw = raw.ljust(XDP_MD.size, b"\0")[:XDP_MD.size]
        md = {f.name: int.from_bytes(raw[f.offset:f.offset + f.size], "little") for f in XDP_MD.fields}
        metalen = md["data"]
        # metadata comes out of the headroom, which must keep room for the struct xdp_frame (6.18 takes up to 216
        # bytes, 4-aligned: more than bpf_xdp_adjust_meta's 32)
        if md["data_meta"] or md["egress_ifindex"] or metalen > md["data_end"] or metalen & 3 or \
                metalen > XDP_PACKET_HEADROOM - SIZEOF_XDP_FRAME or md["data_end"] > len(data) or \
                (not md["ingress_ifindex"] and md["rx_queue_index"]):
            raise VmError(f"test_run ctx: xdp_md {md} refused (the kernel: EINVAL)")
        if md["data_end"] < len(data):
            raise VmError("test_run ctx: xdp_md.data_end before the packet's end makes a multi-buffer XDP run (the "
                          "rest in frags), which the VM does not simulate")
        builder = XdpContext(data[metalen:], ingress_ifindex=md["ingress_ifindex"] or 1,  # loopback's rxq by default
                             rx_queue_index=md["rx_queue_index"])
        builder.meta = builder.data - metalen  # metadata sits in the headroom, right before the packet
        builder.frame[builder.meta:builder.data] = data[:metalen]
        res = self.run(builder)
        res.packet = bytes(builder.frame[builder.meta:builder.data_end])
        out = bytearray(raw)
        for name, value in (("data", builder.data - builder.meta), ("data_end", builder.data_end - builder.meta)):
            f = XDP_MD[name]
            out[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
        res.ctx = bytes(out) if isinstance(ctx, (bytes, bytearray)) else type(ctx).from_buffer_copy(bytes(out))
        return res

    def close(self) -> None:
        """Nothing to release (a KernelProgram closes fds here); there so `with` and close() work on both sides."""

    def __enter__(self) -> "VM":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _new_output(self) -> Any:
        return self._output_class() if self._output_class is not None else None

    def _default_context(self, packet: bytes, kw: dict[str, Any]) -> Any:
        """The default context of this program type around `packet` (XDP for an untyped program)."""
        from pyebpf.vm.context import for_packet

        return for_packet(self.prog_type, packet, **kw)


#: __sk_buff fields BPF_PROG_TEST_RUN reads from ctx_in (convert___skb_to_skb); any other byte must be zero (EINVAL)
_SKB_CTX_IN = ("mark", "priority", "ingress_ifindex", "ifindex", *(f"cb[{i}]" for i in range(5)), "tstamp",
               "wire_len", "gso_segs", "gso_size", "hwtstamp")
#: __sk_buff fields it writes back to ctx_out after the run (convert_skb_to___skb)
_SKB_CTX_OUT = ("mark", "priority", "ingress_ifindex", "ifindex", *(f"cb[{i}]" for i in range(5)), "tstamp",
                "wire_len", "gso_segs", "hwtstamp")
GSO_LEGACY_MAX_SIZE = 65536


def _skb_ctx_in(raw: bytes, packet_len: int, layout: Any) -> dict[str, Any]:
    """SkbContext keywords from an __sk_buff given to test_run, refusing what the kernel refuses (as VmError)."""
    if len(raw) > layout.size and any(raw[layout.size:]):
        raise VmError(f"test_run ctx: bytes past the {layout.size}-byte __sk_buff must be zero (the kernel: E2BIG)")
    raw = raw.ljust(layout.size, b"\0")[:layout.size]
    allowed = bytearray(layout.size)
    values: dict[str, int] = {}
    for name in _SKB_CTX_IN:
        f = layout[name]
        allowed[f.offset:f.offset + f.size] = b"\1" * f.size
        values[name] = int.from_bytes(raw[f.offset:f.offset + f.size], "little")
    for f in layout.fields:
        if any(b and not allowed[i] for i, b in enumerate(raw[f.offset:f.offset + f.size], f.offset)):
            raise VmError(f"test_run ctx: __sk_buff.{f.name} must be zero (the kernel: EINVAL)")
    wire_len = values["wire_len"]
    if wire_len and not packet_len <= wire_len <= GSO_LEGACY_MAX_SIZE:
        raise VmError(f"test_run ctx: wire_len {wire_len} is outside [{packet_len}, {GSO_LEGACY_MAX_SIZE}] "
                      "(the kernel: EINVAL)")
    fields: dict[str, Any] = {n: values[n] for n in ("mark", "priority", "ingress_ifindex", "tstamp", "gso_segs",
                                                     "gso_size", "hwtstamp") if values[n]}
    fields["cb"] = [values[f"cb[{i}]"] for i in range(5)]
    if values["ifindex"] > 1:  # the kernel runs on that device (ENODEV if absent); otherwise on loopback
        fields["ifindex"] = values["ifindex"]
    if wire_len:
        fields["wire_len"] = wire_len
    return fields


def run(program: Any, mem: bytes = b"", **kw: Any) -> int:
    """Run `program` once with r1 pointing at a copy of `mem` (r2 = its length) and return r0.

    Each call behaves as a fresh VM. A program that calls nothing and names no map cannot tell a fresh VM from one
    that ran it before (its stack is zeroed per run), so such programs, from their second call, reuse a VM kept
    per program content."""
    if isinstance(program, str):
        program = _assembled(program)
    vm = _reusable_vm(program, kw)
    if vm is None:
        vm = VM(program, **kw)
    return (vm.run(mem=mem) if len(mem) else vm.run()).r0


_RUN_KW = frozenset({"engine", "max_insns", "strict_alignment", "may_goto_budget", "prog_type"})
"""run() keywords a reused VM can honour (they are part of its cache key); others (maps, helpers, env) build one."""
_VM_CACHE_MAX = 16  # a VM holds many objects: keeping hundreds makes every garbage collection slower
_TEXT_CACHE_MAX = 256
_VM_CACHE: dict[tuple, VM] = {}
_SEEN_MAX = 1024
_SEEN: dict[tuple, None] = {}  # programs run once: a second run gets a kept VM
_TEXT_CACHE: dict[str, Program] = {}


def _remember(cache: dict, key: Any, value: Any, limit: int) -> Any:
    if len(cache) >= limit:
        del cache[next(iter(cache))]  # the oldest entry
    cache[key] = value
    return value


def _assembled(text: str) -> Program:
    program = _TEXT_CACHE.get(text)
    if program is None:
        from pyebpf.isa.assembler import assemble

        program = _remember(_TEXT_CACHE, text, assemble(text), _TEXT_CACHE_MAX)
    return program


def _reusable_vm(program: Any, kw: dict[str, Any]) -> VM | None:
    if not isinstance(program, Program) or program.maps or not _RUN_KW.issuperset(kw):
        return None
    insns = tuple(program.instructions)
    try:
        key = (insns, program.prog_type, tuple(sorted(kw.items())))
        vm = _VM_CACHE.get(key)
    except TypeError:  # an unhashable keyword value
        return None
    if vm is None:
        if key not in _SEEN:  # first sight: most programs are run once (property tests), keep no VM for them
            _remember(_SEEN, key, None, _SEEN_MAX)
            return None
        if any(i.is_lddw and i.src != PseudoSrc.IMM or i.opcode & CLASS_MASK in (InsnClass.JMP, InsnClass.JMP32)
               and i.opcode & OP_MASK == JmpOp.CALL for i in insns):
            return None  # helpers see the environment and maps, which a fresh VM would have fresh
        vm = _remember(_VM_CACHE, key, VM(Program(list(insns), prog_type=program.prog_type), **kw), _VM_CACHE_MAX)
    return vm


__all__ = ["VM", "RunResult", "TraceStep", "run"]
