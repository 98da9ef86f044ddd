"""Classic BPF to eBPF as the kernel's `bpf_convert_filter` (net/core/filter.c) does it, so the result runs in our
VM, passes our verifier and loads with BPF_PROG_LOAD.

Register mapping (include/linux/filter.h): A = r0, X = r7, the context in r6 (BPF_REG_CTX), a scratch register r2
(BPF_REG_TMP), scratch memory M[k] at r10 - (4k + 4). The prologue zeroes A and X and saves the context; jumps are
converted the kernel's way: `jf == 0` -> one Jxx; `jt == 0` -> the inverted Jxx (JEQ->JNE, JGT->JLE, JGE->JLT);
otherwise Jxx + JA; a negative k goes through mov32 tmp, k. DIV/MOD by X return 0 when X is 0; RET K is mov32 +
exit. The prologue zeroes A and X with mov32 r, 0 where the kernel writes xor32 r, r (the verifier would refuse
reading the uninitialised register; the kernel's converted programs never meet the verifier).

Where the kernel's output uses its private `struct sk_buff` (which neither BPF_PROG_LOAD nor our VM accept), this
converter writes the equivalent that a socket filter may contain (the forms kernels before 4.17 emitted):
- packet loads stay BPF_LD_ABS / BPF_LD_IND (the kernel inlines them into skb->data reads + bpf_skb_load_helper_*;
  the verifier rewrites LD_ABS into those same helpers, with the same "out of bounds returns 0" rule);
- `ld #len` and the ancillary loads read the matching `struct __sk_buff` field (protocol/vlan_proto byte-swapped
  as the kernel's ntohs); #cpu and #rand call bpf_get_smp_processor_id / bpf_get_prandom_u32; xor_x is A ^= X.
- #hatype, #nla, #nlan and #poff have no __sk_buff field or helper: they raise VerifierError (EOPNOTSUPP).
- #ifidx reads __sk_buff.ifindex (0 without a device), where the kernel ends the program when skb->dev is NULL
  (never the case for a received packet).
For seccomp (`check_seccomp` output) a word load reads `struct seccomp_data` at r6 + k.
"""
from __future__ import annotations

import errno
from typing import Literal

from pyebpf.abi.cbpf import C_RVAL_MASK, CClass, CMode, CSrc, MiscOp, RetVal, SkfAd
from pyebpf.abi.context import SK_BUFF
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.opcodes import AluOp, JmpOp, Reg, Size
from pyebpf.abi.prog_types import ProgType
from pyebpf.cbpf.check import SECCOMP_LD_CODE, check_classic, check_seccomp
from pyebpf.cbpf.disasm import ancillary
from pyebpf.cbpf.insn import ClassicProgram, SockFilter
from pyebpf.errors import VerifierError
from pyebpf.isa import ops
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program

REG_A = Reg.R0
REG_X = Reg.R7
REG_TMP = Reg.R2
REG_CTX = Reg.R6
REG_ARG1 = Reg.R1
REG_FP = Reg.R10
S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1

Target = Literal["socket", "seccomp"]


def _s32(k: int) -> int:
    k &= 0xFFFFFFFF
    return k - (1 << 32) if k & 0x80000000 else k


def _ldx_w(dst: int, base: int, off: int) -> Instruction:
    return ops.ldx(Size.W, dst, base, off)


def _skb(field: str) -> int:
    return SK_BUFF[field].offset


#: ancillary load -> its eBPF sequence (into A), from __sk_buff fields and helpers a socket filter may use
_ANCILLARY = {
    SkfAd.PROTOCOL: lambda: [_ldx_w(REG_A, REG_CTX, _skb("protocol")), ops.to_be(REG_A, 16)],
    SkfAd.PKTTYPE: lambda: [_ldx_w(REG_A, REG_CTX, _skb("pkt_type"))],
    SkfAd.IFINDEX: lambda: [_ldx_w(REG_A, REG_CTX, _skb("ifindex"))],
    SkfAd.MARK: lambda: [_ldx_w(REG_A, REG_CTX, _skb("mark"))],
    SkfAd.QUEUE: lambda: [_ldx_w(REG_A, REG_CTX, _skb("queue_mapping"))],
    SkfAd.RXHASH: lambda: [_ldx_w(REG_A, REG_CTX, _skb("hash"))],
    SkfAd.VLAN_TAG: lambda: [_ldx_w(REG_A, REG_CTX, _skb("vlan_tci"))],
    SkfAd.VLAN_TAG_PRESENT: lambda: [_ldx_w(REG_A, REG_CTX, _skb("vlan_present"))],
    SkfAd.VLAN_TPID: lambda: [_ldx_w(REG_A, REG_CTX, _skb("vlan_proto")), ops.to_be(REG_A, 16)],
    SkfAd.CPU: lambda: [ops.call(HelperId.GET_SMP_PROCESSOR_ID)],
    SkfAd.RANDOM: lambda: [ops.call(HelperId.GET_PRANDOM_U32)],
    SkfAd.ALU_XOR_X: lambda: [ops.alu32(AluOp.XOR, REG_A, REG_X)],
}

