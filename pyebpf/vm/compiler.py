"""The compiler engine: the whole program becomes one Python function, straight-line code per basic block.

Generated shape (`run(entry_block, a1..a5, depth, budget) -> (r0, instructions)`):

    r0 = 0; r1 = a1; ... r10 = TOPS[depth]; n = 0; mg = MAY_GOTO; b = entry_block
    while True:
        if b < 4:                       # balanced if-tree over block ids: O(log blocks) per transition
            if b < 2:
                if b < 1:
                    if n + 9 > budget: return RESUME(0, r0, ..., r10, mg, n, budget, depth)
                    n += 3                          # block 0: check the budget (see below), count, run
                    r1 = (r1 + 1) & M64             # ALU bodies are the shared templates of pyebpf.vm.alu
                    ...
                    if r1 > 0x10: b = 2             # block end: branch
                    else: b = 1
                    continue
    ...

Registers are local variables, masks are inlined, immediates are literals, loads and stores are an inlined page
lookup plus bounds check. A block entered only by falling through from the one before it is emitted right after
that block (no dispatch, no if-tree entry), so a parser's chain of bounds checks reads as one straight run of code.
A block that branches back to itself becomes an inner `while True` loop. bpf-to-bpf calls
are recursive calls of `run` (callee-saved r6-r9 are simply the caller's locals), helpers are called directly with
`m.pc` set for their error messages. Instruction counts are exact: each block adds its length on entry, and the
paths that leave a block early (tail call, LD_ABS out of bounds) subtract what did not run. The budget is checked
only at function entries and loop heads, for the longest way to the next check; a frame that might run out before
then goes on in the interpreter (RESUME), so the budget error names the same instruction in both engines. Stack
accesses at constant offsets from an r10 the program never writes index the frame's bytearray directly.
"""
from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pyebpf._gc import collector_paused
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.uapi import BPF_MAX_LOOPS
from pyebpf.abi.opcodes import (
    CLASS_MASK, MAX_BPF_STACK, MAX_CALL_FRAMES, MODE_MASK, OP_CALL, OP_CALLX, OP_EXIT, OP_JA, OP_JA32, OP_LD_IMM64,
    OP_MASK,
    OP_MAY_GOTO, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc, InsnClass, JmpOp, Mode, PseudoSrc,
    Source,
)
from pyebpf.abi.widths import s32
from pyebpf.errors import PyebpfError, VmError
from pyebpf.vm import alu
from pyebpf.vm.alu import B31, B63, M32, M64
from pyebpf.vm.interp import insn_text
from pyebpf.vm.memory import PACK, UNPACK, Region
from pyebpf.vm.ops import atomic, call_helper, ld_abs, mem_fault
from pyebpf.vm.runtime import ProgramExit, TailCallSignal

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.isa.instruction import Instruction
    from pyebpf.isa.program import Program
    from pyebpf.vm.runtime import Machine

_ZERO_STACK = bytes(MAX_BPF_STACK)
#: What `g` (the region of the last load or store) holds before the first access: a region containing no address,
#: so the first access looks its region up. Later accesses check the last region first and look up only on a miss.
_NOWHERE = Region(0, bytearray(), "nowhere", False, "none")
#: Names of the generated code's namespace that become default arguments of `run` (locals are the fastest names).
_LOCAL_NAMES = ("PG", "U1", "U2", "U4", "U8", "P1", "P2", "P4", "P8", "FAULT", "RESUME", "ERR", "ATOMIC", "CALLH",
                "bswap16", "bswap32", "bswap64", "sdiv64", "smod64", "sdiv32", "smod32")
_JUMP_CLASSES = frozenset((int(InsnClass.JMP), int(InsnClass.JMP32)))
_ALU_CLASSES = frozenset((int(InsnClass.ALU), int(InsnClass.ALU64)))
_MEM_CLASSES = frozenset((int(InsnClass.LDX), int(InsnClass.ST), int(InsnClass.STX)))
# Plain ints for the classification done once per instruction (an enum member costs a class-attribute lookup).
_ALU64, _JMP, _LDX, _ST, _STX, _LD = (int(c) for c in (InsnClass.ALU64, InsnClass.JMP, InsnClass.LDX, InsnClass.ST,
                                                      InsnClass.STX, InsnClass.LD))
