"""A tiny ctypes door to BPF_PROG_LOAD / BPF_MAP_CREATE so verifier tests can ask the running kernel.

Used until (and independently of) pyebpf.loader: the verifier tests must not depend on another layer's bugs.
Returns the kernel's verdict, errno and log for a Program whose lddw map refs are resolved to fresh map fds.
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct
from dataclasses import dataclass

from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import OP_LD_IMM64, PseudoSrc
from pyebpf.isa.instruction import encode
from pyebpf.isa.program import Program

_NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
_MAP_CREATE, _PROG_LOAD, _BTF_LOAD = 0, 5, 18
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: bytes) -> tuple[int, int]:
    buf = ctypes.create_string_buffer(attr.ljust(160, b"\0"), 160)
    r = _libc.syscall(_NR_BPF, cmd, buf, 160)
    return (r, ctypes.get_errno() if r < 0 else 0)


def create_map(spec: MapSpec) -> int:
    """BPF_MAP_CREATE of `spec` (a map of maps gets its inner map from spec.inner_map, created for the call)."""
    inner = create_map(spec.inner_map) if spec.inner_map is not None else 0
    attr = struct.pack("<IIIIIII16s", int(spec.type), spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                       inner, 0, spec.name.encode()[:15])
    fd, err = _bpf(_MAP_CREATE, attr)
    if inner:
        os.close(inner)
    if fd < 0:
        raise OSError(err, f"BPF_MAP_CREATE {spec.name}: {os.strerror(err)}")
    return fd


@dataclass
class KernelVerdict:
    accepted: bool
    errno: int
    log: str

    @property
    def last_error(self) -> str:
        """The kernel's error line: the last log line before the 'processed N insns' statistics."""
        lines = [ln for ln in self.log.splitlines() if ln.strip()]
        for ln in lines:
            if ln.startswith("infinite loop detected"):
                return ln
        for i, ln in enumerate(lines):
            cut = ln.find("processed ")
            if cut > 0 and " insns (limit " in ln:
                return ln[:cut]
            if ln.startswith("processed ") and " insns (limit " in ln:
                return lines[i - 1] if i else ""
        return lines[-1] if lines else ""


def kernel_load(program: Program, prog_type: int, log_level: int = 1, log_size: int = 1 << 24,
                expected_attach_type: int = 0, maps: dict[str, MapSpec] | None = None, prog_flags: int = 0
                ) -> KernelVerdict:
    maps = dict(program.maps if maps is None else maps)
    fds: dict[str, int] = {}
    try:
        insns = []
        for insn in program.instructions:
            if insn.opcode == OP_LD_IMM64 and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) and insn.ref:
                if insn.ref not in fds:
                    fds[insn.ref] = create_map(maps[insn.ref])
                lo = fds[insn.ref]
                # the second slot's imm is kept as written: a map fd with a non-zero one is refused
                hi = (insn.imm >> 32) & 0xFFFFFFFF
                insn = insn._replace(imm=(hi << 32) | lo)
            insns.append(insn)
        btf_fd, func_info = 0, []
        if program.carries_func_info:  # the load the loader makes, so verify() and the kernel see the same one
            btf_fd, func_info, owned = _func_btf(program)
            if owned:
                fds["\0btf"] = btf_fd
        return kernel_load_bytes(encode(insns), prog_type, program.license, log_level, log_size,
                                 expected_attach_type, prog_flags, btf_fd, func_info)
    finally:
        for fd in fds.values():
            os.close(fd)


def _func_btf(program: Program) -> tuple[int, list[tuple[int, int]], bool]:
    """(btf fd, func_info, whether the fd is ours to close) for a program that carries func_info: its own BTF
    (an object with encode(), or a loaded one's fd), or the loader's generated func BTF (pyebpf.loader.btf_gen)."""
    if program.generates_func_info:
        from pyebpf.loader.btf_gen import func_btf
        blob, infos = func_btf(program)
        func_info = [(fi.insn_off, fi.type_id) for fi in infos]
    elif hasattr(program.btf, "encode"):
        blob, func_info = program.btf.encode(), [tuple(fi)[:2] for fi in program.func_info]
    else:
        return getattr(program.btf, "fd", program.btf) or 0, [tuple(fi)[:2] for fi in program.func_info], False
    buf = ctypes.create_string_buffer(blob, len(blob))
    fd, err = _bpf(_BTF_LOAD, struct.pack("<QQIII", ctypes.addressof(buf), 0, len(blob), 0, 0))
    if fd < 0:
        if not program.generates_func_info:  # as the loader: a refused BTF of its own, the load goes without
            return 0, [], False
        raise OSError(err, f"BPF_BTF_LOAD: {os.strerror(err)}")
    return fd, func_info, True


def kernel_load_bytes(code: bytes, prog_type: int, license: str = "GPL", log_level: int = 1,
                      log_size: int = 1 << 24, expected_attach_type: int = 0, prog_flags: int = 0,
                      btf_fd: int = 0, func_info: list[tuple[int, int]] = ()) -> KernelVerdict:
    """BPF_PROG_LOAD of raw instruction bytes (for encodings a Program cannot hold, e.g. a malformed lddw);
    without BTF func_info unless given."""
    cbuf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    logbuf = ctypes.create_string_buffer(log_size)
    # log_level 0 must come with no log buffer at all (the kernel refuses half-set log attributes)
    attr = struct.pack("<IIQQIIQII", prog_type, len(code) // 8, ctypes.addressof(cbuf), ctypes.addressof(lic),
                       log_level, log_size if log_level else 0, ctypes.addressof(logbuf) if log_level else 0,
                       0, prog_flags)
    attr = attr.ljust(64, b"\0")
    # struct layout: prog_type, insn_cnt, insns, license, log_level, log_size, log_buf, kern_version,
    # prog_flags, prog_name[16] (@48), prog_ifindex (@64), expected_attach_type (@68)
    attr = attr[:64] + struct.pack("<II", 0, expected_attach_type)
    recs = struct.pack(f"<{2 * len(func_info)}I", *(v for rec in func_info for v in rec))
    fibuf = ctypes.create_string_buffer(recs, max(len(recs), 1))
    if func_info:  # prog_btf_fd (@72), func_info_rec_size, func_info, func_info_cnt
        attr += struct.pack("<IIQI", btf_fd, 8, ctypes.addressof(fibuf), len(func_info))
    fd, err = _bpf(_PROG_LOAD, attr)
    log = logbuf.value.decode(errors="replace")
    if fd >= 0:
        os.close(fd)
        return KernelVerdict(True, 0, log)
    return KernelVerdict(False, err, log)
