"""BPF helper functions for the VM, with the kernel's argument checks and return values.

Each helper is `fn(m: Machine, r1, r2, r3, r4, r5) -> int` (r0; the engine masks it to 64 bits). Errors a kernel
helper returns to the program are negative errnos here too; misuse the verifier would have rejected (a map handle
that is not a map, an out-of-bounds buffer) is a VmError from the memory layer or from `m.map_from_handle`.
The state helpers read (time, pid, comm, cpu, random numbers, probe-able memory, stacks) is `m.env`, an
`pyebpf.vm.env.Environment`; what they emit (printk lines, perf and ring buffer records) goes to `m.output`.

`DEFAULT_HELPERS` maps HelperId -> function for every helper the VM implements; `resolve_helper(name_or_id)`
finds one by kernel name ('bpf_map_lookup_elem'), short name or number, and raises a VmError naming the helper
when the VM does not implement it.
"""
from __future__ import annotations

import errno
import struct
from typing import Any, Callable

from pyebpf.abi.helpers import HELPER_BY_NAME, HelperId, helper_name
from pyebpf.abi.widths import s32 as _s32
from pyebpf.abi.maps import MapType
from pyebpf.abi.uapi import BPF_F_CTXLEN_MASK, BPF_F_INDEX_MASK, BPF_MAX_LOOPS, HelperFlags, TcAction, XdpAction
from pyebpf.errors import MapError, VmError
from pyebpf.vm import printk

M64 = (1 << 64) - 1
TASK_COMM_LEN = 16
BPF_F_INGRESS = 1

Helper = Callable[..., int]
DEFAULT_HELPERS: dict[int, Helper] = {}


def _neg(code: int) -> int:
    return (-code) & M64


def helper(hid: HelperId) -> Callable[[Helper], Helper]:
    def register(fn: Helper) -> Helper:
        DEFAULT_HELPERS[int(hid)] = fn
        fn.helper_id = hid  # type: ignore[attr-defined]
        return fn
    return register


def _cpu(m: Any) -> int:
    return m.env.cpu if m.env is not None else 0


def _map(m: Any, handle: int) -> Any:
    return m.map_from_handle(handle)


def _map_cpu(m: Any, vmmap: Any) -> int:
    """The current CPU, checked against the CPUs the map was created for (per-CPU values, LRU lists)."""
    cpu = _cpu(m)
    if cpu >= vmmap.ncpus:
        raise VmError(f"env.cpu is {cpu} but map {vmmap.name!r} has {vmmap.ncpus} CPU(s): create the VM with "
                      f"ncpus > {cpu}", pc=m.pc)
    return cpu




# ---- maps ------------------------------------------------------------------------------------------------------

@helper(HelperId.MAP_LOOKUP_ELEM)
def map_lookup_elem(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r1)
    key = m.mem.read(r2, vmmap.spec.key_size)
    if vmmap.spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):  # the inner map, to look up in next
        inner = vmmap.inner_map(key)
        return 0 if inner is None else m.map_handle(inner)
    try:
        buf = vmmap.value_ref(key, _map_cpu(m, vmmap))
    except MapError as e:
        raise VmError(f"bpf_map_lookup_elem on {vmmap.spec.type.name} map {vmmap.name!r}: {e.message}", pc=m.pc)
    return 0 if buf is None else m.value_address(vmmap, buf)


@helper(HelperId.MAP_UPDATE_ELEM)
def map_update_elem(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r1)
    spec = vmmap.spec
    if spec.type in (MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.STACK_TRACE, MapType.RINGBUF):
        raise VmError(f"bpf_map_update_elem on a {spec.type.name} map is refused by the verifier", pc=m.pc)
    key = m.mem.read(r2, spec.key_size)
    value = m.mem.read(r3, spec.value_size)
    return vmmap.prog_update(key, value, r4 & M64, _map_cpu(m, vmmap)) & M64


@helper(HelperId.MAP_DELETE_ELEM)
def map_delete_elem(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r1)
    key = m.mem.read(r2, vmmap.spec.key_size)
    return vmmap.prog_delete(key, _map_cpu(m, vmmap)) & M64


@helper(HelperId.MAP_PUSH_ELEM)
def map_push_elem(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r1)
    value = m.mem.read(r2, vmmap.spec.value_size)
    return vmmap.prog_push(value, r3 & M64, _map_cpu(m, vmmap)) & M64


