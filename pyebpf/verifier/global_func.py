"""Global (non-static) subprograms: verified once for any arguments their BTF prototype allows, not per call.

The kernel (kernel/bpf/verifier.c check_func_call, do_check_subprogs; kernel/bpf/btf.c btf_prepare_func_args)
treats a subprogram whose BTF FUNC has global linkage as a separate entry point: a call only checks that the
caller's registers match the prototype ("Func#N ('f') is global and assumed valid.", R0 becomes an unknown
scalar); after the main program, every called global function is verified from its own entry with R1..R5 set
from the prototype: integers are unknown scalars, a pointer to the program's context struct is PTR_TO_CTX, any
other pointer to a sized type is PTR_TO_MEM_OR_NULL of that size, which the function must NULL-check.

`arg:<tag>` BTF decl tags on a parameter (bpf_helpers.h's __arg_ctx, __arg_nonnull, __arg_nullable, __arg_trusted,
__arg_untrusted, __arg_arena) override what the type alone says, as btf_prepare_func_args() reads them: a ctx of
any type the program type allows, non-NULL memory, a (maybe NULL) trusted or untrusted PTR_TO_BTF_ID of the vmlinux
struct the local type names (CO-RE flavours allowed), an arena pointer (a scalar to the callee).

A `struct bpf_dynptr *` argument must be an initialised dynptr (verifier/dynptr.py); the callee sees a const LOCAL
dynptr. Arguments this module does not model (an untrusted pointer to void or a primitive: read-only untrusted
memory) refuse the call with a "not modelled" reason, never a
silent fallback: a function verified as static sees the caller's exact registers and could accept what the kernel,
verifying it for any argument, refuses.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import Enum, IntFlag

from pyebpf.abi.btf import BtfKind
from pyebpf.abi.context import CONTEXTS
from pyebpf.abi.kernel_versions import Fact
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_unknown
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.regstate import (
    PTR_MAYBE_NULL, PTR_TO_BTF_ID, PTR_TO_CTX, PTR_TO_MEM, PTR_TO_STACK, SCALAR_VALUE, RegFlag, RegType,
)
from pyebpf.verifier.state import FuncState, VerifierState

BTF_FUNC_GLOBAL = 1
"""enum btf_func_linkage: BTF_FUNC_STATIC 0, BTF_FUNC_GLOBAL 1, BTF_FUNC_EXTERN 2."""
MAX_BPF_FUNC_REG_ARGS = 5


class ArgKind(str, Enum):
    """The verifier type btf_prepare_func_args() gives one argument."""

    ANYTHING = "ARG_ANYTHING"
    CTX = "ARG_PTR_TO_CTX"
    MEM_OR_NULL = "ARG_PTR_TO_MEM_OR_NULL"
    MEM = "ARG_PTR_TO_MEM"  # __arg_nonnull
    BTF_ID = "ARG_PTR_TO_BTF_ID"  # __arg_trusted (| PTR_MAYBE_NULL with __arg_nullable), __arg_untrusted
    ARENA = "ARG_PTR_TO_ARENA"  # __arg_arena
    DYNPTR = "ARG_PTR_TO_DYNPTR | MEM_RDONLY"  # struct bpf_dynptr *: the callee sees a const LOCAL dynptr
    UNMODELLED = "unmodelled"  # a dynptr or untrusted memory: every call refused as not modelled


class ArgTag(IntFlag):
    """enum btf_arg_tag of kernel/bpf/btf.c: the `arg:<name>` decl tags."""

    CTX = 1 << 0
    NONNULL = 1 << 1
    TRUSTED = 1 << 2
    UNTRUSTED = 1 << 3
    NULLABLE = 1 << 4
    ARENA = 1 << 5


_TAG_NAMES = {"ctx": ArgTag.CTX, "nonnull": ArgTag.NONNULL, "trusted": ArgTag.TRUSTED,
              "untrusted": ArgTag.UNTRUSTED, "nullable": ArgTag.NULLABLE, "arena": ArgTag.ARENA}


@dataclass(frozen=True)
class GlobalArg:
    kind: ArgKind
    mem_size: int = 0
    #: BTF_ID: the vmlinux struct id, and PTR_TRUSTED / PTR_UNTRUSTED / PTR_MAYBE_NULL of the register
    btf_id: int = 0
    flags: int = 0
    #: UNMODELLED: why
    why: str = ""


@dataclass(frozen=True)
class GlobalFunc:
    subprog: int
    name: str
    args: tuple[GlobalArg, ...]
    #: btf_prepare_func_args()'s refusal of the prototype (every call to it is then refused), if any
    error: str | None = None


def _kind_str(t) -> str:
    """btf_type_str(): the kernel's name of a BTF kind ('UNKNOWN' for void)."""
    return "UNKNOWN" if t is None else {BtfKind.UNKN: "UNKNOWN"}.get(t.kind, t.kind.name)