#: where the kernel answers `jt == 0` by inverting the condition
_INVERT = {JmpOp.JEQ: JmpOp.JNE, JmpOp.JGT: JmpOp.JLE, JmpOp.JGE: JmpOp.JLT}


class _Jump:
    """A jump whose offset is known once every classic instruction's eBPF address is."""

    __slots__ = ("insn", "target")

    def __init__(self, insn: Instruction, target: int):
        self.insn, self.target = insn, target


def _convert_one(f: SockFilter, i: int, target: Target) -> list[Instruction | _Jump]:
    code, k = f.code, f.k
    cls = f.cls
    if cls == CClass.ALU:
        op = AluOp(f.op)
        out: list[Instruction | _Jump] = []
        if op == AluOp.NEG:
            return [ops.neg32(REG_A)]
        if f.src == CSrc.X:
            if op in (AluOp.DIV, AluOp.MOD):  # cBPF returns 0 on division by zero
                out += [ops.mov32(REG_X, REG_X), ops.jmp(JmpOp.JNE, REG_X, None, 0, off=2),
                        ops.alu32(AluOp.XOR, REG_A, REG_A), ops.exit()]
            return out + [ops.alu32(op, REG_A, REG_X)]
        return [ops.alu32(op, REG_A, None, _s32(k))]
    if cls == CClass.LD and f.mode == CMode.ABS:
        ad = ancillary(k)
        if ad is not None:
            if ad not in _ANCILLARY:
                raise VerifierError(f"ancillary load #{ad.name.lower()} has no __sk_buff field or helper a socket "
                                    "filter may use; pyebpf cannot convert it", insn=i, errno=errno.EOPNOTSUPP)
            return list(_ANCILLARY[ad]())
        return [ops.ld_abs(Size(f.size), _s32(k))]
    if cls == CClass.LD and f.mode == CMode.IND:
        return [ops.ld_ind(Size(f.size), REG_X, _s32(k))]
    if code == CClass.JMP | JmpOp.JA:
        return [_Jump(ops.ja(), i + k + 1)]
    if cls == CClass.JMP:
        op = JmpOp(f.op)
        pre: list[Instruction | _Jump] = []
        reg: int | None
        if f.src == CSrc.K and _s32(k) < 0:  # eBPF immediates sign-extend: compare against a zero-extended tmp
            pre.append(ops.mov32(REG_TMP, None, _s32(k)))
            reg, imm = REG_TMP, 0
        elif f.src == CSrc.X:
            reg, imm = REG_X, 0
        else:
            reg, imm = None, _s32(k)
        if f.jf == 0:
            return pre + [_Jump(ops.jmp(op, REG_A, reg, imm), i + f.jt + 1)]
        if f.jt == 0 and op in _INVERT:
            return pre + [_Jump(ops.jmp(_INVERT[op], REG_A, reg, imm), i + f.jf + 1)]
        return pre + [_Jump(ops.jmp(op, REG_A, reg, imm), i + f.jt + 1), _Jump(ops.ja(), i + f.jf + 1)]
    if cls == CClass.LDX and f.mode == CMode.MSH:  # X = 4 * (P[k] & 0xf), A kept
        return [ops.mov(REG_X, REG_A), ops.ld_abs(Size.B, _s32(k)), ops.alu32(AluOp.AND, REG_A, None, 0xF),
                ops.alu32(AluOp.LSH, REG_A, None, 2), ops.mov(REG_TMP, REG_X), ops.mov(REG_X, REG_A),
                ops.mov(REG_A, REG_TMP)]
    if cls == CClass.RET:
        if f.code & C_RVAL_MASK == RetVal.K:
            return [ops.mov32(REG_A, None, _s32(k)), ops.exit()]
        return [ops.exit()]
    if cls in (CClass.ST, CClass.STX):
        return [ops.stx(Size.W, REG_FP, REG_A if cls == CClass.ST else REG_X, -(k * 4 + 4))]
    if cls in (CClass.LD, CClass.LDX) and f.mode == CMode.MEM:
        return [_ldx_w(REG_A if cls == CClass.LD else REG_X, REG_FP, -(k * 4 + 4))]
    if cls in (CClass.LD, CClass.LDX) and f.mode == CMode.IMM:
        return [ops.mov32(REG_A if cls == CClass.LD else REG_X, None, _s32(k))]
    if code == CClass.MISC | MiscOp.TAX:
        return [ops.mov(REG_X, REG_A)]
    if code == CClass.MISC | MiscOp.TXA:
        return [ops.mov(REG_A, REG_X)]
    if cls in (CClass.LD, CClass.LDX) and f.mode == CMode.LEN and target == "socket":
        return [_ldx_w(REG_A if cls == CClass.LD else REG_X, REG_CTX, _skb("len"))]
    if code == SECCOMP_LD_CODE and target == "seccomp":
        return [_ldx_w(REG_A, REG_CTX, k)]
    raise VerifierError(f"code {code:#06x} cannot be converted", insn=i, errno=errno.EINVAL)


