"""Loading a Program into the kernel: maps created and patched in, BTF for subprograms, the verifier log on failure.

`load(program, prog_type=..., maps=...)` returns a `KernelProgram` owning the program fd, the maps it created and
the BTF it generated; `close()` (or leaving a `with` block, or garbage collection) releases them. Every error path
closes what was made before the failure.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import re
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.abi.prog_kinds import prog_test_run_single_shot
from pyebpf.abi.prog_types import AttachType, ProgType, SecFlag, SectionDef, parse_prog_type, prog_type_for_section
from pyebpf.abi.uapi import MapCreateFlags, ProgLoadFlags
from pyebpf.errors import LoaderError, VerifierError
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program
from pyebpf.loader import syscall as sc
from pyebpf.loader.attr import bpf_func_info, bpf_line_info, bpf_prog_load_attr, bpf_test_run_attr
from pyebpf.loader.fdguard import FdHandle, FdScope
from pyebpf.loader.maps import KernelMap, create_map, create_or_open_pinned

#: where maps with pinning="by_name" live unless told otherwise (libbpf's default pin root)
DEFAULT_PIN_ROOT = "/sys/fs/bpf"
#: First log buffer when a log is wanted; a bigger one is used when the kernel says how much it needs.
DEFAULT_LOG_SIZE = 1 << 18
#: The kernel rejects log_size >= UINT_MAX >> 2 (bpf_verifier_log_attr_valid).
MAX_LOG_SIZE = (1 << 30) - 1
#: Last lines of a verifier log that are statistics or state dumps, not the reason for a rejection.
_LOG_TRAILER = ("verification time ", "stack depth ", "processed ", "cur state:", "old state:")
#: `12: (b7) r1 = 0` — the instruction the verifier was checking.
_LOG_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) ")
#: At log level 1 a reason can be followed on the same line by the statistics trailer.
_LOG_GLUED_STATS = re.compile(r"(?<=\S)(?=processed \d+ insns \(limit)")


def verifier_reason(log: str) -> tuple[str, int | None]:
    """(the verifier's last line — its reason for the rejection —, the slot it was checking or None)."""
    lines = [ln.rstrip() for ln in _LOG_GLUED_STATS.sub("\n", log).splitlines() if ln.strip()]
    while lines and lines[-1].startswith(_LOG_TRAILER):
        lines.pop()
    if not lines:
        return "", None
    for ln in reversed(lines):
        m = _LOG_INSN_LINE.match(ln)
        if m:
            return lines[-1], int(m.group(1))
    return lines[-1], None


class ProgramLoadError(LoaderError):
    """BPF_PROG_LOAD failed; `.log` is the kernel verifier's whole log, `.reason` its last line (also in the
    one-line message), `.insn` the slot the verifier was checking, `.program_name` the program."""

    def __init__(self, message: str, errno: int | None, log: str = "", program_name: str = ""):
        super().__init__(message, errno, log)
        self.program_name = program_name
        self.reason, self.insn = verifier_reason(log)
        if self.reason:
            where = f"insn {self.insn}: " if self.insn is not None else ""
            self.args = (f"{self.args[0]}: {where}{self.reason}",)


class KernelVerifierError(ProgramLoadError, VerifierError):
    """The kernel's verifier refused the program: a VerifierError (`.message` the kernel's reason, `.insn` the slot,
    `.errno`, `.log` the kernel's whole log) that is still a ProgramLoadError/LoaderError for older callers."""

    def __init__(self, message: str, errno: int | None, log: str = "", program_name: str = ""):
        ProgramLoadError.__init__(self, message, errno, log, program_name)
        # LoaderError's super().__init__ reaches VerifierError.__init__ through the MRO: set the fields again
        self.message, self.errno, self.log = self.reason, errno, log
        where = f" at insn {self.insn}" if self.insn is not None else ""
        name = _errno.errorcode.get(errno or 0, str(errno))
        Exception.__init__(self, f"{message}: the verifier refused it{where}: {self.reason} ({name})")


@dataclass(frozen=True)
class TestRunResult:
    """What BPF_PROG_TEST_RUN reports: R0 (u32), the packet and context after the run, mean ns per run."""

    __test__ = False  # not a pytest class

    retval: int
    data: bytes
    ctx: Any
    duration_ns: int

    @property
    def r0(self) -> int:
        """The VM's RunResult name for the result (the kernel reports only R0's low 32 bits)."""
        return self.retval

    @property
    def packet(self) -> bytes:
        """The VM's RunResult name for the packet after the run."""
        return self.data


def _as_prog_type(value: Any) -> ProgType:
    if isinstance(value, ProgType):
        return value
    if isinstance(value, str):
        return parse_prog_type(value)
    return ProgType(int(value))


def _as_attach_type(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        key = value.upper()
        if key.startswith("BPF_"):
            key = key[4:]
        try:
            return AttachType[key]
        except KeyError:
            raise LoaderError(f"unknown attach type {value!r}") from None
    return int(value)


class KernelProgram:
    """A loaded program: `.fd`, `.maps` (name -> KernelMap), `.test_run()`, `.info()`, `.pin()`, `.close()`.

    Links made with the `attach*` methods are kept in `.links` and closed by close().
    """

    def __init__(self, fd: int | FdHandle, prog_type: ProgType | None = None, name: str = "",
                 maps: Mapping[str, KernelMap] | None = None, owned: list[Any] | None = None,
                 program: Program | None = None, log: str = "", btf: FdHandle | None = None):
        self._handle = fd if isinstance(fd, FdHandle) else FdHandle(fd)
        self.prog_type = prog_type
        self.name = name
        self.maps: dict[str, KernelMap] = dict(maps or {})
        self._owned = list(owned or [])  # maps we created (closed with the program); user maps are not
        self.program = program
        self.log = log
        self.btf = btf
        self.links: list[Any] = []

    # -- construction from existing kernel objects -------------------------------------------------------------
    @classmethod
    def from_fd(cls, fd: int | FdHandle) -> "KernelProgram":
        """Wrap a program fd we own (pinned, by id); its maps are opened by id and owned too."""
        handle = fd if isinstance(fd, FdHandle) else FdHandle(fd)
        with FdScope() as scope:
            scope.add(handle)
            from pyebpf.loader.info import prog_info

            info = prog_info(handle.fd)
            maps: dict[str, KernelMap] = {}
            for map_id in info.map_ids:
                try:
                    m = scope.add(KernelMap.from_id(map_id))
                except LoaderError:
                    continue  # a map can vanish between the info and the open
                maps[m.name or f"map_{map_id}"] = m
            try:
                ptype = ProgType(info.type)
            except ValueError:
                ptype = None
            prog = cls(handle, ptype, info.name, maps, owned=list(maps.values()))
            scope.keep()
        return prog

    @classmethod
    def from_id(cls, prog_id: int) -> "KernelProgram":
        return cls.from_fd(sc.get_fd_by_id("prog", prog_id))

    # -- ownership -------------------------------------------------------------------------------------------
    @property
    def fd(self) -> int:
        return self._handle.fd

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Close its links (a pinned link stays attached), then the program, the maps it created and its BTF."""
        while self.links:
            link = self.links.pop()
            try:
                link.close()
            except Exception:  # noqa: BLE001 - keep closing the rest
                pass
        self._handle.close()
        for m in self._owned:
            m.close()
        self._owned.clear()
        if self.btf is not None:
            self.btf.close()

    def __enter__(self) -> "KernelProgram":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = self.prog_type.name if isinstance(self.prog_type, ProgType) else self.prog_type
        state = "closed" if self.closed else f"fd={self._handle._fd}"
        return f"<KernelProgram {self.name!r} {kind} {state} maps={list(self.maps)}>"

    # -- running and looking ---------------------------------------------------------------------------------
    def test_run(self, data: bytes = b"", ctx: Any = None, repeat: int | None = None, *,
                 data_out_size: int | None = None, ctx_out_size: int | None = None, flags: int = 0, cpu: int = 0,
                 batch_size: int = 0) -> TestRunResult:
        """BPF_PROG_TEST_RUN. `ctx` is bytes or a ctypes structure (returned as the same type after the run).

        repeat defaults to what the program type accepts: 1, or 0 for raw tracepoint and syscall programs, whose
        test runs refuse a repeat count (bpf_prog_test_run_raw_tp/_syscall: EINVAL). Syscall programs have no
        ctx_out either: the kernel writes a syscall program's context back over ctx_in (raw tracepoint args are read-only),
        which is what `.ctx` then holds."""
        data = bytes(data)
        ctx_type = type(ctx) if isinstance(ctx, (ctypes.Structure, ctypes.Union, ctypes.Array)) else None
        ctx_bytes = b"" if ctx is None else bytes(ctx)
        single_shot = prog_test_run_single_shot(self.prog_type)
        ctx_in_place = single_shot  # syscall programs write ctx_in back; raw_tp args are read-only: .ctx = ctx_in
        if repeat is None:
            repeat = 0 if single_shot else 1
        out_size = data_out_size if data_out_size is not None else (len(data) + 4096 if data else 0)
        ctx_size = ctx_out_size if ctx_out_size is not None else (0 if single_shot else len(ctx_bytes))
        for attempt in range(2):
            din = ctypes.create_string_buffer(data, max(len(data), 1))
            dout = ctypes.create_string_buffer(max(out_size, 1))
            cin = ctypes.create_string_buffer(ctx_bytes, max(len(ctx_bytes), 1))
            cout = ctypes.create_string_buffer(max(ctx_size, 1))
            a = bpf_test_run_attr(prog_fd=self.fd, data_size_in=len(data),
                                  data_in=ctypes.addressof(din) if data else 0,
                                  data_size_out=out_size, data_out=ctypes.addressof(dout) if out_size else 0,
                                  ctx_size_in=len(ctx_bytes), ctx_in=ctypes.addressof(cin) if ctx_bytes else 0,
                                  ctx_size_out=ctx_size, ctx_out=ctypes.addressof(cout) if ctx_size else 0,
                                  repeat=repeat, flags=flags, cpu=cpu, batch_size=batch_size)
            try:
                sc.prog_test_run(a)
            except LoaderError as e:
                if e.errno == _errno.ENOSPC and attempt == 0 and data_out_size is None and ctx_out_size is None:
                    out_size = max(out_size, a.data_size_out)
                    ctx_size = max(ctx_size, a.ctx_size_out)
                    continue
                raise
            data_out = dout.raw[:a.data_size_out] if out_size else b""
            ctx_raw = cout.raw[:a.ctx_size_out] if ctx_size else b""
            if ctx_in_place and ctx_bytes and not ctx_size:
                ctx_raw = cin.raw[:len(ctx_bytes)]
            ctx_out: Any = ctx_raw
            if ctx_type is not None and len(ctx_raw) >= ctypes.sizeof(ctx_type):
                ctx_out = ctx_type.from_buffer_copy(ctx_raw)
            elif ctx is None:
                ctx_out = None
            return TestRunResult(a.retval, data_out, ctx_out, a.duration)
        raise AssertionError("unreachable")

    def run(self, ctx: Any = None, *, packet: bytes | None = None, **kw: Any) -> TestRunResult:
        """The VM's call: `prog.run(packet=pkt)` / `prog.run(ctx)` is `test_run(pkt)` / `test_run(ctx=ctx)`, so
        code written against `pyebpf.VM(...).run` runs unchanged here (the result has `.r0`, `.retval`, `.packet`)."""
        return self.test_run(b"" if packet is None else packet, ctx, **kw)

    def info(self):
        from pyebpf.loader.info import prog_info

        return prog_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    @property
    def tag(self) -> str:
        return self.info().tag

    def pin(self, path: str) -> None:
        from pyebpf.loader.pin import pin_fd

        pin_fd(self.fd, path)

    def xlated(self) -> Program:
        """The kernel's translated instructions (after rewrites), as a Program for the disassembler."""
        from pyebpf.loader.jit_dump import xlated_program

        return xlated_program(self.fd)

    # -- attachment: forwards to pyebpf.loader.attach; the links are kept in .links and closed by close() --------
    def _attach(self, fn_name: str, *args: Any, **kw: Any) -> Any:
        from pyebpf.loader import attach as attach_mod

        link = getattr(attach_mod, fn_name)(self, *args, **kw)
        self.links.append(link)
        return link

    def attach_tracepoint(self, category: str, name: str | None = None, **kw: Any) -> Any:
        return self._attach("attach_tracepoint", category, name, **kw)

    def attach_raw_tracepoint(self, name: str, **kw: Any) -> Any:
        return self._attach("attach_raw_tracepoint", name, **kw)

    def attach_kprobe(self, symbol: str, **kw: Any) -> Any:
        return self._attach("attach_kprobe", symbol, **kw)

    def attach_uprobe(self, binary: str, symbol: str | None = None, **kw: Any) -> Any:
        return self._attach("attach_uprobe", binary, symbol, **kw)

    def attach_xdp(self, ifname: str | int, *args: Any, **kw: Any) -> Any:
        return self._attach("attach_xdp", ifname, *args, **kw)

    def attach_tc(self, ifname: str | int, direction: str = "ingress", **kw: Any) -> Any:
        return self._attach("attach_tc", ifname, direction, **kw)

    def attach_socket(self, sock: Any, **kw: Any) -> Any:
        return self._attach("attach_socket_filter", sock, **kw)

    def attach_cgroup(self, path: str, attach_type: Any = None, **kw: Any) -> Any:
        return self._attach("attach_cgroup", path, attach_type, **kw)

    def attach(self, target: str | None = None, **kw: Any) -> Any:
        """Attach by a target string read the way the program's SEC() kind says (the ATTACHERS table of
        pyebpf.loader.attach.table; what `pyebpf load --attach` takes): tracepoint `category/name`, raw tracepoint
        `name`, XDP `ifname`, tc `ifname[/ingress|/egress]`, kprobe `symbol`, uprobe `binary:symbol`, cgroup
        `path[:attach_type]`. Without a target, the program's own `attach_to` is used."""
        return self._attach("attach", target, **kw)


# ---- load ------------------------------------------------------------------------------------------------------

def _resolve_maps(program: Program, given: Mapping[str, KernelMap | MapSpec] | None, scope: FdScope,
                  pin_root: str = DEFAULT_PIN_ROOT) -> tuple[dict[str, KernelMap], list[KernelMap]]:
    """Kernel maps for every map the program names: the caller's KernelMaps, else created from specs."""
    given = dict(given or {})
    wanted: list[str] = []
    for slot, insn in program.by_slot():
        if not insn.is_lddw or insn.ref is None or insn.src == PseudoSrc.FUNC:
            continue
        if insn.ref not in program.maps and insn.ref not in given:
            raise LoaderError(f"insn {slot}: map {insn.ref!r} is referenced but neither declared in the program "
                              "nor passed in maps=")
        if insn.ref not in wanted:
            wanted.append(insn.ref)
    for name in program.maps:  # declared but unreferenced maps are created too (the program may be extended)
        if name not in wanted:
            wanted.append(name)
    maps: dict[str, KernelMap] = {}
    owned: list[KernelMap] = []
    for name in wanted:
        obj = given.get(name, program.maps.get(name))
        if isinstance(obj, KernelMap):
            maps[name] = obj
        elif isinstance(obj, MapSpec):
            spec = obj if obj.name else obj.renamed(name)
            if spec.pinning == "by_name":
                m = scope.add(create_or_open_pinned(spec, pin_root))
            else:
                m = scope.add(create_map(spec))
                if spec.initial is not None and spec.flags & MapCreateFlags.RDONLY_PROG:
                    m.freeze()  # constant global data (.rodata): the verifier then knows its values, as libbpf does
            maps[name] = m
            owned.append(m)
        else:
            raise LoaderError(f"map {name!r}: expected a KernelMap or MapSpec, got {type(obj).__name__}")
    return maps, owned


def patch_map_references(program: Program, maps: Mapping[str, KernelMap], use_fd_array: bool = False
                         ) -> tuple[list[Instruction], list[int]]:
    """Instructions with map refs filled in: lddw src=MAP_FD imm=fd, or src=MAP_VALUE imm=fd | offset << 32.

    With use_fd_array the refs become BPF_PSEUDO_MAP_IDX / MAP_IDX_VALUE indexes into the returned fd array.
    """
    fd_array: list[int] = []
    index_of: dict[str, int] = {}
    out: list[Instruction] = []
    for insn in program.instructions:
        if insn.is_lddw and insn.ref is not None and insn.ref in maps and insn.src != PseudoSrc.FUNC:
            m = maps[insn.ref]
            value_ref = insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE)
            offset = insn.imm_hi if value_ref else 0
            if use_fd_array:
                if insn.ref not in index_of:
                    index_of[insn.ref] = len(fd_array)
                    fd_array.append(m.fd)
                handle = index_of[insn.ref]
                src = PseudoSrc.MAP_IDX_VALUE if value_ref else PseudoSrc.MAP_IDX
            else:
                handle = m.fd
                src = PseudoSrc.MAP_VALUE if value_ref else PseudoSrc.MAP_FD
            imm = (offset << 32) | handle
            if imm >= 1 << 63:
                imm -= 1 << 64
            insn = insn._replace(src=src, imm=imm)
        out.append(insn)
    return out, fd_array


@dataclass(frozen=True)
class LoadOptions:
    """How to load a program. What to load — type, flags, license, BTF, func_info/line_info, attach target — is
    the `Program` itself (an ELF object's programs carry all of it).

    maps: KernelMaps to use (shared, not closed with the program) or MapSpecs to create, by name, over the
    program's own `maps`; specs with pinning="by_name" reuse the map pinned at pin_root/NAME (or create and pin
    it). log_level/log_size: the verifier log; with level 0 a rejected program is loaded again at level 1 so the
    error carries the log. attach: a target string, or True for the program's attach_to, attached right after
    loading. use_fd_array: map references as BPF_PSEUDO_MAP_IDX into an fd_array. attach_prog_fd: the BPF program
    an freplace/fentry-on-BPF program attaches to; ifindex: the device of an offloaded program.
    """

    maps: Mapping[str, Any] | None = None
    log_level: int = 0
    log_size: int | None = None
    attach: Any = None
    use_fd_array: bool = False
    pin_root: str = DEFAULT_PIN_ROOT
    attach_prog_fd: int = 0
    ifindex: int = 0


#: keywords of the older load() spelling that are Program fields (they override the program's for one load)
_PROGRAM_KEYWORDS = frozenset({"name", "expected_attach_type", "prog_flags", "license", "attach_btf_id", "btf",
                               "func_info", "line_info", "kern_version"})
_OPTION_KEYWORDS = frozenset(f.name for f in fields(LoadOptions))


def load(program: Program, prog_type: Any = None, options: LoadOptions | None = None, **keywords: Any
         ) -> KernelProgram:
    """Load `program` with BPF_PROG_LOAD and return the KernelProgram.

    prog_type defaults to program.prog_type. Everything BPF_PROG_LOAD takes comes from the program (its BTF,
    func_info [(insn_off, type_id)] and line_info [(insn_off, file_name_off, line_off, line_col)] pass through, a
    `Btf` object is loaded for it; programs with bpf-to-bpf calls and no BTF get generated BTF and func_info;
    fentry/tp_btf/lsm/iter programs from SEC() names get their attach_btf_id from the kernel's BTF), and how to load
    it from `options`. A log buffer the kernel finds too small (ENOSPC) is retried once at the size it reports.

    `keywords` is the older spelling, kept for callers: LoadOptions field names (maps=, log_level=, ...) fill the
    options, Program field names (name=, btf=, func_info=, line_info=, expected_attach_type=, prog_flags=,
    license=, attach_btf_id=, kern_version=) override the program's own for this load.
    """
    program, options = _apply_keywords(program, options, keywords)
    if prog_type is None and program.prog_type is None:
        raise LoaderError("no program type: pass prog_type= or build the program with one")
    try:
        ptype = _as_prog_type(prog_type if prog_type is not None else program.prog_type)
    except ValueError as e:
        raise LoaderError(str(e)) from None
    prog_flags = program.prog_flags
    if ptype == ProgType.SYSCALL:
        prog_flags |= ProgLoadFlags.SLEEPABLE  # the kernel refuses non-sleepable syscall programs (EINVAL)
    eat = _as_attach_type(program.expected_attach_type)
    sdef = _section_def(program.section)
    with FdScope() as scope:
        kmaps, owned = _resolve_maps(program, options.maps, scope, options.pin_root)
        insns, fd_array = patch_map_references(program, kmaps, options.use_fd_array)
        patched = program.replace_instructions(insns)
        code = patched.to_bytes()
        btf_handle, btf_fd, func_info, line_info = _program_btf(program, scope)
        attach_btf_id = program.attach_btf_id or attach_btf_id_for(program, sdef)

        def prog_load(expected_attach_type: int) -> tuple[int, str]:
            return prog_load_with_log(code, ptype, program.license, program.name, options.log_level,
                                      options.log_size, expected_attach_type, prog_flags, btf_fd, func_info,
                                      attach_btf_id, options.attach_prog_fd, options.ifindex, fd_array, line_info,
                                      program.kern_version)

        try:
            fd, log = prog_load(eat)
        except ProgramLoadError:
            if not (eat and sdef is not None and SecFlag.ATTACHABLE_OPT in sdef.flags):
                raise
            fd, log = prog_load(0)  # libbpf's SEC_ATTACHABLE_OPT: kernels that refuse the attach type get none
        handle = scope.add(fd)
        prog = KernelProgram(handle, ptype, sc.obj_name(program.name).decode(), kmaps, owned, program, log,
                             btf_handle)
        if options.attach:
            target = None if options.attach is True else options.attach
            prog.attach(target)
        scope.keep()
    return prog


def _apply_keywords(program: Program, options: LoadOptions | None, keywords: dict[str, Any]
                    ) -> tuple[Program, LoadOptions]:
    unknown = set(keywords) - _PROGRAM_KEYWORDS - _OPTION_KEYWORDS
    if unknown:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(unknown)}")
    opts = {k: v for k, v in keywords.items() if k in _OPTION_KEYWORDS}
    options = replace(options or LoadOptions(), **opts) if opts else (options or LoadOptions())
    spec = {k: v for k, v in keywords.items() if k in _PROGRAM_KEYWORDS and v is not None}
    if spec:
        program = replace(program, **spec)
    return program, options


