"""A verifier that mirrors the Linux kernel's (kernel/bpf/verifier.c): same verdict, same reason, same log.

`verify(program, prog_type=..., maps=..., privileged=True, log_level=0) -> VerifierResult`; rejections raise
`pyebpf.errors.VerifierError` (slot, kernel message, errno) unless `raise_on_reject=False`.
"""
from pyebpf.verifier.api import SUPPORTED_PROG_TYPES, VerifierResult, verify

__all__ = ["verify", "VerifierResult", "SUPPORTED_PROG_TYPES"]
