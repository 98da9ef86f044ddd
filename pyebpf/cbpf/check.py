"""The kernel's checks on classic programs: `bpf_check_classic` (net/core/filter.c), run by SO_ATTACH_FILTER and
seccomp, and seccomp's own `seccomp_check_filter` (kernel/seccomp.c), which also rewrites loads to read
`struct seccomp_data`.

The kernel answers only -EINVAL; VerifierError carries that errno and says which rule failed at which instruction.
The rules run in the kernel's order, so the first failure reported is the one the kernel stops at.
"""
from __future__ import annotations

import errno

from pyebpf.abi.cbpf import (
    BPF_MAXINSNS, BPF_MEMWORDS, C_CLASS_MASK, SECCOMP_DATA_SIZE, SKF_AD_OFF, CClass, CMode, CSize, CSrc, MiscOp,
    RetVal,
)
from pyebpf.abi.opcodes import AluOp, JmpOp
from pyebpf.cbpf.disasm import ancillary
from pyebpf.cbpf.insn import ClassicProgram, SockFilter
from pyebpf.errors import VerifierError

_U32 = 0xFFFFFFFF

_ALU_CODES = frozenset(CClass.ALU | op | src for op in (AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD,
                                                        AluOp.AND, AluOp.OR, AluOp.XOR, AluOp.LSH, AluOp.RSH)
                       for src in CSrc) | {CClass.ALU | AluOp.NEG}
_COND_JUMPS = frozenset(CClass.JMP | op | src for op in (JmpOp.JEQ, JmpOp.JGE, JmpOp.JGT, JmpOp.JSET) for src in CSrc)
_ABS_LOADS = frozenset(CClass.LD | size | CMode.ABS for size in CSize)
_MEM_CODES = frozenset({CClass.LD | CMode.MEM, CClass.LDX | CMode.MEM, CClass.ST, CClass.STX})

#: chk_code_allowed: the opcodes Linux accepts in a classic program
ALLOWED_CODES = _ALU_CODES | _COND_JUMPS | _ABS_LOADS | _MEM_CODES | frozenset({
    CClass.LD | CSize.W | CMode.LEN, *(CClass.LD | size | CMode.IND for size in CSize), CClass.LD | CMode.IMM,
    CClass.LDX | CSize.W | CMode.LEN, CClass.LDX | CSize.B | CMode.MSH, CClass.LDX | CMode.IMM,
    CClass.MISC | MiscOp.TAX, CClass.MISC | MiscOp.TXA, CClass.RET | RetVal.K, CClass.RET | RetVal.A,
    CClass.JMP | JmpOp.JA,
})

#: seccomp_check_filter's explicit list (no MOD, no packet loads, no MSH); LD W ABS / LEN are rewritten
SECCOMP_ALLOWED = frozenset({
    CClass.RET | RetVal.K, CClass.RET | RetVal.A,
    *(CClass.ALU | op | src for op in (AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.AND, AluOp.OR, AluOp.XOR,
                                       AluOp.LSH, AluOp.RSH) for src in CSrc),
    CClass.ALU | AluOp.NEG, CClass.LD | CMode.IMM, CClass.LDX | CMode.IMM, CClass.MISC | MiscOp.TAX,
    CClass.MISC | MiscOp.TXA, CClass.LD | CMode.MEM, CClass.LDX | CMode.MEM, CClass.ST, CClass.STX,
    CClass.JMP | JmpOp.JA, *_COND_JUMPS,
})
#: the code seccomp rewrites `ld [k]` into: A = *(u32 *)(seccomp_data + k)
SECCOMP_LD_CODE = CClass.LDX | CSize.W | CMode.ABS


def _reject(pc: int | None, message: str) -> VerifierError:
    return VerifierError(message, insn=pc, errno=errno.EINVAL)


def _as_program(prog: ClassicProgram | list) -> ClassicProgram:
    return prog if isinstance(prog, ClassicProgram) else ClassicProgram(prog)


def check_basics(prog: ClassicProgram) -> None:
    """bpf_check_basics_ok: 1..BPF_MAXINSNS instructions."""
    if not 0 < len(prog) <= BPF_MAXINSNS:
        raise _reject(None, f"a classic program has 1..{BPF_MAXINSNS} instructions, not {len(prog)}")