_MEM, _MEMSX, _ATOMIC, _ABS, _IND = (int(m) for m in (Mode.MEM, Mode.MEMSX, Mode.ATOMIC, Mode.ABS, Mode.IND))
_END, _MOV, _SHIFTS = int(AluOp.END), int(AluOp.MOV), frozenset(int(o) for o in (AluOp.LSH, AluOp.RSH, AluOp.ARSH))
_OFF_OPS = frozenset(int(o) for o in (AluOp.DIV, AluOp.MOD, AluOp.MOV))  # ops whose off selects a variant
_SRC_X, _CALL_OP, _EXIT_OP = int(Source.X), int(JmpOp.CALL), int(JmpOp.EXIT)
_PSEUDO_CALL, _HELPER_CALL = int(CallSrc.PSEUDO_CALL), int(CallSrc.HELPER)
_PSEUDO_IMM, _PSEUDO_FUNC = int(PseudoSrc.IMM), int(PseudoSrc.FUNC)
_SIZE_OF = {int(size): nbytes for size, nbytes in SIZE_BYTES.items()}  # opcode & SIZE_MASK -> bytes
_GOTOS = (OP_JA, OP_JA32)
_MASKS = (("M64", hex(M64)), ("M32", hex(M32)), ("B63", hex(B63)), ("B31", hex(B31)))


def _literal_masks(code: str) -> str:
    """Masks as literals: a constant load instead of a global lookup. (No name or message of the generated code
    contains these words, and hex literals are lower case.)"""
    for name, literal in _MASKS:
        code = code.replace(name, literal)
    return code


class _Code:
    """What compiling one program produced, shared by every machine that runs the same instructions."""

    __slots__ = ("source", "module", "insns", "block_of", "checkpoints", "helper_ids", "sx", "size")

    def __init__(self, source: str, module: Any, insns: dict[int, "Instruction"], block_of: dict[int, int],
                 checkpoints: set[int], helper_ids: frozenset[int], sx: dict[str, str]):
        self.source, self.module, self.insns, self.block_of = source, module, insns, block_of
        self.checkpoints, self.helper_ids, self.sx = checkpoints, helper_ids, sx
        self.size = len(insns)


#: Compiled programs by (instructions, strict alignment, available helpers), least recently used first; bounded
#: by the instructions they hold (a generated function costs a few hundred bytes per instruction).
_CODE_CACHE: "OrderedDict[tuple, _Code]" = OrderedDict()
_CODE_CACHE_INSNS = 200_000
_cached_insns = 0


def _remember(key: tuple, code: _Code) -> None:
    global _cached_insns
    _CODE_CACHE[key] = code
    _cached_insns += code.size
    while _cached_insns > _CODE_CACHE_INSNS and len(_CODE_CACHE) > 1:
        _cached_insns -= _CODE_CACHE.popitem(last=False)[1].size


def clear_code_cache() -> None:
    """Forget every compiled program (benchmarks measuring compilation itself; memory)."""
    global _cached_insns
    _CODE_CACHE.clear()
    _cached_insns = 0


@lru_cache(maxsize=None)
def _sign_extender(tmpl: str) -> Any:
    """The function a sign-extending load's template stands for (a handful exist; built once each)."""
    return eval("lambda v: " + tmpl, dict(alu.NAMESPACE))  # noqa: S307 - our own template


class _Block:
    __slots__ = ("id", "start", "slots", "insns", "jump", "falls")

    def __init__(self, bid: int, start: int):
        self.id = bid
        self.start = start
        self.slots: list[int] = []
        self.insns: list["Instruction"] = []
        self.jump: int | None = None  # the block a branch ending this one goes to (-1: not a block start)
        self.falls = False  # whether it may fall through into the next block


def _resume(slot: int, done: str) -> str:
    """The call handing the frame to the interpreter at `slot` after `done` instructions (see _budget_checks)."""
    return f"RESUME({slot}, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, mg, {done}, budget, depth)"


def _writes_r10(insn: "Instruction") -> bool:
    """Whether `insn` assigns r10 (the kernel's verifier refuses it; the VM runs it): ALU results, loads, lddw into
    r10, or an atomic fetch whose source register is r10."""
    opcode = insn[0]
    cls = opcode & CLASS_MASK
    if cls in _ALU_CLASSES or cls == _LDX or opcode == OP_LD_IMM64:
        return insn[1] == 10
    return cls == _STX and opcode & MODE_MASK == _ATOMIC and insn[2] == 10


