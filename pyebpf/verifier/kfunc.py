"""kfunc calls (check_kfunc_call / check_kfunc_args of kernel/bpf/verifier.c) for the kfuncs whose arguments are
scalars and pointers to kernel structs: prototypes from vmlinux BTF, flags and per-program-type sets from
`abi.kfuncs` (the kernel keeps them in .BTF_ids, which the BTF file does not carry).

Modelled: scalar arguments, PTR_TO_BTF_ID arguments matched by btf_struct_ids_match (strict for released
references), KF_TRUSTED_ARGS / KF_RCU trust rules, NULL arguments, KF_ACQUIRE (a reference the program must
release), KF_RELEASE, KF_RET_NULL, KF_SLEEPABLE; results that are scalars, void or struct pointers. Kfuncs with
other argument kinds (dynptrs, iterators, graph nodes, memory+size pairs, callbacks, casts) are refused as not
modelled, never accepted unchecked.
"""
from __future__ import annotations

import errno

from pyebpf.abi.btf import BtfKind
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.kfuncs import KfFlag, kfunc_flags, modelled_kfunc
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_not_init, mark_reg_unknown
from pyebpf.verifier.btf_ptr import (
    MEM_ALLOC, PTR_TRUSTED, TRUSTED_MODIFIERS, btf_struct_walk, is_rcu_reg, is_trusted_reg, reg_btf_id, vmlinux,
    WALK_STRUCT,
)
from pyebpf.verifier.env import DST_OP_NO_MARK, SRC_OP, Env, Reject
from pyebpf.verifier.dynptr import DYNPTR_KFUNCS, check_dynptr_kfunc
from pyebpf.verifier.iters import ITER_KFUNCS, check_iter_kfunc
from pyebpf.verifier.regstate import (
    NOT_INIT, PTR_MAYBE_NULL, PTR_TO_BTF_ID, PTR_TO_CTX, SCALAR_VALUE, Reg, RegFlag, base_type, reg_type_str,
)

_SCALAR_KINDS = (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64)
_STRUCTS = (BtfKind.STRUCT, BtfKind.UNION)
_UNSAFE = int(RegFlag.PTR_UNTRUSTED | RegFlag.MEM_USER | RegFlag.MEM_PERCPU | RegFlag.MEM_RCU)
_KIND_STR = {BtfKind.STRUCT: "STRUCT", BtfKind.UNION: "UNION", BtfKind.INT: "INT", BtfKind.PTR: "PTR",
             BtfKind.ENUM: "ENUM", BtfKind.ENUM64: "ENUM64", BtfKind.FWD: "FWD", BtfKind.FLOAT: "FLOAT",
             BtfKind.ARRAY: "ARRAY", BtfKind.FUNC_PROTO: "FUNC_PROTO", BtfKind.UNKN: "UNKNOWN"}
CALLER_SAVED = (0, 1, 2, 3, 4, 5)
MAX_BPF_FUNC_REG_ARGS = 5


def _register_is_null(reg: Reg) -> bool:
    return reg.type == SCALAR_VALUE and not reg.var_off.mask and reg.var_off.value == 0


def struct_ids_match(btf, reg_id: int, off: int, need_id: int, strict: bool) -> bool:
    """btfstruct_ids_match(): the same struct, or (not strict) one nested at offset `off` of the register's."""
    if off == 0 and btf.name(reg_id) == btf.name(need_id) and btf[reg_id].kind == btf[need_id].kind:
        return True
    if strict:
        return False
    tid = reg_id
    for _ in range(32):
        try:
            kind, tid, _, _ = btf_struct_walk(btf, tid, off, 1, 0)
        except Reject:
            return False
        if kind != WALK_STRUCT:
            return False
        if btf.name(tid) == btf.name(need_id):
            return True
        off = 0
    return False


