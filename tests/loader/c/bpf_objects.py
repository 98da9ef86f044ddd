"""Compile the C programs next to this file with clang once per test session (cached in a temporary directory).

`object_path("xdp_count")` returns the path of xdp_count.o, compiled with `clang -O2 -g -target bpf`; programs
that include vmlinux.h get one generated from the running kernel's BTF with bpftool. A missing tool raises
`ToolMissing` so tests can skip (or fail under PYEBPF_REQUIRE_KERNEL=1) with the reason.
"""
from __future__ import annotations

import atexit
import functools
import os
import platform
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CLANG_CANDIDATES = ("clang", "clang-14", "clang-15", "clang-16", "clang-13")


class ToolMissing(Exception):
    """clang or bpftool is not installed, or compiling failed for an environment reason."""


def clang() -> str:
    for name in CLANG_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise ToolMissing("clang is not installed")


@functools.lru_cache(maxsize=None)
def build_dir() -> str:
    out = tempfile.mkdtemp(prefix="pyebpf-elf-")
    atexit.register(shutil.rmtree, out, True)
    return out


@functools.lru_cache(maxsize=None)
def vmlinux_h() -> str:
    bpftool = shutil.which("bpftool")
    if bpftool is None or not os.path.exists("/sys/kernel/btf/vmlinux"):
        raise ToolMissing("bpftool or /sys/kernel/btf/vmlinux is missing (needed for vmlinux.h)")
    path = os.path.join(build_dir(), "vmlinux.h")
    with open(path, "wb") as f:
        subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], stdout=f,
                       check=True)
    return path


def multiarch_include() -> list[str]:
    """-I /usr/include/<triple> (asm/types.h lives there on Debian); from gcc, else from the machine name."""
    triples = []
    try:
        triples.append(subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True,
                                      check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    triples.append(f"{platform.machine()}-linux-gnu")
    for triple in triples:
        d = os.path.join("/usr/include", triple)
        if triple and os.path.isdir(d):
            return ["-I", d]
    return []


@functools.lru_cache(maxsize=None)
def object_path(name: str, flags: tuple[str, ...] = ("-g",)) -> str:
    """Compile tests/loader/c/<name>.bpf.c (once per flag set) and return the object's path.

    `flags` replaces the default `-g` (debug info, hence .BTF/.BTF.ext), e.g. () for an object without BTF or
    ("-g", "-mcpu=v3") for another instruction set version.
    """
    src = os.path.join(HERE, f"{name}.bpf.c")
    suffix = "".join(f.strip("-").replace("=", "") for f in flags if f != "-g") + ("" if "-g" in flags else "nobtf")
    out = os.path.join(build_dir(), f"{name}{'.' + suffix if suffix else ''}.o")
    with open(src) as f:
        needs_vmlinux = '"vmlinux.h"' in f.read()
    includes = ["-I", os.path.dirname(vmlinux_h())] if needs_vmlinux else []
    cmd = [clang(), "-O2", *flags, "-target", "bpf", "-D__TARGET_ARCH_x86", *multiarch_include(), *includes,
           "-c", src, "-o", out]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"clang failed for {name}:\n{proc.stderr}")
    return out


def sources() -> list[str]:
    return sorted(f[:-len(".bpf.c")] for f in os.listdir(HERE) if f.endswith(".bpf.c"))
