"""The instruction-set feature table against the kernel in front of it (and, in the kernel matrix, 6.1 and 6.12):
a kernel decodes an extension's instructions exactly when its release is at or past the one the table names."""
from __future__ import annotations

import errno

import pytest

from pyebpf.abi.opcodes import AtomicOp, InsnClass, Mode, Size
from pyebpf.isa import ops
from pyebpf.isa.features import IsaFeature, insn_feature, kernel_takes, program_features
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.system.kernel import kernel_major_minor

# one instruction per extension, in a program that verifies when the kernel knows the instruction (r1 = 7, fp-8 set,
# r0 set before and after it)
SAMPLES = {
    IsaFeature.ATOMIC_FETCH: ops.atomic("fetch_add", "u64", 10, 1, -8),
    IsaFeature.CPU_V4: ops.alu("div", 1, imm=3, signed=True),  # r1 s/= 3
    # a jump over the next instruction: 6.9-6.13 refuse `may_goto +0` ("invalid may_goto off 0"), later kernels
    # drop it as a no-op
    IsaFeature.MAY_GOTO: ops.may_goto(1),
    IsaFeature.LOAD_ACQUIRE_STORE_RELEASE: ops.load_acquire("u64", 2, 10, -8),
}


def test_every_sample_is_classified_as_its_feature():
    for feature, insn in SAMPLES.items():
        assert insn_feature(insn) == feature
    assert insn_feature(ops.mov(0, 1)) == IsaFeature.BASE
    assert insn_feature(I(InsnClass.STX | Mode.ATOMIC | Size.W, 10, 1, -8, AtomicOp.ADD)) == IsaFeature.BASE


def test_kernel_takes_compares_releases():
    prog = [SAMPLES[IsaFeature.CPU_V4]]
    assert program_features(prog) == {IsaFeature.CPU_V4}
    assert kernel_takes(prog, (6, 6)) and not kernel_takes(prog, (6, 1))


@pytest.mark.kernel
@pytest.mark.parametrize("feature", list(SAMPLES), ids=lambda f: f.name.lower())
def test_running_kernel_decodes_exactly_what_the_table_says(feature):
    from pyebpf.loader import load
    from pyebpf.loader.program import ProgramLoadError

    prog = Program([ops.mov(1, imm=7), ops.stx("u64", 10, 1, -8), ops.mov(0, imm=0), SAMPLES[feature],
                    ops.mov(0, imm=0), ops.exit()])
    release = kernel_major_minor()
    try:
        with load(prog, prog_type="xdp"):
            decoded = True
    except ProgramLoadError as e:
        assert e.errno == errno.EINVAL, e
        decoded = False
    assert decoded == (feature.since <= release), f"Linux {release}: {feature.name} since {feature.since}"
