"""`Program`: instructions plus what they refer to (maps), the program type and the license.

Built with the builder, assembled from text or decoded from bytes, a program is the same value, so the verifier, the
VM and the loader all take it. Positions are kernel slots: an `lddw` takes two, so `slot_of(i)` and `index_of(slot)`
translate between list indices and program counters.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.errors import DecodeError
from pyebpf.isa.instruction import Instruction, decode, encode, iter_decode

_MAP_PSEUDO_SRCS = frozenset({PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE})

if TYPE_CHECKING:  # pragma: no cover
    from pyebpf.abi.prog_types import ProgType


@dataclass(eq=False)
class Program:
    """An eBPF program. `instructions` are logical (lddw counts once); `maps` maps names used by `ref` to specs."""

    instructions: list[Instruction]
    maps: dict[str, MapSpec] = field(default_factory=dict)
    prog_type: "ProgType | None" = None
    license: str = "GPL"
    name: str = ""
    #: Symbolic names of slots (labels, function entry points) kept for disassembly; not part of the encoding.
    labels: dict[str, int] = field(default_factory=dict)
    expected_attach_type: Any = None
    attach_to: str | None = None  # e.g. "syscalls/sys_enter_openat" for a tracepoint, an ifname for XDP
    # What BPF_PROG_LOAD takes beside the instructions, carried by the program itself so that loading it alone
    # (e.g. one program of an ELF object) loses nothing: its SEC() name, load flags, the BTF its func_info and
    # line_info refer to (a BTF object with encode(), or a loaded BTF's fd), and the records, in program slots.
    section: str = ""
    prog_flags: int = 0
    btf: Any = field(default=None, repr=False)
    func_info: list[tuple[int, int]] | None = field(default=None, repr=False)  # None: generated when calls need it
    line_info: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False)
    kern_version: int = 0
    attach_btf_id: int = 0
    #: CO-RE relocations (pyebpf.btf.core_local.CoreAccess, by slot) a compiler recorded: kept so that an object
    #: written from this program (loader.elf_writer) carries them; loading the program directly ignores them.
    core_relos: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.instructions = list(self.instructions)
        self._slots: list[int] | None = None

    # ---- construction --------------------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, byteorder: str = "little", validate: bool = True, **kw: Any) -> "Program":
        """Decode raw instruction bytes; raises DecodeError naming the bad slot and byte offset."""
        return cls(decode(bytes(data), byteorder, validate), **kw)

    @classmethod
    def from_hex(cls, text: str, **kw: Any) -> "Program":
        """Decode hex text (whitespace, newlines and `0x` prefixes allowed), as the conformance plugin receives it."""
        cleaned = "".join(text.replace("0x", "").split())
        try:
            data = bytes.fromhex(cleaned)
        except ValueError as e:
            raise DecodeError(f"not hex: {e}") from None
        return cls.from_bytes(data, **kw)

    def to_bytes(self, byteorder: str = "little") -> bytes:
        return encode(self.instructions, byteorder)

    # ---- slots -----------------------------------------------------------------------------------------------
    @property
    def slot_starts(self) -> list[int]:
        """Slot index of every logical instruction (cached; the list of instructions is not meant to be mutated)."""
        if self._slots is None or len(self._slots) != len(self.instructions):
            starts, slot = [], 0
            for insn in self.instructions:
                starts.append(slot)
                slot += insn.slots
            self._slots = starts
        return self._slots

    @property
    def slot_count(self) -> int:
        if not self.instructions:
            return 0
        return self.slot_starts[-1] + self.instructions[-1].slots

    def slot_of(self, index: int) -> int:
        return self.slot_starts[index]

    def index_of(self, slot: int) -> int:
        """Logical index of the instruction starting at `slot`; ValueError for the middle of an lddw or past the end."""
        starts = self.slot_starts
        i = bisect_left(starts, slot)
        if i == len(starts) or starts[i] != slot:
            raise ValueError(f"slot {slot} does not start an instruction")
        return i

    def by_slot(self) -> Iterator[tuple[int, Instruction]]:
        """(slot, instruction) pairs, the program counters the kernel and the VM use."""
        return zip(self.slot_starts, self.instructions)

    def slot_map(self) -> dict[int, Instruction]:
        return dict(self.by_slot())

    # ---- conveniences ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.instructions)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.instructions)

    def __getitem__(self, index: int) -> Instruction:
        return self.instructions[index]

    def __eq__(self, other: object) -> bool:
        """Same bytes, same map references, same maps, type and license.

        Symbolic names of jump targets and functions are presentation only (bytes decoded from the kernel have
        none), so they do not take part; the map a lddw names does, since it changes what the program does.
        """
        if not isinstance(other, Program):
            return NotImplemented
        return (self.to_bytes() == other.to_bytes() and self._map_refs() == other._map_refs()
                and self.maps == other.maps and self.prog_type == other.prog_type and self.license == other.license)

    def _map_refs(self) -> list[tuple[int, str | None]]:
        return [(slot, insn.ref) for slot, insn in self.by_slot()
                if insn.is_lddw and insn.src in _MAP_PSEUDO_SRCS and insn.ref is not None]

    # ---- BTF func_info: the one answer the loader and the verifier share ---------------------------------------
    @property
    def references_functions(self) -> bool:
        """Whether the program has bpf-to-bpf calls or function references (BPF_PSEUDO_FUNC lddw): subprograms."""
        return any(insn.is_pseudo_call or (insn.is_lddw and insn.src == PseudoSrc.FUNC)
                   for insn in self.instructions)

    @property
    def generates_func_info(self) -> bool:
        """Whether the loader describes the subprograms with generated BTF func_info: none given (`func_info` is
        None), no BTF of its own, and subprograms (callbacks and the kernel's rules for subprograms need it)."""
        return self.func_info is None and self.btf is None and self.references_functions

    @property
    def carries_func_info(self) -> bool:
        """Whether BPF_PROG_LOAD gets func_info records for this program (its own, or generated by the loader).
        Without them the kernel applies its no-BTF rules (check_abnormal_return: no LD_ABS or tail call in a
        subprogram; `missing btf func_info` at a callback reference). `func_info=[]` loads without."""
        return bool(self.func_info) or self.generates_func_info

    def map_references(self) -> Iterator[tuple[int, Instruction, MapSpec]]:
        """(slot, lddw, spec) for every instruction that names a map by `ref`."""
        for slot, insn in self.by_slot():
            if insn.is_lddw and insn.ref is not None and insn.ref in self.maps:
                yield slot, insn, self.maps[insn.ref]

    def replace_instructions(self, instructions: Iterable[Instruction]) -> "Program":
        """A copy with other instructions and everything else the same (maps, type, license, name, load fields).

        func_info/line_info are kept as they are: callers replace instructions one for one (map fds patched in)."""
        return Program(list(instructions), dict(self.maps), self.prog_type, self.license, self.name,
                       dict(self.labels), self.expected_attach_type, self.attach_to, self.section, self.prog_flags,
                       self.btf, self.func_info, list(self.line_info), self.kern_version, self.attach_btf_id)

    def __repr__(self) -> str:
        kind = getattr(self.prog_type, "name", self.prog_type)
        return (f"<Program {self.name or '(unnamed)'} type={kind} {len(self.instructions)} insns "
                f"{self.slot_count} slots maps={list(self.maps)}>")


__all__ = ["Program", "iter_decode"]
