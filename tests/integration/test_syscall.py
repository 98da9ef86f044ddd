"""Context-only programs: a BPF_PROG_TYPE_SYSCALL program given its context as a ctypes object, with the same call
on both sides and no arguments the loader can work out itself (the kernel refuses repeat and ctx_out for syscall
programs, and loads them only sleepable)."""
from __future__ import annotations

import ctypes

from backends import open_program
from pyebpf import assemble
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType


class Args(ctypes.Structure):
    _fields_ = [("value", ctypes.c_uint32), ("doubled", ctypes.c_uint32)]


SEEN = MapSpec.of("seen", "array", ctypes.c_uint32, ctypes.c_uint32, 1)

#: doubled = value * 2, seen[0] = value, return value + 1
PROGRAM = """
    r6 = r1
    r7 = *(u32 *)(r6 + 0)
    r2 = r7
    r2 *= 2
    *(u32 *)(r6 + 4) = r2
    *(u32 *)(r10 - 4) = 0
    *(u32 *)(r10 - 8) = r7
    r1 = map[seen] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_map_update_elem
    r0 = r7
    r0 += 1
    exit
"""


def test_syscall_program_test_run(backend: str) -> None:
    program = assemble(PROGRAM, maps=[SEEN])
    program.prog_type = ProgType.SYSCALL
    with open_program(backend, program) as prog:
        res = prog.test_run(ctx=Args(value=21))
        assert res.r0 == res.retval == 22
        assert isinstance(res.ctx, Args) and (res.ctx.value, res.ctx.doubled) == (21, 42)
        assert prog.maps["seen"][0] == 21
        raw = prog.run(bytes(Args(value=5)))  # raw bytes in, raw bytes back
        assert raw.r0 == 6 and raw.ctx == bytes(Args(5, 10))


class RawTpArgs(ctypes.Structure):
    _fields_ = [("args", ctypes.c_uint64 * 2)]


def test_raw_tracepoint_test_run(backend: str) -> None:
    """Raw tracepoint programs: args in, r0 out; the kernel refuses a repeat count for them, so none is sent."""
    program = assemble("""
        r0 = *(u64 *)(r1 + 0)
        r2 = *(u64 *)(r1 + 8)
        r0 += r2
        exit
    """)
    program.prog_type = ProgType.RAW_TRACEPOINT
    with open_program(backend, program) as prog:
        res = prog.test_run(ctx=RawTpArgs((ctypes.c_uint64 * 2)(40, 2)))
        assert res.r0 == 42
        assert list(res.ctx.args) == [40, 2]
