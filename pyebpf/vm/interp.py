"""The interpreter engine: one precomputed closure per instruction, dispatched by program counter.

At load time each slot gets a closure built by the factory for its opcode (a table keyed by opcode byte, never an
if-chain at run time); the closure captures its operands (register numbers, immediate, next pc, branch target)
and returns the next pc. The run loop is `pc = code[pc](regs)` under a `for` over the instruction budget. ALU and
jump bodies come from the shared templates in `pyebpf.vm.alu`, compiled once per opcode variant with `exec`.

Register file `r`: r[0..10] are the BPF registers (unsigned 64-bit ints), r[11] the list of saved caller frames of
this invocation (bpf-to-bpf calls), r[12] the frame's may_goto budget.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from pyebpf._gc import collector_paused
from pyebpf.abi.opcodes import (
    CLASS_MASK, MAX_BPF_STACK, MAX_CALL_FRAMES, MODE_MASK, OP_CALLX, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64, OP_MASK,
    OP_MAY_GOTO, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, COND_JMP_OPS, AluOp, AtomicOp, CallSrc, InsnClass, JmpOp, Mode,
    PseudoSrc, Size, Source,
)
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.uapi import BPF_MAX_LOOPS
from pyebpf.errors import PyebpfError, VmError
from pyebpf.vm import alu
from pyebpf.vm.alu import M32, M64
from pyebpf.vm.memory import PACK, UNPACK
from pyebpf.vm.ops import atomic, call_helper, ld_abs, mem_fault
from pyebpf.vm.runtime import ProgramExit, TailCallSignal

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.isa.instruction import Instruction
    from pyebpf.isa.program import Program
    from pyebpf.vm.runtime import Machine

Op = Callable[[list], int]

_ZERO_STACK = bytes(MAX_BPF_STACK)
_ALU_CLASSES = frozenset((int(InsnClass.ALU), int(InsnClass.ALU64)))
_JMP_CLASSES = frozenset((int(InsnClass.JMP), int(InsnClass.JMP32)))
#: Conditional jump operations (JA, CALL, EXIT and may_goto's JCOND are not: _make builds those its own way).
_COND_OPS = frozenset(int(op) for op in COND_JMP_OPS)


class _Exit(Exception):
    """The main frame of this invocation executed `exit`."""


def insn_text(insn: "Instruction") -> str:
    """The instruction in the verifier log's words (falls back to the raw fields)."""
    try:
        from pyebpf.isa.disassembler import format_instruction

        text = format_instruction(insn, "kernel")
        return text.split(") ", 1)[1] if text.startswith("(") and ") " in text else text
    except Exception:  # noqa: BLE001 - the disassembler is optional for error messages
        return f"op={insn.opcode:#04x} dst=r{insn.dst} src=r{insn.src} off={insn.off} imm={insn.imm}"


# ---- closure factories generated from the templates ---------------------------------------------------------------

_FACTORY_CACHE: dict[str, Callable[..., Op]] = {}


def _factory(body: str, params: str) -> Callable[..., Op]:
    """A factory `f(params) -> closure(r)`; `body` is the closure body (indented by 8)."""
    src = f"def factory({params}):\n    def op(r):\n{body}\n    return op\n"
    fn = _FACTORY_CACHE.get(src)
    if fn is None:
        ns = dict(alu.NAMESPACE)
        exec(compile(src, "<pyebpf-interp>", "exec"), ns)  # noqa: S102 - our own templates
        fn = _FACTORY_CACHE[src] = ns["factory"]
    return fn


