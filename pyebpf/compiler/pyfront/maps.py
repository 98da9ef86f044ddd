"""Maps: registration, keys, lookup, read/store, read-modify-write (atomic), membership, methods."""
from __future__ import annotations

import ast
import ctypes
from typing import Any

from pyebpf.abi.helpers import HelperId
from pyebpf.abi.maps import ARRAY_TYPES, PERCPU_TYPES, MapType
from pyebpf.abi.uapi import BPF_F_CURRENT_CPU, HelperFlags, UpdateFlags
from pyebpf.compiler.ir import (
    Alu, AtomicAdd, Block, Call, Load, MapRef, Mov, Neg, Operand, Return, SlotAddr, Store, VReg,
)
from pyebpf.compiler.pyfront.values import Ctx, Int, Mem, Obj, Value, kind_of
from pyebpf.compiler.symbols import MapInfo, is_struct
from pyebpf.compiler.types import S64, U32, U64, PtrType, int_type_of_ctype
from pyebpf.errors import CompileError


class MapsMixin:
    """Maps of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    def register_map(self, obj: Any, global_name: str) -> str:
        info: MapInfo = obj.__probe_map__
        if not info.name:
            info.name = self.map_namer(obj, global_name) if self.map_namer else global_name
        prev = self.map_objects.get(info.name)
        if prev is not None and prev is not obj:
            raise CompileError(f"two different maps are named {info.name!r}", self.frame.filename,
                               self.frame.first_line, 1, hint="give one of them name=...")
        self.maps[info.name] = info
        self.map_objects[info.name] = obj
        return info.name


    def map_struct_item(self, node: ast.expr) -> tuple[MapInfo, ast.Subscript] | None:
        """(map, subscript) when `node` is m[k] of a map whose values are structures."""
        if not isinstance(node, ast.Subscript):
            return None
        target = self.resolve_static(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
        info = getattr(target, "__probe_map__", None)
        if info is None or not is_struct(info.value_ctype):
            return None
        self.expr(node.value)  # registers the map
        return info, node

    # ---- maps ---------------------------------------------------------------------------------------------------
    def map_of(self, node: ast.expr) -> tuple[MapInfo, str]:
        v = self.expr(node)
        if not (isinstance(v, Obj) and hasattr(v.value, "__probe_map__")):
            raise self.err(node, f"expected a map, got a {kind_of(v)}")
        info = v.value.__probe_map__
        return info, info.name

    def key_addr(self, info: MapInfo, key_node: ast.expr) -> Operand:
        kt = info.key_ctype
        if kt is None:
            raise self.err(key_node, f"{info.type.name.lower()} maps have no keys")
        it = int_type_of_ctype(kt)
        if it is not None:
            kv = self.expr(key_node)
            if not isinstance(kv, Int):
                raise self.err(key_node, f"the key must be a {it.name}, not a {kind_of(kv)}")
            v = kv
            slot = self.ir.slot(it.size, max(it.size, 1), "key")
            self.ir.emit(Store(slot, 0, self.convert(v, it).op, it.size))
            return SlotAddr(slot)
        if isinstance(key_node, ast.Tuple) and is_struct(kt):  # m[a, b]: the fields of the key structure
            fake = ast.Call(func=ast.Name("_"), args=key_node.elts, keywords=[])
            ast.copy_location(fake, key_node)
            return self.addr_of(self.struct_value(fake, kt))
        v = self.expr(key_node)
        if isinstance(v, Mem) and v.ctype is kt:
            return self.addr_of(v)
        raise self.err(key_node, f"the key must be a {getattr(kt, '__name__', kt)}")

    def lookup(self, info: MapInfo, key: Operand) -> VReg:
        p = self.ir.vreg(PtrType("map_value_or_null", info.value_ctype))
        self.ir.emit(Call(HelperId.MAP_LOOKUP_ELEM, [MapRef(info.name), key], p))  # type: ignore[arg-type]
        return p

    def lookup_or_init(self, info: MapInfo, sub: ast.Subscript) -> Mem:
        """The map value of key sub.slice, inserting a zeroed value first when absent (bcc's lookup_or_try_init).
        If the key cannot be inserted (map full) the probe returns its default value."""
        if info.type in (MapType.RINGBUF,):
            raise self.err(sub, "ring buffers have no values to update")
        key = self.key_addr(info, sub.slice)
        p = self.lookup(info, key)
        have, missing = self.ir.new_block("have"), self.ir.new_block("init")
        self.ir.branch("ne", p, 0, have, missing)
        self.ir.set_block(missing)
        if info.type in ARRAY_TYPES:
            self.ir.terminate(Return(self.default_return))
        else:
            size = ctypes.sizeof(info.value_ctype)
            zero = self.ir.slot(size, 8, "zero")
            self.zero(Mem(zero, 0, info.value_ctype))
            self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(info.name), key, SlotAddr(zero),
                                                          UpdateFlags.NOEXIST], None))
            self.ir.emit(Call(HelperId.MAP_LOOKUP_ELEM, [MapRef(info.name), key], p))
            gone = self.ir.new_block("gone")
            self.ir.branch("ne", p, 0, have, gone)
            self.ir.set_block(gone)
            self.ir.terminate(Return(self.default_return))
        self.ir.set_block(have)
        return Mem(p, 0, info.value_ctype)

    def map_read(self, node: ast.Subscript, obj_or_info: Any, default: ast.expr | None) -> Value:
        info: MapInfo = obj_or_info
        vt = info.value_ctype
        it = int_type_of_ctype(vt)
        if it is None:
            if is_struct(vt):
                return self.map_read_struct(info, node, default)
            raise self.err(node, f"cannot read values of {info.type.name.lower()} maps")
        res = Int(self.ir.vreg(it), it)
        dv = Int(0, None) if default is None else self.as_int(self.expr(default), default)
        self.ir.emit(Mov(res.op, self.convert(dv, it).op))  # type: ignore[arg-type]
        p, nonnull = self.lookup_key(info, node.slice)
        if nonnull:
            self.ir.emit(Load(res.op, p, 0, it.size, it.signed))  # type: ignore[arg-type]
            return res
        found, done = self.ir.new_block("found"), self.ir.new_block("endget")
        self.ir.branch("ne", p, 0, found, done)
        self.ir.set_block(found)
        self.ir.emit(Load(res.op, p, 0, it.size, it.signed))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(done)
        return res

    def map_read_struct(self, info: MapInfo, node: ast.Subscript, default: ast.expr | None) -> Mem:
        """v = m[k] of a structure value: a copy on the stack, all zeroes when the key is absent."""
        if default is not None:
            raise self.err(default, "m.get(k, default) of structure values takes no default (absent: all zeroes)")
        vt = info.value_ctype
        dest = Mem(self.ir.slot(ctypes.sizeof(vt), 8, "val"), 0, vt)
        p, nonnull = self.lookup_key(info, node.slice)
        if nonnull:
            self.copy(dest, Mem(p, 0, vt), node)
            return dest
        found, missing, done = self.ir.new_block("found"), self.ir.new_block("absent"), self.ir.new_block("endget")
        self.ir.branch("ne", p, 0, found, missing)
        self.ir.set_block(found)
        self.copy(dest, Mem(p, 0, vt), node)
        self.ir.jump(done)
        self.ir.set_block(missing)
        self.zero(dest)
        self.ir.jump(done)
        self.ir.set_block(done)
        return dest

    def map_store(self, target: ast.Subscript, value_node: ast.expr) -> None:
        info, name = self.map_of(target.value)
        if info.type in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.STACK_TRACE):
            raise self.err(target, f"{info.type.name.lower()} maps cannot be assigned",
                           hint="use events.output(Event(...))" if info.type == MapType.RINGBUF else "")
        key = self.key_addr(info, target.slice)
        vt = info.value_ctype
        it = int_type_of_ctype(vt)
        if it is not None:
            v = self.as_int(self.expr(value_node), value_node)
            slot = self.ir.slot(it.size, max(it.size, 1), "val")
            self.ir.emit(Store(slot, 0, self.convert(v, it).op, it.size))
            val: Operand = SlotAddr(slot)
        else:
            m = self.expr(value_node)
            if not (isinstance(m, Mem) and m.ctype is vt):
                raise self.err(value_node, f"the value must be a {getattr(vt, '__name__', vt)}")
            val = self.addr_of(m)
        self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(name), key, val, UpdateFlags.ANY], None))

    def map_update_op(self, target: ast.Subscript, op: str, value_node: ast.expr, node: ast.AST) -> None:
        """m[k] OP= v: lookup; found: update in place (atomically for +=, -=, |=, &=, ^= on shared maps);
        absent: insert (0 OP v) with BPF_NOEXIST, and if another CPU inserted first, update that one."""
        info, name = self.map_of(target.value)
        it = int_type_of_ctype(info.value_ctype)
        if it is None:
            raise self.err(target, "m[k] += v needs integer values", hint="m[k].field += v for structure values")
        key = self.key_addr(info, target.slice)
        self.rmw(info, key, op, self.as_int(self.expr(value_node), value_node), node)

    def rmw(self, info: MapInfo, key: Operand, op: str, value: Int, node: ast.AST) -> None:
        """m[key] OP= value for an integer-valued map, `key` already in memory."""
        name = info.name
        it = int_type_of_ctype(info.value_ctype)
        assert it is not None and name is not None
        v = self.convert(value, it)
        atomic = op in ("add", "sub") and it.size in (4, 8) and info.type not in PERCPU_TYPES
        if atomic and op == "sub":
            nv = self.ir.vreg(it)
            if v.const is not None:
                v = Int(it.wrap(-v.const), it)
            else:
                self.ir.emit(Neg(nv, v.op, True))
                v = Int(nv, it)
        done = self.ir.new_block("endupd")

        def update_found(p: VReg) -> None:
            if atomic:
                self.ir.emit(AtomicAdd(p, 0, v.op, it.size))  # type: ignore[union-attr]
            else:
                cur = self.ir.vreg(it)
                self.ir.emit(Load(cur, p, 0, it.size, it.signed))  # type: ignore[union-attr]
                res = self.binop(op, Int(cur, it), v, node)  # type: ignore[arg-type]
                self.ir.emit(Store(p, 0, self.convert(res, it).op, it.size))  # type: ignore[union-attr]

        p = self.lookup(info, key)
        found, missing = self.ir.new_block("hit"), self.ir.new_block("miss")
        self.ir.branch("ne", p, 0, found, missing)
        self.ir.set_block(found)
        update_found(p)
        self.ir.jump(done)
        self.ir.set_block(missing)
        if info.type in ARRAY_TYPES:  # an array's elements all exist: a miss is an index out of range
            self.ir.jump(done)
        else:
            slot = self.ir.slot(it.size, max(it.size, 1), "init")
            if op in ("add", "or", "xor"):
                self.ir.emit(Store(slot, 0, v.op, it.size))
            elif op == "sub" and atomic:
                self.ir.emit(Store(slot, 0, v.op, it.size))
            else:
                first = self.binop(op, Int(0, it), v, node)
                self.ir.emit(Store(slot, 0, self.convert(first, it).op, it.size))
            r = self.ir.vreg(S64)
            self.ir.emit(Call(HelperId.MAP_UPDATE_ELEM, [MapRef(name), key, SlotAddr(slot), UpdateFlags.NOEXIST], r))
            raced = self.ir.new_block("raced")
            self.ir.branch("ne", r, 0, raced, done)
            self.ir.set_block(raced)
            p2 = self.lookup(info, key)
            again = self.ir.new_block("hit2")
            self.ir.branch("ne", p2, 0, again, done)
            self.ir.set_block(again)
            update_found(p2)
            self.ir.jump(done)
        self.ir.set_block(done)

    def record_bytes(self, node: ast.expr) -> tuple[Operand, int]:
        """(address, size) of an event record: a structure, or an integer stored as 8 bytes."""
        v = self.expr(node)
        if isinstance(v, Mem):
            return self.addr_of(v), ctypes.sizeof(v.ctype)
        iv = self.as_int(v, node)
        slot = self.ir.slot(8, 8, "rec")
        self.ir.emit(Store(slot, 0, self.convert(iv, U64).op, 8))
        return SlotAddr(slot), 8

    def probe_ctx(self, node: ast.AST, what: str) -> Ctx:
        """The probe's context parameter, which helpers such as bpf_perf_event_output and bpf_tail_call take."""
        ctx = self.frames[0].vars.get(self._ctx_name) if self._ctx_name else None
        if not isinstance(ctx, Ctx):
            raise self.err(node, f"{what} needs the probe's context parameter (def probe(ctx): ...)")
        return ctx

    def hist_record(self, info: MapInfo, node: ast.Call) -> None:
        """h.record(v) / h.record(v, key): count v in its bucket (log2, or linear over lo..hi by step)."""
        want = 2 if info.keyed else 1
        if len(node.args) != want or node.keywords:
            raise self.err(node, "hist.record(value, key) takes a value and the key" if info.keyed else
                           "hist.record(value) takes one value", hint="" if info.keyed else
                           "declare the histogram with key=TYPE for one histogram per key")
        v = self.as_int(self.expr(node.args[0]), node.args[0])
        if info.display == "log2":
            bucket = self.log2_of(v, node)
        else:
            bucket = self.linear_bucket(v, info.lhist, node)  # type: ignore[arg-type]
        kt = info.key_ctype
        key = Mem(self.ir.slot(ctypes.sizeof(kt), 8, "hkey"), 0, kt)
        if info.keyed:
            self.zero(key)  # padding of a hash key must be zero
            self.store_into(self.field_mem(key, "key", node), node.args[1])
            self.store_int(self.field_mem(key, "bucket", node), bucket)
        else:
            self.store_int(key, bucket)
        self.rmw(info, self.addr_of(key), "add", Int(1, None), node)

    def linear_bucket(self, v: Int, lhist: tuple[int, int, int], node: ast.AST) -> Int:
        """0 below lo, 1 + (v - lo) // step inside [lo, hi), 1 + (hi - lo) // step from hi on (bpftrace's lhist
        rows, shifted by one so that the bucket is unsigned)."""
        lo, hi, step = lhist
        top = (hi - lo + step - 1) // step + 1
        x = self.convert(v, S64)
        if x.const is not None:
            c = x.const
            return Int(0 if c < lo else top if c >= hi else 1 + (c - lo) // step, U32)
        res = Int(self.ir.vreg(U32), U32)
        below, above, inside, done = (self.ir.new_block(n) for n in ("lh_lo", "lh_hi", "lh_in", "lh_end"))
        not_below = self.ir.new_block("lh_ge")
        self.ir.branch("slt", x.op, lo, below, not_below)  # type: ignore[arg-type]
        self.ir.set_block(below)
        self.ir.emit(Mov(res.op, 0))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(not_below)
        self.ir.branch("sge", x.op, hi, above, inside)  # type: ignore[arg-type]
        self.ir.set_block(above)
        self.ir.emit(Mov(res.op, top))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(inside)
        rel = self.binop("sub", x, Int(lo, S64), node)
        q = self.binop("div", Int(rel.op, U64, (0, hi - lo)), Int(step, U64), node)
        self.ir.emit(Alu("add", res.op, self.convert(q, U64).op, 1))  # type: ignore[arg-type]
        self.ir.jump(done)
        self.ir.set_block(done)
        self._last_def = None
        return Int(res.op, U32, (0, top))

    def membership(self, key_node: ast.expr, map_node: ast.expr, t: Block, f: Block) -> None:
        info, _ = self.map_of(map_node)
        p, nonnull = self.lookup_key(info, key_node)
        self._last_membership = (info, key_node, p)
        if nonnull:
            self.ir.jump(t)
        else:
            self.ir.branch("ne", p, 0, t, f)

    def map_method(self, node: ast.Call, obj: Any, method: str, statement: bool) -> Value:
        info: MapInfo = obj.__probe_map__
        if method == "get" and info.type not in (MapType.RINGBUF,):
            if not 1 <= len(node.args) <= 2 or node.keywords:
                raise self.err(node, "m.get(key, default=0)")
            fake = ast.Subscript(value=node.func.value, slice=node.args[0],  # type: ignore[attr-defined]
                                 ctx=ast.Load())
            ast.copy_location(fake, node)
            return self.map_read(fake, info, node.args[1] if len(node.args) == 2 else None)
        if method == "output" and info.type == MapType.RINGBUF:
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "events.output(Event(...)) takes one record")
            addr, size = self.record_bytes(node.args[0])
            args = [MapRef(info.name), addr, size, 0]
            if statement:  # result unused: no destination register, the code it always was
                self.ir.emit(Call(HelperId.RINGBUF_OUTPUT, args, None))  # type: ignore[arg-type]
                return Int(0, None)
            # bpf_ringbuf_output: 0, or a negative errno (-EAGAIN when the ring is full, as the kernel says)
            return self.helper(HelperId.RINGBUF_OUTPUT, args, S64)  # type: ignore[arg-type]
        if method == "output" and info.type == MapType.PERF_EVENT_ARRAY:
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "events.output(Event(...)) takes one record")
            ctx = self.probe_ctx(node, "events.output()")
            addr, size = self.record_bytes(node.args[0])
            # bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, size): the ring of the CPU it runs on
            args = [ctx.v, MapRef(info.name), BPF_F_CURRENT_CPU, addr, size]
            if statement:
                self.ir.emit(Call(HelperId.PERF_EVENT_OUTPUT, args, None))  # type: ignore[arg-type]
                return Int(0, None)
            return self.helper(HelperId.PERF_EVENT_OUTPUT, args, S64)  # type: ignore[arg-type]
        if method == "call" and info.type == MapType.PROG_ARRAY:
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "progs.call(index) takes the slot to tail-call")
            ctx = self.probe_ctx(node, "progs.call()")
            index = self.convert(self.as_int(self.expr(node.args[0]), node.args[0]), U32)
            # bpf_tail_call(ctx, map, index): does not return when the slot holds a program; falls through if not
            self.ir.emit(Call(HelperId.TAIL_CALL,  # type: ignore[list-item]
                              [ctx.v, MapRef(info.name), index.op], None))
            return Int(0, None)
        if method in ("kstack", "ustack") and info.type == MapType.STACK_TRACE:
            if node.args or node.keywords:
                raise self.err(node, f"stacks.{method}() takes no arguments")
            ctx = self.probe_ctx(node, f"stacks.{method}()")
            flags = int(HelperFlags.USER_STACK) if method == "ustack" else 0
            # bpf_get_stackid: the stack's id in the map (s64; negative when it could not be taken)
            return self.helper(HelperId.GET_STACKID, [ctx.v, MapRef(info.name), flags], S64)  # type: ignore[list-item]
        if method == "record" and info.display in ("log2", "linear"):
            self.hist_record(info, node)
            return Int(0, None)
        if method == "pop":
            raise self.err(node, "m.pop() is not supported in probes", hint="read m[k], then del m[k]")
        raise self.err(node.func, f"{info.type.name.lower()} maps have no method {method!r} in probes",
                       hint="m[k], m.get(k, d), k in m, del m[k], m[k] += v; events.output(record) for ring buffers")