_MODIFIERS = frozenset({BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG})


def _skip(btf, tid: int):
    t = btf[tid]
    for _ in range(64):
        if t.kind not in _MODIFIERS:
            return tid, t
        tid = t.size_type
        t = btf[tid]
    raise ValueError("modifier chain too long")


def _arg_tags(btf, func_id: int) -> dict[int, list[str]]:
    """Parameter index -> the names after `arg:` of its decl tags, in BTF order."""
    out: dict[int, list[str]] = {}
    for t in btf.types if hasattr(btf, "types") else ():
        if t.kind == BtfKind.DECL_TAG and t.size_type == func_id and t.component_idx >= 0:
            name = btf.str_at(t.name_off)
            if name.startswith("arg:"):
                out.setdefault(t.component_idx, []).append(name[4:])
    return out


#: btf_is_projection_of(): a program may name the kernel's struct behind the UAPI context
_PROJECTIONS = {"__sk_buff": "sk_buff", "xdp_md": "xdp_buff"}
#: program types whose canonical context is a typedef of pt_regs (bpf_user_pt_regs_t)
_PT_REGS_TYPES = frozenset({ProgType.KPROBE, ProgType.PERF_EVENT})
#: program types (and TRACING attach types) that take a `u64 *ctx __arg_ctx`
_U64_CTX_TYPES = frozenset({ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.LSM,
                            ProgType.STRUCT_OPS})
_U64_CTX_ATTACH = frozenset({AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                             AttachType.MODIFY_RETURN})


def _canonical_ctx(prog_type) -> str | None:
    """find_canonical_prog_ctx_type(): the struct name of the program type's UAPI context; None when it has none
    (TRACING, LSM, STRUCT_OPS: `void *`)."""
    layout = CONTEXTS.get(prog_type)
    return layout.name if layout is not None else None


def _pointee_typedef(btf, ptr) -> str | None:
    """The name of the first typedef under a pointer (modifiers other than typedefs skipped)."""
    tid = ptr.size_type
    for _ in range(64):
        if not tid:
            return None
        t = btf[tid]
        if t.kind == BtfKind.TYPEDEF:
            return btf.str_at(t.name_off)
        if t.kind not in _MODIFIERS:
            return None
        tid = t.size_type
    return None


def _is_prog_ctx_type(btf, ptr, prog_type) -> bool:
    """btf_is_prog_ctx_type(): an untagged pointer the kernel reads as the program's context."""
    if prog_type == ProgType.KPROBE and _pointee_typedef(btf, ptr) == "bpf_user_pt_regs_t":
        return True
    if not ptr.size_type:
        return False
    _, t = _skip(btf, ptr.size_type)
    if t.kind not in (BtfKind.STRUCT, BtfKind.UNION):
        return False
    ctx = _canonical_ctx(prog_type)
    if not ctx or prog_type == ProgType.TRACEPOINT:  # TRACEPOINT's canonical context is `__u64`, not a struct
        return False
    name = btf.str_at(t.name_off)
    return name == ctx or _PROJECTIONS.get(ctx) == name


