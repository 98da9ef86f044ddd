"""A Python builder that reads like the program it makes.

    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat")
    counts = b.map("counts", "hash", key=c_uint32, value=c_uint64, max_entries=10240)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.store(R10 - 4, R0, "u32")
    ...
    with b.if_(R0 == 0):
        ...
    program = b.build()

Registers are objects (`R0`..`R10`, and `R1.w` for the 32-bit sub-register, which selects ALU32/JMP32 forms).
`R10 - 8` is a memory operand. Comparisons of registers make conditions for `if_`, `while_` and the conditional
jump methods. Labels and forward jumps are resolved at `build()`; offsets are kernel slots (an lddw counts two).
No clang or LLVM is involved: the builder emits `Instruction` values directly.
"""
from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Union

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import OP_JA32, AluOp, AtomicOp, JmpOp, Size
from pyebpf.abi.widths import S16_MAX, S16_MIN, S32_MIN, s32, s64
from pyebpf.errors import BuildError
from pyebpf.isa import ops
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program

_S32_MIN, _S16_MIN, _S16_MAX = S32_MIN, S16_MIN, S16_MAX


# ---- operands ---------------------------------------------------------------------------------------------------

class Reg:
    """A register operand. `Reg(1)` is r1 (64-bit); `R1.w` is w1 (its lower 32 bits, for ALU32 / JMP32)."""

    __slots__ = ("index", "wide")

    def __init__(self, index: int, wide: bool = True):
        if not 0 <= index <= 10:
            raise BuildError(f"there is no register r{index} (r0..r10)")
        self.index = index
        self.wide = wide

    @property
    def w(self) -> "Reg":
        """The 32-bit sub-register."""
        return Reg(self.index, wide=False)

    def __repr__(self) -> str:
        return f"{'r' if self.wide else 'w'}{self.index}"

    def __hash__(self) -> int:
        return hash((self.index, self.wide))

    # memory operands: R10 - 8, R1 + 4
    def __add__(self, off: int) -> "Mem":
        return Mem(self, off)

    def __sub__(self, off: int) -> "Mem":
        return Mem(self, -off)

    # conditions for branches
    def __eq__(self, other: object) -> "Cond":  # type: ignore[override]
        return Cond(JmpOp.JEQ, self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> "Cond":  # type: ignore[override]
        return Cond(JmpOp.JNE, self, other)  # type: ignore[arg-type]

    def __gt__(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JGT, self, other)

    def __ge__(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JGE, self, other)

    def __lt__(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JLT, self, other)

    def __le__(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JLE, self, other)

    def __and__(self, other: "Reg | int") -> "Cond":
        """`R1 & 4` is the condition "r1 & 4 != 0" (jset)."""
        return Cond(JmpOp.JSET, self, other)

    # signed comparisons have no Python operator
    def s_gt(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JSGT, self, other)

    def s_ge(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JSGE, self, other)

    def s_lt(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JSLT, self, other)

    def s_le(self, other: "Reg | int") -> "Cond":
        return Cond(JmpOp.JSLE, self, other)


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = (Reg(i) for i in range(11))
FP = R10

Operand = Union[Reg, int]


@dataclass(frozen=True, eq=False)
class Mem:
    """A memory operand `base + off` (e.g. `R10 - 8`)."""

    base: Reg
    off: int

    def __add__(self, more: int) -> "Mem":
        return Mem(self.base, self.off + more)

    def __sub__(self, more: int) -> "Mem":
        return Mem(self.base, self.off - more)


# Condition negation for `if_` blocks: jump over the block when the condition is false.
_NEGATE = {
    JmpOp.JEQ: JmpOp.JNE, JmpOp.JNE: JmpOp.JEQ,
    JmpOp.JGT: JmpOp.JLE, JmpOp.JLE: JmpOp.JGT,
    JmpOp.JGE: JmpOp.JLT, JmpOp.JLT: JmpOp.JGE,
    JmpOp.JSGT: JmpOp.JSLE, JmpOp.JSLE: JmpOp.JSGT,
    JmpOp.JSGE: JmpOp.JSLT, JmpOp.JSLT: JmpOp.JSGE,
}


@dataclass(frozen=True, eq=False)
class Cond:
    """A branch condition `left OP right`; `~cond` negates it (except jset, which has no inverse jump)."""

    op: JmpOp
    left: Reg
    right: Operand

    def __bool__(self) -> bool:
        raise TypeError("a register condition is not a Python bool; use it in Builder.if_/while_/jump")

    def __invert__(self) -> "Cond":
        if self.op not in _NEGATE:
            raise BuildError("jset (`&`) has no inverse jump; use if_(...) with an else block instead")
        return Cond(_NEGATE[self.op], self.left, self.right)


_ATOMIC_OPS = {"add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR}


def _size(size: str | int) -> Size:
    try:
        return ops.size_of(size)
    except ops.OpsError:
        raise BuildError(f"unknown access size {size!r} (u8/u16/u32/u64, s8/s16/s32 for loads)") from None


def _imm32(value: int, what: str = "immediate") -> int:
    if not isinstance(value, int) or not _S32_MIN <= value <= 0xFFFFFFFF:
        raise BuildError(f"{what} {value!r} does not fit in 32 bits; use ld_imm64 for 64-bit constants")
    return s32(value)


def _off16(value: int) -> int:
    if not _S16_MIN <= value <= _S16_MAX:
        raise BuildError(f"offset {value} does not fit in 16 bits")
    return value


def _end_bits(bits: int) -> int:
    """The width of a byte swap: the kernel rejects anything but 16, 32 and 64 (reserved fields)."""
    if bits not in (16, 32, 64):
        raise BuildError(f"byte swap of {bits!r} bits: 16, 32 or 64")
    return bits


def _legacy_size(size: str | int) -> Size:
    """LD_ABS/LD_IND load 1, 2 or 4 bytes; a u64 form does not exist."""
    sz = _size(size)
    if sz == Size.DW:
        raise BuildError("ld_abs/ld_ind load u8, u16 or u32")
    return sz


def _resolve_helper(helper: "str | int") -> int:
    if isinstance(helper, int):
        return _imm32(int(helper), "helper id")
    return ops.helper_id(helper)  # OpsError (a BuildError) names an unknown helper


# ---- the builder ------------------------------------------------------------------------------------------------

@dataclass
class _Pending:
    """An emitted jump or call whose target label is resolved at build()."""

    index: int
    label: str


class Builder:
    """Collects instructions; every emitting method returns the builder so short sequences chain."""

    def __init__(self, prog_type: Any = None, *, license: str = "GPL", name: str = "", attach_to: str | None = None,
                 section: str | None = None):
        if section is not None and prog_type is None:
            from pyebpf.abi.prog_types import prog_type_for_section

            sec = prog_type_for_section(section)
            prog_type = sec.prog_type
            if attach_to is None and "/" in section:
                attach_to = section.split("/", 1)[1]
        elif isinstance(prog_type, str):
            from pyebpf.abi.prog_types import parse_prog_type

            prog_type = parse_prog_type(prog_type)
        self.prog_type = prog_type
        self.license = license
        self.name = name
        self.attach_to = attach_to
        self.insns: list[Instruction] = []
        self.maps: dict[str, MapSpec] = {}
        self.labels: dict[str, int] = {}  # label -> index into self.insns (converted to slots at build)
        self._pending: list[_Pending] = []
        self._auto = 0

    # ---- bookkeeping ---------------------------------------------------------------------------------------
    def emit(self, *insns: Instruction) -> "Builder":
        """Append raw instructions."""
        self.insns.extend(insns)
        return self

    def _fresh(self, stem: str) -> str:
        self._auto += 1
        return f".{stem}{self._auto}"

    def label(self, name: str) -> "Builder":
        """Mark the next instruction with `name` (a jump target or a function entry)."""
        if name in self.labels:
            raise BuildError(f"label {name!r} defined twice")
        self.labels[name] = len(self.insns)
        return self

    def map(self, name: str, type: MapType | str, key: Any = 4, value: Any = 8, max_entries: int = 1,
            flags: int = 0) -> MapSpec:
        """Declare a map the program refers to by name; returns its spec."""
        spec = MapSpec.of(name, type, key, value, max_entries, flags)
        return self.use_map(spec)

    def use_map(self, spec: MapSpec) -> MapSpec:
        existing = self.maps.get(spec.name)
        if existing is not None and existing != spec:
            raise BuildError(f"map {spec.name!r} declared twice with different specs")
        self.maps[spec.name] = spec
        return spec

    # ---- moves and ALU --------------------------------------------------------------------------------------
    def _alu(self, op: AluOp, dst: Reg, src: Operand, signed: bool = False) -> "Builder":
        make = ops.alu if dst.wide else ops.alu32
        if isinstance(src, Reg):
            return self.emit(make(op, dst.index, src.index, signed=signed))
        return self.emit(make(op, dst.index, imm=_imm32(src), signed=signed))

    def mov(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.MOV, dst, src)

    def add(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.ADD, dst, src)

    def sub(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.SUB, dst, src)

    def mul(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.MUL, dst, src)

    def div(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.DIV, dst, src)

    def sdiv(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.DIV, dst, src, signed=True)

    def mod(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.MOD, dst, src)

    def smod(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.MOD, dst, src, signed=True)

    def or_(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.OR, dst, src)

    def and_(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.AND, dst, src)

    def xor(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.XOR, dst, src)

    def lsh(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.LSH, dst, src)

    def rsh(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.RSH, dst, src)

    def arsh(self, dst: Reg, src: Operand) -> "Builder":
        return self._alu(AluOp.ARSH, dst, src)

    def neg(self, dst: Reg) -> "Builder":
        return self.emit((ops.neg if dst.wide else ops.neg32)(dst.index))

    def movsx(self, dst: Reg, src: Reg, bits: int) -> "Builder":
        """dst = (sN)src: sign-extend the low `bits` (8/16, or 32 for 64-bit dst) of src."""
        if bits not in ((8, 16, 32) if dst.wide else (8, 16)):
            raise BuildError(f"movsx from {bits} bits: 8 or 16{', or 32' if dst.wide else ''}")
        return self.emit((ops.movsx if dst.wide else ops.movsx32)(dst.index, src.index, bits))

    def be(self, dst: Reg, bits: int) -> "Builder":
        """Convert to big-endian (a byte swap on little-endian hosts)."""
        return self.emit(ops.to_be(dst.index, _end_bits(bits)))

    def le(self, dst: Reg, bits: int) -> "Builder":
        return self.emit(ops.to_le(dst.index, _end_bits(bits)))

    def bswap(self, dst: Reg, bits: int) -> "Builder":
        """Unconditional byte swap (cpu v4)."""
        return self.emit(ops.bswap(dst.index, _end_bits(bits)))

    # ---- 64-bit immediates --------------------------------------------------------------------------------
    def ld_imm64(self, dst: Reg, value: int) -> "Builder":
        return self.emit(ops.lddw(dst.index, _s64(value)))

    def ld_map(self, dst: Reg, m: "MapSpec | str") -> "Builder":
        """dst = &map (lddw with BPF_PSEUDO_MAP_FD; the loader patches in the fd)."""
        name = self._map_name(m)
        return self.emit(ops.ld_map_fd(dst.index, ref=name))

    def ld_map_value(self, dst: Reg, m: "MapSpec | str", offset: int = 0) -> "Builder":
        """dst = address of the (array) map's first value + offset (BPF_PSEUDO_MAP_VALUE, global data)."""
        name = self._map_name(m)
        return self.emit(ops.ld_map_value(dst.index, offset=offset, ref=name))

    def ld_func(self, dst: Reg, function: str) -> "Builder":
        """dst = address of a subprogram (BPF_PSEUDO_FUNC), for callbacks of bpf_loop and friends."""
        self._pending.append(_Pending(len(self.insns), function))
        return self.emit(ops.ld_func(dst.index, ref=function))

    def _map_name(self, m: "MapSpec | str") -> str:
        if isinstance(m, MapSpec):
            self.use_map(m)
            return m.name
        if m not in self.maps:
            raise BuildError(f"unknown map {m!r}: declare it with Builder.map() first")
        return m

    # ---- memory ---------------------------------------------------------------------------------------------
    def load(self, dst: Reg, src: Mem, size: str | int = "u64") -> "Builder":
        """dst = *(size *)(src.base + src.off); s8/s16/s32 sign-extend (MEMSX)."""
        signed = isinstance(size, str) and size.lower().startswith("s")
        return self.emit(ops.ldx(_size(size), dst.index, src.base.index, _off16(src.off), signed=signed))

    def store(self, dst: Mem, src: Operand, size: str | int = "u64") -> "Builder":
        """*(size *)(dst.base + dst.off) = src (a register, or an immediate with BPF_ST)."""
        sz = _size(size)
        if isinstance(src, Reg):
            return self.emit(ops.stx(sz, dst.base.index, src.index, _off16(dst.off)))
        return self.emit(ops.st(sz, dst.base.index, _off16(dst.off), _imm32(src)))

    def atomic(self, op: str, dst: Mem, src: Reg, size: str | int = "u64", fetch: bool = False) -> "Builder":
        """lock *(size *)(dst) op= src; with fetch=True src receives the old value."""
        try:
            code = _ATOMIC_OPS[op]
        except KeyError:
            raise BuildError(f"unknown atomic op {op!r} (add/or/and/xor; see xchg, cmpxchg)") from None
        return self._atomic(dst, src, size, code, fetch)

    def atomic_add(self, dst: Mem, src: Reg, size: str | int = "u64", fetch: bool = False) -> "Builder":
        return self.atomic("add", dst, src, size, fetch)

    def xchg(self, dst: Mem, src: Reg, size: str | int = "u64") -> "Builder":
        return self._atomic(dst, src, size, AtomicOp.XCHG)

    def cmpxchg(self, dst: Mem, src: Reg, size: str | int = "u64") -> "Builder":
        """Compare r0 with *dst; if equal store src. r0 receives the old value."""
        return self._atomic(dst, src, size, AtomicOp.CMPXCHG)

    def _atomic(self, dst: Mem, src: Reg, size: str | int, op: AtomicOp, fetch: bool = False) -> "Builder":
        sz = _size(size)
        if sz not in (Size.W, Size.DW):
            raise BuildError("atomic operations take u32 or u64 operands")
        return self.emit(ops.atomic(op, sz, dst.base.index, src.index, _off16(dst.off), fetch=fetch))

    def ld_abs(self, size: str | int, offset: int) -> "Builder":
        """Legacy packet load (socket filters): r0 = ntoh(*(size *)(skb->data + offset))."""
        return self.emit(ops.ld_abs(_legacy_size(size), _imm32(offset)))

    def ld_ind(self, size: str | int, src: Reg, offset: int = 0) -> "Builder":
        return self.emit(ops.ld_ind(_legacy_size(size), src.index, _imm32(offset)))

    # ---- control flow ---------------------------------------------------------------------------------------
    def call(self, helper: "str | int") -> "Builder":
        """Call a helper by name ("map_lookup_elem", "bpf_map_lookup_elem") or id."""
        return self.emit(ops.call(_resolve_helper(helper)))

    def call_local(self, function: str) -> "Builder":
        """bpf-to-bpf call to the subprogram labelled `function`."""
        self._pending.append(_Pending(len(self.insns), function))
        return self.emit(ops.call_local(ref=function))

    def call_kfunc(self, btf_id: int) -> "Builder":
        return self.emit(ops.kfunc_call(_imm32(btf_id, "kfunc BTF id")))

    def exit(self) -> "Builder":
        return self.emit(ops.exit())

    def ret(self, value: Operand) -> "Builder":
        """r0 = value; exit."""
        return self.mov(R0, value).exit()

    def ja(self, label: str) -> "Builder":
        self._pending.append(_Pending(len(self.insns), label))
        return self.emit(ops.ja(ref=label))

    def gotol(self, label: str) -> "Builder":
        """Long jump (cpu v4): 32-bit offset in imm."""
        self._pending.append(_Pending(len(self.insns), label))
        return self.emit(ops.gotol(ref=label))

    def jump_if(self, cond: Cond, label: str) -> "Builder":
        """Conditional jump to `label` when `cond` holds."""
        left, right = cond.left, cond.right
        make = ops.jmp if left.wide else ops.jmp32
        self._pending.append(_Pending(len(self.insns), label))
        if isinstance(right, Reg):
            return self.emit(make(cond.op, left.index, right.index, ref=label))
        return self.emit(make(cond.op, left.index, imm=_imm32(right), ref=label))

    def _jump_unless(self, cond: Cond, label: str) -> None:
        if cond.op in _NEGATE:
            self.jump_if(~cond, label)
        else:  # jset: "if (x & y) goto body; goto label; body:"
            body = self._fresh("then")
            self.jump_if(cond, body)
            self.ja(label)
            self.label(body)

    @contextmanager
    def if_(self, cond: Cond) -> Iterator["Builder"]:
        """`with b.if_(R0 == 0): ...` — the block runs only when cond holds. Follow with `else_()` if needed."""
        end = self._fresh("endif")
        self._jump_unless(cond, end)
        yield self
        self._last_if_end = end
        self.label(end)

    @contextmanager
    def else_(self) -> Iterator["Builder"]:
        """The else block of the `if_` just closed."""
        end = getattr(self, "_last_if_end", None)
        if end is None or self.labels.get(end) != len(self.insns):
            raise BuildError("else_() must directly follow an if_() block")
        # Turn "if-block; endif:" into "if-block; ja endelse; endif: else-block; endelse:"
        del self.labels[end]
        done = self._fresh("endelse")
        self.ja(done)
        self.label(end)
        self._last_if_end = None
        yield self
        self.label(done)

    @contextmanager
    def while_(self, cond: Cond) -> Iterator["Builder"]:
        """`with b.while_(R6 < 10): ...` — a bounded loop (the verifier explores it; privileged only)."""
        top, end = self._fresh("loop"), self._fresh("endloop")
        self.label(top)
        self._jump_unless(cond, end)
        self._loops = getattr(self, "_loops", []) + [(top, end)]
        try:
            yield self
        finally:
            self._loops.pop()
        self.ja(top)
        self.label(end)

    def break_(self) -> "Builder":
        if not getattr(self, "_loops", None):
            raise BuildError("break_() outside a while_() block")
        return self.ja(self._loops[-1][1])

    def continue_(self) -> "Builder":
        if not getattr(self, "_loops", None):
            raise BuildError("continue_() outside a while_() block")
        return self.ja(self._loops[-1][0])

    @contextmanager
    def function(self, name: str) -> Iterator["Builder"]:
        """A subprogram: `with b.function("cb"): ...` labels its entry; it must end in exit like any function."""
        self.label(name)
        yield self

    # ---- finishing ------------------------------------------------------------------------------------------
    def build(self) -> Program:
        """Resolve labels into slot offsets and return the Program."""
        slots, slot = [], 0
        for insn in self.insns:
            slots.append(slot)
            slot += insn.slots
        end_slot = slot

        def slot_of(label: str) -> int:
            index = self.labels.get(label)
            if index is None:
                raise BuildError(f"jump to undefined label {label!r}")
            return slots[index] if index < len(slots) else end_slot

        insns = list(self.insns)
        for p in self._pending:
            insn = insns[p.index]
            delta = slot_of(p.label) - slots[p.index] - 1
            if insn.opcode == OP_JA32 or insn.is_pseudo_call:
                insns[p.index] = insn._replace(imm=_imm32(delta, "call offset"))
            elif insn.is_lddw:  # BPF_PSEUDO_FUNC: imm is the relative slot offset of the function
                insns[p.index] = insn._replace(imm=delta)
            else:
                if not _S16_MIN <= delta <= _S16_MAX:
                    raise BuildError(f"jump to {p.label!r} is {delta} slots away; use gotol for long jumps")
                insns[p.index] = insn._replace(off=delta)
        labels = {name: slot_of(name) for name in self.labels if not name.startswith(".")}
        return Program(insns, dict(self.maps), self.prog_type, self.license, self.name, labels,
                       attach_to=self.attach_to)


def _s64(value: int) -> int:
    if not -(1 << 63) <= value < (1 << 64):
        raise BuildError(f"{value} does not fit in 64 bits")
    return s64(value)


# Ctypes shorthands so example programs read naturally.
u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64

__all__ = ["Builder", "Reg", "Mem", "Cond", "FP", "R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9",
           "R10"]