def check_kfunc_call(env: Env, func_id: int) -> None:
    """check_kfunc_call() for a call whose BTF id names a vmlinux FUNC (add_kfunc_call checked that)."""
    btf = vmlinux()
    name = btf.name(func_id)
    if btf.kfunc_ids and func_id not in btf.kfunc_ids:
        # BTF from pahole >= 1.25 tags every kfunc `bpf_kfunc`; older BTF (Debian's 6.12) has no tags at all, and
        # then only the abi.kfuncs table says what is a kfunc
        raise Reject(f"calling kernel function {name} is not allowed", errno.EACCES)
    flags = kfunc_flags(name, env.prog_type)
    if flags is not None and env.kernel is not None and not env.kernel.kfunc_allowed(name, env.prog_type):
        flags = None  # the release answered for had not registered it for this type (abi/kfunc_versions.py)
    if flags is None:
        if modelled_kfunc(name):  # its set is not registered for this program type
            raise Reject(f"calling kernel function {name} is not allowed", errno.EACCES)
        raise Reject(f"kernel function {name} is a kfunc this verifier does not model (abi/kfuncs.py)",
                     errno.EINVAL)
    if flags & KfFlag.SLEEPABLE and not env.sleepable:
        raise Reject(f"program must be sleepable to call sleepable kfunc {name}", errno.EACCES)
    proto = btf[btf[func_id].size_type]
    if flags & ITER_KFUNCS:
        check_iter_kfunc(env, btf, name, flags, proto)
        return
    if name in DYNPTR_KFUNCS:
        check_dynptr_kfunc(env, btf, name, flags, proto)
        return
    params = proto.members
    release = bool(flags & KfFlag.RELEASE)
    trusted_args = bool(flags & KfFlag.TRUSTED_ARGS) or release
    rcu = bool(flags & KfFlag.RCU)
    if len(params) > MAX_BPF_FUNC_REG_ARGS:
        raise Reject(f"Function {name} has {len(params)} > {MAX_BPF_FUNC_REG_ARGS} args", errno.EINVAL)
    release_regno, ref_obj_id = 0, 0
    skip_next = False
    for i, (name_off, arg_tid) in enumerate(params):
        regno = i + 1
        if skip_next:  # the size of the memory argument before it, checked with it
            skip_next = False
            continue
        reg = env.check_reg_arg(regno, SRC_OP)
        tid = btf.skip_modifiers(arg_tid)
        t = btf[tid] if tid else None
        if t is not None and t.kind in _SCALAR_KINDS:
            if reg.type != SCALAR_VALUE:
                raise Reject(f"R{regno} is not a scalar", errno.EINVAL)
            continue
        if t is None or t.kind != BtfKind.PTR:
            kind = _KIND_STR.get(t.kind, t.kind.name) if t is not None else "UNKNOWN"
            raise Reject(f"Unrecognized arg#{i} type {kind}", errno.EINVAL)
        if (trusted_args or rcu) and (_register_is_null(reg) or reg.type & PTR_MAYBE_NULL):
            raise Reject(f"Possibly NULL pointer passed to trusted arg{i}", errno.EACCES)
        if reg.ref_obj_id:
            if release and ref_obj_id:
                raise Reject(f"verifier internal error: more than one arg with ref_obj_id R{regno} "
                             f"{reg.ref_obj_id} {ref_obj_id}", errno.EFAULT)
            ref_obj_id = reg.ref_obj_id
            if release:
                release_regno = regno
        ref_id = btf.skip_modifiers(t.size_type) if t.size_type else 0
        if ref_id and btf[ref_id].kind in _STRUCTS and _is_prog_ctx(env, btf.name(ref_id)):
            if reg.type != PTR_TO_CTX:  # KF_ARG_PTR_TO_CTX
                raise Reject(f"arg#{i} expected pointer to ctx, but got {reg_type_str(reg.type)}", errno.EINVAL)
            from pyebpf.verifier.memory import check_ptr_off_reg
            check_ptr_off_reg(env, reg, regno)
            continue
        sized = i + 1 < len(params) and _param_name(btf, params[i + 1][0]).endswith(("__sz", "__szk"))
        if sized and base_type(reg.type) != PTR_TO_BTF_ID:  # KF_ARG_PTR_TO_MEM_SIZE
            if ref_id and not (btf[ref_id].kind in _SCALAR_KINDS or _is_scalar_struct(btf, ref_id, 0)):
                raise Reject(f"arg#{i} pointer type {_KIND_STR.get(btf[ref_id].kind)} {btf.name(ref_id)} must "
                             f"point to scalar, or struct with scalar", errno.EINVAL)
            check_kfunc_mem_size(env, btf, params, i, _param_name(btf, name_off).endswith("__opt"))
            skip_next = True
            continue
        if not ref_id or btf[ref_id].kind not in _STRUCTS:
            raise Reject(f"kernel function {name} arg#{i}: pointers to memory are not modelled by this verifier",
                         errno.EINVAL)
        _check_btf_id_arg(env, btf, name, i, reg, ref_id, trusted_args, rcu, release)
    if release and not release_regno:
        raise Reject(f"release kernel function {name} expects refcounted PTR_TO_BTF_ID", errno.EINVAL)
    if release_regno:
        from pyebpf.verifier.calls import release_reference
        try:
            release_reference(env, env.regs[release_regno].ref_obj_id)
        except Reject:
            raise Reject(f"kfunc {name}#{func_id} reference has not been acquired before", errno.EINVAL) from None
    regs = env.regs
    for r in CALLER_SAVED:
        mark_reg_not_init(regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK)
    _set_return(env, btf, name, proto, flags)


