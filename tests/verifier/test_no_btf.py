"""verify() and the loader agree on whether a load carries BTF func_info (Program.carries_func_info), and verify()
applies the kernel's no-BTF rules (check_abnormal_return, `missing btf func_info`) exactly when it does not."""
from __future__ import annotations

import pytest

from pyebpf.btf import BtfBuilder
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify

TAIL_CALL_IN_SUBPROG = (".map jt prog_array key=4 value=4 max_entries=4\n  call f\n  exit\nf:\n  r2 = map[jt] ll\n"
                        "  r3 = 0\n  call bpf_tail_call\n  r0 = 0\n  exit\n")
LD_ABS_IN_SUBPROG = "  call f\n  exit\nf:\n  r6 = r1\n  r0 = *(u8 *)skb[0]\n  r0 = 0\n  exit\n"
CALLBACK = "  r1 = 10\n  r2 = cb ll\n  r3 = 0\n  r4 = 0\n  call bpf_loop\n  r0 = 0\n  exit\ncb:\n  r0 = 0\n  exit\n"


def test_func_info_fact():
    with_calls, plain = assemble(LD_ABS_IN_SUBPROG), assemble("  r0 = 0\n  exit\n")
    assert with_calls.generates_func_info and with_calls.carries_func_info  # the loader generates it
    assert not plain.generates_func_info and not plain.carries_func_info  # nothing to describe
    with_calls.func_info = []
    assert not with_calls.generates_func_info and not with_calls.carries_func_info  # loaded without
    own = assemble(LD_ABS_IN_SUBPROG)
    own.btf = BtfBuilder()
    assert not own.generates_func_info and not own.carries_func_info  # BTF of its own, no records
    own.func_info = [(0, 1), (2, 1)]
    assert own.carries_func_info


@pytest.mark.parametrize("src, message", [
    (TAIL_CALL_IN_SUBPROG, "tail_call is not allowed in subprogs without BTF"),
    (LD_ABS_IN_SUBPROG, "LD_ABS is not allowed in subprogs without BTF"),
])
def test_abnormal_return_without_func_info(src, message):
    prog = assemble(src)
    assert verify(prog, "socket_filter", raise_on_reject=False).accepted  # generated func_info: allowed
    prog.func_info = []
    res = verify(prog, "socket_filter", raise_on_reject=False, log_level=2)
    assert not res.accepted and res.error.message == message and res.error.errno == 22
    assert res.log.startswith("func#0 @0\nfunc#1 @")  # after add_subprog_and_kfunc, before check_cfg
    for kernel in ("5.10", "6.1", "6.12", "6.18"):  # check_abnormal_return is older than every modelled release
        assert verify(prog, "socket_filter", raise_on_reject=False, kernel=kernel).error.message == message


def test_callback_reference_needs_func_info():
    prog = assemble(CALLBACK)
    assert verify(prog, "tracepoint", raise_on_reject=False, kernel="6.18").accepted
    prog.func_info = []
    res = verify(prog, "tracepoint", raise_on_reject=False, kernel="6.18")
    assert not res.accepted and res.error.message == "missing btf func_info" and res.error.insn == 1
    # 5.10 knows no BPF_PSEUDO_FUNC: with func_info its records outnumber the subprograms it finds; without, the
    # lddw source itself is refused
    assert verify(prog, "tracepoint", raise_on_reject=False, kernel="5.10").error.message == \
        "unrecognized bpf_ld_imm64 insn"
    prog.func_info = None
    assert verify(prog, "tracepoint", raise_on_reject=False, kernel="5.10").error.message == \
        "number of funcs in func_info doesn't match number of subprogs"


@pytest.mark.kernel
@pytest.mark.parametrize("src, prog_type", [(TAIL_CALL_IN_SUBPROG, "socket_filter"),
                                            (LD_ABS_IN_SUBPROG, "socket_filter"), (CALLBACK, "tracepoint")])
@pytest.mark.parametrize("func_info", [None, []])
def test_loader_and_verify_make_the_same_load(src, prog_type, func_info):
    """The loader loads the Program as it says (generated func_info or none); verify() answers for that load."""
    from pyebpf.loader import load
    from pyebpf.loader.program import ProgramLoadError
    prog = assemble(src)
    prog.func_info = func_info
    mine = verify(prog, prog_type, raise_on_reject=False)
    try:
        load(prog, prog_type, log_level=1).close()
        kernel_ok, kernel_msg = True, ""
    except ProgramLoadError as e:
        kernel_ok, kernel_msg = False, e.log
    assert mine.accepted == kernel_ok
    if not kernel_ok:
        assert mine.error.message in kernel_msg