class Compiler:
    """Engine: translate the program to Python source once, then `run` calls the generated function."""

    name = "compiled"

    def __init__(self, program: "Program", m: "Machine", may_goto_budget: int = BPF_MAX_LOOPS):
        self.program = program
        self.m = m
        self.may_goto_budget = may_goto_budget
        # The generated code depends on the instructions, the alignment rule and which helpers exist, nothing else
        # of the machine: a program compiled before (another VM, the conformance suite's fresh VM per program) only
        # binds the cached code to this machine's namespace.
        key = (tuple(program.instructions), m.mem.strict_alignment, frozenset(m.helpers))
        code = _CODE_CACHE.get(key)
        if code is None:
            source = collector_paused(self._translate)  # many small acyclic objects: no collections meanwhile
            code = _Code(source, compile(source, "<pyebpf-compiled>", "exec"), self.insns, self.block_of,
                         self.checkpoints, frozenset(self._helper_ids), dict(self._sx))
            _remember(key, code)
        else:
            _CODE_CACHE.move_to_end(key)
        self.code = code
        self.source, self.insns, self.block_of, self.checkpoints = code.source, code.insns, code.block_of, \
            code.checkpoints
        ns = self._namespace()
        exec(code.module, ns)  # noqa: S102 - our own generated code: defines `run`
        self._fn = ns["run"]

    def _translate(self) -> str:
        """The program's Python source (sets what _Code keeps beside it)."""
        self.insns = self.program.slot_map()
        self.nslots = self.program.slot_count
        #: r10 keeps the frame's top for the whole run: stack accesses at constant offsets use the frame directly
        self.fixed_fp = not any(_writes_r10(insn) for insn in self.insns.values())
        self.little_endian = self.m.stack_views is not None
        self.blocks, self.block_of = self._split()
        return self._generate()

    # ---- basic blocks -------------------------------------------------------------------------------------------
    def _split(self) -> tuple[list[_Block], dict[int, int]]:
        """Basic blocks, each with its branch target block and whether it falls through, and the function entries
        (bpf-to-bpf call and `lddw func` targets) in self.entries: one pass over the instructions."""
        leaders = {0}
        ends: dict[int, int | None] = {}  # slot of a block-ending instruction -> its branch target slot (or None)
        entry_slots: set[int] = set()
        jump_classes = _JUMP_CLASSES
        for slot, insn in self.insns.items():
            opcode = insn[0]
            if opcode & CLASS_MASK in jump_classes:  # (Instruction.is_branch / is_exit / is_pseudo_call inline)
                op = opcode & OP_MASK
                if op == _EXIT_OP:
                    if opcode == OP_EXIT:
                        ends[slot] = None
                        leaders.add(slot + 1)
                elif op != _CALL_OP:
                    tgt = ends[slot] = slot + 1 + (insn[4] if opcode == OP_JA32 else insn[3])  # (insn.target)
                    leaders.add(tgt)
                    leaders.add(slot + 1)
                elif opcode == OP_CALL and insn[2] == _PSEUDO_CALL:
                    entry_slots.add(insn.target(slot))
            elif opcode == OP_LD_IMM64 and insn[2] == _PSEUDO_FUNC:
                entry_slots.add(slot + 1 + alu_s32(insn.imm_lo))
        leaders |= entry_slots
        blocks: list[_Block] = []
        block_of: dict[int, int] = {}
        current: _Block | None = None
        insns = self.insns
        for slot in sorted(insns):
            if current is None or slot in leaders:
                if current is not None:
                    current.falls = True
                current = _Block(len(blocks), slot)
                blocks.append(current)
                block_of[slot] = current.id
            current.slots.append(slot)
            current.insns.append(insns[slot])
            if slot in ends:
                current.falls = ends[slot] is not None and insns[slot][0] not in _GOTOS
                current.jump = ends[slot]  # a slot for now
                current = None
        if current is not None:
            current.falls = True
        # A synthetic block after the end: falling into it is an error.
        end = _Block(len(blocks), self.nslots)
        blocks.append(end)
        block_of[self.nslots] = end.id
        for block in blocks:
            if block.jump is not None:
                block.jump = block_of.get(block.jump, -1) if block.jump != self.nslots else -1
        self.entries = {0} | {block_of.get(s, -1) for s in entry_slots}
        return blocks, block_of

    # ---- code generation ----------------------------------------------------------------------------------------
    def _namespace(self) -> dict[str, Any]:
        m = self.m
        ns: dict[str, Any] = dict(alu.NAMESPACE)
        ns.update(
            m=m, PID=id(self.program), PG=m.mem.pages.get, TOPS=m.frame_tops, STACKS=m.stacks, LV=m.lddw_values,
            ZERO=_ZERO_STACK,
            U1=UNPACK[1], U2=UNPACK[2], U4=UNPACK[4], U8=UNPACK[8], P1=PACK[1], P2=PACK[2], P4=PACK[4], P8=PACK[8],
            FAULT=self._fault, RESUME=self._resume, ERR=self._error, RAISE=self._raise, ATOMIC=atomic, LDABS=ld_abs,
            CALLH=call_helper, ProgramExit=ProgramExit, TailCallSignal=TailCallSignal, VmError=VmError,
            MAXF=MAX_CALL_FRAMES, MG=self.may_goto_budget, NOWHERE=_NOWHERE,
        )
        if "VIEWS[" in self.code.source:
            ns["VIEWS"] = m.stack_views
        for h in self.code.helper_ids:
            ns[f"H{h}"] = m.helpers[h]
        for key, tmpl in self.code.sx.items():
            ns[key] = _sign_extender(tmpl)
        return ns

    def _fault(self, slot: int, addr: int, size: int, write: bool) -> VmError:
        e = mem_fault(self.m.mem, addr & M64, size, write)
        return VmError(e.message, slot, insn_text(self.insns[slot]), e.address)

    _interp: Any = None

    def _resume(self, slot: int, *frame: int) -> tuple[int, int]:
        """The rest of a frame in the interpreter: (r0..r10, may_goto left, done, budget, depth) from `slot`."""
        if self._interp is None:
            from pyebpf.vm.interp import Interpreter

            self._interp = Interpreter(self.program, self.m, self.may_goto_budget)
        *regs, mg, done, budget, depth = frame
        return self._interp.resume(self.m, slot, tuple(regs), mg, done, budget, depth)

    def _error(self, slot: int, message: str) -> VmError:
        return VmError(message, slot, insn_text(self.insns[slot]) if slot in self.insns else "")

    def _raise(self, slot: int, message: str) -> int:
        raise self._error(slot, message)

    def _generate(self) -> str:
        self._memo: dict["Instruction", list[str]] = {}
        self._helper_ids: set[int] = set()
        self._sx: dict[str, str] = {}
        self.inline = self._inlinable()
        self.if_then = self._if_then()
        self.inline |= set(self.if_then.values())
        self.checkpoints, self.reach, self.beyond = self._budget_checks()
        self.dispatch = [b.id for b in self.blocks if b.id not in self.inline]
        body: list[str] = []
        self._tree(body, 0, len(self.dispatch), 2)
        text = _literal_masks("\n".join(body))
        used = sorted(name for name in _LOCAL_NAMES if name + "(" in text)
        extra = "".join(f", {name}={name}" for name in used)  # default arguments: LOAD_FAST instead of globals
        out = [f"def run(entry, a1, a2, a3, a4, a5, depth, budget{extra}):",
               "    r0 = 0; r1 = a1; r2 = a2; r3 = a3; r4 = a4; r5 = a5; r6 = r7 = r8 = r9 = 0",
               "    r10 = TOPS[depth]; n = 0; mg = MG; b = entry; g = NOWHERE; S = STACKS[depth].data"]
        if "S2[" in text or "S4[" in text or "S8[" in text:
            out.append("    S2, S4, S8 = VIEWS[depth]")
        out.append("    while True:")
        return "\n".join(out) + "\n" + text + "\n"

    def _budget_checks(self) -> tuple[set[int], list[int], list[int]]:
        """Where the generated code checks the instruction budget: at function entries and at targets of backward
        jumps (every loop passes one), each check covering the longest way forward to the next check or exit
        (`reach`, in instructions, from the block's start; `beyond`, from its end). Other blocks only count. A
        frame that may run out of budget before its next check goes on in the interpreter, which names the very
        instruction that exhausts it."""
        checkpoints = set(self.entries)
        checkpoints.update(b.jump for b in self.blocks if b.jump is not None and 0 <= b.jump <= b.id)
        reach = [0] * len(self.blocks)
        beyond = [0] * len(self.blocks)
        for block in reversed(self.blocks):
            bid = block.id
            nexts = [bid + 1] if block.falls else []
            if block.jump is not None:
                nexts.append(block.jump)
            beyond[bid] = max((reach[b] for b in nexts if b > bid and b not in checkpoints), default=0)
            reach[bid] = len(block.insns) + beyond[bid]
        return checkpoints, reach, beyond

    def _if_then(self) -> dict[int, int]:
        """Blocks A -> join block C of the pattern `if cond goto C; B; C:` (B entered only from A, falling into C;
        C entered only from A and B): A's code becomes `if not cond: B` followed by C's, no dispatch at all."""
        into: dict[int, int] = {}
        for b in self.blocks:
            if b.jump is not None:
                into[b.jump] = into.get(b.jump, 0) + 1
        out: dict[int, int] = {}
        blocks = self.blocks
        for a in blocks:
            c = a.jump
            if c is None or not a.falls or c != a.id + 2 or a.id + 1 not in self.inline or c in self.entries or \
                    into.get(c) != 1 or a.insns[-1].opcode == OP_MAY_GOTO:
                continue
            b = blocks[a.id + 1]
            if b.insns and b.jump is None and b.falls and not b.insns[-1].is_exit and blocks[c].insns:
                out[a.id] = c
        return out

    def _inlinable(self) -> set[int]:
        """Blocks entered only by falling through from the block before them: their code follows that block's
        directly (no dispatch), and they need no entry in the if-tree."""
        jumped = self.entries | {b.jump for b in self.blocks if b.jump is not None}
        return {b.id + 1 for b in self.blocks if b.falls and b.id + 1 not in jumped}

    def _tree(self, out: list[str], lo: int, hi: int, level: int) -> None:
        pad = "    " * level
        if hi - lo == 1:
            for line in self._chain(self.blocks[self.dispatch[lo]]):
                out.append(pad + line)
            return
        mid = (lo + hi) // 2
        out.append(f"{pad}if b < {self.dispatch[mid]}:")
        self._tree(out, lo, mid, level + 1)
        out.append(f"{pad}else:")
        self._tree(out, mid, hi, level + 1)

    def _chain(self, block: _Block) -> list[str]:
        """The code of `block` followed by the blocks inlined after it, ending in a dispatch, return or raise."""
        lines: list[str] = []
        while True:
            code, fall = self._block(block)
            lines += code
            if fall is None:
                return lines
            if fall in self.inline:
                block = self.blocks[fall]
                continue
            return lines + [f"b = {fall}", "continue"]

    def _block(self, block: _Block) -> tuple[list[str], int | None]:
        """(code of one block, the block it falls through to or None when it never falls through)."""
        if not block.insns:
            return [f"raise ERR({block.start}, 'fell off the end of the program (no exit)')"], None
        count = len(block.insns)
        body = [f"n += {count}"]
        if block.id in self.checkpoints:
            body.insert(0, f"if n + {self.reach[block.id]} > budget: return {_resume(block.start, 'n')}")
        self._beyond = self.beyond[block.id]
        for i, (slot, insn) in enumerate(zip(block.slots, block.insns)):
            body.extend(self._insn(slot, insn, count - i - 1))
        last_slot, last = block.slots[-1], block.insns[-1]
        opcode = last[0]
        if opcode == OP_EXIT:
            return body, None
        fall = self._block_id(last_slot + (2 if opcode == OP_LD_IMM64 else 1), jump=False)
        # (Instruction.is_branch inline: a jump other than call and exit)
        is_branch = opcode & CLASS_MASK in _JUMP_CLASSES and opcode & OP_MASK not in (_CALL_OP, _EXIT_OP)
        if isinstance(fall, str) and not (is_branch and opcode in _GOTOS):
            fall_code = [f"raise ERR({last_slot}, {fall!r})"]
        else:
            fall_code = []
        if not is_branch:
            return (body + fall_code, None) if fall_code else (body, fall)
        tgt_slot = last_slot + 1 + (last[4] if opcode == OP_JA32 else last[3])  # (Instruction.target)
        tgt = self._block_id(tgt_slot)
        if isinstance(tgt, str):  # invalid target: fault only when taken
            taken = [f"raise ERR({last_slot}, {tgt!r})"]
        else:
            taken = [f"b = {tgt}", "continue"]
        if opcode in _GOTOS:
            if tgt == block.id:
                return ["while True:"] + ["    " + x for x in body], None
            return body + taken, None
        if opcode == OP_MAY_GOTO:
            body.append("if mg <= 0:")
            body.extend("    " + x for x in taken)
            body.append("mg -= 1")
            return (body + fall_code, None) if fall_code else (body, fall)
        cond = self._cond(last)
        if tgt == block.id and not fall_code:
            return ["while True:"] + ["    " + x for x in body] + [f"    if not {cond}: break"], fall
        join = self.if_then.get(block.id)
        if join is not None:  # `if not cond:` the block in between, then the join block (see _if_then)
            between, _ = self._block(self.blocks[block.id + 1])  # (it falls into the join block)
            body.append(f"if not {cond}:")
            body.extend("    " + x for x in between)
            return body, join
        body.append(f"if {cond}:")
        body.extend("    " + x for x in taken)
        return (body + fall_code, None) if fall_code else (body, fall)

    def _block_id(self, slot: int, jump: bool = True) -> "int | str":
        """Block starting at `slot`, or the error text when a jump there is invalid (the synthetic end block is
        only reachable by falling through, as in the interpreter)."""
        bid = self.block_of.get(slot)
        if bid is None or (jump and slot == self.nslots):
            where = "not an instruction start" if 0 <= slot < self.nslots else "outside the program"
            return f"jump to slot {slot}, which is {where}"
        return bid

    def _cond(self, insn: "Instruction") -> str:
        opcode = insn[0]
        is64 = opcode & CLASS_MASK == _JMP
        tmpl = (alu.JMP64 if is64 else alu.JMP32).get(opcode & OP_MASK)
        if tmpl is None:
            raise VmError(f"invalid jump operation {opcode:#04x}")
        d = f"r{insn[1]}" if is64 else f"r{insn[1]} & M32"  # (no parentheses needed: see alu.JMP32)
        if opcode & SOURCE_MASK == _SRC_X:
            s = f"r{insn[2]}" if is64 else f"r{insn[2]} & M32"
        else:
            imm = insn[4] & (M64 if is64 else M32)
            sign = "{S} ^ B63" if is64 else "{S} ^ B31"
            if sign in tmpl:  # signed comparison with a constant: its flipped sign bit folded into the literal
                tmpl = tmpl.replace(sign, hex(imm ^ (B63 if is64 else B31)))
            s = hex(imm)
        return alu.render(tmpl, d, s)

    def _insn(self, slot: int, insn: "Instruction", after: int) -> list[str]:
        """Python lines for one non-terminating instruction (`after` = instructions after it in the block), the
        same lines again for an instruction seen before in this program whose code names no slot (ALU, a 64-bit
        constant, a stack access at a fixed frame offset)."""
        lines = self._memo.get(insn)
        if lines is not None:
            return lines
        lines = self._insn_lines(slot, insn, after)
        cls = insn[0] & CLASS_MASK
        if (cls in _ALU_CLASSES and "RAISE(" not in lines[0]) or \
                (cls in _MEM_CLASSES and insn[0] & MODE_MASK == _MEM and len(lines) == 1) or \
                (insn[0] == OP_LD_IMM64 and insn[2] == _PSEUDO_IMM):
            self._memo[insn] = lines
        return lines

    def _insn_lines(self, slot: int, insn: "Instruction", after: int) -> list[str]:
        opcode = insn[0]
        cls = opcode & CLASS_MASK
        if cls in _ALU_CLASSES:
            return [f"r{insn[1]} = {self._alu(slot, insn)}"]
        if cls in _JUMP_CLASSES and opcode & OP_MASK != _CALL_OP:  # a branch (its block's end) or exit
            return ["return r0, n"] if opcode == OP_EXIT else []
        d, s = f"r{insn[1]}", f"r{insn[2]}"
        if opcode == OP_CALLX:
            reg = insn.dst if insn.dst else insn.imm
            return [f"r0 = CALLH(m, r{reg}, {slot}, r1, r2, r3, r4, r5)",
                    f"if m.pending_tail is not None: raise TailCallSignal(n - {after})"]
        if opcode & OP_MASK == JmpOp.CALL and cls == InsnClass.JMP:
            if insn.src == CallSrc.PSEUDO_CALL:
                tgt = self._block_id(insn.target(slot))
                if isinstance(tgt, str):
                    return [f"raise ERR({slot}, {tgt!r})"]
                return [f"if depth + 1 >= MAXF: raise ERR({slot}, 'call stack too deep: more than {MAX_CALL_FRAMES} "
                        f"frames')",
                        "STACKS[depth + 1].data[:] = ZERO",
                        "m.depth = depth + 1",
                        f"r0, k = run({tgt}, r1, r2, r3, r4, r5, depth + 1, budget - n + {after})",
                        "m.depth = depth",
                        "n += k",  # (n counted this whole block already: the callee's count may break the check)
                        f"if n + {self._beyond} > budget: return {_resume(slot + 1, f'n - {after}')}"]
            if insn.src == CallSrc.HELPER:
                h = insn.imm
                if h not in self.m.helpers:
                    return [f"r0 = CALLH(m, {h}, {slot}, r1, r2, r3, r4, r5)"]
                self._helper_ids.add(h)
                lines = [f"m.pc = {slot}", f"r0 = H{h}(m, r1, r2, r3, r4, r5) & M64"]
                if h == HelperId.TAIL_CALL:
                    lines += ["if m.pending_tail is not None:",
                              f"    if depth == 0: raise TailCallSignal(n - {after})",
                              "    r0, k = m.tail_call_in_frame()",  # from a subprogram: replaces this frame
                              f"    return r0, n - {after} + k"]
                return lines
            return [f"raise ERR({slot}, 'kfunc calls need the kernel; the VM cannot run them')"]
        if opcode == OP_LD_IMM64:
            if insn.src == PseudoSrc.IMM:
                return [f"{d} = {hex(insn.imm & M64)}"]
            return [f"{d} = LV[PID, {slot}]"]
        mode = opcode & MODE_MASK
        size = _SIZE_OF[opcode & SIZE_MASK]
        strict = f" or a & {size - 1}" if self.m.mem.strict_alignment and size > 1 else ""
        if cls == _LDX and (mode == _MEM or mode == _MEMSX):
            return self._load(slot, d, s, insn[3], size, mode == _MEMSX, strict)
        if cls == _ST and mode == _MEM:
            return self._store(slot, d, hex(insn[4] & ((1 << (8 * size)) - 1)), insn[3], size, strict)
        if cls == _STX and mode == _MEM:
            value = s if size == 8 else f"{s} & {hex((1 << (8 * size)) - 1)}"
            return self._store(slot, d, value, insn[3], size, strict)
        if cls == _STX and mode == _ATOMIC:
            return self._atomic(slot, insn, size, strict)
        if cls == _LD and (mode == _ABS or mode == _IND):
            offset = f"{s} + {insn.imm}" if mode == _IND else str(insn.imm)
            return [f"m.pc = {slot}", f"v = LDABS(m, {offset}, {size})",
                    f"if v is None: raise ProgramExit(0, n - {after})", "r0 = v"]
        return [f"raise ERR({slot}, 'unknown opcode {opcode:#04x}')"]

    def _alu(self, slot: int, insn: "Instruction") -> str:
        opcode, dst, src, off, imm = insn[0], insn[1], insn[2], insn[3], insn[4]
        op = opcode & OP_MASK
        is64 = opcode & CLASS_MASK == _ALU64
        d = f"r{dst}"
        if op == _END:
            tmpl = alu.END.get((is64, opcode & SOURCE_MASK, imm))
            if tmpl is None:
                return f"RAISE({slot}, 'invalid byte swap width {imm}')"
            return alu.render(tmpl, d, "")
        x = opcode & SOURCE_MASK == _SRC_X
        variant = off if op in _OFF_OPS and (x or op != _MOV) else 0
        tmpl = alu.alu_template(is64, op, variant)
        if tmpl is None:
            return f"RAISE({slot}, 'invalid ALU operation {opcode:#04x} off {off}')"
        if x:
            s = f"r{src}" if is64 or op in alu.SRC_LOW32_ONLY else f"(r{src} & M32)"
        else:
            value = alu.imm_operand(is64, imm)
            s = hex(value)
            if op in _SHIFTS:  # fold the masked shift count
                width = 63 if is64 else 31
                tmpl = tmpl.replace(f"({{S}} & {width})", str(value & width))
        return tmpl.replace("{D}", d).replace("{S}", s)  # (alu.render inline)

    def _addr(self, base: str, off: int) -> str:
        return base if off == 0 else f"{base} + {off}" if off > 0 else f"{base} - {-off}"

    def _frame_offset(self, base: str, off: int, size: int, strict: str) -> int | None:
        """The byte index in the frame's bytearray of an access at r10 + off, when r10 is fixed and the access lies
        inside the frame (and is aligned, under strict alignment: r10 is); None otherwise (the checked path then
        faults as it should)."""
        at = MAX_BPF_STACK + off
        if base != "r10" or not self.fixed_fp or at < 0 or at + size > MAX_BPF_STACK or (strict and off % size):
            return None
        return at

    def _frame_word(self, size: int, at: int) -> str | None:
        """`S[at]`, or an element of the frame's u16/u32/u64 view for an aligned access (Machine.stack_views;
        None on a big-endian host or unaligned: the struct call)."""
        if size == 1:
            return f"S[{at}]"
        if at % size or not self.little_endian:
            return None
        return f"S{size}[{at // size}]"

    def _load(self, slot: int, d: str, s: str, off: int, size: int, signed: bool, strict: str) -> list[str]:
        value = f"U{size}(g.data, a - g.base)[0]"
        at = self._frame_offset(s, off, size, strict)
        if at is not None:
            value = self._frame_word(size, at) or f"U{size}(S, {at})[0]"
        if signed:
            key = f"SX{size}"
            self._sx[key] = alu.SIGN_EXTEND_LOAD[size].replace("{V}", "v")
            value = f"{key}({value})"
        if at is not None:
            return [f"{d} = {value}"]
        return [f"a = {self._addr(s, off)}",
                f"if a < g.base or a + {size} > g.end{strict}:",  # not in the region of the last access
                "    g = PG(a >> 16)",
                f"    if g is None or a < g.base or a + {size} > g.end{strict}: raise FAULT({slot}, a, {size}, False)",
                f"{d} = {value}"]

    def _store(self, slot: int, d: str, value: str, off: int, size: int, strict: str) -> list[str]:
        at = self._frame_offset(d, off, size, strict)
        if at is not None:
            word = self._frame_word(size, at)
            return [f"{word} = {value}" if word else f"P{size}(S, {at}, {value})"]
        return [f"a = {self._addr(d, off)}",
                f"if a < g.base or a + {size} > g.end or not g.writable{strict}:",
                "    g = PG(a >> 16)",
                f"    if g is None or a < g.base or a + {size} > g.end or not g.writable{strict}: "
                f"raise FAULT({slot}, a, {size}, True)",
                f"P{size}(g.data, a - g.base, {value})"]

    def _atomic(self, slot: int, insn: "Instruction", size: int, strict: str) -> list[str]:
        d, s, aop = f"r{insn.dst}", f"r{insn.src}", insn.imm
        if aop == AtomicOp.LOAD_ACQ:
            return self._load(slot, d, s, insn.off, size, False, strict)
        if aop == AtomicOp.STORE_REL:
            value = s if size == 8 else f"{s} & {hex((1 << (8 * size)) - 1)}"
            return self._store(slot, d, value, insn.off, size, strict)
        if size not in (4, 8):
            return [f"raise ERR({slot}, 'invalid atomic operand size')"]
        mask = "M32" if size == 4 else "M64"
        addr = f"({self._addr(d, insn.off)}) & M64"
        call = f"ATOMIC(m.mem, {addr}, {size}, {aop}, "
        wrap = [f"m.pc = {slot}"]
        if aop == AtomicOp.CMPXCHG:
            return wrap + [f"r0 = {call}{s}, r0)"]
        if aop & 1:
            return wrap + [f"{s} = {call}{s} & {mask})"]
        return wrap + [f"{call}{s} & {mask})"]

    # ---- running ------------------------------------------------------------------------------------------------
    def direct(self) -> tuple[Any, int] | None:
        """(generated function, entry block of slot 0): fn(entry, r1..r5, depth, budget) -> (r0, insns), for
        callers that handle its exceptions themselves (Machine.direct)."""
        return self._fn, self.block_of[0]

    def run(self, m: "Machine", entry: int, args: tuple, budget: int, depth: int = 0) -> tuple[int, int]:
        bid = self.block_of.get(entry)
        if bid is None:
            raise VmError(f"slot {entry} does not start a basic block (not a function entry)", pc=entry)
        if bid not in self.checkpoints:  # (a callback given as a plain slot number): no budget check there
            return self._resume(entry, 0, *args, 0, 0, 0, 0, m.frame_tops[depth], self.may_goto_budget, 0, budget,
                                depth)
        m._running = self.program
        try:
            return self._fn(bid, *args, depth, budget)
        except ProgramExit as e:
            if depth == 0:
                m.depth = 0
                return e.r0, e.count
            raise
        except VmError as e:
            if e.pc is None or not e.insn_text:
                pc = e.pc if e.pc is not None else m.pc
                raise VmError(e.message, pc, insn_text(self.insns[pc]) if pc in self.insns else "",
                              e.address) from None
            raise
        except (PyebpfError, TailCallSignal):
            raise
        except Exception as e:  # noqa: BLE001 - a helper bug must still name the instruction, not crash the CLI
            pc = m.pc
            raise VmError(f"fault: {type(e).__name__}: {e}", pc,
                          insn_text(self.insns[pc]) if pc in self.insns else "") from e


