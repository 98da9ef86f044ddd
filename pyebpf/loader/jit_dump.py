"""Looking inside a loaded program: the kernel's translated instructions and the JIT's machine code.

`xlated_program(fd)` decodes what the verifier left after its rewrites (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns)
into a Program for our disassembler; helper calls there carry `func - __bpf_call_base` in imm, which we resolve
through /proc/kallsyms the way bpftool does. `jited_disassembly(fd)` disassembles the JIT image with capstone
(Debian's bpftool is built without libbfd and cannot), split per subprogram by jited_ksyms / jited_func_lens.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass

from pyebpf._lazy import optional_import
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.errors import LoaderError
from pyebpf.isa.program import Program
from pyebpf.loader.info import ProgInfo, prog_info
from pyebpf.system.kallsyms import kallsyms



def helper_symbol(imm: int) -> str | None:
    """Name of the kernel function an xlated helper call goes to (imm is relative to __bpf_call_base)."""
    syms = kallsyms()
    if syms is None or "__bpf_call_base" not in syms.by_name:
        return None
    return syms.symbol_at((syms.by_name["__bpf_call_base"] + imm) & 0xFFFFFFFFFFFFFFFF)


def xlated_program(fd: int, info: ProgInfo | None = None) -> Program:
    if info is None or not info.xlated_prog_insns:
        info = prog_info(fd, xlated=True)
    if not info.xlated_prog_insns:
        raise LoaderError(f"program {info.id}: the kernel hides its instructions (needs CAP_SYS_ADMIN / "
                          "kernel.kptr_restrict)")
    return Program.from_bytes(info.xlated_prog_insns, validate=False, name=info.name)


def xlated_disassembly(fd: int, info: ProgInfo | None = None) -> str:
    """The translated program in the verifier log's dialect, one `slot: (op) text` line each."""
    from pyebpf.isa.disassembler import disassemble

    program = xlated_program(fd, info)
    lines = disassemble(program, style="kernel").splitlines()
    out = []
    for line, (slot, insn) in zip(lines, program.by_slot()):
        if insn.is_helper_call:
            sym = helper_symbol(insn.imm)
            if sym:
                line = f"{slot}: ({insn.opcode:02x}) call {sym}#{insn.imm}"
        elif insn.is_lddw and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            # the kernel reports map references as map ids (bpf_insn_prepare_dump), as bpftool prints them
            ref = f"map[id:{insn.imm_lo}]"
            if insn.src == PseudoSrc.MAP_VALUE:
                ref += f"[0]+{insn.imm_hi}"
            line = f"{slot}: ({insn.opcode:02x}) r{insn.dst} = {ref}"
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


_CAPSTONE_ARCH = {"x86_64": ("CS_ARCH_X86", "CS_MODE_64"), "aarch64": ("CS_ARCH_ARM64", "CS_MODE_ARM"),
                  "riscv64": ("CS_ARCH_RISCV", "CS_MODE_RISCV64"), "s390x": ("CS_ARCH_SYSZ", "CS_MODE_BIG_ENDIAN")}


@dataclass(frozen=True)
class JitInsn:
    address: int  # offset in the function's image
    raw: bytes
    mnemonic: str
    op_str: str


@dataclass(frozen=True)
class JitFunction:
    name: str
    address: int  # kernel address (0 when hidden)
    insns: tuple[JitInsn, ...]


def jited_functions(fd: int, info: ProgInfo | None = None, machine: str | None = None) -> list[JitFunction]:
    """The JIT image split into functions, each disassembled with capstone."""
    if info is None or not info.jited_prog_insns:
        info = prog_info(fd, jited=True)
    image = info.jited_prog_insns
    if not info.jited_prog_len:
        raise LoaderError(f"program {info.id} is not JIT-compiled (is /proc/sys/net/core/bpf_jit_enable 0?)")
    if not image:
        raise LoaderError(f"program {info.id}: the kernel hides its JIT image")
    capstone = optional_import("capstone", "jit", "disassembling JIT code")
    machine = machine or platform.machine()
    names = _CAPSTONE_ARCH.get(machine)
    if names is None:
        raise LoaderError(f"no capstone architecture for {machine}")
    md = capstone.Cs(getattr(capstone, names[0]), getattr(capstone, names[1]))
    lens = list(info.jited_func_lens) or [len(image)]
    addrs = list(info.jited_ksyms) or [0] * len(lens)
    syms = kallsyms(bpf_only=True)  # fresh: program symbols are reused as programs come and go
    out: list[JitFunction] = []
    start = 0
    for i, (length, addr) in enumerate(zip(lens, addrs)):
        chunk = image[start:start + length]
        name = (syms.symbol_at(addr) if syms and addr else None) or f"{info.name or 'prog'}_f{i}"
        insns = tuple(JitInsn(ins.address, bytes(ins.bytes), ins.mnemonic, ins.op_str)
                      for ins in md.disasm(chunk, 0))
        out.append(JitFunction(name, addr, insns))
        start += length
    return out


def jited_disassembly(fd: int, info: ProgInfo | None = None, opcodes: bool = True) -> str:
    """bpftool-like text of the JIT image: a `name:` header per function, then `off: bytes  insn` lines."""
    lines: list[str] = []
    for fn in jited_functions(fd, info):
        lines.append(f"{fn.name}:")
        for ins in fn.insns:
            raw = f"{ins.raw.hex(' '):<24} " if opcodes else ""
            lines.append(f"{ins.address:4x}:\t{raw}{ins.mnemonic} {ins.op_str}".rstrip())
        lines.append("")
    return "\n".join(lines)


__all__ = ["xlated_program", "xlated_disassembly", "jited_functions", "jited_disassembly", "helper_symbol",
           "JitFunction", "JitInsn"]
