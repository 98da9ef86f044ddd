"""BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix match on (u32 prefixlen, data) keys.

Iterated by (prefix bytes, prefix length); the kernel walks its trie, a different order.
"""
from __future__ import annotations

import errno
from typing import Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.vm.maps.base import UPDATE_MODE_MASK, VmMap, err


class LpmTrieMap(VmMap):
    """BPF_MAP_TYPE_LPM_TRIE: keys are (u32 prefixlen, data); lookup finds the longest stored prefix of the key.
    Stored as a dict of (prefixlen, masked data) -> (original key, value): lookups try each stored prefix length
    from the longest down, which is O(#distinct lengths) instead of the kernel's trie walk but gives its answers."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.data_size = spec.key_size - 4
        self.max_prefixlen = self.data_size * 8
        self._entries: dict[tuple[int, bytes], tuple[bytes, bytearray]] = {}

    def _split_key(self, key: bytes) -> tuple[int, bytes]:
        key = self._check_key(key)
        return int.from_bytes(key[:4], "little"), key[4:]

    @staticmethod
    def _mask(data: bytes, prefixlen: int) -> bytes:
        full, rest = divmod(prefixlen, 8)
        out = bytearray(len(data))
        out[:full] = data[:full]
        if rest:
            out[full] = data[full] & (0xFF << (8 - rest)) & 0xFF
        return bytes(out)

    def _find(self, key: bytes) -> bytearray | None:
        prefixlen, data = self._split_key(key)
        if prefixlen > self.max_prefixlen:
            return None
        for plen in sorted({p for p, _ in self._entries if p <= prefixlen}, reverse=True):
            hit = self._entries.get((plen, self._mask(data, plen)))
            if hit is not None:
                return hit[1]
        return None

    def lookup_raw(self, key: bytes) -> bytes | None:
        buf = self._find(key)
        return None if buf is None else bytes(buf)

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        return self._find(bytes(key))

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        prefixlen, data = self._split_key(key)
        value = self._check_value(value)
        if flags & UPDATE_MODE_MASK > UpdateFlags.EXIST or flags < 0 or flags & UpdateFlags.F_LOCK:
            raise err(f"unknown update flags {flags:#x}", errno.EINVAL)
        if prefixlen > self.max_prefixlen:
            raise err(f"prefix length {prefixlen} > {self.max_prefixlen}", errno.EINVAL)
        ident = (prefixlen, self._mask(data, prefixlen))
        present = ident in self._entries
        if present and flags == UpdateFlags.NOEXIST:
            raise err(f"{self.name}: prefix exists (BPF_NOEXIST)", errno.EEXIST)
        if not present and flags == UpdateFlags.EXIST:
            raise err(f"{self.name}: no such prefix (BPF_EXIST)", errno.ENOENT)
        if not present and len(self._entries) >= self.spec.max_entries:
            raise err(f"{self.name}: trie is full ({self.spec.max_entries} entries)", errno.ENOSPC)
        self._entries[ident] = (bytes(key), bytearray(value))

    def delete_raw(self, key: bytes) -> None:
        prefixlen, data = self._split_key(key)
        if prefixlen > self.max_prefixlen:
            raise err(f"prefix length {prefixlen} > {self.max_prefixlen}", errno.EINVAL)
        if self._entries.pop((prefixlen, self._mask(data, prefixlen)), None) is None:
            raise err(f"{self.name}: no such prefix", errno.ENOENT)

    @staticmethod
    def _postorder(ident: tuple[int, bytes]) -> str:
        """Sort key for trie_get_next_key's post-order walk: a node's child[0] subtree (next bit 0), then child[1],
        then the node, so a longer prefix comes before the prefix it extends. Bits are read most significant first
        (extract_bit); the '2' ending puts a prefix after every key it is a prefix of."""
        prefixlen, data = ident
        return "".join(f"{b:08b}" for b in data)[:prefixlen] + "2"

    def keys_raw(self) -> Iterator[bytes]:
        return iter([k for _, (k, _) in sorted(self._entries.items(), key=lambda kv: self._postorder(kv[0]))])

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["LpmTrieMap"]
