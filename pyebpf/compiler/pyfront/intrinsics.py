"""Intrinsics: the helper functions a probe calls (pid(), comm(), log2(), str(), printk(f"..."))."""
from __future__ import annotations

import ast
import ctypes

from pyebpf.abi.helpers import HelperId
from pyebpf.compiler.context import Field
from pyebpf.compiler.ir import Alu, Call, Load, MapRef, Mov, Neg, Operand, SlotAddr, Store
from pyebpf.compiler.pyfront.cint import literal_type
from pyebpf.compiler.ktypes import kernel_struct
from pyebpf.compiler.pyfront.values import Ctx, Int, KRef, Mem, Value
from pyebpf.compiler.symbols import is_array
from pyebpf.compiler.types import S64, U32, U64, PtrType


class IntrinsicsMixin:
    """Intrinsics of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    def i_pid(self, node: ast.Call) -> Value:
        self.no_args(node, "pid")
        v = self.helper(HelperId.GET_CURRENT_PID_TGID, [], U64)
        d = self.ir.vreg(U32)
        self.def_(Alu("rsh", d, v.op, 32), d)
        return Int(d, U32)

    i_tgid = i_pid

    def i_tid(self, node: ast.Call) -> Value:
        self.no_args(node, "tid")
        return self.convert(self.helper(HelperId.GET_CURRENT_PID_TGID, [], U64), U32)

    def i_uid(self, node: ast.Call) -> Value:
        self.no_args(node, "uid")
        return self.convert(self.helper(HelperId.GET_CURRENT_UID_GID, [], U64), U32)

    def i_gid(self, node: ast.Call) -> Value:
        self.no_args(node, "gid")
        v = self.helper(HelperId.GET_CURRENT_UID_GID, [], U64)
        d = self.ir.vreg(U32)
        self.def_(Alu("rsh", d, v.op, 32), d)
        return Int(d, U32)

    def i_ktime_ns(self, node: ast.Call) -> Value:
        self.no_args(node, "ktime_ns")
        return self.helper(HelperId.KTIME_GET_NS, [], U64)

    def i_cpu(self, node: ast.Call) -> Value:
        self.no_args(node, "cpu")
        return self.helper(HelperId.GET_SMP_PROCESSOR_ID, [], U32)

    def i_random(self, node: ast.Call) -> Value:
        self.no_args(node, "random")
        return self.helper(HelperId.GET_PRANDOM_U32, [], U32)

    def i_current_task(self, node: ast.Call) -> Value:
        self.no_args(node, "current_task")
        task = self.helper(HelperId.GET_CURRENT_TASK, [], U64)
        btf = self.kernel.btf() if self.kernel is not None else None
        if btf is not None:  # a struct task_struct * whose fields read kernel memory (task.real_parent.tgid)
            task.kt = kernel_struct(btf, "task_struct")
        return task

    def i_cgroup_id(self, node: ast.Call) -> Value:
        self.no_args(node, "cgroup_id")
        return self.helper(HelperId.GET_CURRENT_CGROUP_ID, [], U64)

    def i_log2(self, node: ast.Call) -> Value:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, "log2(value) takes one value")
        return self.log2_of(self.as_int(self.expr(node.args[0]), node.args[0]), node)

    def log2_of(self, v: Int, node: ast.AST) -> Int:
        """floor(log2(v)) of v as u64 (0 for 0 and 1): a binary search without branches (each step's test
        `x >> k != 0` is `(t | -t) >> 63`), so a verifier walks one path however often a probe calls it."""
        x = self.ir.vreg(U64)
        self.ir.emit(Mov(x, self.convert(v, U64).op))
        r = self.ir.vreg(U64)
        self.ir.emit(Mov(r, 0))
        for k in (32, 16, 8, 4, 2, 1):
            t, u = self.ir.vreg(U64), self.ir.vreg(U64)
            self.ir.emit(Alu("rsh", t, x, k))
            self.ir.emit(Neg(u, t))
            self.ir.emit(Alu("or", u, u, t))
            self.ir.emit(Alu("rsh", u, u, 63))              # 1 when x >> k is not 0
            if k > 1:
                self.ir.emit(Alu("lsh", u, u, k.bit_length() - 1))  # ... times k
            self.ir.emit(Alu("rsh", x, x, u))
            self.ir.emit(Alu("or", r, r, u))
        self._last_def = None
        return Int(r, U32, (0, 63))

    def i_comm(self, node: ast.Call, into: Mem | None = None) -> Value:
        self.no_args(node, "comm")
        dest = into or Mem(self.ir.slot(16, 8, "comm"), 0, ctypes.c_char * 16)
        self.ir.emit(Call(HelperId.GET_CURRENT_COMM, [self.addr_of(dest), 16], None))
        return dest

    def i_str(self, node: ast.Call, into: Mem | None = None) -> Value:
        return self.read_str(node, user=True, into=into)

    def i_kstr(self, node: ast.Call, into: Mem | None = None) -> Value:
        return self.read_str(node, user=False, into=into)

    def read_str(self, node: ast.Call, user: bool, into: Mem | None = None) -> Value:
        if not 1 <= len(node.args) <= 2 or node.keywords:
            raise self.err(node, "str(pointer[, size]) reads a NUL-terminated string (size: constant, default 64)")
        size = 64
        if len(node.args) == 2:
            s = self.as_int(self.expr(node.args[1]), node.args[1])
            if s.const is None or not 1 <= s.const <= 256:
                raise self.err(node.args[1], "the size must be a constant from 1 to 256")
            size = s.const
        src: Operand
        loc_field = self.data_loc_field(node.args[0])
        if loc_field is not None:  # a __data_loc string of the tracepoint record: ctx + (loc & 0xffff)
            ctx, f = loc_field
            loc = self.ir.vreg(U32)
            self.ir.emit(Load(loc, ctx.v, f.offset, 4))
            self.ir.emit(Alu("and", loc, loc, 0xFFFF))
            p = self.ir.vreg(PtrType("ctx"))
            self.ir.emit(Alu("add", p, ctx.v, loc))
            src, user = p, False
        else:
            arg = self.expr(node.args[0])
            if isinstance(arg, KRef):  # a char array in kernel memory: kstr(task.comm)
                src, user = self.kernel_address(arg), False
                if len(node.args) == 1:
                    size = min(arg.type.size, 256)
            else:
                src = self.convert(self.as_int(arg, node.args[0]), U64).op
        if into is not None:
            size = ctypes.sizeof(into.ctype)
        dest = into or Mem(self.ir.slot(size, 8, "str"), 0, ctypes.c_char * size)
        if into is None:
            self.zero(dest)
        hid = HelperId.PROBE_READ_USER_STR if user else HelperId.PROBE_READ_KERNEL_STR
        self.ir.emit(Call(hid, [self.addr_of(dest), size, src], None))
        return dest

    def data_loc_field(self, node: ast.expr) -> tuple[Ctx, Field] | None:
        """(ctx, field) when `node` is ctx.NAME of a __data_loc field."""
        if not isinstance(node, ast.Attribute):
            return None
        base = self.expr(node.value) if isinstance(node.value, ast.Name) else None
        if not isinstance(base, Ctx) or base.spec is None:
            return None
        f = base.spec.find(node.attr)
        return (base, f) if f is not None and f.kind == "data_loc" else None

    def i_printk(self, node: ast.Call) -> Value:
        if len(node.args) != 1 or node.keywords:
            raise self.err(node, 'printk takes one string: printk(f"pid {pid()} read {n} bytes")')
        arg = node.args[0]
        fmt, values = "", []
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            fmt = arg.value.replace("%", "%%")
        elif isinstance(arg, ast.JoinedStr):
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    fmt += str(part.value).replace("%", "%%")
                    continue
                assert isinstance(part, ast.FormattedValue)
                spec = ""
                if part.format_spec is not None:
                    if not (isinstance(part.format_spec, ast.JoinedStr) and len(part.format_spec.values) == 1
                            and isinstance(part.format_spec.values[0], ast.Constant)):
                        raise self.err(part, "format specs must be constant")
                    spec = str(part.format_spec.values[0].value)
                v = self.expr(part.value)
                if isinstance(v, Mem) and is_array(v.ctype) and v.ctype._type_ is ctypes.c_char:
                    fmt += "%s"
                    values.append(self.addr_of(v))
                    continue
                iv = self.as_int(v, part.value)
                t = iv.t or literal_type(iv.op)  # type: ignore[arg-type]
                conv = {"": "lld" if t.signed else "llu", "d": "lld" if t.signed else "llu", "x": "llx",
                        "#x": "#llx", "u": "llu"}.get(spec)
                if conv is None:
                    raise self.err(part, f"format spec {spec!r} is not supported", hint="use {x}, {x:x} or {x:#x}")
                fmt += "%" + conv
                values.append(self.convert(iv, S64 if t.signed else U64).op)
        else:
            raise self.err(arg, "printk takes a string literal or an f-string")
        data = fmt.encode() + b"\0"
        off = len(self.rodata)
        self.rodata += data
        fmt_ref = MapRef(self.rodata_name, off)
        if len(values) <= 3:
            self.ir.emit(Call(HelperId.TRACE_PRINTK, [fmt_ref, len(data), *values], None))
        else:
            if len(values) > 12:
                raise self.err(node, "printk takes at most 12 values")
            slot = self.ir.slot(8 * len(values), 8, "printk")
            for i, v in enumerate(values):
                self.ir.emit(Store(slot, 8 * i, v, 8))
            self.ir.emit(Call(HelperId.TRACE_VPRINTK, [fmt_ref, len(data), SlotAddr(slot), 8 * len(values)], None))
        return Int(0, None)
