"""A thin, typed wrapper of bpf(2) through ctypes.

`bpf(cmd, attr)` is the one place the syscall is made; every other function here fills one `union bpf_attr` piece
(pyebpf.loader.attr) and returns plain Python values. Failures raise `LoaderError` carrying the errno (and its name);
map element operations raise `KernelMapError`, which is both a `MapError` (so the dict-like face can turn ENOENT into
KeyError) and a `LoaderError`. Functions returning a new fd leave closing it to the caller (see fdguard).
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import resource
from typing import Sequence

from pyebpf.abi.uapi import BpfCmd
from pyebpf.errors import LoaderError, MapError, PyebpfError
from pyebpf.loader import attr as A

#: __NR_bpf per machine (arch/*/include/uapi/asm/unistd*.h; asm-generic is 280).
SYS_BPF_BY_ARCH = {
    "x86_64": 321, "i386": 357, "i686": 357, "aarch64": 280, "arm64": 280, "riscv64": 280, "loongarch64": 280,
    "s390x": 351, "ppc64le": 361, "ppc64": 361, "armv7l": 386, "mips64": 5315,
}


class KernelMapError(MapError, LoaderError):
    """A map syscall failed; catchable as MapError (dict face) or LoaderError (loader code)."""

    def __init__(self, message: str, errno: int):
        self.message = message
        self.errno = errno
        self.log = ""
        internal = KERNEL_INTERNAL_ERRNOS.get(errno)
        if internal:  # libc has no name for these ("Unknown error 524"): the kernel's, unless bpf() added it
            named = f"{internal[0]} ({internal[1]})"
            text = message if message.endswith(named) else f"{message}: {named}"
        else:
            text = f"{message}: {_errno.errorcode.get(errno, errno)} ({os.strerror(errno)})"
        PyebpfError.__init__(self, text)


#: Kernel-internal errnos that leak to user space through bpf() (include/linux/errno.h), with what they mean here.
KERNEL_INTERNAL_ERRNOS = {
    512: ("ERESTARTSYS", "interrupted"),
    524: ("ENOTSUPP", "not supported for this program or map type"),
    525: ("ETOOSMALL", "buffer too small"),
}


class BpfStatsType:
    """enum bpf_stats_type."""

    RUN_TIME = 0


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_long]  # every use is bpf(2)


def sys_bpf_number(machine: str | None = None) -> int:
    machine = machine or os.uname().machine  # what platform.machine() returns, without importing platform
    try:
        return SYS_BPF_BY_ARCH[machine]
    except KeyError:
        raise LoaderError(f"no bpf() syscall number known for machine {machine!r}") from None


_NR_BPF: int | None = None
_MEMLOCK_CHARGED = frozenset({BpfCmd.MAP_CREATE, BpfCmd.PROG_LOAD, BpfCmd.BTF_LOAD})
_memlock_bumped = False


def _bump_memlock_rlimit() -> bool:
    """Raise RLIMIT_MEMLOCK to infinity the first time a memory-charging command fails with EPERM.

    Before 5.11 (memcg accounting of BPF memory) map, program and BTF memory counted against RLIMIT_MEMLOCK,
    whose default (64 KiB or 8 MiB) refuses all but tiny maps with EPERM; libbpf's bump_rlimit_memlock() raises it.
    Returns True when the limit was raised now, so the caller retries once; a second EPERM is a real one.
    """
    global _memlock_bumped
    if _memlock_bumped:
        return False
    _memlock_bumped = True
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        if soft == resource.RLIM_INFINITY:
            return False
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError):
        return False  # not permitted (no CAP_SYS_RESOURCE): the EPERM stands
    return True


def bpf(cmd: BpfCmd | int, attr: ctypes.Structure, what: str | None = None,
        error: type[LoaderError] = LoaderError) -> int:
    """bpf(cmd, &attr, sizeof(attr)); returns the result (an fd or 0) or raises `error` with the errno."""
    global _NR_BPF
    if _NR_BPF is None:
        _NR_BPF = sys_bpf_number()
    while True:
        ret = _syscall(_NR_BPF, int(cmd), ctypes.byref(attr), ctypes.sizeof(attr))
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err == _errno.EINTR:
            continue
        if err == _errno.EPERM and cmd in _MEMLOCK_CHARGED and _bump_memlock_rlimit():
            continue  # kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK: raised once, as libbpf does
        name = what or f"bpf({BpfCmd(cmd).name})"
        internal = KERNEL_INTERNAL_ERRNOS.get(err)
        if internal:  # errno values from include/linux/errno.h that libc has no name for
            name = f"{name}: {internal[0]} ({internal[1]})"
        raise error(name, err)


def _addr(buf: object | None) -> int:
    return 0 if buf is None else ctypes.addressof(buf)  # type: ignore[arg-type]


def _cbuf(data: bytes) -> ctypes.Array:
    return ctypes.create_string_buffer(bytes(data), max(len(data), 1))


# ---- maps ------------------------------------------------------------------------------------------------------

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, flags: int = 0, name: str = "",
               inner_map_fd: int = 0, numa_node: int = 0, ifindex: int = 0, btf_fd: int = 0,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0, btf_vmlinux_value_type_id: int = 0,
               map_extra: int = 0) -> int:
    a = A.bpf_map_create_attr(map_type=map_type, key_size=key_size, value_size=value_size,
                              max_entries=max_entries, map_flags=flags, inner_map_fd=inner_map_fd,
                              numa_node=numa_node, map_name=obj_name(name), map_ifindex=ifindex, btf_fd=btf_fd,
                              btf_key_type_id=btf_key_type_id, btf_value_type_id=btf_value_type_id,
                              btf_vmlinux_value_type_id=btf_vmlinux_value_type_id, map_extra=map_extra)
    return bpf(BpfCmd.MAP_CREATE, a, f"creating map {name!r}", error=KernelMapError)


def _elem(cmd: BpfCmd, fd: int, key: ctypes.Array | None, value: ctypes.Array | None, flags: int, what: str) -> int:
    a = A.bpf_map_elem_attr(map_fd=fd, key=_addr(key), value=_addr(value), flags=flags)
    return bpf(cmd, a, what, error=KernelMapError)


def map_lookup_elem(fd: int, key: bytes, value_size: int, flags: int = 0) -> bytes | None:
    """Value bytes, or None when the key is absent (ENOENT)."""
    k = _cbuf(key) if key else None
    v = ctypes.create_string_buffer(max(value_size, 1))
    try:
        _elem(BpfCmd.MAP_LOOKUP_ELEM, fd, k, v, flags, "map lookup")
    except KernelMapError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return v.raw[:value_size]


def map_update_elem(fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    _elem(BpfCmd.MAP_UPDATE_ELEM, fd, _cbuf(key) if key else None, _cbuf(value), flags, "map update")


def map_delete_elem(fd: int, key: bytes) -> None:
    _elem(BpfCmd.MAP_DELETE_ELEM, fd, _cbuf(key), None, 0, "map delete")


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """Key after `key` (the first key when `key` is None); None at the end."""
    nxt = ctypes.create_string_buffer(max(key_size, 1))
    try:
        _elem(BpfCmd.MAP_GET_NEXT_KEY, fd, None if key is None else _cbuf(key), nxt, 0, "map get_next_key")
    except KernelMapError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return nxt.raw[:key_size]


def map_lookup_and_delete_elem(fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes | None:
    """Pop (queue/stack: key None) or lookup-and-delete (hash); None when empty/absent."""
    v = ctypes.create_string_buffer(max(value_size, 1))
    try:
        _elem(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, fd, _cbuf(key) if key else None, v, flags,
              "map lookup_and_delete")
    except KernelMapError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return v.raw[:value_size]


class MapElemOps:
    """Per-map element operations with preallocated attr and buffers: one memmove and one syscall per call.

    The generic functions above allocate fresh buffers each call; a KernelMap doing thousands of lookups uses this
    instead (about twice as fast). A lock keeps concurrent threads from sharing the buffers mid-call.
    """

    __slots__ = ("key_size", "value_size", "_attr", "_key", "_next", "_value", "_ref", "_lock", "_nr")

    def __init__(self, fd: int, key_size: int, value_size: int):
        import threading

        self.key_size, self.value_size = key_size, value_size
        self._key = ctypes.create_string_buffer(max(key_size, 1))
        self._next = ctypes.create_string_buffer(max(key_size, 1))
        self._value = ctypes.create_string_buffer(max(value_size, 1))
        self._attr = A.bpf_map_elem_attr(map_fd=fd)
        self._ref = ctypes.byref(self._attr)
        self._lock = threading.Lock()
        global _NR_BPF
        if _NR_BPF is None:
            _NR_BPF = sys_bpf_number()
        self._nr = _NR_BPF

    def _call(self, cmd: int, what: str) -> int:
        ret = _syscall(self._nr, cmd, self._ref, ctypes.sizeof(self._attr))
        if ret < 0:
            err = ctypes.get_errno()
            if err == _errno.EINTR:
                return self._call(cmd, what)
            return -err
        return ret

    def _set(self, key: bytes | None, value_addr: int, flags: int) -> None:
        a = self._attr
        if key:
            ctypes.memmove(self._key, key, self.key_size)
            a.key = ctypes.addressof(self._key)
        else:
            a.key = 0
        a.value = value_addr
        a.flags = flags

    def lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        with self._lock:
            self._set(key, ctypes.addressof(self._value), flags)
            err = self._call(BpfCmd.MAP_LOOKUP_ELEM, "map lookup")
            if err == 0:
                return self._value.raw[:self.value_size]
        if err == -_errno.ENOENT:
            return None
        raise KernelMapError("map lookup", -err)

    def lookup_value(self, value: bytes) -> bool:
        """Bloom filter membership: lookup with a NULL key and the value as input (ENOENT: surely absent)."""
        with self._lock:
            ctypes.memmove(self._value, value, min(len(value), self.value_size))
            self._set(None, ctypes.addressof(self._value), 0)
            err = self._call(BpfCmd.MAP_LOOKUP_ELEM, "map lookup")
        if err == -_errno.ENOENT:
            return False
        if err:
            raise KernelMapError("map lookup", -err)
        return True

    def update(self, key: bytes | None, value: bytes, flags: int = 0) -> None:
        with self._lock:
            ctypes.memmove(self._value, value, min(len(value), self.value_size))
            self._set(key, ctypes.addressof(self._value), flags)
            err = self._call(BpfCmd.MAP_UPDATE_ELEM, "map update")
        if err:
            raise KernelMapError("map update", -err)

    def delete(self, key: bytes) -> None:
        with self._lock:
            self._set(key, 0, 0)
            err = self._call(BpfCmd.MAP_DELETE_ELEM, "map delete")
        if err:
            raise KernelMapError("map delete", -err)

    def next_key(self, key: bytes | None) -> bytes | None:
        with self._lock:
            self._set(key, ctypes.addressof(self._next), 0)
            err = self._call(BpfCmd.MAP_GET_NEXT_KEY, "map get_next_key")
            if err == 0:
                return self._next.raw[:self.key_size]
        if err == -_errno.ENOENT:
            return None
        raise KernelMapError("map get_next_key", -err)


def map_freeze(fd: int) -> None:
    bpf(BpfCmd.MAP_FREEZE, A.bpf_map_elem_attr(map_fd=fd), "map freeze", error=KernelMapError)


def map_lookup_batch(fd: int, key_size: int, value_size: int, count: int, in_batch: bytes | None,
                     batch_key_size: int, delete: bool = False, elem_flags: int = 0
                     ) -> tuple[list[bytes], list[bytes], bytes | None]:
    """One BPF_MAP_LOOKUP[_AND_DELETE]_BATCH call: (keys, values, next batch token or None when done).

    `value_size` is the per-element stride (all CPUs for per-CPU maps). The batch token of hash maps is a bucket
    index (4 bytes), of arrays a key; `batch_key_size` is the larger of the two.
    """
    keys = ctypes.create_string_buffer(max(key_size * count, 1))
    values = ctypes.create_string_buffer(max(value_size * count, 1))
    out_batch = ctypes.create_string_buffer(max(batch_key_size, 1))
    in_buf = None if in_batch is None else _cbuf(in_batch)
    a = A.bpf_map_batch_attr(in_batch=_addr(in_buf), out_batch=_addr(out_batch), keys=_addr(keys),
                             values=_addr(values), count=count, map_fd=fd, elem_flags=elem_flags)
    cmd = BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else BpfCmd.MAP_LOOKUP_BATCH
    done = False
    try:
        bpf(cmd, a, "map lookup_batch", error=KernelMapError)
    except KernelMapError as e:
        if e.errno != _errno.ENOENT:
            raise
        done = True  # ENOENT: the last (possibly partial) batch
    n = a.count
    ks = [keys.raw[i * key_size:(i + 1) * key_size] for i in range(n)]
    vs = [values.raw[i * value_size:(i + 1) * value_size] for i in range(n)]
    return ks, vs, None if done else out_batch.raw[:batch_key_size]


def map_update_batch(fd: int, keys: Sequence[bytes], values: Sequence[bytes], elem_flags: int = 0) -> int:
    """Returns how many elements were updated; on failure raises with the errno (the count done is in .count)."""
    kb, vb = _cbuf(b"".join(keys)), _cbuf(b"".join(values))
    a = A.bpf_map_batch_attr(keys=_addr(kb), values=_addr(vb), count=len(keys), map_fd=fd, elem_flags=elem_flags)
    try:
        bpf(BpfCmd.MAP_UPDATE_BATCH, a, "map update_batch", error=KernelMapError)
    except KernelMapError as e:
        e.count = a.count  # type: ignore[attr-defined]
        raise
    return a.count


def map_delete_batch(fd: int, keys: Sequence[bytes], elem_flags: int = 0) -> int:
    kb = _cbuf(b"".join(keys))
    a = A.bpf_map_batch_attr(keys=_addr(kb), count=len(keys), map_fd=fd, elem_flags=elem_flags)
    try:
        bpf(BpfCmd.MAP_DELETE_BATCH, a, "map delete_batch", error=KernelMapError)
    except KernelMapError as e:
        e.count = a.count  # type: ignore[attr-defined]
        raise
    return a.count


# ---- programs --------------------------------------------------------------------------------------------------

def prog_load(attr: A.bpf_prog_load_attr) -> int:
    """Raw BPF_PROG_LOAD (pyebpf.loader.program.load builds the attr, sizes the log and retries)."""
    return bpf(BpfCmd.PROG_LOAD, attr, "loading program")


def prog_test_run(attr: A.bpf_test_run_attr) -> None:
    bpf(BpfCmd.PROG_TEST_RUN, attr, "BPF_PROG_TEST_RUN")


def prog_attach(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0, replace_fd: int = 0) -> None:
    a = A.bpf_prog_attach_attr(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type,
                               attach_flags=flags, replace_bpf_fd=replace_fd)
    bpf(BpfCmd.PROG_ATTACH, a, "BPF_PROG_ATTACH")


def prog_detach(prog_fd: int, target_fd: int, attach_type: int) -> None:
    a = A.bpf_prog_attach_attr(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type)
    bpf(BpfCmd.PROG_DETACH, a, "BPF_PROG_DETACH")


def prog_query(target_fd: int, attach_type: int, max_count: int = 64, link_ids: bool = False
               ) -> tuple[list[int], list[int], int]:
    """BPF_PROG_QUERY on a target (cgroup or netns fd, or an ifindex for tcx): (prog ids, link ids — 0 for a
    program attached without a link —, revision). `link_ids` asks for the link ids too, which only kernels with
    tcx (Linux 6.6+) accept (older ones refuse the longer attribute with EINVAL); without it they are all 0."""
    progs, links, revision, _ = prog_query_flags(target_fd, attach_type, max_count, link_ids)
    return progs, links, revision


def prog_query_flags(target_fd: int, attach_type: int, max_count: int = 64, link_ids: bool = False
                     ) -> tuple[list[int], list[int], int, int]:
    """prog_query, plus the attach_flags of the hook (BPF_F_ALLOW_MULTI / _OVERRIDE, for a cgroup hook)."""
    progs = (ctypes.c_uint32 * max_count)()
    links = (ctypes.c_uint32 * max_count)()
    a = A.bpf_prog_query_attr(target_fd=target_fd, attach_type=attach_type, prog_ids=ctypes.addressof(progs),
                              prog_cnt=max_count, link_ids=ctypes.addressof(links) if link_ids else 0)
    bpf(BpfCmd.PROG_QUERY, a, "BPF_PROG_QUERY")
    n = min(a.prog_cnt, max_count)
    return list(progs[:n]), list(links[:n]), int(a.revision), int(a.attach_flags)


def prog_bind_map(prog_fd: int, map_fd: int) -> None:
    bpf(BpfCmd.PROG_BIND_MAP, A.bpf_prog_bind_map_attr(prog_fd=prog_fd, map_fd=map_fd), "BPF_PROG_BIND_MAP")


def raw_tracepoint_open(name: str | None, prog_fd: int, cookie: int = 0) -> int:
    buf = None if name is None else ctypes.create_string_buffer(name.encode())
    a = A.bpf_raw_tracepoint_attr(name=_addr(buf), prog_fd=prog_fd, cookie=cookie)
    return bpf(BpfCmd.RAW_TRACEPOINT_OPEN, a, f"BPF_RAW_TRACEPOINT_OPEN {name!r}")


# ---- objects: pin, ids, info -----------------------------------------------------------------------------------

def obj_pin(fd: int, path: str) -> None:
    p = ctypes.create_string_buffer(os.fsencode(path))
    bpf(BpfCmd.OBJ_PIN, A.bpf_obj_attr(pathname=_addr(p), bpf_fd=fd), f"pinning at {path}")


def obj_get(path: str, flags: int = 0) -> int:
    p = ctypes.create_string_buffer(os.fsencode(path))
    return bpf(BpfCmd.OBJ_GET, A.bpf_obj_attr(pathname=_addr(p), file_flags=flags), f"opening pinned {path}")


_NEXT_ID = {"prog": BpfCmd.PROG_GET_NEXT_ID, "map": BpfCmd.MAP_GET_NEXT_ID, "link": BpfCmd.LINK_GET_NEXT_ID,
            "btf": BpfCmd.BTF_GET_NEXT_ID}
_FD_BY_ID = {"prog": BpfCmd.PROG_GET_FD_BY_ID, "map": BpfCmd.MAP_GET_FD_BY_ID, "link": BpfCmd.LINK_GET_FD_BY_ID,
             "btf": BpfCmd.BTF_GET_FD_BY_ID}


def get_next_id(kind: str, start_id: int = 0) -> int | None:
    """Next id of a `kind` ('prog', 'map', 'link', 'btf') object after start_id; None at the end."""
    a = A.bpf_get_id_attr(start_id=start_id)
    try:
        bpf(_NEXT_ID[kind], a, f"BPF_{kind.upper()}_GET_NEXT_ID")
    except LoaderError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return a.next_id


def iter_ids(kind: str):
    """Every id of `kind` objects alive in the kernel, ascending."""
    current = 0
    while (current := get_next_id(kind, current)) is not None:
        yield current


def get_fd_by_id(kind: str, obj_id: int, open_flags: int = 0) -> int:
    a = A.bpf_get_id_attr(start_id=obj_id, open_flags=open_flags)
    return bpf(_FD_BY_ID[kind], a, f"opening {kind} id {obj_id}")


def obj_get_info_by_fd(fd: int, info: ctypes.Structure) -> int:
    """Fill `info` (bpf_prog_info / bpf_map_info / ...); returns the info_len the kernel wrote."""
    a = A.bpf_info_attr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    bpf(BpfCmd.OBJ_GET_INFO_BY_FD, a, "BPF_OBJ_GET_INFO_BY_FD")
    return a.info_len


# ---- links, stats, BTF -----------------------------------------------------------------------------------------

def link_create(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0, extra: bytes = b"") -> int:
    """BPF_LINK_CREATE; `extra` fills the per-attach-type union (target_btf_id, perf_event.bpf_cookie, tcx...)."""
    a = A.bpf_link_create_attr(prog_fd=prog_fd, target_fd=target_fd, attach_type=attach_type, flags=flags)
    if len(extra) > ctypes.sizeof(a.extra):
        raise LoaderError(f"link_create extra is {len(extra)} bytes, at most {ctypes.sizeof(a.extra)}")
    ctypes.memmove(a.extra, extra, len(extra))
    return bpf(BpfCmd.LINK_CREATE, a, "BPF_LINK_CREATE")


def link_update(link_fd: int, new_prog_fd: int, flags: int = 0, old_prog_fd: int = 0) -> None:
    a = A.bpf_link_update_attr(link_fd=link_fd, new_prog_fd=new_prog_fd, flags=flags, old_prog_fd=old_prog_fd)
    bpf(BpfCmd.LINK_UPDATE, a, "BPF_LINK_UPDATE")


def link_detach(link_fd: int) -> None:
    bpf(BpfCmd.LINK_DETACH, A.bpf_link_detach_attr(link_fd=link_fd), "BPF_LINK_DETACH")


def enable_stats(stats_type: int = BpfStatsType.RUN_TIME) -> int:
    """BPF_ENABLE_STATS: run_cnt/run_time_ns are counted while the returned fd stays open."""
    return bpf(BpfCmd.ENABLE_STATS, A.bpf_enable_stats_attr(type=stats_type), "BPF_ENABLE_STATS")


def btf_load(blob: bytes, log_level: int = 0, log_size: int = 0) -> tuple[int, str]:
    """BPF_BTF_LOAD; returns (fd, log). A failure raises LoaderError with the BTF verifier's log attached."""
    data = _cbuf(blob)
    size = log_size or (1 << 16)
    for attempt in range(2):
        log = ctypes.create_string_buffer(size)
        a = A.bpf_btf_load_attr(btf=_addr(data), btf_size=len(blob), btf_log_buf=_addr(log), btf_log_size=size,
                                btf_log_level=log_level)
        try:
            fd = bpf(BpfCmd.BTF_LOAD, a, "loading BTF")
            return fd, log.value.decode(errors="replace")
        except LoaderError as e:
            if log_level == 0 and attempt == 0:
                log_level = 1  # ask the kernel why
                continue
            e.log = log.value.decode(errors="replace")
            e.args = (f"{e.args[0]}\n{e.log.rstrip()}" if e.log else e.args[0],)
            raise
    raise AssertionError("unreachable")


