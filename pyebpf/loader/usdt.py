"""USDT probes (SystemTap SDT, `<sys/sdt.h>`): reading them from an ELF file, turning their argument specs into
BPF instructions that read pt_regs, and attaching a program to them through uprobes.

Each probe site is one `.note.stapsdt` note: the address of a nop the compiler put at the probe, the link-time
address of `.stapsdt.base` (prelink may move the section; the difference moves the probe), the address of the
probe's semaphore (0 if it has none: a u16 the program checks before computing the arguments) and the provider,
the name and the argument specs (`-4@%edi 8@-16(%rbp) 4@$5`: size (negative = signed) @ an assembler operand).
The uprobe goes at the file offset of the nop (PT_LOAD segment arithmetic, as for any uprobe). Semaphores are
raised by the kernel itself while the uprobe exists (perf_event_attr uprobe ref_ctr_offset, as libbpf does), or
for one process through /proc/PID/mem.
"""
from __future__ import annotations

import errno
import os
import re
import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterator

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.opcodes import AluOp, Reg, Size
from pyebpf.abi.usdt import (
    NT_STAPSDT, STAPSDT_BASE_SECTION, STAPSDT_NOTE_SECTION, STAPSDT_OWNER, X86_64_REGS,
)
from pyebpf.errors import ElfError, LoaderError
from pyebpf.isa import ops
from pyebpf.isa.instruction import Instruction

_SIZES = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}
MAX_NOTES = 100_000  # bounded work on a hostile file


class UsdtError(ElfError):
    """A USDT note or argument spec that cannot be read, or a probe that is not there."""


class ArgKind(Enum):
    CONST = "const"  # `4@$5`: the value itself
    REG = "reg"  # `-4@%edi`: a register
    REG_DEREF = "reg_deref"  # `8@-16(%rbp)`: memory at register + offset (read with bpf_probe_read_user)


@dataclass(frozen=True)
class UsdtArg:
    """One argument: `size` bytes (1, 2, 4, 8), `signed`, and where it is (kind, pt_regs field, offset, value)."""

    text: str
    size: int
    signed: bool
    kind: ArgKind
    register: str | None = None  # struct pt_regs field ("di", "bp", "r12")
    offset: int = 0  # REG_DEREF displacement
    value: int = 0  # CONST

    @property
    def reg_offset(self) -> int:
        """Byte offset of the register in struct pt_regs (REG and REG_DEREF)."""
        if self.register is None:
            raise UsdtError(f"argument {self.text!r} is a constant; it has no register")
        from pyebpf.abi.context import PT_REGS
        return PT_REGS[self.register].offset

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.text, "size": self.size, "signed": self.signed, "kind": self.kind.value,
                "register": self.register, "offset": self.offset, "value": self.value}


_ARG = re.compile(r"^(?:(-?\d+)@)?(.+)$")
_REG = re.compile(r"^%([a-z0-9]+)$")
_DEREF = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$")
_CONST = re.compile(r"^\$(-?(?:0x[0-9a-fA-F]+|\d+))$")


def parse_arg(text: str) -> UsdtArg:
    """One x86-64 argument spec, as libbpf's parse_usdt_arg reads it; UsdtError names what is unsupported."""
    m = _ARG.match(text.strip())
    if not m or len(text) > 200:
        raise UsdtError(f"bad USDT argument spec {text!r}")
    size_text, operand = m.group(1), m.group(2)
    size = int(size_text) if size_text is not None else 8  # old notes without a size: a long
    if abs(size) not in _SIZES:
        raise UsdtError(f"USDT argument {text!r}: size {size} is not 1, 2, 4 or 8 bytes")
    signed = size < 0
    size = abs(size)
    if (r := _REG.match(operand)) is not None:
        reg = r.group(1)
        if reg not in X86_64_REGS:
            raise UsdtError(f"USDT argument {text!r}: register %{reg} is not supported")
        return UsdtArg(text, size, signed, ArgKind.REG, register=X86_64_REGS[reg])
    if (d := _DEREF.match(operand)) is not None:
        reg = d.group(2)
        if reg not in X86_64_REGS:
            raise UsdtError(f"USDT argument {text!r}: register %{reg} is not supported")
        return UsdtArg(text, size, signed, ArgKind.REG_DEREF, register=X86_64_REGS[reg],
                       offset=int(d.group(1), 0) if d.group(1) else 0)
    if (c := _CONST.match(operand)) is not None:
        return UsdtArg(text, size, signed, ArgKind.CONST, value=int(c.group(1), 0))
    raise UsdtError(f"USDT argument {text!r}: operand {operand!r} is not a register, register+offset memory or "
                    "constant (symbol- or index-register addressing is not supported, as in libbpf)")


