"""Which kernel the verifier answers for: the facts of one release, asked for at the rules that differ.

`KernelModel(release)` answers from `pyebpf.abi.kernel_versions` (verifier rules, limits, message texts, helpers
per release), `pyebpf.abi.kfunc_versions` (kfuncs per release and program type) and `pyebpf.isa.features` (which instructions the release decodes). The verifier never compares
versions itself: a rule site asks `env.kernel.fact(Fact.X)`. Every fact asked is recorded with its answer, so a
verification run for one kernel is valid for any other kernel that gives the same answers to the same questions
(`same_answers`): `verify_kernels` verifies once per distinct answer set, not once per kernel.
"""
from __future__ import annotations

import os
import platform
from dataclasses import replace
from typing import Any

from pyebpf.abi.kernel_versions import (MAP_TYPE_SINCE, MODELLED, NEWEST, OLDEST, REWORDS, Fact, Release, fact_at,
                                        helper_args_at, helper_available_at, map_type_available_at, parse_release,
                                        reword)
from pyebpf.abi.kfunc_versions import kfunc_known_at, kfunc_prog_type_at, kfunc_since
from pyebpf.abi.opcodes import AluOp, AtomicOp, InsnClass, Mode
from pyebpf.isa.features import IsaFeature, insn_feature

#: where a kernel that predates an instruction refuses it: "cfg" = resolve_pseudo_ldimm64's pass over every
#: instruction before check_cfg (the opcode is missing from its bpf_opcode_in_insntable, or LDX reserved fields);
#: "check" = do_check, when the instruction is reached (the opcode exists, a field it now uses was reserved)
CFG, CHECK = "cfg", "check"
_CLASS, _OP, _MODE = 0x07, 0xF0, 0xE0


def _isa_refusal_form(insn, atomic_fetch: bool) -> tuple[str, str]:
    """How an older verifier words its refusal of `insn` (a newer-ISA instruction): (stage, message)."""
    code = insn.opcode
    cls, op = code & _CLASS, code & _OP
    if cls == InsnClass.LDX:
        return CFG, "BPF_LDX uses reserved fields"  # BPF_MEMSX: the LDX mode check before the opcode table
    if cls in (InsnClass.ALU, InsnClass.ALU64) and op == AluOp.MOV:
        return CHECK, "BPF_MOV uses reserved fields"  # movsx, addr_space_cast: `off` was reserved
    if cls in (InsnClass.ALU, InsnClass.ALU64) and op in (AluOp.DIV, AluOp.MOD):
        return CHECK, "BPF_ALU uses reserved fields"  # sdiv/smod: `off` was reserved
    if cls == InsnClass.STX and code & _MODE == Mode.ATOMIC:
        if not atomic_fetch:
            return CHECK, "BPF_STX uses reserved fields"  # before BPF_ATOMIC: BPF_XADD's imm was reserved
        return CHECK, f"BPF_ATOMIC uses invalid atomic opcode {insn.imm:02x}"  # load-acquire, store-release
    if cls == InsnClass.JMP32:
        return CHECK, "BPF_JA uses reserved fields"  # gotol: read as `ja +off` with a reserved imm
    # ALU64|END (bswap), JMP|JCOND (may_goto): opcodes missing from the older bpf_opcode_in_insntable
    return CFG, f"unknown opcode {code:02x}"  # ALU64|END (bswap), JMP|JCOND (may_goto)


