"""Kernel types for the compiler: what a BTF type is to a probe (an integer of some width and sign, a pointer to a
kernel type, a struct to navigate), and the named arguments of BTF-described attach points.

raw_tp / tp_btf programs see the tracepoint's TP_PROTO arguments as u64 slots of their context, fentry/fexit the
function's parameters (fexit also `ret` after them), kprobes the first six in pt_regs registers: all of them are
named and typed here from the running kernel's BTF, which comes from `pyebpf.btf` (the one reader) through a
`KernelTypes` provider, so tests can inject a BTF or none.
"""
from __future__ import annotations

from typing import Any, Protocol

from pyebpf.compiler.types import INT_TYPES, U64, IntType

#: the pt_regs register holding argument N (x86-64 calling convention; PT_REGS_PARM1..6 of bpf_tracing.h)
KPROBE_ARG_REGS = ("di", "si", "dx", "cx", "r8", "r9")


class KernelTypes(Protocol):
    """Where kernel types come from: the running kernel's BTF (`SYSTEM_TYPES`), one injected, or None."""

    def btf(self) -> Any: ...


class SystemKernelTypes:
    """The running kernel's BTF (/sys/kernel/btf/vmlinux through pyebpf.btf, parsed once), None without one."""

    def btf(self) -> Any:
        from pyebpf.btf.kernel import kernel_btf_or_none

        return kernel_btf_or_none()


SYSTEM_TYPES = SystemKernelTypes()


def int_type_of_btf(t: Any) -> IntType | None:
    """The IntType of a BTF integer, enum, bool or char (under typedefs and qualifiers); None for other kinds.
    Pointers are u64 (their target is kept beside, see `pointee`)."""
    from pyebpf.btf import types as T

    r = t.resolve()
    if isinstance(r, T.Pointer):
        return U64
    if isinstance(r, (T.Int, T.Enum)) and r.byte_size in (1, 2, 4, 8):
        signed = r.signed and not getattr(r, "bool_", False)
        return INT_TYPES[("s" if signed else "u") + str(8 * r.byte_size)]
    return None


def pointee(t: Any) -> Any:
    """The BTF type a pointer type points to (None when `t` is not a pointer)."""
    from pyebpf.btf import types as T

    r = t.resolve()
    return r.target if isinstance(r, T.Pointer) else None


def kernel_struct(btf: Any, name: str) -> Any:
    """The struct or union called `name` ('task_struct', 'struct sock', 'union bpf_attr'), None when absent."""
    from pyebpf.abi.btf import BtfKind

    kind = BtfKind.UNION if name.startswith("union ") else BtfKind.STRUCT
    bare = name.split(" ", 1)[1] if name.startswith(("struct ", "union ")) else name
    tid = btf.find(bare, kind)
    return None if tid is None else btf.type(tid)


def direct_target(ptr: Any) -> bool:
    """Whether loading through a pointer of BTF type `ptr` keeps a PTR_TO_BTF_ID the verifier lets a program read
    with plain loads: a pointer to a struct or union with no type tag (`__user`, `__percpu` pointees are not), as
    btf_struct_access types the result of such a load."""
    from pyebpf.btf import types as T

    r = ptr.resolve() if ptr is not None else None
    if not isinstance(r, T.Pointer):
        return False
    t = r.target
    for _ in range(16):
        if isinstance(t, T.TypeTag):
            return False
        if isinstance(t, (T.Typedef, T.Const, T.Volatile, T.Restrict)):
            t = t.target
            continue
        break
    return isinstance(t, T.Composite)


def member_path(struct: Any, name: str) -> tuple[Any, tuple[int, ...]] | None:
    """(member, member indexes from `struct` to it) of field `name`, looking into anonymous struct/union members as
    C does; the indexes are what a CO-RE access string lists (an anonymous member's index, then the inner one)."""
    from pyebpf.btf import types as T

    for i, m in enumerate(struct.members):
        if m.name == name:
            return m, (i,)
    for i, m in enumerate(struct.members):
        if not m.name:
            inner = m.type.resolve()
            if isinstance(inner, T.Composite):
                found = member_path(inner, name)
                if found is not None:
                    fm, path = found
                    return T.Member(struct.btf, fm.name, fm.type_id, m.bit_offset + fm.bit_offset,
                                    fm.bitfield_size), (i, *path)
    return None


def core_root(t: Any, index: int = 0) -> tuple[Any, tuple[int, ...]] | None:
    """The start of a CO-RE access path through a pointer to `t` (`index`: p[index]), or None when `t` is not a
    named struct/union, which another kernel's BTF could not match by name."""
    from pyebpf.btf import types as T

    if t is None:
        return None
    r = t.resolve()
    if not isinstance(r, T.Composite) or not r.name:
        return None
    return r, (index,)


def btf_params(btf: Any, attach_type: Any, target: str) -> list[tuple[str, Any]]:
    """(name, BTF type) of each context argument of a BTF-described attach point, in ctx slot order: a raw
    tracepoint's TP_PROTO arguments, a kernel function's parameters (for fexit `ret` follows them)."""
    from pyebpf.abi.prog_types import AttachType
    from pyebpf.btf.kernel import func_proto, raw_tracepoint_params

    if attach_type in (None, AttachType.TRACE_RAW_TP):
        params = raw_tracepoint_params(target, btf)
        return [(p.name or f"arg{i}", p.type) for i, p in enumerate(params)]
    proto = func_proto(target, btf)
    out = [(p.name or f"arg{i}", p.type) for i, p in enumerate(proto.params)]
    if attach_type == AttachType.TRACE_FEXIT:
        out.append(("ret", proto.return_type))
    return out


__all__ = ["direct_target", "member_path", "core_root", "KernelTypes", "SystemKernelTypes", "SYSTEM_TYPES", "int_type_of_btf", "pointee", "kernel_struct",
           "btf_params", "KPROBE_ARG_REGS"]
