"""Positions shared with the kernel through an mmap, read and written as whole aligned 8-byte words.

The kernel reads a ring buffer's consumer position (and a perf ring's data_tail) whenever a program outputs a
record. struct.pack_into must not write them: it zero-fills its target and then stores the value a byte at a time,
so a producer on another CPU can read 0 or a half-written position in between. The ring then looks full to it
(bpf_ringbuf_output fails, a perf ring counts a LOST sample) although the reader had just freed the space. A
memoryview cast to "Q" stores and loads the word with one 8-byte memcpy, a single move on x86-64 (checked with a C
reader spinning on the word while Python wrote it: torn values seen with struct.pack_into, none through the view).
x86-64 orders these loads and stores as the kernel's smp_load_acquire/smp_store_release pairs need.
"""
from __future__ import annotations

from typing import Any


def u64_words(mm: Any, offset: int, count: int = 1) -> memoryview:
    """`count` u64 words of `mm` (an mmap, or any writable buffer) from `offset` (8-byte aligned) as a memoryview: view[i] loads, view[i] = x stores.
    Release the view before closing the mmap (an exported buffer keeps it open)."""
    if offset % 8:
        raise ValueError(f"shared word offset {offset} is not 8-byte aligned")
    return memoryview(mm)[offset:offset + 8 * count].cast("Q")


__all__ = ["u64_words"]
