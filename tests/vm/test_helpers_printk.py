"""bpf_trace_printk / bpf_snprintf formatting: the VM against the running kernel.

A socket filter puts a format (and a string argument) on its stack, calls bpf_trace_printk and returns its result:
the kernel's retval (BPF_PROG_TEST_RUN) and the VM's r0 must be equal -- the number of bytes formatted, or -EINVAL
for a format the kernel refuses at run time (the verifier does not look at trace_printk formats). For valid formats
the text the kernel wrote to the trace buffer is compared with the VM's printk line.
"""
from __future__ import annotations

import errno
import os
import struct
import time

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.isa.assembler import assemble
from pyebpf.vm import VM
from pyebpf.vm import printk as pk

M64 = (1 << 64) - 1
STRING = b"hello, world"
STR = "STR"  # argument placeholder: pointer to STRING on the program's stack
DEFAULT_ARGS = (0x12345678, (-5) & M64, 0x41)


def printk_program(fmt: bytes, args=DEFAULT_ARGS, helper: str = "bpf_trace_printk"):
    """A socket filter returning bpf_trace_printk(fmt, len(fmt)+1, *args)."""
    fmt = fmt + b"\0"
    fmt_slots = (len(fmt) + 7) // 8
    fmt_off = 8 * fmt_slots
    str_off = fmt_off + 8 * ((len(STRING) + 8) // 8)
    lines = []

    def store(blob: bytes, off: int) -> None:
        blob = blob.ljust((len(blob) + 7) // 8 * 8, b"\0")
        for i in range(0, len(blob), 8):
            word = struct.unpack("<Q", blob[i:i + 8])[0]
            lines.append(f"r1 = {word:#x} ll")
            lines.append(f"*(u64 *)(r10 - {off - i}) = r1")
    store(fmt, fmt_off)
    store(STRING + b"\0", str_off)
    for reg, arg in zip(("r3", "r4", "r5"), args):
        if arg == STR:
            lines += [f"{reg} = r10", f"{reg} += -{str_off}"]
        else:
            lines.append(f"{reg} = {arg:#x} ll")
    lines += ["r1 = r10", f"r1 += -{fmt_off}", f"r2 = {len(fmt)}", f"call {helper}", "exit"]
    return assemble("\n".join(lines))


def vm_printk(fmt: bytes, args=DEFAULT_ARGS) -> tuple[int, list[str]]:
    res = VM(printk_program(fmt, args), prog_type="socket_filter").run(packet=bytes(64))
    return res.r0 & 0xFFFFFFFF, res.printk


def s32(v: int) -> int:
    return v - (1 << 32) if v >> 31 else v


# ---- VM-only unit tests (the kernel's rules, from kernel/bpf/helpers.c) ------------------------------------------------

@pytest.mark.parametrize("fmt,args,expected", [
    (b"plain\n", (), "plain\n"),
    (b"%d %u %x", (0x12345678,) * 3, "305419896 305419896 12345678"),
    (b"%5d|%-5d|%05d", (42, 42, 42), "   42|42   |00042"),
    (b"%lld %llx", ((-2) & M64, 0xABCDEF0123), "-2 abcdef0123"),
    (b"%d|%u", ((-2) & M64, (-2) & M64), "-2|4294967294"),  # 32-bit conversions truncate
    (b"%d|%+d|% d", ((-5) & M64, 7, 7), "-5|+7| 7"),
    (b"%%|%c|%3c", (0x41, 0x42), "%|A|  B"),
    (b"%px", (0xFFFF888012345678,), "ffff888012345678"),
])
def test_format_basics(fmt, args, expected):
    r0, lines = vm_printk(fmt, args)
    assert lines == [expected]
    assert r0 == len(expected)


@pytest.mark.parametrize("fmt", [b"%hd", b"%.3d", b"%d %d %d %d", b"%z", b"%lc", b"%sx", b"\x01", b"%q",
                                 b"%pZ", b"%llld", b"\x80"])
def test_bad_formats_are_einval(fmt):
    r0, lines = vm_printk(fmt)
    assert s32(r0) == -errno.EINVAL
    assert lines == []


def test_string_argument_and_fault():
    r0, lines = vm_printk(b"[%s]", (STR,))
    assert lines == ["[hello, world]"] and r0 == len("[hello, world]")
    r0, lines = vm_printk(b"[%s]", (0x41,))  # unreadable address: empty string, as the kernel
    assert lines == ["[]"]


def test_output_truncated_but_length_full():
    r0, lines = vm_printk(b"%0900d%0900d", (1, 2))
    assert r0 == 1800
    assert len(lines[0]) == pk.MAX_BPRINTF_BUF - 1


def test_snprintf_helper_formats_into_buffer():
    src = f"""
    r1 = {int.from_bytes(b"n=%d!".ljust(8, bytes(1)), "little"):#x} ll
    *(u64 *)(r10 - 8) = r1
    r1 = 42
    *(u64 *)(r10 - 16) = r1
    r1 = r10
    r1 += -32
    r2 = 16
    r3 = r10
    r3 += -8
    r4 = r10
    r4 += -16
    r5 = 8
    call bpf_snprintf
    *(u64 *)(r10 - 40) = r0
    r0 = *(u64 *)(r10 - 32)
    exit
    """
    res = VM(assemble(src), prog_type="socket_filter").run(packet=bytes(64))
    assert (res.r0).to_bytes(8, "little") == b"n=42!\0\0\0"


# ---- against the kernel ------------------------------------------------------------------------------------------------

KERNEL_FORMATS = [
    b"plain text\n", b"%d\n", b"%i %u %x %X", b"%ld %li %lu %lx", b"%lld %lli %llu %llx", b"%5d|%-5d|%05d|",
    b"%+d % d %+5d", b"%08x %-8x|", b"%c%c%c", b"%s", b"[%s] [%10s] [%-10s]", b"%%d %%", b"%px",
    b"%pK", b"%p", b"%p end", b"%pks", b"%pI4", b"%pi4", b"%pI6", b"%pi6", b"%hd", b"%.3d", b"%d %d %d %d",
    b"%z", b"%lc", b"%llc", b"%sx", b"\x01", b"tab\there", b"%ps", b"%pS", b"%pB", b"%---5d", b"%0-5d|",
    b"%00000000000000000000009d", b"%123456789d", b"%0900d%0900d", b"%l", b"%", b"x%", b"%-", b"%5",
    b"%llld", b"%Lu", b"%zu", b"%ls", b"%pKx",
]


def _kernel_run(programs):
    """Load and test-run each program as a socket filter; returns the list of u32 retvals."""
    from pyebpf.loader import load

    out = []
    for prog in programs:
        with load(prog, "socket_filter") as kp:
            out.append(kp.test_run(bytes(64)).retval)
    return out


def _args_for(fmt: bytes):
    return (STR,) + DEFAULT_ARGS[1:] if b"s" in fmt and b"%p" not in fmt else DEFAULT_ARGS


@pytest.mark.kernel
def test_printk_return_values_match_kernel():
    programs = [printk_program(f, _args_for(f)) for f in KERNEL_FORMATS]
    kernel = _kernel_run(programs)
    mismatches = []
    for fmt, kret in zip(KERNEL_FORMATS, kernel):
        vret, _ = vm_printk(fmt, _args_for(fmt))
        if vret != kret:
            mismatches.append((fmt, s32(kret), s32(vret)))
    assert not mismatches, f"(format, kernel, vm): {mismatches}"


FRAGMENTS = ["%", "d", "l", "x", "X", "u", "i", "s", "c", "p", "K", "0", "5", "12", "-", "+", " ", ".", "h",
             "%%", "ab", "\n", "I", "4", "6", "k", "%d", "%s", "%p"]


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8))
def test_random_formats_match_kernel(parts):
    fmt = "".join(parts).encode()
    # integer arguments only: a stack pointer printed with %d would differ between the VM and the kernel
    [kret] = _kernel_run([printk_program(fmt)])
    vret, _ = vm_printk(fmt)
    assert s32(vret) == s32(kret), f"format {fmt!r}: kernel {s32(kret)}, vm {s32(vret)}"


