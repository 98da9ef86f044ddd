"""bpf_check_classic and bpf_convert_filter against the kernel in front of us: random classic programs are accepted
or refused by pyebpf.cbpf.check exactly when SO_ATTACH_FILTER accepts or refuses them, and the accepted ones give
the same verdicts in our VM as in the kernel (BPF_PROG_TEST_RUN on our conversion; a packet socket with the classic
program, i.e. the kernel's own conversion)."""
from __future__ import annotations

import errno
import socket

import pytest
from cbpf_frames import ethernet, frame_for_test_run, socket_safe, socket_verdicts, vm_socket_verdict
from cbpf_programs import programs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyebpf.cbpf import ClassicProgram, check, disassemble, to_ebpf
from pyebpf.errors import LoaderError, VerifierError
from pyebpf.loader.cbpf import attach_socket_filter, detach_socket_filter
from pyebpf.loader.program import load
from pyebpf.verifier.api import verify
from pyebpf.vm import VM


def _kernel_errno(prog: ClassicProgram) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            attach_socket_filter(s, prog)
        except LoaderError as e:
            return e.errno or -1
        detach_socket_filter(s)
        return 0


def _our_errno(prog: ClassicProgram) -> int:
    try:
        check(prog)
    except VerifierError as e:
        return e.errno
    return 0


@pytest.mark.kernel
@settings(max_examples=300)
@given(st.one_of(programs(valid=True), programs(valid=False)))
def test_check_accepts_exactly_what_so_attach_filter_accepts(prog: ClassicProgram):
    assert _our_errno(prog) == _kernel_errno(prog)


@pytest.mark.kernel
def test_check_and_kernel_agree_on_the_edges():
    cases = {
        "empty": [],
        "no ret at the end": [(0x00, 0, 0, 1)],
        "ret x": [(0x0E, 0, 0, 0)],
        "div #0": [(0x34, 0, 0, 0), (0x16, 0, 0, 0)],
        "lsh #32": [(0x64, 0, 0, 32), (0x16, 0, 0, 0)],
        "M[16]": [(0x02, 0, 0, 16), (0x16, 0, 0, 0)],
        "read M[0] unwritten": [(0x60, 0, 0, 0), (0x16, 0, 0, 0)],
        "jump past the end": [(0x15, 1, 0, 0), (0x16, 0, 0, 0)],
        "ja past the end": [(0x05, 0, 0, 1), (0x16, 0, 0, 0)],
        "unknown ancillary": [(0x20, 0, 0, (-0x1000 + 64) & 0xFFFFFFFF), (0x16, 0, 0, 0)],
        "fine": [(0x28, 0, 0, 12), (0x15, 0, 1, 0x800), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)],
    }
    for name, insns in cases.items():
        prog = ClassicProgram(insns)
        assert _our_errno(prog) == _kernel_errno(prog), name
    assert _our_errno(ClassicProgram(cases["fine"])) == 0
    assert _our_errno(ClassicProgram(cases["ret x"])) == errno.EINVAL


def _convertible(prog: ClassicProgram) -> bool:
    try:
        to_ebpf(prog)
    except VerifierError:
        return False
    return True


@pytest.mark.kernel
@settings(max_examples=120)
@given(programs(valid=True), st.lists(ethernet(), min_size=1, max_size=4))
def test_random_programs_run_alike_in_the_vm_and_test_run(prog: ClassicProgram, frames: list[bytes]):
    assume(_convertible(prog))
    ebpf = to_ebpf(prog)
    verify(ebpf)
    vm = VM(ebpf)
    with load(ebpf) as kp:
        for frame in frames:
            if (frame[12:14] == b"\x08\x00" and len(frame) < 34) or (frame[12:14] == b"\x86\xdd" and len(frame) < 54):
                continue  # BPF_PROG_TEST_RUN refuses these short L3 skbs (EINVAL); the socket test takes them
            assert vm.run(packet=frame_for_test_run(frame)).r0 == kp.test_run(frame_for_test_run(frame)).retval, \
                disassemble(prog)


@pytest.mark.kernel
@settings(max_examples=4, suppress_health_check=[HealthCheck.large_base_example])
@given(st.lists(programs(valid=True, max_size=16), min_size=6, max_size=6),
       st.lists(ethernet().filter(socket_safe), min_size=12, max_size=12))
def test_random_programs_filter_a_real_socket_as_the_vm_says(progs: list[ClassicProgram], frames: list[bytes]):
    """The kernel's own conversion (SO_ATTACH_FILTER) keeps as many bytes of each frame as our VM's run of ours."""
    for prog in progs:
        if not _convertible(prog):
            continue
        vm = VM(to_ebpf(prog))
        expected = [vm_socket_verdict(vm, f) for f in frames]
        assert socket_verdicts(prog, frames) == expected, prog
