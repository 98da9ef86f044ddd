"""PTR_TO_BTF_ID: kernel pointers typed by the running kernel's BTF, as kernel/bpf/btf.c and verifier.c check them.

- `btf_struct_access` / `btf_struct_walk`: a load at `off` of `size` bytes through a pointer to a kernel struct is
  a scalar (an int, an enum, part of an array, a whole bitfield) or a further PTR_TO_BTF_ID (a member that points
  to a struct), or is refused with the kernel's message;
- `check_ptr_to_btf_access`: the rules around it (privilege, GPL, negative or variable offsets, user/percpu
  memory, read only) and the trust the result inherits (trusted, RCU, untrusted, from the kernel's
  BTF_TYPE_SAFE_* structs, which vmlinux BTF carries as `<struct>__safe_rcu` and friends);
- `check_ptr_to_map_access`: a map pointer read as the kernel struct behind it (bpf_array, bpf_htab, ...);
- `btf_ctx_access`: the context of tp_btf / fentry / fexit / fmod_ret programs from the attach target's BTF
  prototype (every argument a u64 slot; pointer arguments become PTR_TO_BTF_ID of the pointee).

The register's BTF type id is kept in `Reg.mem_size`, as the kernel keeps `btf_id` in the union that also holds
`mem_size`: pruning (regsafe's exact comparison) then tells two kernel structs apart with no new field. The BTF is
always vmlinux (`pyebpf.btf.kernel_btf`, read once); module BTF is not modelled.
"""
from __future__ import annotations

import errno

from pyebpf.abi.btf import BtfKind
from pyebpf.abi.context import (BTF_CTX_ATTACH_TYPES, FMODRET_FUNCS, ITER_BUF, ITER_CTX_ARGS, ITER_MAYBE_NULL,
                                ITER_RDONLY, ITER_TRUSTED, MAX_BPF_FUNC_ARGS, NON_SLEEPABLE_ERROR_INJECT,
                                NORETURN_DENY, SECURITY_PREFIX, TRACING_DENY, return_range)
from pyebpf.abi.lsm import LSM_DISABLED_HOOKS, LSM_HOOKS_UNION, LSM_SLEEPABLE_HOOKS, LSM_UNTRUSTED_HOOKS
from pyebpf.abi.helpers import TypeFlag
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.abi.uapi import ENOTSUPP
from pyebpf.btf import kernel_btf_or_none
from pyebpf.btf.kernel import BTF_ITER_PREFIX, BTF_LSM_PREFIX
from pyebpf.btf.spec import MODIFIER_KINDS, Btf
from pyebpf.errors import BtfError
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_unknown, reg_bounds_sync
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.regstate import (MEM_RDONLY, PTR_MAYBE_NULL, PTR_TO_BTF_ID, SCALAR_VALUE, Reg, RegType, base_type,
                                      reg_type_str)

PTR_TO_BUF = int(RegType.PTR_TO_BUF)

PTR_UNTRUSTED = int(TypeFlag.PTR_UNTRUSTED)
PTR_TRUSTED = int(TypeFlag.PTR_TRUSTED)
MEM_RCU = int(TypeFlag.MEM_RCU)
MEM_USER = int(TypeFlag.MEM_USER)
MEM_PERCPU = int(TypeFlag.MEM_PERCPU)
MEM_ALLOC = int(TypeFlag.MEM_ALLOC)
#: BPF_REG_TRUSTED_MODIFIERS
TRUSTED_MODIFIERS = MEM_ALLOC | PTR_TRUSTED
WALK_SCALAR, WALK_PTR, WALK_STRUCT = 0, 1, 2
_STRUCTS = (BtfKind.STRUCT, BtfKind.UNION)
_SIZED = (BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.DATASEC, BtfKind.FLOAT, BtfKind.ENUM64)
#: btf_type_str(): how the kernel names a BTF kind in its messages
_KIND_STR = {BtfKind.UNKN: "UNKNOWN", BtfKind.INT: "INT", BtfKind.PTR: "PTR", BtfKind.ARRAY: "ARRAY",
             BtfKind.STRUCT: "STRUCT", BtfKind.UNION: "UNION", BtfKind.ENUM: "ENUM", BtfKind.FWD: "FWD",
             BtfKind.TYPEDEF: "TYPEDEF", BtfKind.VOLATILE: "VOLATILE", BtfKind.CONST: "CONST",
             BtfKind.RESTRICT: "RESTRICT", BtfKind.FUNC: "FUNC", BtfKind.FUNC_PROTO: "FUNC_PROTO",
             BtfKind.VAR: "VAR", BtfKind.DATASEC: "DATASEC", BtfKind.FLOAT: "FLOAT", BtfKind.DECL_TAG: "DECL_TAG",
             BtfKind.TYPE_TAG: "TYPE_TAG", BtfKind.ENUM64: "ENUM64"}


def _fact(env: Env, fact: Fact):
    """The answer of the release verified for (the newest modelled one without a kernel model)."""
    return env.kernel is None or env.kernel.fact(fact)


def trust_flag(env: Env, flag: int) -> int:
    """`flag` (PTR_TRUSTED / MEM_RCU bits) on releases with trusted pointers, nothing before."""
    return flag if _fact(env, Fact.BTF_TRUSTED_PTRS) else 0


def vmlinux() -> Btf | None:
    """btf_vmlinux: the running kernel's BTF (None without CONFIG_DEBUG_INFO_BTF)."""
    return kernel_btf_or_none()


