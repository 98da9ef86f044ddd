"""Global (non-static) subprograms: verified once for any arguments their BTF prototype allows, not per call.

The kernel (kernel/bpf/verifier.c check_func_call, do_check_subprogs; kernel/bpf/btf.c btf_prepare_func_args)
treats a subprogram whose BTF FUNC has global linkage as a separate entry point: a call only checks that the
caller's registers match the prototype ("Func#N ('f') is global and assumed valid.", R0 becomes an unknown
scalar); after the main program, every called global function is verified from its own entry with R1..R5 set
from the prototype: integers are unknown scalars, a pointer to the program's context struct is PTR_TO_CTX, any
other pointer to a sized type is PTR_TO_MEM_OR_NULL of that size, which the function must NULL-check.

Prototypes this module does not model (`arg:` decl tags, dynptrs, void or unsized pointees, struct arguments)
leave the function treated as a static one, as before.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import Enum

from pyebpf.abi.btf import BtfKind
from pyebpf.abi.context import CONTEXTS
from pyebpf.verifier.bounds import mark_reg_known, mark_reg_unknown
from pyebpf.verifier.env import Env, Reject
from pyebpf.verifier.regstate import PTR_MAYBE_NULL, PTR_TO_CTX, PTR_TO_MEM, SCALAR_VALUE
from pyebpf.verifier.state import FuncState, VerifierState

BTF_FUNC_GLOBAL = 1
"""enum btf_func_linkage: BTF_FUNC_STATIC 0, BTF_FUNC_GLOBAL 1, BTF_FUNC_EXTERN 2."""
MAX_BPF_FUNC_REG_ARGS = 5


class ArgKind(str, Enum):
    """The verifier type btf_prepare_func_args() gives one argument."""

    ANYTHING = "ARG_ANYTHING"
    CTX = "ARG_PTR_TO_CTX"
    MEM_OR_NULL = "ARG_PTR_TO_MEM_OR_NULL"


@dataclass(frozen=True)
class GlobalArg:
    kind: ArgKind
    mem_size: int = 0


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


def _has_arg_tags(btf, func_id: int) -> bool:
    for t in btf.types if hasattr(btf, "types") else ():
        if t.kind == BtfKind.DECL_TAG and t.size_type == func_id and t.component_idx >= 0 \
                and btf.str_at(t.name_off).startswith("arg:"):
            return True
    return False


def _prototype(btf, func_id: int, subprog: int, ctx_name: str | None) -> GlobalFunc | None:
    fn = btf[func_id]
    if fn.kind != BtfKind.FUNC or fn.vlen != BTF_FUNC_GLOBAL:
        return None
    name = btf.str_at(fn.name_off)
    proto = btf[fn.size_type]
    if proto.kind != BtfKind.FUNC_PROTO or _has_arg_tags(btf, func_id):
        return None
    if len(proto.members) > MAX_BPF_FUNC_REG_ARGS:
        return GlobalFunc(subprog, name, (), f"Global function {name}() with {len(proto.members)} > "
                                             f"{MAX_BPF_FUNC_REG_ARGS} args. Buggy compiler.")
    _, ret = _skip(btf, proto.size_type) if proto.size_type else (0, None)
    if ret is None or ret.kind not in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
        return GlobalFunc(subprog, name, (), f"Global function {name}() doesn't return scalar. Only those are "
                                             f"supported.")
    args = []
    for i, (_name_off, tid) in enumerate(proto.members):
        if not tid:
            return None  # a variadic prototype: clang never emits one for BPF
        _, t = _skip(btf, tid)
        if t.kind in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
            args.append(GlobalArg(ArgKind.ANYTHING))
            continue
        if t.kind != BtfKind.PTR:
            return GlobalFunc(subprog, name, (), f"Arg#{i} type {_kind_str(t)} in {name}() is not supported yet.")
        pid, pointee = _skip(btf, t.size_type) if t.size_type else (0, None)
        if pointee is not None and pointee.kind == BtfKind.STRUCT and ctx_name is not None \
                and btf.str_at(pointee.name_off) == ctx_name:
            args.append(GlobalArg(ArgKind.CTX))
            continue
        if pointee is not None and pointee.kind == BtfKind.STRUCT and btf.str_at(pointee.name_off) == "bpf_dynptr":
            return None  # ARG_PTR_TO_DYNPTR: not modelled, the function stays static
        size = None
        if pointee is not None and pointee.kind not in (BtfKind.FWD, BtfKind.FUNC_PROTO):
            try:
                size = btf.size_of(pid)
            except Exception:  # noqa: BLE001 - unsized: refused below as the kernel does
                size = None
        if size is None:
            pname = btf.str_at(pointee.name_off) if pointee is not None else ""
            return GlobalFunc(subprog, name, (), f"arg#{i} reference type('{_kind_str(pointee)} {pname}') size "
                                                 f"cannot be determined: -22")
        args.append(GlobalArg(ArgKind.MEM_OR_NULL, size))
    return GlobalFunc(subprog, name, tuple(args))


def find_global_funcs(program, subprog_starts: list[int], prog_type) -> dict[int, GlobalFunc]:
    """Subprogram index -> its modelled global prototype, from the program's func_info and BTF."""
    btf, func_info = getattr(program, "btf", None), getattr(program, "func_info", None)
    if not func_info or btf is None or not hasattr(btf, "skip_modifiers"):
        return {}
    layout = CONTEXTS.get(prog_type)
    ctx_name = layout.name if layout is not None else None
    type_of = dict(func_info)
    out: dict[int, GlobalFunc] = {}
    for idx, start in enumerate(subprog_starts[1:], 1):
        tid = type_of.get(start)
        if not tid:
            continue
        try:
            g = _prototype(btf, tid, idx, ctx_name)
        except (IndexError, KeyError, ValueError):
            g = None
        if g is not None:
            out[idx] = g
    return out


