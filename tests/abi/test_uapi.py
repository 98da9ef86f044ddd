"""Known uapi constant values (include/uapi/linux/bpf.h, Linux 6.18)."""

from pyebpf.abi.uapi import (
    BPF_F_CURRENT_CPU, BpfCmd, BpfLinkType, MapCreateFlags, ProgLoadFlags, TcAction, UpdateFlags, XdpAction,
)


def test_bpf_cmd_numbering():
    assert BpfCmd.MAP_CREATE == 0
    assert BpfCmd.PROG_LOAD == 5
    assert BpfCmd.OBJ_GET_INFO_BY_FD == 15
    assert BpfCmd.LINK_CREATE == 28
    assert BpfCmd.TOKEN_CREATE == 36


def test_actions():
    assert [a.value for a in XdpAction] == [0, 1, 2, 3, 4]
    assert XdpAction.PASS == 2
    assert TcAction.OK == 0 and TcAction.SHOT == 2 and TcAction.REDIRECT == 7 and TcAction.UNSPEC == -1


def test_flags():
    assert (UpdateFlags.ANY, UpdateFlags.NOEXIST, UpdateFlags.EXIST, UpdateFlags.F_LOCK) == (0, 1, 2, 4)
    assert ProgLoadFlags.STRICT_ALIGNMENT == 1 and ProgLoadFlags.ANY_ALIGNMENT == 2
    assert ProgLoadFlags.SLEEPABLE == 16 and ProgLoadFlags.XDP_HAS_FRAGS == 32
    assert MapCreateFlags.NO_PREALLOC == 1 and MapCreateFlags.RDONLY_PROG == 128 and MapCreateFlags.MMAPABLE == 1024
    assert BPF_F_CURRENT_CPU == 0xFFFFFFFF


def test_link_types():
    assert BpfLinkType.XDP == 6 and BpfLinkType.TCX == 11 and BpfLinkType.NETKIT == 13
