"""`compile_probe(fn, section)`: a Python function -> a `Program` (front end, IR, register allocation, lowering)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pyebpf.abi.prog_types import ProgType, prog_type_for_section
from pyebpf.abi.uapi import XdpAction
from pyebpf.compiler.context import TracepointProvider, UsdtProvider, context_spec
from pyebpf.compiler.ir import Function
from pyebpf.compiler.ktypes import KernelTypes
from pyebpf.compiler.lower import lower
from pyebpf.compiler.pyfront import PythonFrontEnd
from pyebpf.compiler.symbols import MapInfo, rodata_spec
from pyebpf.errors import CompileError
from pyebpf.isa.program import Program

#: What a probe returns when its code falls off the end (or a packet is too short for ctx.header()): let the
#: packet through, keep all of it, allow it; 0 elsewhere.
DEFAULT_RETURN = {ProgType.XDP: int(XdpAction.PASS), ProgType.SOCKET_FILTER: -1, ProgType.CGROUP_SKB: 1}


@dataclass
class CompiledProbe:
    program: Program
    maps: dict[str, Any]
    """map name -> the user's map object (what `__probe_map__` was read from)"""
    infos: dict[str, MapInfo]
    lines: list[tuple[int, int, int]]
    ir: Function
    section: str
    target: str
    seconds: float = 0.0
    rodata: bytes = b""
    filename: str = ""
    source_lines: dict[int, str] = field(default_factory=dict)
    functions: list[tuple[str, int]] = field(default_factory=list)
    """(name, first slot) of the probe (slot 0) and each bpf-to-bpf subprogram after it"""
    subprogram_params: dict[str, int] = field(default_factory=dict)

    def source_line_of(self, insn_index: int) -> tuple[int, int] | None:
        """(line, col) of the source the instruction at `insn_index` was compiled from."""
        best = None
        for idx, line, col in self.lines:
            if idx > insn_index:
                break
            best = (line, col)
        return best


def section_info(section: str) -> tuple[ProgType, str, Any]:
    try:
        d = prog_type_for_section(section)
    except ValueError:
        raise CompileError(f"unknown section {section!r}",
                           hint="e.g. tracepoint/syscalls/sys_enter_openat, raw_tp/sched_switch, xdp, tc, "
                                "kprobe/do_unlinkat, uprobe/PATH:SYMBOL, socket") from None
    return d.prog_type, d.target(section), d.attach_type


def compile_probe(fn: Callable[..., Any], section: str, *, tracepoints: TracepointProvider | None = None,
                  name: str | None = None, map_namer: Callable[[Any, str], str] | None = None,
                  license: str = "GPL", cpu_v4: bool = True, kernel: KernelTypes | None = None,
                  usdt: UsdtProvider | None = None, loop_features: frozenset[str] | None = None) -> CompiledProbe:
    """Compile `fn` for `section` (a libbpf SEC() name: it picks the program type and the attach target).
    cpu_v4=False keeps to instructions older kernels take (no movsx/sdiv/ldsx: Linux < 6.6). `kernel` gives
    kernel types (BTF-named arguments, struct fields through pointers); None compiles without them.
    `loop_features` ("bpf_loop", "may_goto"): what the target kernel offers for loops over large or unknown counts
    (pyfront/loops.py); None: both."""
    start = time.perf_counter()
    ptype, target, attach_type = section_info(section)
    try:
        ctx = context_spec(ptype, target, tracepoints, kernel, attach_type, section, usdt)
    except CompileError as e:  # about the section (no such tracepoint, USDT probe...): at the def line
        raise _at_def(fn, e) from None
    fe = PythonFrontEnd(fn, ctx, DEFAULT_RETURN.get(ptype, 0), map_namer, cpu_v4=cpu_v4, kernel=kernel)
    if loop_features is not None:
        fe.loop_features = frozenset(loop_features)
    try:
        fe.compile()
    except RecursionError:
        raise CompileError(f"{getattr(fn, '__name__', 'probe')}(): expressions or calls nest too deeply",
                           hint="split the expression over several lines") from None
    specs = {n: info.spec() for n, info in fe.maps.items()}
    if fe.rodata:
        specs[fe.rodata_name] = rodata_spec(fe.rodata_name, bytes(fe.rodata))
    prog_name = (name or getattr(fn, "__name__", "probe"))[:15]
    # kprobe-type sections keep their kind (kprobe/, kretprobe/, uprobe/, uretprobe/) in the attach target
    attach_to = section if ptype == ProgType.KPROBE and target else (target or None)
    try:
        lowered = lower(fe.ir.fn, specs, ptype, prog_name, attach_to, attach_type, license, cpu_v4,
                        [s.ir.fn for s in fe.subprograms.values()])
    except CompileError as e:  # whole-function limits (stack size): reported at the def line
        if e.line:
            raise
        raise _at_def(fn, e) from None
    lowered.program.section = section  # the loader finds tp_btf/fentry attach_btf_id and attach kinds by it
    return CompiledProbe(lowered.program, dict(fe.map_objects), dict(fe.maps), lowered.lines, fe.ir.fn, section,
                         target, time.perf_counter() - start, bytes(fe.rodata),
                         functions=[(n, lowered.program.slot_of(i)) for n, i in lowered.functions],
                         subprogram_params={s.ir.fn.name: len(s.param_types) for s in fe.subprograms.values()})


def _at_def(fn: Callable[..., Any], e: CompileError) -> CompileError:
    """A whole-probe error (stack size, the section's target) reported at the probe's def line."""
    from pyebpf.compiler.pyfront import parse_function

    fdef, filename, first, shift, lines = parse_function(fn)
    return CompileError(f"{getattr(fn, '__name__', 'probe')}(): {e.message}", filename, first, shift + 1,
                        lines[0] if lines else "", e.hint)


__all__ = ["compile_probe", "CompiledProbe", "section_info", "DEFAULT_RETURN"]