def _pop(m, r1, r2, peek: bool) -> int:
    vmmap = _map(m, r1)
    got = vmmap.prog_pop(peek, _map_cpu(m, vmmap))
    if isinstance(got, int):
        return got & M64
    m.mem.write(r2, got)
    return 0


@helper(HelperId.MAP_POP_ELEM)
def map_pop_elem(m, r1, r2, r3, r4, r5):
    return _pop(m, r1, r2, False)


@helper(HelperId.MAP_PEEK_ELEM)
def map_peek_elem(m, r1, r2, r3, r4, r5):
    return _pop(m, r1, r2, True)


@helper(HelperId.FOR_EACH_MAP_ELEM)
def for_each_map_elem(m, r1, r2, r3, r4, r5):
    """bpf_for_each_map_elem(map, callback(map, key*, value*, ctx), ctx, flags): elements visited."""
    vmmap = _map(m, r1)
    if r4:
        return _neg(errno.EINVAL)
    cpu = _map_cpu(m, vmmap)
    key_region = m.map_run_region(bytearray(vmmap.spec.key_size), f"key of {vmmap.name}", False, "mem")
    visited = 0
    for key in list(vmmap.keys_raw()):
        buf = vmmap.iter_value_ref(key, cpu)
        if buf is None:  # deleted by an earlier callback
            continue
        key_region.data[:] = key
        visited += 1
        ret = m.call_function(r2, r1, key_region.base, m.value_address(vmmap, buf), r3, 0)
        if ret & M64:
            break
    return visited


# ---- time, identity, randomness -----------------------------------------------------------------------------------

@helper(HelperId.KTIME_GET_NS)
def ktime_get_ns(m, *_):
    return m.env.ktime_ns()


@helper(HelperId.KTIME_GET_BOOT_NS)
def ktime_get_boot_ns(m, *_):
    return m.env.boot_ns()


@helper(HelperId.KTIME_GET_COARSE_NS)
def ktime_get_coarse_ns(m, *_):
    return m.env.coarse_ns()


@helper(HelperId.KTIME_GET_TAI_NS)
def ktime_get_tai_ns(m, *_):
    return m.env.boot_ns()


@helper(HelperId.JIFFIES64)
def jiffies64(m, *_):
    return m.env.jiffies64()


@helper(HelperId.GET_PRANDOM_U32)
def get_prandom_u32(m, *_):
    return m.env.prandom_u32()


@helper(HelperId.GET_SMP_PROCESSOR_ID)
def get_smp_processor_id(m, *_):
    return _cpu(m)


@helper(HelperId.GET_NUMA_NODE_ID)
def get_numa_node_id(m, *_):
    return m.env.numa_node


@helper(HelperId.GET_CURRENT_PID_TGID)
def get_current_pid_tgid(m, *_):
    return m.env.pid_tgid()


@helper(HelperId.GET_CURRENT_UID_GID)
def get_current_uid_gid(m, *_):
    return m.env.uid_gid()


@helper(HelperId.GET_CURRENT_COMM)
def get_current_comm(m, r1, r2, r3, r4, r5):
    """strscpy_pad(buf, comm, size): at most size-1 bytes of the (15-byte) comm, NUL-padded."""
    size = r2 & 0xFFFFFFFF
    comm = bytes(m.env.comm)[:TASK_COMM_LEN - 1].split(b"\0", 1)[0]
    if size:
        m.mem.write(r1, comm[:size - 1].ljust(size, b"\0"))
    return 0


@helper(HelperId.GET_CURRENT_TASK)
def get_current_task(m, *_):
    return m.env.current_task


@helper(HelperId.GET_CURRENT_CGROUP_ID)
def get_current_cgroup_id(m, *_):
    return m.env.cgroup_id


@helper(HelperId.GET_FUNC_IP)
def get_func_ip(m, *_):
    return m.env.func_ip


@helper(HelperId.GET_ATTACH_COOKIE)
def get_attach_cookie(m, *_):
    return m.env.attach_cookie


@helper(HelperId.GET_SOCKET_COOKIE)
def get_socket_cookie(m, *_):
    return m.env.socket_cookie


@helper(HelperId.GET_SOCKET_UID)
def get_socket_uid(m, *_):
    return m.env.socket_uid


