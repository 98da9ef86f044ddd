"""Hypothesis strategies for classic programs: mostly well-formed ones (forward jumps in range, M[] written before
read, a ret at the end) with a share of broken ones, so checker, converter and kernel meet both."""
from __future__ import annotations

from hypothesis import strategies as st

from pyebpf.abi.cbpf import SKF_AD_OFF, SKF_NET_OFF, CClass, CMode, CSize, RetVal, SkfAd
from pyebpf.abi.opcodes import JmpOp
from pyebpf.cbpf import ClassicProgram, SockFilter
from pyebpf.cbpf.check import ALLOWED_CODES

_VALID = sorted(ALLOWED_CODES)
_U32 = 0xFFFFFFFF
#: ancillary loads our conversion supports, as the absolute-load k that names them
SUPPORTED_AD = [SkfAd.PROTOCOL, SkfAd.PKTTYPE, SkfAd.IFINDEX, SkfAd.MARK, SkfAd.QUEUE, SkfAd.RXHASH,
                SkfAd.VLAN_TAG, SkfAd.VLAN_TAG_PRESENT, SkfAd.VLAN_TPID, SkfAd.ALU_XOR_X]

_k_packet = st.one_of(st.integers(0, 70), st.sampled_from([(SKF_NET_OFF + n) & _U32 for n in (0, 2, 9, 12)]),
                      st.sampled_from([(SKF_AD_OFF + ad) & _U32 for ad in SUPPORTED_AD]))
_k_any = st.one_of(st.integers(0, 40), st.integers(0, _U32), st.sampled_from([0x80000000, _U32, 31, 32]))


@st.composite
def instruction(draw: st.DrawFn, index: int, length: int, valid: bool) -> SockFilter:
    code = draw(st.sampled_from(_VALID)) if valid else draw(st.one_of(st.sampled_from(_VALID),
                                                                      st.integers(0, 0xFFFF)))
    room = max(0, length - index - 2)
    cls, mode = code & 0x07, code & 0xE0
    if cls == CClass.LD and mode in (CMode.ABS, CMode.IND) or code == CClass.LDX | CSize.B | CMode.MSH:
        k = draw(_k_packet)
    elif code in (CClass.ST, CClass.STX, CClass.LD | CMode.MEM, CClass.LDX | CMode.MEM):
        k = draw(st.integers(0, 15 if valid else 17))
    elif cls == CClass.JMP and code & 0xF0 == JmpOp.JA:
        k = draw(st.integers(0, room)) if valid else draw(st.integers(0, room + 2))
    else:
        k = draw(_k_any)
    jt = jf = 0
    if cls == CClass.JMP and code & 0xF0 != JmpOp.JA:
        hi = min(room, 255) if valid else min(room + 2, 255)
        jt, jf = draw(st.integers(0, hi)), draw(st.integers(0, hi))
    return SockFilter(code, jt, jf, k)


@st.composite
def programs(draw: st.DrawFn, valid: bool = True, max_size: int = 24) -> ClassicProgram:
    length = draw(st.integers(1, max_size))
    body = [draw(instruction(i, length, valid)) for i in range(length - 1)]
    if valid:  # write every scratch cell first so M[] reads pass check_load_and_stores
        body = [SockFilter(CClass.ST, 0, 0, i) for i in range(16)
                if any(b.code in (CClass.LD | CMode.MEM, CClass.LDX | CMode.MEM) and b.k == i for b in body)] + body
        body = [b for b in body if b.code not in (CClass.RET | RetVal.K, CClass.RET | RetVal.A)
                or draw(st.booleans())]
    last = draw(st.sampled_from([SockFilter(CClass.RET | RetVal.A), SockFilter(CClass.RET | RetVal.K, 0, 0, 0xFFFF)])
                if valid else instruction(length - 1, length, False))
    return ClassicProgram(_fix_jumps(body + [last]) if valid else body + [last])


def _fix_jumps(insns: list[SockFilter]) -> list[SockFilter]:
    """Keep every jump inside the program after prepending/dropping instructions."""
    out = []
    n = len(insns)
    for i, f in enumerate(insns):
        room = n - i - 2
        if f.code & 0x07 == CClass.JMP:
            if f.code & 0xF0 == JmpOp.JA:
                f = f._replace(k=min(f.k, max(room, 0)))
            else:
                f = f._replace(jt=min(f.jt, max(room, 0)), jf=min(f.jf, max(room, 0)))
        out.append(f)
    return out


__all__ = ["programs", "instruction", "SUPPORTED_AD"]
