"""Kernel memory through typed pointers: `task.real_parent.tgid`, `sk.__sk_common.skc_dport`, `task.comm`.

A kernel pointer is an `Int` whose `kt` is the BTF type it points to (a BTF-typed context argument,
`current_task()`, `kptr(x, "sock")`, a pointer member). A member access adds the member's offset (embedded structs
and arrays stay `KRef`s, nothing read yet); a scalar or pointer member is read with bpf_probe_read_kernel into a
stack slot (a bitfield: its covering load, shifted left then right), which works in every tracing program type (kprobe, raw_tp, tp_btf, fentry) and gives 0 for a NULL or
unmapped pointer, as bpftrace does. Offsets come from the BTF of the kernel the probe is compiled on, which is the
kernel it loads into (probes compile where they run).
"""
from __future__ import annotations

import ast
import ctypes

from pyebpf.abi.helpers import HelperId
from pyebpf.btf.core_local import CoreAccess, bitfield_load, bitfield_shifts
from pyebpf.btf.ext import CoreReloKind
from pyebpf.compiler.ir import Alu, Call, Ext, Load, Mov, Operand, SlotAddr, Store, VReg
from pyebpf.compiler.ktypes import core_root, direct_target, int_type_of_btf, kernel_struct, member_path
from pyebpf.compiler.pyfront.values import Int, KRef, Mem, Value
from pyebpf.compiler.symbols import is_array
from pyebpf.compiler.types import U64, IntType