def _section_def(section: str) -> SectionDef | None:
    if not section:
        return None
    try:
        return prog_type_for_section(section)
    except ValueError:
        return None


def _program_btf(program: Program, scope: FdScope) -> tuple[Any, int, list[tuple[int, int]],
                                                               list[tuple[int, int, int, int]]]:
    """(owned BTF handle, btf fd, func_info, line_info) for BPF_PROG_LOAD.

    A loaded BTF (an fd, or an object with .fd) is used as it is; a BTF object (an ELF object's .BTF) is loaded for
    this program (a kernel that refuses it gets the program without func_info/line_info, as libbpf sanitizes);
    no BTF, func_info None (not given) and bpf-to-bpf calls: BTF and func_info generated from the functions."""
    btf = program.btf
    func_info, line_info = list(program.func_info or []), list(program.line_info)
    if btf is not None and hasattr(btf, "encode") and not hasattr(btf, "fd"):
        try:
            fd, _ = sc.btf_load(btf.encode())
        except LoaderError:
            return None, 0, [], []
        return scope.add(fd), fd, func_info, line_info
    if btf is not None:
        return None, getattr(btf, "fd", btf) or 0, func_info, line_info
    if program.generates_func_info:
        from pyebpf.loader.btf_gen import func_btf  # (imported here: loading most programs needs no BTF parser)

        blob, infos = func_btf(program)
        fd, _ = sc.btf_load(blob)
        return scope.add(fd), fd, infos, []
    return None, 0, func_info, line_info