class Tiered:
    """Engine "auto": the interpreter (cheap to build) until the program proves hot, then the compiler.

    Compiling costs about ten microseconds per instruction (compile() itself most of it), which a program run a few
    times never earns back; the interpreter is built for about a third of that (benchmarks/compare.py prints both).
    A program is hot after HOT_RUNS runs, or once it has executed HOT_INSNS_PER_SLOT instructions per instruction
    slot (a loop); it is compiled between two runs, and every run after that is the compiled engine's. The two engines give the same results, so only the speed changes."""

    name = "auto"
    HOT_RUNS = 64
    HOT_INSNS_PER_SLOT = 256

    def __init__(self, program: "Program", m: "Machine", may_goto_budget: int = BPF_MAX_LOOPS):
        from pyebpf.vm.interp import Interpreter

        self.program, self.may_goto_budget = program, may_goto_budget
        self.interp = Interpreter(program, m, may_goto_budget)
        self.compiled: Compiler | None = None
        self.runs = self.executed = 0
        self.hot_insns = self.HOT_INSNS_PER_SLOT * max(1, program.slot_count)

    def run(self, m: "Machine", entry: int, args: tuple, budget: int, depth: int = 0) -> tuple[int, int]:
        compiled = self.compiled
        if compiled is not None:
            return compiled.run(m, entry, args, budget, depth)
        if depth == 0 and entry == 0 and m.depth == 0:  # a run of its own (not a call into it): may tier up here
            self.runs += 1
            if self.runs > self.HOT_RUNS or self.executed >= self.hot_insns:
                compiled = self.compiled = Compiler(self.program, m, self.may_goto_budget)
                return compiled.run(m, entry, args, budget, depth)
        r0, n = self.interp.run(m, entry, args, budget, depth)
        self.executed += n
        return r0, n

    def direct(self) -> tuple[Any, int] | None:
        return self.compiled.direct() if self.compiled is not None else None


alu_s32 = s32  # the generated code's name for (s32)


__all__ = ["Compiler", "Tiered", "clear_code_cache"]
