"""The VM against the kernel for what needs a whole program: legacy packet loads (LD_ABS/LD_IND on a tc skb, big
endian, out of bounds ends the program with r0 = 0), tail calls (the 33-call limit, empty slots falling through)
and bpf-to-bpf calls nested to the kernel's depth."""
from __future__ import annotations

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.prog_types import ProgType
from pyebpf.vm import VM

pytestmark = pytest.mark.kernel

ENGINES = ("interp", "compiled")
PACKET = bytes((i * 37 + 11) & 0xFF for i in range(64))


def _kernel_retval(program, packet: bytes) -> int:
    from pyebpf.loader import load

    with load(program) as kp:
        return kp.test_run(data=packet).retval


def _vm_retvals(program, packet: bytes) -> set[int]:
    return {VM(program, engine=e).run(packet=packet).r0 & 0xFFFFFFFF for e in ENGINES}


LD_CASES = [
    "r0 = *(u8 *)skb[0]", "r0 = *(u16 *)skb[12]", "r0 = *(u32 *)skb[13]", "r0 = *(u32 *)skb[60]",
    "r0 = *(u32 *)skb[61]", "r0 = *(u16 *)skb[63]", "r0 = *(u8 *)skb[64]", "r0 = *(u8 *)skb[63]",
    "r7 = 10\nr0 = *(u32 *)skb[r7 + 4]", "r7 = 60\nr0 = *(u32 *)skb[r7 + 1]", "r7 = -4\nr0 = *(u16 *)skb[r7 + 8]",
    "r7 = -20\nr0 = *(u8 *)skb[r7 + 0]", "r7 = 0x100000002\nr0 = *(u8 *)skb[r7 + 0]",
    "r7 = 0x7fffffff\nr0 = *(u8 *)skb[r7 + 1]",
    "r0 = *(u8 *)skb[-1048576]", "r0 = *(u16 *)skb[-1048570]", "r0 = *(u8 *)skb[-2097152]",
    "r0 = *(u32 *)skb[-2097100]", "r0 = *(u8 *)skb[-3000000]",
]


@pytest.mark.parametrize("load", LD_CASES)
def test_ld_abs_ind_match_the_kernel(load: str) -> None:
    # the value is xor-ed with a marker so that "ended with r0 = 0" and "loaded 0" cannot be confused
    program = pyebpf.assemble(f"r6 = r1\n{load}\nr0 ^= 0x5a5a\nexit\n")
    program.prog_type = ProgType.SCHED_CLS
    kernel = _kernel_retval(program, PACKET)
    assert _vm_retvals(program, PACKET) == {kernel}


TAIL = """
    r6 = r1
    *(u32 *)(r10 - 4) = 0
    r1 = map[cnt] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = r6
    r2 = map[jt] ll
    r3 = 0
    call bpf_tail_call
out:
    *(u32 *)(r10 - 4) = 0
    r1 = map[cnt] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto end
    r0 = *(u64 *)(r0 + 0)
    exit
end:
    r0 = 0
    exit
"""


def test_tail_call_limit_matches_the_kernel() -> None:
    from pyebpf.loader import load

    specs = [MapSpec.of("jt", "prog_array", 4, 4, 2), MapSpec.of("cnt", "array", 4, 8, 1)]
    program = pyebpf.assemble(TAIL, maps=specs)
    program.prog_type = ProgType.XDP
    with load(program) as kp:
        kp.maps["jt"][0] = kp  # the program tail-calls itself
        kernel_loop = kp.test_run(data=bytes(64)).retval
        del kp.maps["jt"][0]
        kp.maps["cnt"][0] = 0
        kernel_empty = kp.test_run(data=bytes(64)).retval
    for engine in ENGINES:
        vm = VM(program, engine=engine)
        vm.maps["jt"][0] = vm.prog_fd(program)
        assert vm.run(packet=bytes(64)).r0 == kernel_loop == 34  # the first run plus MAX_TAIL_CALL_CNT = 33
        del vm.maps["jt"][0]
        vm.maps["cnt"][0] = 0
        assert vm.run(packet=bytes(64)).r0 == kernel_empty == 1


def test_nested_bpf_to_bpf_calls_match_the_kernel() -> None:
    # 8 frames: main + 7 nested calls, each keeps a value on its own stack and in r6 across its call
    lines = ["r1 = 3", "call f1", "exit"]
    for i in range(1, 8):
        inner = [f"call f{i + 1}"] if i < 7 else ["r0 = 1"]
        lines += [f"f{i}:", f"r6 = r1", f"r6 *= {i + 1}", f"*(u64 *)(r10 - 8) = r6", "r1 += 1", *inner,
                  "r1 = *(u64 *)(r10 - 8)", "r0 *= 3", "r0 += r1", "r0 += r6", "exit"]
    program = pyebpf.assemble("\n".join(lines))
    program.prog_type = ProgType.XDP
    kernel = _kernel_retval(program, bytes(64))
    assert _vm_retvals(program, bytes(64)) == {kernel}


SUB_TAIL = """
    r6 = r1
    r7 = 1000
    call sub
    r0 += r7
    exit
sub:
    r6 = r1
    r1 = r6
    r2 = map[jt] ll
    r3 = 0
    call bpf_tail_call
    r0 = 1
    exit
"""


def test_tail_call_from_a_subprogram_matches_the_kernel() -> None:
    """The target replaces the subprogram's frame: its r0 returns to the subprogram's caller."""
    from pyebpf.loader import load

    jt = MapSpec.of("jt", "prog_array", 4, 4, 1)
    main = pyebpf.assemble(SUB_TAIL, maps=[jt])
    main.prog_type = ProgType.XDP
    target = pyebpf.assemble("r0 = 7\nexit")
    target.prog_type = ProgType.XDP
    with load(target) as kt, load(main) as km:
        km.maps["jt"][0] = kt
        kernel_taken = km.test_run(data=bytes(64)).retval
        del km.maps["jt"][0]
        kernel_empty = km.test_run(data=bytes(64)).retval
    assert (kernel_taken, kernel_empty) == (1007, 1001)
    for engine in ENGINES:
        vm = VM(main, engine=engine)
        vm.maps["jt"][0] = vm.prog_fd(target)
        res = vm.run(packet=bytes(64))
        assert res.r0 == kernel_taken
        assert res.insns == 3 + 5 + 2 + 2  # main to the call, sub to the tail call, target, main after
        del vm.maps["jt"][0]
        assert vm.run(packet=bytes(64)).r0 == kernel_empty
