"""A clang object: the explanation names the C line from BTF line_info and suggests the C fix, which verifies."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from pyebpf.loader.elf import load_elf
from pyebpf.verifier import verify
from pyebpf.verifier.explain import explain

SRC = """
#define BPF_MAP_TYPE_HASH 1
#define SEC(n) __attribute__((section(n), used))
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
struct { int (*type)[BPF_MAP_TYPE_HASH]; int (*key_size)[4]; int (*value_size)[8]; int (*max_entries)[16]; }
counts SEC(".maps");

SEC("socket")
int prog(void *ctx)
{
	int key = 0;
	long *v = bpf_map_lookup_elem(&counts, &key);
	%s
	return *v;
}
char _license[] SEC("license") = "GPL";
"""


def _program(tmp_path, check: str):
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (scripts/setup.sh installs it)")
    (tmp_path / "p.c").write_text(SRC % check)
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-c", "p.c", "-o", "p.o"], cwd=tmp_path, check=True)
    obj = load_elf(str(tmp_path / "p.o"))
    try:
        return obj.programs["prog"]
    finally:
        obj.close()


def test_c_line_and_fix(tmp_path):
    ex = explain(_program(tmp_path, ""))
    assert ex.source == "p.c:14: return *v;"
    assert "p.c:12: long *v = bpf_map_lookup_elem(&counts, &key);" in ex.why[0]
    assert ex.fix == "check the pointer first: `if (!p) return 0;`"
    fixed = _program(tmp_path, "if (!v) return 0;")
    assert verify(fixed).accepted


@pytest.mark.kernel
def test_c_fix_loads(tmp_path):
    from pyebpf.loader import KernelVerifierError, load

    with pytest.raises(KernelVerifierError):
        load(_program(tmp_path, ""))
    load(_program(tmp_path, "if (!v) return 0;")).close()
