"""Classic BPF (cBPF) facts from uapi linux/filter.h, linux/seccomp.h and the socket options that load it.

A classic instruction is `struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }`. Its opcode splits like
eBPF's (class in the low 3 bits; size/mode for loads; op/source for ALU and jumps), but classes 6 and 7 are RET
and MISC, the modes include LEN and MSH, and RET takes its value from K or A. Every constant is named here.
"""
from __future__ import annotations

import ctypes
from enum import IntEnum

from pyebpf.abi.net import SKF_LL_OFF, SKF_NET_OFF, EtherType  # the offsets eBPF's LD_ABS shares, kept there
from pyebpf.abi.opcodes import AluOp, JmpOp


class CClass(IntEnum):
    """BPF_CLASS(code) of a classic instruction."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    RET = 0x06
    MISC = 0x07


class CSize(IntEnum):
    """BPF_SIZE(code) of LD/LDX."""

    W = 0x00
    H = 0x08
    B = 0x10


class CMode(IntEnum):
    """BPF_MODE(code) of LD/LDX."""

    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    LEN = 0x80
    MSH = 0xA0


class CSrc(IntEnum):
    """BPF_SRC(code) of ALU/JMP: the operand is K or X."""

    K = 0x00
    X = 0x08


class RetVal(IntEnum):
    """BPF_RVAL(code) of RET: return K, X (refused by Linux) or A."""

    K = 0x00
    X = 0x08
    A = 0x10


class MiscOp(IntEnum):
    """BPF_MISCOP(code) of MISC."""

    TAX = 0x00
    TXA = 0x80


C_CLASS_MASK = 0x07
C_SIZE_MASK = 0x18
C_MODE_MASK = 0xE0
C_OP_MASK = 0xF0
C_SRC_MASK = 0x08
C_RVAL_MASK = 0x18
C_MISCOP_MASK = 0xF8

SOCK_FILTER_SIZE = 8
BPF_MEMWORDS = 16  # scratch memory cells M[0..15]
BPF_MAXINSNS = 4096  # longest classic program (bpf_check_basics_ok)
C_SIZE_BYTES = {CSize.W: 4, CSize.H: 2, CSize.B: 1}

#: The ALU operations and jumps classic BPF has (a subset of eBPF's, same encodings).
C_ALU_OPS = (AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG,
             AluOp.MOD, AluOp.XOR)
C_COND_JMPS = (JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET)


# ---- ancillary data (Linux extensions: LD ABS at SKF_AD_OFF + n) ---------------------------------------------------
SKF_AD_OFF = -0x1000


class SkfAd(IntEnum):
    """SKF_AD_*: what `ld [SKF_AD_OFF + n]` loads instead of packet bytes."""

    PROTOCOL = 0
    PKTTYPE = 4
    IFINDEX = 8
    NLATTR = 12
    NLATTR_NEST = 16
    MARK = 20
    QUEUE = 24
    HATYPE = 28
    RXHASH = 32
    CPU = 36
    ALU_XOR_X = 40
    VLAN_TAG = 44
    VLAN_TAG_PRESENT = 48
    PAY_OFFSET = 52
    RANDOM = 56
    VLAN_TPID = 60


SKF_AD_MAX = 64

#: libpcap's bpf_image names (`ldb [vlanp]`), as `tcpdump -d` prints them.
SKF_AD_PCAP_NAMES = {
    SkfAd.PROTOCOL: "proto", SkfAd.PKTTYPE: "type", SkfAd.IFINDEX: "ifidx", SkfAd.NLATTR: "nla",
    SkfAd.NLATTR_NEST: "nlan", SkfAd.MARK: "mark", SkfAd.QUEUE: "queue", SkfAd.HATYPE: "hatype",
    SkfAd.RXHASH: "rxhash", SkfAd.CPU: "cpu", SkfAd.ALU_XOR_X: "xor_x", SkfAd.VLAN_TAG: "vlan_tci",
    SkfAd.VLAN_TAG_PRESENT: "vlanp", SkfAd.PAY_OFFSET: "poff", SkfAd.RANDOM: "random", SkfAd.VLAN_TPID: "vlan_tpid",
}
#: tools/bpf bpf_asm's extension keywords (`ld #proto`); "vlan_pr" is its older spelling of vlan_avail.
SKF_AD_ASM_NAMES = {
    SkfAd.PROTOCOL: "proto", SkfAd.PKTTYPE: "type", SkfAd.IFINDEX: "ifidx", SkfAd.NLATTR: "nla",
    SkfAd.NLATTR_NEST: "nlan", SkfAd.MARK: "mark", SkfAd.QUEUE: "queue", SkfAd.HATYPE: "hatype",
    SkfAd.RXHASH: "rxhash", SkfAd.CPU: "cpu", SkfAd.VLAN_TAG: "vlan_tci", SkfAd.VLAN_TAG_PRESENT: "vlan_avail",
    SkfAd.PAY_OFFSET: "poff", SkfAd.RANDOM: "rand", SkfAd.VLAN_TPID: "vlan_tpid",
}
SKF_AD_ASM_ALIASES = {"vlan_pr": SkfAd.VLAN_TAG_PRESENT}


# ---- loading: socket options ------------------------------------------------------------------------------------
SOL_SOCKET = 1
SO_ATTACH_FILTER = 26  # also SO_GET_FILTER
SO_DETACH_FILTER = 27
SO_LOCK_FILTER = 44
PACKET_IGNORE_OUTGOING = 23  # SOL_PACKET option: a packet socket does not see what it sends
SOL_PACKET = 263
ETH_P_ALL = int(EtherType.ALL)  # the packet-socket protocol; the value lives with the other ethertypes


class SockFprog(ctypes.Structure):
    """struct sock_fprog, the SO_ATTACH_FILTER / seccomp argument: length and pointer to sock_filter[]."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# ---- seccomp -----------------------------------------------------------------------------------------------------
