"""Cross-checks of the LLVM dialect against LLVM itself (Debian's LLVM 14: llvm-mc, clang, llvm-objdump).

1. Every LLVM-dialect form of test_assembler's table that llvm-mc 14 can parse must encode to the same bytes.
   Forms LLVM 14 cannot parse (cpu v4, atomics its parser lacks) are listed explicitly, so a form that starts to
   parse is compared instead of silently skipped.
2. A C program compiled by clang (-mcpu=v3, both with and without alu32) is disassembled by llvm-objdump; the text
   of every instruction, assembled alone, must give exactly the bytes objdump shows next to it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyebpf.isa.assembler import assemble
from pyebpf.testing.plugin import require_or_skip

from test_assembler import LLVM_FORMS  # noqa: E402  (tests/isa is on sys.path: pytest rootdir-relative import)

#: Forms of LLVM_FORMS that LLVM 14's assembler parser rejects (newer ISA, or syntax only its printer knows).
LLVM14_CANNOT_PARSE = {
    "r1 %= 5",  # its lexer takes '%' for a register prefix
    "r1 s/= r2", "r1 s%= 3", "w1 s/= w2", "w1 s%= -3",
    "r0 = bswap16 r0", "r0 = bswap32 r0", "r0 = bswap64 r0",
    "r0 = (s8)r1", "r0 = (s16)r1", "r0 = (s32)r1", "w0 = (s8)w1", "w0 = (s16)w1",
    "r1 = addr_space_cast(r2, 0, 1)", "r1 = addr_space_cast(r2, 1, 0)",
    "r0 = *(s8 *)(r1 + 0)", "r0 = *(s16 *)(r1 + 2)", "r0 = *(s32 *)(r1 - 4)",
    "*(u64 *)(r10 - 8) = 42", "*(u8 *)(r1 + 3) = -1", "*(u16 *)(r1 + 0) = 7", "*(u32 *)(r1 + 0) = 7",
    "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)", "r2 = atomic_fetch_and((u64 *)(r1 + 8), r2)",
    "r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)", "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)",
    "w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)", "r2 = xchg_64(r1 + 0, r2)", "w2 = xchg32_32(r1 + 0, w2)",
    "r0 = cmpxchg_64(r1 + 0, r0, r2)", "w0 = cmpxchg32_32(r1 - 4, w0, w2)",
    "r0 = load_acquire((u64 *)(r1 + 0))", "w0 = load_acquire((u8 *)(r1 + 2))",
    "store_release((u64 *)(r1 + 0), r2)", "store_release((u16 *)(r1 + 0), w2)",
    "gotol +70000", "gotol -2", "may_goto +2",
    "if r1 & 0x10 goto +1", "if r1 & r2 goto +1", "if w1 & 1 goto +2",
    "call kfunc 123", "callx r2", "r0 = *(u8 *)skb[r3 + 14]", "ld_pseudo r1, 2, 3",
}
_ENCODING = re.compile(r"# encoding: \[([^\]]*)\]")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        require_or_skip(f"{name} is not installed")
    return path  # type: ignore[return-value]


def _llvm_mc_bytes(llvm_mc: str, lines: list[str]) -> list["bytes | None"]:
    """What llvm-mc encodes each line to, in one run: None where it rejects the line (it reports `<stdin>:N:`
    and carries on) or leaves a fixup (a symbol)."""
    r = subprocess.run([llvm_mc, "-triple", "bpfel", "-mattr=+alu32", "-show-encoding"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120)
    rejected = {int(m.group(1)) for m in re.finditer(r"<stdin>:(\d+):\d+: error", r.stderr)}
    encodings = iter(_ENCODING.findall(r.stdout))
    out: list[bytes | None] = []
    for number in range(1, len(lines) + 1):
        if number in rejected:
            out.append(None)
            continue
        enc = next(encodings)
        out.append(None if "'" in enc else bytes(int(b, 16) for b in enc.split(",")))
    assert next(encodings, None) is None
    return out


def test_llvm_mc_agrees_on_every_form_it_can_parse():
    llvm_mc = _tool("llvm-mc")
    compared = 0
    texts = [row[0] for row in LLVM_FORMS]
    for text, expected in zip(texts, _llvm_mc_bytes(llvm_mc, texts)):
        ours = assemble(text, "llvm").to_bytes()
        if expected is None:
            symbolic = text.startswith("call ") and not text[5:].strip().lstrip("-").isdigit()
            assert text in LLVM14_CANNOT_PARSE or symbolic, f"llvm-mc rejects {text!r}; list it or fix it"
            continue
        assert text not in LLVM14_CANNOT_PARSE, f"llvm-mc now parses {text!r}: drop it from the list"
        assert ours == expected, f"{text!r}: ours {ours.hex()} llvm-mc {expected.hex()}"
        compared += 1
    assert compared >= 70


C_SOURCE = r"""
typedef unsigned long long u64; typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8;
typedef long long s64; typedef int s32;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
__attribute__((noinline)) static int sub(int x) { return x * 3 + 1; }
__attribute__((section("xdp"), used))
int prog(u64 *ctx) {
    u64 a = ctx[0], b = ctx[1]; u32 c = (u32)ctx[2], d = (u32)ctx[3];
    s64 sa = (s64)ctx[4]; s32 sc = (s32)ctx[5];
    u8 *p = (u8 *)ctx[6];
    u64 r = 0;
    r += a + b; r ^= a - b; r |= a * b; r &= a / (b | 1); r += a % (b | 1);
    r += a << (b & 63); r += a >> (b & 63); r += (u64)(sa >> (b & 63));
    r += c + d; r += c * d; r += c / (d | 1); r += c % (d | 1); r += c << (d & 31); r += c >> (d & 31);
    r += (u32)(sc >> (d & 31)); r += -a; r += (u32)-c;
    r += a + 0x7fffffff; r += 0x1122334455667788ULL; r += c ^ 0xffff;
    r += p[1]; r += *(u16 *)(p + 2); r += *(u32 *)(p + 4); r += *(u64 *)(p + 8);
    p[16] = (u8)r; *(u16 *)(p + 18) = (u16)r; *(u32 *)(p + 20) = (u32)r; *(u64 *)(p + 24) = r;
    __sync_fetch_and_add((u64 *)(p + 32), a);
    __sync_fetch_and_add((u32 *)(p + 40), c);
    r += __sync_fetch_and_add((u64 *)(p + 32), b);
    r += __sync_fetch_and_or((u64 *)(p + 32), b);
    r += __sync_fetch_and_and((u64 *)(p + 32), b);
    r += __sync_fetch_and_xor((u64 *)(p + 32), b);
    r += __sync_fetch_and_add((u32 *)(p + 40), d);
    r += __sync_fetch_and_xor((u32 *)(p + 40), d);
    __sync_fetch_and_or((u64 *)(p + 32), a);
    __sync_fetch_and_and((u64 *)(p + 32), a);
    __sync_fetch_and_xor((u32 *)(p + 40), c);
    r += __sync_lock_test_and_set((u64 *)(p + 32), a);
    r += __sync_lock_test_and_set((u32 *)(p + 40), c);
    r += __sync_val_compare_and_swap((u64 *)(p + 32), a, b);
    r += __sync_val_compare_and_swap((u32 *)(p + 40), c, d);
    if (a > b) r += 1; if (a >= 7) r += 2; if (a < b) r += 3; if (a <= 9) r += 4;
    if (sa > (s64)b) r += 5; if (sa >= -3) r += 6; if (sa < 4) r += 7; if (sa <= (s64)b) r += 8;
    if (a == b) r += 9; if (a != 11) r += 10; if (a & 4) r += 11;
    if (c > d) r += 12; if (sc < -5) r += 13; if (c == 3) r += 14;
    r += bpf_ktime_get_ns();
    r += sub((int)r);
    return (int)r;
}
"""
_OBJDUMP_LINE = re.compile(r"^\s*\d+:\s+((?:[0-9a-f]{2}[ \t])+)\s*(.+)$")


@pytest.mark.parametrize("flags,objdump_flags", [
    (["-mcpu=v3"], []),
    (["-mcpu=v3", "-Xclang", "-target-feature", "-Xclang", "+alu32"], ["--mattr=+alu32"]),
])
def test_objdump_text_of_clang_output_reassembles_to_its_bytes(tmp_path: Path, flags, objdump_flags):
    clang, objdump = _tool("clang"), _tool("llvm-objdump")
    src, obj = tmp_path / "p.c", tmp_path / "p.o"
    src.write_text(C_SOURCE)
    subprocess.run([clang, "-O2", "-target", "bpf", *flags, "-c", str(src), "-o", str(obj)], check=True,
                   capture_output=True, timeout=120)
    out = subprocess.run([objdump, "-d", *objdump_flags, str(obj)], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    checked = 0
    kinds = set()
    for line in out.splitlines():
        m = _OBJDUMP_LINE.match(line)
        if m is None:
            continue
        raw = bytes.fromhex("".join(m.group(1).split()))
        text = m.group(2).strip()
        if raw[0] == 0x85 and raw[1] >> 4 == 1:
            continue  # bpf-to-bpf call: LLVM prints it as `call N`, the same text as a helper call
        if raw[0] == 0xC3 and raw[4] and not objdump_flags:
            continue  # LLVM 14 without alu32 prints every 32-bit atomic as `lock *(u32 *)(..) += rN`
        ours = assemble(text, "llvm").to_bytes()
        assert ours == raw, f"{text!r}: ours {ours.hex()} objdump {raw.hex()}"
        checked += 1
        kinds.add(raw[0])
    assert checked >= 150
    assert {0xDB, 0xC3, 0x18, 0x85, 0x95, 0xCF}.issubset(kinds), sorted(kinds)  # atomics, lddw, call, exit, arsh
