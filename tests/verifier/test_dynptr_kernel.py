"""Dynptrs on the stack (verifier/dynptr.py) against the running kernel: tests/verifier/c/dynptr_helpers.bpf.c
builds, reads, writes, slices, clobbers, releases and leaks local and ring-buffer dynptrs through the dynptr
helpers, and packet dynptrs through the kfuncs (bpf_dynptr_from_xdp/skb, bpf_dynptr_slice, _size, _adjust, _clone).
Same verdict, same last error line and, for accepted programs, the same processed count as the kernel
(the slots are compared when states are pruned)."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

PROGRAMS = ["read_uninit", "read_ok", "write_ok", "data_ok", "data_oob", "data_nocheck", "reinit_ok", "clobbered",
            "clobbered_half", "slice_after_clobber", "read_dynptr_bytes", "raw_write_over", "misaligned",
            "maybe_init", "both_paths_init", "rb_leak", "rb_ok", "rb_discard_ok", "rb_double",
            "rb_slice_after_submit", "rb_overwrite", "rb_reinit", "local_submit", "rb_maybe_released", "from_stack_mem",
            "xdp_slice_ok", "xdp_slice_oob", "xdp_slice_write", "xdp_slice_after_adjust", "xdp_slice_small_buf",
            "xdp_size_uninit", "xdp_size_adjust_ok", "skb_kfunc_in_xdp", "skb_slice_ok",
            "clone_ok", "clone_uninit_parent", "rb_clone_submit_then_use", "rb_clone_submit_clone"]


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = build(tmp_path_factory, C_DIR / "dynptr_helpers.bpf.c")
    yield o
    o.close()


def test_every_program_listed(obj):
    assert sorted(obj.programs) == sorted(PROGRAMS)


@pytest.mark.kernel
@pytest.mark.parametrize("name", PROGRAMS)
def test_dynptr_helpers_as_kernel(obj, name):
    compare(obj, name, processed=True)