def struct_id(name: str | None) -> int:
    """The vmlinux BTF id of `struct name` (a helper's ret_btf_id / arg btf_id); 0 when unknown."""
    btf = vmlinux()
    found = btf.find(name, BtfKind.STRUCT) if btf is not None and name else None
    return found or 0


def reg_btf_id(reg: Reg) -> int:
    """reg->btf_id (kept in the union slot `mem_size`); 0 for a PTR_TO_BTF_ID whose type is not known to us."""
    return reg.mem_size


def mark_btf_ld_reg(env: Env, reg: Reg, reg_type: int, btf_id: int, flag: int) -> None:
    """mark_btf_ld_reg(): a scalar, or a PTR_TO_BTF_ID of `btf_id` at offset 0 (a fresh id when maybe NULL)."""
    mark_reg_unknown(reg)
    if reg_type == SCALAR_VALUE:
        return
    mark_reg_known(reg, 0)
    reg.type = PTR_TO_BTF_ID | flag
    reg.mem_size = btf_id
    if flag & PTR_MAYBE_NULL:
        reg.id = env.new_id()


def btf_type_name(btf: Btf, type_id: int) -> str:
    return btf.name(btf.skip_modifiers(type_id)) if type_id else ""


def reg_type_name(reg: Reg) -> str:
    """How print_verifier_state names a PTR_TO_BTF_ID register: `trusted_ptr_task_struct`."""
    btf = vmlinux()
    name = btf_type_name(btf, reg_btf_id(reg)) if btf is not None and reg_btf_id(reg) else ""
    return reg_type_str(reg.type) + name


# ---- btf_struct_walk ---------------------------------------------------------------------------------------------

def _anon(name: str) -> str:
    """__btf_name_by_offset(): an anonymous type or member is `(anon)` in the kernel's messages."""
    return name or "(anon)"


def _resolve_size(btf: Btf, type_id: int) -> tuple[int, int, int, int, int] | None:
    """__btf_resolve_size(): (kind of the outer type (ARRAY when any), total size, element id, element kind,
    total element count) after modifiers and (multi-dimensional) arrays; None when it has no size."""
    nelems, outer_array, tid = 1, False, type_id
    for _ in range(64):
        t = btf[tid]
        if t.kind in MODIFIER_KINDS:
            tid = t.size_type
            continue
        if t.kind == BtfKind.ARRAY:
            outer_array = True
            nelems *= t.array[2]
            tid = t.array[0]
            continue
        if t.kind in _SIZED:
            size = t.size_type
        elif t.kind == BtfKind.PTR:
            size = 8
        else:
            return None
        return (BtfKind.ARRAY if outer_array else t.kind), nelems * size, tid, t.kind, nelems
    return None


def btf_struct_walk(btf: Btf, type_id: int, off: int, size: int, flag: int, walk_flex: bool = True
                    ) -> tuple[int, int, int, str]:
    """btf_struct_walk(): (WALK_SCALAR / WALK_PTR / WALK_STRUCT, next type id, flags, field name); Reject with
    the kernel's message when no member covers [off, off+size)."""
    for _ in range(64):  # nested anonymous structs; a real kernel type is never this deep
        type_id = btf.skip_modifiers(type_id)
        t = btf[type_id]
        tname = _anon(btf.name(type_id))
        if t.kind not in _STRUCTS:
            raise Reject(f"Type '{tname}' is not a struct", errno.EINVAL)
        members = t.members
        if t.kind == BtfKind.UNION and len(members) != 1 and not flag & PTR_UNTRUSTED:
            flag |= PTR_UNTRUSTED  # walking unions yields untrusted pointers
        if off + size > t.size_type:
            again = _flex_array(btf, t, off, size, walk_flex)
            if again is None:
                raise Reject(f"access beyond struct {tname} at off {off} size {size}")
            if again[0] == WALK_SCALAR:
                return WALK_SCALAR, 0, flag, ""
            type_id, off = again[1], again[2]
            continue
        descend = None
        for m in members:
            moff = m.bits_offset // 8
            if off + size <= moff:
                break
            if m.bitfield_size:
                end_bit = m.bits_offset + m.bitfield_size
                if off <= moff and (end_bit + 7) // 8 <= off + size:
                    return WALK_SCALAR, 0, flag, ""
                continue
            if off < moff:
                break
            mname = _anon(btf.str_at(m.name_off))
            resolved = _resolve_size(btf, m.type)
            if resolved is None:
                raise Reject(f"field {mname} doesn't have size", errno.EFAULT)
            mkind, msize, elem_id, elem_kind, nelems = resolved
            mid = elem_id
            mtrue_end = moff + msize
            if off >= mtrue_end:
                continue
            if mkind == BtfKind.ARRAY:
                if moff == mtrue_end:
                    continue
                msize //= nelems
                moff += (off - moff) // msize * msize
                mkind = elem_kind
            if mkind in _STRUCTS:
                if off == moff:
                    return WALK_STRUCT, mid, flag, mname
                descend = (mid, off - moff)
                break
            if mkind == BtfKind.PTR:
                if msize != size or off != moff:
                    raise Reject(f"cannot access ptr member {mname} with moff {moff} in struct {tname} with off "
                                 f"{off} size {size}")
                pointee = btf[mid].size_type
                tmp_flag = 0
                if pointee and btf[pointee].kind == BtfKind.TYPE_TAG:
                    tmp_flag = {"user": MEM_USER, "percpu": MEM_PERCPU, "rcu": MEM_RCU}.get(
                        btf.str_at(btf[pointee].name_off), 0)
                sid = btf.skip_modifiers(pointee) if pointee else 0
                if sid and btf[sid].kind in _STRUCTS:
                    return WALK_PTR, sid, flag | tmp_flag, mname
            if off + size > mtrue_end and not flag & PTR_UNTRUSTED:
                raise Reject(f"access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} with "
                             f"off {off} size {size}")
            return WALK_SCALAR, 0, flag, mname
        if descend is None:
            raise Reject(f"struct {tname} doesn't have field at offset {off}", errno.EINVAL)
        type_id, off = descend  # `goto again` into the member struct at the adjusted offset
    raise Reject("verifier internal error: BTF struct nesting too deep", errno.EFAULT)