@lru_cache(maxsize=None)
def _alu_factory(opcode: int, off: int, end_width: int) -> Callable[..., Op] | None:
    """Closure factory for one ALU opcode variant (None: not an instruction). Args: (d, nxt), (d, s, nxt) or
    (d, imm, nxt) for END, register and immediate forms."""
    op = opcode & OP_MASK
    is64 = opcode & CLASS_MASK == InsnClass.ALU64
    if op == AluOp.END:
        tmpl = alu.END.get((is64, opcode & SOURCE_MASK, end_width))
        if tmpl is None:
            return None
        return _factory(f"        r[d] = {alu.render(tmpl, 'r[d]', '')}\n        return nxt", "d, nxt")
    tmpl = alu.alu_template(is64, op, off)
    if tmpl is None:
        return None
    if opcode & SOURCE_MASK == Source.X:
        expr = alu.render(tmpl, "r[d]", "r[s]" if is64 else "(r[s] & M32)")
        return _factory(f"        r[d] = {expr}\n        return nxt", "d, s, nxt")
    return _factory(f"        r[d] = {alu.render(tmpl, 'r[d]', 'imm')}\n        return nxt", "d, imm, nxt")


def _alu_plan(opcode: int, off: int, imm: int) -> tuple[int, Any, int]:
    """How an ALU instruction becomes its closure, from its opcode (and off: sdiv/smod/movsx; imm: byte swaps):
    (kind, factory or the shared failing op, mask of the immediate). Kinds: 0 factory(d, nxt), 1 factory(d, s, nxt),
    2 factory(d, imm & mask, nxt), 3 the op itself (not an instruction)."""
    op = opcode & OP_MASK
    is64 = opcode & CLASS_MASK == InsnClass.ALU64
    if op == AluOp.END:
        factory = _alu_factory(opcode, 0, imm)
        return (0, factory, 0) if factory else (3, _bad(f"invalid byte swap width {imm}"), 0)
    variant = off
    if op not in (AluOp.DIV, AluOp.MOD, AluOp.MOV) or (op == AluOp.MOV and opcode & SOURCE_MASK == Source.K):
        variant = 0
    factory = _alu_factory(opcode, variant, 0)
    if factory is None:
        return 3, _bad(f"invalid ALU operation {opcode:#04x} off {off}"), 0
    if opcode & SOURCE_MASK == Source.X:
        return 1, factory, 0
    return 2, factory, M64 if is64 else M32


#: _alu_plan's answers by (opcode, off) or, for byte swaps, (opcode, off, imm): building a program's closures looks
#: each instruction's plan up once instead of classifying it field by field (enum members cost a lookup each).
#: Bounded: emptied when a program with many odd offsets or widths fills it.
_ALU_PLANS: dict[tuple, tuple[int, Any, int]] = {}
_PLANS_MAX = 4096
_END = int(AluOp.END)


def _alu_op(insn: "Instruction", nxt: int) -> Op:
    opcode, d, s, off, imm = insn[0], insn[1], insn[2], insn[3], insn[4]
    key = (opcode, off, imm) if opcode & 0xF0 == _END else (opcode, off)
    plan = _ALU_PLANS.get(key)
    if plan is None:
        if len(_ALU_PLANS) >= _PLANS_MAX:
            _ALU_PLANS.clear()
        plan = _ALU_PLANS[key] = _alu_plan(opcode, off, imm)
    kind, factory, mask = plan
    if kind == 1:
        return factory(d, s, nxt)
    if kind == 2:
        return factory(d, imm & mask, nxt)
    if kind == 0:
        return factory(d, nxt)
    return factory


@lru_cache(maxsize=None)
def _jmp_factory(opcode: int) -> Callable[..., Op] | None:
    op = opcode & OP_MASK
    is64 = opcode & CLASS_MASK == InsnClass.JMP
    tmpl = (alu.JMP64 if is64 else alu.JMP32).get(op)
    if tmpl is None:
        return None
    d_expr = "r[d]" if is64 else "(r[d] & M32)"
    if opcode & SOURCE_MASK == Source.X:
        cond = alu.render(tmpl, d_expr, "r[s]" if is64 else "(r[s] & M32)")
        return _factory(f"        return tgt if {cond} else nxt", "d, s, nxt, tgt")
    return _factory(f"        return tgt if {alu.render(tmpl, d_expr, 'imm')} else nxt", "d, imm, nxt, tgt")