def obj_name(name: str) -> bytes:
    """A name as the kernel accepts it in prog_name/map_name: at most 15 chars of [A-Za-z0-9_.]."""
    cleaned = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
    return cleaned.encode("ascii", "replace")[:15]


def bpf_fd_kind(fd: int) -> str | None:
    """'prog', 'map', 'link', 'btf' (or None) for an fd, from the anon inode name in /proc/self/fd."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    kind = _ANON_INODE_KINDS.get(target)
    if kind is None and target.startswith("anon_inode:"):
        try:  # fall back on the fdinfo keys each object type prints
            with open(f"/proc/self/fdinfo/{fd}") as f:
                text = f.read()
        except OSError:
            return None
        for key, name in (("link_type:", "link"), ("prog_type:", "prog"), ("map_type:", "map")):
            if key in text:
                return name
    return kind


#: anon inode names (kernel/bpf/syscall.c): links made by the kernel are "bpf_link", reopened ones "bpf-link"
_ANON_INODE_KINDS = {"anon_inode:bpf-prog": "prog", "anon_inode:bpf-map": "map", "anon_inode:bpf_link": "link",
                     "anon_inode:bpf-link": "link", "anon_inode:btf": "btf"}


__all__ = [
    "bpf", "KernelMapError", "BpfStatsType", "sys_bpf_number", "SYS_BPF_BY_ARCH", "map_create", "map_lookup_elem",
    "MapElemOps", "map_update_elem", "map_delete_elem", "map_get_next_key", "map_lookup_and_delete_elem", "map_freeze",
    "map_lookup_batch", "map_update_batch", "map_delete_batch", "prog_load", "prog_test_run", "prog_attach",
    "prog_detach", "prog_bind_map", "raw_tracepoint_open", "obj_pin", "obj_get", "get_next_id", "iter_ids",
    "get_fd_by_id", "obj_get_info_by_fd", "link_create", "link_update", "link_detach", "enable_stats", "btf_load",
    "obj_name", "bpf_fd_kind",
]