def attach_btf_id_for(program: Program, sdef: SectionDef | None = None) -> int:
    """attach_btf_id of a program whose SEC() name needs one (fentry/fexit/fmod_ret, tp_btf, lsm, iter): the kernel
    BTF type the part after the '/' names (`btf_trace_<tp>` typedef, `bpf_lsm_<hook>`, `bpf_iter_<name>`, or the
    function). 0 for every other program."""
    sdef = sdef if sdef is not None else _section_def(program.section)
    if sdef is None or SecFlag.ATTACH_BTF not in sdef.flags or not program.attach_to:
        return 0
    from pyebpf.btf import attach_btf_name, kernel_btf

    name, kind = attach_btf_name(sdef.attach_type, program.attach_to)
    tid = kernel_btf().find(name, kind)
    if tid is None:
        raise LoaderError(f"program {program.name!r}: kernel BTF has no {kind.name} {name!r} to attach to")
    return tid


def prog_load_with_log(code: bytes, ptype: ProgType, license: str, name: str, log_level: int, log_size: int | None,
               expected_attach_type: int, prog_flags: int, btf_fd: int, func_info: list[tuple[int, int]],
               attach_btf_id: int, attach_prog_fd: int, ifindex: int, fd_array: list[int],
               line_info: list[tuple[int, int, int, int]] = (), kern_version: int = 0) -> tuple[int, str]:
    """BPF_PROG_LOAD with the log policy of load(); returns (fd, log)."""
    insns = ctypes.create_string_buffer(code, max(len(code), 1))
    lic = ctypes.create_string_buffer(license.encode())
    fi = (bpf_func_info * len(func_info))(*(bpf_func_info(o, t) for o, t in func_info)) if func_info else None
    fda = (ctypes.c_int32 * len(fd_array))(*fd_array) if fd_array else None
    li = (bpf_line_info * len(line_info))(*(bpf_line_info(*r) for r in line_info)) if line_info else None

    def attempt(level: int, size: int) -> tuple[int, str, int]:
        log = ctypes.create_string_buffer(size) if level else None
        a = bpf_prog_load_attr(
            prog_type=ptype, insn_cnt=len(code) // 8, insns=ctypes.addressof(insns), license=ctypes.addressof(lic),
            log_level=level, log_size=size if level else 0, log_buf=ctypes.addressof(log) if log else 0,
            prog_flags=prog_flags, prog_name=sc.obj_name(name), prog_ifindex=ifindex,
            expected_attach_type=expected_attach_type, prog_btf_fd=btf_fd,
            func_info_rec_size=ctypes.sizeof(bpf_func_info) if fi else 0,
            func_info=ctypes.addressof(fi) if fi else 0, func_info_cnt=len(func_info),
            line_info_rec_size=ctypes.sizeof(bpf_line_info) if li else 0,
            line_info=ctypes.addressof(li) if li else 0, line_info_cnt=len(line_info), kern_version=kern_version,
            attach_btf_id=attach_btf_id, attach_prog_fd=attach_prog_fd,
            fd_array=ctypes.addressof(fda) if fda else 0, fd_array_cnt=0)
        try:
            fd = sc.prog_load(a)
        except LoaderError as e:
            text = log.value.decode(errors="replace") if log else ""
            raise _LoadFailure(e.errno or 0, text, a.log_true_size) from None
        return fd, (log.value.decode(errors="replace") if log else ""), a.log_true_size

    level = log_level
    size = min(log_size or DEFAULT_LOG_SIZE, MAX_LOG_SIZE)
    retried_size = False
    while True:
        try:
            fd, text, _ = attempt(level, size)
            return fd, text
        except _LoadFailure as f:
            if level and not retried_size and f.true_size > size:
                # log buffer too small (ENOSPC for a good program, a cut log for a bad one): once more at the size
                # the kernel reported in log_true_size
                size = min(f.true_size, MAX_LOG_SIZE)
                retried_size = True
                continue
            if level == 0 and f.errno != _errno.ENOMEM:
                # rejected without a log: load again to get the verifier's reason (EPERM too: without CAP_BPF the
                # verifier itself refuses bpf-to-bpf calls and loops with EPERM, and says so in its log)
                level = 1
                continue
            # a verifier log with a reason: the verifier refused it (not a permissions problem, whatever the errno)
            cls = KernelVerifierError if f.log and verifier_reason(f.log)[0] else ProgramLoadError
            raise cls(f"loading program {name or '(unnamed)'!r} ({ptype.name})", f.errno, f.log, name) from None


class _LoadFailure(Exception):
    def __init__(self, errno: int, log: str, true_size: int):
        self.errno, self.log, self.true_size = errno, log, true_size


__all__ = ["load", "LoadOptions", "attach_btf_id_for", "DEFAULT_PIN_ROOT", "KernelProgram", "TestRunResult", "ProgramLoadError",
           "KernelVerifierError", "patch_map_references", "prog_load_with_log",
           "DEFAULT_LOG_SIZE"]