def _validate_ctx_tag(btf, ptr, i: int, prog_type, attach_type) -> str | None:
    """btf_validate_prog_ctx_type(): None when `__arg_ctx` fits the program type, else the kernel's reason."""
    if prog_type in _PT_REGS_TYPES and _pointee_typedef(btf, ptr) == "bpf_user_pt_regs_t":
        return None
    t = _skip(btf, ptr.size_type)[1] if ptr.size_type else None
    if t is None:
        return None  # `void *ctx __arg_ctx` is always valid
    tname = btf.str_at(t.name_off)
    if not tname:
        return f"arg#{i} type doesn't have a name"
    is_struct = t.kind in (BtfKind.STRUCT, BtfKind.UNION)
    u64 = t.kind == BtfKind.INT and t.size_type == 8
    if prog_type in _PT_REGS_TYPES and is_struct and tname == "pt_regs":
        return None
    if prog_type in _U64_CTX_TYPES and u64:
        return None
    if prog_type == ProgType.TRACING:
        if attach_type == AttachType.TRACE_RAW_TP and is_struct and tname == "bpf_raw_tracepoint_args":
            return None
        if attach_type == AttachType.TRACE_ITER and is_struct and tname.startswith("bpf_iter__"):
            return None
        if attach_type in _U64_CTX_ATTACH and u64:
            return None
    if prog_type in (ProgType.TRACEPOINT, ProgType.SYSCALL, ProgType.EXT):
        return None  # anything goes
    ctx = _canonical_ctx(prog_type)
    if ctx is None:
        return f"arg#{i} should be void pointer"
    if not is_struct or tname != ctx:
        return f"arg#{i} should be `struct {ctx} *`"
    return None


def _essential_name(name: str) -> str:
    """bpf_core_essential_name_len(): a CO-RE flavour suffix `___xxx` is not part of the name."""
    cut = name.find("___")
    return name[:cut] if cut > 0 else name


def _kernel_struct(btf, ptr, i: int) -> tuple[int, str | None]:
    """btf_get_ptr_to_btf_id(): (vmlinux type id, None) of the one kernel type the local pointee names, else
    (0, the kernel's reason)."""
    from pyebpf.verifier.btf_ptr import vmlinux
    pid, t = _skip(btf, ptr.size_type) if ptr.size_type else (0, None)
    kind = _kind_str(t) if t is not None else "UNKNOWN"
    name = btf.str_at(t.name_off) if t is not None else ""
    kbtf = vmlinux()
    if kbtf is None or t is None or not name:
        return 0, f"arg#{i} reference type('{kind} {name}') has no matches"
    want = _essential_name(name)
    cands = [c for c in kbtf.ids_by_name(want) if kbtf[c].kind == t.kind]
    if len(cands) != 1:
        return 0, f"arg#{i} reference type('{kind} {name}') {'has no matches' if not cands else 'is ambiguous'}"
    return cands[0], None