def _flex_array(btf: Btf, t, off: int, size: int, walk_flex: bool) -> tuple[int, int, int] | None:
    """The flexible-array relaxation of btf_struct_walk: (WALK_SCALAR, 0, 0) or (WALK_STRUCT, elem id, new off),
    None for `access beyond struct`."""
    if not walk_flex or not t.members:
        return None
    last = t.members[-1]
    mid = btf.skip_modifiers(last.type)
    arr = btf[mid]
    if arr.kind != BtfKind.ARRAY or arr.array[2] != 0:
        return None
    moff = last.bits_offset // 8
    if off < moff:
        return None
    eid = btf.skip_modifiers(arr.array[0])
    elem = btf[eid]
    if elem.kind == BtfKind.INT:
        return WALK_SCALAR, 0, 0
    if elem.kind not in _STRUCTS or not elem.size_type:
        return None
    return WALK_STRUCT, eid, (off - moff) % elem.size_type


def btf_struct_access(btf: Btf, type_id: int, off: int, size: int, alloc: bool = False
                      ) -> tuple[int, int, int, str]:
    """btf_struct_access(): (SCALAR_VALUE or PTR_TO_BTF_ID, next btf id, flags, field name)."""
    flag = 0
    for _ in range(64):
        kind, nid, flag, field = btf_struct_walk(btf, type_id, off, size, flag, not alloc)
        if kind == WALK_PTR:
            return (SCALAR_VALUE, 0, 0, field) if alloc else (PTR_TO_BTF_ID, nid, flag, field)
        if kind == WALK_SCALAR:
            return SCALAR_VALUE, 0, flag, field
        type_id, off = nid, 0
    raise Reject("verifier internal error: BTF struct nesting too deep", errno.EFAULT)


# ---- trust of the pointers a walk yields -------------------------------------------------------------------------

def _nested_safe(btf: Btf, reg: Reg, field: str, btf_id: int, suffix: str) -> bool:
    """btf_nested_type_is_trusted(): `field` of the register's struct is listed in vmlinux BTF's
    `<struct><suffix>` (BTF_TYPE_SAFE_RCU / _RCU_OR_NULL / _TRUSTED / _TRUSTED_OR_NULL) with the same type."""
    if not field:
        return False
    tname = btf_type_name(btf, reg_btf_id(reg))
    safe = btf.find(tname + suffix, BtfKind.STRUCT)
    if safe is None:
        return False
    for m in btf[safe].members:
        if btf.str_at(m.name_off) != field:
            continue
        ptr = btf.skip_modifiers(m.type)
        if btf[ptr].kind != BtfKind.PTR:
            return False
        return btf.name(btf.skip_modifiers(btf[ptr].size_type)) == btf.name(btf_id)
    return False


def is_trusted_reg(reg: Reg) -> bool:
    """is_trusted_reg(): referenced, or flagged trusted with no unsafe modifier."""
    if reg.ref_obj_id:
        return True
    t = reg.type
    return bool(t & TRUSTED_MODIFIERS) and not t & (PTR_UNTRUSTED | MEM_USER | MEM_PERCPU | MEM_RCU)


def is_rcu_reg(reg: Reg) -> bool:
    return bool(reg.type & MEM_RCU)


def _in_rcu_cs(env: Env) -> bool:
    """in_rcu_cs(): no bpf_rcu_read_lock is modelled, so inside a CS means a non-sleepable program (or a lock)."""
    return env.cur.active_lock is not None or not env.sleepable


def _walked_flag(env: Env, btf: Btf, reg: Reg, ret: int, flag: int, field: str, btf_id: int) -> int:
    """check_ptr_to_btf_access(): the trust flags of a pointer loaded through `reg`."""
    if ret != PTR_TO_BTF_ID:
        return flag
    if not _fact(env, Fact.BTF_TRUSTED_PTRS):
        return flag & (MEM_USER | MEM_PERCPU)
    if reg.type & PTR_UNTRUSTED:
        return PTR_UNTRUSTED
    if is_trusted_reg(reg) or is_rcu_reg(reg):
        if _nested_safe(btf, reg, field, btf_id, "__safe_trusted"):
            return flag | PTR_TRUSTED
        if _nested_safe(btf, reg, field, btf_id, "__safe_trusted_or_null"):
            return flag | PTR_TRUSTED | PTR_MAYBE_NULL
        if _in_rcu_cs(env) and not reg.type & PTR_MAYBE_NULL:
            if _nested_safe(btf, reg, field, btf_id, "__safe_rcu"):
                return flag | MEM_RCU
            rcu_or_null = _nested_safe(btf, reg, field, btf_id, "__safe_rcu_or_null")
            if flag & MEM_RCU or rcu_or_null:
                flag |= MEM_RCU | PTR_MAYBE_NULL
                if rcu_or_null and flag & PTR_UNTRUSTED:
                    flag &= ~PTR_UNTRUSTED
                return flag
            if flag & (MEM_PERCPU | MEM_USER):
                return flag
            if _fact(env, Fact.BTF_WALK_UNTRUSTED):
                return PTR_UNTRUSTED
            return flag & ~(PTR_TRUSTED | MEM_ALLOC)  # walking unknown pointers yields plain PTR_TO_BTF_ID
        return PTR_UNTRUSTED
    return flag & ~(PTR_TRUSTED | MEM_ALLOC)  # old compat


