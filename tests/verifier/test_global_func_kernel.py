"""Global subprograms (verifier/global_func.py) against the running kernel: a clang-built object whose global
functions take pointers (PTR_TO_MEM_OR_NULL in the callee: unchecked dereference refused), the context, scalars,
call each other, and are called with arguments that do not fit their prototype. Same verdict and same first
error line as the kernel for every program of the object; prototypes the kernel cannot use (void or opaque
pointees, a void return) refuse every call with its reason."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

SRC = Path(__file__).parent / "c" / "global_funcs.bpf.c"
TAGS_SRC = Path(__file__).parent / "c" / "global_arg_tags.bpf.c"


def _build(tmp_path_factory, src: Path):
    from pyebpf.loader.elf import load_elf
    from pyebpf.testing.plugin import require_or_skip
    clang = next((p for p in map(shutil.which, ("clang", "clang-14")) if p), None)
    if clang is None:
        require_or_skip(f"clang is not installed (needed to build tests/verifier/c/{src.name})")
    out = tmp_path_factory.mktemp("global") / (src.stem + ".o")
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-c", str(src), "-o", str(out)], check=True,
                   capture_output=True)
    return load_elf(str(out))


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    o = _build(tmp_path_factory, SRC)
    yield o
    o.close()


@pytest.fixture(scope="module")
def tags_obj(tmp_path_factory):
    o = _build(tmp_path_factory, TAGS_SRC)
    yield o
    o.close()


#: the statistics lines (log_level 4) and source annotations around the verifier's messages
_STATS = ("processed ", ";", "verification time ", "stack depth ")


def _last_error(log: str) -> str:
    lines = [ln for ln in (log or "").splitlines() if ln and not ln.startswith(_STATS)]
    return lines[-1] if lines else ""


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["unchecked", "checked", "sized", "past_end", "nested", "null_arg", "static_call",
                                  "small_buffer", "void_ptr", "fwd_ptr", "void_return"])
def test_global_function_verdict_as_kernel(obj, name):
    _compare(obj, name, processed=False)


@pytest.mark.kernel
@pytest.mark.parametrize("name", [
    "ctx_ok", "ctx_wrong_type", "ctx_not_ctx", "ctx_kprobe", "ctx_kprobe_skb",
    "nonnull_ok", "nonnull_maybe_null", "nonnull_checked", "nonnull_small", "nullable_alone",
    "scalar_tagged", "unknown_tag",
    "trusted_ok", "trusted_deref_unchecked", "trusted_gets_scalar", "trusted_gets_null", "trusted_gets_stack",
    "trusted_combo", "untrusted_ok", "untrusted_with_nullable",
    "arena_scalar", "arena_stack", "static_with_tag"])
def test_global_arg_tags_as_kernel(tags_obj, name):
    _compare(tags_obj, name, processed=True)


def _compare(obj, name: str, processed: bool) -> None:
    """Our verdict, last error line, the reason before 'Caller passes invalid args' and (`processed`) the
    processed count of an accepted program against the kernel's, loading with the object's maps and BTF."""
    import re
    from pyebpf.loader import ProgramLoadError, load
    from pyebpf.loader.collection import CollectionOptions, load_collection
    from pyebpf.verifier import verify
    program = obj.programs[name]
    ours = verify(program, program.prog_type, raise_on_reject=False, log_level=1)
    coll = load_collection(obj, CollectionOptions(only=[]))
    try:
        btf_fd = coll._btf_handle.fd if coll._btf_handle is not None else None
        try:
            kp = load(replace(program, btf=btf_fd), program.prog_type, maps=coll.maps, log_level=1 | 4)
            kern_ok, kern_log = True, kp.log
            kp.close()
        except ProgramLoadError as e:
            kern_ok, kern_log = False, e.log
    finally:
        coll.close()
    assert ours.accepted == kern_ok, f"kernel {kern_ok}: {kern_log[-400:]}\nours: {ours.log[-400:]}"
    if not kern_ok:
        assert ours.error.message == _last_error(kern_log)
        assert _reason(ours.log) == _reason(kern_log)
    elif processed:
        m = re.search(r"processed (\d+) insns", kern_log)
        assert m and ours.processed == int(m.group(1)), kern_log[-300:]


def _reason(log: str) -> str:
    """The line before 'Caller passes invalid args' (why the prototype or an argument does not fit)."""
    lines = [ln for ln in (log or "").splitlines() if ln and not ln.startswith(_STATS)]
    return lines[-2] if len(lines) > 1 and lines[-1].startswith("Caller passes") else ""