@helper(HelperId.GET_HASH_RECALC)
def get_hash_recalc(m, *_):
    return m.env.hash_recalc


# ---- probe_read ---------------------------------------------------------------------------------------------------

def _probe_read(m, dst: int, size: int, src: int, user: bool) -> int:
    """The VM's own memory (stack, map values, context) counts as kernel memory, as it is in the kernel."""
    size &= 0xFFFFFFFF
    env = m.env
    if user:
        data = env.read_user(src, size)
    else:
        data = _vm_bytes(m, src, size)
        if data is None:
            data = env.read_kernel(src, size)
    if data is None:
        m.mem.write(dst, bytes(size))
        return _neg(errno.ERANGE if not user and env.is_user_address(src) else errno.EFAULT)
    m.mem.write(dst, data)
    return 0


def _vm_bytes(m, addr: int, size: int) -> bytes | None:
    """Bytes of the VM's own memory (stack, map values, context: kernel memory in the real thing), or None."""
    try:
        return m.mem.read(addr, size)
    except VmError:
        return None


def _vm_cstr(m, addr: int, limit: int) -> bytes | None:
    try:
        region = m.mem.check(addr, 1)
    except VmError:
        return None
    o = addr - region.base
    chunk = bytes(region.data[o:o + limit])
    nul = chunk.find(b"\0")
    if nul >= 0:
        return chunk[:nul + 1]
    return chunk if len(chunk) >= limit else None  # ran off the region: a fault


def _read_cstr(m, addr: int, limit: int, user: bool) -> bytes | None:
    """Up to `limit` bytes including a NUL (or exactly `limit` bytes when no NUL is within them); None on fault."""
    env = m.env
    if user:
        chunk = env.read_user_upto(addr, limit)
    else:
        vm = _vm_cstr(m, addr, limit)
        if vm is not None:
            return vm
        chunk = env.read_kernel_upto(addr, limit)
    nul = chunk.find(b"\0")
    if nul >= 0:
        return chunk[:nul + 1]
    return chunk if len(chunk) >= limit else None


def _probe_read_str(m, dst: int, size: int, src: int, user: bool) -> int:
    size &= 0xFFFFFFFF
    if size == 0:
        return 0
    got = _read_cstr(m, src, size, user)
    if got is None:
        m.mem.write(dst, bytes(size))
        return _neg(errno.ERANGE if not user and m.env.is_user_address(src) else errno.EFAULT)
    if not got.endswith(b"\0"):  # truncated: the last byte becomes the NUL
        got = got[:size - 1] + b"\0"
    m.mem.write(dst, got)  # the rest of dst is left as it was (the kernel does not pad)
    return len(got)


@helper(HelperId.PROBE_READ_KERNEL)
def probe_read_kernel(m, r1, r2, r3, r4, r5):
    return _probe_read(m, r1, r2, r3, user=False)


@helper(HelperId.PROBE_READ_USER)
def probe_read_user(m, r1, r2, r3, r4, r5):
    return _probe_read(m, r1, r2, r3, user=True)


@helper(HelperId.PROBE_READ)
def probe_read(m, r1, r2, r3, r4, r5):
    """x86-64's bpf_probe_read_compat: user addresses are read as user memory, others as kernel memory."""
    user = m.env.is_user_address(r3) and _vm_bytes(m, r3, r2 & 0xFFFFFFFF) is None
    return _probe_read(m, r1, r2, r3, user=user)


@helper(HelperId.PROBE_READ_KERNEL_STR)
def probe_read_kernel_str(m, r1, r2, r3, r4, r5):
    return _probe_read_str(m, r1, r2, r3, user=False)


@helper(HelperId.PROBE_READ_USER_STR)
def probe_read_user_str(m, r1, r2, r3, r4, r5):
    return _probe_read_str(m, r1, r2, r3, user=True)


@helper(HelperId.PROBE_READ_STR)
def probe_read_str(m, r1, r2, r3, r4, r5):
    user = m.env.is_user_address(r3) and _vm_cstr(m, r3, max(1, r2 & 0xFFFFFFFF)) is None
    return _probe_read_str(m, r1, r2, r3, user=user)


# ---- printk ---------------------------------------------------------------------------------------------------

