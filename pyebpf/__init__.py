"""pyebpf: write eBPF in Python, verify it like the kernel does, simulate it, load it into Linux.

The facade re-exports the names most code needs. Imports are lazy so that `import pyebpf` stays cheap and a user of
the assembler does not pay for the VM or the loader.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports
from pyebpf.errors import (
    AsmDiagnostic, AsmError, BuildError, DecodeError, ElfError, LoaderError, MapError, PyebpfError, VerifierError,
    VmError,
)

__version__ = "0.1.0"

# name -> "module:attribute", resolved on first use (also Program and Instruction: `python -m pyebpf` and the
# console script import this package before the command line is read, and every command's start-up pays for it).
_LAZY = {
    "Program": "pyebpf.isa.program:Program",
    "Instruction": "pyebpf.isa.instruction:Instruction",
    "assemble": "pyebpf.isa.assembler:assemble",
    "disassemble": "pyebpf.isa.disassembler:disassemble",
    "Builder": "pyebpf.isa.builder:Builder",
    "MapSpec": "pyebpf.abi.maps:MapSpec",
    "MapType": "pyebpf.abi.maps:MapType",
    "UpdateFlags": "pyebpf.abi.maps:UpdateFlags",
    "ProgType": "pyebpf.abi.prog_types:ProgType",
    "AttachType": "pyebpf.abi.prog_types:AttachType",
    "HelperId": "pyebpf.abi.helpers:HelperId",
    "VM": "pyebpf.vm:VM",
    "RunResult": "pyebpf.vm:RunResult",
    "run": "pyebpf.vm:run",
    "verify": "pyebpf.verifier:verify",
    "VerifierResult": "pyebpf.verifier:VerifierResult",
}
for _n in range(11):
    _LAZY[f"R{_n}"] = f"pyebpf.isa.builder:R{_n}"
_SUBPACKAGES = {name: f"pyebpf.{name}:" for name in ("abi", "isa", "vm", "verifier", "loader", "testing", "cli")}

__getattr__, __dir__ = lazy_exports(__name__, {**_SUBPACKAGES, **_LAZY})


__all__ = [
    "PyebpfError", "AsmError", "AsmDiagnostic", "DecodeError", "BuildError",
    "VerifierError", "VmError", "LoaderError", "ElfError", "MapError", *_LAZY,
]
