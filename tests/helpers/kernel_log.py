"""Load a program with bpf(BPF_PROG_LOAD, log_level=2) and read back the verifier log, for differential tests.

A deliberately small ctypes helper (tests only): the loader layer lives in pyebpf.loader. `insn_lines(log)` parses
the `N: (op) text` lines the verifier prints for every instruction it visits.
"""
from __future__ import annotations

import ctypes
import os
import platform
import re
import struct
from dataclasses import dataclass

from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import BpfCmd

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}
_ATTR_SIZE = 144
_LOG_SIZE = 16 * 1024 * 1024
_libc = ctypes.CDLL(None, use_errno=True)

#: `12: (bf) r1 = r10` or `12: (b7) r0 = 0                 ; R0_w=0` (level 2 appends the state after `;`).
#: The "Live regs before insn" table prints `     12: .12....... (bf) r1 = r10` for every instruction, with the
#: instruction's loop (strongly connected component) number in front when it is part of one: `  1  12: ...`.
_INSN_LINE = re.compile(r"^\s*(?:\d+\s+)?(\d+): (?:[0-9.]{10} )?\(([0-9a-f]{2})\) (.*?)(?:\s+;.*)?$")


def _bpf(cmd: int, attr: bytes) -> tuple[int, int]:
    buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    ret = _libc.syscall(_SYS_BPF[platform.machine()], int(cmd), buf, _ATTR_SIZE)
    return ret, (ctypes.get_errno() if ret < 0 else 0)


@dataclass
class LoadResult:
    accepted: bool
    errno: int
    log: str

    def insn_lines(self) -> dict[int, tuple[int, str]]:
        return insn_lines(self.log)


def prog_load(code: bytes, prog_type: int = ProgType.SOCKET_FILTER, log_level: int = 2, license: str = "GPL",
              expected_attach_type: int = 0) -> LoadResult:
    """BPF_PROG_LOAD the raw instructions; the fd (if any) is closed at once. Returns verdict, errno and log."""
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr = struct.pack("<IIQQIIQII16sII", int(prog_type), len(code) // 8, ctypes.addressof(insns),
                       ctypes.addressof(lic), log_level, _LOG_SIZE, ctypes.addressof(log), 0, 0, b"", 0,
                       int(expected_attach_type))
    fd, err = _bpf(BpfCmd.PROG_LOAD, attr)
    if fd >= 0:
        os.close(fd)
    return LoadResult(fd >= 0, err, log.value.decode(errors="replace"))


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int) -> int:
    """A map fd for programs that reference one (the caller closes it)."""
    fd, err = _bpf(BpfCmd.MAP_CREATE, struct.pack("<IIIII", map_type, key_size, value_size, max_entries, 0))
    if fd < 0:
        raise OSError(err, f"BPF_MAP_CREATE: {os.strerror(err)}")
    return fd


def insn_lines(log: str) -> dict[int, tuple[int, str]]:
    """slot -> (opcode, text) for every instruction line of a level-2 verifier log."""
    lines: dict[int, tuple[int, str]] = {}
    for line in log.splitlines():
        m = _INSN_LINE.match(line)
        if m:
            lines[int(m.group(1))] = (int(m.group(2), 16), m.group(3).rstrip())
    return lines


def first_error(log: str) -> str:
    """The verifier's complaint: the last non-summary line of a rejected program's log."""
    lines = [ln for ln in log.strip().splitlines() if ln and not ln.startswith(("processed ", "verification time"))]
    return lines[-1] if lines else ""