def _trace_messages(marker: str, timeout: float = 2.0) -> list[str]:
    from pyebpf.system.tracefs import tracefs_path

    deadline = time.monotonic() + timeout
    path = tracefs_path("trace")
    while True:
        with open(path, encoding="latin-1") as f:
            lines = [ln for ln in f.read().splitlines() if "bpf_trace_printk: " in ln]
        msgs = [ln.split("bpf_trace_printk: ", 1)[1] for ln in lines]
        start = max((i for i, msg in enumerate(msgs) if msg == marker), default=None)
        if start is not None or time.monotonic() > deadline:
            return msgs[start + 1:] if start is not None else []
        time.sleep(0.05)


@pytest.mark.kernel
def test_printk_text_matches_kernel():
    """The exact text, for formats whose output does not depend on pointer hashing or symbols."""
    from pyebpf.system.tracefs import tracefs_path

    if not os.path.exists(tracefs_path("trace")):
        pytest.skip("no tracefs trace file")
    formats = [f for f in KERNEL_FORMATS
               if not any(x in f for x in (b"%p", b"\x01", b"\n", b"\t")) and s32(vm_printk(f, _args_for(f))[0]) > 0]
    marker = f"pyebpf-marker-{os.getpid()}-{time.monotonic_ns()}"
    _kernel_run([printk_program(marker.encode(), ())] + [printk_program(f, _args_for(f)) for f in formats])
    got = _trace_messages(marker)
    assert len(got) >= len(formats)
    expected = [vm_printk(f, _args_for(f))[1][0] for f in formats]
    assert got[:len(formats)] == expected


