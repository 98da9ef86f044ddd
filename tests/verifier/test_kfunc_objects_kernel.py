"""Clang-built objects of the modelled kfunc families against the running kernel: same verdict, same last error
line and, for accepted programs, the same processed count.

- tests/verifier/c/dynptr_helpers.bpf.c: dynptrs on the stack (verifier/dynptr.py) built, read, written, sliced,
  clobbered, released and leaked, local and ring-buffer ones through the helpers, packet ones through the kfuncs
  (bpf_dynptr_from_xdp/skb, bpf_dynptr_slice, _slice_rdwr, _size, _adjust, _clone); slots compared when states are pruned.
- tests/verifier/c/iter_num.bpf.c: open-coded iterators (verifier/iters.py), loops with bpf_iter_num_new/_next/
  _destroy (sums, bounded and unbounded indexes, nested loops) and their misuse (uninitialised, twice created or
  destroyed, clobbered, leaked, read as bytes, the element written or not NULL-checked); loop convergence at the
  _next() checkpoints.
- tests/verifier/c/iter_kernel_objects.bpf.c: iterators over kernel objects (bpf_iter_task_vma_*, bpf_iter_css_task_*):
  a kernel pointer to _new (NULL, walked, maybe-NULL), the trusted element from _next, the program types css_task
  is allowed in.
- tests/verifier/c/kfunc_mem_args.bpf.c: kfuncs with context and memory/size-pair arguments (verifier/kfunc.py:
  KF_ARG_PTR_TO_CTX, KF_ARG_PTR_TO_MEM_SIZE), conntrack lookups as xdp_synproxy_kern.c makes them."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

#: each object's source and the programs it must hold (a program added to the C file is listed here too)
OBJECTS: dict[str, list[str]] = {
    "dynptr_helpers.bpf.c": [
        "read_uninit", "read_ok", "write_ok", "data_ok", "data_oob", "data_nocheck", "reinit_ok", "clobbered",
        "clobbered_half", "slice_after_clobber", "read_dynptr_bytes", "raw_write_over", "misaligned", "maybe_init",
        "both_paths_init", "rb_leak", "rb_ok", "rb_discard_ok", "rb_double", "rb_slice_after_submit", "rb_overwrite",
        "rb_reinit", "local_submit", "rb_maybe_released", "from_stack_mem", "xdp_slice_ok", "xdp_slice_oob",
        "xdp_slice_write", "xdp_slice_after_adjust", "xdp_slice_small_buf", "xdp_size_uninit", "xdp_size_adjust_ok",
        "skb_kfunc_in_xdp", "skb_slice_ok", "clone_ok", "clone_uninit_parent", "rb_clone_submit_then_use",
        "rb_clone_submit_clone", "xdp_slice_rdwr_write", "xdp_slice_rdwr_var_len", "cgskb_slice_rdwr",
        "skb_tp_btf_slice", "skb_tp_btf_null"
    ],
    "iter_num.bpf.c": [
        "sum_ok", "leak", "next_uninit", "destroy_uninit", "double_new", "double_destroy", "no_null_check",
        "write_elem", "clobber_iter", "bounded_index_ok", "unbounded_index", "nested_ok", "elem_as_index",
        "cond_destroy", "read_iter_bytes", "use_after_destroy"
    ],
    "iter_kernel_objects.bpf.c": [
        "vma_sum_ok", "vma_leak", "vma_null_task", "vma_walked_task", "vma_no_null_check", "vma_write_elem",
        "vma_next_uninit", "css_task_in_raw_tp", "css_task_count_ok", "css_task_maybe_null_css", "css_task_leak"
    ],
    "kfunc_mem_args.bpf.c": [
        "ct_ok", "ct_leak", "ct_release_unchecked", "ct_tuple_past_stack", "ct_unbounded_size", "ct_not_ctx",
        "ct_use_after_release"
    ],
}


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    built: dict = {}

    def get(source: str):
        if source not in built:
            built[source] = build(tmp_path_factory, C_DIR / source)
        return built[source]
    yield get
    for o in built.values():
        o.close()


@pytest.mark.parametrize("source", sorted(OBJECTS))
def test_every_program_listed(objects, source):
    assert sorted(objects(source).programs) == sorted(OBJECTS[source])


@pytest.mark.kernel
@pytest.mark.parametrize("source,name", [(s, n) for s, names in OBJECTS.items() for n in names])
def test_kfunc_object_as_kernel(objects, source, name):
    compare(objects(source), name, processed=True)
