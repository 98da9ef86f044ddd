"""Bob Jenkins" lookup3 hash as the kernel has it (include/linux/jhash.h): jhash over bytes, jhash2 over u32 words.

The hash decides bucket order in hash maps created with BPF_F_ZERO_SEED and stack ids in stack-trace maps.
"""
from __future__ import annotations



def _rol32(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def _jhash_mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    M = 0xFFFFFFFF
    a = (a - c) & M; a ^= _rol32(c, 4); c = (c + b) & M
    b = (b - a) & M; b ^= _rol32(a, 6); a = (a + c) & M
    c = (c - b) & M; c ^= _rol32(b, 8); b = (b + a) & M
    a = (a - c) & M; a ^= _rol32(c, 16); c = (c + b) & M
    b = (b - a) & M; b ^= _rol32(a, 19); a = (a + c) & M
    c = (c - b) & M; c ^= _rol32(b, 4); b = (b + a) & M
    return a, b, c


def _jhash_final(a: int, b: int, c: int) -> int:
    M = 0xFFFFFFFF
    c ^= b; c = (c - _rol32(b, 14)) & M
    a ^= c; a = (a - _rol32(c, 11)) & M
    b ^= a; b = (b - _rol32(a, 25)) & M
    c ^= b; c = (c - _rol32(b, 16)) & M
    a ^= c; a = (a - _rol32(c, 4)) & M
    b ^= a; b = (b - _rol32(a, 14)) & M
    c ^= b; c = (c - _rol32(b, 24)) & M
    return c


def jhash2(words: list[int], initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hash over u32 words (the kernel's jhash2), used to pick a stack id bucket."""
    a = b = c = (0xDEADBEEF + (len(words) << 2) + initval) & 0xFFFFFFFF
    i, n = 0, len(words)
    while n > 3:
        a = (a + words[i]) & 0xFFFFFFFF
        b = (b + words[i + 1]) & 0xFFFFFFFF
        c = (c + words[i + 2]) & 0xFFFFFFFF
        a, b, c = _jhash_mix(a, b, c)
        i += 3
        n -= 3
    if n == 0:
        return c
    if n >= 3:
        c = (c + words[i + 2]) & 0xFFFFFFFF
    if n >= 2:
        b = (b + words[i + 1]) & 0xFFFFFFFF
    a = (a + words[i]) & 0xFFFFFFFF
    return _jhash_final(a, b, c)


def jhash(data: bytes, initval: int = 0) -> int:
    """The kernel's jhash over bytes (lookup3 with little-endian word loads), for keys not a multiple of 4."""
    M = 0xFFFFFFFF
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & M
    k = 0
    while n > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M
        a, b, c = _jhash_mix(a, b, c)
        n -= 12
        k += 12
    if n == 0:
        return c
    tail = data[k:k + n] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & M
    b = (b + int.from_bytes(tail[4:8], "little")) & M
    c = (c + int.from_bytes(tail[8:12], "little")) & M
    return _jhash_final(a, b, c)


def htab_hash(key: bytes, seed: int = 0) -> int:
    """htab_map_hash: jhash2 over u32 words when the key length is a multiple of 4, else jhash over bytes."""
    if len(key) % 4 == 0:
        return jhash2([int.from_bytes(key[i:i + 4], "little") for i in range(0, len(key), 4)], seed)
    return jhash(key, seed)


__all__ = ["jhash", "jhash2", "htab_hash"]