def check_global_call(env: Env, func: GlobalFunc) -> None:
    """btf_check_func_arg_match(): the caller's R1..R5 against the prototype; refusals end with the kernel's
    'Caller passes invalid args into func#N' line."""
    from pyebpf.verifier.calls import check_helper_mem_access, register_is_null
    from pyebpf.verifier.engine import mark_ptr_not_null_reg
    from pyebpf.verifier.memory import READ, WRITE, check_ptr_off_reg

    regs = env.regs
    try:
        if func.error is not None:
            raise Reject(func.error, errno.EINVAL)
        for i, arg in enumerate(func.args):
            regno = i + 1
            reg = regs[regno]
            if arg.kind == ArgKind.ANYTHING:
                if reg.type != SCALAR_VALUE:
                    raise Reject(f"R{regno} is not a scalar", errno.EINVAL)
            elif arg.kind == ArgKind.CTX:
                if reg.type == PTR_TO_CTX:
                    check_ptr_off_reg(env, reg, regno)
                if reg.type != PTR_TO_CTX:
                    raise Reject(f"arg#{i} expects pointer to ctx", errno.EINVAL)
            else:
                if reg.type in (PTR_TO_CTX,):
                    check_ptr_off_reg(env, reg, regno)
                if register_is_null(reg):
                    continue
                saved = reg.copy() if reg.type & PTR_MAYBE_NULL else None
                if saved is not None:
                    mark_ptr_not_null_reg(reg)
                try:
                    check_helper_mem_access(env, regno, arg.mem_size, READ, True, None)
                    check_helper_mem_access(env, regno, arg.mem_size, WRITE, True, None)
                finally:
                    if saved is not None:
                        reg.assign(saved)
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
    from pyebpf.verifier.calls import CALLER_SAVED
    from pyebpf.verifier.state import mark_reg_not_init

    if env.cur.active_lock is not None:
        env.verbose("global function calls are not allowed while holding a lock,\n")
        raise Reject("use static function instead", errno.EINVAL)
    check_global_call(env, func)
    env.verbose(f"Func#{func.subprog} ('{func.name}') is global and assumed valid.\n")
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
    st = VerifierState()
    frame = FuncState(0, -1, func.subprog)
    for i, arg in enumerate(func.args):
        reg = frame.regs[i + 1]
        if arg.kind == ArgKind.ANYTHING:
            mark_reg_unknown(reg)
        else:
            mark_reg_unknown(reg)
            mark_reg_known(reg, 0)
            if arg.kind == ArgKind.CTX:
                reg.type = PTR_TO_CTX
            else:
                reg.type = PTR_TO_MEM | PTR_MAYBE_NULL
                reg.mem_size = arg.mem_size
                reg.id = env.new_id()
    st.frames.append(frame)
    return st


__all__ = ["ArgKind", "GlobalArg", "GlobalFunc", "find_global_funcs", "global_funcs", "check_global_call",
           "call_global", "check_global_funcs", "global_entry_state"]