def check_classic(prog: ClassicProgram | list) -> ClassicProgram:
    """bpf_check_classic: the program as given if Linux would accept it, else VerifierError (EINVAL)."""
    prog = _as_program(prog)
    check_basics(prog)
    flen = len(prog)
    for pc, f in enumerate(prog):
        if f.code not in ALLOWED_CODES:
            raise _reject(pc, f"code {f.code:#06x} is not a classic instruction Linux accepts")
        if f.code in (CClass.ALU | AluOp.DIV | CSrc.K, CClass.ALU | AluOp.MOD | CSrc.K) and f.k == 0:
            raise _reject(pc, "division by constant zero")
        elif f.code in (CClass.ALU | AluOp.LSH | CSrc.K, CClass.ALU | AluOp.RSH | CSrc.K) and f.k >= 32:
            raise _reject(pc, f"shift by {f.k} (at most 31)")
        elif f.code in _MEM_CODES and f.k >= BPF_MEMWORDS:
            raise _reject(pc, f"scratch memory M[{f.k}] does not exist (M[0..{BPF_MEMWORDS - 1}])")
        elif f.code == CClass.JMP | JmpOp.JA and f.k >= flen - pc - 1:
            raise _reject(pc, f"ja skips {f.k} instructions, past the end")
        elif f.code in _COND_JUMPS and (pc + f.jt + 1 >= flen or pc + f.jf + 1 >= flen):
            raise _reject(pc, f"jump (jt {f.jt}, jf {f.jf}) lands past the end")
        elif f.code in _ABS_LOADS and f.k >= SKF_AD_OFF & _U32 and ancillary(f.k) is None:
            raise _reject(pc, f"unknown ancillary load at SKF_AD_OFF + {f.k - (SKF_AD_OFF & _U32)}")
    if prog[flen - 1].code not in (CClass.RET | RetVal.K, CClass.RET | RetVal.A):
        raise _reject(flen - 1, "the last instruction is not a ret")
    check_load_and_stores(prog)
    return prog


def check_load_and_stores(prog: ClassicProgram) -> None:
    """check_load_and_stores: every M[k] read is written first on every path (one valid-bit per cell, merged at
    jump targets; after a jump the fall-through state is unknown = all valid, as the kernel's walk assumes)."""
    flen = len(prog)
    all_valid = (1 << BPF_MEMWORDS) - 1
    masks = [all_valid] * flen
    memvalid = 0
    for pc, f in enumerate(prog):
        memvalid &= masks[pc]
        if f.code in (CClass.ST, CClass.STX):
            memvalid |= 1 << f.k
        elif f.code in (CClass.LD | CMode.MEM, CClass.LDX | CMode.MEM):
            if not memvalid & (1 << f.k):
                raise _reject(pc, f"M[{f.k}] is read before it is written on some path")
        elif f.code == CClass.JMP | JmpOp.JA:
            masks[pc + 1 + f.k] &= memvalid
            memvalid = all_valid
        elif f.code in _COND_JUMPS:
            masks[pc + 1 + f.jt] &= memvalid
            masks[pc + 1 + f.jf] &= memvalid
            memvalid = all_valid


def check_seccomp(prog: ClassicProgram | list) -> ClassicProgram:
    """bpf_check_classic then seccomp_check_filter: the program as seccomp runs it (`ld [k]` -> a seccomp_data
    word, `ld #len` -> the constant sizeof(struct seccomp_data)), or VerifierError (EINVAL)."""
    prog = check_classic(prog)
    out: list[SockFilter] = []
    for pc, f in enumerate(prog):
        if f.code == CClass.LD | CSize.W | CMode.ABS:
            if f.k >= SECCOMP_DATA_SIZE or f.k & 3:
                raise _reject(pc, f"ld [{f.k}] is not an aligned word of the {SECCOMP_DATA_SIZE}-byte seccomp_data")
            out.append(f._replace(code=SECCOMP_LD_CODE))
        elif f.code in (CClass.LD | CSize.W | CMode.LEN, CClass.LDX | CSize.W | CMode.LEN):
            out.append(f._replace(code=(f.code & C_CLASS_MASK) | CMode.IMM, k=SECCOMP_DATA_SIZE))
        elif f.code in SECCOMP_ALLOWED:
            out.append(f)
        else:
            raise _reject(pc, f"code {f.code:#06x} is not allowed in a seccomp filter")
    return ClassicProgram(out)


__all__ = ["ALLOWED_CODES", "SECCOMP_ALLOWED", "SECCOMP_LD_CODE", "check_basics", "check_classic",
           "check_load_and_stores", "check_seccomp"]
