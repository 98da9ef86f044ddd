"""Open-coded iterators (verifier/iters.py) against the running kernel: tests/verifier/c/iter_num.bpf.c loops with
bpf_iter_num_new/_next/_destroy (sums, bounded and unbounded indexes, nested loops) and misuses them (uninitialised,
twice created or destroyed, clobbered, leaked, read as bytes, the element written or not NULL-checked). Same
verdict, last error line and, for accepted programs, processed count as the kernel (loop convergence at the
_next() checkpoints)."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

PROGRAMS = ["sum_ok", "leak", "next_uninit", "destroy_uninit", "double_new", "double_destroy", "no_null_check",
            "write_elem", "clobber_iter", "bounded_index_ok", "unbounded_index", "nested_ok", "elem_as_index",
            "cond_destroy", "read_iter_bytes", "use_after_destroy"]


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = build(tmp_path_factory, C_DIR / "iter_num.bpf.c")
    yield o
    o.close()


def test_every_program_listed(obj):
    assert sorted(obj.programs) == sorted(PROGRAMS)


@pytest.mark.kernel
@pytest.mark.parametrize("name", PROGRAMS)
def test_iter_num_as_kernel(obj, name):
    compare(obj, name, processed=True)