def _printk_readers(m):
    def read_str(addr: int, kind: str, limit: int) -> bytes | None:
        got = _read_cstr(m, addr, limit, user=(kind == "u"))
        if got is None:
            return None
        return got[:-1] if got.endswith(b"\0") else got[:limit - 1]

    def read_mem(addr: int, n: int) -> bytes | None:
        return _vm_bytes(m, addr, n) or m.env.read_kernel(addr, n)
    return read_str, read_mem


def _format(m, fmt_addr: int, fmt_size: int, args: list[int]) -> str | int:
    """The message, or a negative errno (as an unsigned r0)."""
    raw = m.mem.read(fmt_addr, fmt_size)
    nul = raw.find(b"\0")
    if nul < 0:
        return _neg(errno.EINVAL)  # the kernel requires the NUL inside fmt_size
    try:
        return printk.format_message(raw[:nul], args, *_printk_readers(m))
    except printk.PrintfError as e:
        return _neg(e.errno)


def _emit(m, text: str) -> int:
    shown = text.encode("latin-1", "replace")[:printk.MAX_BPRINTF_BUF - 1].decode("latin-1")
    if m.output is not None:
        m.output.add_printk(shown)
    return len(text.encode("latin-1", "replace"))


@helper(HelperId.TRACE_PRINTK)
def trace_printk(m, r1, r2, r3, r4, r5):
    """bpf_trace_printk(fmt, fmt_size, a1, a2, a3): bytes formatted, or -EINVAL for a format the kernel refuses."""
    text = _format(m, r1, r2 & 0xFFFFFFFF, [r3, r4, r5])
    return text if isinstance(text, int) else _emit(m, text)


def _varargs(m, data: int, data_len: int) -> list[int] | int:
    data_len &= 0xFFFFFFFF
    if data_len % 8 or data_len > printk.MAX_BPRINTF_VARARGS * 8 or (data_len and not data):
        return _neg(errno.EINVAL)
    raw = m.mem.read(data, data_len) if data_len else b""
    return list(struct.unpack(f"<{data_len // 8}Q", raw))


@helper(HelperId.TRACE_VPRINTK)
def trace_vprintk(m, r1, r2, r3, r4, r5):
    """bpf_trace_vprintk(fmt, fmt_size, args, args_len): up to 12 u64 arguments."""
    args = _varargs(m, r3, r4)
    if isinstance(args, int):
        return args
    text = _format(m, r1, r2 & 0xFFFFFFFF, args)
    return text if isinstance(text, int) else _emit(m, text)


@helper(HelperId.SNPRINTF)
def snprintf(m, r1, r2, r3, r4, r5):
    """bpf_snprintf(str, str_size, fmt, args, args_len): length including the NUL (untruncated)."""
    args = _varargs(m, r4, r5)
    if isinstance(args, int):
        return args
    fmt = m.mem.read_cstr(r3, 1 << 16)
    try:
        text = printk.format_message(fmt, args, *_printk_readers(m))
    except printk.PrintfError as e:
        return _neg(e.errno)
    out = text.encode("latin-1", "replace")
    size = r2 & 0xFFFFFFFF
    if size:
        m.mem.write(r1, out[:size - 1] + b"\0")
    return len(out) + 1


# ---- perf and ring buffers -------------------------------------------------------------------------------------------

@helper(HelperId.PERF_EVENT_OUTPUT)
def perf_event_output(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r2)
    if vmmap.spec.type != MapType.PERF_EVENT_ARRAY:
        raise VmError(f"bpf_perf_event_output needs a PERF_EVENT_ARRAY map, not {vmmap.spec.type.name}", pc=m.pc)
    data = m.mem.read(r4, r5 & 0xFFFFFFFF)
    cpu = _cpu(m)
    flags = r3 & M64
    ctx = _ctx_builder(m)
    if ctx is not None and hasattr(ctx, "event_packet"):
        # bpf_skb_event_output / bpf_xdp_event_output: bits 32..51 of flags append that many packet bytes
        if flags & ~(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK):
            return _neg(errno.EINVAL)
        ctx_len = (flags & BPF_F_CTXLEN_MASK) >> 32
        packet = ctx.event_packet()
        if ctx_len > len(packet):
            return _neg(errno.EFAULT)
        data += packet[:ctx_len]
        flags &= BPF_F_INDEX_MASK
    ret = vmmap.output(flags, data, cpu)
    if ret == 0 and m.output is not None:
        index = r3 & 0xFFFFFFFF
        m.output.add_perf(vmmap.name, cpu if index == 0xFFFFFFFF else index, data)
    return ret & M64