class KernelMixin:
    """Kernel memory through typed pointers of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    def kernel_btf(self, node: ast.AST) -> object:
        btf = self.kernel.btf() if self.kernel is not None else None
        if btf is None:
            raise self.err(node, "kernel types are not available (no /sys/kernel/btf/vmlinux)",
                           hint="read fields with kstr()/probe offsets, or run on a kernel built with BTF")
        return btf

    def kernel_struct_type(self, name: str, node: ast.AST) -> object:
        t = kernel_struct(self.kernel_btf(node), name)
        if t is None:
            raise self.err(node, f"the running kernel's BTF has no {name!r}")
        return t

    def kernel_pointer(self, v: Int, target: object) -> Int:
        return Int(v.op, U64, v.rng, kt=target)

    def kernel_attr(self, base: Int | KRef, node: ast.Attribute) -> Value:
        """base.NAME where base points to (or is) a kernel struct/union."""
        from pyebpf.btf import types as T

        if isinstance(base, Int):
            ctype, addr, off, core, direct = base.kt, base.op, 0, core_root(base.kt, 0), base.kdirect
        else:
            ctype, addr, off, core, direct = base.type, base.addr, base.off, base.core, base.direct
        struct = ctype.resolve()
        if isinstance(struct, T.Fwd):
            raise self.err(node, f"{ctype.c_type()} is only declared in the kernel's BTF: it has no known fields")
        if not isinstance(struct, T.Composite):
            raise self.err(node, f"a kernel {ctype.c_type()} has no field {node.attr!r}",
                           hint="cast the pointer with kptr(p, \"struct NAME\")")
        found = member_path(struct, node.attr)
        if found is None:
            names = ", ".join(x.name for x in struct.members if x.name)[:300]
            raise self.err(node, f"{struct.c_type()} has no field {node.attr!r}", hint=f"fields: {names}")
        m, path = found
        core = None if core is None else (core[0], core[1] + path)
        if m.bitfield_size or m.bit_offset % 8:
            return self.kernel_bitfield(addr, off, m, core, node)
        return self.kernel_value(addr, off + m.offset, m.type, node, core, direct)

    def kernel_bitfield(self, addr: Operand, off: int, m: object, core: object, node: ast.AST) -> Int:
        """A bitfield member, read as clang's BPF_CORE_READ_BITFIELD_PROBED does: the smallest aligned load that
        covers it into a zeroed u64 (bpf_probe_read_kernel), shifted left then right (arithmetically when the
        field is signed). Offset, size and both shifts are CO-RE relocated values when the access has a root."""
        it = int_type_of_btf(m.type)
        if it is None:
            raise self.err(node, f"cannot read a kernel {m.type.c_type()} bitfield")
        bits = m.bitfield_size or it.bits
        where = off * 8 + m.bit_offset
        try:
            byte_off, byte_sz = bitfield_load(where, bits, m.size)
        except ValueError as e:
            raise self.err(node, f"{node.attr}: {e}") from None
        lsh, rsh = bitfield_shifts(where, bits, byte_off)

        def value(v: int, kind: CoreReloKind) -> Operand:
            if core is None:
                return v
            root, path = core
            d = self.ir.vreg(U64)
            self.ir.emit(Mov(d, v, core=CoreAccess(0, root.btf, root.id, tuple(path), kind)))
            return d

        K = CoreReloKind
        start = self.ir.vreg(U64)
        self.ir.emit(Alu("add", start, addr, value(byte_off, K.FIELD_BYTE_OFFSET)))
        slot = self.ir.slot(8, 8, "kbits")
        self.ir.emit(Store(slot, 0, 0, 8))
        self.ir.emit(Call(HelperId.PROBE_READ_KERNEL, [SlotAddr(slot), value(byte_sz, K.FIELD_BYTE_SIZE), start],
                          None))
        v = self.ir.vreg(it)
        self.ir.emit(Load(v, slot, 0, 8, False))
        self.ir.emit(Alu("lsh", v, v, value(lsh, K.FIELD_LSHIFT_U64)))
        self.ir.emit(Alu("arsh" if it.signed else "rsh", v, v, value(rsh, K.FIELD_RSHIFT_U64)))
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if it.signed else (0, (1 << bits) - 1)
        return Int(v, it, (lo, hi))

    def kernel_index(self, base: Int | KRef, node: ast.Subscript) -> Value:
        """base[i]: an element of a kernel array member, or of the array a kernel pointer points to."""
        from pyebpf.btf import types as T

        if isinstance(base, KRef):
            arr = base.type.resolve()
            if not isinstance(arr, T.Array):
                raise self.err(node, f"a kernel {base.type.c_type()} cannot be indexed")
            elem, addr, off, count, core, direct = arr.elem, base.addr, base.off, arr.nelems, base.core, base.direct
        else:
            elem, addr, off, count, core, direct = base.kt, base.op, 0, None, None, base.kdirect
        size = elem.size
        i = self.as_int(self.expr(node.slice), node.slice)
        if i.const is not None:
            if count is not None and not 0 <= i.const < count:
                raise self.err(node.slice, f"index {i.const} is outside the kernel array of {count}")
            if isinstance(base, KRef):
                core = None if core is None else (core[0], core[1] + (i.const,))
            else:  # p[i] of a kernel pointer: clang's first access index
                core = core_root(elem, i.const)
            return self.kernel_value(addr, off + i.const * size, elem, node, core, direct)
        # a variable offset: the verifier reads PTR_TO_BTF_ID only at constant offsets, so bpf_probe_read_kernel
        start = self.kernel_address(KRef(addr, off, elem, core)) if isinstance(base, KRef) else addr
        p = self.ir.vreg(U64)
        self.ir.emit(Alu("mul", p, self.convert(i, U64).op, size))
        self.ir.emit(Alu("add", p, p, start))
        return self.kernel_value(p, 0, elem, node, core_root(elem, 0))

    def kernel_value(self, addr: Operand, off: int, btype: object, node: ast.AST, core: object = None,
                     direct: bool = False) -> Value:
        """What reading a `btype` at addr+off gives: an integer (read now), a typed pointer, or a KRef.
        `core` (root type, access path) makes `off` a CO-RE relocated offset; `direct`: addr is a PTR_TO_BTF_ID,
        read with a plain load (the kernel turns it into BPF_PROBE_MEM: a fault reads 0) whose offset CO-RE
        relocates, as clang compiles `prev->pid` in a tp_btf program."""
        from pyebpf.btf import types as T

        r = btype.resolve()
        if isinstance(r, (T.Composite, T.Array)):
            return KRef(addr, off, btype, core, direct)
        it = int_type_of_btf(btype)
        if it is None:
            raise self.err(node, f"cannot read a kernel {btype.c_type()}")
        if direct and isinstance(addr, VReg) and -(1 << 15) <= off < (1 << 15):
            acc = None if core is None else CoreAccess(0, core[0].btf, core[0].id, tuple(core[1]))
            raw = self.ir.vreg(it)
            self.def_(Load(raw, addr, off, it.size, False, core=acc), raw)
            v = raw
            if it.signed and it.size < 8:  # loaded unsigned (no BPF_PROBE_MEMSX before 6.6), then sign-extended
                v = self.ir.vreg(it)
                self.def_(Ext(v, raw, 8 * it.size, True), v)
            if isinstance(r, T.Pointer):
                return Int(v, U64, kt=r.target, kdirect=direct_target(btype))
            return Int(v, it)
        v = self.kernel_read(self.kernel_address(KRef(addr, off, btype, core)), 0, it)
        if isinstance(r, T.Pointer):
            return Int(v, U64, kt=r.target)
        return Int(v, it)

    def user_read(self, addr: Operand, off: int, t: IntType) -> VReg:
        """bpf_probe_read_user(slot, size, addr + off), then the slot's value (0 when the read faulted)."""
        return self.kernel_read(addr, off, t, HelperId.PROBE_READ_USER)

    def kernel_read(self, addr: Operand, off: int, t: IntType, helper: HelperId = HelperId.PROBE_READ_KERNEL
                    ) -> VReg:
        """bpf_probe_read_kernel(slot, size, addr + off), then the slot's value (0 when the read faulted)."""
        slot = self.__dict__.get("_kread_slot")
        if slot is None:
            slot = self._kread_slot = self.ir.slot(8, 8, "kread")
        src: Operand = addr
        if off:
            p = self.ir.vreg(U64)
            self.ir.emit(Alu("add", p, addr, off))
            src = p
        self.ir.emit(Call(helper, [SlotAddr(slot), t.size, src], None))
        d = self.ir.vreg(t)
        self.def_(Load(d, slot, 0, t.size, t.signed), d)
        return d

    def kernel_address(self, v: KRef) -> Operand:
        """addr + off of a kernel object; the offset is a CO-RE relocated `mov` when the access has a named root
        (clang's `r1 = <offset>` + `r3 += r1` of BPF_CORE_READ), so an object written from the probe loads on a
        kernel whose layout differs."""
        if v.core is not None and (len(v.core[1]) > 1 or v.core[1][0]):
            root, path = v.core
            o = self.ir.vreg(U64)
            self.ir.emit(Mov(o, v.off, core=CoreAccess(0, root.btf, root.id, tuple(path))))
            p = self.ir.vreg(U64)
            self.ir.emit(Alu("add", p, v.addr, o))
            return p
        if not v.off:
            return v.addr
        p = self.ir.vreg(U64)
        self.ir.emit(Alu("add", p, v.addr, v.off))
        return p

    def kernel_copy(self, dest: Mem, src: KRef, node: ast.AST) -> None:
        """dest = the kernel object src (a char array into a char array field: bpf_probe_read_kernel_str keeps the
        NUL; anything else byte for byte with bpf_probe_read_kernel)."""
        size = ctypes.sizeof(dest.ctype)
        if src.type.size != size and not (is_array(dest.ctype) and dest.ctype._type_ is ctypes.c_char):
            raise self.err(node, f"a kernel {src.type.c_type()} ({src.type.size} bytes) does not fit "
                                 f"{getattr(dest.ctype, '__name__', 'this field')} ({size} bytes)")
        hid = HelperId.PROBE_READ_KERNEL_STR if is_array(dest.ctype) and dest.ctype._type_ is ctypes.c_char \
            else HelperId.PROBE_READ_KERNEL
        self.ir.emit(Call(hid, [self.addr_of(dest), min(size, src.type.size), self.kernel_address(src)], None))

    def i_kptr(self, node: ast.Call) -> Value:
        """kptr(address, "struct sock"): the address as a pointer to that kernel type (fields readable)."""
        if len(node.args) != 2 or node.keywords or not (isinstance(node.args[1], ast.Constant)
                                                         and isinstance(node.args[1].value, str)):
            raise self.err(node, 'kptr(address, "struct NAME") takes an address and a type name')
        v = self.convert(self.as_int(self.expr(node.args[0]), node.args[0]), U64)
        return self.kernel_pointer(v, self.kernel_struct_type(node.args[1].value, node.args[1]))


__all__ = ["KernelMixin"]
