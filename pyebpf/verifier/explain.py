"""Explain a rejection in a learner's words: where, the path taken, why (provenance), the kernel rule, a fix.

Everything is drawn from what the verifier itself printed on the failing path (its level-1 log walks exactly the
path that failed, with the abstract state after each instruction) and from the program: no guessing from the
message alone. `explain(program, ...)` re-runs the verifier with the log on; `VerifierResult.explain()` calls it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyebpf.abi.opcodes import CLASS_MASK, OP_MASK, InsnClass, JmpOp
from pyebpf.verifier import encoding_why
from pyebpf.verifier.log import insn_str
from pyebpf.verifier.provenance import PathView, Step, operand_register

_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) (.*?)(?:\s+; (.*)|\s(\d+): ((?:R\d|fp-).*))?$")
_STATE_LINE = re.compile(r"^(?:from (\d+) to )?(\d+):(?: safe)?\s*((?:R\d|fp-).*)?$")
_REG_NAME = re.compile(r"^(R\d+|fp-\d+)(?:_[rwD]+)?=(.*)$", re.S)
_COND_JMP = frozenset(int(op) for op in JmpOp if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT))
_JUMPS = (int(InsnClass.JMP), int(InsnClass.JMP32))


@dataclass
class Rule:
    """A class of rejection: the kernel function that refuses it, the rule in one sentence, and fixes."""

    name: str
    pattern: str
    func: str
    rule: str
    fix_asm: str
    fix_c: str
    fix_py: str = ""


#: The rejection classes. Measured with benchmarks/verifier_messages.py over the kernel's verifier selftests (912
#: expected messages of linux-source-6.12's progs/verifier_*.c and verifier/*.c) and our case tables (564
#: rejections): 1476 messages, 349 distinct first lines; the top 60 are all classified, and 1237 of the 1476
#: messages (84%) (tests/explain/test_explain_tables.py keeps the top 40 covered).
CATALOGUE: list[Rule] = [
    Rule("null-deref", r"R(\d+) invalid mem access '(\w+_or_null)'", "check_mem_access",
         "a pointer that may be NULL cannot be dereferenced until a comparison with 0 proves it is not",
         "after the call add `if r{reg} == 0 goto <out>` (with r0 set to a return value at <out>)",
         "check the pointer first: `if (!p) return 0;`", "check the value first: `if v is None: return 0`"),
    Rule("scalar-deref", r"R(\d+) invalid mem access 'scalar'", "check_mem_access",
         "only pointers can be dereferenced; a number (scalar) is never a valid address",
         "load through a pointer register (r1 = ctx, r10 = stack, a map value), not a number",
         "use a pointer from the context, the stack or a map lookup; read kernel memory with bpf_probe_read_kernel"),
    Rule("uninit-reg", r"R(\d+) !read_ok", "check_reg_arg",
         "a register must be written before it is read (at entry only r1 = context and r10 = frame pointer are set)",
         "set r{reg} before this instruction (e.g. `r{reg} = 0`); remember calls clobber r1-r5",
         "initialise the variable before use; values do not survive a helper call in r1-r5"),
    Rule("stack-uninit", r"invalid read from stack R(\d+) off=(-?\d+) size=(\d+)|invalid read from stack off "
         r"(-?\d+)\+\d+ size (\d+)", "check_stack_read",
         "a stack slot must be written on every path before it is read",
         "store to the slot first: `*(u64 *)(r10 {off}) = 0`", "initialise the local: `__u64 v = 0;` or memset it"),
    Rule("stack-range", r"invalid (?:write to|read from|) ?stack R?(\d+)? ?off=?(-?\d+)",
         "check_stack_access_within_bounds", "the stack is the 512 bytes below r10: offsets -512..-1",
         "use an offset between -512 and -1 from r10", "make the local buffers smaller (512 bytes of stack in all)"),
    Rule("map-range", r"invalid access to map value, value_size=(\d+) off=(-?\d+) size=(\d+)",
         "check_map_access", "an access into a map value must lie within value_size for every possible offset",
         "bound the offset first: `if rX > <value_size - size> goto <out>`",
         "check the index against the value size before using it: `if (i >= N) return 0;`"),
    Rule("pkt-range", r"invalid access to packet(?:, off=(-?\d+) size=(\d+), R(\d+)\(id=\d+,off=-?\d+,r=(\d+)\))?",
         "check_packet_access",
         "packet bytes may be read only after comparing data + length with data_end",
         "`r3 = r2; r3 += <len>; if r3 > <data_end reg> goto <out>` before the load",
         "`if (data + sizeof(*eth) > data_end) return XDP_PASS;` before reading"),
    Rule("ret-uninit", r"R0 !read_ok", "check_reg_arg (exit)", "r0 is the return value and must be set before exit",
         "`r0 = 0` before `exit`", "return a value from every path"),
    Rule("too-large", r"BPF program is too large\. Processed (\d+) insn", "do_check",
         "the verifier walks every path and gives up after 1,000,000 instructions: a loop must end on every path "
         "with its counter provably bounded",
         "compare the counter with a constant bound, e.g. `if r0 > 100 goto out` inside the loop",
         "use a constant bound: `for (i = 0; i < 100 && i < n; i++)` or bpf_loop()"),
    Rule("back-edge", r"back-edge from insn (\d+) to (\d+)", "check_cfg",
         "loops are refused for programs loaded without CAP_BPF", "unroll the loop", "`#pragma unroll` a fixed-count loop"),
    Rule("unreachable", r"unreachable insn (\d+)", "check_cfg", "every instruction must be reachable from the entry",
         "remove the dead instruction or jump to it", "(clang does not emit this; check hand-written asm)"),
    Rule("fp-readonly", r"frame pointer is read only", "check_reg_arg", "r10 (the frame pointer) cannot be written",
         "copy it first: `r2 = r10; r2 += -8`", "(compiler-generated code never writes r10)"),
    Rule("div-zero", r"div by zero", "check_alu_op", "division by the constant 0 is refused",
         "divide by a non-zero constant or a register", "do not divide by a literal 0"),
    Rule("bad-shift", r"invalid shift (\d+)", "check_alu_op", "a shift amount must be less than the width (64 or 32)",
         "shift by less than 64 (32 for w registers)", "mask the shift count: `x << (n & 63)`"),
    Rule("pointer-arith", r"R(\d+) pointer arithmetic on (\w+) prohibited|R(\d+) (?:bitwise|32-bit) (?:operator|pointer)"
         r"|R(\d+) pointer arithmetic",
         "adjust_ptr_min_max_vals", "only + and - of scalars are allowed on pointers, and not on every pointer type",
         "do arithmetic on a copy of a scalar, not on the pointer", "do not cast the pointer to an integer and back"),
    Rule("helper-arg", r"R(\d+) type=(\S+) expected=(.*)", "check_func_arg",
         "each helper argument must have the type the helper's prototype asks for",
         "pass the expected kind of register (e.g. r1 = map[...] for a map argument, r2 = r10 + off for a key)",
         "pass the expected kind of value (a map, a pointer to a stack key, ...)"),
    Rule("unknown-helper", r"invalid func (\w+)#(\d+)|unknown func (\w+)#(\d+)|program of this type cannot use "
         r"helper (\w+)", "check_helper_call",
         "this program type may not call this helper", "call a helper allowed for this program type",
         "use a helper available to this program type (bpftool feature probe lists them)"),
    Rule("unreleased-ref", r"Unreleased reference(?: id=(\d+) alloc_insn=(\d+))?|would lead to reference leak",
         "check_reference_leak",
         "every acquired reference (socket, ringbuf record) must be released on every path",
         "call the matching release helper on every path before exit", "release on every path (bpf_sk_release, "
         "bpf_ringbuf_submit/discard)"),
    Rule("return-range", r"At program exit the register R0 has .*should have been in (.*)", "check_return_code",
         "this program type's return value must lie in a fixed range", "set r0 to an allowed value before exit",
         "return one of the values the program type allows"),
    Rule("pkt-outside", r"R(\d+) offset is outside of the packet", "check_packet_access",
         "a packet pointer may be read only within the range its last comparison with data_end proved",
         "compare `rX + <offset + size>` with data_end before this access, on this path",
         "check `if ((void *)(p + 1) > data_end) return ...;` for the bytes you read, after any pointer change"),
    Rule("misaligned-stack", r"misaligned stack access", "check_ptr_alignment",
         "a stack access must be aligned to its size (strict alignment for the stack)",
         "use an offset from r10 that is a multiple of the access size", "(use naturally aligned locals)"),
    Rule("no-exit", r"last insn is not an exit or jmp", "check_subprogs",
         "a (sub)program must end with exit or an unconditional jump", "end the program with `exit`",
         "(clang always ends functions with exit)"),
    Rule("jump-range", r"jump out of range from insn (\d+) to (-?\d+)", "check_subprogs",
         "a jump must land inside its own subprogram", "fix the jump offset or label", "(check hand-written asm)"),
    Rule("mem-range", r"R(\d+) (?:min|max) value is outside of the allowed memory range", "check_mem_region_access",
         "every offset the register may hold must stay within the memory region (map value, buffer)",
         "bound the index register with comparisons against 0 and the region size before adding it",
         "check the index: `if (i < 0 || i >= N) return 0;` before `p[i]`"),
    Rule("var-stack", r"variable stack access prohibited for !root|invalid variable-offset",
         "check_stack_access_within_bounds", "a stack access with a register offset is refused without CAP_BPF, "
         "and must stay in the frame with it", "use a constant offset from r10",
         "index stack arrays with constants, or use a map value as the buffer"),
    Rule("unpriv-call", r"(?:loading/calling other bpf or kernel|function calls to other bpf) functions are allowed "
         r"for CAP_BPF", "add_subprog_and_kfunc",
         "bpf-to-bpf calls and kfuncs need CAP_BPF", "inline the subprogram", "mark the function __always_inline"),
    Rule("atomic-ctx", r"BPF_ATOMIC stores into R(\d+) (\w+) is not allowed", "check_atomic",
         "atomic operations are allowed on stack and map values only", "do the atomic op on a map value",
         "use __sync_fetch_and_add on a map value, not on the context"),
    Rule("call-depth", r"the call stack of (\d+) frames is too deep|combined stack size of (\d+) calls",
         "check_max_stack_depth", "at most 8 frames and 512 bytes of stack over the deepest call chain",
         "flatten the call chain or use less stack per frame", "inline functions and shrink local buffers"),
    Rule("callback-ret", r"At callback return the register R0 has", "check_return_code",
         "a callback must return a value in the range its helper expects (usually 0 or 1)",
         "set r0 = 0 (continue) or 1 (stop) before the callback's exit", "return 0 or 1 from the callback"),
    Rule("ret-stack-ptr", r"cannot return stack pointer to the caller", "prepare_func_exit",
         "a subprogram's stack dies with it, so a pointer into it cannot be returned",
         "return a value, or write through a pointer the caller passed", "return by value or via an out-parameter"),
    Rule("infinite-loop", r"infinite loop detected at insn (\d+)", "is_state_visited",
         "a loop whose state repeats exactly never ends", "make the loop variable change each time round",
         "make sure the loop condition changes every iteration"),
    Rule("reserved-fields", r"(BPF_\w+) uses reserved fields", "do_check",
         "unused fields of an instruction encoding must be zero", "re-encode the instruction (pyebpf asm does it)",
         "(compiler bug or hand-made bytes)"),
    Rule("bad-call", r"call to invalid destination", "check_subprogs",
         "a bpf-to-bpf call must land on an instruction of the program", "fix the call target",
         "(check hand-written asm)"),
    Rule("ptr-compare", r"R(\d+) pointer comparison prohibited", "check_cond_jmp_op",
         "without CAP_BPF pointers may only be compared with packet pointers or NULL (no address leaks)",
         "compare scalars, not pointers", "do not compare pointers in unprivileged programs"),
    Rule("addr-leak", r"R(\d+) leaks addr into (\w+)", "check_mem_access",
         "without CAP_BPF a pointer may not be stored where user space can read it",
         "store a scalar instead of the pointer", "do not store pointers into maps or the context"),
    Rule("zero-size", r"R(\d+) invalid zero-sized read", "check_mem_size_reg",
         "a size argument that may be 0 must be allowed to be 0 by the helper; otherwise bound it to >= 1",
         "`if r{reg} == 0 goto <out>` (or `if r{reg} < 1`) before the call",
         "check the length first: `if (len < 1 || len > sizeof(buf)) return 0;`"),
    Rule("modified-ctx", r"dereference of modified ctx ptr R(\d+)", "check_ptr_off_reg",
         "the context pointer must be used unmodified: the offset goes into the load instruction",
         "load with `rX = *(u32 *)(r1 + off)` instead of adding off to r1 first",
         "read ctx fields directly, not through a pointer computed from ctx"),
    Rule("unbounded-math", r"math between (\w+) pointer and register with unbounded (min|max) value",
         "adjust_ptr_min_max_vals", "a register added to a pointer must have known bounds",
         "bound the register with comparisons (e.g. `if rX > 63 goto <out>`) before adding it",
         "check the index against the array size before `p + i`"),
    Rule("ctx-access", r"invalid bpf_context access (?:off=(\d+) size=(\d+))?", "check_ctx_access",
         "only the context fields this program type exposes, at their natural size, can be accessed",
         "read a documented field of the context at its size", "use the documented context struct fields"),
    Rule("bad-reg", r"R(\d+) is invalid", "check_reg_arg",
         "there are only registers r0-r10; an instruction naming another register number is refused",
         "use a register between r0 and r10", "(compiler bug or hand-made bytes)"),
    Rule("negative-index", r"R(\d+) min value is negative", "check_mem_size_reg / check_mem_region_access",
         "a size or index that may be negative (a signed value with no lower bound) cannot be used for memory",
         "bound it from below: `if r{reg} s< 0 goto <out>` (or mask it: `r{reg} &= <mask>`)",
         "use an unsigned type for sizes and indexes, or check `if (i < 0) return 0;`"),
    Rule("unbounded-size", r"R(\d+) unbounded memory access", "check_mem_size_reg / check_mem_region_access",
         "a size or index with no upper bound could reach any address",
         "bound it from above: `if r{reg} > <max> goto <out>` (or `r{reg} &= <mask>`)",
         "check it against the buffer size first: `if (len > sizeof(buf)) return 0;`"),
    Rule("map-readonly", r"write into map forbidden", "check_map_access_type",
         "this map is read-only for the program (BPF_F_RDONLY_PROG or a frozen .rodata)",
         "write to a writable map, or create the map without BPF_F_RDONLY_PROG",
         "write to a non-const global or a map the program may write"),
    Rule("ptr-from-scalar", r"R(\d+) tried to subtract pointer from scalar", "adjust_ptr_min_max_vals",
         "a scalar minus a pointer would turn an address into a number: only pointer - scalar is allowed",
         "subtract the scalar from the pointer (`rP -= rS`), not the pointer from the scalar",
         "compute `p - n`, never `n - p`"),
    Rule("mixed-pointers", r"same insn cannot be used with different pointers", "check_mem_access (save_aux_ptr_type)",
         "one load or store instruction must see the same kind of pointer on every path (the kernel rewrites it "
         "per pointer type)", "use a separate load instruction on each path",
         "do not merge pointers of different kinds (ctx vs stack) into one variable before dereferencing"),
    Rule("stack-indirect", r"invalid indirect (?:access to|read from) stack|invalid read from stack R(\d+) off (-?\d+)"
         r"\+(\d+) size (\d+)", "check_stack_range_initialized",
         "memory a helper reads from the stack must be initialised and inside the 512-byte frame",
         "write every byte of the buffer before passing it (`*(u64 *)(r10 {off}) = 0`)",
         "zero the buffer first: `char buf[16] = {};` or `__builtin_memset(&key, 0, sizeof(key));`"),
    Rule("bad-ldimm64", r"invalid bpf_ld_imm64 insn|jump into the middle of ldimm64", "check_ld_imm / check_cfg",
         "a 64-bit immediate load takes two slots; its second slot is not an instruction",
         "keep lddw whole and do not jump into its second slot", "(compiler bug or hand-made bytes)"),
    Rule("fill-size", r"invalid size of register fill", "check_stack_read_fixed_off",
         "a spilled pointer must be read back with the full 8 bytes it was spilled with",
         "read the slot as `*(u64 *)`", "(keep pointers in 8-byte variables)"),
    Rule("ctx-align", r"misaligned context access(?: off (\S+)\+(-?\d+)\+(-?\d+) size (\d+))?", "check_ptr_alignment",
         "context fields must be read at their natural alignment", "read the field at its own offset and size",
         "read whole context fields, not bytes at odd offsets"),
    Rule("ctx-negative", r"negative offset (\w+) ptr R(\d+) off=(-?\d+) disallowed", "check_ptr_off_reg",
         "a context pointer may not point before its start", "use the unmodified context pointer",
         "read ctx fields directly"),
    Rule("unknown-opcode", r"unknown opcode", "check_subprogs / bpf_opcode_in_insntable",
         "the instruction's opcode is not one the kernel knows", "use a valid BPF instruction",
         "(compiler bug or hand-made bytes)"),
    Rule("ptr-plus-ptr", r"R(\d+) pointer \+= pointer prohibited", "adjust_reg_min_max_vals",
         "two pointers cannot be added (the sum is not an address)", "add a scalar offset to one pointer",
         "compute `p + (q - base)` with a scalar offset"),
    Rule("ptr-math-const", r"math between (\w+) pointer and (-?\d+) is not allowed|pointer offset (-?\d+)(?: is not "
         r"allowed)?", "check_reg_sane_offset",
         "a constant added to a pointer must stay within +/-2^29", "use a smaller constant offset",
         "index with a value that stays inside the object"),
    Rule("pkt-readonly", r"cannot write into packet", "check_packet_access",
         "this program type may read packet data but not write it", "copy the bytes to the stack and change the copy",
         "use a helper (bpf_skb_store_bytes) or a program type that may write packets"),
    Rule("bad-map-fd", r"fd (-?\d+) is not pointing to valid bpf_map", "resolve_pseudo_ldimm64",
         "a map reference must name an existing map", "load the map first and refer to it by name",
         "declare the map in SEC(\".maps\")"),
    Rule("release-unref", r"R(\d+) must be referenced when passed to release function", "check_func_arg",
         "only a pointer the program acquired (and has not released) can be passed to a release helper",
         "pass the pointer the acquire helper returned, once", "release only what you acquired, exactly once"),
    Rule("kfunc-null", r"Possibly NULL pointer passed to trusted arg(\d+)", "check_kfunc_args",
         "a kfunc's trusted pointer argument must be proven non-NULL", "check the pointer against 0 before the call",
         "check the pointer first: `if (!p) return 0;`"),
    Rule("sock-access", r"R(\d+) invalid (sock|sock_common|tcp_sock|xdp_sock) access off=(-?\d+) size=(\d+)|invalid "
         r"sock access", "check_sock_access",
         "only the fields of this socket type can be read, at their size", "read a documented field",
         "read documented struct bpf_sock fields"),
]


@dataclass
class Explanation:
    """The five parts of an explanation (see the module docstring)."""

    message: str
    insn: int | None
    disasm: str = ""
    source: str = ""
    path: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    func: str = ""
    rule: str = ""
    fix: str = ""
    steps: list[Step] = field(default_factory=list)

    def text(self) -> str:
        out = [f"rejected: {self.message}"]
        where = f"insn {self.insn}: {self.disasm}" if self.insn is not None else "before any instruction ran"
        out.append(f"where: {where}" + (f"  ({self.source})" if self.source else ""))
        out.append("path: " + (" -> ".join(self.path) if self.path else "straight from the entry, no branch"))
        out.extend(f"why: {w}" for w in self.why)
        if self.func:
            out.append(f"rule: {self.func}: {self.rule}")
        if self.fix:
            out.append(f"fix: {self.fix}")
        return "\n".join(out) + "\n"

    __str__ = text


def parse_path(log: str) -> list[Step]:
    """The steps of a level-1 log (ours or the kernel's; the failing path) or of a level-2 log (every path, one
    after another): each instruction with the state printed after it, and the full state printed before it when
    a path resumes there (`from X to Y: ...`, `Y: ...`)."""
    steps: list[Step] = []
    pending: dict[str, str] = {}
    for line in log.splitlines():
        m = _INSN_LINE.match(line)
        if m:
            steps.append(Step(int(m.group(1)), m.group(2).strip(), _state(m.group(3) or m.group(5) or ""), pending))
            pending = {}
            continue
        m = _STATE_LINE.match(line)
        if m and m.group(3):
            if m.group(1) is None and steps and int(m.group(2)) == steps[-1].idx:
                steps[-1].state.update(_state(m.group(3)))
            else:
                pending = _state(m.group(3))
    return steps


def _state(text: str) -> dict[str, str]:
    """`R1=ctx() R6=map_value(...,var_off=(0x0; 0xf)) fp-8=mmmmmmmm` as a dict: items are split at spaces
    outside parentheses (values such as var_off=(0x0; 0xf) contain spaces)."""
    items, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == " " and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    out = {}
    for item in items:
        m = _REG_NAME.match(item)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def source_line(program: Any, slot: int) -> str:
    """'file:line: text' of the instruction at `slot`: the slot->line map a front end gives (the assembler's
    `source_lines`, a Python probe's lines), else BTF line_info (clang objects); '' when there is neither."""
    lines = getattr(program, "source_lines", None)
    if lines:
        best = max((s for s in lines if s <= slot and lines[s]), default=None)
        if best is not None:
            return str(lines[best])
    infos = [li for li in (program.line_info or []) if li[0] <= slot]
    if infos and program.btf is not None and hasattr(program.btf, "str_at"):
        li = max(infos, key=lambda r: r[0])
        try:
            file_name = program.btf.str_at(li[1]).rsplit("/", 1)[-1]
            text = program.btf.str_at(li[2]).strip()
        except Exception:  # noqa: BLE001 - a stripped string section: report the line number only
            file_name, text = "?", ""
        return f"{file_name}:{li[3] >> 10}: {text}"
    return ""


def _insn_at(program: Any, slot: int) -> Any:
    return program.slot_map().get(slot)


def branch_decisions(program: Any, steps: list[Step]) -> list[str]:
    """'insn 3 `if r0 > 10 goto +2`: taken' for each conditional jump on the path."""
    out = []
    for here, nxt in zip(steps, steps[1:]):
        insn = _insn_at(program, here.idx)
        if insn is None or insn.opcode & CLASS_MASK not in _JUMPS or insn.opcode & OP_MASK not in _COND_JMP:
            continue
        taken = nxt.idx != here.idx + 1
        out.append(f"insn {here.idx} `{here.text}`: {'taken' if taken else 'not taken'}")
    return compress_repeats(out)


def compress_repeats(items: list[str], longest: int = 4) -> list[str]:
    """A loop's decisions repeat: `A -> B -> A -> B -> A -> B` reads `(A -> B) x 3`. Runs of a block of up to
    `longest` items repeated back to back are folded, the shortest block first."""
    out: list[str] = []
    i = 0
    while i < len(items):
        for size in range(1, longest + 1):
            block = items[i:i + size]
            n = 1
            while items[i + n * size:i + (n + 1) * size] == block:
                n += 1
            if n > 1 and len(block) == size:
                body = " -> ".join(block)
                out.append(f"({body}) x {n}" if size > 1 else f"{body} x {n}")
                i += n * size
                break
        else:
            out.append(items[i])
            i += 1
    return out


def _writer(steps: list[Step], reg: str, before: int) -> Step | None:
    """The last step before position `before` that wrote register `reg` (as the instruction text shows)."""
    r = reg.lower()
    dst = re.compile(rf"^(?:{r}|w{r[1:]}) [^=]*=|^call ")
    for step in reversed(steps[:before]):
        if dst.match(step.text) and (reg in step.state or not step.text.startswith("call") or r == "r0"):
            if step.text.startswith("call") and r not in ("r0",) and int(r[1:]) > 5:
                continue
            return step
    return None


def _where(program: Any) -> Any:
    return lambda s: f"insn {s.idx}" + (f" ({source_line(program, s.idx)})" if source_line(program, s.idx) else "")


#: classes whose own sentence is followed by the generic register provenance
#: classes about the instruction's pointer operand, not the register the message names
_POINTER_OPERAND = frozenset({"ptr-from-scalar"})
_THEN_PROVENANCE = frozenset({"map-range", "return-range", "callback-ret", "mixed-pointers", "pkt-range",
                              "ptr-math-const", "pkt-readonly", "sock-access", "release-unref", "ctx-align"})


def _why(rule: Rule | None, m: re.Match | None, steps: list[Step], program: Any, message: str,
         insn: int | None, prog_type: Any = None, log: str = "") -> list[str]:
    """The special sentence of the class (if it has one), else (or then) where the register the rejection is
    about got its type and bounds on this path and which comparisons narrowed them."""
    special = (_special_why(rule, m, steps, program, message, prog_type, log, insn)
               if rule is not None and m is not None else [])
    if (special and (rule is None or rule.name not in _THEN_PROVENANCE)) or not steps or steps[-1].idx != insn:
        return special
    view = PathView(program, steps, _where(program))
    last = len(steps) - 1
    reg = operand_register(view.insn(last), "" if rule is not None and rule.name in _POINTER_OPERAND else message)
    if reg is None or reg == 10:
        return special
    chain = view.origin(reg, last)
    if not any(" narrowed " in line for line in chain):
        chain.append(f"no comparison on this path narrowed r{reg} or the registers it came from")
    return special + chain


def _type_name(prog_type: Any) -> str:
    return getattr(prog_type, "name", str(prog_type or "this type")).lower()


def _special_why(rule: Rule, m: re.Match, steps: list[Step], program: Any, message: str,
                 prog_type: Any = None, log: str = "", insn: int | None = None) -> list[str]:
    where = _where(program)
    encoding = _encoding_why(rule, m, program, insn)
    if encoding is not None:
        return encoding
    access = _access_why(rule, m, steps, program, prog_type)
    if access is not None:
        return access
    if rule.name == "null-deref":
        reg = f"R{m.group(1)}"
        w = _writer(steps, reg, len(steps) - 1)
        out = [f"{reg.lower()} is {m.group(2)}: it may be NULL"]
        if w is not None:
            out[0] = (f"{reg.lower()} is the result of `{w.text}` at {where(w)}; it may be NULL "
                      f"({w.state.get(reg, m.group(2))})")
        checks = [s for s in steps if re.match(rf"if {reg.lower()} [!=]= 0x?0 ", s.text)]
        out.append("no `if {0} == 0` check came before this access on this path".format(reg.lower()) if not checks
                   else f"the check at insn {checks[-1].idx} does not cover this path")
        return out
    if rule.name in ("uninit-reg", "ret-uninit"):
        reg = "r" + (m.group(1) if rule.name == "uninit-reg" else "0")
        calls = [s for s in steps if s.text.startswith("call")]
        if calls and int(reg[1:]) <= 5:
            return [f"{reg} was scratched by `{calls[-1].text}` at {where(calls[-1])}: calls leave r1-r5 unreadable"
                    + (" and r0 is their result" if reg == "r0" else "")]
        return [f"{reg} was never written on this path"]
    if rule.name == "stack-uninit":
        off = _stack_offset(m, steps)
        return [f"the stack slot fp{off} was never written on this path (reads of uninitialised stack are refused; "
                f"the offset itself is inside the 512-byte stack)"]
    if rule.name == "stack-range":
        return ["the access falls outside the 512-byte stack below r10 (this is a range error, not an "
                "uninitialised read)"]
    if rule.name == "too-large":
        backs = [(a.idx, b.idx) for a, b in zip(steps, steps[1:]) if b.idx <= a.idx]
        out = [f"the verifier processed {m.group(1)} instructions without finishing"]
        if backs:
            a, b = backs[-1]
            out.append(f"the back-edge insn {a} -> insn {b} is taken again and again")
            at_edge = [s for s in steps if s.idx == a][-2:]
            jm = re.match(r"if ([rw]\d+) \S+ ([rw]\d+|\S+) goto", at_edge[-1].text) if at_edge else None
            if jm and len(at_edge) == 2:
                regs = [r.replace("w", "r").upper() for r in jm.groups() if r[0] in "rw" and r[1:].isdigit()]
                moving = [r for r in regs if at_edge[0].state.get(r) != at_edge[1].state.get(r)]
                fixed = [r for r in regs if r not in moving]
                for r in moving:
                    out.append(f"{r.lower()} is the loop's counter: it changes every time round "
                               f"({at_edge[0].state.get(r)} then {at_edge[1].state.get(r)}), so the state at the "
                               f"back-edge is never equal to an earlier one and pruning cannot stop the walk")
                for r in fixed:
                    out.append(f"{r.lower()} = {at_edge[1].state.get(r)} is compared with it but never got a bound, "
                               f"so no iteration count makes the exit branch certain")
        return out
    if rule.name == "mixed-pointers":
        return ["an earlier path reached this instruction with another kind of pointer in its base register; on "
                "this path it is the one below"]
    if rule.name == "infinite-loop":
        cur = re.search(r"^cur state:\s*(.*)$", log, re.M)
        backs = [(a.idx, b.idx) for a, b in zip(steps, steps[1:]) if b.idx <= a.idx]
        out = [f"insn {m.group(1)} was reached again with exactly the state it had the last time round"
               + (f" ({cur.group(1).strip()})" if cur and cur.group(1).strip() else "")
               + ": nothing the loop does changes what decides whether it ends"]
        if backs:
            out.append(f"the back-edge is insn {backs[-1][0]} -> insn {backs[-1][1]}")
        return out
    if rule.name == "unreleased-ref":
        at = m.group(2) if m.lastindex and m.group(2) else None
        acq = [s for s in steps if s.text.startswith("call") and "ref_obj_id=" in s.state.get("R0", "")
               and (at is None or s.idx == int(at))]
        if acq:
            return [f"the reference was acquired by `{acq[-1].text}` at {where(acq[-1])} "
                    f"({acq[-1].state['R0']}) and this path reaches the exit without releasing it"]
        return []
    if rule.name == "ctx-access" and m.group(1) is not None:
        return [f"the context of {_type_name(prog_type)} programs has no field a program may read or write at "
                f"offset {m.group(1)} with size {m.group(2)}"]
    if rule.name == "unknown-helper":
        helper = next((g for g in m.groups() if g and not g.isdigit()), "this helper")
        return [f"{helper} is not among the helpers {_type_name(prog_type)} programs may call (the program "
                f"type's get_func_proto does not offer it)"]
    if rule.name == "map-range":
        return [f"the access at offset {m.group(2)} of size {m.group(3)} may go past value_size {m.group(1)}"]
    if rule.name == "return-range":
        return [f"r0 holds {m.group(0).split(' has ', 1)[1].split(' should', 1)[0]} at this exit, outside "
                f"{m.group(1)}"]
    if rule.name == "scalar-deref":
        reg = f"R{m.group(1)}"
        w = _writer(steps, reg, len(steps) - 1)
        if w is not None:
            return [f"{reg.lower()} became a number at `{w.text}` ({where(w)})"]
    return []


def _encoding_why(rule: Rule, m: re.Match, program: Any, insn: int | None) -> list[str] | None:
    """The classes about an instruction's encoding: the sentence comes from its fields (encoding_why)."""
    if rule.name == "reserved-fields":
        return encoding_why.reserved_fields(program, insn, m.group(1))
    if rule.name == "bad-reg":
        return encoding_why.bad_register(program, insn, int(m.group(1)))
    if rule.name == "unknown-opcode":
        return encoding_why.unknown_opcode(program, insn)
    if rule.name == "bad-call":
        return encoding_why.bad_call(program, insn)
    if rule.name == "bad-map-fd":
        return encoding_why.bad_map_fd(program, insn, int(m.group(1)))
    if rule.name == "bad-ldimm64":
        mm = re.search(r"jump into the middle of ldimm64 insn (\d+)", m.string)
        return encoding_why.jump_into_ldimm64(program, int(mm.group(1))) if mm else []
    return None


def _access_why(rule: Rule, m: re.Match, steps: list[Step], program: Any, prog_type: Any) -> list[str] | None:
    """The memory-access classes whose own numbers (offsets, sizes, the proven packet range) say what went wrong;
    those in _THEN_PROVENANCE are followed by where the register came from."""
    where = _where(program)
    if rule.name in ("pkt-outside", "pkt-range") and m.re.pattern == _rule("pkt-range").pattern and m.group(1):
        off, size, reg, rng = int(m.group(1)), int(m.group(2)), f"r{m.group(3)}", int(m.group(4))
        reads = f"this access reads bytes {off}..{off + size - 1} from {reg} (off={off} size={size})"
        if rng == 0:
            return [f"no comparison with data_end on this path proved any byte after {reg} readable (r=0); {reads}"]
        checks = [s for s in steps[:-1] if re.match(r"if [rw]\d+ [^ ]+ [rw]\d+ goto", s.text)
                  and any(v.startswith("pkt_end") for v in s.state.values())]
        by = f"the comparison `{checks[-1].text}` at {where(checks[-1])}" if checks else "the last comparison"
        return [f"{by} proved {rng} byte{'s' if rng != 1 else ''} after {reg} readable (r={rng}), but {reads}"]
    if rule.name == "stack-indirect" and m.group(1) is not None:
        start, bad, size = int(m.group(2)), int(m.group(3)), int(m.group(4))
        return [f"the helper reads {size} bytes from fp{start}, and the byte at fp{start + bad} (and maybe more) "
                f"was never written on this path; without CAP_PERFMON (allow_uninit_stack) every byte must be"]
    if rule.name == "ctx-align" and m.group(1) is not None:
        flags = getattr(program, "prog_flags", 0) or 0
        why = ("the program was loaded with BPF_F_STRICT_ALIGNMENT" if flags & 1 else
               "this architecture has no efficient unaligned access")
        off, size = int(m.group(2)) + int(m.group(3)), int(m.group(4))
        return [f"{why}, so a {size}-byte context access must start at a multiple of {size}; this one starts at "
                f"offset {off}"]
    if rule.name == "sock-access" and m.group(1) is not None:
        return [f"a {m.group(2)} pointer (struct bpf_sock as the kernel exposes it) has no field a program may read "
                f"at offset {m.group(3)} with size {m.group(4)}"]
    if rule.name == "pkt-readonly":
        return [f"{_type_name(prog_type)} programs may read packet bytes but not write them (the program type's "
                f"may_access_direct_pkt_data refuses BPF_WRITE)"]
    if rule.name == "ptr-math-const":
        return [f"the constant {m.group(2) or m.group(3)} is outside the +/-2^29 (BPF_MAX_VAR_OFF) a pointer's "
                f"offset may reach"]
    if rule.name == "release-unref":
        reg = f"R{m.group(1)}"
        last = next((s.state[reg] for s in reversed(steps[:-1]) if reg in s.state), "")
        if "ref_obj_id" not in last:
            return [f"{reg.lower()} ({last or 'this pointer'}) holds no reference this program acquired: it was "
                    f"not returned by an acquire helper (bpf_sk_lookup_*, bpf_ringbuf_reserve ...)"]
        return []
    return None


def _stack_offset(m: re.Match, steps: list[Step]) -> int:
    """The frame offset an 'invalid ... stack' message names (already the base register's fp offset plus the
    instruction's offset: `R2 off=-16` for r2 = fp-8 and an offset of -8)."""
    return int(m.group(4) if m.group(1) is None else m.group(2))


def stack_read_kind(message: str, steps: list[Step]) -> str | None:
    """'uninit' or 'range' for the kernel's 'invalid read from stack' message, which uses the same words for
    both: the offset decides (inside the 512-byte frame: the slot was never written)."""
    m = re.search(CATALOGUE[3].pattern, message)
    if m is None:
        return None
    off = _stack_offset(m, steps)
    size = int(m.group(3) if m.group(1) is not None else m.group(5))
    return "uninit" if -512 <= off and off + size <= 0 else "range"


def _rule(name: str) -> Rule:
    return next(r for r in CATALOGUE if r.name == name)


def _line_before(log: str, message: str) -> str:
    """The log line the kernel printed just before its last one (`message`): the range checks print the access
    they refused (`invalid access to map value, value_size=16 off=16 size=8`) and then the register's verdict."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    for i in range(len(lines) - 1, 0, -1):
        if lines[i].strip() == message.strip():
            return lines[i - 1]
    return ""


def refine(rule: Rule | None, m: re.Match | None, message: str, log: str) -> tuple[Rule | None, re.Match | None]:
    """The kernel's last line names the register (`R0 min value is outside of the allowed memory range`, `R2 offset
    is outside of the packet`); the line before it names the access. Read together they tell apart:
    - a fixed offset past a map value's end (map-range: the register's smallest value already overshoots) from
      a variable one whose largest value does (mem-range);
    - a packet read with no comparison against data_end on the path at all (pkt-range: the proven range r=0)
      from one past the range a comparison proved (pkt-outside)."""
    if rule is None:
        return rule, m
    before = _line_before(log, message)
    if rule.name == "mem-range" and " min value " in message:
        mm = re.search(_rule("map-range").pattern, before)
        if mm:
            return _rule("map-range"), mm
    if rule.name == "pkt-outside":
        mm = re.search(_rule("pkt-range").pattern, before)
        if mm and mm.group(4) is not None:
            return _rule("pkt-range" if mm.group(4) == "0" else "pkt-outside"), mm
    return rule, m


def classify(message: str) -> tuple[Rule | None, re.Match | None]:
    """The catalogue entry whose pattern matches the kernel's first line (None when it is not catalogued)."""
    for rule in CATALOGUE:
        m = re.search(rule.pattern, message)
        if m:
            return rule, m
    return None, None


def explain_log(program: Any, message: str, insn: int | None, log: str, language: str = "asm",
                prog_type: Any = None) -> Explanation:
    """Build the explanation of `message` at `insn` from a level-1 log of the failing path."""
    steps = parse_path(log)
    rule, m = refine(*classify(message), message, log)
    if rule is not None and rule.name == "uninit-reg" and message.startswith("R0 !read_ok"):
        rule = next(r for r in CATALOGUE if r.name == "ret-uninit")
    if rule is not None and rule.name == "stack-uninit" and stack_read_kind(message, steps) == "range":
        rule = next(r for r in CATALOGUE if r.name == "stack-range")
        m = re.search(rule.pattern, message)
    disasm = next((s.text for s in reversed(steps) if s.idx == insn), "")
    if not disasm and insn is not None:
        ins = _insn_at(program, insn)
        disasm = re.sub(r"^\([0-9a-f]{2}\) ", "", insn_str(ins)) if ins is not None else ""
    if "(null)" in disasm and insn is not None and _insn_at(program, insn) is not None:
        disasm = encoding_why.fields(_insn_at(program, insn))  # an opcode with no mnemonic: show its fields
    ex = Explanation(message, insn, disasm, source_line(program, insn) if insn is not None else "",
                     branch_decisions(program, steps), _why(rule, m, steps, program, message, insn, prog_type, log),
                     steps=steps)
    if rule is not None:
        ex.func, ex.rule = rule.func, rule.rule
        fix = {"c": rule.fix_c, "py": rule.fix_py or rule.fix_c}.get(language, rule.fix_asm)
        groups = [g for g in (m.groups() if m else ()) if g is not None]
        reg = groups[0] if groups and groups[0].isdigit() else "0"
        off = str(_stack_offset(m, steps)) if rule.name == "stack-uninit" and m else \
            next((g for g in groups if g.startswith("-")), "-8")
        ex.fix = fix.replace("{reg}", reg).replace("{off}", off)
    return ex


def explain(program: Any, prog_type: Any = None, privileged: bool = True, language: str | None = None,
            source: dict[int, str] | None = None, **kw: Any) -> Explanation | None:
    """Verify `program` with the level-1 log on and explain the rejection (None when it is accepted).
    `source` maps slots to 'file:line: text' for front ends the program does not record (Python probes)."""
    from pyebpf.verifier.api import verify

    if source is not None:
        program = program.replace_instructions(program.instructions)
        program.source_lines = source  # type: ignore[attr-defined]
    result = verify(program, prog_type=prog_type, privileged=privileged, log_level=1, raise_on_reject=False, **kw)
    if result.accepted:
        return None
    e = result.error
    if language is None:
        language = "c" if program.line_info else "asm"
    return explain_log(program, e.message, e.insn, e.log or "", language,
                       prog_type or program.prog_type or "socket_filter")


__all__ = ["explain", "explain_log", "parse_path", "classify", "CATALOGUE", "Explanation", "Rule", "Step"]
