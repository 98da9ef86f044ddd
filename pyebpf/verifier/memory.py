"""Memory accesses: check_mem_access for stack, map value/key, ctx, packet and mem pointers, with the kernel's
messages; stack reads/writes with slot types and spilled registers."""
from __future__ import annotations

import errno

from pyebpf.abi.context import BPF_FLOW_KEYS_SIZE, FieldKind, ctx_access_ok, sock_access_ok
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_kinds import has_skb_context, may_read_packet, may_write_packet
from pyebpf.abi.widths import s64
from pyebpf.abi.uapi import ENOTSUPP, MapCreateFlags
from pyebpf.verifier.bounds import (
    coerce_reg_to_size, coerce_reg_to_size_sx, mark_reg_known, mark_reg_unknown,
)
from pyebpf.verifier import btf_ptr
from pyebpf.verifier.btf_record import btf_record
from pyebpf.verifier.dynptr import check_raw_write, destroy_if_dynptr_stack_slot
from pyebpf.verifier.env import BPF_MAX_VAR_OFF, Env, Reject
from pyebpf.verifier.alu import assign_scalar_id_before_mov
from pyebpf.verifier.precision import mark_chain_precision, push_insn_history
from pyebpf.verifier.regstate import (
    CONST_PTR_TO_MAP, MEM_RDONLY, NOT_INIT, PTR_MAYBE_NULL, PTR_TO_CTX, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
    PTR_TO_FLOW_KEYS, PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_END, PTR_TO_PACKET_META, PTR_TO_SOCK_COMMON, PTR_TO_SOCKET,
    PTR_TO_STACK, PTR_TO_TCP_SOCK, S64_MIN, SCALAR_VALUE, Reg, RegType, base_type, reg_type_str,
)
from pyebpf.verifier.state import (
    BPF_REG_SIZE, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, FuncState,
)
from pyebpf.verifier.tnum import Tnum, tnum_add, tnum_is_aligned

READ, WRITE = 0, 1
ACCESS_DIRECT, ACCESS_HELPER = 0, 1
MAX_BPF_STACK = 512

_KIND_TO_TYPE = {
    FieldKind.PKT: PTR_TO_PACKET,
    FieldKind.PKT_END: PTR_TO_PACKET_END,
    FieldKind.PKT_META: PTR_TO_PACKET_META,
    FieldKind.SOCK_COMMON_OR_NULL: PTR_TO_SOCK_COMMON | PTR_MAYBE_NULL,
    FieldKind.SOCKET: PTR_TO_SOCKET,
    FieldKind.SOCKET_OR_NULL: PTR_TO_SOCKET | PTR_MAYBE_NULL,
    FieldKind.FLOW_KEYS: PTR_TO_FLOW_KEYS,
    FieldKind.TP_BUFFER: int(RegType.PTR_TO_TP_BUFFER),
}
_SK_TYPES = (PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK)


def _tn(t: Tnum) -> str:
    return f"({t.value:#x}; {t.mask:#x})"


def _tn_align(t: Tnum) -> str:
    """The var_off part of a misaligned-access message: a constant prints as a plain number."""
    return str(_s(t.value)) if not t.mask else _tn(t)


_s = s64  # (s64) of a u64 value


def reg_frame(env: Env, reg: Reg) -> FuncState:
    return env.cur.frames[reg.frameno]


def may_access_direct_pkt_data(env: Env, write: bool) -> bool:
    return may_write_packet(env.prog_type) if write else may_read_packet(env.prog_type)


def check_ptr_alignment(env: Env, reg: Reg, off: int, size: int, strict: bool) -> None:
    strict = strict or env.strict_alignment
    t = reg.type
    if t in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if not strict or size == 1:
            return
        # NET_IP_ALIGN is 0 on x86: plain alignment of the full offset
        reg_off = tnum_add(reg.var_off, Tnum((2 + reg.off + off) & ((1 << 64) - 1), 0))
        if not tnum_is_aligned(reg_off, size):
            raise Reject(f"misaligned packet access off 2+{_tn_align(reg.var_off)}+{reg.off}+{off} size {size}")
        return
    desc = {PTR_TO_MAP_KEY: "key ", PTR_TO_MAP_VALUE: "value ", PTR_TO_CTX: "context ",
            PTR_TO_STACK: "stack "}.get(t, "")
    if t == PTR_TO_STACK:
        strict = True
    if not strict or size == 1:
        return
    reg_off = tnum_add(reg.var_off, Tnum((reg.off + off) & ((1 << 64) - 1), 0))
    if not tnum_is_aligned(reg_off, size):
        raise Reject(f"misaligned {desc}access off {_tn_align(reg.var_off)}+{reg.off}+{off} size {size}")


