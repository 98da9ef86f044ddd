"""The running kernel's own BTF (/sys/kernel/btf/vmlinux), read once per process, and the names programs attach by.

`kernel_btf()` is the one reader of vmlinux BTF: the verifier (kfunc ids), the loader (attach_btf_id, CO-RE, ksym
externs) and the compilers (struct layouts, raw tracepoint and fentry arguments) all ask it. The attach-name rule
(`btf_trace_<tp>` for tp_btf/raw_tp, `bpf_lsm_<hook>`, `bpf_iter_<name>`, the function itself for
fentry/fexit/fmod_ret) lives here once, as libbpf's find_attach_btf_id() has it.
"""
from __future__ import annotations

import errno
import functools

from pyebpf.abi.btf import VMLINUX_BTF_PATH, BtfKind
from pyebpf.abi.prog_types import AttachType
from pyebpf.btf import types as T
from pyebpf.btf.spec import Btf
from pyebpf.errors import BtfError

BTF_TRACE_PREFIX = "btf_trace_"
BTF_LSM_PREFIX = "bpf_lsm_"
BTF_ITER_PREFIX = "bpf_iter_"

#: attach type -> (prefix of the BTF name, its kind); any other BTF-attached type names a FUNC as it is
#: (libbpf's btf_attach_type / find_attach_btf_id)
ATTACH_BTF_NAMES: dict[AttachType, tuple[str, BtfKind]] = {
    AttachType.TRACE_RAW_TP: (BTF_TRACE_PREFIX, BtfKind.TYPEDEF),
    AttachType.LSM_MAC: (BTF_LSM_PREFIX, BtfKind.FUNC),
    AttachType.LSM_CGROUP: (BTF_LSM_PREFIX, BtfKind.FUNC),
    AttachType.TRACE_ITER: (BTF_ITER_PREFIX, BtfKind.FUNC),
}


@functools.lru_cache(maxsize=4)
def kernel_btf(path: str = VMLINUX_BTF_PATH) -> Btf:
    """The kernel's BTF at `path` (default: the running kernel's), parsed once per process and path (~1 s).

    BtfError with ENOENT when the kernel was built without CONFIG_DEBUG_INFO_BTF (the file is absent)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise BtfError(f"{path} is absent: kernel built without CONFIG_DEBUG_INFO_BTF", errno.ENOENT) from None
    except OSError as e:
        raise BtfError(f"cannot read kernel BTF {path}", e.errno) from None
    return Btf.parse(blob, path, validate=False)


def kernel_btf_or_none() -> Btf | None:
    """The running kernel's BTF, or None where there is none to read (no CONFIG_DEBUG_INFO_BTF, no permission)."""
    try:
        return kernel_btf()
    except BtfError:
        return None


def attach_btf_name(attach_type: AttachType | int, target: str) -> tuple[str, BtfKind]:
    """The BTF (name, kind) a BTF-attached program names: ('btf_trace_sched_switch', TYPEDEF) for a tp_btf program
    on sched_switch, ('bpf_lsm_file_open', FUNC) for lsm/file_open, ('do_unlinkat', FUNC) for fentry."""
    prefix, kind = ATTACH_BTF_NAMES.get(attach_type, ("", BtfKind.FUNC))  # type: ignore[call-overload]
    return prefix + target, kind


def attach_btf_id(attach_type: AttachType | int, target: str, btf: Btf | None = None) -> int:
    """attach_btf_id for a program of `attach_type` on `target`, in `btf` (default: the running kernel's)."""
    name, kind = attach_btf_name(attach_type, target)
    btf = btf or kernel_btf()
    found = btf.find(name, kind)
    if found is None:
        raise BtfError(f"no BTF {kind.name.lower()} {name!r} in {btf.source}", errno.ESRCH)
    return found


def tp_btf_type_id(tracepoint: str, btf: Btf | None = None) -> int:
    """attach_btf_id of a tp_btf program on `tracepoint` ('sched_switch', 'sys_enter'): typedef btf_trace_<tp>."""
    return attach_btf_id(AttachType.TRACE_RAW_TP, tracepoint, btf)


def func_type_id(function: str, btf: Btf | None = None) -> int:
    """attach_btf_id of fentry/fexit/fmod_ret on kernel function `function` (its BTF FUNC)."""
    return attach_btf_id(AttachType.TRACE_FENTRY, function, btf)


def tracepoint_proto(tracepoint: str, btf: Btf | None = None) -> T.FuncProto:
    """The prototype behind typedef `btf_trace_<tracepoint>`: `void (*)(void *__data, <the tracepoint's args>)`."""
    btf = btf or kernel_btf()
    typedef = btf.type(tp_btf_type_id(tracepoint, btf))
    ptr = typedef.resolve()
    proto = ptr.target if isinstance(ptr, T.Pointer) else ptr
    if not isinstance(proto, T.FuncProto) or not proto.params:
        raise BtfError(f"BTF typedef {typedef.name!r} is not a pointer to a function taking (void *, ...)")
    return proto


def raw_tracepoint_args(tracepoint: str, btf: Btf | None = None) -> tuple[T.Param, ...]:
    """The arguments a raw_tp / tp_btf program sees on `tracepoint`, in order (ctx[0], ctx[1], ...): the
    btf_trace_ prototype without its leading `void *__data`."""
    return tracepoint_proto(tracepoint, btf).params[1:]


#: FUNCs whose prototype repeats a tracepoint's with its parameter names (the btf_trace_ typedef has none):
#: `__bpf_trace_<tp>` (every kernel with BTF), `__probestub_<tp>` / `__traceiter_<tp>` (newer ones)
TRACEPOINT_NAMED_FUNCS = ("__bpf_trace_", "__probestub_", "__traceiter_")


def raw_tracepoint_params(tracepoint: str, btf: Btf | None = None) -> tuple[T.Param, ...]:
    """raw_tracepoint_args() with the names of TP_PROTO (`prev`, `next` for sched_switch), taken from the first
    of TRACEPOINT_NAMED_FUNCS the kernel has with as many parameters; unnamed (`''`) when none is there."""
    btf = btf or kernel_btf()
    args = raw_tracepoint_args(tracepoint, btf)
    for prefix in TRACEPOINT_NAMED_FUNCS:
        fid = btf.find(prefix + tracepoint, BtfKind.FUNC)
        if fid is None:
            continue
        params = btf.type(fid).proto.params[1:]
        if len(params) == len(args) and all(p.name for p in params):
            return params
    return args


def func_proto(function: str, btf: Btf | None = None) -> T.FuncProto:
    """The prototype of kernel function `function` (what fentry/fexit programs see as their arguments)."""
    return (btf or kernel_btf()).func(function).proto


__all__ = ["kernel_btf", "kernel_btf_or_none", "attach_btf_name", "attach_btf_id", "tp_btf_type_id",
           "func_type_id", "tracepoint_proto", "raw_tracepoint_args", "raw_tracepoint_params", "func_proto",
           "TRACEPOINT_NAMED_FUNCS", "ATTACH_BTF_NAMES",
           "BTF_TRACE_PREFIX", "BTF_LSM_PREFIX", "BTF_ITER_PREFIX"]