# ---- loads ---------------------------------------------------------------------------------------------------------

def check_ptr_to_btf_access(env: Env, regno: int, off: int, size: int, write: bool, value_regno: int) -> None:
    """check_ptr_to_btf_access() (off already includes reg->off)."""
    reg = env.regs[regno]
    btf = vmlinux()
    if btf is None or not reg_btf_id(reg):
        raise Reject(f"R{regno} invalid mem access '{reg_type_name(reg)}': its kernel type is not known to this "
                     f"verifier")
    tname = btf_type_name(btf, reg_btf_id(reg))
    if not env.allow_ptr_leaks:
        raise Reject(f"'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", errno.EPERM)
    if not env.gpl:
        raise Reject(f"Cannot access kernel 'struct {tname}' from non-GPL compatible program", errno.EINVAL)
    if off < 0:
        raise Reject(f"R{regno} is ptr_{tname} invalid negative access: off={off}")
    if reg.var_off.mask or reg.var_off.value:
        from pyebpf.verifier.memory import _tn
        raise Reject(f"R{regno} is ptr_{tname} invalid variable offset: off={off}, var_off={_tn(reg.var_off)}")
    if reg.type & MEM_USER:
        raise Reject(f"R{regno} is ptr_{tname} access user memory: off={off}")
    if reg.type & MEM_PERCPU:
        raise Reject(f"R{regno} is ptr_{tname} access percpu memory: off={off}")
    if write:
        # env->ops->btf_struct_access (the few writable kernel fields of some program types) is not modelled
        raise Reject("only read is supported")
    ret, btf_id, flag, field = btf_struct_access(btf, reg_btf_id(reg), off, size)
    flag = _walked_flag(env, btf, reg, ret, flag, field, btf_id)
    if value_regno >= 0:
        mark_btf_ld_reg(env, env.regs[value_regno], ret, btf_id, flag)


#: map type -> the vmlinux struct its ops->map_btf_id names (BTF_ID_LIST_SINGLE(..., struct, X) in each map file)
MAP_STRUCT: dict[MapType, str] = {
    **dict.fromkeys((MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY,
                     MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS), "bpf_array"),
    **dict.fromkeys((MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
                     MapType.HASH_OF_MAPS), "bpf_htab"),
    MapType.RINGBUF: "bpf_ringbuf_map", MapType.USER_RINGBUF: "bpf_ringbuf_map",
    MapType.STACK_TRACE: "bpf_stack_map", MapType.LPM_TRIE: "lpm_trie",
    MapType.QUEUE: "bpf_queue_stack", MapType.STACK: "bpf_queue_stack",
}
"""The map families whose kernel struct is tabled; others are refused as not modelled."""


def check_ptr_to_map_access(env: Env, regno: int, off: int, size: int, write: bool, value_regno: int) -> None:
    """check_ptr_to_map_access(): a map pointer read as its kernel struct, by privileged programs only."""
    reg = env.regs[regno]
    btf = vmlinux()
    if btf is None:
        raise Reject("map_ptr access not supported without CONFIG_DEBUG_INFO_BTF", ENOTSUPP)
    tname = MAP_STRUCT.get(reg.map.spec.type) if reg.map is not None else None
    struct_id = btf.find(tname, BtfKind.STRUCT) if tname else None
    if struct_id is None:
        raise Reject(f"R{regno} invalid mem access 'map_ptr': the kernel struct of this map type is not known to "
                     f"this verifier")
    if not env.allow_ptr_leaks:
        raise Reject(f"'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", errno.EPERM)
    if off < 0:
        raise Reject(f"R{regno} is {tname} invalid negative access: off={off}")
    if write:
        raise Reject(f"only read from {tname} is supported")
    ret, btf_id, flag, _ = btf_struct_access(btf, struct_id, off, size)
    if value_regno >= 0:
        mark_btf_ld_reg(env, env.regs[value_regno], ret, btf_id, flag)


# ---- the context of BTF-typed tracing programs ------------------------------------------------------------------

class AttachTarget:
    """prog->aux->attach_func_proto / attach_func_name / attach_btf_trace for a TRACING or LSM program, and what
    the kernel derives from the target: the LSM hook (bpf_lsm_<hook>) and the iterator's ctx_arg_info."""

    __slots__ = ("name", "proto_id", "btf_trace", "raw_tp_name", "returns_void", "lsm_hook", "iter_args")

    def __init__(self, name: str, proto_id: int, btf_trace: bool, raw_tp_name: str = "", returns_void: bool = False,
                 lsm_hook: str = "", iter_args: dict[int, frozenset[str]] | None = None) -> None:
        self.name = name
        self.proto_id = proto_id
        self.btf_trace = btf_trace
        self.raw_tp_name = raw_tp_name
        self.returns_void = returns_void
        self.lsm_hook = lsm_hook
        self.iter_args = iter_args


#: can_be_sleepable(): the TRACING attach types a BPF_F_SLEEPABLE program may have
_SLEEPABLE_TRACING = frozenset({AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN,
                                AttachType.TRACE_ITER})


