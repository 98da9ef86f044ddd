"""Minimal raw bpf(BPF_PROG_LOAD) via ctypes for the abi kernel-comparison tests.

Deliberately independent of pyebpf.loader: these tests check our ABI tables against the kernel itself.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import BpfCmd, ProgLoadFlags

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
_ATTR_SIZE = 144  # covers every PROG_LOAD field up to expected_attach_type and beyond (zeroed)
_LOG_SIZE = 1 << 16
_libc = ctypes.CDLL(None, use_errno=True)

# Opcodes spelled out once here: BPF_CALL, BPF_ALU64|BPF_MOV|BPF_K, BPF_EXIT, BPF_LDX|BPF_MEM|size, BPF_STX|BPF_MEM|size
CALL, MOV64_IMM, EXIT = 0x85, 0xB7, 0x95
LDX_MEM = {1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79}
STX_MEM = {1: 0x73, 2: 0x6B, 4: 0x63, 8: 0x7B}


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def prog_load(prog_type: int, insns: list[bytes], license: bytes = b"GPL",
              expected_attach_type: int = 0, prog_flags: int | None = None) -> tuple[bool, str]:
    """Load and immediately close a program; returns (accepted, verifier log). `prog_flags` default: what the
    program type needs to load at all (SYSCALL programs must be sleepable)."""
    if prog_flags is None:
        prog_flags = int(ProgLoadFlags.SLEEPABLE) if prog_type == ProgType.SYSCALL else 0
    code = ctypes.create_string_buffer(b"".join(insns))
    lic = ctypes.create_string_buffer(license)
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr = struct.pack("<IIQQIIQII16sII", prog_type, len(code.raw) // 8, ctypes.addressof(code),
                       ctypes.addressof(lic), 1, _LOG_SIZE, ctypes.addressof(log), 0, prog_flags, b"", 0,
                       expected_attach_type)
    buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    fd = _libc.syscall(SYS_BPF, int(BpfCmd.PROG_LOAD), buf, _ATTR_SIZE)
    if fd >= 0:
        os.close(fd)
    return fd >= 0, log.value.decode(errors="replace")


def call_helper_prog(helper_id: int) -> list[bytes]:
    """call helper; r0 = 0; exit -- enough for the verifier to reach its get_func_proto() check."""
    return [insn(CALL, imm=helper_id), insn(MOV64_IMM, 0, imm=0), insn(EXIT)]
