"""Intrinsics for reading memory the program does not own and for signals (what bpftrace's struct casts, `*ptr`,
`buf()`, `join()` and `signal()` compile to), kept out of the Python front end's module while it is being split.

    probe_read(addr, size, signed=0, user=0)   an integer of `size` bytes at `addr` (bpf_probe_read_kernel/_user
                                               into a zeroed stack slot, then a load; 0 if the read faults;
                                               user=2: bpf_probe_read, which picks by the address on x86-64)
    probe_read_bytes(addr, size, user=0)       `size` bytes (char array, zero-filled where the read faults)
    send_signal(sig)                           bpf_send_signal: signal the current process
    const_bytes("text", size)                  a NUL-padded char array built on the stack
    map_value(m, key)                          a copy of a structure value (zeroed when the key is absent)
    task_address()                             bpf_get_current_task() as a u64 (current_task() without BTF)
    load_time_u64(value, "name")               a u64 read from the program's .rodata, where it follows the tag
                                               b"@name" (8 bytes): a loader may write another value there before
                                               loading (pyebpf trace's cached programs: `cpid`, `elapsed`'s start)

`install(PythonFrontEnd)` adds them (as `i_<name>` methods, the front end's intrinsic protocol); the generated
module imports the marker functions below, which the front end recognises by `__probe_intrinsic__`.
"""
from __future__ import annotations

import ast
import ctypes
from typing import Any, Callable

from pyebpf.abi.helpers import HelperId
from pyebpf.compiler.ir import Call, Load, MapRef, Mov, Store
from pyebpf.compiler.types import S8, S16, S32, S64, U8, U16, U32, U64
from pyebpf.errors import CompileError

_INT_TYPES = {(1, False): U8, (2, False): U16, (4, False): U32, (8, False): U64,
              (1, True): S8, (2, True): S16, (4, True): S32, (8, True): S64}
MAX_BYTES = 256
_READ = {0: HelperId.PROBE_READ_KERNEL, 1: HelperId.PROBE_READ_USER, 2: HelperId.PROBE_READ}


def _marker(name: str, doc: str) -> Callable[..., Any]:
    def fn(*args: Any, **kw: Any) -> Any:
        raise CompileError(f"{name}() only has a meaning inside a probe (compiled to eBPF)")

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__probe_intrinsic__ = name  # type: ignore[attr-defined]
    return fn


probe_read = _marker("probe_read", "probe_read(addr, size, signed=0, user=0): an integer read from memory.")
probe_read_bytes = _marker("probe_read_bytes", "probe_read_bytes(addr, size, user=0): bytes read from memory.")
send_signal = _marker("send_signal", "send_signal(sig): bpf_send_signal to the current process.")
map_value = _marker("map_value", "map_value(m, key): a copy of the whole value (zeroed when the key is absent).")
const_bytes = _marker("const_bytes", 'const_bytes("text", size): a NUL-padded char array on the stack.')
task_address = _marker("task_address", "task_address(): bpf_get_current_task() as a plain u64 (no BTF needed).")
load_time_u64 = _marker("load_time_u64", 'load_time_u64(value, "name"): a u64 kept in .rodata after its tag.')
LOAD_TIME_TAG = b"@"
"""A load-time value's 8-byte tag in .rodata: b"@" + its name, NUL-padded (8-aligned; the value follows it)."""


def load_time_tag(name: str) -> bytes:
    return (LOAD_TIME_TAG + name.encode())[:8].ljust(8, b"\0")


def _consts(fe: Any, node: ast.Call, names: list[str], required: int) -> list[int]:
    if not required <= len(node.args) <= len(names) + 1 or node.keywords:
        raise fe.err(node, f"{node.func.id if isinstance(node.func, ast.Name) else 'call'}() takes "
                           f"(addr, {', '.join(names)})")
    out = []
    for i, a in enumerate(node.args[1:]):
        v = fe.as_int(fe.expr(a), a)
        if v.const is None:
            raise fe.err(a, f"{names[i]} must be a constant")
        out.append(v.const)
    return out + [0] * (len(names) - len(out))


def _address(fe: Any, node: ast.Call) -> Any:
    return fe.convert(fe.as_int(fe.expr(node.args[0]), node.args[0]), U64).op


def i_probe_read(fe: Any, node: ast.Call) -> Any:
    from pyebpf.compiler.pyfront import Int, Mem

    size, signed, user = _consts(fe, node, ["size", "signed", "user"], 2)
    t = _INT_TYPES.get((size, bool(signed)))
    if t is None:
        raise fe.err(node, "probe_read() reads 1, 2, 4 or 8 bytes")
    addr = _address(fe, node)
    dest = Mem(fe.ir.slot(8, 8, "pread"), 0, ctypes.c_uint64)
    fe.zero(dest)
    fe.ir.emit(Call(_READ[min(user, 2)], [fe.addr_of(dest), size, addr], None))
    d = fe.ir.vreg(t)
    fe.def_(Load(d, dest.base, dest.off, size, bool(signed)), d)
    return Int(d, t)


