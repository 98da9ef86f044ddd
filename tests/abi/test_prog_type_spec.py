"""abi/prog_type_spec.py: one place per program type, assembled from the owning tables."""
from __future__ import annotations

import pytest

from pyebpf.abi.context import CONTEXTS
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.prog_type_spec import MODELLED_PROG_TYPES, prog_type_spec
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.verifier import SUPPORTED_PROG_TYPES


def test_verifier_supports_exactly_the_modelled_types():
    # TRACING has no fixed context layout: its ctx is the attach target's BTF prototype (verifier/btf_ptr.py)
    assert ProgType.TRACING not in MODELLED_PROG_TYPES
    assert SUPPORTED_PROG_TYPES == MODELLED_PROG_TYPES | {ProgType.TRACING}
    for pt in (ProgType.SK_MSG, ProgType.SK_SKB, ProgType.CGROUP_SOCK, ProgType.CGROUP_SOCK_ADDR, ProgType.SOCK_OPS,
               ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL, ProgType.FLOW_DISSECTOR,
               ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT):
        assert pt in MODELLED_PROG_TYPES


def test_a_half_modelled_type_is_not_modelled():
    # raw_tracepoint.w has a context struct but no access rule or helper table of its own
    assert ProgType.RAW_TRACEPOINT_WRITABLE in CONTEXTS
    assert ProgType.RAW_TRACEPOINT_WRITABLE not in MODELLED_PROG_TYPES
    with pytest.raises(ValueError):
        prog_type_spec(ProgType.RAW_TRACEPOINT_WRITABLE)


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