def parse_args(text: str) -> tuple[UsdtArg, ...]:
    """All argument specs of a note (space separated)."""
    return tuple(parse_arg(t) for t in text.split())


@dataclass(frozen=True)
class UsdtProbe:
    """One probe site of one binary."""

    path: str
    provider: str
    name: str
    address: int  # virtual address of the probe's nop, after the .stapsdt.base adjustment
    note_base: int
    semaphore: int  # virtual address of the u16 semaphore, 0 if the probe has none
    file_offset: int  # where the uprobe goes
    semaphore_offset: int  # file offset of the semaphore (uprobe ref_ctr_offset), 0 if none
    args_text: str
    args: tuple[UsdtArg, ...] = field(default_factory=tuple)
    args_error: str = ""  # why `args` is empty although args_text is not (an argument form we cannot read)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "provider": self.provider, "name": self.name, "address": self.address,
                "file_offset": self.file_offset, "base": self.note_base, "semaphore": self.semaphore,
                "semaphore_offset": self.semaphore_offset, "args_text": self.args_text,
                "args": [a.to_dict() for a in self.args], "args_error": self.args_error or None}


def _elf(path: str) -> Any:
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError as e:  # pragma: no cover - pyelftools is a dependency
        raise UsdtError(f"reading USDT notes needs pyelftools: {e}") from None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UsdtError(f"{path}: {e.strerror}", e.errno) from None
    try:
        return ELFFile(f)
    except Exception as e:  # pyelftools raises its own ELFError and struct errors on garbage
        f.close()
        raise UsdtError(f"{path}: not an ELF file ({e})", errno.ENOEXEC) from None


def _note_type(note: Any) -> int:
    t = note["n_type"]
    if isinstance(t, int):
        return t
    from elftools.elf.enums import ENUM_NOTE_N_TYPE
    return ENUM_NOTE_N_TYPE.get(t, -1)  # pyelftools names type 3 after GNU's NT_GNU_BUILD_ID