def i_probe_read_bytes(fe: Any, node: ast.Call, into: Any = None) -> Any:
    from pyebpf.compiler.pyfront import Mem

    size, user = _consts(fe, node, ["size", "user"], 2)[:2]
    if not 1 <= size <= MAX_BYTES:
        raise fe.err(node, f"probe_read_bytes() reads 1 to {MAX_BYTES} bytes")
    addr = _address(fe, node)
    dest = Mem(fe.ir.slot(size, 8, "pbytes"), 0, ctypes.c_char * size)
    fe.zero(dest)
    fe.ir.emit(Call(_READ[min(user, 2)], [fe.addr_of(dest), size, addr], None))
    return dest


def i_task_address(fe: Any, node: ast.Call) -> Any:
    """The current task_struct's address as an integer: current_task() without typing it from the kernel's BTF
    (which costs parsing all of vmlinux's BTF; bpftrace's casts read the fields at offsets of their own)."""
    if node.args or node.keywords:
        raise fe.err(node, "task_address() takes no arguments")
    return fe.helper(HelperId.GET_CURRENT_TASK, [], U64)


def i_send_signal(fe: Any, node: ast.Call) -> Any:
    if len(node.args) != 1 or node.keywords:
        raise fe.err(node, "send_signal(sig) takes the signal number")
    sig = fe.convert(fe.as_int(fe.expr(node.args[0]), node.args[0]), U32)
    return fe.helper(HelperId.SEND_SIGNAL, [sig.op], S64)


def i_const_bytes(fe: Any, node: ast.Call, into: Any = None) -> Any:
    from pyebpf.compiler.pyfront import Mem

    if len(node.args) != 2 or node.keywords or not isinstance(node.args[0], ast.Constant) or \
            not isinstance(node.args[0].value, (str, bytes)):
        raise fe.err(node, 'const_bytes("text", size) takes a string literal and a constant size')
    data = node.args[0].value
    data = data.encode() if isinstance(data, str) else data
    size = fe.as_int(fe.expr(node.args[1]), node.args[1]).const
    if size is None or not 1 <= size <= MAX_BYTES:
        raise fe.err(node, f"const_bytes(): the size must be a constant from 1 to {MAX_BYTES}")
    raw = data[:size].ljust(size + (-size % 8), b"\0")
    dest = Mem(fe.ir.slot(len(raw), 8, "cbytes"), 0, ctypes.c_char * size)
    for off in range(0, len(raw), 8):  # 8 bytes a store: an immediate is 32-bit, so a word is built in a register
        word = int.from_bytes(raw[off:off + 8], "little")
        if word < 1 << 31:
            fe.ir.emit(Store(dest.base, off, word, 8))
        else:
            d = fe.ir.vreg(U64)
            fe.ir.emit(Mov(d, word))
            fe.ir.emit(Store(dest.base, off, d, 8))
    return dest


def i_map_value(fe: Any, node: ast.Call, into: Any = None) -> Any:
    """A copy of a structure value on the stack: zeroed first, the value copied over it when the key is there."""
    from pyebpf.compiler.pyfront import Mem

    if len(node.args) != 2 or node.keywords:
        raise fe.err(node, "map_value(m, key) takes a map and a key")
    info, _ = fe.map_of(node.args[0])
    vt = info.value_ctype
    if vt is None:
        raise fe.err(node, "this map has no values to copy")
    key = fe.key_addr(info, node.args[1])
    dest = Mem(fe.ir.slot(ctypes.sizeof(vt), 8, "mval"), 0, vt)
    fe.zero(dest)
    p = fe.lookup(info, key)
    found, done = fe.ir.new_block("mfound"), fe.ir.new_block("mdone")
    fe.ir.branch("ne", p, 0, found, done)
    fe.ir.set_block(found)
    fe.copy(dest, Mem(p, 0, vt), node)
    fe.ir.jump(done)
    fe.ir.set_block(done)
    return dest


def i_load_time_u64(fe: Any, node: ast.Call) -> Any:
    """The value is stored in the frozen .rodata and read from there, so the instructions do not depend on it."""
    if len(node.args) != 2 or node.keywords or not all(isinstance(a, ast.Constant) for a in node.args) or \
            not isinstance(node.args[0].value, int) or not isinstance(node.args[1].value, str):
        raise fe.err(node, 'load_time_u64(value, "name") takes an integer constant and a name')
    fe.rodata += bytes(-len(fe.rodata) % 8)
    fe.rodata += load_time_tag(node.args[1].value) + (node.args[0].value & (2 ** 64 - 1)).to_bytes(8, "little")
    p = fe.ir.vreg(U64)
    fe.ir.emit(Mov(p, MapRef(fe.rodata_name, len(fe.rodata) - 8)))
    from pyebpf.compiler.pyfront import Int

    d = fe.ir.vreg(S64)
    fe.def_(Load(d, p, 0, 8, False), d)
    return Int(d, S64)


def install(cls: type) -> None:
    """Give the front-end class these intrinsics (idempotent)."""
    for fn in (i_probe_read, i_probe_read_bytes, i_send_signal, i_const_bytes, i_map_value, i_task_address,
               i_load_time_u64):
        if not hasattr(cls, fn.__name__):
            setattr(cls, fn.__name__, fn)


__all__ = ["probe_read", "probe_read_bytes", "send_signal", "const_bytes", "map_value", "task_address",
           "load_time_u64", "load_time_tag", "install"]


def _install_default() -> None:
    from pyebpf.compiler.pyfront import PythonFrontEnd

    install(PythonFrontEnd)


_install_default()