def can_be_sleepable(prog_type, attach_type, kernel=None) -> bool:
    """can_be_sleepable() (verifier.c); `kernel` (a KernelModel) for releases before it (any TRACING program, no
    sleepable uprobes on 5.10)."""
    if prog_type == ProgType.TRACING:
        return attach_type in _SLEEPABLE_TRACING or (kernel is not None and kernel.fact(Fact.SLEEPABLE_ANY_TRACING))
    if prog_type == ProgType.LSM:
        return attach_type != AttachType.LSM_CGROUP
    if prog_type == ProgType.KPROBE:
        return kernel is None or kernel.fact(Fact.SLEEPABLE_KPROBE)
    return prog_type == ProgType.STRUCT_OPS


def check_attach_btf_id(env: Env, attach_btf_id: int, attach_to: str | None) -> AttachTarget | None:
    """check_attach_btf_id() (verifier.c): SYSCALL programs must be sleepable, only some types may be; a TRACING
    or LSM program's target (bpf_check_attach_target) and, for LSM, bpf_lsm_verify_prog. Returns the target of a
    BTF-context program, None for the others."""
    pt = env.prog_type
    if pt == ProgType.SYSCALL:
        if not env.sleepable:
            raise Reject("Syscall programs can only be sleepable", errno.EINVAL)
        return None
    if env.sleepable and not can_be_sleepable(pt, env.attach_type, env.kernel):
        raise Reject("Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable",
                     errno.EINVAL)
    if pt not in BTF_CTX_ATTACH_TYPES:
        return None
    btf = vmlinux()
    if btf is None:
        raise Reject("FENTRY/FEXIT program can only be attached to another program annotated with BTF",
                     errno.EINVAL)
    target = attach_target(btf, env.attach_type, attach_btf_id, attach_to)
    if env.attach_type == AttachType.TRACE_ITER:
        iter_target = target.name[len(BTF_ITER_PREFIX):] if target.name.startswith(BTF_ITER_PREFIX) else None
        if iter_target is None:
            raise Reject("", errno.EINVAL)  # bpf_iter_prog_supported(): not an iterator, no log line
        if iter_target not in ITER_CTX_ARGS:
            raise Reject(f"the context of iterator target {iter_target!r} is not modelled by this verifier",
                         errno.EINVAL)
        target.iter_args = ITER_CTX_ARGS[iter_target]
    elif pt == ProgType.TRACING and env.attach_type in _TRAMPOLINE_TRACING:
        _check_trampoline_target(env, target.name)
    elif pt == ProgType.LSM:
        sleepable_hooks = LSM_SLEEPABLE_HOOKS if env.kernel is None else env.kernel.fact(Fact.LSM_SLEEPABLE_HOOKS)
        if env.sleepable and target.lsm_hook not in sleepable_hooks:
            raise Reject(f"{target.name} is not sleepable", errno.EINVAL)
        if not env.gpl:  # bpf_lsm_verify_prog()
            raise Reject("LSM programs must have a GPL compatible license", errno.EINVAL)
        tid = attach_btf_id or btf.find(target.name, BtfKind.FUNC)
        if target.lsm_hook in LSM_DISABLED_HOOKS and (env.kernel is None or env.kernel.fact(Fact.LSM_DISABLED_HOOKS)):
            raise Reject(f"attach_btf_id {tid} points to disabled hook {target.name}", errno.EINVAL)
        if target.lsm_hook not in _lsm_hooks(btf):
            raise Reject(f"attach_btf_id {tid} points to wrong type name {target.name}", errno.EINVAL)
    return target


_TRAMPOLINE_TRACING = frozenset({AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN})


def _check_trampoline_target(env: Env, name: str) -> None:
    """bpf_check_attach_target()'s sleepable and fmod_ret rules (the error-injection list, the fmodret kfunc sets,
    security_* functions), then check_attach_btf_id()'s deny lists, for a fentry/fexit/fmod_ret program."""
    from pyebpf.system.error_injection import ERROR_INJECTION_LIST, error_injection_functions
    injectable = error_injection_functions()
    fmodret = FMODRET_FUNCS if env.kernel is None or env.kernel.fact(Fact.FMODRET_ID_SETS) else {}
    if env.sleepable:
        ok = fmodret.get(name, False) or (
            name not in NON_SLEEPABLE_ERROR_INJECT and injectable is not None and name in injectable)
        if not ok and injectable is None:
            raise Reject(f"{name}: whether it is on the error-injection list (which sleepable programs need) is not "
                         f"known to this verifier ({ERROR_INJECTION_LIST} is unreadable)", errno.EINVAL)
        if not ok:
            raise Reject(f"{name} is not sleepable", errno.EINVAL)
    elif env.attach_type == AttachType.MODIFY_RETURN:
        ok = name in fmodret or name.startswith(SECURITY_PREFIX) or (
            injectable is not None and name in injectable)
        if not ok and injectable is None:
            raise Reject(f"{name}(): whether it is on the error-injection list (which fmod_ret needs) is not known "
                         f"to this verifier ({ERROR_INJECTION_LIST} is unreadable)", errno.EINVAL)
        if not ok:
            raise Reject(f"{name}() is not modifiable", errno.EINVAL)
    if name in TRACING_DENY:
        raise Reject("", errno.EINVAL)
    if env.attach_type in (AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN) and name in NORETURN_DENY and (
            env.kernel is None or env.kernel.fact(Fact.NORETURN_FEXIT_DENY)):
        raise Reject("Attaching fexit/fmod_ret to __noreturn functions is rejected.", errno.EINVAL)