class KernelModel:
    """The release the verifier answers for, and the questions it asked during one run."""

    def __init__(self, release: "Release | str | tuple[int, int]") -> None:
        self.release = parse_release(release)
        self.asked: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"KernelModel({str(self.release)!r})"

    def fact(self, fact: Fact) -> Any:
        return self._ask(fact)

    def isa_has(self, feature: IsaFeature) -> bool:
        """Whether this release decodes instructions of `feature` (isa/features.py's table)."""
        return self._ask(feature)

    def helper_available(self, prog_type, helper) -> bool:
        """Whether `prog_type` programs of this release may call `helper` (the newest release allows it)."""
        return self._ask(("helper", prog_type, helper))

    def map_type_available(self, map_type) -> bool:
        """Whether this release knows `map_type` (BPF_MAP_CREATE of it succeeds, given a build that has it)."""
        return self._ask(("map_type", map_type))

    def map_type_refusal(self, name: str, map_type) -> str | None:
        """Why a map of `map_type` cannot be created on this release (the load fails before the verifier), else
        None."""
        if self.map_type_available(map_type):
            return None
        since = MAP_TYPE_SINCE[map_type][0]
        # no release in the words: verify_kernels hands this result to every release that answers alike
        return f"creating map '{name}': EINVAL: map type {map_type.name.lower()} arrived in Linux {since}"

    def kfunc_refusal(self, name: str) -> str | None:
        """Why a program calling kfunc `name` cannot be loaded on this release (its BTF has no such kfunc, so the
        loader cannot resolve the call, as libbpf's extern resolution fails with ESRCH), else None."""
        if self._ask(("kfunc", name)):
            return None
        since = kfunc_since(name)
        when = f"dated from Linux {since}" if since else f"known on Linux {NEWEST} only"
        # no release in the words: verify_kernels hands this result to every release that answers alike
        return f"kfunc {name}: not in this release's BTF ({when}; abi/kfunc_versions.py), the call cannot be resolved"

    def kfunc_allowed(self, name: str, prog_type) -> bool:
        """Whether this release lets `prog_type` programs call kfunc `name`, given that the newest release does."""
        return self._ask(("kfunc_type", name, prog_type))

    def helper_proto(self, prog_type, helper, proto):
        """`proto` (the newest release's prototype) with the argument types this release had."""
        changed = self._ask(("helper_args", prog_type, helper))
        if not changed:
            return proto
        args = list(proto.args)
        for argno, arg in changed:
            args[argno] = arg
        return replace(proto, args=tuple(args))

    def reword(self, message: str, err: int) -> str:
        """A refusal as this release words it (abi REWORDS: same rule, older words)."""
        older, matched = reword(message, err, self.release)
        for i in matched:
            self.asked[("reword", i)] = self.release < REWORDS[i].since
        return older

    def _ask(self, key) -> Any:
        value = _answer(key, self.release)
        self.asked[key] = value
        return value

    def isa_refusal(self, insn) -> tuple[str, str] | None:
        """(stage, message) when this release does not decode `insn`, else None."""
        feature = insn_feature(insn)
        if feature is IsaFeature.BASE or self.isa_has(feature):
            return None
        if insn.opcode & _CLASS == InsnClass.JMP32:  # gotol: JMP32|JA decodes as `ja +off` from 5.11 on
            if not self.fact(Fact.JMP32_JA_OPCODE):
                return CFG, f"unknown opcode {insn.opcode:02x}"
            if not insn.imm:
                return None  # `gotol +0` is `ja +0` to a kernel that predates gotol
        atomic = insn.opcode & _CLASS == InsnClass.STX and insn.opcode & _MODE == Mode.ATOMIC
        return _isa_refusal_form(insn, not atomic or self.isa_has(IsaFeature.ATOMIC_FETCH))

    def fresh(self) -> "KernelModel":
        """The same release with nothing asked yet (one per verification run)."""
        return KernelModel(self.release)

    def same_answers(self, other: "KernelModel | Release | str") -> bool:
        """Whether `other` answers every question this run asked the same way (then its verdict, log and
        statistics are this run's)."""
        rel = other.release if isinstance(other, KernelModel) else parse_release(other)
        return all(_answer(key, rel) == value for key, value in self.asked.items())


def _answer(key, release: Release) -> Any:
    """The answer `release` gives to one recorded question."""
    if isinstance(key, Fact):
        return fact_at(key, release)
    if isinstance(key, IsaFeature):
        return key.since <= tuple(release)
    kind = key[0]
    if kind == "helper":
        return helper_available_at(key[1], key[2], release)
    if kind == "map_type":
        return map_type_available_at(key[1], release)
    if kind == "helper_args":
        return helper_args_at(key[1], key[2], release)
    if kind == "kfunc":
        return kfunc_known_at(key[1], release)
    if kind == "kfunc_type":
        return kfunc_prog_type_at(key[1], key[2], release)
    if kind == "reword":
        return release < REWORDS[key[1]].since
    raise ValueError(f"unknown kernel question {key!r}")


def running_release() -> Release:
    """The running kernel's release when it is Linux and modelled; otherwise the newest modelled one (a newer
    kernel is answered as the newest modelled; an older one as the oldest)."""
    if platform.system() != "Linux":
        return NEWEST
    from pyebpf.system.kernel import kernel_major_minor
    rel = Release(*kernel_major_minor(os.uname().release))
    return min(max(rel, OLDEST), NEWEST)


def kernel_model(kernel: "KernelModel | Release | str | tuple[int, int] | None") -> KernelModel:
    """`verify(kernel=...)`'s argument as a fresh model: None is the running kernel's release."""
    if kernel is None:
        return KernelModel(running_release())
    if isinstance(kernel, KernelModel):
        return kernel.fresh()
    return KernelModel(kernel)


__all__ = ["KernelModel", "kernel_model", "running_release", "MODELLED"]