def _jmp_plan(opcode: int) -> tuple[int, Any, int]:
    """(kind, factory or the shared failing op, mask of the immediate) of a conditional jump: kind 1 register
    source, 2 immediate, 3 not an instruction."""
    factory = _jmp_factory(opcode)
    if factory is None:
        return 3, _bad(f"invalid jump operation {opcode:#04x}"), 0
    if opcode & SOURCE_MASK == Source.X:
        return 1, factory, 0
    return 2, factory, M64 if opcode & CLASS_MASK == InsnClass.JMP else M32


_JMP_PLANS: dict[int, tuple[int, Any, int]] = {}


def _jmp_op(insn: "Instruction", nxt: int, tgt: int) -> Op:
    opcode = insn[0]
    plan = _JMP_PLANS.get(opcode)
    if plan is None:
        plan = _JMP_PLANS[opcode] = _jmp_plan(opcode)
    kind, factory, mask = plan
    if kind == 1:
        return factory(insn[1], insn[2], nxt, tgt)
    if kind == 2:
        return factory(insn[1], insn[4] & mask, nxt, tgt)
    return factory


def _bad(message: str) -> Op:
    def op(r: list) -> int:
        raise VmError(message)
    return op


class Interpreter:
    """Engine: closures per slot. `run(m, entry, args, budget, depth)` -> (r0, instructions executed)."""

    name = "interp"

    def __init__(self, program: "Program", m: "Machine", may_goto_budget: int = BPF_MAX_LOOPS):
        self.program = program
        self.m = m
        self.may_goto_budget = may_goto_budget
        self.insns = program.slot_map()
        self.nslots = program.slot_count
        self.code: list[Op] = []
        collector_paused(self._build)  # one closure per slot, all acyclic: no collections while they are made

    # ---- building -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        n = self.nslots
        code: list[Op] = [_bad("jump into the middle of an lddw instruction")] * n
        extra: list[Op] = []
        slots_ok = set(self.insns)

        def target(slot: int, t: int) -> int:
            if t in slots_ok:
                return t
            extra.append(_bad_at(slot, f"jump to slot {t}, which is "
                                       f"{'not an instruction start' if 0 <= t < n else 'outside the program'}"))
            return n + len(extra)

        for slot, insn in self.insns.items():
            code[slot] = self._make(slot, insn, target)
        code.append(_bad("fell off the end of the program (no exit)"))
        self.code = code + extra

    def _make(self, slot: int, insn: "Instruction", target: Callable[[int, int], int]) -> Op:
        opcode = insn[0]
        cls = opcode & CLASS_MASK
        if cls in _ALU_CLASSES:  # the common kinds first, classified by plain ints
            return _alu_op(insn, slot + 1)
        if cls in _JMP_CLASSES and opcode & OP_MASK in _COND_OPS:
            return _jmp_op(insn, slot + 1, target(slot, slot + 1 + insn[3]))
        nxt = slot + insn.slots
        if opcode == OP_EXIT:
            return self._exit()
        if opcode == OP_JA:
            tgt = target(slot, slot + 1 + insn.off)
            return lambda r: tgt
        if opcode == OP_JA32:
            tgt = target(slot, slot + 1 + insn.imm)
            return lambda r: tgt
        if opcode == OP_MAY_GOTO:
            return self._may_goto(nxt, target(slot, slot + 1 + insn.off))
        if opcode == OP_CALLX:
            return self._callx(slot, insn, nxt)
        if cls in (InsnClass.JMP, InsnClass.JMP32):
            if opcode & OP_MASK == JmpOp.CALL:
                if insn.src == CallSrc.PSEUDO_CALL:
                    return self._pseudo_call(slot, nxt, target(slot, slot + 1 + insn.imm))
                if insn.src == CallSrc.HELPER:
                    return self._helper_call(slot, insn.imm, nxt)
                return _bad("kfunc calls need the kernel; the VM cannot run them")
            return _jmp_op(insn, nxt, target(slot, slot + 1 + insn.off))
        if opcode == OP_LD_IMM64:
            return self._lddw(slot, insn, nxt)
        mode = opcode & MODE_MASK
        size = SIZE_BYTES[Size(opcode & SIZE_MASK)]
        if cls == InsnClass.LDX and mode in (Mode.MEM, Mode.MEMSX):
            return self._load(insn, size, mode == Mode.MEMSX, nxt)
        if cls == InsnClass.ST and mode == Mode.MEM:
            return self._store(insn.dst, None, insn.off, size, insn.imm & M64, nxt)
        if cls == InsnClass.STX and mode == Mode.MEM:
            return self._store(insn.dst, insn.src, insn.off, size, 0, nxt)
        if cls == InsnClass.STX and mode == Mode.ATOMIC:
            return self._atomic(insn, size, nxt)
        if cls == InsnClass.LD and mode in (Mode.ABS, Mode.IND):
            return self._ld_abs(slot, insn, size, mode == Mode.IND, nxt)
        return _bad(f"unknown opcode {opcode:#04x}")

    # ---- memory -------------------------------------------------------------------------------------------------
    def _load(self, insn: "Instruction", size: int, signed: bool, nxt: int) -> Op:
        pg = self.m.mem.pages.get
        mem = self.m.mem
        unpack = UNPACK[size]
        d, s, off = insn.dst, insn.src, insn.off
        strict = mem.strict_alignment
        if signed:
            sx = eval("lambda v: " + alu.SIGN_EXTEND_LOAD[size].replace("{V}", "v"), dict(alu.NAMESPACE))  # noqa: S307

            def op_sx(r: list) -> int:
                a = (r[s] + off) & M64
                g = pg(a >> 16)
                if g is None or a < g.base or a + size > g.end or (strict and a % size):
                    raise mem_fault(mem, a, size, False)
                r[d] = sx(unpack(g.data, a - g.base)[0])
                return nxt
            return op_sx

        def op(r: list) -> int:
            a = (r[s] + off) & M64
            g = pg(a >> 16)
            if g is None or a < g.base or a + size > g.end or (strict and a % size):
                raise mem_fault(mem, a, size, False)
            r[d] = unpack(g.data, a - g.base)[0]
            return nxt
        return op

    def _store(self, d: int, s: int | None, off: int, size: int, imm: int, nxt: int) -> Op:
        pg = self.m.mem.pages.get
        mem = self.m.mem
        pack = PACK[size]
        mask = (1 << (8 * size)) - 1
        strict = mem.strict_alignment
        value_imm = imm & mask

        def op(r: list) -> int:
            a = (r[d] + off) & M64
            g = pg(a >> 16)
            if g is None or a < g.base or a + size > g.end or not g.writable or (strict and a % size):
                raise mem_fault(mem, a, size, True)
            pack(g.data, a - g.base, value_imm if s is None else r[s] & mask)
            return nxt
        return op

    def _atomic(self, insn: "Instruction", size: int, nxt: int) -> Op:
        mem = self.m.mem
        d, s, off, aop = insn.dst, insn.src, insn.off, insn.imm
        if aop == AtomicOp.LOAD_ACQ:
            return self._load(insn, size, False, nxt)  # dst = *(src + off)
        if aop == AtomicOp.STORE_REL:
            return self._store(d, s, off, size, 0, nxt)
        if size not in (4, 8):
            return _bad("invalid atomic operand size")
        mask = M32 if size == 4 else M64
        if aop == AtomicOp.CMPXCHG:
            def op(r: list) -> int:
                r[0] = atomic(mem, (r[d] + off) & M64, size, aop, r[s], r[0])
                return nxt
        elif aop & 1:  # FETCH variants and XCHG write the old value to src
            def op(r: list) -> int:
                r[s] = atomic(mem, (r[d] + off) & M64, size, aop, r[s] & mask)
                return nxt
        else:
            def op(r: list) -> int:
                atomic(mem, (r[d] + off) & M64, size, aop, r[s] & mask)
                return nxt
        return op

    def _ld_abs(self, slot: int, insn: "Instruction", size: int, ind: bool, nxt: int) -> Op:
        m = self.m
        s, imm = insn.src, insn.imm

        def op(r: list) -> int:
            m.pc = slot
            v = ld_abs(m, (r[s] + imm) if ind else imm, size)
            if v is None:
                raise ProgramExit(0)
            r[0] = v
            return nxt
        return op

    def _lddw(self, slot: int, insn: "Instruction", nxt: int) -> Op:
        d = insn.dst
        if insn.src == PseudoSrc.IMM:
            value = insn.imm & M64

            def op(r: list) -> int:
                r[d] = value
                return nxt
            return op
        values, key = self.m.lddw_values, (id(self.program), slot)

        def op_pseudo(r: list) -> int:
            r[d] = values[key]
            return nxt
        return op_pseudo

    # ---- control ------------------------------------------------------------------------------------------------
    def _exit(self) -> Op:
        m = self.m

        def op(r: list) -> int:
            frames = r[11]
            if not frames:
                raise _Exit
            nxt, r[6], r[7], r[8], r[9], r[10], r[12] = frames.pop()
            m.depth -= 1
            return nxt
        return op

    def _may_goto(self, nxt: int, tgt: int) -> Op:
        def op(r: list) -> int:
            if r[12] <= 0:
                return tgt
            r[12] -= 1
            return nxt
        return op

    def _pseudo_call(self, slot: int, nxt: int, tgt: int) -> Op:
        m = self.m
        stacks, tops, mg = m.stacks, m.frame_tops, self.may_goto_budget

        def op(r: list) -> int:
            depth = m.depth + 1
            if depth >= MAX_CALL_FRAMES:
                raise VmError(f"call stack too deep: more than {MAX_CALL_FRAMES} frames")
            r[11].append((nxt, r[6], r[7], r[8], r[9], r[10], r[12]))
            # the callee starts with a fresh register file, as in the kernel's interpreter (the verifier forbids
            # reading r0/r6-r9 before writing them) and in the compiled engine
            r[0] = r[6] = r[7] = r[8] = r[9] = 0
            m.depth = depth
            stacks[depth].data[:] = _ZERO_STACK
            r[10] = tops[depth]
            r[12] = mg
            return tgt
        return op

    def _helper_call(self, slot: int, helper_id: int, nxt: int) -> Op:
        m = self.m
        fn = m.helpers.get(helper_id)
        if fn is None:
            def missing(r: list) -> int:
                r[0] = call_helper(m, helper_id, slot, r[1], r[2], r[3], r[4], r[5])
                return nxt
            return missing
        if helper_id == HelperId.TAIL_CALL:
            exit_op = self._exit()

            def tail(r: list) -> int:
                m.pc = slot
                r[0] = fn(m, r[1], r[2], r[3], r[4], r[5]) & M64
                if m.pending_tail is not None:
                    if m.depth == 0:
                        raise TailCallSignal()
                    r[0], k = m.tail_call_in_frame()  # from a subprogram: the target replaces this frame
                    m.extra_insns += k
                    return exit_op(r)
                return nxt
            return tail

        def op(r: list) -> int:
            m.pc = slot
            r[0] = fn(m, r[1], r[2], r[3], r[4], r[5]) & M64
            return nxt
        return op

    def _callx(self, slot: int, insn: "Instruction", nxt: int) -> Op:
        m = self.m
        reg = insn.dst if insn.dst else insn.imm  # LLVM/gcc put the register in dst, older encoders in imm

        def op(r: list) -> int:
            r[0] = call_helper(m, r[reg], slot, r[1], r[2], r[3], r[4], r[5])
            if m.pending_tail is not None:
                raise TailCallSignal()
            return nxt
        return op

    # ---- running ------------------------------------------------------------------------------------------------
    def run(self, m: "Machine", entry: int, args: tuple, budget: int, depth: int = 0) -> tuple[int, int]:
        r: list[Any] = [0, *args, 0, 0, 0, 0, m.frame_tops[depth], [], self.may_goto_budget]
        return self._loop(m, r, entry, 0, budget, depth)

    def resume(self, m: "Machine", pc: int, regs: tuple, may_goto: int, done: int, budget: int,
               depth: int) -> tuple[int, int]:
        """Go on with a frame another engine ran up to `pc`: registers r0-r10, its may_goto budget left, `done`
        instructions executed out of `budget`. The compiled engine hands a frame over when it may run out of budget
        before its next check, so the budget error names the exact instruction."""
        return self._loop(m, [*regs, [], may_goto], pc, done, budget, depth)

    def _loop(self, m: "Machine", r: list[Any], pc: int, done: int, budget: int, depth: int) -> tuple[int, int]:
        code = self.code
        n = -1
        m._running = self.program
        try:
            for n in range(done, budget):
                pc = code[pc](r)
        except _Exit:
            return r[0], n + 1
        except TailCallSignal:
            raise TailCallSignal(n + 1) from None
        except ProgramExit as e:
            if depth == 0:
                m.depth = 0
                return e.r0, n + 1
            raise
        except VmError as e:
            raise self.locate(e, pc) from None
        except PyebpfError:
            raise
        except Exception as e:  # noqa: BLE001 - a helper bug must still name the instruction, not crash the CLI
            raise self.locate(VmError(f"fault: {type(e).__name__}: {e}"), pc) from e
        raise self.locate(VmError(f"instruction budget of {budget} exhausted (runaway program?)"), pc)

    def trace_run(self, m: "Machine", args: tuple, budget: int, trace: list) -> tuple[int, int]:
        """Like `run` from slot 0, appending (slot, text, {reg: new value}) for every executed instruction."""
        r: list[Any] = [0, *args, 0, 0, 0, 0, m.frame_tops[0], [], self.may_goto_budget]
        code, insns = self.code, self.insns
        pc = 0
        n = -1
        m._running = self.program
        try:
            for n in range(budget):
                before = r[:11]
                nxt = code[pc](r)
                trace.append((pc, insn_text(insns[pc]) if pc in insns else "?",
                              {i: r[i] for i in range(11) if r[i] != before[i]}))
                pc = nxt
        except _Exit:
            trace.append((pc, "exit", {}))
            return r[0], n + 1
        except TailCallSignal:
            raise TailCallSignal(n + 1) from None
        except ProgramExit as e:
            trace.append((pc, insn_text(insns[pc]), {0: e.r0}))
            return e.r0, n + 1
        except VmError as e:
            raise self.locate(e, pc) from None
        except PyebpfError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self.locate(VmError(f"fault: {type(e).__name__}: {e}"), pc) from e
        raise self.locate(VmError(f"instruction budget of {budget} exhausted (runaway program?)"), pc)

    def locate(self, e: VmError, pc: int) -> VmError:
        """Fill in the pc and instruction text of a fault raised without them."""
        if e.pc is None:
            e = VmError(e.message, pc, "", e.address)
        if not e.insn_text and e.pc in self.insns:
            e = VmError(e.message, e.pc, insn_text(self.insns[e.pc]), e.address)
        return e


def _bad_at(slot: int, message: str) -> Op:
    def op(r: list) -> int:
        raise VmError(message, pc=slot)
    return op


__all__ = ["Interpreter", "insn_text"]