def _ringbuf(m, handle: int) -> Any:
    vmmap = _map(m, handle)
    if vmmap.spec.type != MapType.RINGBUF:
        raise VmError(f"ring buffer helper on a {vmmap.spec.type.name} map", pc=m.pc)
    return vmmap


@helper(HelperId.RINGBUF_OUTPUT)
def ringbuf_output(m, r1, r2, r3, r4, r5):
    rb = _ringbuf(m, r1)
    data = m.mem.read(r2, r3 & 0xFFFFFFFF)
    ret = rb.output(data, r4 & M64)
    if ret == 0 and m.output is not None:
        m.output.add_ring(rb.name, data)
    return ret & M64


@helper(HelperId.RINGBUF_RESERVE)
def ringbuf_reserve(m, r1, r2, r3, r4, r5):
    rb = _ringbuf(m, r1)
    rec = rb.reserve(r2 & M64, r3 & M64)
    return 0 if rec is None else m.value_address(rb, rec.data)


def _ring_record(m, addr: int) -> tuple[Any, Any]:
    region = m.mem.region_at(addr)
    rb = region.obj
    if region.base != addr or getattr(rb, "spec", None) is None or rb.spec.type != MapType.RINGBUF:
        raise VmError("bpf_ringbuf_submit/discard needs a pointer returned by bpf_ringbuf_reserve", pc=m.pc,
                      address=addr)
    rec = rb.reserved_record(region.data)
    if rec is None:
        raise VmError("ring buffer record is not reserved (already submitted or discarded?)", pc=m.pc,
                      address=addr)
    return rb, rec


@helper(HelperId.RINGBUF_SUBMIT)
def ringbuf_submit(m, r1, r2, r3, r4, r5):
    rb, rec = _ring_record(m, r1)
    rb.commit(rec, False, r2 & M64)
    if m.output is not None:
        m.output.add_ring(rb.name, rec.committed)
    return 0


@helper(HelperId.RINGBUF_DISCARD)
def ringbuf_discard(m, r1, r2, r3, r4, r5):
    rb, rec = _ring_record(m, r1)
    rb.commit(rec, True, r2 & M64)
    return 0


@helper(HelperId.RINGBUF_QUERY)
def ringbuf_query(m, r1, r2, r3, r4, r5):
    return _ringbuf(m, r1).query(r2 & M64)


# ---- control flow ------------------------------------------------------------------------------------------------

@helper(HelperId.TAIL_CALL)
def tail_call(m, r1, r2, r3, r4, r5):
    m.tail_call(_map(m, r2), r3 & 0xFFFFFFFF)
    return 0


@helper(HelperId.LOOP)
def loop(m, r1, r2, r3, r4, r5):
    """bpf_loop(nr_loops, callback(index, ctx), ctx, flags): iterations done; stops when the callback returns 1."""
    if r4:
        return _neg(errno.EINVAL)
    n = r1 & 0xFFFFFFFF
    if n > BPF_MAX_LOOPS:
        return _neg(errno.E2BIG)
    for i in range(n):
        if m.call_function(r2, i, r3, 0, 0, 0) & M64:
            return i + 1
    return n


# ---- stacks --------------------------------------------------------------------------------------------------------

def _stack_of(m, flags: int) -> list[int]:
    return list(m.env.user_stack if flags & HelperFlags.USER_STACK else m.env.kernel_stack)


@helper(HelperId.GET_STACKID)
def get_stackid(m, r1, r2, r3, r4, r5):
    vmmap = _map(m, r2)
    if vmmap.spec.type != MapType.STACK_TRACE:
        raise VmError(f"bpf_get_stackid needs a STACK_TRACE map, not {vmmap.spec.type.name}", pc=m.pc)
    return vmmap.get_stackid(_stack_of(m, r3), r3 & M64) & M64


