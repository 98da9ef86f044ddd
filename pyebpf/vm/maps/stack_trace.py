"""BPF_MAP_TYPE_STACK_TRACE (kernel/bpf/stackmap.c): stacks stored by bpf_get_stackid, iterated by ascending id.
"""
from __future__ import annotations

import errno
from typing import Iterator

from pyebpf.abi.map_create import roundup_pow_of_two
from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import HelperFlags
from pyebpf.errors import MapError
from pyebpf.vm.maps.base import VmMap, err
from pyebpf.vm.maps.jhash import jhash2


class StackTraceMap(VmMap):
    """BPF_MAP_TYPE_STACK_TRACE: bpf_get_stackid stores a stack (list of instruction pointers) under
    id = jhash2(ips) & (roundup_pow_of_two(max_entries) - 1), as kernel/bpf/stackmap.c does."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self.n_buckets = roundup_pow_of_two(spec.max_entries)
        self._stacks: dict[int, tuple[int, ...]] = {}

    @property
    def max_depth(self) -> int:
        return self.spec.value_size // 8

    def get_stackid(self, ips: list[int] | tuple[int, ...], flags: int) -> int:
        """bpf_get_stackid on a stack given innermost first: the id, or -EINVAL/-EFAULT/-EEXIST."""
        known = HelperFlags.SKIP_FIELD_MASK | HelperFlags.USER_STACK | HelperFlags.FAST_STACK_CMP | \
            HelperFlags.REUSE_STACKID
        if flags & ~int(known):
            return -errno.EINVAL
        skip = flags & HelperFlags.SKIP_FIELD_MASK
        trace = tuple(ip & 0xFFFFFFFFFFFFFFFF for ip in ips[skip:skip + self.max_depth])
        if not trace:
            return -errno.EFAULT
        words: list[int] = []
        for ip in trace:
            words += [ip & 0xFFFFFFFF, ip >> 32]
        sid = jhash2(words) & (self.n_buckets - 1)
        old = self._stacks.get(sid)
        if old == trace:
            return sid
        if old is not None and not flags & HelperFlags.REUSE_STACKID:
            return -errno.EEXIST
        self._stacks[sid] = trace
        return sid

    def lookup_raw(self, key: bytes) -> bytes | None:
        sid = int.from_bytes(self._check_key(key), "little")
        trace = self._stacks.get(sid)
        if trace is None:
            return None
        raw = b"".join(ip.to_bytes(8, "little") for ip in trace)
        return raw.ljust(self.spec.value_size, b"\0")

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        raise MapError("stack trace map elements cannot be looked up from a program", errno.EOPNOTSUPP)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise err("stack trace maps are filled by bpf_get_stackid only", errno.EINVAL)

    def delete_raw(self, key: bytes) -> None:
        sid = int.from_bytes(self._check_key(key), "little")
        if self._stacks.pop(sid, None) is None:
            raise err(f"{self.name}: no stack with id {sid}", errno.ENOENT)

    def keys_raw(self) -> Iterator[bytes]:
        return (sid.to_bytes(4, "little") for sid in sorted(self._stacks))


__all__ = ["StackTraceMap"]