def reachable(prog: ClassicProgram) -> list[bool]:
    """Which classic instructions some path from the first one reaches (classic jumps only go forward)."""
    seen = [False] * len(prog)
    if prog.insns:
        seen[0] = True
    for i, f in enumerate(prog):
        if not seen[i]:
            continue
        if f.cls == CClass.RET:
            nexts: tuple[int, ...] = ()
        elif f.code == CClass.JMP | JmpOp.JA:
            nexts = (i + 1 + f.k,)
        elif f.cls == CClass.JMP:
            nexts = (i + 1 + f.jt, i + 1 + f.jf)
        else:
            nexts = (i + 1,)
        for n in nexts:
            if n < len(seen):
                seen[n] = True
    return seen


def convert(prog: ClassicProgram, target: Target = "socket") -> list[Instruction]:
    """bpf_convert_filter on an already checked program: the eBPF instructions. Classic instructions no path
    reaches are left out: cBPF allows dead code, the eBPF verifier refuses it ("unreachable insn")."""
    # the kernel zeroes A and X with `xor32 r, r`, which the verifier refuses (it reads an uninitialised register,
    # and converted programs skip the verifier); mov32 r, 0 leaves the same state and passes it
    prologue = [ops.mov32(REG_A, None, 0), ops.mov32(REG_X, None, 0), ops.mov(REG_CTX, REG_ARG1)]
    live = reachable(prog)
    pieces = [_convert_one(f, i, target) if live[i] else [] for i, f in enumerate(prog)]
    addrs, pc = [], len(prologue)
    for piece in pieces:
        addrs.append(pc)
        pc += len(piece)
    out = list(prologue)
    for i, piece in enumerate(pieces):
        for item in piece:
            if isinstance(item, _Jump):
                if not 0 <= item.target < len(prog):
                    raise VerifierError(f"jump to instruction {item.target}, outside the program", insn=i,
                                        errno=errno.EINVAL)
                off = addrs[item.target] - len(out) - 1
                if not S16_MIN <= off <= S16_MAX:
                    raise VerifierError(f"converted jump offset {off} does not fit 16 bits", insn=i,
                                        errno=errno.EINVAL)
                out.append(item.insn._replace(off=off))
            else:
                out.append(item)
    return out


def to_ebpf(prog: ClassicProgram | list, target: Target = "socket", name: str = "") -> Program:
    """Check `prog` as the kernel does for `target` ("socket": SO_ATTACH_FILTER, "seccomp") and convert it.

    A socket filter comes back as a BPF_PROG_TYPE_SOCKET_FILTER Program (its r0 is the number of bytes kept);
    a seccomp filter as a Program without a type whose context is struct seccomp_data (run it in the VM with
    `ctx=SeccompData(...)`)."""
    if target not in ("socket", "seccomp"):
        raise ValueError(f"target must be 'socket' or 'seccomp', not {target!r}")
    checked = check_classic(prog) if target == "socket" else check_seccomp(prog)
    return Program(convert(checked, target), prog_type=ProgType.SOCKET_FILTER if target == "socket" else None,
                   name=name)


__all__ = ["REG_A", "REG_X", "REG_TMP", "REG_CTX", "convert", "to_ebpf"]