def _lsm_hooks(btf: Btf) -> frozenset[str]:
    """bpf_lsm_hooks: every LSM_HOOK() is a member of union security_list_options, so BTF lists them."""
    cached = getattr(btf, "_pyebpf_lsm_hooks", None)
    if cached is None:
        uid = btf.find(LSM_HOOKS_UNION, BtfKind.UNION)
        cached = frozenset(btf.str_at(m.name_off) for m in btf[uid].members) if uid else frozenset()
        try:
            btf._pyebpf_lsm_hooks = cached
        except AttributeError:
            pass
    return cached


def attach_target(btf: Btf, attach_type, attach_btf_id: int, attach_to: str | None) -> AttachTarget:
    """bpf_check_attach_target(), the parts the context needs: the BTF prototype the program attaches to (by
    attach_btf_id, else by name as libbpf would find it). Reject as the kernel does without one."""
    from pyebpf.btf.kernel import BTF_TRACE_PREFIX, attach_btf_id as find_id
    tid = attach_btf_id
    if not tid and attach_to:
        try:
            tid = find_id(attach_type, attach_to, btf)
        except BtfError:
            tid = 0
    if not tid:
        raise Reject("Tracing programs must provide btf_id", errno.EINVAL)
    if btf.kind(tid) is None:
        raise Reject(f"attach_btf_id {tid} is invalid", errno.EINVAL)
    t = btf[tid]
    name = btf.name(tid)
    if attach_type == AttachType.TRACE_RAW_TP:
        if t.kind != BtfKind.TYPEDEF:
            raise Reject(f"attach_btf_id {tid} is not a typedef", errno.EINVAL)
        if not name.startswith(BTF_TRACE_PREFIX):
            raise Reject(f"attach_btf_id {tid} points to wrong type name {name}", errno.EINVAL)
        ptr = btf.skip_modifiers(tid)
        proto = btf[ptr].size_type if btf[ptr].kind == BtfKind.PTR else 0
        if not proto or btf[proto].kind != BtfKind.FUNC_PROTO:
            raise Reject(f"attach_btf_id {tid} is not a function prototype", errno.EINVAL)
        tp = name[len(BTF_TRACE_PREFIX):]
        return AttachTarget(tp, proto, True, tp)
    if t.kind != BtfKind.FUNC:
        raise Reject(f"attach_btf_id {tid} is not a function", errno.EINVAL)
    proto = t.size_type
    hook = name[len(BTF_LSM_PREFIX):] if attach_type in (AttachType.LSM_MAC, AttachType.LSM_CGROUP) and \
        name.startswith(BTF_LSM_PREFIX) else ""
    return AttachTarget(name, proto, False, returns_void=not btf[proto].size_type, lsm_hook=hook)


def _args_trusted(env: Env) -> bool:
    """prog_args_trusted() (btf.c): tp_btf and iterator arguments, and LSM hooks' but the untrusted ones."""
    if env.prog_type == ProgType.LSM:
        return env.attach_target.lsm_hook not in LSM_UNTRUSTED_HOOKS
    return env.attach_type in (AttachType.TRACE_RAW_TP, AttachType.TRACE_ITER)


def _is_small_int(btf: Btf, tid: int) -> bool:
    t = btf[tid]
    return t.kind == BtfKind.INT and t.size_type <= 8


def _arg_slot_size(btf: Btf, tid: int) -> int:
    t = btf[btf.skip_modifiers(tid)] if tid else None
    if t is None or t.kind == BtfKind.PTR:
        return 8
    return (t.size_type + 7) // 8 * 8


def _ctx_arg_idx(btf: Btf, proto_id: int, off: int) -> int:
    """get_ctx_arg_idx(): the argument a byte offset of the u64 context array falls in (the full prototype,
    `void *__data` of a btf_trace_ typedef included, as the kernel counts it)."""
    params = btf[proto_id].members
    offset = 0
    for i, (_, tid) in enumerate(params):
        offset += _arg_slot_size(btf, tid)
        if off < offset:
            return i
    offset += _arg_slot_size(btf, btf[proto_id].size_type)
    return len(params) if off < offset else len(params) + 1