def __check_mem_access(env: Env, regno: int, off: int, size: int, mem_size: int, zero_size_allowed: bool) -> None:
    size_ok = size > 0 or (size == 0 and zero_size_allowed)
    if off >= 0 and size_ok and off + size <= mem_size:
        return
    reg = env.regs[regno]
    t = reg.type
    if t == PTR_TO_MAP_KEY:
        msg = f"invalid access to map key, key_size={mem_size} off={off} size={size}"
    elif t == PTR_TO_MAP_VALUE:
        msg = f"invalid access to map value, value_size={mem_size} off={off} size={size}"
    elif t in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END):
        msg = f"invalid access to packet, off={off} size={size}, R{regno}(id={reg.id},off={reg.off},r={reg.range})"
    else:
        msg = f"invalid access to memory, mem_size={mem_size} off={off} size={size}"
    raise _Silent(errno.EACCES, msg)


class _Silent(Reject):
    """__check_mem_access's complaint; callers print it and may add their own line."""

    def __init__(self, err: int, line: str = "") -> None:
        super().__init__(line, err)


def _two_lines(env: Env, e: Reject, second: str) -> Reject:
    if e.message:
        env.verbose(e.message + "\n")
    return Reject(second, e.errno)


def check_mem_region_access(env: Env, regno: int, off: int, size: int, mem_size: int,
                            zero_size_allowed: bool) -> None:
    reg = env.regs[regno]
    if reg.smin < 0 and (reg.smin == S64_MIN or not -(1 << 31) <= off + reg.smin < (1 << 31)
                         or reg.smin + off < 0):
        raise Reject(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    try:
        __check_mem_access(env, regno, reg.smin + off, size, mem_size, zero_size_allowed)
    except _Silent as e:
        raise _two_lines(env, e, f"R{regno} min value is outside of the allowed memory range") from None
    if reg.umax >= BPF_MAX_VAR_OFF:
        raise Reject(f"R{regno} unbounded memory access, make sure to bounds check any such access")
    try:
        __check_mem_access(env, regno, reg.umax + off, size, mem_size, zero_size_allowed)
    except _Silent as e:
        raise _two_lines(env, e, f"R{regno} max value is outside of the allowed memory range") from None


def check_map_access(env: Env, regno: int, off: int, size: int, zero_size_allowed: bool) -> None:
    """check_map_access(): within the value, and touching none of its special fields (bpf_spin_lock, ...)."""
    reg = env.regs[regno]
    check_mem_region_access(env, regno, off, size, reg.map.value_size, zero_size_allowed)
    for f in btf_record(reg.map.spec):
        if reg.smin + off < f.offset + f.size and f.offset < reg.umax + off + size:
            raise Reject(f"{f.name} cannot be accessed directly by load/store")


def check_packet_access(env: Env, regno: int, off: int, size: int, zero_size_allowed: bool) -> None:
    reg = env.regs[regno]
    if reg.smin < 0:
        raise Reject(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    try:
        if reg.range < 0:
            raise _Silent(errno.EINVAL)
        __check_mem_access(env, regno, off, size, reg.range, zero_size_allowed)
    except _Silent as e:
        raise _two_lines(env, e, f"R{regno} offset is outside of the packet") from None


def check_ptr_off_reg(env: Env, reg: Reg, regno: int, fixed_off_ok: bool = False) -> None:
    if reg.off < 0:
        raise Reject(f"negative offset {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed")
    if not fixed_off_ok and reg.off:
        raise Reject(f"dereference of modified {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed")
    if reg.var_off.mask or reg.var_off.value:
        raise Reject(f"variable {reg_type_str(reg.type)} access var_off={_tn(reg.var_off)} disallowed")


_SOCK_KIND = {PTR_TO_SOCK_COMMON: "sock_common", PTR_TO_SOCKET: "sock", PTR_TO_TCP_SOCK: "tcp_sock",
              RegType.PTR_TO_XDP_SOCK: "xdp_sock"}


def check_sock_access(env: Env, regno: int, off: int, size: int) -> None:
    """check_sock_access(): the uapi socket views' rules (abi.context.sock_access_ok)."""
    reg = env.regs[regno]
    if reg.smin < 0:
        raise Reject(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    if not sock_access_ok(_SOCK_KIND.get(reg.type, ""), off, size):
        raise Reject(f"R{regno} invalid {reg_type_str(reg.type)} access off={off} size={size}")


_CTX_ACCESS: dict = {}
_CTX_ACCESS_MAX = 4096
"""ctx_access_ok's answers (a function of its arguments alone), kept: a loop reads the same context field at every
iteration, and the layout lookup is a scan of the context's fields (bounded: cleared when full)."""


def check_ctx_access(env: Env, regno: int, off: int, size: int, write: bool, value_regno: int) -> None:
    reg = env.regs[regno]
    if write and value_regno >= 0 and env.is_pointer_value(env.regs[value_regno]):
        raise Reject(f"R{value_regno} leaks addr into ctx")
    check_ptr_off_reg(env, reg, regno)
    key = (env.prog_type, off, size, write, env.attach_type, env.privileged)
    answer = _CTX_ACCESS.get(key)
    if answer is None:
        try:
            answer = ctx_access_ok(env.prog_type, off, size, write, attach_type=env.attach_type,
                                   privileged=env.privileged)
        except ValueError:
            answer = (False, None)
        if len(_CTX_ACCESS) >= _CTX_ACCESS_MAX:
            _CTX_ACCESS.clear()
        _CTX_ACCESS[key] = answer
    ok, field = answer
    if off + size > 180 and env.kernel is not None and has_skb_context(env.prog_type):
        if off < 184 and not env.kernel.fact(Fact.SKB_TSTAMP_TYPE):
            raise Reject("bpf verifier is misconfigured", errno.EINVAL)  # padding then: no ctx conversion
        if ok and off + size > env.kernel.fact(Fact.SKB_CTX_SIZE):
            ok = False  # a __sk_buff field newer than the kernel answered for
    if not ok:
        raise Reject(f"invalid bpf_context access off={off} size={size}")
    if not write and value_regno >= 0:
        dst = env.regs[value_regno]
        kind = field.kind if field is not None else FieldKind.SCALAR
        if kind == FieldKind.TRUSTED_BTF_ID:  # bpf_nf_ctx: info->reg_type PTR_TO_BTF_ID | PTR_TRUSTED, btf_id
            btf_ptr.mark_btf_ld_reg(env, dst, btf_ptr.PTR_TO_BTF_ID, btf_ptr.struct_id(field.btf_struct),
                                    btf_ptr.trust_flag(env, btf_ptr.PTR_TRUSTED))
            return
        rtype = _KIND_TO_TYPE.get(kind)
        if rtype is None:
            mark_reg_unknown(dst)
        else:
            mark_reg_unknown(dst)
            mark_reg_known(dst, 0)
            dst.type = rtype
            if rtype & PTR_MAYBE_NULL:
                dst.id = env.new_id()


def check_buffer_access(env: Env, buf_info: str, regno: int, off: int, size: int) -> None:
    """__check_buffer_access(): a buffer whose size the verifier does not know (a raw_tracepoint.w buffer, an
    iterator's map key or value) takes any constant, non-negative offset; how far the program reaches
    (max_tp_access, max_rdonly_access, max_rdwr_access) is checked when it is attached, not here."""
    reg = env.regs[regno]
    if off < 0:
        raise Reject(f"R{regno} invalid {buf_info} buffer access: off={off}, size={size}")
    if reg.var_off.mask or reg.var_off.value:
        raise Reject(f"R{regno} invalid variable buffer offset: off={off}, var_off={_tn(reg.var_off)}")


# ---- stack -------------------------------------------------------------------------------------------------------

def check_stack_access_within_bounds(env: Env, regno: int, off: int, size: int, write: bool,
                                     src: int = ACCESS_DIRECT) -> None:
    reg = env.regs[regno]
    state = reg_frame(env, reg)
    extra = " write to" if write else " read from"
    indirect = src == ACCESS_HELPER and env.kernel is not None and env.kernel.fact(Fact.HELPER_STACK_INDIRECT)
    if indirect:
        extra = " indirect access to"
    if not reg.var_off.mask:
        min_off = _s(reg.var_off.value) + off
        max_off = min_off + size
    else:
        if reg.smax >= BPF_MAX_VAR_OFF or reg.smin <= -BPF_MAX_VAR_OFF:
            raise Reject(f"invalid unbounded variable-offset{extra} stack R{regno}")
        min_off = reg.smin + off
        max_off = reg.smax + off + size
    min_valid = -MAX_BPF_STACK if (write or env.allow_uninit_stack or indirect) else -state.allocated_stack
    err = 0
    if min_off < min_valid or min_off > -1:
        err = errno.EACCES
    elif max_off > 0:
        err = errno.EINVAL
    elif size < 0:
        err = errno.EFAULT
    if err:
        if not reg.var_off.mask:
            raise Reject(f"invalid{extra} stack R{regno} off={off} size={size}", err)
        raise Reject(f"invalid variable-offset{extra} stack R{regno} var_off={_tn(reg.var_off)} off={off} "
                     f"size={size}", err)
    grow = -min_off
    state.grow_stack(grow)
    depth = (grow + 7) // 8 * 8
    sp = state.subprogno
    if env.subprog_stack_depth[sp] < depth:
        env.subprog_stack_depth[sp] = depth


_ALL_SPILL = [STACK_SPILL] * BPF_REG_SIZE


def _is_spillable(t: int) -> bool:
    return t not in (NOT_INIT, SCALAR_VALUE)


def save_register_state(state: FuncState, spi: int, reg: Reg, size: int) -> None:
    slot = state.stack[spi]
    slot.spilled.assign(reg)
    types = slot.slot_type
    if size == BPF_REG_SIZE:
        types[:] = _ALL_SPILL
        return
    for i in range(BPF_REG_SIZE, BPF_REG_SIZE - size, -1):
        types[i - 1] = STACK_SPILL
    for i in range(BPF_REG_SIZE - size, 0, -1):
        if types[i - 1] not in (STACK_ZERO, STACK_INVALID):
            types[i - 1] = STACK_MISC


def check_stack_write(env: Env, regno: int, off: int, size: int, value_regno: int, st_imm: int | None) -> None:
    reg = env.regs[regno]
    state = reg_frame(env, reg)
    if reg.var_off.mask:
        return check_stack_write_var_off(env, state, reg, off, size, value_regno, st_imm)
    off = off + _s(reg.var_off.value)
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    sslot = state.stack[spi]
    value = env.regs[value_regno] if value_regno >= 0 else None
    if not env.allow_ptr_leaks and sslot.is_spilled_reg and not sslot.is_spilled_scalar and size != BPF_REG_SIZE:
        raise Reject("attempt to corrupt spilled pointer on stack")
    destroy_if_dynptr_stack_slot(env, state, spi)
    if not off % BPF_REG_SIZE and size == BPF_REG_SIZE:
        # only a whole-slot write kills what was there (a partial one leaves the rest to be read)
        env.liveness.mark_write(state.frameno, 1 << spi)
    if state is env.cur.frame:
        env.scratched_stack |= 1 << spi
    if value is not None and not off % BPF_REG_SIZE and value.type == SCALAR_VALUE and env.bpf_capable:
        fits = value.umax.bit_length() <= 8 * size
        if fits:
            assign_scalar_id_before_mov(env, value)
        save_register_state(state, spi, value, size)
        if not fits:
            sslot.spilled.id = 0
    elif value is None and not off % BPF_REG_SIZE and st_imm is not None and env.bpf_capable:
        tmp = Reg()
        tmp.type = SCALAR_VALUE
        mark_reg_known(tmp, st_imm)
        save_register_state(state, spi, tmp, size)
    elif value is not None and _is_spillable(value.type):
        if size != BPF_REG_SIZE:
            raise Reject("invalid size of register spill")
        if state is not env.cur.frame and value.type == PTR_TO_STACK:
            raise Reject("cannot spill pointers to stack into stack frame of the caller", errno.EINVAL)
        save_register_state(state, spi, value, size)
    else:
        _write_misc_or_zero(env, sslot, slot, size, value, value_regno, st_imm)
        return  # not a register spill: nothing for backtracking to follow
    # a register spill: backtracking follows the value through this slot
    push_insn_history(env, env.cur, stack=(state.frameno, spi))


def _write_misc_or_zero(env: Env, sslot, slot: int, size: int, value: Reg | None, value_regno: int,
                    st_imm: int | None) -> None:
    sslot.spilled.type = NOT_INIT
    types = sslot.slot_type
    if types[BPF_REG_SIZE - 1] == STACK_SPILL or any(t > STACK_ZERO for t in types):
        for i in range(BPF_REG_SIZE):
            if types[i] != STACK_INVALID:
                types[i] = STACK_MISC
    zero = (value is not None and value.type == SCALAR_VALUE and not value.var_off.mask
            and value.var_off.value == 0) or (value is None and st_imm == 0)
    if zero:
        # STACK_ZERO rests on the value being exactly 0
        mark_chain_precision(env, value_regno)
    t = STACK_ZERO if zero else STACK_MISC
    for i in range(size):
        types[(slot - i) % BPF_REG_SIZE] = t


def check_helper_mem_write(env: Env, regno: int, size: int) -> None:
    """check_helper_call's write of a raw-mode memory argument: the kernel calls check_mem_access for each of its
    `size` bytes. On the stack at a constant offset inside the frame's allocated part, each byte's write is applied
    here in the same order, the per-slot work (spilled-pointer check, dynptr destruction, the slot turning
    STACK_MISC) done at a slot's first byte: the later bytes of a slot find nothing left to undo."""
    reg = env.regs[regno]
    if reg.type == PTR_TO_STACK and not reg.var_off.mask:
        start = _s(reg.var_off.value) + reg.off
        state = env.cur.frames[reg.frameno]
        if -MAX_BPF_STACK <= start and start + size <= 0 and -start <= state.allocated_stack:
            stack = state.stack
            scratch = state is env.cur.frame
            allow_ptr_leaks = env.allow_ptr_leaks
            prev_spi = -1
            types = None
            for total in range(start, start + size):
                slot = -total - 1
                spi = slot // BPF_REG_SIZE
                if spi != prev_spi:
                    prev_spi = spi
                    sslot = stack[spi]
                    types = sslot.slot_type
                    if not allow_ptr_leaks and types[BPF_REG_SIZE - 1] == STACK_SPILL \
                            and sslot.spilled.type != SCALAR_VALUE:
                        raise Reject("attempt to corrupt spilled pointer on stack")
                    destroy_if_dynptr_stack_slot(env, state, spi)
                    if scratch:
                        env.scratched_stack |= 1 << spi
                    sslot.spilled.type = NOT_INIT
                    if types[BPF_REG_SIZE - 1] == STACK_SPILL or any(t > STACK_ZERO for t in types):
                        for i in range(BPF_REG_SIZE):
                            if types[i] != STACK_INVALID:
                                types[i] = STACK_MISC
                types[slot % BPF_REG_SIZE] = STACK_MISC
            return
    for i in range(size):
        check_mem_access(env, regno, i, 1, True, -1)


def check_stack_write_var_off(env: Env, state: FuncState, reg: Reg, off: int, size: int, value_regno: int,
                              st_imm: int | None) -> None:
    min_off = reg.smin + off
    max_off = reg.smax + off + size
    value = env.regs[value_regno] if value_regno >= 0 else None
    zero = (value is not None and value.type == SCALAR_VALUE and not value.var_off.mask
            and value.var_off.value == 0) or (value is None and st_imm == 0)
    for i in range(min_off, max_off):
        destroy_if_dynptr_stack_slot(env, state, (-i - 1) // BPF_REG_SIZE)
    if value is not None and value.type != SCALAR_VALUE and not env.allow_ptr_leaks:
        raise Reject(f"R{value_regno} variable offset stack write of pointer")
    zero_used = False
    for i in range(min_off, max_off):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        sslot = state.stack[spi]
        types = sslot.slot_type
        if not env.allow_ptr_leaks and sslot.is_spilled_reg and sslot.spilled.type != SCALAR_VALUE:
            raise Reject(f"spilled ptr in range of var-offset stack write; insn {env.insn_idx}, ptr off: {i}")
        idx = slot % BPF_REG_SIZE
        if zero and types[idx] == STACK_SPILL and sslot.spilled.type == SCALAR_VALUE \
                and not sslot.spilled.var_off.mask and sslot.spilled.var_off.value == 0:
            zero_used = True  # writing zero over a spilled constant 0 keeps the spill
            if state is env.cur.frame:
                env.scratched_stack |= 1 << spi
            continue
        sslot.spilled.type = NOT_INIT
        new = STACK_MISC
        if zero and types[idx] == STACK_ZERO:
            new = STACK_ZERO
            zero_used = True
        if types[idx] == STACK_INVALID and not (env.allow_uninit_stack or env.allow_ptr_leaks):  # older: ptr_leaks
            raise Reject(f"uninit stack in range of var-offset write prohibited for !root; insn {env.insn_idx}, "
                         f"off: {i}")
        types[idx] = new
        if state is env.cur.frame:
            env.scratched_stack |= 1 << spi
    if zero_used:
        mark_chain_precision(env, value_regno)


def check_stack_read(env: Env, regno: int, off: int, size: int, dst_regno: int) -> None:
    reg = env.regs[regno]
    state = reg_frame(env, reg)
    if reg.var_off.mask:
        if not env.bypass_spec_v1:
            raise Reject(f"R{regno} variable offset stack access prohibited for !root, var_off={_tn(reg.var_off)} "
                         f"off={off}")
        check_stack_range_initialized(env, regno, off, size, False, READ, var_read=True)
        if dst_regno >= 0:
            min_off, max_off = reg.smin + off, reg.smax + off + size
            if all(state.stack[(-i - 1) // 8].slot_type[(-i - 1) % 8] == STACK_ZERO
                   for i in range(min_off, max_off)):
                mark_reg_unknown(env.regs[dst_regno])
                mark_reg_known(env.regs[dst_regno], 0)
            else:
                mark_reg_unknown(env.regs[dst_regno])
        return
    off = off + _s(reg.var_off.value)
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    sslot = state.stack[spi]
    stype = sslot.slot_type
    spilled = sslot.spilled
    if state is env.cur.frame:
        env.scratched_stack |= 1 << spi
    env.liveness.mark_read(state.frameno, env.insn_idx, 1 << spi)
    regs = env.regs
    if stype[BPF_REG_SIZE - 1] == STACK_SPILL:
        if stype == _ALL_SPILL:
            spill_size = BPF_REG_SIZE
        else:
            spill_size = 1
            i = BPF_REG_SIZE - 1
            while i > 0 and stype[i - 1] == STACK_SPILL:
                spill_size += 1
                i -= 1
        fill = True
        if size != BPF_REG_SIZE or spill_size != BPF_REG_SIZE:
            if spilled.type != SCALAR_VALUE:
                raise Reject("invalid size of register fill")
            if dst_regno < 0:
                return
            if size <= spill_size and not off % BPF_REG_SIZE:
                if env.bpf_capable and size == 4 and spill_size == 4 and spilled.umax.bit_length() <= 32:
                    assign_scalar_id_before_mov(env, spilled)
                regs[dst_regno].assign(spilled)
                if spilled.umax.bit_length() > size * 8:
                    regs[dst_regno].id = 0
            else:
                spill_cnt = zero_cnt = 0
                for i in range(size):
                    t = stype[(slot - i) % BPF_REG_SIZE]
                    if t == STACK_SPILL:
                        spill_cnt += 1
                    elif t == STACK_MISC:
                        pass
                    elif t == STACK_ZERO:
                        zero_cnt += 1
                    elif t == STACK_INVALID and env.allow_uninit_stack:
                        pass
                    else:
                        raise Reject(f"invalid read from stack off {off}+{i} size {size}")
                dst = regs[dst_regno]
                if spill_cnt == size and not spilled.var_off.mask and spilled.var_off.value == 0:
                    mark_reg_unknown(dst)
                    mark_reg_known(dst, 0)
                elif zero_cnt == size:
                    mark_reg_unknown(dst)
                    mark_reg_known(dst, 0)
                    fill = False  # not restoring the spilled register
                else:
                    mark_reg_unknown(dst)
                    fill = False
        elif dst_regno >= 0:
            if env.bpf_capable:
                assign_scalar_id_before_mov(env, spilled)
            regs[dst_regno].assign(spilled)
        elif spilled.type not in (NOT_INIT, SCALAR_VALUE) and not env.allow_ptr_leaks:
            raise Reject(f"leaking pointer from stack off {off}")
        if fill:
            push_insn_history(env, env.cur, stack=(state.frameno, spi))
    else:
        for i in range(size):
            t = stype[(slot - i) % BPF_REG_SIZE]
            if t == STACK_MISC or t == STACK_ZERO or (t == STACK_INVALID and env.allow_uninit_stack):
                continue
            raise Reject(f"invalid read from stack off {off}+{i} size {size}")
        if dst_regno >= 0:
            dst = regs[dst_regno]
            if all(stype[(slot - i) % BPF_REG_SIZE] == STACK_ZERO for i in range(size)):
                mark_reg_unknown(dst)
                mark_reg_known(dst, 0)
            else:
                mark_reg_unknown(dst)


def check_stack_range_initialized(env: Env, regno: int, off: int, size: int, zero_size_allowed: bool,
                                  access: int, raw_meta=None, var_read: bool = False) -> None:
    reg = env.regs[regno]
    state = reg_frame(env, reg)
    clobber = access == WRITE
    check_stack_access_within_bounds(env, regno, off, size, clobber, READ if var_read else ACCESS_HELPER)
    if not reg.var_off.mask:
        min_off = max_off = _s(reg.var_off.value) + off
    else:
        if not env.bypass_spec_v1:
            raise Reject(f"R{regno} variable offset stack access prohibited for !root, var_off={_tn(reg.var_off)}")
        if raw_meta is not None and raw_meta.raw_mode:
            raw_meta = None
        min_off = reg.smin + off
        max_off = reg.smax + off
    if raw_meta is not None and raw_meta.raw_mode:
        check_raw_write(env, state, min_off, max_off + size)  # never over a dynptr
        raw_meta.access_size = size
        raw_meta.regno = regno
        return
    for i in range(min_off, max_off + size):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        sslot = state.stack[spi]
        types = sslot.slot_type
        idx = slot % BPF_REG_SIZE
        t = types[idx]
        if t == STACK_MISC:
            env.liveness.mark_read(state.frameno, env.insn_idx, 1 << spi)
            continue
        if t == STACK_ZERO or (t == STACK_INVALID and env.allow_uninit_stack):
            if clobber:
                types[idx] = STACK_MISC
            env.liveness.mark_read(state.frameno, env.insn_idx, 1 << spi)
            continue
        if sslot.is_spilled_reg and (sslot.spilled.type == SCALAR_VALUE or env.allow_ptr_leaks):
            if clobber:
                mark_reg_unknown(sslot.spilled)
                for j in range(BPF_REG_SIZE):
                    if types[j] != STACK_INVALID:
                        types[j] = STACK_MISC
            env.liveness.mark_read(state.frameno, env.insn_idx, 1 << spi)
            continue
        what = "write to" if clobber else "read from"
        if not clobber and not var_read and env.kernel is not None and env.kernel.fact(Fact.HELPER_STACK_INDIRECT):
            what = "indirect read from"
        if var_read:
            raise Reject(f"invalid variable-offset read from stack R{regno} var_off={_tn(reg.var_off)} "
                         f"off={off} size={size}")
        if not reg.var_off.mask:
            raise Reject(f"invalid {what} stack R{regno} off {min_off}+{i - min_off} size {size}")
        raise Reject(f"invalid {what} stack R{regno} var_off {_tn(reg.var_off)}+{i - min_off} size {size}")


def check_map_access_type(mapref, off: int, size: int, write: bool) -> None:
    """bpf_map_flags_to_cap: a BPF_F_RDONLY_PROG map cannot be written by programs, a BPF_F_WRONLY_PROG one not
    read."""
    flags = mapref.spec.flags
    if write and flags & MapCreateFlags.RDONLY_PROG:
        raise Reject(f"write into map forbidden, value_size={mapref.value_size} off={off} size={size}")
    if not write and flags & MapCreateFlags.WRONLY_PROG:
        raise Reject(f"read from map forbidden, value_size={mapref.value_size} off={off} size={size}")


def map_is_frozen_rdonly(spec) -> bool:
    """bpf_map_is_rdonly: BPF_F_RDONLY_PROG and frozen. pyebpf's loader freezes such a map when it has initial
    contents (global `.rodata`, as libbpf does), so verify() takes those as frozen."""
    return bool(spec.flags & MapCreateFlags.RDONLY_PROG) and spec.initial is not None


def map_direct_read(env: Env, reg: Reg, off: int, size: int, dst: Reg, is_ldsx: bool) -> None:
    """A load from a map value: a constant offset into a frozen read-only array is a known constant (the kernel
    reads the map: bpf_map_direct_read), anything else an unknown scalar."""
    spec = reg.map.spec
    if reg.var_off.mask or not map_is_frozen_rdonly(spec) or spec.type not in _DIRECT_VALUE_MAPS:
        mark_reg_unknown(dst)
        return
    if spec.max_entries != 1:
        raise Reject("", ENOTSUPP, newline=False)  # array_map_direct_value_addr: one element only, no message
    map_off = off + _s(reg.var_off.value)
    val = int.from_bytes(spec.initial[map_off:map_off + size], "little", signed=is_ldsx)
    mark_reg_unknown(dst)
    mark_reg_known(dst, val)


_DIRECT_VALUE_MAPS = frozenset({MapType.ARRAY})
"""Map types whose ops have map_direct_value_addr (arena excepted: verify() does not model it)."""


# ---- the dispatcher ----------------------------------------------------------------------------------------------

def check_mem_access(env: Env, regno: int, off: int, size: int, write: bool, value_regno: int,
                     strict_once: bool = False, is_ldsx: bool = False, st_imm: int | None = None) -> None:
    regs = env.regs
    reg = regs[regno]
    t = reg.type
    if t == PTR_TO_STACK and not reg.var_off.mask:
        # fast path: an aligned, in-bounds access at a constant stack offset (the common spill/fill)
        v = reg.var_off.value
        total = (v - (1 << 64) if v >> 63 else v) + reg.off + off
        if not total % size and -MAX_BPF_STACK <= total and total + size <= 0:
            state = env.cur.frames[reg.frameno]
            if -total > state.allocated_stack or (not write and not env.allow_uninit_stack):
                check_stack_access_within_bounds(env, regno, off + reg.off, size, write)
            if write:
                check_stack_write(env, regno, off + reg.off, size, value_regno, st_imm)
            else:
                check_stack_read(env, regno, off + reg.off, size, value_regno)
                if size < BPF_REG_SIZE and value_regno >= 0 and regs[value_regno].type == SCALAR_VALUE:
                    if is_ldsx:
                        coerce_reg_to_size_sx(regs[value_regno], size)
                    else:
                        coerce_reg_to_size(regs[value_regno], size)
            return
    check_ptr_alignment(env, reg, off, size, strict_once)
    off += reg.off
    value = regs[value_regno] if value_regno >= 0 else None
    if t == PTR_TO_MAP_KEY:
        if write:
            raise Reject(f"R{regno} cannot write into {reg_type_str(t)}")
        check_mem_region_access(env, regno, off, size, reg.map.key_size, False)
        if value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == PTR_TO_MAP_VALUE:
        if write and value is not None and env.is_pointer_value(value):
            raise Reject(f"R{value_regno} leaks addr into map")
        check_map_access_type(reg.map, off, size, write)
        check_map_access(env, regno, off, size, False)
        if not write and value_regno >= 0:
            map_direct_read(env, reg, off, size, regs[value_regno], is_ldsx)
    elif base_type(t) == PTR_TO_MEM:
        rdonly = bool(t & MEM_RDONLY)
        if t & PTR_MAYBE_NULL:
            raise Reject(f"R{regno} invalid mem access '{reg_type_str(t)}'")
        if write and rdonly:
            raise Reject(f"R{regno} cannot write into {reg_type_str(t)}")
        if write and value is not None and env.is_pointer_value(value):
            raise Reject(f"R{value_regno} leaks addr into mem")
        check_mem_region_access(env, regno, off, size, reg.mem_size, False)
        if value_regno >= 0 and (not write or rdonly):
            mark_reg_unknown(regs[value_regno])
    elif t == PTR_TO_CTX:
        if env.attach_target is not None:  # tp_btf/fentry/fexit/fmod_ret: the context is the target's arguments
            btf_ptr.check_btf_ctx_load(env, regno, off, size, write, value_regno)
        else:
            check_ctx_access(env, regno, off, size, write, value_regno)
    elif t == PTR_TO_STACK:
        check_stack_access_within_bounds(env, regno, off, size, write)
        if write:
            check_stack_write(env, regno, off, size, value_regno, st_imm)
        else:
            check_stack_read(env, regno, off, size, value_regno)
    elif t in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if write and not may_access_direct_pkt_data(env, True):
            raise Reject("cannot write into packet")
        if write and value is not None and env.is_pointer_value(value):
            raise Reject(f"R{value_regno} leaks addr into packet")
        check_packet_access(env, regno, off, size, False)
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == PTR_TO_FLOW_KEYS:
        if write and value is not None and env.is_pointer_value(value):
            raise Reject(f"R{value_regno} leaks addr into flow keys")
        if off < 0 or off + size > BPF_FLOW_KEYS_SIZE:  # check_flow_keys_access()
            raise Reject(f"invalid access to flow keys off={off} size={size}")
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == RegType.PTR_TO_TP_BUFFER:
        check_buffer_access(env, "tracepoint", regno, off, size)
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif base_type(t) == RegType.PTR_TO_BUF and not t & PTR_MAYBE_NULL:
        rdonly = bool(t & MEM_RDONLY)
        if write and rdonly:
            raise Reject(f"R{regno} cannot write into {reg_type_str(t)}")
        check_buffer_access(env, "rdonly" if rdonly else "rdwr", regno, off, size)
        if value_regno >= 0 and (rdonly or not write):
            mark_reg_unknown(regs[value_regno])
    elif t in _SK_TYPES:
        if write:
            raise Reject(f"R{regno} cannot write into {reg_type_str(t)}")
        check_sock_access(env, regno, off, size)
        if value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif base_type(t) == RegType.PTR_TO_BTF_ID and not t & PTR_MAYBE_NULL:
        btf_ptr.check_ptr_to_btf_access(env, regno, off, size, write, value_regno)
    elif t == CONST_PTR_TO_MAP:
        btf_ptr.check_ptr_to_map_access(env, regno, off, size, write, value_regno)
    else:
        raise Reject(f"R{regno} invalid mem access '{reg_type_str(t)}'")
    if size < BPF_REG_SIZE and value_regno >= 0 and not write and regs[value_regno].type == SCALAR_VALUE:
        if is_ldsx:
            coerce_reg_to_size_sx(regs[value_regno], size)
        else:
            coerce_reg_to_size(regs[value_regno], size)


__all__ = ["check_mem_access", "check_helper_mem_write", "check_mem_region_access", "check_map_access", "check_packet_access", "check_stack_range_initialized",
           "check_ptr_alignment", "check_ptr_off_reg", "READ", "WRITE", "may_access_direct_pkt_data"]
