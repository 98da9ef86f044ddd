"""A verifier that mirrors the Linux kernel's (kernel/bpf/verifier.c): same verdict, same reason, same log.

`verify(program, prog_type=..., maps=..., privileged=True, log_level=0) -> VerifierResult`; rejections raise
`pyebpf.errors.VerifierError` (slot, kernel message, errno) unless `raise_on_reject=False`. `kernel="6.1"` answers
for that release (default: the running kernel's); `verify_kernels(program, ["5.10", "6.1", ...])` for several.
"""
from pyebpf.verifier.api import SUPPORTED_PROG_TYPES, VerifierResult, supports, verify, verify_kernels

__all__ = ["verify", "verify_kernels", "VerifierResult", "SUPPORTED_PROG_TYPES", "supports"]