class SeccompData(ctypes.Structure):
    """struct seccomp_data: the context a seccomp filter's `ld [k]` reads (4-byte aligned words)."""

    _fields_ = [("nr", ctypes.c_int32), ("arch", ctypes.c_uint32), ("instruction_pointer", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6)]


SECCOMP_DATA_SIZE = ctypes.sizeof(SeccompData)  # 64


class SeccompRet(IntEnum):
    """SECCOMP_RET_* actions (the high 16 bits of a filter's return value)."""

    KILL_THREAD = 0x00000000
    TRAP = 0x00030000
    ERRNO = 0x00050000
    USER_NOTIF = 0x7FC00000
    TRACE = 0x7FF00000
    LOG = 0x7FFC0000
    ALLOW = 0x7FFF0000
    KILL_PROCESS = 0x80000000


SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_RET_DATA = 0x0000FFFF
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_MODE_FILTER = 2
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38


class AuditArch(IntEnum):
    """AUDIT_ARCH_* values seccomp_data.arch holds (EM_* | 64BIT | LE)."""

    X86_64 = 0xC000003E
    I386 = 0x40000003
    AARCH64 = 0xC00000B7


#: __NR_seccomp per machine (os.uname().machine)
NR_SECCOMP = {"x86_64": 317, "aarch64": 277}

__all__ = [
    "CClass", "CSize", "CMode", "CSrc", "RetVal", "MiscOp", "C_CLASS_MASK", "C_SIZE_MASK", "C_MODE_MASK",
    "C_OP_MASK", "C_SRC_MASK", "C_RVAL_MASK", "C_MISCOP_MASK", "SOCK_FILTER_SIZE", "BPF_MEMWORDS", "BPF_MAXINSNS",
    "C_SIZE_BYTES", "C_ALU_OPS", "C_COND_JMPS", "SKF_AD_OFF", "SKF_NET_OFF", "SKF_LL_OFF", "SkfAd", "SKF_AD_MAX",
    "SKF_AD_PCAP_NAMES", "SKF_AD_ASM_NAMES", "SKF_AD_ASM_ALIASES", "SOL_SOCKET", "SO_ATTACH_FILTER",
    "SO_DETACH_FILTER", "SO_LOCK_FILTER", "PACKET_IGNORE_OUTGOING", "SOL_PACKET", "ETH_P_ALL", "SockFprog",
    "SeccompData", "SECCOMP_DATA_SIZE", "SeccompRet", "SECCOMP_RET_ACTION_FULL", "SECCOMP_RET_DATA",
    "SECCOMP_SET_MODE_FILTER", "SECCOMP_MODE_FILTER", "PR_SET_SECCOMP", "PR_SET_NO_NEW_PRIVS", "AuditArch",
    "NR_SECCOMP",
]
