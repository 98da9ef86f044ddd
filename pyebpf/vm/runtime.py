"""`Machine`: the running VM as helpers, contexts and the engines see it.

One Machine per `VM`; it outlives runs (maps, map handles and compiled engines persist) and is reset at the start
of every run (stack frames zeroed, per-run regions unmapped, tail-call count cleared).

Contract for helper authors (pyebpf.vm.helpers):
    fn(m: Machine, r1, r2, r3, r4, r5) -> int        # returns r0; the engine masks it to unsigned 64 bits
  - read/write program memory with `m.mem.read/write/load/store/read_cstr` (faults raise VmError; the engine adds
    the pc and the instruction text);
  - `m.map_from_handle(r1)` turns the value of `lddw rX, map[...]` into the VmMap (VmError for anything else);
  - `m.value_address(vmmap, live_buf)` gives the address a program may dereference for a map value (map_lookup_elem
    returns it): the region aliases the buffer, so stores through the pointer change the map;
  - `m.call_function(slot, r1..r5)` runs a subprogram (bpf_loop / for_each_map_elem / timer callbacks) in a new
    frame and returns its r0; `slot` may be what the program passed as a function pointer (`lddw rX, func` loads
    FUNC_ADDR_BASE + slot, a non-dereferenceable value) or a plain slot number (`m.func_slot(value)` decodes it);
  - `m.tail_call(prog_array_map, index)` performs bpf_tail_call: True when the jump happens (the engine then
    switches programs after the helper returns; the helper's return value is ignored), False when it falls through;
  - `m.env` (pyebpf.vm.env.Environment: time, pid/tgid, uid/gid, comm, cpu, prandom) and `m.output`
    (pyebpf.vm.output.Output: printk lines, ring buffer and perf records) belong to the helpers' author;
  - `m.ctx_addr` is r1 of the main program, `m.packet` the packet Region (contexts set it; LD_ABS/LD_IND and packet
    helpers read it), `m.ctx_region` the context Region, `m.pc` the slot of the call, `m.prog_type` the program type.

Contract for context builders (pyebpf.vm.context): an object with
    materialize(m: Machine) -> int    # map regions with m.map_run_region(...), set m.packet / m.ctx_region, return r1
    collect(m: Machine) -> dict       # what the run produced, e.g. {"packet": bytes}
Regions mapped with `m.map_run_region` are unmapped after the run.

Contract for maps (pyebpf.vm.maps): `create_map(spec, ncpus=...) -> VmMap` where VmMap is a MapFace with
`value_ref(key: bytes) -> bytearray | None` returning the live value buffer; a prog array also answers
`program_at(index) -> Program | None` for bpf_tail_call. See the `VmMapLike` Protocol below.
"""
from __future__ import annotations

import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from pyebpf.abi.opcodes import MAX_BPF_STACK, MAX_CALL_FRAMES, PseudoSrc
from pyebpf.errors import VmError
from pyebpf.vm.memory import KIND_MAP, KIND_MAP_VALUE, KIND_STACK, PAGE, PAGE_SHIFT, Memory, Region

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.isa.program import Program

M64 = (1 << 64) - 1
#: MAX_TAIL_CALL_CNT (include/linux/bpf.h): a chain may tail-call 33 times.
MAX_TAIL_CALL_CNT = 33
#: `lddw rX, func` (PseudoSrc.FUNC) yields FUNC_ADDR_BASE + slot: a non-dereferenceable code address.
FUNC_ADDR_BASE = 0xFFFF_8000_0000_0000

_ZERO_STACK = bytes(MAX_BPF_STACK)
#: Pages kept for reuse across runs (a run maps a handful: context, packet, map values, keys).
_MAX_SPARE = 64

#: A helper: fn(machine, r1, r2, r3, r4, r5) -> r0.
Helper = Callable[..., int]


@runtime_checkable
class VmMapLike(Protocol):
    """What the engines and the Machine need from a VM map (pyebpf.vm.maps.VmMap implements it)."""

    spec: Any

    def value_ref(self, key: bytes) -> "bytearray | None": ...

    def lookup_raw(self, key: bytes) -> "bytes | None": ...


