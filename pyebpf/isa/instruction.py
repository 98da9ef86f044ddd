"""`Instruction`: one logical eBPF instruction as a small immutable value, and its byte encoding.

An instruction is (opcode, dst, src, off, imm) as in RFC 9669. The 16-byte `lddw` (BPF_LD | BPF_IMM | BPF_DW) is
one logical instruction whose `imm` holds the whole 64-bit value (signed); it occupies two slots, and program counters
and jump offsets count slots, as in the kernel. `ref` optionally names what the instruction refers to symbolically
(a map for `lddw rX, map[...]`, a function for a bpf-to-bpf call) until a loader or linker fills the numbers in.
"""
from __future__ import annotations

import struct
import sys
from itertools import repeat
from typing import Any, Callable, Iterator, NamedTuple

from pyebpf._gc import collector_paused
from pyebpf.abi.opcodes import (
    ATOMIC_FETCH, BPF_ADDR_SPACE_CAST, CLASS_MASK, COND_JMP_OPS, INSN_SIZE, MAX_REG, MODE_MASK, MOVSX_WIDTHS_ALU,
    MOVSX_WIDTHS_ALU64, OP_CALLX, OP_LD_IMM64, OP_MASK, SIGNED_DIVMOD_OFF, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, AluOp,
    AtomicOp, CallSrc, EndSource, InsnClass, JcondSrc, JmpOp, Mode, PseudoSrc, Size, Source,
)
from pyebpf.abi.widths import s32 as _s32, s64 as _s64
from pyebpf.errors import BuildError, DecodeError

_LE = struct.Struct("<BBhi")
_BE = struct.Struct(">BBhi")
_U32 = 0xFFFFFFFF


class EncodeError(BuildError, ValueError):
    """An Instruction whose fields do not fit their encoding (opcode u8, registers u4, off s16, imm s32)."""


def _encode_problem(insn: "Instruction", slot: int | None = None) -> EncodeError:
    """Which field of `insn` cannot be packed; raised instead of struct's untyped error."""
    limits = (("opcode", insn.opcode, 0, 0xFF), ("dst", insn.dst, 0, 15), ("src", insn.src, 0, 15),
              ("off", insn.off, -(1 << 15), (1 << 15) - 1),
              ("imm", insn.imm, -(1 << 63), (1 << 64) - 1) if insn.opcode == OP_LD_IMM64 else
              ("imm", insn.imm, -(1 << 31), (1 << 31) - 1))
    where = f"slot {slot}: " if slot is not None else ""
    for name, value, low, high in limits:
        if not isinstance(value, int) or not low <= value <= high:
            return EncodeError(f"{where}{name} {value!r} does not fit in [{low}, {high}]")
    return EncodeError(f"{where}cannot encode {insn!r}")


