"""Shared by the clang-built kernel-differential verifier tests (tests/verifier/c/*.bpf.c): build an object once,
then compare one of its programs through our verifier and through the running kernel (BPF_PROG_LOAD with the
object's maps and BTF): verdict, last error line, the reason before "Caller passes invalid args", and optionally
the processed count of an accepted program."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

C_DIR = Path(__file__).parent / "c"
#: the statistics lines (log_level 4) and source annotations around the verifier's messages
_STATS = ("processed ", ";", "verification time ", "stack depth ")


def build(tmp_path_factory, src: Path):
    """clang -O2 -g -target bpf of `src`, read by our ELF loader (skips with a reason without clang)."""
    from pyebpf.loader.elf import load_elf
    from pyebpf.testing.plugin import require_or_skip
    clang = next((p for p in map(shutil.which, ("clang", "clang-14")) if p), None)
    if clang is None:
        require_or_skip(f"clang is not installed (needed to build tests/verifier/c/{src.name})")
    out = tmp_path_factory.mktemp("clang_objects") / (src.stem + ".o")
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-c", str(src), "-o", str(out)], check=True,
                   capture_output=True)
    return load_elf(str(out))


def last_error(log: str) -> str:
    lines = [ln for ln in (log or "").splitlines() if ln and not ln.startswith(_STATS)]
    return lines[-1] if lines else ""


def reason(log: str) -> str:
    """The line before 'Caller passes invalid args' (why the prototype or an argument does not fit)."""
    lines = [ln for ln in (log or "").splitlines() if ln and not ln.startswith(_STATS)]
    return lines[-2] if len(lines) > 1 and lines[-1].startswith("Caller passes") else ""


def compare(obj, name: str, processed: bool) -> None:
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
        assert ours.error.message == last_error(kern_log)
        assert reason(ours.log) == reason(kern_log)
    elif processed:
        m = re.search(r"processed (\d+) insns", kern_log)
        assert m and ours.processed == int(m.group(1)), kern_log[-300:]