def btf_ctx_access(env: Env, target: AttachTarget, off: int, size: int, write: bool) -> tuple[int, int] | None:
    """bpf_tracing_btf_ctx_access(): None when the access is refused (the caller prints `invalid bpf_context
    access`), else (register type of the loaded value, btf id); SCALAR_VALUE for scalars. The kernel's lines
    about the argument go to the log as it prints them."""
    if off < 0 or off >= 8 * MAX_BPF_FUNC_ARGS or write or off % size:
        return None
    btf = vmlinux()
    tname = target.name
    if off % 8:
        env.verbose(f"func '{tname}' offset {off} is not multiple of 8\n")
        return None
    proto = btf[target.proto_id]
    arg = _ctx_arg_idx(btf, target.proto_id, off)
    args = [tid for _, tid in proto.members]
    if target.btf_trace:
        args = args[1:]
    nr_args = len(args)
    if arg > nr_args:
        env.verbose(f"func '{tname}' doesn't have {arg + 1}-th argument\n")
        return None
    if arg == nr_args:
        at = env.attach_type
        if at == AttachType.TRACE_FEXIT or at in (AttachType.LSM_MAC, AttachType.LSM_CGROUP):
            tid = proto.size_type
        elif at == AttachType.MODIFY_RETURN:
            tid = btf.skip_modifiers(proto.size_type)
            if not _is_small_int(btf, tid):
                env.verbose(f"ret type {_KIND_STR.get(btf[tid].kind, 'UNKNOWN') if tid else 'UNKNOWN'} not "
                            f"allowed for fmod_ret\n")
                return None
        else:
            env.verbose(f"func '{tname}' doesn't have {arg + 1}-th argument\n")
            return None
    else:
        tid = args[arg]
    tid = btf.skip_modifiers(tid)
    t = btf[tid] if tid else None
    if t is not None and (_is_small_int(btf, tid) or t.kind in (BtfKind.ENUM, BtfKind.ENUM64, *_STRUCTS)):
        return SCALAR_VALUE, 0
    if t is None or t.kind != BtfKind.PTR:
        kind = _KIND_STR.get(t.kind, "UNKNOWN") if t is not None else "UNKNOWN"
        env.verbose(f"func '{tname}' arg{arg} '{_anon(btf.name(tid))}' has type {kind}. Only pointer access is "
                    f"allowed\n")
        return None
    if size != 8 and _fact(env, Fact.BTF_CTX_PTR_SIZE_8):
        env.verbose(f"func '{tname}' size {size} must be 8\n")
        return None
    buf = target.iter_args.get(arg) if target.iter_args is not None else None
    if buf is not None and ITER_BUF in buf:  # ctx_arg_info PTR_TO_BUF | PTR_MAYBE_NULL: a map's key or value
        return PTR_TO_BUF | PTR_MAYBE_NULL | (MEM_RDONLY if ITER_RDONLY in buf else 0), 0
    pointee = t.size_type
    if not pointee or btf[btf.skip_modifiers(pointee)].kind == BtfKind.INT:
        return SCALAR_VALUE, 0  # void * and int *: scalars, no further walking
    if target.iter_args is not None and arg in target.iter_args:
        # the iterator's ctx_arg_info: its own register type for this argument, the prototype's struct
        flags = target.iter_args[arg]
        reg_type = PTR_TO_BTF_ID | (PTR_MAYBE_NULL if ITER_MAYBE_NULL in flags else 0)
        if ITER_TRUSTED in flags:
            reg_type |= trust_flag(env, PTR_TRUSTED)
        return reg_type, btf.skip_modifiers(pointee)
    reg_type = PTR_TO_BTF_ID
    if _args_trusted(env) and _fact(env, Fact.BTF_TRUSTED_PTRS):
        reg_type |= PTR_TRUSTED
    if env.attach_type == AttachType.TRACE_RAW_TP:
        mask = RAW_TP_NULL_ARGS.get(target.raw_tp_name, 0)
        if mask & (1 << (arg * 4)):
            reg_type |= PTR_MAYBE_NULL
        ptr_err = bool(mask & (2 << (arg * 4)))
    else:
        ptr_err = False
    if btf[pointee].kind == BtfKind.TYPE_TAG:
        reg_type |= {"user": MEM_USER, "percpu": MEM_PERCPU}.get(btf.str_at(btf[pointee].name_off), 0)
    btf_id = pointee
    while btf[btf_id].kind in MODIFIER_KINDS:
        btf_id = btf[btf_id].size_type
    st = btf[btf_id]
    if st.kind not in _STRUCTS:
        env.verbose(f"func '{tname}' arg{arg} type {_KIND_STR.get(st.kind, 'UNKNOWN')} is not a struct\n")
        return None
    env.verbose(f"func '{tname}' arg{arg} has btf_id {btf_id} type {_KIND_STR[st.kind]} '{_anon(btf.name(btf_id))}'\n")
    if ptr_err:
        env.verbose(f"marking pointer arg{arg} as scalar as it may encode error")
        return SCALAR_VALUE, 0
    return reg_type, btf_id


#: raw_tp_null_args (kernel/bpf/btf.c): tracepoints whose pointer arguments may be NULL (bit 4*arg) or an
#: IS_ERR value (bit 4*arg+1); copied from linux 6.12
RAW_TP_NULL_ARGS: dict[str, int] = {
    "sched_pi_setprio": 0x10, "sched_process_wait": 0x1, "sched_stick_numa": 0x100, "sched_swap_numa": 0x100,
    "afs_make_fs_call": 0x10, "afs_make_fs_calli": 0x10, "afs_make_fs_call1": 0x10, "afs_make_fs_call2": 0x10,
    "afs_protocol_error": 0x1, "afs_flock_ev": 0x10, "cachefiles_lookup": 0x201, "cachefiles_unlink": 0x1,
    "cachefiles_rename": 0x1, "cachefiles_prep_read": 0x1, "cachefiles_mark_active": 0x1,
    "cachefiles_mark_failed": 0x1, "cachefiles_mark_inactive": 0x1, "cachefiles_vfs_error": 0x1,
    "cachefiles_io_error": 0x1, "cachefiles_ondemand_open": 0x1, "cachefiles_ondemand_copen": 0x1,
    "cachefiles_ondemand_close": 0x1, "cachefiles_ondemand_read": 0x1, "cachefiles_ondemand_cread": 0x1,
    "cachefiles_ondemand_fd_write": 0x1, "cachefiles_ondemand_fd_release": 0x1, "ext4_mballoc_discard": 0x10,
    "ext4_mballoc_free": 0x10, "fib_table_lookup": 0x100, "posix_lock_inode": 0x10, "fcntl_setlk": 0x10,
    "locks_remove_posix": 0x10, "flock_lock_inode": 0x10, "break_lease_noblock": 0x10, "break_lease_block": 0x10,
    "break_lease_unblock": 0x10, "generic_delete_lease": 0x10, "time_out_leases": 0x10,
    "host1x_cdma_push_gather": 0x10000, "mm_khugepaged_scan_pmd": 0x10, "mm_collapse_huge_page_isolate": 0x1,
    "mm_khugepaged_scan_file": 0x10, "mm_khugepaged_collapse_file": 0x10, "mm_page_alloc": 0x1,
    "mm_page_pcpu_drain": 0x1, "mm_page_alloc_zone_locked": 0x1, "netfs_failure": 0x10,
    "device_pm_callback_start": 0x10, "qdisc_dequeue": 0x1000, "rxrpc_recvdata": 0x1, "rxrpc_resend": 0x10,
    "signal_generate": 0x20, "signal_deliver": 0x20, "kfree_skb": 0x1000, "xs_stream_read_data": 0x1,
    "xprt_reserve_cong": 0x10, "xprt_release_cong": 0x10, "xprt_get_cong": 0x10, "xprt_put_cong": 0x10,
    "tcp_send_reset": 0x11, "tegra_dma_tx_status": 0x100, "tmigr_update_events": 0x1, "writeback_dirty_folio": 0x10,
    "folio_wait_writeback": 0x10, "mr_integ_alloc": 0x2000, "bpf_testmod_test_read": 0x0,
}


