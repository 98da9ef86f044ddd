"""Hostile instruction bytes: decode, from_bytes/from_hex and every disassembly style give only DecodeError (or
text), for random bytes and for valid programs with bits flipped."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from surfaces import insn_bytes, mutate_bytes, random_program, surface_decoder


@settings(max_examples=200)
@given(data=st.binary(max_size=256))
def test_random_bytes(data: bytes) -> None:
    surface_decoder(data)


@settings(max_examples=200)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_programs(seed: int) -> None:
    rng = random.Random(seed)
    surface_decoder(mutate_bytes(rng, random_program(rng).to_bytes()))
    surface_decoder(insn_bytes(rng))