def vprintk_program(fmt: bytes, args: list[int], data_len: int | None = None):
    """A socket filter returning bpf_trace_vprintk(fmt, len(fmt)+1, args, data_len)."""
    fmt = fmt + b"\0"
    fmt_off = 8 * ((len(fmt) + 7) // 8)
    args_off = fmt_off + 8 * max(len(args), 1) + 8
    lines = []
    blob = fmt.ljust(fmt_off, b"\0")
    for i in range(0, len(blob), 8):
        lines += [f"r1 = {struct.unpack('<Q', blob[i:i + 8])[0]:#x} ll", f"*(u64 *)(r10 - {fmt_off - i}) = r1"]
    for i, a in enumerate(list(args) + [0]):
        lines += [f"r1 = {a:#x} ll", f"*(u64 *)(r10 - {args_off - 8 * i}) = r1"]
    n = 8 * len(args) if data_len is None else data_len
    lines += ["r1 = r10", f"r1 += -{fmt_off}", f"r2 = {len(fmt)}", "r3 = r10", f"r3 += -{args_off}", f"r4 = {n}",
              "call bpf_trace_vprintk", "exit"]
    return assemble("\n".join(lines))


VPRINTK_CASES = [
    (b"plain", [], None), (b"%d", [7], None), (b"%d %d", [1, 2], 12), (b"%d" * 12, list(range(12)), None),
    (b"%d" * 13, list(range(13)), None), (b"%d %s %llx", [5, 0x41, 0xABCDEF], None), (b"%d%d%d%d", [1, 2, 3], None),
    (b"%5d|%-3x|", [(-9) & M64, 255], None),
]


def test_vprintk_in_vm():
    res = VM(vprintk_program(b"%d-%d-%d-%d", [1, 2, 3, 4]), prog_type="socket_filter").run(packet=bytes(64))
    assert res.printk == ["1-2-3-4"] and res.r0 == 7
    res = VM(vprintk_program(b"%d", [1], 12), prog_type="socket_filter").run(packet=bytes(64))
    assert s32(res.r0 & 0xFFFFFFFF) == -errno.EINVAL


@pytest.mark.kernel
def test_vprintk_matches_kernel():
    progs = [vprintk_program(f, a, n) for f, a, n in VPRINTK_CASES]
    kernel = _kernel_run(progs)
    vm = [VM(p, prog_type="socket_filter").run(packet=bytes(64)).r0 & 0xFFFFFFFF for p in progs]
    assert [s32(v) for v in vm] == [s32(k) for k in kernel]