@helper(HelperId.GET_STACK)
def get_stack(m, r1, r2, r3, r4, r5):
    """bpf_get_stack(ctx, buf, size, flags): bytes written (whole u64 ips), -EINVAL for bad flags/size."""
    size, flags = r3 & 0xFFFFFFFF, r4 & M64
    known = HelperFlags.SKIP_FIELD_MASK | HelperFlags.USER_STACK | HelperFlags.USER_BUILD_ID
    if flags & ~int(known) or (flags & HelperFlags.USER_BUILD_ID and not flags & HelperFlags.USER_STACK):
        m.mem.write(r2, bytes(size))
        return _neg(errno.EINVAL)
    elem = 32 if flags & HelperFlags.USER_BUILD_ID else 8
    if size % elem:
        m.mem.write(r2, bytes(size))
        return _neg(errno.EINVAL)
    skip = flags & HelperFlags.SKIP_FIELD_MASK
    ips = _stack_of(m, flags)[skip:skip + size // 8]
    if not ips:
        m.mem.write(r2, bytes(size))
        return _neg(errno.EFAULT)
    raw = b"".join((ip & M64).to_bytes(8, "little") for ip in ips)
    m.mem.write(r2, raw.ljust(size, b"\0"))
    return len(raw)


# ---- small utilities -------------------------------------------------------------------------------------------------

@helper(HelperId.SPIN_LOCK)
def spin_lock(m, *_):
    return 0  # the VM runs one program at a time


@helper(HelperId.SPIN_UNLOCK)
def spin_unlock(m, *_):
    return 0


@helper(HelperId.STRNCMP)
def strncmp(m, r1, r2, r3, r4, r5):
    """bpf_strncmp(s1, s1_sz, s2): kernel strncmp of s1 (at most s1_sz bytes) and the constant string s2."""
    n = r2 & 0xFFFFFFFF
    s1 = m.mem.read(r1, n)
    s2 = m.mem.read_cstr(r3, 1 << 16) + b"\0"
    for i in range(n):
        c1, c2 = s1[i], s2[i] if i < len(s2) else 0
        if c1 != c2:
            return (-1 if c1 < c2 else 1) & M64
        if not c1:
            break
    return 0


# ---- packets -------------------------------------------------------------------------------------------------------

def _packet(m) -> Any:
    if m.packet is None:
        raise VmError("packet helper called without a packet context", pc=m.pc)
    return m.packet


def _ctx_builder(m) -> Any:
    region = m.ctx_region
    return region.obj if region is not None else None


@helper(HelperId.SKB_LOAD_BYTES)
def skb_load_bytes(m, r1, r2, r3, r4, r5):
    """bpf_skb_load_bytes(skb, offset, to, len): -EFAULT (and zeroed `to`) when out of the packet."""
    off, n = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF
    pkt = _packet(m)
    if off > 0x7FFFFFFF or off + n > pkt.size:
        m.mem.write(r3, bytes(n))
        return _neg(errno.EFAULT)
    m.mem.write(r3, bytes(pkt.data[off:off + n]))
    return 0


@helper(HelperId.SKB_STORE_BYTES)
def skb_store_bytes(m, r1, r2, r3, r4, r5):
    """bpf_skb_store_bytes(skb, offset, from, len, flags): -EINVAL for unknown flags, -EFAULT out of the packet."""
    off, n, flags = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF, r5 & M64
    if flags & ~int(HelperFlags.RECOMPUTE_CSUM | HelperFlags.INVALIDATE_HASH):
        return _neg(errno.EINVAL)
    pkt = _packet(m)
    if off > 0xFFFF or off + n > pkt.size:
        return _neg(errno.EFAULT)
    pkt.data[off:off + n] = m.mem.read(r3, n)
    return 0


def _csum_add(a: int, b: int) -> int:
    """32-bit one's-complement addition (csum_add)."""
    total = a + b
    return (total & 0xFFFFFFFF) + (total >> 32)


def _csum_partial(data: bytes, seed: int) -> int:
    """csum_partial (x86-64): one's-complement sum of the data as little-endian words, the tail zero-padded."""
    data = bytes(data) + bytes(-len(data) % 4)
    total = seed & 0xFFFFFFFF
    for (w,) in struct.iter_unpack("<I", data):
        total = _csum_add(total, w)
    return _csum_add(total, 0) & 0xFFFFFFFF


def _csum_from32to16(x: int) -> int:
    x = (x + (((x >> 16) | (x << 16)) & 0xFFFFFFFF)) & 0xFFFFFFFF
    return x >> 16


@helper(HelperId.CSUM_DIFF)
def csum_diff(m, r1, r2, r3, r4, r5):
    """bpf_csum_diff(from, from_size, to, to_size, seed): sum(to) - sum(from) + seed, folded to 16 bits (the 6.18
    kernel: no size restriction left, the result is csum_from32to16 of the 32-bit one's-complement sum)."""
    from_size, to_size, seed = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF, r5 & 0xFFFFFFFF
    frm = m.mem.read(r1, from_size) if from_size else b""
    to = m.mem.read(r3, to_size) if to_size else b""
    ret = seed
    if from_size and to_size:
        ret = _csum_add(_csum_partial(to, seed), ~_csum_partial(frm, 0) & 0xFFFFFFFF) & 0xFFFFFFFF
    elif to_size:
        ret = _csum_partial(to, seed)
    elif from_size:
        ret = ~_csum_partial(frm, ~seed & 0xFFFFFFFF) & 0xFFFFFFFF
    return _csum_from32to16(ret)


@helper(HelperId.XDP_ADJUST_HEAD)
def xdp_adjust_head(m, r1, r2, r3, r4, r5):
    ctx = _ctx_builder(m)
    if ctx is None or not hasattr(ctx, "adjust_head"):
        raise VmError("bpf_xdp_adjust_head needs an XDP context from pyebpf.vm.context", pc=m.pc)
    return ctx.adjust_head(m, _s32(r2)) & M64


@helper(HelperId.XDP_ADJUST_TAIL)
def xdp_adjust_tail(m, r1, r2, r3, r4, r5):
    ctx = _ctx_builder(m)
    if ctx is None or not hasattr(ctx, "adjust_tail"):
        raise VmError("bpf_xdp_adjust_tail needs an XDP context from pyebpf.vm.context", pc=m.pc)
    return ctx.adjust_tail(m, _s32(r2)) & M64


@helper(HelperId.XDP_ADJUST_META)
def xdp_adjust_meta(m, r1, r2, r3, r4, r5):
    ctx = _ctx_builder(m)
    if ctx is None or not hasattr(ctx, "adjust_meta"):
        raise VmError("bpf_xdp_adjust_meta needs an XDP context from pyebpf.vm.context", pc=m.pc)
    return ctx.adjust_meta(m, _s32(r2)) & M64


@helper(HelperId.REDIRECT)
def redirect(m, r1, r2, r3, r4, r5):
    """bpf_redirect(ifindex, flags): TC_ACT_REDIRECT / XDP_REDIRECT, or TC_ACT_SHOT / XDP_ABORTED for bad flags.
    The target is recorded on the context builder (collect() reports it)."""
    name = getattr(m.prog_type, "name", "")
    xdp = name == "XDP"
    flags = r2 & M64
    if (xdp and flags) or (not xdp and flags & ~BPF_F_INGRESS):
        return int(XdpAction.ABORTED) if xdp else int(TcAction.SHOT)
    ctx = _ctx_builder(m)
    if ctx is not None:
        ctx.redirect = (r1 & 0xFFFFFFFF, flags)
    return int(XdpAction.REDIRECT) if xdp else int(TcAction.REDIRECT)


# ---- lookup by name ----------------------------------------------------------------------------------------------------

def resolve_helper(name_or_id: int | str, table: dict[int, Helper] | None = None) -> Helper:
    """The VM's implementation of a helper named like the kernel ('bpf_trace_printk', 'trace_printk') or by id."""
    table = DEFAULT_HELPERS if table is None else table
    if isinstance(name_or_id, str):
        hid = HELPER_BY_NAME.get(name_or_id) or HELPER_BY_NAME.get(name_or_id.lower())
        if hid is None:
            raise VmError(f"unknown helper {name_or_id!r}")
    else:
        hid = name_or_id
    fn = table.get(int(hid))
    if fn is None:
        raise unknown_helper_error(int(hid))
    return fn


def unknown_helper_error(helper_id: int, pc: int | None = None) -> VmError:
    """The error for a call to a helper the VM does not implement, naming it."""
    try:
        hid = HelperId(helper_id)
    except ValueError:
        return VmError(f"call to unknown helper id {helper_id}", pc=pc)
    return VmError(f"helper {helper_name(hid)} (id {helper_id}) is not implemented by the VM", pc=pc)


__all__ = ["DEFAULT_HELPERS", "resolve_helper", "unknown_helper_error", "helper", "Helper"]
