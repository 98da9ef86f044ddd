"""What the kernel says about its programs, maps and links (BPF_OBJ_GET_INFO_BY_FD, GET_NEXT_ID, GET_FD_BY_ID).

`prog_info(fd)` / `map_info(fd)` / `link_info(fd)` return frozen dataclasses with kernel field names; the
`*_infos()` generators walk every object alive in the kernel (what `pyebpf prog list` shows). run_cnt and
run_time_ns count only while statistics are on: `with stats_enabled(): ...` (BPF_ENABLE_STATS).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import time
from dataclasses import dataclass, field
from typing import Iterator

from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import BPF_OBJ_NAME_LEN, BpfLinkType
from pyebpf.errors import LoaderError, PyebpfError
from pyebpf.loader import syscall as sc
from pyebpf.loader.attr import bpf_btf_info, bpf_link_info, bpf_map_info, bpf_prog_info
from pyebpf.loader.fdguard import FdHandle


def _enum_name(enum: type, value: int) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return str(value)


def _boot_to_wall(ns_since_boot: int) -> int:
    """load_time is CLOCK_BOOTTIME ns; a Unix timestamp computed as bpftool's print_boot_time() does."""
    return (int(time.clock_gettime(time.CLOCK_REALTIME)) - int(time.clock_gettime(time.CLOCK_BOOTTIME))
            + ns_since_boot // 1_000_000_000)


@dataclass(frozen=True)
class ProgInfo:
    id: int
    type: int
    name: str
    tag: str
    gpl_compatible: bool
    load_time: int  # ns since boot
    created_by_uid: int
    map_ids: tuple[int, ...]
    xlated_prog_len: int
    jited_prog_len: int
    btf_id: int
    run_time_ns: int
    run_cnt: int
    recursion_misses: int
    verified_insns: int
    nr_func_info: int
    xlated_prog_insns: bytes = field(default=b"", repr=False)
    jited_prog_insns: bytes = field(default=b"", repr=False)
    jited_ksyms: tuple[int, ...] = ()
    jited_func_lens: tuple[int, ...] = ()
    memlock: int = 0  # from /proc/self/fdinfo, as bpftool reports it

    @property
    def type_name(self) -> str:
        return _enum_name(ProgType, self.type)

    @property
    def loaded_at(self) -> int:
        return _boot_to_wall(self.load_time)

    def as_json(self) -> dict:
        """The fields `bpftool prog show --json` prints, with its key names."""
        out: dict = {"id": self.id, "type": self.type_name, "name": self.name, "tag": self.tag,
                     "gpl_compatible": self.gpl_compatible}
        if self.run_time_ns:  # bpftool prints both only when run_time_ns is non-zero
            out["run_time_ns"] = self.run_time_ns
            out["run_cnt"] = self.run_cnt
        if self.recursion_misses:
            out["recursion_misses"] = self.recursion_misses
        out.update({"loaded_at": int(self.loaded_at), "uid": self.created_by_uid, "bytes_xlated": self.xlated_prog_len, "jited": bool(self.jited_prog_len)})
        if self.jited_prog_len:
            out["bytes_jited"] = self.jited_prog_len
        out["bytes_memlock"] = self.memlock
        if self.map_ids:
            out["map_ids"] = list(self.map_ids)
        if self.btf_id:
            out["btf_id"] = self.btf_id
        return out


def fdinfo(fd: int) -> dict[str, str]:
    """/proc/self/fdinfo/FD as a dict (memlock, frozen, prog_type, ... for BPF objects)."""
    out: dict[str, str] = {}
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep:
                    out[key.strip()] = value.strip()
    except OSError:
        pass
    return out


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def prog_info(fd: int, *, xlated: bool = False, jited: bool = False) -> ProgInfo:
    """Info of the program behind `fd`; with xlated/jited also its translated and JIT-compiled code."""
    info = bpf_prog_info()
    sc.obj_get_info_by_fd(fd, info)
    nmaps, xlen, jlen = info.nr_map_ids, info.xlated_prog_len, info.jited_prog_len
    nksyms, nlens = info.nr_jited_ksyms, info.nr_jited_func_lens
    map_ids: tuple[int, ...] = ()
    xbytes = jbytes = b""
    ksyms: tuple[int, ...] = ()
    lens: tuple[int, ...] = ()
    if nmaps or (xlated and xlen) or (jited and jlen):
        # second call with buffers for the arrays (the kernel fills only what we ask for)
        again = bpf_prog_info()
        ids = (ctypes.c_uint32 * max(nmaps, 1))()
        xbuf = ctypes.create_string_buffer(max(xlen, 1)) if xlated else None
        jbuf = ctypes.create_string_buffer(max(jlen, 1)) if jited else None
        kbuf = (ctypes.c_uint64 * max(nksyms, 1))() if jited else None
        lbuf = (ctypes.c_uint32 * max(nlens, 1))() if jited else None
        again.nr_map_ids, again.map_ids = nmaps, ctypes.addressof(ids)
        if xbuf is not None:
            again.xlated_prog_len, again.xlated_prog_insns = xlen, ctypes.addressof(xbuf)
        if jbuf is not None:
            again.jited_prog_len, again.jited_prog_insns = jlen, ctypes.addressof(jbuf)
            again.nr_jited_ksyms, again.jited_ksyms = nksyms, ctypes.addressof(kbuf)
            again.nr_jited_func_lens, again.jited_func_lens = nlens, ctypes.addressof(lbuf)
        sc.obj_get_info_by_fd(fd, again)
        map_ids = tuple(ids[i] for i in range(min(nmaps, again.nr_map_ids)))
        if xbuf is not None:
            xbytes = xbuf.raw[:again.xlated_prog_len]
        if jbuf is not None:
            jbytes = jbuf.raw[:again.jited_prog_len]
            ksyms = tuple(kbuf[i] for i in range(min(nksyms, again.nr_jited_ksyms)))
            lens = tuple(lbuf[i] for i in range(min(nlens, again.nr_jited_func_lens)))
    return ProgInfo(
        id=info.id, type=info.type, name=info.name.decode(errors="replace"), tag=bytes(info.tag).hex(),
        gpl_compatible=bool(info.gpl_compatible & 1), load_time=info.load_time,
        created_by_uid=info.created_by_uid, map_ids=map_ids, xlated_prog_len=xlen, jited_prog_len=jlen,
        btf_id=info.btf_id, run_time_ns=info.run_time_ns, run_cnt=info.run_cnt,
        recursion_misses=info.recursion_misses, verified_insns=info.verified_insns, nr_func_info=info.nr_func_info,
        xlated_prog_insns=xbytes, jited_prog_insns=jbytes, jited_ksyms=ksyms, jited_func_lens=lens,
        memlock=_int(fdinfo(fd).get("memlock")))


def prog_full_name(fd: int, info: ProgInfo) -> str:
    """The program's name as bpftool's get_prog_full_name gives it: a name the kernel cut at BPF_OBJ_NAME_LEN - 1
    characters is completed from the BTF FUNC of the program's first func_info record (when it has BTF)."""
    from pyebpf.abi.btf import BtfKind
    from pyebpf.btf.spec import Btf
    from pyebpf.loader.attr import bpf_func_info

    if len(info.name) < BPF_OBJ_NAME_LEN - 1 or not info.btf_id or not info.nr_func_info:
        return info.name
    rec = bpf_func_info()
    again = bpf_prog_info(nr_func_info=1, func_info_rec_size=ctypes.sizeof(rec), func_info=ctypes.addressof(rec))
    try:
        sc.obj_get_info_by_fd(fd, again)
        btf = Btf.parse(btf_bytes(info.btf_id), f"BTF of program {info.id}", validate=False)
        if btf.kind(rec.type_id) == BtfKind.FUNC and btf.name(rec.type_id):
            return btf.name(rec.type_id)
    except PyebpfError:  # BTF gone or unreadable: the kernel's name, as bpftool falls back to it
        pass
    return info.name


@dataclass(frozen=True)
class MapInfo:
    id: int
    type: int
    name: str
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    btf_id: int
    map_extra: int
    memlock: int = 0
    frozen: bool = False
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0

    @property
    def type_name(self) -> str:
        return _enum_name(MapType, self.type)

    def as_json(self) -> dict:
        out = {"id": self.id, "type": self.type_name, "name": self.name, "flags": self.map_flags,
               "bytes_key": self.key_size, "bytes_value": self.value_size, "max_entries": self.max_entries,
               "bytes_memlock": self.memlock, "frozen": int(self.frozen)}
        if self.btf_id:
            out["btf_id"] = self.btf_id
        return out


def map_info(fd: int) -> MapInfo:
    info = bpf_map_info()
    sc.obj_get_info_by_fd(fd, info)
    extra = fdinfo(fd)
    return MapInfo(info.id, info.type, info.name.decode(errors="replace"), info.key_size, info.value_size,
                   info.max_entries, info.map_flags, info.btf_id, info.map_extra, _int(extra.get("memlock")),
                   bool(_int(extra.get("frozen"))), info.btf_key_type_id, info.btf_value_type_id)


@dataclass(frozen=True)
class LinkInfo:
    id: int
    type: int
    prog_id: int
    detail: bytes = field(default=b"", repr=False)

    @property
    def type_name(self) -> str:
        return _enum_name(BpfLinkType, self.type)

    def as_json(self) -> dict:
        return {"id": self.id, "type": self.type_name, "prog_id": self.prog_id}


def link_info(fd: int) -> LinkInfo:
    info = bpf_link_info()
    sc.obj_get_info_by_fd(fd, info)
    return LinkInfo(info.id, info.type, info.prog_id, bytes(info.detail))


MAX_BTF_BYTES = 64 << 20  # a program's or map's BTF is KiBs; vmlinux's a few MiB


def btf_bytes(btf_id: int) -> bytes:
    """The raw BTF of kernel BTF object `btf_id` (a map's or program's btf_id), read with BPF_OBJ_GET_INFO_BY_FD."""
    with FdHandle(sc.get_fd_by_id("btf", btf_id)) as h:
        info = bpf_btf_info()
        sc.obj_get_info_by_fd(h.fd, info)
        size = info.btf_size
        if size > MAX_BTF_BYTES:
            raise LoaderError(f"BTF object {btf_id} is {size} bytes, more than we read ({MAX_BTF_BYTES})")
        buf = ctypes.create_string_buffer(size)
        info = bpf_btf_info(btf=ctypes.addressof(buf), btf_size=size)
        sc.obj_get_info_by_fd(h.fd, info)
        return buf.raw[:info.btf_size]


# ---- walking every object ---------------------------------------------------------------------------------------

def _infos(kind: str, getter):
    for obj_id in sc.iter_ids(kind):
        try:
            fd = sc.get_fd_by_id(kind, obj_id)
        except LoaderError:
            continue  # freed between GET_NEXT_ID and GET_FD_BY_ID
        try:
            yield getter(fd)
        finally:
            os.close(fd)


def prog_infos() -> Iterator[ProgInfo]:
    return _infos("prog", prog_info)


def map_infos() -> Iterator[MapInfo]:
    return _infos("map", map_info)


def link_infos() -> Iterator[LinkInfo]:
    return _infos("link", link_info)


def prog_info_by_id(prog_id: int, **kw) -> ProgInfo:
    with FdHandle(sc.get_fd_by_id("prog", prog_id)) as h:
        return prog_info(h.fd, **kw)


def map_info_by_id(map_id: int) -> MapInfo:
    with FdHandle(sc.get_fd_by_id("map", map_id)) as h:
        return map_info(h.fd)


def program_tag(program, algorithm: str = "sha256") -> str:
    """The tag the kernel gives `program` (bpf_prog_calc_tag): the first 8 bytes of a digest of the instructions
    with the immediates of map-fd / map-value lddw zeroed (both halves), so the tag does not depend on fds.
    Linux 6.18 uses SHA-256; kernels before the program-signing work used SHA-1 (algorithm="sha1")."""
    import hashlib

    from pyebpf.abi.opcodes import PseudoSrc
    from pyebpf.isa.program import Program

    if not isinstance(program, Program):
        program = Program.from_bytes(bytes(program), validate=False)
    insns = [insn._replace(imm=0, ref=None)
             if insn.is_lddw and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) else insn
             for insn in program.instructions]
    return hashlib.new(algorithm, program.replace_instructions(insns).to_bytes()).hexdigest()[:16]


@contextlib.contextmanager
def stats_enabled() -> Iterator[None]:
    """Count run_cnt / run_time_ns of every program while the block runs (BPF_ENABLE_STATS RUN_TIME)."""
    with FdHandle(sc.enable_stats()):
        yield


__all__ = ["ProgInfo", "MapInfo", "LinkInfo", "prog_info", "map_info", "link_info", "prog_infos", "map_infos",
           "link_infos", "btf_bytes", "program_tag", "prog_info_by_id", "map_info_by_id", "stats_enabled",
           "prog_full_name"]
