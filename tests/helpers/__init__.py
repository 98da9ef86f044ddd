"""Test-only helpers: a tiny ELF writer for llvm-objdump comparisons and a verifier-log reader."""
