"""Global subprograms (verifier/global_func.py) against the running kernel: a clang-built object whose global
functions take pointers (PTR_TO_MEM_OR_NULL in the callee: unchecked dereference refused), the context, scalars,
call each other, and are called with arguments that do not fit their prototype. Same verdict and same first
error line as the kernel for every program of the object; prototypes the kernel cannot use (void or opaque
pointees, a void return) refuse every call with its reason.

global_arg_tags.bpf.c: parameters with `arg:` decl tags (__arg_ctx, __arg_nonnull, __arg_nullable, __arg_trusted,
__arg_untrusted, __arg_arena), accepted and refused calls and bodies; there also the processed count of accepted
programs."""
from __future__ import annotations

import pytest
from clang_objects import C_DIR, build, compare

SRC = C_DIR / "global_funcs.bpf.c"
TAGS_SRC = C_DIR / "global_arg_tags.bpf.c"


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = build(tmp_path_factory, SRC)
    yield o
    o.close()


@pytest.fixture(scope="module")
def tags_obj(tmp_path_factory):
    o = build(tmp_path_factory, TAGS_SRC)
    yield o
    o.close()


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["unchecked", "checked", "sized", "past_end", "nested", "null_arg", "static_call",
                                  "small_buffer", "void_ptr", "fwd_ptr", "void_return"])
def test_global_function_verdict_as_kernel(obj, name):
    compare(obj, name, processed=False)


@pytest.mark.kernel
@pytest.mark.parametrize("name", [
    "ctx_ok", "ctx_wrong_type", "ctx_not_ctx", "ctx_kprobe", "ctx_kprobe_skb",
    "nonnull_ok", "nonnull_maybe_null", "nonnull_checked", "nonnull_small", "nullable_alone",
    "scalar_tagged", "unknown_tag",
    "trusted_ok", "trusted_deref_unchecked", "trusted_gets_scalar", "trusted_gets_null", "trusted_gets_stack",
    "trusted_combo", "untrusted_ok", "untrusted_with_nullable",
    "arena_scalar", "arena_stack", "static_with_tag", "dynptr_arg_ok", "dynptr_arg_uninit", "dynptr_arg_released"])
def test_global_arg_tags_as_kernel(tags_obj, name):
    compare(tags_obj, name, processed=True)