def _retval_range(env: Env, off: int):
    """An LSM_MAC program reading the slot after the hook's arguments reads its return value, bounded by the
    hook's return range (get_func_retval_range); None for any other load."""
    target = env.attach_target
    if env.attach_type != AttachType.LSM_MAC or target.returns_void:
        return None
    btf = vmlinux()
    if _ctx_arg_idx(btf, target.proto_id, off) != len(btf[target.proto_id].members):
        return None
    return return_range(env.prog_type, env.attach_type, hook=target.lsm_hook, returns_void=False)


def check_btf_ctx_load(env: Env, regno: int, off: int, size: int, write: bool, value_regno: int) -> None:
    """check_ctx_access() for BTF-typed tracing programs, and the load of its result (check_mem_access)."""
    reg = env.regs[regno]
    if write and value_regno >= 0 and env.is_pointer_value(env.regs[value_regno]):
        raise Reject(f"R{value_regno} leaks addr into ctx")
    from pyebpf.verifier.memory import check_ptr_off_reg
    check_ptr_off_reg(env, reg, regno)
    found = btf_ctx_access(env, env.attach_target, off, size, write)
    if found is None:
        raise Reject(f"invalid bpf_context access off={off} size={size}")
    if not write and value_regno >= 0:
        rtype, btf_id = found
        dst = env.regs[value_regno]
        if rtype == SCALAR_VALUE:
            mark_reg_unknown(dst)
            rng = _retval_range(env, off)
            if rng is not None:  # info->is_retval: the hook's return value so far, __mark_reg_s32_range
                dst.s32_min, dst.s32_max = max(dst.s32_min, rng.min), min(dst.s32_max, rng.max)
                dst.smin, dst.smax = max(dst.smin, rng.min), min(dst.smax, rng.max)
                reg_bounds_sync(dst)
        elif base_type(rtype) == PTR_TO_BUF:
            mark_reg_unknown(dst)
            mark_reg_known(dst, 0)
            dst.type = rtype
            dst.id = env.new_id()
        else:
            mark_btf_ld_reg(env, dst, PTR_TO_BTF_ID, btf_id, rtype & ~PTR_TO_BTF_ID)


#: btf_ptr_types: the registers an ARG_PTR_TO_BTF_ID helper argument takes
HELPER_BTF_ID_TYPES = (PTR_TO_BTF_ID, PTR_TO_BTF_ID | PTR_TRUSTED, PTR_TO_BTF_ID | MEM_RCU)


def helper_btf_id_types(env: Env) -> tuple[int, ...]:
    """btf_ptr_types of the release verified for (one type before trusted pointers)."""
    return HELPER_BTF_ID_TYPES if _fact(env, Fact.BTF_TRUSTED_PTRS) else HELPER_BTF_ID_TYPES[:1]


def check_helper_btf_arg(env: Env, regno: int, arg) -> None:
    """check_reg_type() for ARG_PTR_TO_BTF_ID: not NULL unless the argument allows it, and a pointer to the
    struct the prototype names (or one that begins with it; the very struct when the argument is released)."""
    reg = env.regs[regno]
    release = bool(arg.flags & TypeFlag.OBJ_RELEASE)
    if reg.type & PTR_MAYBE_NULL and (not arg.flags & TypeFlag.PTR_MAYBE_NULL or release):
        raise Reject(f"Possibly NULL pointer passed to helper arg{regno}")
    btf = vmlinux()
    need = struct_id(arg.btf_id)
    if btf is None or not need or not reg_btf_id(reg):
        raise Reject(f"R{regno}: helper argument of kernel struct {arg.btf_id or '?'} is not modelled by this "
                     f"verifier", errno.EINVAL)
    from pyebpf.verifier.kfunc import struct_ids_match
    if not struct_ids_match(btf, reg_btf_id(reg), reg.off, need, release):
        raise Reject(f"R{regno} is of type {btf_type_name(btf, reg_btf_id(reg))} but {btf.name(need)} is expected")


__all__ = ["btf_struct_walk", "btf_struct_access", "check_ptr_to_btf_access", "check_ptr_to_map_access",
           "btf_ctx_access", "check_btf_ctx_load", "attach_target", "AttachTarget", "mark_btf_ld_reg",
           "reg_btf_id", "reg_type_name", "struct_id", "is_trusted_reg", "is_rcu_reg", "MAP_STRUCT",
           "RAW_TP_NULL_ARGS", "check_attach_btf_id", "can_be_sleepable"]