def _prototype(btf, func_id: int, subprog: int, prog_type, attach_type=None) -> GlobalFunc | None:
    fn = btf[func_id]
    if fn.kind != BtfKind.FUNC or fn.vlen != BTF_FUNC_GLOBAL:
        return None
    name = btf.str_at(fn.name_off)
    proto = btf[fn.size_type]
    if proto.kind != BtfKind.FUNC_PROTO:
        return None

    def refuse(why: str) -> GlobalFunc:
        return GlobalFunc(subprog, name, (), why)

    if len(proto.members) > MAX_BPF_FUNC_REG_ARGS:
        return refuse(f"Global function {name}() with {len(proto.members)} > {MAX_BPF_FUNC_REG_ARGS} args. "
                      f"Buggy compiler.")
    _, ret = _skip(btf, proto.size_type) if proto.size_type else (0, None)
    if ret is None or ret.kind not in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
        return refuse(f"Global function {name}() doesn't return scalar. Only those are supported.")
    tags_of = _arg_tags(btf, func_id)
    args = []
    for i, (_name_off, tid) in enumerate(proto.members):
        if not tid:
            return None  # a variadic prototype: clang never emits one for BPF
        tags = ArgTag(0)
        for tag in tags_of.get(i, ()):
            if tag not in _TAG_NAMES:
                return refuse(f"arg#{i} has unsupported set of tags")
            tags |= _TAG_NAMES[tag]
        _, t = _skip(btf, tid)
        if t.kind != BtfKind.PTR:
            if tags:
                return refuse(f"arg#{i} has pointer tag, but is not a pointer type")
            if t.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
                args.append(GlobalArg(ArgKind.ANYTHING))
                continue
            return refuse(f"Arg#{i} type {_kind_str(t)} in {name}() is not supported yet.")
        if tags & ArgTag.CTX or _is_prog_ctx_type(btf, t, prog_type):
            if tags & ~ArgTag.CTX:
                return refuse(f"arg#{i} has invalid combination of tags")
            if tags & ArgTag.CTX:
                why = _validate_ctx_tag(btf, t, i, prog_type, attach_type)
                if why is not None:
                    return refuse(why)
            args.append(GlobalArg(ArgKind.CTX))
            continue
        pid, pointee = _skip(btf, t.size_type) if t.size_type else (0, None)
        if pointee is not None and pointee.kind in (BtfKind.STRUCT, BtfKind.FWD) \
                and btf.str_at(pointee.name_off) == "bpf_dynptr":
            if tags:
                return refuse(f"arg#{i} has invalid combination of tags")
            args.append(GlobalArg(ArgKind.DYNPTR))
            continue
        if tags & ArgTag.TRUSTED:
            if tags & ArgTag.NONNULL:
                return refuse(f"arg#{i} has invalid combination of tags")
            kid, why = _kernel_struct(btf, t, i)
            if why is not None:
                return refuse(why)
            flags = int(RegFlag.PTR_TRUSTED) | (PTR_MAYBE_NULL if tags & ArgTag.NULLABLE else 0)
            args.append(GlobalArg(ArgKind.BTF_ID, btf_id=kid, flags=flags))
            continue
        if tags & ArgTag.UNTRUSTED:
            if tags & ~ArgTag.UNTRUSTED:
                return refuse(f"arg#{i} untrusted cannot be combined with any other tags")
            if pointee is None or pointee.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FLOAT):
                args.append(GlobalArg(ArgKind.UNMODELLED, why="an untrusted pointer to void or a primitive type "
                                                              "(read-only untrusted memory)"))
                continue
            kid, why = _kernel_struct(btf, t, i)
            if why is not None:
                return refuse(why)
            from pyebpf.verifier.btf_ptr import vmlinux
            kt = vmlinux()[kid]
            if kt.kind != BtfKind.STRUCT:
                return refuse(f"arg#{i} has type {_kind_str(kt)} '{btf.str_at(pointee.name_off)}', but only "
                              f"struct or primitive types are allowed")
            args.append(GlobalArg(ArgKind.BTF_ID, btf_id=kid, flags=int(RegFlag.PTR_UNTRUSTED)))
            continue
        if tags & ArgTag.ARENA:
            if tags & ~ArgTag.ARENA:
                return refuse(f"arg#{i} arena cannot be combined with any other tags")
            args.append(GlobalArg(ArgKind.ARENA))
            continue
        if tags & ArgTag.NULLABLE:
            return refuse(f"arg#{i} has invalid combination of tags")
        size = None
        if pointee is not None and pointee.kind not in (BtfKind.FWD, BtfKind.FUNC_PROTO):
            try:
                size = btf.size_of(pid)
            except Exception:  # noqa: BLE001 - unsized: refused below as the kernel does
                size = None
        if size is None:
            pname = btf.str_at(pointee.name_off) if pointee is not None else ""
            return refuse(f"arg#{i} reference type('{_kind_str(pointee)} {pname}') size cannot be determined: -22")
        args.append(GlobalArg(ArgKind.MEM if tags & ArgTag.NONNULL else ArgKind.MEM_OR_NULL, size))
    return GlobalFunc(subprog, name, tuple(args))


def find_global_funcs(program, subprog_starts: list[int], prog_type) -> dict[int, GlobalFunc]:
    """Subprogram index -> its modelled global prototype, from the program's func_info and BTF."""
    btf, func_info = getattr(program, "btf", None), getattr(program, "func_info", None)
    if not func_info or btf is None or not hasattr(btf, "skip_modifiers"):
        return {}
    attach_type = getattr(program, "expected_attach_type", None)
    type_of = dict(func_info)
    out: dict[int, GlobalFunc] = {}
    for idx, start in enumerate(subprog_starts[1:], 1):
        tid = type_of.get(start)
        if not tid:
            continue
        try:
            g = _prototype(btf, tid, idx, prog_type, attach_type)
        except (IndexError, KeyError, ValueError):
            g = None
        if g is not None:
            out[idx] = g
    return out


