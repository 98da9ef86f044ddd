"""Context access per program type: fields, arrays, entry loads, packet headers with bounds checks."""
from __future__ import annotations

import ast
import ctypes

from pyebpf.compiler.context import Field
from pyebpf.abi.helpers import HelperId
from pyebpf.compiler.ir import Call, Ext, Load, Mov, Param, Return, VReg
from pyebpf.compiler.pyfront.values import Ctx, CtxArray, Int, Mem, Ptr, Value
from pyebpf.compiler.ktypes import direct_target, int_type_of_btf, pointee
from pyebpf.compiler.symbols import is_struct
from pyebpf.compiler.types import INT_TYPES, U64, PtrType


class ContextMixin:
    """Context access per program type of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    # ---- context ------------------------------------------------------------------------------------------------
    def ctx_field(self, ctx: Ctx, node: ast.Attribute) -> Value:
        spec = ctx.spec
        if spec is None:
            raise self.err(node, "this program type's context has no known fields",
                           hint="attach to a tracepoint, raw_tp, kprobe, xdp or tc section")
        f = spec.find(node.attr)
        if f is None:
            names = ", ".join(sorted(spec.fields))
            raise self.err(node, f"{spec.name} has no field {node.attr!r}", hint=f"fields: {names}")
        if f.count > 1:
            return CtxArray(ctx, f)
        return self.load_ctx(ctx, f, node)

    def load_ctx(self, ctx: Ctx, f: Field, node: ast.AST) -> Value:
        if f.kind in ("packet", "packet_end"):
            d = self.ir.vreg(PtrType(f.kind))
            self.ir.emit(Load(d, ctx.v, f.offset, f.size))
            return Ptr(d, f.kind)
        if f.kind == "usdt":
            return self.usdt_arg(ctx, f)
        if f.kind == "btf":  # an argument slot: 8 bytes holding a value of the BTF type
            it = int_type_of_btf(f.btf)
            if it is None:
                raise self.err(node, f"argument {f.name} is a {f.ctype}: probes read integers and pointers")
            raw = self.ir.vreg(U64)
            self.def_(Load(raw, ctx.v, f.offset, 8, False), raw)
            target = pointee(f.btf)
            if target is not None:  # tp_btf/fentry arguments are PTR_TO_BTF_ID: fields by plain loads
                return Int(raw, U64, kt=target, kdirect=bool(ctx.spec and ctx.spec.btf_pointers) and f.name != "ret"
                           and direct_target(f.btf))
            return self.convert(Int(raw, U64), it)
        if f.size not in (1, 2, 4, 8):
            raise self.err(node, f"field {f.name} of {f.size} bytes is not an integer")
        t = INT_TYPES[("s" if f.signed else "u") + str(8 * f.size)]
        d = self.ir.vreg(t)
        # the kernel rewrites ctx loads and refuses BPF_MEMSX on them: load unsigned, then sign-extend
        self.def_(Load(d, ctx.v, f.offset, f.size, False), d)
        if f.signed and f.size < 8:
            e = self.ir.vreg(t)
            self.def_(Ext(e, d, 8 * f.size, True), e)
            d = e
        return Int(d, t)

    def usdt_arg(self, ctx: Ctx, f: Field) -> Int:
        """A USDT argument where its note says it is (libbpf's bpf_usdt_arg): a constant, a pt_regs register, or
        user memory at register + offset (bpf_probe_read_user); narrowed to its size and sign. An argument whose
        place differs between sites is read from the place of the site's spec id, the attach cookie."""
        from pyebpf.compiler.context import UsdtLocations

        spec = f.usdt
        if not isinstance(spec, UsdtLocations):
            return self.usdt_location(ctx, spec)
        t = INT_TYPES[("s" if spec.signed else "u") + str(8 * spec.size)]
        cookie = self.attach_cookie(ctx)
        res = self.ir.vreg(t)
        self.ir.emit(Mov(res, 0))
        done = self.ir.new_block("usdtdone")
        for spec_id, where in enumerate(spec.by_spec):
            here, other = self.ir.new_block(f"usdt{spec_id}"), self.ir.new_block("usdtnext")
            self.ir.branch("eq", cookie, spec_id, here, other)
            self.ir.set_block(here)
            self.ir.emit(Mov(res, self.convert(self.usdt_location(ctx, where), t).op))
            self.ir.jump(done)
            self.ir.set_block(other)
        self.ir.jump(done)
        self.ir.set_block(done)
        return Int(res, t)

    def usdt_location(self, ctx: Ctx, spec: Any) -> Int:
        t = INT_TYPES[("s" if spec.signed else "u") + str(8 * spec.size)]
        kind = spec.kind.value
        if kind == "const":
            return Int(t.wrap(spec.value), t)
        reg = self.ir.vreg(U64)
        self.def_(Load(reg, ctx.v, spec.reg_offset, 8, False), reg)
        if kind == "reg":
            return self.convert(Int(reg, U64), t)
        return Int(self.user_read(reg, spec.offset, t), t)

    def attach_cookie(self, ctx: Ctx) -> VReg:
        """bpf_get_attach_cookie(ctx), called once in the entry block (which dominates every use)."""
        cached = self.__dict__.get("_cookie")
        if cached is None:
            cached = self._cookie = self.ir.vreg(U64, "cookie")
            entry = self.ir.fn.blocks[0]
            at = next((i + 1 for i, insn in enumerate(entry.insns) if isinstance(insn, Param)), 0)
            call = Call(HelperId.GET_ATTACH_COOKIE, [ctx.v], cached)
            call.loc = entry.insns[at - 1].loc if at else None  # type: ignore[attr-defined]
            entry.insns.insert(at, call)
        return cached

    def entry_ctx_load(self, ctx: Ctx, f: Field) -> Ptr:
        """ctx.data / ctx.data_end loaded once, in the entry block (which dominates every use)."""
        cached = self._ctx_loads.get(f.name)
        if cached is None:
            d = self.ir.vreg(PtrType(f.kind))
            entry = self.ir.fn.blocks[0]
            at = next((i + 1 for i, insn in enumerate(entry.insns) if isinstance(insn, Param)), 0)
            load = Load(d, ctx.v, f.offset, f.size)
            load.loc = entry.insns[at - 1].loc if at else None  # type: ignore[attr-defined]
            entry.insns.insert(at, load)
            cached = self._ctx_loads[f.name] = Ptr(d, f.kind)
        return cached

    def packet_header(self, node: ast.Call, ctx: Ctx) -> Value:
        """ctx.header(Struct[, offset]): the header at `offset` in the packet; when the packet is too short the
        probe returns its default verdict (the bounds check the verifier needs is generated here)."""
        if not 1 <= len(node.args) <= 2 or node.keywords:
            raise self.err(node, "ctx.header(HeaderStruct, offset=0)")
        cls = self.resolve_static(node.args[0])
        if not is_struct(cls):
            raise self.err(node.args[0], "ctx.header() takes a ctypes Structure class")
        spec = ctx.spec
        data_f = spec.find("data") if spec else None
        end_f = spec.find("data_end") if spec else None
        if data_f is None or end_f is None or data_f.kind != "packet":
            raise self.err(node, "ctx.header() needs a packet program (xdp, tc)")
        off = Int(0, None) if len(node.args) == 1 else self.as_int(self.expr(node.args[1]), node.args[1])
        data = self.entry_ctx_load(ctx, data_f)
        end = self.entry_ctx_load(ctx, end_f)
        assert isinstance(data, Ptr) and isinstance(end, Ptr)
        start = data if off.const == 0 else self.ptr_offset(data, off, "add", node)
        stop = self.ptr_offset(start, Int(ctypes.sizeof(cls), None), "add", node)
        ok, short = self.ir.new_block("hdr"), self.ir.new_block("short")
        self.ir.branch("gt", stop.v, end.v, short, ok)
        self.ir.set_block(short)
        self.ir.terminate(Return(self.default_return))
        self.ir.set_block(ok)
        return Mem(start.v, 0, cls, issubclass(cls, ctypes.BigEndianStructure))
