"""Memory objects: ctypes structures on the stack, fields, copies, zeroing of uncovered bytes."""
from __future__ import annotations

import ast
import ctypes
from typing import Any

from pyebpf.compiler.ir import Alu, Bswap, Ext, Load, Operand, SlotAddr, StackSlot, Store
from pyebpf.compiler.pyfront.cint import access_width
from pyebpf.compiler.pyfront.values import Ctx, CtxArray, Int, Mem, Value, kind_of, KRef
from pyebpf.compiler.symbols import is_array, is_struct
from pyebpf.compiler.types import U64, PtrType, int_type_of_ctype


class MemoryMixin:
    """Memory objects of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    # ---- memory: structs, fields --------------------------------------------------------------------------------
    def addr_of(self, m: Mem) -> Operand:
        if isinstance(m.base, StackSlot):
            return SlotAddr(m.base, m.off)
        if m.off == 0:
            return m.base
        d = self.ir.vreg(PtrType("mem"))
        self.ir.emit(Alu("add", d, m.base, m.off))
        return d

    def zero(self, m: Mem, size: int | None = None) -> None:
        size = ctypes.sizeof(m.ctype) if size is None else size
        off = 0
        while off < size:
            w = access_width(size - off, m.off + off)
            self.ir.emit(Store(m.base, m.off + off, 0, w))
            off += w

    def struct_value(self, node: ast.Call, cls: Any) -> Mem:
        fields = [f[0] for f in cls._fields_]
        if len(node.args) > len(fields):
            raise self.err(node, f"{cls.__name__} has {len(fields)} fields, {len(node.args)} values given")
        given: dict[str, ast.expr] = dict(zip(fields, node.args))
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in fields:
                raise self.err(kw.value if kw.arg is None else kw, f"{cls.__name__} has no field {kw.arg!r}",
                               hint=f"fields: {', '.join(fields)}")
            given[kw.arg] = kw.value
        slot = self.ir.slot(ctypes.sizeof(cls), max(ctypes.alignment(cls), 8), cls.__name__)
        m = Mem(slot, 0, cls)
        # padding and fields not given are zero (hash keys compare every byte; records reach user space): zero
        # every byte the initialisers below do not certainly write
        covered = bytearray(ctypes.sizeof(cls))
        for name, value_node in given.items():
            fm = self.field_mem(m, name, node)
            if int_type_of_ctype(fm.ctype) is not None or self._fills_whole(value_node):
                covered[fm.off:fm.off + ctypes.sizeof(fm.ctype)] = b"\1" * ctypes.sizeof(fm.ctype)
        self.zero_uncovered(m, covered)
        for name, value_node in given.items():
            self.store_into(self.field_mem(m, name, node), value_node)
        return m

    def _fills_whole(self, node: ast.expr) -> bool:
        """comm() writes all 16 bytes of its buffer (NUL-padded); str() stops at the NUL, so it does not; a copy
        (of a context array, another structure) writes every byte, zero-padding what it does not copy."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                isinstance(self.frame.vars.get(node.value.id), Ctx):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            obj = self.resolve_static(node.func)
            return getattr(obj, "__probe_intrinsic__", None) == "comm"
        return False

    def zero_uncovered(self, m: Mem, covered: bytearray) -> None:
        """Store zeros over the bytes of `m` not marked in `covered`, in the widest aligned stores that fit."""
        size = len(covered)
        off = 0
        while off < size:
            if covered[off]:
                off += 1
                continue
            for w in (8, 4, 2, 1):
                if (m.off + off) % w == 0 and off + w <= size and not any(covered[off:off + w]):
                    break
            self.ir.emit(Store(m.base, m.off + off, 0, w))
            off += w

    def field_mem(self, m: Mem, name: str, node: ast.AST) -> Mem:
        cls = m.ctype
        for fdesc in cls._fields_:
            if fdesc[0] == name:
                if len(fdesc) > 2:
                    raise self.err(node, f"bit field {cls.__name__}.{name} is not supported")
                d = getattr(cls, name)
                return Mem(m.base, m.off + d.offset, fdesc[1],
                           issubclass(cls, ctypes.BigEndianStructure) if isinstance(cls, type) else False)
        raise self.err(node, f"{cls.__name__} has no field {name!r}",
                       hint=f"fields: {', '.join(f[0] for f in cls._fields_)}")

    def mem_field(self, base: Mem, node: ast.Attribute) -> Value:
        if not is_struct(base.ctype):
            raise self.err(node, f"a {kind_of(base)} has no field {node.attr!r}")
        m = self.field_mem(base, node.attr, node)
        if int_type_of_ctype(m.ctype) is not None:
            return self.read_mem(m, node)
        return m

    def mem_index(self, base: Mem, node: ast.Subscript) -> Value:
        i = self.const_index(node.slice, base.ctype._length_)
        et = base.ctype._type_
        m = Mem(base.base, base.off + i * ctypes.sizeof(et), et, base.big_endian)
        return self.read_mem(m, node) if int_type_of_ctype(et) is not None else m

    def read_mem(self, m: Mem, node: ast.AST) -> Int:
        t = int_type_of_ctype(m.ctype)
        if t is None:
            raise self.err(node, f"expected an integer field, got {getattr(m.ctype, '__name__', m.ctype)}")
        d = self.ir.vreg(t)
        if m.big_endian and t.bits > 8:  # network order (ctypes.BigEndianStructure): load, swap, extend
            raw = self.ir.vreg(t)
            self.ir.emit(Load(raw, m.base, m.off, t.size, False))
            if t.signed:
                sw = self.ir.vreg(t)
                self.ir.emit(Bswap(sw, raw, t.bits))
                self.def_(Ext(d, sw, t.bits, True), d)
            else:
                self.def_(Bswap(d, raw, t.bits), d)
            return Int(d, t)
        self.def_(Load(d, m.base, m.off, t.size, t.signed), d)
        return Int(d, t)

    def store_int(self, m: Mem, v: Int) -> None:
        t = int_type_of_ctype(m.ctype)
        assert t is not None
        val = self.convert(v, t)
        if m.big_endian and t.bits > 8:
            if val.const is not None:
                val = Int(int.from_bytes((val.const & t.mask).to_bytes(t.size, "big"), "little"), t)
            else:
                sw = self.ir.vreg(t)
                self.ir.emit(Bswap(sw, val.op, t.bits))
                val = Int(sw, t)
        self.ir.emit(Store(m.base, m.off, val.op, t.size))

    def store_into(self, dest: Mem, value_node: ast.expr) -> None:
        """dest = value: integers stored, strings/structs copied, string helpers write straight into dest."""
        t = int_type_of_ctype(dest.ctype)
        if t is not None:
            self.store_int(dest, self.as_int(self.expr(value_node), value_node))
            return
        if isinstance(value_node, ast.Call):
            name = None
            fobj = self.resolve_static(value_node.func) if isinstance(value_node.func, (ast.Name, ast.Attribute)) \
                else None
            import builtins

            if fobj is builtins.str:
                name = "str"
            elif fobj is not None:
                name = getattr(fobj, "__probe_intrinsic__", None)
            if name in ("comm", "str", "kstr"):
                if not is_array(dest.ctype):
                    raise self.err(value_node, "a string goes into a char array field")
                getattr(self, "i_" + name)(value_node, into=dest)
                return
        v = self.expr(value_node)
        if isinstance(v, Mem):
            self.copy(dest, v, value_node)
            return
        if isinstance(v, KRef):
            self.zero(dest)
            self.kernel_copy(dest, v, value_node)
            return
        if isinstance(v, CtxArray) and is_array(dest.ctype):  # char comm[16] of a tracepoint record, ...
            f = v.field
            n = min(ctypes.sizeof(dest.ctype), f.size * f.count)
            off = 0
            while off < n:  # the kernel wants context loads aligned to their size
                w = access_width(n - off, f.offset + off, dest.off + off)
                d = self.ir.vreg(U64)
                self.ir.emit(Load(d, v.ctx.v, f.offset + off, w))
                self.ir.emit(Store(dest.base, dest.off + off, d, w))
                off += w
            if ctypes.sizeof(dest.ctype) > n:
                self.zero(Mem(dest.base, dest.off + n, ctypes.c_char * (ctypes.sizeof(dest.ctype) - n)))
            return
        raise self.err(value_node, f"cannot store a {kind_of(v)} in a {getattr(dest.ctype, '__name__', 'field')}")

    def copy(self, dest: Mem, src: Mem, node: ast.AST) -> None:
        n = min(ctypes.sizeof(dest.ctype), ctypes.sizeof(src.ctype))
        if ctypes.sizeof(dest.ctype) != ctypes.sizeof(src.ctype) and not (is_array(dest.ctype) and is_array(src.ctype)):
            raise self.err(node, "cannot copy between objects of different types")
        off = 0
        while off < n:
            w = access_width(n - off, src.off + off, dest.off + off)
            d = self.ir.vreg(U64)
            self.ir.emit(Load(d, src.base, src.off + off, w))
            self.ir.emit(Store(dest.base, dest.off + off, d, w))
            off += w
        if ctypes.sizeof(dest.ctype) > n:
            self.zero(Mem(dest.base, dest.off + n, ctypes.c_char * (ctypes.sizeof(dest.ctype) - n)))

    def lvalue_mem(self, node: ast.Attribute) -> Mem:
        item = self.map_struct_item(node.value)
        if item is not None:  # m[k].field = ...: the value in the map, inserted zeroed when absent
            info, sub = item
            return self.field_mem(self.lookup_or_init(info, sub), node.attr, node)
        base = self.expr(node.value)
        if isinstance(base, Mem) and is_struct(base.ctype):
            return self.field_mem(base, node.attr, node)
        if isinstance(base, Ctx):
            raise self.err(node, "context fields are read-only here")
        raise self.err(node, f"cannot assign a field of a {kind_of(base)}")