def check_global_call(env: Env, func: GlobalFunc) -> None:
    """btf_check_func_arg_match(): the caller's R1..R5 against the prototype; refusals end with the kernel's
    'Caller passes invalid args into func#N' line."""
    from pyebpf.abi.helpers import Arg, ArgType, TypeFlag
    from pyebpf.verifier.btf_ptr import btf_type_name, is_trusted_reg, vmlinux
    from pyebpf.verifier.calls import check_helper_mem_access, check_reg_type, register_is_null
    from pyebpf.verifier.dynptr import CONST_PTR_TO_DYNPTR, process_dynptr_func
    from pyebpf.verifier.engine import mark_ptr_not_null_reg
    from pyebpf.verifier.memory import READ, WRITE, check_ptr_off_reg

    regs = env.regs
    for i, arg in enumerate(func.args):
        if arg.kind == ArgKind.UNMODELLED and func.error is None:
            raise Reject(f"global function {func.name}() arg#{i}: {arg.why} is not modelled by this verifier",
                         errno.EINVAL)
    try:
        if func.error is not None:
            raise Reject(func.error, errno.EINVAL)
        for i, arg in enumerate(func.args):
            regno = i + 1
            reg = regs[regno]
            if arg.kind == ArgKind.ANYTHING:
                if reg.type != SCALAR_VALUE:
                    raise Reject(f"R{regno} is not a scalar", errno.EINVAL)
            elif arg.kind == ArgKind.BTF_ID and arg.flags & RegFlag.PTR_UNTRUSTED:
                pass  # anything goes: the callee only reads it with probe reads
            elif arg.kind == ArgKind.CTX:
                if reg.type == PTR_TO_CTX:
                    check_ptr_off_reg(env, reg, regno)
                if reg.type != PTR_TO_CTX:
                    raise Reject(f"arg#{i} expects pointer to ctx", errno.EINVAL)
            elif arg.kind in (ArgKind.MEM, ArgKind.MEM_OR_NULL):
                if reg.type in (PTR_TO_CTX,):
                    check_ptr_off_reg(env, reg, regno)
                if register_is_null(reg):
                    continue  # check_mem_reg(): NULL is fine (even for __arg_nonnull, as in the kernel)
                saved = reg.copy() if reg.type & PTR_MAYBE_NULL else None
                if saved is not None:
                    mark_ptr_not_null_reg(reg)
                try:
                    check_helper_mem_access(env, regno, arg.mem_size, READ, True, None)
                    check_helper_mem_access(env, regno, arg.mem_size, WRITE, True, None)
                finally:
                    if saved is not None:
                        reg.assign(saved)
                if arg.kind == ArgKind.MEM and reg.type & PTR_MAYBE_NULL:
                    raise Reject(f"arg#{i} is expected to be non-NULL", errno.EINVAL)
            elif arg.kind == ArgKind.DYNPTR:
                if reg.type not in (PTR_TO_STACK, CONST_PTR_TO_DYNPTR):  # check_func_arg_reg_off
                    check_ptr_off_reg(env, reg, regno)
                process_dynptr_func(env, regno, int(TypeFlag.MEM_RDONLY))
            elif arg.kind == ArgKind.ARENA:
                if reg.type not in (RegType.PTR_TO_ARENA, SCALAR_VALUE):
                    raise Reject(f"R{regno} is not a pointer to arena or scalar.", errno.EINVAL)
            elif arg.kind == ArgKind.BTF_ID:
                if register_is_null(reg) and arg.flags & PTR_MAYBE_NULL:
                    continue
                if not is_trusted_reg(reg):  # 6.18 asks this before check_reg_type (seen from the kernel's log)
                    raise Reject(f"R{regno} must be referenced or trusted", errno.EINVAL)
                flags = TypeFlag.PTR_TRUSTED | (TypeFlag.PTR_MAYBE_NULL if arg.flags & PTR_MAYBE_NULL else 0)
                check_reg_type(env, regno, Arg(ArgType.ARG_PTR_TO_BTF_ID, TypeFlag(flags),
                                               btf_id=btf_type_name(vmlinux(), arg.btf_id)))
                check_ptr_off_reg(env, reg, regno, True)
    except Reject as r:
        env.verbose(r.message + "\n")
        raise Reject(f"Caller passes invalid args into func#{func.subprog} ('{func.name}')", errno.EINVAL) from None