class Instruction(NamedTuple):
    """One logical instruction. Fields are plain ints so instructions are cheap to create, compare and hash."""

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    ref: str | None = None

    # ---- classification -------------------------------------------------------------------------------------
    @property
    def cls(self) -> InsnClass:
        return InsnClass(self.opcode & CLASS_MASK)

    @property
    def is_lddw(self) -> bool:
        return self.opcode == OP_LD_IMM64

    @property
    def slots(self) -> int:
        """How many 8-byte slots this instruction occupies (2 for lddw)."""
        return 2 if self.opcode == OP_LD_IMM64 else 1

    @property
    def is_alu(self) -> bool:
        return self.opcode & CLASS_MASK in (InsnClass.ALU, InsnClass.ALU64)

    @property
    def is_jump(self) -> bool:
        """Any JMP/JMP32-class instruction, including call and exit."""
        return self.opcode & CLASS_MASK in (InsnClass.JMP, InsnClass.JMP32)

    @property
    def is_call(self) -> bool:
        return self.opcode & ~SOURCE_MASK & 0xFF == InsnClass.JMP | JmpOp.CALL

    @property
    def is_helper_call(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.CALL and self.src == CallSrc.HELPER

    @property
    def is_pseudo_call(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.CALL and self.src == CallSrc.PSEUDO_CALL

    @property
    def is_kfunc_call(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.CALL and self.src == CallSrc.KFUNC

    @property
    def is_exit(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.EXIT

    @property
    def is_branch(self) -> bool:
        """A jump with a target inside the program: ja, gotol, conditional jumps and may_goto."""
        cls = self.opcode & CLASS_MASK
        if cls not in (InsnClass.JMP, InsnClass.JMP32):
            return False
        op = self.opcode & OP_MASK
        return op not in (JmpOp.CALL, JmpOp.EXIT)

    @property
    def is_conditional(self) -> bool:
        return self.is_branch and (self.opcode & OP_MASK) in COND_JMP_OPS

    @property
    def jump_offset(self) -> int:
        """Relative slot offset of a branch (gotol keeps it in imm) or of a bpf-to-bpf call."""
        if self.opcode == InsnClass.JMP32 | JmpOp.JA or self.is_pseudo_call:
            return self.imm
        return self.off

    def target(self, slot: int) -> int:
        """Absolute slot a branch or pseudo call at `slot` goes to."""
        return slot + 1 + self.jump_offset

    # ---- lddw halves ----------------------------------------------------------------------------------------
    @property
    def imm_lo(self) -> int:
        return self.imm & _U32

    @property
    def imm_hi(self) -> int:
        return (self.imm >> 32) & _U32

    # ---- encoding -------------------------------------------------------------------------------------------
    def encode(self, byteorder: str = "little") -> bytes:
        """Bytes of this instruction: 8, or 16 for lddw."""
        if byteorder == "little":
            packer, regs = _LE, (self.src << 4) | self.dst
        else:
            packer, regs = _BE, (self.dst << 4) | self.src
        try:
            if self.opcode == OP_LD_IMM64:
                if not -(1 << 63) <= self.imm < (1 << 64):
                    raise struct.error("lddw immediate out of range")
                return (packer.pack(self.opcode, regs, self.off, _s32(self.imm))
                        + packer.pack(0, 0, 0, _s32(self.imm >> 32)))
            if not (0 <= self.dst <= 15 and 0 <= self.src <= 15):
                raise struct.error("register out of range")
            return packer.pack(self.opcode, regs, self.off, self.imm)
        except (struct.error, TypeError):
            raise _encode_problem(self) from None

    def with_ref(self, ref: str | None) -> "Instruction":
        return self._replace(ref=ref)

    def validate(self) -> str | None:
        """The kernel's complaint about a malformed instruction, or None when it is well formed."""
        checker = _VALIDATORS.get(self.opcode)
        if checker is None:
            return f"unknown opcode {self.opcode:02x}"
        if self.dst >= MAX_REG or self.src >= MAX_REG and not (self.opcode == OP_LD_IMM64 or self.is_call):
            return f"R{max(self.dst, self.src)} is invalid"
        return checker(self)

    def __repr__(self) -> str:
        ref = f", ref={self.ref!r}" if self.ref is not None else ""
        return (f"Instruction(opcode={self.opcode:#04x}, dst={self.dst}, src={self.src}, off={self.off}, "
                f"imm={self.imm}{ref})")


# ---- the kernel's reserved-field rules (kernel/bpf/verifier.c), one checker per opcode --------------------------

Validator = Callable[[Instruction], "str | None"]


def _alu_checker(cls: int, op: int, src: int) -> Validator:
    if op == AluOp.NEG:
        def check(i: Instruction) -> str | None:
            return "BPF_NEG uses reserved fields" if i.src or i.off or i.imm else None
    elif op == AluOp.END:
        def check(i: Instruction) -> str | None:
            bad = i.src or i.off or i.imm not in (16, 32, 64)
            return "BPF_END uses reserved fields" if bad else None
    elif op == AluOp.MOV and src == Source.X:
        widths = MOVSX_WIDTHS_ALU64 if cls == InsnClass.ALU64 else MOVSX_WIDTHS_ALU

        def check(i: Instruction) -> str | None:
            if cls == InsnClass.ALU64 and i.off == BPF_ADDR_SPACE_CAST:
                if i.imm not in (1, 1 << 16):
                    return "addr_space_cast insn can only convert between address space 1 and 0"
                return None
            if i.imm or (i.off and i.off not in widths):
                return "BPF_MOV uses reserved fields"
            return None
    elif op == AluOp.MOV:
        def check(i: Instruction) -> str | None:
            return "BPF_MOV uses reserved fields" if i.src or i.off else None
    else:
        divmod_ = op in (AluOp.DIV, AluOp.MOD)

        def check(i: Instruction) -> str | None:
            if (i.imm if src == Source.X else i.src):
                return "BPF_ALU uses reserved fields"
            if i.off and not (i.off == SIGNED_DIVMOD_OFF and divmod_):
                return "BPF_ALU uses reserved fields"
            return None
    return check


def _jmp_checker(cls: int, op: int, src: int) -> Validator:
    if op == JmpOp.CALL:
        def check(i: Instruction) -> str | None:
            if i.dst or i.src not in (CallSrc.HELPER, CallSrc.PSEUDO_CALL, CallSrc.KFUNC):
                return "BPF_CALL uses reserved fields"
            if i.src != CallSrc.KFUNC and i.off:
                return "BPF_CALL uses reserved fields"
            return None
    elif op == JmpOp.EXIT:
        def check(i: Instruction) -> str | None:
            return "BPF_EXIT uses reserved fields" if i.imm or i.src or i.dst or i.off else None
    elif op == JmpOp.JA:
        def check(i: Instruction) -> str | None:
            extra = i.imm if cls == InsnClass.JMP else i.off
            return "BPF_JA uses reserved fields" if i.src or i.dst or extra else None
    elif op == JmpOp.JCOND:
        def check(i: Instruction) -> str | None:
            if i.src != JcondSrc.MAY_GOTO or i.dst or i.imm:
                return "invalid may_goto imm %d" % i.imm if i.imm else "BPF_JCOND uses reserved fields"
            return None
    else:
        def check(i: Instruction) -> str | None:
            return "BPF_JMP/JMP32 uses reserved fields" if (i.imm if src == Source.X else i.src) else None
    return check


def _callx_check(i: Instruction) -> str | None:
    # bpf_conformance's `callx`: the target register is named in dst (LLVM) or imm (older uBPF encoders).
    # Linux does not accept this opcode; the verifier rejects it, the VM runs it.
    return "BPF_CALL uses reserved fields" if i.src or i.off or not 0 <= i.imm <= 10 else None


def _lddw_check(i: Instruction) -> str | None:
    if i.off:
        return "BPF_LD_IMM64 uses reserved fields"
    if i.src not in PseudoSrc._value2member_map_:
        return "unrecognized bpf_ld_imm64 insn"
    return None


def _ld_legacy_checker(mode: int) -> Validator:
    def check(i: Instruction) -> str | None:
        if i.dst or i.off or (mode == Mode.ABS and i.src):
            return "BPF_LD_[ABS|IND] uses reserved fields"
        return None
    return check


def _ldx_check(i: Instruction) -> str | None:
    return "BPF_LDX uses reserved fields" if i.imm else None


def _st_check(i: Instruction) -> str | None:
    return "BPF_ST uses reserved fields" if i.src else None


def _stx_check(i: Instruction) -> str | None:
    return "BPF_STX uses reserved fields" if i.imm else None


_RMW_ATOMICS = {AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR,
                AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR, AtomicOp.XCHG, AtomicOp.CMPXCHG}


def _atomic_checker(size: int) -> Validator:
    def check(i: Instruction) -> str | None:
        if i.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            return None
        if i.imm not in _RMW_ATOMICS:
            return f"BPF_ATOMIC uses invalid atomic opcode {i.imm:02x}"
        if size not in (Size.W, Size.DW):
            return "invalid atomic operand size"
        return None
    return check


def _build_validators() -> dict[int, Validator]:
    table: dict[int, Validator] = {}
    for cls in (InsnClass.ALU, InsnClass.ALU64):
        for op in AluOp:
            for src in Source:
                if op == AluOp.NEG and src == Source.X:
                    continue
                if op == AluOp.END and cls == InsnClass.ALU64 and src == EndSource.TO_BE:
                    continue  # ALU64 END exists only as unconditional bswap (TO_LE encoding)
                table[cls | op | src] = _alu_checker(cls, op, src)
    for cls in (InsnClass.JMP, InsnClass.JMP32):
        for op in JmpOp:
            for src in Source:
                if op in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND) and src == Source.X:
                    continue
                if cls == InsnClass.JMP32 and op in (JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND):
                    continue
                table[cls | op | src] = _jmp_checker(cls, op, src)
    table[OP_CALLX] = _callx_check
    table[OP_LD_IMM64] = _lddw_check
    for mode in (Mode.ABS, Mode.IND):
        for size in (Size.B, Size.H, Size.W):
            table[InsnClass.LD | mode | size] = _ld_legacy_checker(mode)
    for size in Size:
        table[InsnClass.LDX | Mode.MEM | size] = _ldx_check
        table[InsnClass.ST | Mode.MEM | size] = _st_check
        table[InsnClass.STX | Mode.MEM | size] = _stx_check
        table[InsnClass.STX | Mode.ATOMIC | size] = _atomic_checker(size)
        if size != Size.DW:
            table[InsnClass.LDX | Mode.MEMSX | size] = _ldx_check
    return table


_VALIDATORS: dict[int, Validator] = _build_validators()

#: Every opcode byte the decoder accepts (the kernel's public instruction table plus RFC 9669's callx).
VALID_OPCODES: frozenset[int] = frozenset(_VALIDATORS)


# ---- decoding ---------------------------------------------------------------------------------------------------

def decode_with_slots(data: bytes, byteorder: str = "little", validate: bool = True) -> list[tuple[int, Instruction]]:
    """(slot, Instruction) for an instruction stream; raises DecodeError naming slot and byte offset."""
    slots, insns = collector_paused(_decode_columns, data, byteorder, validate)
    return list(zip(slots, insns))


def _decode_columns(data: bytes, byteorder: str, validate: bool) -> tuple[Any, list[Instruction]]:
    """(slots, logical instructions). Decoding is on the path of every loaded object and conformance plugin call,
    so a little-endian stream is decoded by columns, in C: the opcode, register and offset/immediate columns cut out
    of the bytes with strided slices, instructions made by one map over their zip, each distinct instruction checked
    once. Anything irregular (a malformed lddw, a rule broken, big-endian input) is decoded again by the
    instruction-at-a-time loop, which names the first bad slot."""
    if len(data) % INSN_SIZE or byteorder != "little" or sys.byteorder != "little":
        return _decode_loop(data, byteorder, validate)
    n = len(data) // INSN_SIZE
    ops, regs = data[0::INSN_SIZE], data[1::INSN_SIZE]
    words = memoryview(data)
    insns = list(map(tuple.__new__, repeat(Instruction), zip(  # tuple.__new__: NamedTuple's __new__ is Python
        ops, regs.translate(_LOW_NIBBLE), regs.translate(_HIGH_NIBBLE), words.cast("h")[1::4], words.cast("i")[1::2],
        repeat(None))))
    slots: Any = range(n)
    lddw = ops.find(OP_LD_IMM64)
    if lddw >= 0:  # each lddw takes its second slot's imm as its high half; the second slot is no instruction
        out: list[Instruction] = []
        kept: list[int] = []
        prev = 0
        while lddw >= 0:
            if lddw + 1 >= n or data[(lddw + 1) * INSN_SIZE:(lddw + 1) * INSN_SIZE + 4] != b"\0\0\0\0":
                return _decode_loop(data, byteorder, validate)
            opcode, dst, src, off, imm, _ = insns[lddw]
            out += insns[prev:lddw]
            kept += range(prev, lddw + 1)
            # the high half is signed: the 64-bit value comes out signed, as _s64 would make it
            out.append(tuple.__new__(Instruction, (opcode, dst, src, off, (imm & _U32) | (insns[lddw + 1][4] << 32),
                                                   None)))
            prev = lddw + 2
            lddw = ops.find(OP_LD_IMM64, prev)
        out += insns[prev:]
        kept += range(prev, n)
        insns, slots = out, kept
    if validate:
        validators = _VALIDATORS
        for insn in set(insns):
            check = validators.get(insn.opcode)
            if check is None or insn.dst > 10 or (insn.src > 10 and insn.opcode != OP_LD_IMM64) or check(insn):
                return _decode_loop(data, byteorder, validate)  # (names the first bad slot)
    return slots, insns


_LOW_NIBBLE = bytes(b & 0xF for b in range(256))
_HIGH_NIBBLE = bytes(b >> 4 for b in range(256))


def _decode_loop(data: bytes, byteorder: str, validate: bool) -> tuple[list[int], list[Instruction]]:
    """Instruction at a time: the decoder of big-endian streams and of streams the column decoder found irregular
    (it raises DecodeError naming the first bad slot and its byte offset)."""
    if len(data) % INSN_SIZE:
        whole = len(data) // INSN_SIZE
        raise DecodeError(f"trailing {len(data) % INSN_SIZE} bytes: the stream is not a whole number of "
                          f"8-byte instructions", whole, whole * INSN_SIZE)
    little = byteorder == "little"
    raw = list((_LE if little else _BE).iter_unpack(data))
    validators = _VALIDATORS
    new = tuple.__new__  # bypasses NamedTuple's Python-level __new__: the hot path of decoding
    cls = Instruction
    out: list[tuple[int, Instruction]] = []
    append = out.append
    n = len(raw)
    slot = 0
    lddw = OP_LD_IMM64
    seen: dict[tuple[int, int, int, int], Instruction] = {}  # programs repeat words: decode+validate each once
    while slot < n:
        word = raw[slot]
        if word[0] != lddw:
            insn = seen.get(word)
            if insn is not None:
                append((slot, insn))
                slot += 1
                continue
        opcode, regs, off, imm = word
        if little:
            dst, src = regs & 0xF, regs >> 4
        else:
            dst, src = regs >> 4, regs & 0xF
        if opcode == lddw:
            if slot + 1 >= n:
                raise DecodeError("invalid bpf_ld_imm64 insn: truncated (second slot missing)", slot,
                                  slot * INSN_SIZE)
            op2, regs2, off2, imm2 = raw[slot + 1]
            if op2 or regs2 or off2:
                raise DecodeError("invalid bpf_ld_imm64 insn: second slot has non-zero opcode, registers or "
                                  "offset", slot + 1, (slot + 1) * INSN_SIZE)
            insn = new(cls, (opcode, dst, src, off, _s64((imm & _U32) | (imm2 << 32)), None))
        else:
            insn = new(cls, (opcode, dst, src, off, imm, None))
        if validate:
            check = validators.get(opcode)
            if check is None:
                raise DecodeError(f"unknown opcode {opcode:02x}", slot, slot * INSN_SIZE)
            if dst > 10 or (src > 10 and opcode != lddw):
                raise DecodeError(f"invalid register R{max(dst, src)} (registers are r0..r10)", slot,
                                  slot * INSN_SIZE)
            problem = check(insn)
            if problem:
                raise DecodeError(problem, slot, slot * INSN_SIZE)
        append((slot, insn))
        if opcode == lddw:
            slot += 2
        else:
            seen[word] = insn
            slot += 1
    return [pair[0] for pair in out], [pair[1] for pair in out]


def iter_decode(data: bytes, byteorder: str = "little", validate: bool = True) -> Iterator[tuple[int, Instruction]]:
    """Yield (slot, Instruction) pairs (see decode_with_slots)."""
    return iter(decode_with_slots(data, byteorder, validate))


def decode(data: bytes, byteorder: str = "little", validate: bool = True) -> list[Instruction]:
    """Decode a whole instruction stream into logical instructions."""
    return collector_paused(_decode_columns, data, byteorder, validate)[1]


def encode(instructions: "list[Instruction] | tuple[Instruction, ...]", byteorder: str = "little") -> bytes:
    """Encode logical instructions back to bytes."""
    if byteorder == "little":
        pack = _LE.pack
        out = []
        for i in instructions:
            try:
                if i.opcode == OP_LD_IMM64:
                    if not -(1 << 63) <= i.imm < (1 << 64):
                        raise struct.error("lddw immediate out of range")
                    out.append(pack(i.opcode, (i.src << 4) | i.dst, i.off, _s32(i.imm)))
                    out.append(pack(0, 0, 0, _s32(i.imm >> 32)))
                else:
                    out.append(pack(i.opcode, (i.src << 4) | i.dst, i.off, i.imm))
                if i.dst > 15:  # (src << 4) | dst would silently carry into src
                    raise struct.error("register out of range")
            except (struct.error, TypeError):
                raise _encode_problem(i, sum(x.slots for x in instructions[:instructions.index(i)])) from None
        return b"".join(out)
    return b"".join(i.encode(byteorder) for i in instructions)


def mem_size_bytes(opcode: int) -> int:
    """Access width in bytes of a load/store opcode."""
    return SIZE_BYTES[Size(opcode & SIZE_MASK)]


def mem_mode(opcode: int) -> Mode:
    return Mode(opcode & MODE_MASK)


__all__ = ["Instruction", "EncodeError", "iter_decode", "decode_with_slots", "decode", "encode", "VALID_OPCODES", "mem_size_bytes", "mem_mode",
           "ATOMIC_FETCH"]