def _param_name(btf, name_off: int) -> str:
    return btf.str_at(name_off) if name_off else ""


def _is_prog_ctx(env: Env, struct_name: str) -> bool:
    """btf_is_prog_ctx_type() for a kfunc argument: the program type's UAPI context struct (or the kernel struct
    it projects)."""
    from pyebpf.abi.context import CONTEXTS
    layout = CONTEXTS.get(env.prog_type)
    if layout is None:
        return False
    return struct_name == layout.name or {"__sk_buff": "sk_buff", "xdp_md": "xdp_buff"}.get(layout.name) == struct_name


def check_kfunc_mem_size(env: Env, btf, params, i: int, optional: bool) -> int | None:
    """KF_ARG_PTR_TO_MEM_SIZE: argument i is memory whose size is argument i + 1 (`__sz`, or `__szk` a known
    constant, returned); an `__opt` buffer may be NULL."""
    from pyebpf.verifier.calls import CallMeta, check_mem_size_reg
    from pyebpf.verifier.engine import mark_ptr_not_null_reg
    from pyebpf.verifier.memory import READ, WRITE
    regno = i + 1
    reg = env.regs[regno]
    size_reg = env.check_reg_arg(regno + 1, SRC_OP)
    if not (_register_is_null(reg) and optional):
        saved = reg.copy() if reg.type & PTR_MAYBE_NULL else None
        if saved is not None:
            mark_ptr_not_null_reg(reg)
        try:
            check_mem_size_reg(env, size_reg, regno + 1, READ, True, CallMeta())
            check_mem_size_reg(env, size_reg, regno + 1, WRITE, True, CallMeta())
        except Reject as r:
            env.verbose(r.message + "\n")
            raise Reject(f"arg#{i} arg#{i + 1} memory, len pair leads to invalid memory access", errno.EINVAL) \
                from None
        finally:
            if saved is not None:
                reg.assign(saved)
    if _param_name(btf, params[i + 1][0]).endswith("__szk"):
        if size_reg.var_off.mask:
            raise Reject(f"R{regno + 1} must be a known constant", errno.EINVAL)
        return size_reg.var_off.value
    return None


def _is_scalar_struct(btf, tid: int, depth: int) -> bool:
    """__btf_type_is_scalar_struct(): a struct of integers, enums, arrays of them and such structs (3 deep)."""
    t = btf[tid]
    if t.kind not in _STRUCTS:
        return False
    for m in t.members:
        mid = btf.skip_modifiers(m.type)
        mt = btf[mid] if mid else None
        if mt is not None and mt.kind in _STRUCTS:
            if depth >= 3 or not _is_scalar_struct(btf, mid, depth + 1):
                return False
        elif mt is not None and mt.kind == BtfKind.ARRAY:
            if not mt.array[2]:
                return False
            eid = btf.skip_modifiers(mt.array[0])
            if not eid or btf[eid].kind not in _SCALAR_KINDS:
                return False
        elif mt is None or mt.kind not in _SCALAR_KINDS:
            return False
    return True


