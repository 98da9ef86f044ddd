"""The instruction set: instructions and their encoding, programs, assembler, disassembler and builder."""
from pyebpf.isa.instruction import Instruction, decode, encode, iter_decode
from pyebpf.isa.program import Program

__all__ = ["Instruction", "Program", "decode", "encode", "iter_decode"]
