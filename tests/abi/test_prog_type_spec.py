"""abi/prog_type_spec.py: one place per program type, assembled from the owning tables."""
from __future__ import annotations

import pytest

from pyebpf.abi.context import CONTEXTS, FieldKind, ReturnRange
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.prog_type_spec import BTF_CONTEXT_PROG_TYPES, MODELLED_PROG_TYPES, models, prog_type_spec
from pyebpf.abi.prog_types import AttachType, ProgType, attach_type_valid
from pyebpf.verifier import SUPPORTED_PROG_TYPES


def test_verifier_supports_exactly_the_modelled_types():
    # TRACING and LSM have no fixed context layout: their ctx is the attach target's BTF prototype (btf_ptr.py)
    assert BTF_CONTEXT_PROG_TYPES == {ProgType.TRACING, ProgType.LSM}
    assert not BTF_CONTEXT_PROG_TYPES & MODELLED_PROG_TYPES
    assert SUPPORTED_PROG_TYPES == MODELLED_PROG_TYPES | BTF_CONTEXT_PROG_TYPES
    for pt in (ProgType.SK_MSG, ProgType.SK_SKB, ProgType.CGROUP_SOCK, ProgType.CGROUP_SOCK_ADDR, ProgType.SOCK_OPS,
               ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL, ProgType.FLOW_DISSECTOR,
               ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT, ProgType.NETFILTER, ProgType.SYSCALL,
               ProgType.RAW_TRACEPOINT_WRITABLE):
        assert pt in MODELLED_PROG_TYPES


def test_btf_context_types_are_modelled_per_attach_type():
    assert models(ProgType.TRACING, AttachType.TRACE_ITER) and models(ProgType.LSM, AttachType.LSM_MAC)
    assert not models(ProgType.TRACING, None) and not models(ProgType.LSM, AttachType.LSM_CGROUP)
    assert models(ProgType.XDP) and not models(ProgType.STRUCT_OPS) and not models(99)
    lsm = prog_type_spec(ProgType.LSM)
    assert lsm.context is None and lsm.btf_context_attach == {AttachType.LSM_MAC}
    # bpf_lsm_get_retval_range: void hooks unchecked, bool hooks [0, 1], the rest [-MAX_ERRNO, 0] on 32 bits
    assert lsm.return_range(AttachType.LSM_MAC, "file_free_security", returns_void=True) is None
    assert lsm.return_range(AttachType.LSM_MAC, "audit_rule_known") == ReturnRange(0, 1, bits32=True)
    assert lsm.return_range(AttachType.LSM_MAC, "file_open") == ReturnRange(-4095, 0, bits32=True)
    assert HelperId.GET_ATTACH_COOKIE in lsm.helpers(attach_type=AttachType.LSM_MAC)
    tracing = prog_type_spec(ProgType.TRACING)
    assert tracing.return_range(AttachType.TRACE_ITER) == ReturnRange(0, 1)
    assert HelperId.SEQ_PRINTF in tracing.helpers(attach_type=AttachType.TRACE_ITER)
    assert HelperId.SEQ_PRINTF not in tracing.helpers(attach_type=AttachType.TRACE_RAW_TP)
    assert HelperId.GET_ATTACH_COOKIE not in tracing.helpers(attach_type=AttachType.TRACE_ITER)


def test_a_half_modelled_type_is_not_modelled():
    # struct_ops has neither a fixed context nor a helper table here
    assert ProgType.STRUCT_OPS not in MODELLED_PROG_TYPES | BTF_CONTEXT_PROG_TYPES
    with pytest.raises(ValueError):
        prog_type_spec(ProgType.STRUCT_OPS)


def test_new_types_answers():
    nf = prog_type_spec(ProgType.NETFILTER)
    assert nf.attach_types == {AttachType.NETFILTER} and nf.return_range() == ReturnRange(0, 1)
    assert nf.ctx_access_ok(0, 8, False) and not nf.ctx_access_ok(0, 4, False) and not nf.ctx_access_ok(8, 8, True)
    assert not attach_type_valid(ProgType.NETFILTER, 0) and attach_type_valid(ProgType.NETFILTER, AttachType.NETFILTER)
    sc = prog_type_spec(ProgType.SYSCALL)
    assert sc.ctx_access_ok(1000, 8, True) and not sc.ctx_access_ok(0xFFFF, 1, False) and not sc.ctx_access_ok(4, 8,
                                                                                                             False)
    assert attach_type_valid(ProgType.SYSCALL, 0) and not attach_type_valid(ProgType.SYSCALL, AttachType.NETFILTER)
    assert HelperId.GET_ATTACH_COOKIE not in sc.helpers() and HelperId.SYS_BPF in sc.helpers()
    assert HelperId.SYS_BPF not in sc.helpers(privileged=False)
    rtw = prog_type_spec(ProgType.RAW_TRACEPOINT_WRITABLE)
    assert rtw.context["args[0]"].kind is FieldKind.TP_BUFFER
    assert rtw.ctx_access_ok(0, 8, False) and not rtw.ctx_access_ok(0, 4, False) and rtw.ctx_access_ok(12, 4, False)
    assert rtw.helpers() == prog_type_spec(ProgType.RAW_TRACEPOINT).helpers()


@pytest.mark.parametrize("pt", sorted(MODELLED_PROG_TYPES), ids=lambda p: p.name.lower())
def test_every_modelled_type_answers_every_question(pt):
    spec = prog_type_spec(pt)
    assert spec.context is CONTEXTS[pt]
    assert spec.helpers()  # every type may call some helper (at least bpf_base_func_proto's)
    assert HelperId.MAP_LOOKUP_ELEM in spec.helpers()
    spec.return_range()


def test_attach_type_dependent_answers():
    sock_addr = prog_type_spec(ProgType.CGROUP_SOCK_ADDR)
    assert HelperId.BIND in sock_addr.helpers(attach_type=AttachType.CGROUP_INET4_CONNECT)
    assert HelperId.BIND not in sock_addr.helpers(attach_type=AttachType.CGROUP_INET4_BIND)
    assert (sock_addr.return_range(AttachType.CGROUP_INET4_BIND).max, sock_addr.return_range(
        AttachType.CGROUP_UDP4_RECVMSG).min) == (3, 1)
    assert sock_addr.ctx_access_ok(4, 4, True, AttachType.CGROUP_INET4_CONNECT)  # user_ip4
    assert not sock_addr.ctx_access_ok(4, 4, True, AttachType.CGROUP_INET6_CONNECT)
    cg_sock = prog_type_spec(ProgType.CGROUP_SOCK)
    assert cg_sock.default_attach_type == AttachType.CGROUP_INET_SOCK_CREATE
    assert cg_sock.ctx_access_ok(16, 4, True) and not cg_sock.ctx_access_ok(16, 4, True,
                                                                           AttachType.CGROUP_INET4_POST_BIND)
    assert AttachType.CGROUP_INET4_CONNECT not in cg_sock.attach_types


def test_a_type_newer_than_the_kernel_answered_for_is_refused():
    from pyebpf.isa.assembler import assemble
    from pyebpf.verifier import verify
    program = assemble("r0 = 1\nexit")
    assert not verify(program, ProgType.NETFILTER, attach_type=AttachType.NETFILTER, kernel="6.1",
                      raise_on_reject=False).accepted
    assert verify(program, ProgType.NETFILTER, attach_type=AttachType.NETFILTER, kernel="6.12",
                  raise_on_reject=False).accepted
    assert not verify(program, ProgType.SYSCALL, prog_flags=16, kernel="5.10", raise_on_reject=False).accepted
