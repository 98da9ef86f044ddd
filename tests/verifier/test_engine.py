"""One small program per verifier check: our verdict and message, and the same table through the kernel."""
from __future__ import annotations

import errno

import pytest

from pyebpf import assemble
from pyebpf.abi.prog_types import parse_prog_type
from pyebpf.errors import VerifierError
from pyebpf.verifier import verify

from cases_engine import CASES
from kernel_oracle import kernel_load

IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ptype,text,expected", CASES, ids=IDS)
def test_verdict_and_message(name, ptype, text, expected):
    prog = assemble(text)
    res = verify(prog, prog_type=ptype, raise_on_reject=False)
    if expected is None:
        assert res.accepted, res.error
        assert res.processed > 0
    else:
        assert not res.accepted
        assert res.error.message == expected[1]
        assert errno.errorcode[res.error.errno] == expected[0]
        assert res.error.insn is not None


def test_reject_raises_with_slot():
    prog = assemble("r0 = 0\nr0 = *(u64 *)(r10 - 520)\nexit")
    with pytest.raises(VerifierError) as e:
        verify(prog)
    assert e.value.insn == 1 and e.value.errno == errno.EACCES


def test_unprivileged_rules():
    loop = assemble("r0 = 0\nl:\nr0 += 1\nif r0 < 10 goto l\nexit")
    with pytest.raises(VerifierError, match="back-edge from insn 2 to 1"):
        verify(loop, privileged=False)
    leak = assemble("r0 = r10\nexit")
    with pytest.raises(VerifierError, match="R0 leaks addr as return value"):
        verify(leak, privileged=False)
    cmp = assemble("r0 = 0\nif r1 == r10 goto +0\nexit")
    with pytest.raises(VerifierError, match="R10 pointer comparison prohibited"):
        verify(cmp, privileged=False)
    uninit = assemble("r0 = *(u64 *)(r10 - 8)\nexit")
    with pytest.raises(VerifierError, match="invalid read from stack R10 off=-8 size=8"):
        verify(uninit, privileged=False)
    helper = assemble("call bpf_trace_printk\nr0 = 0\nexit")
    with pytest.raises(VerifierError, match="cannot use helper"):
        verify(helper, privileged=False)
    with pytest.raises(VerifierError, match="needs CAP_BPF") as e:
        verify(assemble("r0 = 2\nexit"), prog_type="xdp", privileged=False)
    assert e.value.errno == errno.EPERM
    var_stack = assemble("r2 = *(u32 *)(r1 + 0)\nr2 &= 7\nr3 = r10\nr3 += -16\nr3 += r2\nr0 = 0\nexit")
    assert verify(var_stack).accepted
    with pytest.raises(VerifierError, match=r"R3 variable stack access prohibited for !root, var_off=\(0x0; 0x7\)"):
        verify(var_stack, privileged=False)
    leak = assemble(".map a array key=4 value=16 entries=4\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\n"
                    "r1 = map[a] ll\ncall bpf_map_lookup_elem\nif r0 == 0 goto out\n*(u64 *)(r0 + 0) = r10\n"
                    "out:\nr0 = 0\nexit")
    assert verify(leak).accepted
    with pytest.raises(VerifierError, match="R10 leaks addr into map"):
        verify(leak, privileged=False)
    narrow = assemble("w0 = w10\nr0 = 0\nexit")
    with pytest.raises(VerifierError, match="R10 partial copy of pointer"):
        verify(narrow, privileged=False)


def test_complexity_limit():
    prog = assemble("r1 = 0\nl:\nr1 += 1\nif r1 < 2000000 goto l\nr0 = 0\nexit")
    res = verify(prog, raise_on_reject=False)
    assert not res.accepted
    assert res.error.message == "BPF program is too large. Processed 1000001 insn"
    assert res.error.errno == errno.E2BIG


