"""Fuzz surfaces and input generators, shared by the suite's hypothesis tests (tests/fuzz/test_*.py) and the
standing campaign (benchmarks/fuzz.py), so both feed the same entry points with the same kinds of input.

A surface is a function of one input that calls public entry points and either returns or raises. The contract
(issue 8): bad input gives a pyebpf typed error (PyebpfError), never another exception, in bounded time and with a
bounded message. `classify()` runs one input and names what happened.

Inputs are made by mutating valid seeds (programs printed by our own disassembler in each dialect, hand-written
directive / listing / verifier-log text, clang-compiled ELF objects) with `random.Random`: cheap enough for a
campaign of millions of inputs, and the hypothesis tests drive the same mutators from a drawn seed.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from pyebpf.abi.opcodes import AluOp, JmpOp, Size
from pyebpf.errors import PyebpfError
from pyebpf.isa import ops
from pyebpf.isa.assembler import assemble
from pyebpf.isa.disassembler import disassemble
from pyebpf.isa.instruction import Instruction, decode
from pyebpf.isa.program import Program

#: Longest mutated text / bytes: big enough for the quadratic cases of issue 8 (8000 labels on one line), small
#: enough that one input costs milliseconds.
MAX_TEXT = 64 * 1024
#: The longest error message a surface may produce (the quadratic case made 481 MB).
MAX_MESSAGE = 64 * 1024

# ---- seeds --------------------------------------------------------------------------------------------------------

_ALU = [op for op in AluOp if op not in (AluOp.NEG, AluOp.END)]
_JMP = [op for op in JmpOp if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND)]
_SIZES = list(Size)


def random_instruction(rng: random.Random) -> Instruction:
    """One well-formed instruction made by isa/ops (every constructor family)."""
    r = lambda: rng.randrange(11)  # noqa: E731
    imm = rng.choice([0, 1, -1, 42, 0x7FFFFFFF, -(1 << 31), rng.randrange(-(1 << 31), 1 << 31)])
    off = rng.choice([0, 1, -1, 8, -8, 0x7FFF, -0x8000, rng.randrange(-0x8000, 0x8000)])
    kind = rng.randrange(24)
    if kind < 4:
        make = rng.choice([ops.alu, ops.alu32])
        op = rng.choice(_ALU)
        signed = op in (AluOp.DIV, AluOp.MOD) and rng.random() < 0.3
        return make(op, r(), r(), signed=signed) if rng.random() < 0.5 else make(op, r(), imm=imm, signed=signed)
    if kind < 7:
        make = rng.choice([ops.jmp, ops.jmp32])
        return make(rng.choice(_JMP), r(), r(), off=off) if rng.random() < 0.5 else \
            make(rng.choice(_JMP), r(), imm=imm, off=off)
    choices: list[Callable[[], Instruction]] = [
        lambda: ops.mov(r(), imm=imm), lambda: ops.mov32(r(), r()), lambda: ops.neg(r()),
        lambda: ops.movsx(r(), r(), rng.choice([8, 16, 32])), lambda: ops.movsx32(r(), r(), rng.choice([8, 16])),
        lambda: ops.endian(r(), rng.choice([16, 32, 64]), rng.random() < 0.5),
        lambda: ops.bswap(r(), rng.choice([16, 32, 64])),
        lambda: ops.lddw(r(), rng.randrange(-(1 << 63), 1 << 63)),
        lambda: ops.ldx(rng.choice(_SIZES), r(), r(), off),
        lambda: ops.ldxsx(rng.choice([Size.B, Size.H, Size.W]), r(), r(), off),
        lambda: ops.st(rng.choice(_SIZES), r(), off, imm), lambda: ops.stx(rng.choice(_SIZES), r(), r(), off),
        lambda: ops.atomic(rng.choice(["add", "or", "and", "xor"]), rng.choice([Size.W, Size.DW]), r(), r(), off,
                           fetch=rng.random() < 0.5),
        lambda: ops.xchg(Size.DW, r(), r(), off), lambda: ops.cmpxchg(Size.W, r(), r(), off),
        lambda: ops.ld_abs(rng.choice([Size.B, Size.H, Size.W]), imm),
        lambda: ops.ld_ind(rng.choice([Size.B, Size.H, Size.W]), r(), imm),
        lambda: ops.ja(off), lambda: ops.gotol(imm), lambda: ops.may_goto(off),
        lambda: ops.call(rng.randrange(1, 200)), lambda: ops.call_local(rng.randrange(-50, 50)),
        lambda: ops.kfunc_call(rng.randrange(1, 1 << 20)), lambda: ops.exit(),
        lambda: ops.addr_space_cast(r(), r(), 1, 0), lambda: ops.load_acquire(Size.DW, r(), r(), off),
    ]
    return rng.choice(choices)()


def random_program(rng: random.Random, n: int | None = None) -> Program:
    n = n if n is not None else rng.randrange(1, 24)
    return Program([random_instruction(rng) for _ in range(n)] + [ops.exit()])


_HAND_WRITTEN = [
    # directives, maps, labels, calls by name, map references
    '.map counts hash key=4 value=8 max_entries=1024\n.type xdp\n.license "GPL"\n.name prog\n'
    "  r1 = map[counts] ll\n  r2 = r10\n  r2 += -4\n  call bpf_map_lookup_elem\n"
    "  if r0 == 0 goto out\n  r1 = *(u64 *)(r0 + 0)\nout:\n  r0 = 2\n  exit\n",
    ".section xdp\nmain:\n  call sub\n  exit\nsub:\n  r0 = 1 ll\n  exit\n",
    '.kfunc bpf_rcu_read_lock 12345\ncall bpf_rcu_read_lock\nr0 = 0\nexit\n',
    # a kernel verifier log excerpt (log_level 2)
    "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n"
    "1: (15) if r1 == 0x0 goto pc+1\n2: (07) r0 += 1\n3: (95) exit\nprocessed 4 insns (limit 1000000)\n",
    # llvm-objdump listing
    "prog.o:\tfile format elf64-bpf\n\nDisassembly of section xdp:\n\n0000000000000000 <main>:\n"
    "       0:\tb7 00 00 00 02 00 00 00\tr0 = 2\n       1:\t95 00 00 00 00 00 00 00\texit\n",
    # uBPF / conformance dialect
    "mov %r0, 1\nlddw %r1, 0x123456789\nldxw %r2, [%r1+4]\njeq %r2, 0, +1\nlock fetch add [%r10-8], %r1\n"
    "call local fn\nexit\nfn:\nmov32 %r0, 0\nexit\n",
    "lddw %r1, map[m]\nja32 +0\nmay_goto +0\nldabsw 4\nldindh %r2, 8\nmovsx1664 %r1, %r2\nexit\n",
]

#: Text fragments that reached crashes, quadratic paths or silent drops before (issue 8) and their relatives.
TOKENS = [
    "²", "٣", "\x00", "\t", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\ufeff", "é", "(000) ", "0: (b7) ", "(b7) ",
    "12: .1.3...... (bf) ", "#", "//", ";", ":", "a:", "sub: ", "exit", "9" * 30, "0x" + "f" * 20, "-", "+", "[",
    "]", "(", ")", "*", "%r", "r11", "w10", "R1", " ll", ".map m hash key=", '.license "\\x"', '"', "\\",
    "map[", "map_value[m] + ", "call ", "goto ", "gotol ", "pc", "if ", " == ", " s< ", "= ", "*(u64 *)",
    "(s16)", "lock ", "atomic64_fetch_add(", "xchg_64(", "skb[", "bswap16 ", "be64 ", ".section ", ".type ",
    ".kfunc ", ".name ", "processed 5 insns", "from 3 to 5: ", "R0_w=0", "func#0 @0", "Disassembly of section x:",
    "0000000000000000 <f>:", "       0:\t95 00 00 00 00 00 00 00\t", "R_BPF_64_64 m", "<", ">", "@", "$",
    "0b", "0o", "_", "1_000", "--5", "+-", "0x", "-0x80000000", "4294967296", "18446744073709551616",
    "ld_pseudo r1, 9, 1", "call kernel-function#", "call pc+", "callx ", "may_goto ", "store_release((u32 *)",
    "load_acquire((u8 *)", "addr_space_cast(", "&(void __percpu *)(",
]


def asm_seeds(rng: random.Random, dialect: str) -> list[str]:
    """Valid texts in `dialect` ("llvm", "kernel" or "ubpf"): printed programs plus the hand-written ones."""
    style = {"llvm": "llvm", "kernel": "kernel", "ubpf": "ubpf"}[dialect]
    seeds = list(_HAND_WRITTEN)
    for _ in range(40):
        program = random_program(rng)
        seeds.append(disassemble(program, style, symbolic=rng.random() < 0.5))
    return seeds


# ---- mutators ---------------------------------------------------------------------------------------------------

def mutate_text(rng: random.Random, text: str, seeds: list[str]) -> str:
    """1..6 random edits of `text`: inserted tokens and junk, deleted / repeated / spliced spans, huge numbers."""
    for _ in range(rng.randint(1, 6)):
        n = len(text)
        at = rng.randint(0, n)
        kind = rng.randrange(10)
        if kind < 3:
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        elif kind == 3 and n:
            end = min(n, at + rng.randint(1, 16))
            text = text[:at] + text[end:]
        elif kind == 4 and n:  # repeat a span many times: the quadratic paths of issue 8
            start = rng.randint(0, max(0, n - 1))
            span = text[start:start + rng.randint(1, 12)]
            times = rng.choices([2, 10, 100, 1000, 8000], weights=[60, 25, 10, 4, 1])[0]
            text = text[:at] + span * min(times, MAX_TEXT // max(1, len(span))) + text[at:]
        elif kind == 5:
            other = rng.choice(seeds)
            lines = other.splitlines(keepends=True)
            if lines:
                text = text[:at] + "".join(rng.sample(lines, min(len(lines), rng.randint(1, 4)))) + text[at:]
        elif kind == 6:
            digits = rng.choice([10, 20, 21, 40, 101, 5000])
            number = rng.choice(["", "-", "0x", "0b", "0o"]) + "".join(
                rng.choice("0123456789abcdef_") for _ in range(digits))
            text = text[:at] + number + text[at:]
        elif kind == 7:
            text = text[:at] + "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
                                       for _ in range(rng.randint(1, 8))) + text[at:]
        elif kind == 8:
            lines = text.splitlines(keepends=True)
            rng.shuffle(lines)
            text = "".join(lines)
        else:
            text = text[:at] + "\n" + text[at:]
    return text[:MAX_TEXT]


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """1..8 edits: bit flips, boundary bytes and words (0, 0xff.., 0x7f.., 0x80..), truncation, duplication."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        n = len(buf)
        kind = rng.randrange(8)
        at = rng.randrange(n) if n else 0
        if kind < 3 and n:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 3 and n:
            buf[at] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x01, rng.randrange(256)])
        elif kind == 4 and n >= 8:
            at = rng.randrange(0, n - 7) & ~3
            word = rng.choice([b"\xff" * 8, b"\x00" * 8, b"\xff" * 7 + b"\x7f", b"\x00" * 7 + b"\x80",
                               (1 << 31).to_bytes(8, "little"), rng.randbytes(8)])
            buf[at:at + 8] = word
        elif kind == 5 and n:
            del buf[rng.randrange(n):]
        elif kind == 6 and n:
            start = rng.randrange(n)
            buf[at:at] = buf[start:start + rng.randint(1, 64)]
        else:
            buf[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(buf[:4 * MAX_TEXT])


def insn_bytes(rng: random.Random) -> bytes:
    """Instruction bytes: random words, or a valid program's encoding mutated."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(8 * rng.randint(0, 16) + (rng.randrange(8) if rng.random() < 0.1 else 0))
    data = random_program(rng).to_bytes(rng.choice(["little", "big"]))
    return data if kind == 1 else mutate_bytes(rng, data)


# ---- surfaces ---------------------------------------------------------------------------------------------------

def surface_asm_llvm(text: str) -> None:
    """The LLVM / kernel dialect: explicitly, as the kernel's log spelling, and auto-detected."""
    for dialect in ("llvm", "kernel", None):
        _check_message(_typed(assemble, text, dialect))


def surface_asm_ubpf(text: str) -> None:
    _check_message(_typed(assemble, text, "ubpf"))


def surface_decoder(data: bytes) -> None:
    """decode (both byte orders; validated, and unvalidated as xlated dumps are read), Program.from_hex, and every
    disassembly style of what decodes (symbolic and objdump layout for validated programs)."""
    for byteorder in ("little", "big"):
        try:
            program = Program.from_bytes(data, byteorder)
        except PyebpfError:
            program = None
        if program is not None:
            for style in ("llvm", "kernel", "ubpf"):
                disassemble(program, style, symbolic=True)
            disassemble(program, "llvm", objdump=True)
    try:
        insns = decode(data, validate=False)
    except PyebpfError:
        insns = None
    if insns is not None:
        for style in ("llvm", "kernel", "ubpf"):
            disassemble(insns, style)
    try:
        Program.from_hex(data.decode("latin-1"))
    except PyebpfError:
        pass


def surface_elf(data: bytes) -> None:
    """An ELF object through the public entry points that read one without the kernel: the disassembler
    (`pyebpf disasm x.o`) and the loader's parser (ElfObject, which load() builds on)."""
    from pyebpf.isa.disasm_elf import disassemble_input
    from pyebpf.loader.elf import ElfObject

    try:
        disassemble_input(data, "<fuzz>", "llvm", None, objdump=True)
    except PyebpfError:
        pass
    try:
        ElfObject(data).close()
    except PyebpfError:
        pass


def _typed(fn: Callable[..., object], *args: object) -> "PyebpfError | None":
    try:
        fn(*args)
    except PyebpfError as e:
        return e
    return None


def _check_message(error: "PyebpfError | None") -> None:
    if error is not None and len(str(error)) > MAX_MESSAGE:
        raise MessageTooLong(f"{type(error).__name__} message of {len(str(error))} characters")


class MessageTooLong(Exception):
    """A typed error whose message grows with the input (issue 8: a 481 MB message): a failure of the contract."""


# ---- CLI --------------------------------------------------------------------------------------------------------

#: subcommand -> (argv before the input file, kinds of input it takes)
CLI_COMMANDS: dict[str, list[str]] = {
    "asm": ["asm"], "asm-ubpf": ["asm", "--dialect", "ubpf"], "asm-hex": ["asm", "--hex"],
    "disasm": ["disasm"], "disasm-kernel": ["disasm", "--style", "kernel", "--symbolic"],
    "run": ["run"], "verify": ["verify"], "load": ["load"],
}
#: Subcommands that take kernel object ids, not files: fuzzed through their arguments.
CLI_ID_COMMANDS = [["prog", "show"], ["prog", "dump", "--xlated"], ["prog", "dump", "--jited"], ["map", "dump"],
                   ["map", "show"]]


class CliCase:
    """One CLI input: argv (with FILE where the input file goes) and the file's bytes."""

    __slots__ = ("argv", "data", "suffix")

    def __init__(self, argv: list[str], data: bytes, suffix: str):
        self.argv, self.data, self.suffix = argv, data, suffix

    def __repr__(self) -> str:
        return f"CliCase({self.argv!r}, {self.data[:80]!r}..., {self.suffix!r})"


def cli_case(rng: random.Random, asm: list[str], elf: list[bytes]) -> CliCase:
    if rng.random() < 0.08:
        argv = list(rng.choice(CLI_ID_COMMANDS))
        argv.append(rng.choice(["1", "0", "-1", "999999999", "99999999999999999999", "x", "id", "name", "", "²",
                                "pinned", "/sys/fs/bpf/nope"]))
        if rng.random() < 0.5:
            argv.append(rng.choice(["1", "-1", "x", "--json", ""]))
        return CliCase(argv, b"", "")
    name = rng.choice(list(CLI_COMMANDS))
    kind = rng.randrange(4)
    if kind == 0 or not asm:
        data, suffix = insn_bytes(rng), rng.choice([".bin", ".hex", ""])
        if suffix == ".hex":
            sep = rng.choice([" ", "\n", None])
            hexed = data.hex() if sep is None else data.hex(sep)
            data = hexed.encode() if rng.random() < 0.7 else data
    elif kind == 1 and elf:
        data, suffix = mutate_bytes(rng, rng.choice(elf)), ".o"
    else:
        text = mutate_text(rng, rng.choice(asm), asm) if rng.random() < 0.8 else rng.choice(asm)
        data = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.05:
            data = data + bytes([rng.choice([0x80, 0xFF, 0xC0])]) + data
        suffix = ".s"
    return CliCase(list(CLI_COMMANDS[name]) + ["FILE"], data, suffix)


class CliRunner:
    """Runs subcommands in this process (parser built once) with stdout/stderr captured; a handler's exception that
    is not a PyebpfError escapes to the caller, as it would become a traceback in the real command."""

    def __init__(self, workdir: str):
        from pyebpf.cli import build_parser

        self.parser = build_parser()
        self.workdir = workdir

    def __call__(self, case: CliCase) -> None:
        path = os.path.join(self.workdir, "input" + case.suffix)
        with open(path, "wb") as f:
            f.write(case.data)
        argv = [path if a == "FILE" else a for a in case.argv]
        sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # with .buffer: `asm` writes bytes to stdout
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                args = self.parser.parse_args(argv)
            except SystemExit:
                return  # argparse's usage error: exit status 2 with a message, as designed
            try:
                args.func(args)
            except PyebpfError as e:
                _check_message(e)
            except BrokenPipeError:
                pass


# ---- ELF seeds --------------------------------------------------------------------------------------------------

_C_SOURCES = {
    "maps.c": """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); }
    counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
int global_counter = 3;
const volatile int threshold = 7;
static __u64 scratch[4];
static __noinline int helper(int x) { return x * threshold + scratch[x & 3]; }
SEC("xdp") int prog(struct xdp_md *ctx) {
    __u32 k = ctx->ingress_ifindex; __u64 *v = bpf_map_lookup_elem(&counts, &k);
    if (v) { __sync_fetch_and_add(v, 1); global_counter += helper((int)*v); }
    return XDP_PASS;
}
SEC("tracepoint/syscalls/sys_enter_openat") int tp(void *ctx) {
    __u64 *e = bpf_ringbuf_reserve(&events, 8, 0); if (!e) return 0; *e = bpf_ktime_get_ns();
    bpf_ringbuf_submit(e, 0); return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
    "socket.c": """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct bpf_map_def_legacy { unsigned int type, key_size, value_size, max_entries, map_flags; };
SEC("socket") int filter(struct __sk_buff *skb) { return skb->len > 64 ? 0 : -1; }
SEC("socket/second") int filter2(struct __sk_buff *skb) { int i, s = 0; for (i = 0; i < 8; i++) s += i; return s; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";
""",
}


def elf_seeds() -> list[bytes]:
    """Clang-compiled BPF objects (with BTF and relocations) to mutate; empty when clang is not installed."""
    clang = shutil.which("clang")
    if clang is None:
        return []
    out: list[bytes] = []
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("gcc") else "x86_64-linux-gnu"
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in _C_SOURCES.items():
            src = Path(tmp, name)
            src.write_text(source)
            obj = src.with_suffix(".o")
            for flags in (["-O2", "-g"], ["-O2"]):
                result = subprocess.run([clang, "-target", "bpf", *flags, f"-I/usr/include/{multiarch or 'x86_64-linux-gnu'}",
                                         "-c", str(src), "-o", str(obj)],
                                        capture_output=True, timeout=120)
                if result.returncode == 0:
                    out.append(obj.read_bytes())
    return out


# ---- classification ---------------------------------------------------------------------------------------------

def classify(fn: Callable[[object], None], value: object) -> str | None:
    """None when the surface held its contract on `value`, else the name of the exception class that escaped."""
    try:
        fn(value)
    except PyebpfError:
        return None  # a surface may let a typed error through: that is the contract
    except RecursionError:
        return "RecursionError"
    except MemoryError:
        return "MemoryError"
    except Exception as e:  # noqa: BLE001 - the point is to name any other class
        return type(e).__name__
    return None


__all__ = ["surface_asm_llvm", "surface_asm_ubpf", "surface_decoder", "surface_elf", "CliRunner", "cli_case",
           "asm_seeds", "elf_seeds", "mutate_text", "mutate_bytes", "insn_bytes", "random_program", "classify",
           "TOKENS", "MessageTooLong"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("import this module; run benchmarks/fuzz.py for a campaign")