def _check_btf_id_arg(env: Env, btf, name: str, i: int, reg: Reg, ref_id: int, trusted_args: bool, rcu: bool,
                      release: bool) -> None:
    """KF_ARG_PTR_TO_BTF_ID: trust, offset and type of a kernel struct pointer argument."""
    regno = i + 1
    if base_type(reg.type) != PTR_TO_BTF_ID and (env.kernel is None or env.kernel.fact(Fact.KFUNC_NON_BTF_ARG_AS_MEM)):
        # older get_kfunc_ptr_arg_type(): anything but a kernel pointer is memory, for structs of scalars only
        if not _is_scalar_struct(btf, ref_id, 0):
            raise Reject(f"arg#{i} pointer type {_KIND_STR.get(btf[ref_id].kind)} {btf.name(ref_id)} must point to "
                         f"scalar, or struct with scalar", errno.EINVAL)
        if reg.type == SCALAR_VALUE:
            raise Reject(f"R{regno} type=scalar expected=fp")
        raise Reject(f"kernel function {name} arg#{i}: memory arguments are not modelled by this verifier",
                     errno.EINVAL)
    if trusted_args or rcu:
        if not is_trusted_reg(reg):
            if not rcu:
                raise Reject(f"R{regno} must be referenced or trusted", errno.EINVAL)
            if not is_rcu_reg(reg):
                raise Reject(f"R{regno} must be a rcu pointer", errno.EINVAL)
        # check_func_arg_reg_off(ARG_PTR_TO_BTF_ID [| OBJ_RELEASE])
        if release and reg.ref_obj_id and reg.off:
            raise Reject(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc",
                         errno.EINVAL)
        from pyebpf.verifier.memory import check_ptr_off_reg
        check_ptr_off_reg(env, reg, regno, fixed_off_ok=not (release and reg.ref_obj_id))
    t = reg.type
    if base_type(t) != PTR_TO_BTF_ID or (t & _UNSAFE and not is_rcu_reg(reg)):
        expected = reg_type_str(base_type(t) | (t & TRUSTED_MODIFIERS))
        raise Reject(f"arg#{i} is {reg_type_str(t)} expected {expected} or socket", errno.EINVAL)
    reg_id = reg_btf_id(reg)
    if not reg_id:
        raise Reject(f"kernel function {name} arg#{i}: R{regno}'s kernel type is not known to this verifier",
                     errno.EINVAL)
    strict = release and bool(reg.ref_obj_id)
    if not struct_ids_match(btf, reg_id, reg.off, ref_id, strict):
        raise Reject(f"kernel function {name} args#{i} expected pointer to {_KIND_STR.get(btf[ref_id].kind)} "
                     f"{btf.name(ref_id)} but R{regno} has a pointer to {_KIND_STR.get(btf[reg_id].kind)} "
                     f"{btf.name(reg_id)}", errno.EINVAL)


def _set_return(env: Env, btf, name: str, proto, flags: KfFlag) -> None:
    """check_kfunc_call()'s return handling: scalar, void, or a PTR_TO_BTF_ID of the returned struct."""
    r0 = env.regs[0]
    tid = btf.skip_modifiers(proto.size_type) if proto.size_type else 0
    t = btf[tid] if tid else None
    is_struct_ptr = (t is not None and t.kind == BtfKind.PTR and t.size_type
                     and btf[btf.skip_modifiers(t.size_type)].kind in _STRUCTS)
    if flags & KfFlag.ACQUIRE and not is_struct_ptr:
        raise Reject("acquire kernel function does not return PTR_TO_BTF_ID", errno.EINVAL)
    if t is None:
        r0.type = NOT_INIT
        return
    if t.kind in _SCALAR_KINDS:
        mark_reg_unknown(r0)
        return
    if t.kind != BtfKind.PTR:
        raise Reject(f"kernel function {name} returns a {_KIND_STR.get(t.kind, t.kind.name)}: not modelled by this "
                     f"verifier", errno.EINVAL)
    if not t.size_type:
        mark_reg_unknown(r0)  # 'void *' is a scalar
        return
    if not is_struct_ptr:
        raise Reject(f"kernel function {name} returns a pointer to memory: not modelled by this verifier",
                     errno.EINVAL)
    mark_reg_unknown(r0)
    mark_reg_known(r0, 0)
    r0.type = PTR_TO_BTF_ID
    r0.mem_size = btf.skip_modifiers(t.size_type)
    if flags & KfFlag.RET_NULL:
        r0.type |= PTR_MAYBE_NULL
        r0.id = env.new_id()
    if flags & KfFlag.ACQUIRE:
        rid = env.new_id()
        env.cur.refs.append((rid, env.insn_idx))
        if flags & KfFlag.RET_NULL:
            r0.id = rid
        r0.ref_obj_id = rid


__all__ = ["check_kfunc_call", "struct_ids_match", "PTR_TRUSTED", "MEM_ALLOC"]