def global_funcs(env: Env) -> dict[int, GlobalFunc]:
    """The program's modelled global functions, found once per verification."""
    found = env.__dict__.get("_global_funcs")
    if found is None:
        found = env._global_funcs = find_global_funcs(env.program, env.cfg.subprog_starts, env.prog_type)
        env._global_called = []
    return found


def call_global(env: Env, func: GlobalFunc, slot: int) -> int:
    """check_func_call() on a global function: check the arguments, assume the callee valid, queue it for its
    own verification; the caller goes on after the call with R0 an unknown scalar."""
    from pyebpf.verifier.calls import CALLER_SAVED, clear_all_pkt_pointers, subprog_changes_pkt_data
    from pyebpf.verifier.state import mark_reg_not_init

    if env.cur.active_lock is not None:
        env.verbose("global function calls are not allowed while holding a lock,\n")
        raise Reject("use static function instead", errno.EINVAL)
    check_global_call(env, func)
    env.verbose(f"Func#{func.subprog} ('{func.name}') is global and assumed valid.\n")
    if subprog_changes_pkt_data(env, func.subprog) and (
            env.kernel is None or env.kernel.fact(Fact.GLOBAL_FUNC_CHANGES_PKT_DATA)):
        clear_all_pkt_pointers(env)
    if func.subprog not in env._global_called:
        env._global_called.append(func.subprog)
    regs = env.regs
    for r in CALLER_SAVED:
        mark_reg_not_init(regs[r])
        env.scratched_regs |= 1 << r
    mark_reg_unknown(regs[0])
    return slot + 1


def check_global_funcs(env: Env, run) -> None:
    """do_check_subprogs(): verify every called global function from its own entry (those it calls in turn
    too); `run(state, start_slot)` is do_check_common's exploration loop."""
    if not env.__dict__.get("_global_called"):
        return
    verified: set[int] = set()
    while True:
        todo = [i for i in sorted(env._global_called) if i not in verified]
        if not todo:
            return
        for sub in todo:
            func = env._global_funcs[sub]
            if env.logging and not env.level2:
                env.log.reset(0)  # do_check_common keeps a level-1 log only for the failing entry point
            env.verbose(f"Validating {func.name}() func#{sub}...\n")
            run(global_entry_state(env, func), env.cfg.subprog_starts[sub])
            if env.logging:
                env.verbose(f"Func#{sub} ('{func.name}') is safe for any args that match its prototype\n")
            verified.add(sub)


def global_entry_state(env: Env, func: GlobalFunc) -> VerifierState:
    """do_check_common() for a global subprogram: frame 0 runs the function, R1..R5 from its prototype."""
    from pyebpf.abi.helpers import TypeFlag
    from pyebpf.verifier.dynptr import mark_dynptr_reg
    st = VerifierState()
    frame = FuncState(0, -1, func.subprog)
    for i, arg in enumerate(func.args):
        reg = frame.regs[i + 1]
        mark_reg_unknown(reg)
        if arg.kind in (ArgKind.ANYTHING, ArgKind.ARENA):
            continue  # an arena pointer may be passed as a scalar: the callee sees a scalar
        mark_reg_known(reg, 0)
        if arg.kind == ArgKind.CTX:
            reg.type = PTR_TO_CTX
        elif arg.kind == ArgKind.DYNPTR:  # "assume unspecial LOCAL dynptr type"
            mark_dynptr_reg(reg, int(TypeFlag.DYNPTR_TYPE_LOCAL), True, env.new_id())
        elif arg.kind == ArgKind.BTF_ID:
            reg.type = PTR_TO_BTF_ID | arg.flags
            reg.mem_size = arg.btf_id  # reg->btf_id (btf_ptr.reg_btf_id)
            reg.id = env.new_id()
        else:
            reg.type = PTR_TO_MEM | (PTR_MAYBE_NULL if arg.kind == ArgKind.MEM_OR_NULL else 0)
            reg.mem_size = arg.mem_size
            if arg.kind == ArgKind.MEM_OR_NULL:
                reg.id = env.new_id()
    st.frames.append(frame)
    return st


__all__ = ["ArgKind", "ArgTag", "GlobalArg", "GlobalFunc", "find_global_funcs", "global_funcs", "check_global_call",
           "call_global", "check_global_funcs", "global_entry_state"]