@pytest.mark.kernel
def test_same_verdict_and_message_as_kernel():
    mismatches = []
    for name, ptype, text, _ in CASES:
        prog = assemble(text)
        pt = parse_prog_type(ptype)
        ours = verify(prog, prog_type=pt, raise_on_reject=False)
        kern = kernel_load(prog, int(pt), log_level=1)
        if ours.accepted != kern.accepted:
            mismatches.append(f"{name}: ours accepted={ours.accepted} kernel accepted={kern.accepted} "
                              f"({kern.last_error!r} / {ours.error and ours.error.message!r})")
        elif not kern.accepted:
            if ours.error.message != kern.last_error:
                mismatches.append(f"{name}: message {ours.error.message!r} != kernel {kern.last_error!r}")
            elif ours.error.errno != kern.errno:
                mismatches.append(f"{name}: errno {ours.error.errno} != kernel {kern.errno}")
    assert not mismatches, "\n".join(mismatches)


def _jump_sequence_program():
    return assemble("r6 = r1\n" + "r2 = *(u32 *)(r6 + 0)\nif r2 > 5 goto +0\n" * 8300 + "r0 = 0\nexit")


def test_jump_sequence_limit():
    res = verify(_jump_sequence_program(), raise_on_reject=False)
    assert res.error.message == "The sequence of 8193 jumps is too complex."
    assert res.error.errno == errno.E2BIG


@pytest.mark.kernel
def test_limits_agree_with_kernel():
    prog = _jump_sequence_program()
    kern = kernel_load(prog, 1, log_level=1)
    ours = verify(prog, raise_on_reject=False)
    assert (kern.accepted, kern.errno, kern.last_error) == (False, ours.error.errno, ours.error.message)


_FUZZ_PREFIX = (".map m array key=4 value=16 entries=4\n*(u32 *)(r10 - 4) = 0\nr6 = r1\nr2 = r10\nr2 += -4\n"
                "r1 = map[m] ll\ncall bpf_map_lookup_elem\nr7 = r0\nr1 = r6\nr2 = r10\nr2 += -16\n"
                "r3 = *(u32 *)(r6 + 0)\nr4 = 5\nr5 = -3\nr8 = r10\nr9 = 0\nr0 = 1\n")


def test_random_programs_never_crash_the_verifier():
    """Any instruction sequence gets a verdict (or a VerifierError), never an internal exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from pyebpf.isa.program import Program
    from pyebpf.testing.strategies import programs

    prefix = assemble(_FUZZ_PREFIX)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(programs(kernel=True, max_size=25), st.sampled_from(["socket_filter", "xdp", "sched_cls", "kprobe"]),
           st.booleans(), st.sampled_from([0, 2]))
    def check(body, ptype, privileged, level):
        prog = Program(prefix.instructions + body.instructions, maps=prefix.maps)
        res = verify(prog, prog_type=ptype, privileged=privileged, log_level=level, raise_on_reject=False)
        assert res.accepted or isinstance(res.error, VerifierError)
        if level and not (res.error is not None and res.error.errno == errno.EPERM):
            assert res.log.rstrip().splitlines()[-1].startswith("processed ")

    check()


def _bad_fd_program():
    from pyebpf.isa.instruction import Instruction
    from pyebpf.isa.program import Program
    return Program([Instruction(0x18, 1, 1, 0, 4000), Instruction(0xB7, 0, 0, 0, 0), Instruction(0x95)])


def test_unknown_map_fd():
    res = verify(_bad_fd_program(), raise_on_reject=False)
    assert (res.error.message, res.error.errno, res.error.insn) == (
        "fd 4000 is not pointing to valid bpf_map", errno.EBADF, 0)


@pytest.mark.kernel
def test_unknown_map_fd_agrees_with_kernel():
    kern = kernel_load(_bad_fd_program(), 1, log_level=1)
    assert (kern.accepted, kern.errno, kern.last_error) == (False, errno.EBADF,
                                                           "fd 4000 is not pointing to valid bpf_map")
