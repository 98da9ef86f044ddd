"""kfuncs with context and memory/size-pair arguments (verifier/kfunc.py: KF_ARG_PTR_TO_CTX,
KF_ARG_PTR_TO_MEM_SIZE) against the running kernel: conntrack lookups as xdp_synproxy_kern.c makes them
(tests/verifier/c/kfunc_mem_args.bpf.c). Same verdict, last error line and processed count as the kernel."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

PROGRAMS = ["ct_ok", "ct_leak", "ct_release_unchecked", "ct_tuple_past_stack", "ct_unbounded_size", "ct_not_ctx",
            "ct_use_after_release"]


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = build(tmp_path_factory, C_DIR / "kfunc_mem_args.bpf.c")
    yield o
    o.close()


def test_every_program_listed(obj):
    assert sorted(obj.programs) == sorted(PROGRAMS)


@pytest.mark.kernel
@pytest.mark.parametrize("name", PROGRAMS)
def test_kfunc_mem_args_as_kernel(obj, name):
    compare(obj, name, processed=True)
