"""Generated BTF for programs with subprograms: the blob's structure offline, and the kernel accepting it."""
from __future__ import annotations

import struct

import pytest

from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R10, Builder
from pyebpf.loader import load
from pyebpf.loader import syscall as sc
from pyebpf.abi.btf import BTF_MAGIC, BtfKind
from pyebpf.btf import BtfBuilder
from pyebpf.loader.btf_gen import func_btf, needs_func_info, subprogram_starts


def _two_callbacks():
    b = Builder("xdp", name="two_cb")
    b.store(R10 - 8, 0, "u64")
    for cb in ("cb_a", "cb_b"):
        b.mov(R1, 4).ld_func(R2, cb).mov(R3, R10).add(R3, -8).mov(R4, 0).call("bpf_loop")
    b.load(R0, R10 - 8, "u64").exit()
    with b.function("cb_a"):  # sum += 1
        b.load(R0, R2 + 0, "u64").add(R0, 1).store(R2 + 0, R0, "u64").ret(0)
    with b.function("cb_b"):  # sum += 10 * index
        b.load(R0, R2 + 0, "u64").mul(R1, 10).add(R0, R1).store(R2 + 0, R0, "u64").ret(0)
    return b.build()


def _parse(blob: bytes):
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", blob)
    types = blob[hdr_len + type_off:hdr_len + type_off + type_len]
    strings = blob[hdr_len + str_off:hdr_len + str_off + str_len]
    out, pos = [], 0
    while pos < len(types):
        name_off, info, size_or_type = struct.unpack_from("<III", types, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        pos += 12
        if kind == BtfKind.INT:
            pos += 4
        elif kind == BtfKind.FUNC_PROTO:
            pos += 8 * vlen
        name = strings[name_off:strings.index(b"\0", name_off)].decode()
        out.append((BtfKind(kind), name, vlen, size_or_type))
    return magic, version, out


def test_blob_layout():
    prog = _two_callbacks()
    assert needs_func_info(prog)
    blob, infos = func_btf(prog)
    magic, version, types = _parse(blob)
    assert magic == BTF_MAGIC and version == 1
    assert types[0] == (BtfKind.INT, "int", 0, 4)
    assert types[1][0] == BtfKind.FUNC_PROTO and types[1][3] == 1  # returns int
    funcs = [t for t in types if t[0] == BtfKind.FUNC]
    assert [f[1] for f in funcs] == ["two_cb", "cb_a", "cb_b"]
    assert [f[2] for f in funcs] == [1, 0, 0]  # main global, callbacks static
    assert [fi.insn_off for fi in infos] == subprogram_starts(prog) == [0, prog.labels["cb_a"], prog.labels["cb_b"]]
    assert [fi.type_id for fi in infos] == [3, 4, 5]


def test_plain_program_needs_no_btf():
    prog = Builder("xdp").ret(2).build()
    assert not needs_func_info(prog) and subprogram_starts(prog) == [0]


def test_builder_strings_are_shared():
    b = BtfBuilder()
    assert b.string("int") == b.string("int") == 1 and b.string("") == 0


@pytest.mark.kernel
def test_kernel_accepts_generated_btf_and_runs_both_callbacks():
    prog = _two_callbacks()
    blob, _ = func_btf(prog)
    fd, _ = sc.btf_load(blob)
    import os

    os.close(fd)
    with load(prog) as p:
        # cb_a runs 4 times (+4), cb_b adds 10 * (0+1+2+3)
        assert p.test_run(b"\0" * 64).retval == 4 + 60
        assert p.info().nr_func_info == 3


@pytest.mark.kernel
def test_bad_btf_error_has_the_kernels_log():
    blob = bytearray(func_btf(_two_callbacks())[0])
    blob[24 + 16 + 4] = 0xFF  # FUNC_PROTO vlen 255: parameters that are not there
    with pytest.raises(LoaderError) as e:
        sc.btf_load(bytes(blob))
    assert e.value.errno_name == "EINVAL" and e.value.log


@pytest.mark.kernel
def test_without_func_info_the_kernel_refuses_callbacks():
    """Why btf_gen exists: the same program with an empty func_info is rejected."""
    prog = _two_callbacks()
    with pytest.raises(LoaderError) as e:
        load(prog, func_info=[])
    assert "missing btf func_info" in e.value.log or "func_info" in e.value.log


@pytest.mark.kernel
def test_for_each_map_elem_callback():
    import ctypes

    b = Builder("xdp", name="foreach")
    vals = b.map("vals", "array", ctypes.c_uint32, ctypes.c_uint64, 4)
    b.store(R10 - 8, 0, "u64")
    b.ld_map(R1, vals).ld_func(R2, "sum_cb").mov(R3, R10).add(R3, -8).mov(R4, 0).call("for_each_map_elem")
    b.load(R0, R10 - 8, "u64").exit()
    with b.function("sum_cb"):  # (map, key *, value *, ctx *) -> 0 = continue
        b.load(R1, R3 + 0, "u64").load(R0, R4 + 0, "u64").add(R0, R1).store(R4 + 0, R0, "u64").ret(0)
    with load(b.build()) as p:
        for i in range(4):
            p.maps["vals"][i] = i * 10 + 1
        assert p.test_run(b"\0" * 64).retval == 1 + 11 + 21 + 31