class TailCallSignal(Exception):
    """Raised by an engine after a helper performed a successful tail call; caught by `Machine.run_main`."""


class ProgramExit(Exception):
    """Ends the whole program early with r0 (LD_ABS/LD_IND out of bounds ends the program with r0 = 0)."""

    def __init__(self, r0: int, count: int = 0):
        super().__init__(r0, count)
        self.r0 = r0
        self.count = count  # instructions executed in the frame that ended the program


class Machine:
    """The state of one VM: memory, maps, helpers, environment, output, and the engine running the program."""

    def __init__(self, program: "Program", maps: dict[str, Any], helpers: dict[int, Helper], env: Any = None,
                 output: Any = None, prog_type: Any = None, max_insns: int = 1_000_000,
                 strict_alignment: bool = False, engine_factory: Callable[["Program", "Machine"], Any] | None = None):
        self.program = program
        self.maps = maps
        self.helpers = helpers
        self.env = env
        self.output = output
        self.prog_type = prog_type
        self.max_insns = max_insns
        self.mem = Memory(strict_alignment=strict_alignment)
        self.pc = 0
        self.ctx_addr = 0
        self.packet: Region | None = None
        self.ctx_region: Region | None = None
        self.depth = 0  # index of the current call frame (0 = main program)
        self.extra_insns = 0  # instructions run by nested call_function invocations
        self.tail_call_cnt = 0
        self.pending_tail: "Program | None" = None
        self._engine_factory = engine_factory
        self._engines: dict[int, Any] = {}
        self._handles: dict[int, int] = {}  # id(map) -> handle address
        self._values: dict[int, int] = {}  # id(buffer) -> address, this run
        self._value_bufs: list[bytearray] = []  # keeps buffers alive while their ids are cache keys
        self._run_regions: list[Region] = []
        self._fixed_pages: list[int] = []  # pages of this run's regions at fixed addresses (map_fixed_run_region)
        self._spare_pages: list[int] = []  # single pages the last run's regions held, reused by the next run
        self._kept: dict[str, Region] = {}  # name -> one-page region rebound every run (see reuse_run_region)
        self._kept_live: list[Region] = []  # kept regions bound in this run
        self._prog_fds: dict[int, "Program"] = {}
        self.stacks: list[Region] = [
            self.mem.map_region(bytearray(MAX_BPF_STACK), f"stack frame {i}", kind=KIND_STACK)
            for i in range(MAX_CALL_FRAMES)]
        #: r10 of each frame: the stack grows down from the end of its region.
        self.frame_tops = [s.end for s in self.stacks]
        self.lddw_values: dict[tuple[int, int], int] = {}  # (id(program), slot) -> value of pseudo lddw
        self._pseudo_lddw: dict[int, list] = {}  # id(program) -> its pseudo lddw (slot, insn), computed once
        self._writers: dict[int, bool] = {}  # id(program) -> may it write memory (stores, atomics, calls)
        #: the main frame may hold a run's bytes: reset zeroes it (set by run_main for programs that may write)
        self.stack_dirty = False
        #: a run changed some state reset() undoes (regions mapped, a program that stores or calls ran, a tail
        #: call chain): a run of a program that only computes on registers leaves the machine as it found it
        self.needs_reset = False

    # ---- engines ------------------------------------------------------------------------------------------------

    @cached_property
    def stack_views(self) -> "list[tuple[memoryview, memoryview, memoryview]] | None":
        """Each frame's bytes as arrays of u16, u32 and u64 (the compiled engine's aligned stack accesses at fixed
        offsets: an index instead of a struct call); None on a big-endian host, where they would not be the
        little-endian values eBPF stores. The frames are never resized, so the views stay valid."""
        if sys.byteorder != "little":
            return None
        out = []
        for stack in self.stacks:
            view = memoryview(stack.data)
            out.append((view.cast("H"), view.cast("I"), view.cast("Q")))
        return out

    def engine_for(self, program: "Program") -> Any:
        eng = self._engines.get(id(program))
        if eng is None:
            if self._engine_factory is None:
                raise VmError("this Machine has no engine")
            eng = self._engine_factory(program, self)
            self._engines[id(program)] = (eng, program)  # keep program alive so id() stays unique
            return eng
        return eng[0]

    # ---- per-run lifecycle --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Undo what the last run touched: the main stack frame and call state (only when a program that can write
        memory ran: calls, tail calls and stores all make a program a writer), the run's regions, its map value
        addresses. A run of a program that stores nothing costs a few checks."""
        # Deeper frames are zeroed when a call enters them; the main frame here.
        if self.stack_dirty:
            self.stacks[0].data[:] = _ZERO_STACK
            self.stack_dirty = False
            self.depth = 0
            self.extra_insns = 0
            self.tail_call_cnt = 0
            self.pending_tail = None
        if self._kept_live:  # emptied, not unmapped: a stale pointer to them faults, their page stays reserved
            for region in self._kept_live:
                region.end = region.base
                region.size = 0
            self._kept_live.clear()
        if self._fixed_pages:
            for page in self._fixed_pages:
                self.mem.pages.pop(page, None)
            self._fixed_pages.clear()
        if self._run_regions:
            pages, spare = self.mem.pages, self._spare_pages
            for region in self._run_regions:
                first = region.base >> PAGE_SHIFT
                if pages.get(first) is region:
                    if region.end - region.base < PAGE and len(spare) < _MAX_SPARE:
                        del pages[first]
                        spare.append(first)
                    else:
                        self.mem.unmap(region.base)
            self._run_regions.clear()
        if self._values:
            self._values.clear()
            self._value_bufs.clear()
        self.packet = None
        self.ctx_region = None
        self.ctx_addr = 0
        self.needs_reset = False

    def map_run_region(self, data: bytearray, name: str, writable: bool = True, kind: str = "mem",
                       obj: Any = None) -> Region:
        """Map a region for this run only (context, packet, conformance memory); unmapped at the next reset.

        A region smaller than a page reuses a page the previous run's regions held (the run that used it is over,
        and no register of this run can hold its addresses), which spares the page search."""
        self.needs_reset = True
        if type(data) is not bytearray:
            data = bytearray(data)
        spare = self._spare_pages
        if spare and len(data) < PAGE:
            first = spare.pop()
            pages = self.mem.pages
            if first not in pages:
                region = Region(first << PAGE_SHIFT, data, name, writable, kind, obj)
                pages[first] = region
                self._run_regions.append(region)
                return region
        region = self.mem.map_region(data, name, writable, kind, obj)
        self._run_regions.append(region)
        return region

    def map_fixed_run_region(self, base: int, data: bytes, name: str) -> Region:
        """Read-only `data` at the address `base` itself (kernel memory a tracing program loads from directly, at
        the addresses its pointers hold), for this run only; VmError when it overlaps a mapped page."""
        self.needs_reset = True
        region = Region(base, data if isinstance(data, bytearray) else bytearray(data), name, False, "mem")
        pages = self.mem.pages
        span = range(base >> PAGE_SHIFT, ((base + max(len(data), 1) - 1) >> PAGE_SHIFT) + 1)
        for page in span:
            if page in pages:
                raise VmError(f"{name} at {base:#x} overlaps {pages[page].name}", address=base)
        for page in span:
            pages[page] = region
            self._fixed_pages.append(page)
        return region

    def reuse_run_region(self, data: bytearray, name: str, writable: bool, kind: str, obj: Any = None) -> Region:
        """map_run_region for what every run maps (the context, the packet, the memory block): the one-page region
        of that name kept from an earlier run, rebound to `data` (no Region built, no page looked for). Between runs
        it is empty, so a pointer kept from an earlier run faults. Only for callers that keep their own reference
        to `data` for reading after the run: the next run rebinds the Region itself."""
        region = self._kept.get(name)
        if region is None and len(data) < PAGE:
            region = self._kept[name] = self.mem.map_region(bytearray(), name, writable, kind)
        elif region is None or len(data) >= PAGE or region.kind != kind or region.writable != writable or \
                region in self._kept_live:  # (bound in this run already: a second one is a region of its own)
            return self.map_run_region(data, name, writable, kind, obj)
        if type(data) is not bytearray:
            data = bytearray(data)
        self.needs_reset = True
        region.data = data
        region.size = size = len(data)
        region.end = region.base + size
        region.obj = obj
        self._kept_live.append(region)
        return region

    def run_main(self, r1: int, r2: int = 0, trace: list | None = None) -> tuple[int, int]:
        """Run the program from slot 0 with r1 (and r2), following tail calls; returns (r0, instructions).

        With `trace` (a list), the interpreter runs and appends (slot, text, {reg: new value}) per instruction."""
        args = (r1 & M64, r2 & M64, 0, 0, 0)
        plan = self._main_plan
        if trace is not None or plan is None or plan[0] is not self.program:
            return self._run_chain(self.program, args, 0, trace)
        # The main program, its per-program facts looked up once per VM (the common case: no tail call).
        program, engine, writes, lddw = plan
        if lddw:
            self.prepare_lddw(program)
        if writes:
            self.stack_dirty = self.needs_reset = True
        try:
            r0, n = engine.run(self, 0, args, self.max_insns)
            if self._direct_later:  # a tiered engine may have compiled the program in this run
                self._try_direct(engine)
            return r0, n + self.extra_insns
        except TailCallSignal as sig:
            total = sig.args[0]
        except ProgramExit as e:
            return e.r0 & M64, e.count + self.extra_insns
        return self._run_chain(self._enter_tail_call(), (args[0], 0, 0, 0, 0), total, None)

    _direct_later = False

    def _try_direct(self, engine: Any) -> None:
        self.direct = engine.direct()
        self._direct_later = self.direct is None

    _main_plan: "tuple[Program, Any, bool, bool] | None" = None
    #: (fn, entry block) of the main program's compiled function when calling it directly is safe (see _run_chain)
    direct: "tuple[Callable[..., tuple[int, int]], int] | None" = None

    def _run_chain(self, program: "Program", args: tuple, total: int, trace: list | None) -> tuple[int, int]:
        """run_main's general loop: each program of a tail-call chain, traced or not."""
        self.needs_reset = True
        while True:
            key = id(program)
            if self._pseudo_lddw.get(key, True):  # unknown yet, or the program has some
                self.prepare_lddw(program)
            writes = self._writers.get(key)
            if writes is None:
                writes = self._writers[key] = _may_write(program)
            if writes:
                self.stack_dirty = True
            try:
                if trace is not None:
                    r0, n = self._tracer_for(program).trace_run(self, args, self.max_insns - total, trace)
                else:
                    engine = self.engine_for(program)
                    if program is self.program and total == 0:
                        lddw = bool(self._pseudo_lddw[key])
                        self._main_plan = (program, engine, writes, lddw)
                        # A program that neither stores, calls nor loads map addresses cannot change the machine:
                        # the VM may call its compiled function directly, and on any exception run it again
                        # through run_main, which raises the same error with its instruction named.
                        self.direct = None
                        self._direct_later = hasattr(engine, "direct") and not writes and not lddw
                    r0, n = engine.run(self, 0, args, self.max_insns - total)
                    if self._direct_later and program is self.program and total == 0:
                        self._try_direct(engine)
                return r0, total + n + self.extra_insns
            except TailCallSignal as sig:
                total += sig.args[0]
            except ProgramExit as e:
                return e.r0 & M64, total + e.count + self.extra_insns
            program = self._enter_tail_call()
            args = (args[0], 0, 0, 0, 0)

    def _enter_tail_call(self) -> "Program":
        """The pending tail-call target, in the main frame made fresh for it."""
        program = self.pending_tail
        self.pending_tail = None
        self.depth = 0
        self.stacks[0].data[:] = _ZERO_STACK
        return program

    def _tracer_for(self, program: "Program") -> Any:
        from pyebpf.vm.interp import Interpreter

        tracers = self.__dict__.setdefault("_tracers", {})
        t = tracers.get(id(program))
        if t is None:
            t = tracers[id(program)] = (Interpreter(program, self, getattr(self, "may_goto_budget", 8 << 20)),
                                        program)
        return t[0]

    # ---- maps ---------------------------------------------------------------------------------------------------
    def map_handle(self, vmmap: Any) -> int:
        """The address `lddw rX, map[...]` loads: a 0-byte region standing for the map (never dereferenceable)."""
        addr = self._handles.get(id(vmmap))
        if addr is None:
            addr = self.mem.map(bytearray(), f"map {getattr(vmmap, 'name', '?')}", False, KIND_MAP, vmmap)
            self._handles[id(vmmap)] = addr
        return addr

    def map_from_handle(self, value: int) -> Any:
        """The VmMap whose handle is `value`; VmError when `value` is not a map handle."""
        region = self.mem.pages.get((value & M64) >> 16) if value < (1 << 32) else None
        if region is None or region.kind != KIND_MAP or region.base != value:
            raise VmError("expected a map pointer (from lddw map[...])", pc=self.pc, address=value)
        return region.obj

    def value_address(self, vmmap: Any, buf: bytearray) -> int:
        """Address of a live map value buffer, mapped writable (cached for this run: same element, same pointer)."""
        addr = self._values.get(id(buf))
        if addr is None:
            region = self.map_run_region(buf, f"value of map {getattr(vmmap, 'name', '?')}", True,
                                         KIND_MAP_VALUE, vmmap)
            addr = region.base
            self._values[id(buf)] = addr
            self._value_bufs.append(buf)
        return addr

    def resolve_map(self, insn: Any, program: "Program") -> Any:
        """The VmMap an lddw MAP_FD/MAP_VALUE/MAP_IDX names: by `ref`, else by fd/index number."""
        if insn.ref is not None:
            m = self.maps.get(insn.ref)
            if m is None:
                raise VmError(f"lddw names map {insn.ref!r}, which this VM does not have")
            return m
        fd = insn.imm_lo
        if fd in self.maps:
            return self.maps[fd]
        values = list(self.maps.values())
        if insn.src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE) and fd < len(values):
            return values[fd]
        raise VmError(f"lddw refers to map fd/index {fd}, which this VM does not have (name maps with ref= or "
                      f"pass maps={{{fd}: ...}})")

    def prepare_lddw(self, program: "Program") -> None:
        """Resolve the pseudo lddw values (map handles, map value addresses) of `program` for this run."""
        pseudo = self._pseudo_lddw.get(id(program))
        if pseudo is None:
            pseudo = self._pseudo_lddw[id(program)] = [
                (slot, insn) for slot, insn in program.by_slot() if insn.is_lddw and insn.src != PseudoSrc.IMM]
        for slot, insn in pseudo:
            key = (id(program), slot)
            if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
                self.lddw_values[key] = self.map_handle(self.resolve_map(insn, program))
            elif insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
                vmmap = self.resolve_map(insn, program)
                ref = getattr(vmmap, "value_ref", None)
                buf = ref(bytes(4)) if ref is not None else None
                if buf is None:
                    raise VmError(f"lddw map_value needs an array map with element 0 "
                                  f"({getattr(vmmap, 'name', '?')})", pc=slot)
                self.lddw_values[key] = self.value_address(vmmap, buf) + insn.imm_hi
            elif insn.src == PseudoSrc.FUNC:
                self.lddw_values[key] = FUNC_ADDR_BASE + slot + 1 + (insn.imm_lo - (1 << 32) * (insn.imm_lo >> 31))
            else:
                raise VmError(f"lddw with src {insn.src} ({PseudoSrc(insn.src).name}) needs kernel BTF; the VM "
                              f"does not support it", pc=slot)

    # ---- calls --------------------------------------------------------------------------------------------------
    @staticmethod
    def func_slot(value: int) -> int:
        """Slot of a function pointer loaded with `lddw rX, func` (or a plain slot number)."""
        return value - FUNC_ADDR_BASE if value >= FUNC_ADDR_BASE else value

    def call_function(self, slot: int, r1: int = 0, r2: int = 0, r3: int = 0, r4: int = 0, r5: int = 0) -> int:
        """Run the subprogram at `slot` (of the running program) in a new frame and return its r0."""
        slot = self.func_slot(slot)
        if self.depth + 1 >= MAX_CALL_FRAMES:
            raise VmError(f"call stack too deep: more than {MAX_CALL_FRAMES} frames", pc=self.pc)
        program = self._current_program
        engine = self.engine_for(program)
        saved_pc, saved_depth = self.pc, self.depth
        self.depth += 1
        self.stacks[self.depth].data[:] = bytes(MAX_BPF_STACK)
        try:
            r0, n = engine.run(self, slot, (r1 & M64, r2 & M64, r3 & M64, r4 & M64, r5 & M64),
                               self.max_insns - self.extra_insns, self.depth)
        finally:
            self.pc, self.depth = saved_pc, saved_depth
        self.extra_insns += n
        return r0

    @property
    def _current_program(self) -> "Program":
        return getattr(self, "_running", None) or self.program

    def prog_fd(self, program: "Program") -> int:
        """A number standing for `program` in a PROG_ARRAY (the VM's answer to a prog fd; the same in every VM). The
        Machine keeps the program alive from then on, as an open fd would."""
        from pyebpf.vm.maps.fd_array import prog_fd

        fd = prog_fd(program)
        self._prog_fds[fd] = program
        return fd

    def tail_call(self, prog_array: Any, index: int) -> bool:
        """bpf_tail_call: True when the jump will happen (engine switches after the helper), False to fall through."""
        index &= 0xFFFFFFFF
        spec = prog_array.spec
        if index >= spec.max_entries or self.tail_call_cnt >= MAX_TAIL_CALL_CNT:
            return False
        program_at = getattr(prog_array, "program_at", None)  # a VM ProgArrayMap; other maps hold no programs
        target = program_at(index) if program_at is not None else None
        if target is None:
            return False
        self.tail_call_cnt += 1
        self.pending_tail = target
        return True

    def tail_call_in_frame(self) -> tuple[int, int]:
        """Run the pending tail-call target in place of the current subprogram frame (a tail call from a bpf-to-bpf
        subprogram: the target's exit returns to the subprogram's caller, as with the x86 JIT); (r0, insns)."""
        target = self.pending_tail
        self.pending_tail = None
        saved = self._current_program
        self.prepare_lddw(target)
        self.stacks[self.depth].data[:] = bytes(MAX_BPF_STACK)  # the frame is reused by the target
        try:
            return self.engine_for(target).run(self, 0, (self.ctx_addr, 0, 0, 0, 0),
                                               self.max_insns - self.extra_insns, self.depth)
        finally:
            self._running = saved

    def helper(self, helper_id: int) -> Helper:
        fn = self.helpers.get(helper_id)
        if fn is None:
            raise VmError(f"unknown helper {helper_id}", pc=self.pc)
        return fn


def _may_write(program: "Program") -> bool:
    """Whether `program` can change memory: a store, an atomic or a call (helpers write through pointers, and a
    tail call runs another program). A program without any leaves the stack as it found it."""
    from pyebpf.abi.opcodes import CLASS_MASK, InsnClass, JmpOp, OP_MASK

    for insn in program.instructions:
        cls = insn.opcode & CLASS_MASK
        if cls in (InsnClass.ST, InsnClass.STX):
            return True
        if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.opcode & OP_MASK == JmpOp.CALL:
            return True
    return False


def tail_call_helper(m: Machine, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_tail_call(ctx, prog_array, index): used when the helper table has none."""
    m.tail_call(m.map_from_handle(r2), r3)
    return 0


__all__ = ["Machine", "Helper", "VmMapLike", "TailCallSignal", "ProgramExit", "MAX_TAIL_CALL_CNT",
           "FUNC_ADDR_BASE", "tail_call_helper", "M64"]
