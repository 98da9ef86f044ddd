"""Instructions too large to inline, shared by both engines: faults, atomics, legacy packet loads, helper calls.

Plain loads and stores are inlined by each engine (one dict probe and a bounds check); the slow paths here produce
the error messages, so both engines fault with the same text.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pyebpf.abi.net import ETH_HLEN, SKF_LL_OFF, SKF_NET_OFF
from pyebpf.abi.opcodes import AtomicOp
from pyebpf.errors import VmError
from pyebpf.vm.alu import M32, M64
from pyebpf.vm.memory import PACK, PAGE_SHIFT, UNPACK

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.vm.memory import Memory
    from pyebpf.vm.runtime import Machine



def mem_fault(mem: "Memory", addr: int, size: int, write: bool) -> VmError:
    """The VmError for a load/store of `size` bytes at `addr` that the inline fast path refused."""
    try:
        if addr > M64 or addr < 0:
            raise VmError("invalid memory access: address out of range", address=addr)
        mem.check(addr, size, write)
        if addr % size:
            return VmError(f"misaligned {size}-byte access (strict alignment)", address=addr)
    except VmError as e:
        return e
    return VmError("invalid memory access", address=addr)


def atomic(mem: "Memory", addr: int, size: int, op: int, value: int, expected: int = 0) -> int:
    """Perform an atomic read-modify-write of 4 or 8 bytes; returns the old value (unsigned, zero-extended).

    `value` is the source register (low half for 32-bit), `expected` is r0 for CMPXCHG. Atomics must be aligned.
    """
    if addr & (size - 1):
        raise VmError(f"misaligned {size}-byte atomic access", address=addr)
    region = mem.pages.get(addr >> PAGE_SHIFT)
    if region is None or addr < region.base or addr + size > region.end or not region.writable:
        raise mem_fault(mem, addr, size, True)
    o = addr - region.base
    mask = M32 if size == 4 else M64
    old = UNPACK[size](region.data, o)[0]
    value &= mask
    base = op & ~1 if op not in (AtomicOp.XCHG, AtomicOp.CMPXCHG) else op
    if base == AtomicOp.ADD:
        new = (old + value) & mask
    elif base == AtomicOp.OR:
        new = old | value
    elif base == AtomicOp.AND:
        new = old & value
    elif base == AtomicOp.XOR:
        new = old ^ value
    elif base == AtomicOp.XCHG:
        new = value
    elif base == AtomicOp.CMPXCHG:
        new = value if old == expected & mask else old
    else:
        raise VmError(f"invalid atomic operation {op:#x}")
    PACK[size](region.data, o, new)
    return old


def ld_abs(m: "Machine", offset: int, size: int) -> int | None:
    """LD_ABS / LD_IND: big-endian load of `size` bytes at packet offset `offset` (a signed 32-bit value).

    As the kernel's bpf_skb_load_helper_*: negative offsets SKF_NET_OFF / SKF_LL_OFF address the network / link
    header; anything out of bounds returns None: the engine then ends the program with r0 = 0 (ProgramExit).
    """
    packet = m.packet
    if packet is None:
        raise VmError("LD_ABS/LD_IND needs a packet (socket filter / tc programs); this run has none", pc=m.pc)
    offset = ((offset & M32) ^ (1 << 31)) - (1 << 31)
    if offset >= 0:
        if offset + size > packet.size:
            return None
        return int.from_bytes(packet.data[offset:offset + size], "big")
    # Negative offsets read from the link-layer (mac) or network header, which bpf_internal_load_pointer_neg_helper
    # finds in the skb even where eth_type_trans pulled the Ethernet header off skb->data (BPF_PROG_TEST_RUN of a
    # socket filter: mac header = the pulled bytes, network header = skb->data). `frame` is the whole frame from
    # its mac header: the context's pulled bytes, if any, then what the program sees.
    ctx = packet.obj
    pulled = getattr(ctx, "pulled", 0)
    frame = bytes(ctx.packet[:pulled]) + bytes(packet.data) if pulled else bytes(packet.data)
    if offset >= SKF_NET_OFF:
        pos = offset - SKF_NET_OFF + ETH_HLEN
    elif offset >= SKF_LL_OFF:
        pos = offset - SKF_LL_OFF
    else:
        return None
    if pos + size > len(frame):
        return None
    return int.from_bytes(frame[pos:pos + size], "big")


def call_helper(m: "Machine", helper_id: int, pc: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Call helper `helper_id` (slow path used by callx and by unknown ids); returns r0 as u64."""
    fn = m.helpers.get(helper_id)
    if fn is None:
        raise VmError(f"unknown helper {helper_id} (register it with helpers={{{helper_id}: fn}})", pc=pc)
    m.pc = pc
    return fn(m, r1, r2, r3, r4, r5) & M64


_U64 = struct.Struct("<Q")

__all__ = ["mem_fault", "atomic", "ld_abs", "call_helper", "SKF_NET_OFF", "SKF_LL_OFF"]
