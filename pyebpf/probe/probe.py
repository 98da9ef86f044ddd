"""`@probe(section)`: a Python function compiled to eBPF on first use, run in the VM or loaded into the kernel."""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Callable

from pyebpf.abi.prog_types import ProgType
from pyebpf.compiler.api import CompiledProbe, compile_probe
from pyebpf.compiler.context import Field
from pyebpf.errors import LoaderError, VerifierError, VmError
from pyebpf.isa.program import Program
from pyebpf.probe.maps import ProbeMap, RingBuf
from pyebpf.compiler.context import SYSTEM
from pyebpf.compiler.ktypes import SYSTEM_TYPES


class Probe:
    """A compiled probe: `.program`, `.maps`, `.run(...)` (VM), `.load()` (kernel, a context manager)."""

    def __init__(self, fn: Callable[..., Any], section: str, *, name: str | None = None, tracepoints: Any = None,
                 license: str = "GPL", cpu_v4: bool | None = None, kernel_types: Any = None,
                 frequency: int | None = None, event: str = "cpu-clock", loops: Any = None):
        self.fn = fn
        self.loops = None if loops is None else frozenset(loops)
        """What loops over large or unknown counts may compile to ("bpf_loop", "may_goto"); None: what the running
        kernel has (bpf_loop from Linux 5.17, may_goto from 6.9)."""
        self.sampling = f"{event}:{frequency}" if frequency is not None else None
        """perf_event probes: the sampling event they attach to ('cpu-clock:99': every CPU at 99 Hz)."""
        if frequency is not None and (not isinstance(frequency, int) or frequency <= 0):
            raise ValueError(f"frequency must be a positive number of samples per second, not {frequency!r}")
        self.kernel_types = kernel_types
        """Where kernel types come from (BTF-named arguments, task.real_parent.tgid): the running kernel's BTF
        by default; tests may inject a provider with a `btf()` method."""
        self.cpu_v4 = cpu_v4
        """Use Linux 6.6's instructions (movsx, sdiv, ldsx); None: when the running kernel has them."""
        self.section = section
        self.name = name or fn.__name__
        self.tracepoints = tracepoints
        self.license = license
        self._compiled: CompiledProbe | None = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<Probe {self.name} {self.section!r}>"

    def __call__(self, *args: Any, **kw: Any) -> Any:
        raise TypeError(f"probe {self.name} runs as eBPF: use {self.name}.run(...) (VM) or {self.name}.load() "
                        f"(kernel)")

    # -- compilation ----------------------------------------------------------------------------------------------
    @property
    def compiled(self) -> CompiledProbe:
        if self._compiled is None:
            v4 = self.cpu_v4 if self.cpu_v4 is not None else _kernel_has_cpu_v4()
            self._compiled = compile_probe(self.fn, self.section, tracepoints=self.tracepoints or SYSTEM,
                                           name=self.name, license=self.license, cpu_v4=v4,
                                           kernel=self.kernel_types or SYSTEM_TYPES, usdt=SYSTEM_USDT,
                                           loop_features=self.loops if self.loops is not None
                                           else _kernel_loop_features())
            if self.sampling is not None:  # attach by the sampling event, as `pyebpf load --attach cpu-clock:99`
                self._compiled.program.attach_to = self.sampling
        return self._compiled

    def compile(self) -> "Probe":
        _ = self.compiled
        return self

    @property
    def program(self) -> Program:
        return self.compiled.program

    @property
    def maps(self) -> dict[str, ProbeMap]:
        return dict(self.compiled.maps)

    @property
    def prog_type(self) -> ProgType:
        return self.program.prog_type  # type: ignore[return-value]

    # -- VM -------------------------------------------------------------------------------------------------------
    def context(self, *, packet: bytes | None = None, **fields: Any) -> Any:
        """The VM context for this probe from Python values: `packet=` for packet programs, the tracepoint's own
        field names for tracepoints, `args=[...]` for raw tracepoints, register names for kprobes."""
        from pyebpf.vm import context as vc

        pt = self.prog_type
        if packet is not None:
            return vc.for_packet(pt, packet, **fields)
        if pt == ProgType.TRACEPOINT:
            return vc.TracepointContext(self._tracepoint_record(fields))
        if pt == ProgType.KPROBE:  # BTF-named parameters are the registers they arrive in
            named_regs = {n: f for n, f in self._arg_fields().items()}
            fields = {(_reg_name(named_regs[k].offset) if k in named_regs else k): v for k, v in fields.items()}
            return vc.default_context(pt, **fields)
        named = self._btf_args(fields)
        if named is not None:
            fields = {"args": named}
        if pt == ProgType.TRACING:  # tp_btf/fentry/fexit: the context is the u64 argument slots, as a raw tp's
            return _TracingContext(**fields)
        return vc.default_context(pt, **fields)

    def _btf_args(self, values: dict[str, Any]) -> list[int] | None:
        """`run(prev=..., next=...)`: BTF-named arguments of a raw_tp/tp_btf/fentry probe as the u64 slots they are
        (kprobe arguments are register names); None when no BTF-named argument is given."""
        spec_fields = self._arg_fields()
        if not spec_fields or not any(k in spec_fields for k in values):
            return None
        slots = [0] * max(f.offset // 8 + 1 for f in spec_fields.values())
        for key, value in values.items():
            f = spec_fields.get(key)
            if f is None:
                raise VmError(f"{self.name} has no argument {key!r} (arguments: {', '.join(spec_fields)})")
            slots[f.offset // 8] = int(value) & (2 ** 64 - 1)
        return slots

    def _arg_fields(self) -> dict[str, Field]:
        from pyebpf.compiler.context import context_spec
        from pyebpf.compiler.api import section_info

        pt, target, attach_type = section_info(self.section)
        if self.section.startswith(("usdt/", "usdt.s/")):
            return {}  # USDT arguments are where the note says: run() takes the registers and user memory
        if pt not in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING, ProgType.KPROBE):
            return {}
        spec = context_spec(pt, target, None, self.kernel_types or SYSTEM_TYPES, attach_type, self.section)
        return {n: f for n, f in spec.fields.items() if f.kind == "btf"} if spec else {}

    def _tracepoint_record(self, values: dict[str, Any]) -> bytes:
        c = self.compiled
        category, _, name = c.target.partition("/")
        fields: list[Field] = (self.tracepoints or SYSTEM).tracepoint_fields(category, name)
        size = max([8] + [f.offset + f.size * f.count for f in fields])
        raw = bytearray(size)
        known = {f.name: f for f in fields}
        for key, value in values.items():
            f = known.get(key)
            if f is None:
                raise VmError(f"tracepoint {category}:{name} has no field {key!r} (fields: {', '.join(known)})")
            items = list(value) if f.count > 1 else [value]
            if len(items) > f.count:
                raise VmError(f"{key}: {f.count} elements at most")
            for i, v in enumerate(items):
                if isinstance(v, (bytes, bytearray)):
                    raise VmError(f"{key}: expected an integer")
                off = f.offset + i * f.size
                raw[off:off + f.size] = (int(v) & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")
        return bytes(raw)

    def vm(self, engine: str = "interp", env: Any = None, ncpus: int | None = None) -> Any:
        """A VM over this probe's program whose maps are the probe's map objects (their VM backends). Kept per
        engine while the maps' VM backends stay the same (the compiled engine's translation is reused)."""
        from pyebpf.vm import VM

        maps = {name: m.vm_map(ncpus) for name, m in self.compiled.maps.items() if type(m) is not RingBuf}
        key = (engine, ncpus, self.program, tuple((n, id(v)) for n, v in maps.items()))
        cached = self.__dict__.setdefault("_vms", {}).get(engine)
        if cached is not None and cached[0] == key:
            vm = cached[1]
        else:
            vm = VM(self.program, maps=maps, engine=engine, ncpus=ncpus)
            self._vms[engine] = (key, vm)
            vm._default_env = vm.env
        vm.env = vm.machine.env = env if env is not None else vm._default_env
        return vm

    def run(self, ctx: Any = None, *, engine: str = "interp", env: Any = None, packet: bytes | None = None,
            **fields: Any) -> Any:
        """Run once in the VM; returns the VM's RunResult (`.r0`, `.printk`, ...) and updates the map objects.
        Ring buffer records go to the RingBuf objects (`events.read()`)."""
        vm = self.vm(engine, env)
        if ctx is None:
            ctx = self.context(packet=packet, **fields)
        res = vm.run(ctx)
        for rec in res.ring:
            m = self.compiled.maps.get(rec.map)
            if isinstance(m, RingBuf):
                m.vm_records([rec.data])
        for name, m in self.compiled.maps.items():
            # the RingBuf object now holds the run's records: consume them from the VM's ring, as the reader of a
            # kernel ring does, so the next run's bpf_ringbuf_output finds their room free again
            if type(m) is RingBuf and name in vm.maps:
                vm.maps[name].consume()
        return res

    # -- verifier and kernel --------------------------------------------------------------------------------------
    def verify(self, **kw: Any) -> Any:
        """Our verifier over the program; a rejection names the Python line it came from."""
        from pyebpf.verifier import verify

        try:
            return verify(self.program, **kw)
        except VerifierError as e:
            raise self._at_source(e) from None

    def explain(self, **kw: Any) -> Any:
        """Why our verifier refuses this probe (verifier/explain.py), at its Python lines; None when accepted."""
        import inspect

        from pyebpf.verifier.explain import explain

        fname = inspect.getsourcefile(self.fn) or "<probe>"
        try:
            text = dict(enumerate(open(fname, encoding="utf-8").read().splitlines(), 1))
        except OSError:
            text = {}
        source = {}
        for idx, line, _col in self.compiled.lines:
            if idx < len(self.program):
                source[self.program.slot_of(idx)] = f"{fname.rsplit('/', 1)[-1]}:{line}: {text.get(line, '').strip()}"
        return explain(self.program, self.program.prog_type, language="py", source=source, **kw)

    def _source_of_slot(self, slot: int | None) -> str:
        """'file:line:col: ' of the Python source instruction `slot` was compiled from, or ''."""
        if slot is None:
            return ""
        try:
            idx = self.program.index_of(slot)
        except ValueError:
            return ""
        loc = self.compiled.source_line_of(idx)
        if loc is None:
            return ""
        import inspect

        fname = inspect.getsourcefile(self.fn) or "<probe>"
        return f"{fname}:{loc[0]}:{loc[1]}: "

    def _at_source(self, e: VerifierError) -> VerifierError:
        return VerifierError(f"{self._source_of_slot(e.insn)}{e.message}", e.insn, e.errno, e.log)

    def write_object(self, path: str | None = None) -> bytes:
        """The compiled probe as a BPF ELF object, as clang would write it (SEC() name, BTF-defined maps, .rodata,
        func_info, and CO-RE relocations for every kernel struct field it reads): `pyebpf load`, libbpf
        (`bpftool prog loadall`) or pyebpf.loader.ElfSpec load it on another kernel, where the relocations move the
        field offsets to that kernel's layout. Returns the bytes (and writes `path` if given)."""
        from pyebpf.loader.elf_writer import write_elf

        c = self.compiled
        initial = {name: spec.initial for name, spec in c.program.maps.items()
                   if name.startswith(".rodata") and spec.initial is not None}
        return write_elf(c.program, path, initial_values=initial)

    def load(self, *, attach: bool | str = True, verify: bool = True, log_level: int = 0) -> "LoadedProbe":
        """Verify with our verifier, load into the kernel with the map objects' kernel maps, attach by the section
        name (or `attach=TARGET`). Use as a context manager: leaving it detaches and unloads."""
        return load_all([self], attach=attach, verify=verify, log_level=log_level)[0]


class SystemUsdt:
    """USDT argument specs from the binary's .note.stapsdt (pyebpf.loader.usdt reads them), for the compiler."""

    def usdt_args(self, binary: str, provider: str, name: str) -> list[tuple[Any, ...]]:
        from pyebpf.errors import CompileError
        from pyebpf.loader.usdt import UsdtError, probe_arg_specs

        try:
            return probe_arg_specs(binary, provider, name)
        except (UsdtError, LoaderError) as e:
            raise CompileError(f"USDT {provider}:{name} in {binary}: {e.message}",
                               hint="`pyebpf usdt list BINARY` shows a binary's probes") from None


SYSTEM_USDT = SystemUsdt()


def _attach(kp: Any, probe: Probe, target: str | None) -> None:
    """Attach by the section (or `target`): USDT probes through their note's sites, the rest by the SEC() table."""
    if probe.section.startswith(("usdt/", "usdt.s/")) and target is None:
        from pyebpf.loader.usdt import attach_usdt

        from pyebpf.compiler.context import usdt_spec_ids

        binary, provider, name = probe.compiled.target.rsplit(":", 2)
        specs, ids = usdt_spec_ids(SYSTEM_USDT.usdt_args(binary, provider, name))
        # one spec: cookie 0 everywhere; several: each site's spec id, which the program switches on
        kp.links.extend(attach_usdt(kp, binary, provider, name, cookie=ids if len(specs) > 1 else 0))
        return
    kp.attach(target)


@functools.cache
def _tracing_context_class() -> Any:
    from pyebpf.vm.context import RawTracepointContext
    from pyebpf.vm.memory import PAGE

    class TracingContext(RawTracepointContext):
        """tp_btf/fentry arguments; the environment's kernel memory is mapped at its own addresses for the run, as
        the kernel's is: the probe reads PTR_TO_BTF_ID arguments with plain loads (compiler/pyfront/kernel.py)."""

        def materialize(self, m: Any) -> int:
            for n, (base, data) in enumerate(sorted(m.env.kernel_memory.items())):
                m.map_fixed_run_region(base, data, f"kernel memory {n}")
            if 0 not in m.mem.pages:  # a plain load through NULL (+ a field offset) reads 0, as BPF_PROBE_MEM does
                m.map_fixed_run_region(0, null_page, "NULL page (BPF_PROBE_MEM reads 0)")
            return super().materialize(m)

    null_page = bytearray(PAGE)  # read-only, shared by every run
    return TracingContext


def _TracingContext(**fields: Any) -> Any:
    return _tracing_context_class()(**fields)


def _reg_name(offset: int) -> str:
    """The pt_regs register at `offset` (a kprobe argument's field)."""
    from pyebpf.abi.context import PT_REGS

    return next(f.name for f in PT_REGS.fields if f.offset == offset)


def _kernel_loop_features() -> frozenset[str]:
    """The loop features of pyfront/loops.py the running kernel has."""
    from pyebpf.compiler.pyfront.loops import BPF_LOOP_SINCE
    from pyebpf.isa.features import IsaFeature
    from pyebpf.system.kernel import kernel_version_code

    code = kernel_version_code()
    since = {"bpf_loop": BPF_LOOP_SINCE, "may_goto": IsaFeature.MAY_GOTO.since}
    return frozenset(f for f, (major, minor) in since.items() if code >= (major << 16) + (minor << 8))


def _kernel_has_cpu_v4() -> bool:
    from pyebpf.isa.features import IsaFeature
    from pyebpf.system.kernel import kernel_version_code

    major, minor = IsaFeature.CPU_V4.since
    return kernel_version_code() >= (major << 16) + (minor << 8)


class LoadedProbe:
    """A probe in the kernel: `.kernel` (the KernelProgram), `.test_run(...)`, `.close()` (also on `with` exit)."""

    def __init__(self, probe: Probe, kernel: Any, maps: list[ProbeMap]):
        self.probe = probe
        self.kernel = kernel
        self._maps = maps
        self.closed = False

    @property
    def fd(self) -> int:
        """The program's fd (what a ProgArray slot takes)."""
        return self.kernel.fd

    def test_run(self, data: bytes = b"", ctx: Any = None, **kw: Any) -> Any:
        return self.kernel.test_run(data, ctx, **kw)

    def run(self, ctx: Any = None, *, packet: bytes | None = None, **fields: Any) -> Any:
        """BPF_PROG_TEST_RUN with the same arguments as Probe.run (packet programs and raw tracepoints)."""
        if ctx is None and packet is None and fields:
            pt = self.probe.prog_type
            if pt in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING):
                named = self.probe._btf_args(fields)
                args = named if named is not None else list(fields.pop("args", []))
                fields = {}
                ctx = (ctypes.c_uint64 * max(len(args), 1))(*[a & (2 ** 64 - 1) for a in args])
        return self.kernel.run(ctx, packet=packet, **fields)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.kernel.close()
        finally:
            for m in self._maps:
                m.kernel_release()

    def __enter__(self) -> "LoadedProbe":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_all(probes: list[Probe], *, attach: bool | str = True, verify: bool = True, log_level: int = 0
             ) -> list[LoadedProbe]:
    """Load several probes sharing their map objects (e.g. an entry and an exit probe sharing a start map)."""
    from pyebpf.loader.program import KernelVerifierError, ProgramLoadError
    from pyebpf.probe.btfinfo import load_with_lines

    if verify:  # (imported only then: `pyebpf trace` loads without it, and its start-up time is measured)
        from pyebpf.verifier import supports
    loaded: list[LoadedProbe] = []
    try:
        for p in probes:
            if verify and supports(p.prog_type, p.program.expected_attach_type):  # tp_btf/fentry/fexit included
                p.verify()
            acquired: list[ProbeMap] = []
            try:
                kmaps = {}
                for name, m in p.compiled.maps.items():
                    kmaps[name] = m.kernel_acquire()
                    acquired.append(m)
                try:
                    kp = load_with_lines(p, kmaps, log_level)
                except KernelVerifierError as e:  # still a VerifierError, at the Python line
                    where = p._source_of_slot(e.insn)
                    raise KernelVerifierError(f"{where}probe {p.name}", e.errno, e.log, p.name) from None
                except ProgramLoadError as e:
                    where = p._source_of_slot(e.insn)
                    raise ProgramLoadError(f"{where}probe {p.name}: {e.message}", e.errno, e.log, p.name) from None
                except LoaderError as e:
                    raise LoaderError(f"probe {p.name}: {e.message}", e.errno, e.log) from None
                lp = LoadedProbe(p, kp, acquired)
                acquired = []
            finally:
                for m in acquired:
                    m.kernel_release()
            loaded.append(lp)
            if attach:
                _attach(kp, p, None if attach is True else attach)
    except BaseException:
        for lp in loaded:
            lp.close()
        raise
    return loaded


def probe(section: str, **options: Any) -> Callable[[Callable[..., Any]], Probe]:
    """Decorator: `@probe("tracepoint/syscalls/sys_enter_openat")` turns the function into a Probe."""
    if not isinstance(section, str):
        raise TypeError("@probe needs a section name: @probe(\"tracepoint/syscalls/sys_enter_openat\")")

    def wrap(fn: Callable[..., Any]) -> Probe:
        return Probe(fn, section, **options)

    return wrap


__all__ = ["probe", "Probe", "LoadedProbe", "load_all"]