def vaddr_to_file_offset(elf: Any, addr: int) -> int:
    """File offset of virtual address `addr` through the PT_LOAD segment holding it (what a uprobe needs)."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_filesz"]:
            return addr - seg["p_vaddr"] + seg["p_offset"]
    raise UsdtError(f"address {addr:#x} is in no loadable segment of the file")


def _section_file_offset(elf: Any, addr: int) -> int:
    """File offset of `addr` through the section holding it (libbpf's rule for semaphores)."""
    for sec in elf.iter_sections():
        h = sec.header
        if h["sh_addr"] and h["sh_type"] != "SHT_NOBITS" and h["sh_addr"] <= addr < h["sh_addr"] + h["sh_size"]:
            return addr - h["sh_addr"] + h["sh_offset"]
    raise UsdtError(f"semaphore address {addr:#x} is in no section with file contents")


def read_probes(path: str) -> list[UsdtProbe]:
    """Every USDT probe site in the ELF file at `path` (an empty list when it has no .note.stapsdt)."""
    path = os.path.realpath(path)
    elf = _elf(path)
    try:
        return list(_probes(elf, path))
    except UsdtError:
        raise
    except Exception as e:  # truncated notes, bad offsets: pyelftools' errors become ours
        raise UsdtError(f"{path}: unreadable {STAPSDT_NOTE_SECTION} ({type(e).__name__}: {e})") from None
    finally:
        elf.stream.close()


def _probes(elf: Any, path: str) -> Iterator[UsdtProbe]:
    notes = elf.get_section_by_name(STAPSDT_NOTE_SECTION)
    if notes is None:
        return
    base_sec = elf.get_section_by_name(STAPSDT_BASE_SECTION)
    base_addr = base_sec.header["sh_addr"] if base_sec is not None else 0
    word = 8 if elf.elfclass == 64 else 4
    fmt = ("<" if elf.little_endian else ">") + ("QQQ" if word == 8 else "III")
    for count, note in enumerate(notes.iter_notes()):
        if count >= MAX_NOTES:
            raise UsdtError(f"more than {MAX_NOTES} notes in {STAPSDT_NOTE_SECTION}")
        if note["n_name"] != STAPSDT_OWNER or _note_type(note) != NT_STAPSDT:
            continue
        desc = note["n_desc"]
        if isinstance(desc, str):
            desc = desc.encode("latin-1")
        if len(desc) < 3 * word:
            raise UsdtError(f"a stapsdt note of {len(desc)} bytes is too short")
        pc, note_base, sema = struct.unpack_from(fmt, desc)
        strings = desc[3 * word:].split(b"\0")
        if len(strings) < 3:
            raise UsdtError("a stapsdt note lacks its provider, name or argument strings")
        provider, name, args_text = (s.decode("utf-8", "replace") for s in strings[:3])
        if base_addr and note_base:  # prelink moved .stapsdt.base: move the probe (and semaphore) with it
            pc += base_addr - note_base
            if sema:
                sema += base_addr - note_base
        try:
            args, args_error = parse_args(args_text), ""
        except UsdtError as e:
            args, args_error = (), e.message
        yield UsdtProbe(path, provider, name, pc, note_base, sema, vaddr_to_file_offset(elf, pc),
                        _section_file_offset(elf, sema) if sema else 0, args_text, args, args_error)


def find_probes(binary: str, provider: str, name: str) -> list[UsdtProbe]:
    """The sites of probe provider:name in `binary` (a path or library name); UsdtError when there is none."""
    from pyebpf.loader.attach.elfsym import resolve_binary

    path = resolve_binary(binary)
    sites = [p for p in read_probes(path) if p.provider == provider and p.name == name]
    if not sites:
        raise UsdtError(f"{path} has no USDT probe {provider}:{name}", errno.ENOENT)
    return sites


def probe_arg_specs(binary: str, provider: str, name: str) -> list[tuple[UsdtArg, ...]]:
    """Argument specs of every site of provider:name (sites may keep the same argument in different places):
    what a probe compiler needs to generate argument reads (see `arg_insns`)."""
    sites = find_probes(binary, provider, name)
    for site in sites:
        if site.args_error:
            raise UsdtError(f"{provider}:{name} at {site.address:#x}: {site.args_error}")
    return [s.args for s in sites]


# ---- argument reads ---------------------------------------------------------------------------------------------
def arg_insns(arg: UsdtArg, dst: int, ctx: int = Reg.R6, stack_off: int = -8) -> list[Instruction]:
    """Instructions that leave argument `arg` in register `dst`, as a 64-bit value sign- or zero-extended from its
    size (libbpf's bpf_usdt_arg). `ctx` holds the uprobe's struct pt_regs *. A memory argument is read with
    bpf_probe_read_user into the 8 stack bytes at r10 + stack_off; that call clobbers r0-r5, so `ctx` must then
    be a callee-saved register (r6-r9)."""
    if not (0 <= dst <= 9 and 0 <= ctx <= 9):
        raise UsdtError(f"registers r{dst}/r{ctx}: expected r0-r9")
    out: list[Instruction] = []
    if arg.kind == ArgKind.CONST:
        value = arg.value & ((1 << 64) - 1)
        out.append(ops.lddw(dst, value - (1 << 64) if value >> 63 else value))
    elif arg.kind == ArgKind.REG:
        out.append(ops.ldx(Size.DW, dst, ctx, arg.reg_offset))
    else:
        if not 6 <= ctx <= 9:
            raise UsdtError(f"reading memory argument {arg.text!r} calls a helper: ctx must be in r6-r9, not r{ctx}")
        if not -512 <= stack_off <= -8 or stack_off % 8:
            raise UsdtError(f"stack_off {stack_off}: an 8-byte aligned slot in [-512, -8]")
        out += [ops.ldx(Size.DW, Reg.R3, ctx, arg.reg_offset), ops.alu(AluOp.ADD, Reg.R3, None, arg.offset),
                ops.mov(Reg.R1, Reg.R10), ops.alu(AluOp.ADD, Reg.R1, None, stack_off),
                ops.mov(Reg.R2, None, arg.size), ops.call(HelperId.PROBE_READ_USER),
                ops.ldx(_SIZES[arg.size], dst, Reg.R10, stack_off)]
        if arg.signed and arg.size < 8:
            shift = 64 - 8 * arg.size
            out += [ops.alu(AluOp.LSH, dst, None, shift), ops.alu(AluOp.ARSH, dst, None, shift)]
        return out
    if arg.size < 8 and arg.kind == ArgKind.REG:  # keep the low `size` bytes, extended by the sign if signed
        shift = 64 - 8 * arg.size
        out += [ops.alu(AluOp.LSH, dst, None, shift),
                ops.alu(AluOp.ARSH if arg.signed else AluOp.RSH, dst, None, shift)]
    elif arg.size < 8 and arg.kind == ArgKind.CONST:
        value = arg.value & ((1 << (8 * arg.size)) - 1)
        if arg.signed and value >> (8 * arg.size - 1):
            value -= 1 << (8 * arg.size)
        out[0] = out[0]._replace(imm=value)
    return out


# ---- semaphores ---------------------------------------------------------------------------------------------------
def semaphore_address(pid: int, probe: UsdtProbe) -> int:
    """Where probe's semaphore lives in process `pid`: the mapping of the probe's file that covers its offset."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise LoaderError(f"reading /proc/{pid}/maps", e.errno) from None
    st = os.stat(probe.path)
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        off = int(parts[2], 16)
        inode = int(parts[4])
        if inode == st.st_ino and os.path.realpath(parts[5].strip()) == probe.path and \
                off <= probe.semaphore_offset < off + (end - start):
            return start + probe.semaphore_offset - off
    raise UsdtError(f"process {pid} does not map {probe.path} where {probe.provider}:{probe.name}'s semaphore is",
                    errno.ESRCH)


def bump_semaphore(pid: int, probe: UsdtProbe, delta: int = 1) -> int:
    """Add `delta` to probe's u16 semaphore in process `pid` through /proc/PID/mem; returns the new value.
    (attach_usdt's default, the kernel's uprobe ref_ctr_offset, needs no pid and undoes itself.)"""
    if not probe.semaphore:
        raise UsdtError(f"{probe.provider}:{probe.name} has no semaphore")
    addr = semaphore_address(pid, probe)
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
    except OSError as e:
        raise LoaderError(f"opening /proc/{pid}/mem", e.errno) from None
    try:
        value = struct.unpack("<H", os.pread(fd, 2, addr))[0]
        new = max(0, min(0xFFFF, value + delta))
        os.pwrite(fd, struct.pack("<H", new), addr)
        return new
    except OSError as e:
        raise LoaderError(f"updating the semaphore at {addr:#x} in process {pid}", e.errno) from None
    finally:
        os.close(fd)


# ---- attaching ----------------------------------------------------------------------------------------------------
def attach_usdt(prog: Any, binary: str, provider: str, name: str, pid: int = -1,
                cookie: "int | list[int]" = 0) -> list[Any]:
    """Attach a BPF_PROG_TYPE_KPROBE program to every site of provider:name in `binary` (uprobes at the sites'
    file offsets; `pid` -1 = every process). A probe with a semaphore gets the uprobe's ref_ctr_offset, so the
    kernel raises the semaphore in every process mapping the binary for as long as the attachment lives.
    `cookie` is the BPF cookie of every site, or a list with one per site (in note order: a USDT spec id each).
    Returns one Attachment per site; detaching (or closing) them removes the uprobes (and the semaphore counts)."""
    from pyebpf.loader.attach.tracing import attach_uprobe

    sites = find_probes(binary, provider, name)
    cookies = cookie if isinstance(cookie, list) else [cookie] * len(sites)
    if len(cookies) != len(sites):
        raise UsdtError(f"{provider}:{name} in {binary}: {len(cookies)} cookies for {len(sites)} sites")
    done: list[Any] = []
    try:
        for site, site_cookie in zip(sites, cookies):
            done.append(attach_uprobe(prog, site.path, offset=site.file_offset, pid=pid, cookie=site_cookie,
                                      ref_ctr_offset=site.semaphore_offset))
    except BaseException:
        for a in done:
            a.detach()
        raise
    return done


__all__ = ["UsdtError", "ArgKind", "UsdtArg", "UsdtProbe", "parse_arg", "parse_args", "read_probes", "find_probes",
           "probe_arg_specs", "arg_insns", "vaddr_to_file_offset", "semaphore_address", "bump_semaphore",
           "attach_usdt"]
