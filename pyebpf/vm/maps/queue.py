"""BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c): push, pop and peek, no keys.
"""
from __future__ import annotations

import errno
from typing import Iterator

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.vm.maps.base import VmMap, err


class QueueMap(VmMap):
    """BPF_MAP_TYPE_QUEUE (FIFO) and, with `lifo`, BPF_MAP_TYPE_STACK. Push with BPF_EXIST on a full map drops the
    oldest element (both types, as kernel/bpf/queue_stack_maps.c does); without it a full map is E2BIG."""

    lifo = False

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._items: list[bytes] = []

    def push_raw(self, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        value = self._check_value(value)
        if flags & (UpdateFlags.F_LOCK | UpdateFlags.NOEXIST) or flags > UpdateFlags.EXIST or flags < 0:
            raise err(f"unknown push flags {flags:#x}", errno.EINVAL)
        if len(self._items) >= self.spec.max_entries:
            if not flags & UpdateFlags.EXIST:
                raise err(f"{self.name}: full ({self.spec.max_entries} elements)", errno.E2BIG)
            del self._items[0]
        self._items.append(value)

    def pop_raw(self, peek: bool = False) -> bytes | None:
        if not self._items:
            return None
        i = -1 if self.lifo else 0
        return self._items[i] if peek else self._items.pop(i)

    def items_raw(self) -> list[bytes]:
        """The elements in pop order (not a kernel operation: for tests and result dumps)."""
        return list(reversed(self._items)) if self.lifo else list(self._items)

    def lookup_raw(self, key: bytes) -> bytes | None:
        raise err("queue/stack maps have no keys; use peek", errno.EINVAL)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        raise err("queue/stack maps have no keys; use push", errno.EINVAL)

    def delete_raw(self, key: bytes) -> None:
        raise err("queue/stack maps have no keys; use pop", errno.EINVAL)

    def keys_raw(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        """0, as iteration says: the kernel has no way to count a queue's elements (get_next_key is EINVAL), so
        len() of the kernel map is 0 too; items_raw() lists the elements."""
        return 0

    def clear(self) -> None:
        if self.frozen:
            raise err(f"{self.name}: map is frozen: pop from user space", errno.EPERM)
        self._items.clear()


class StackMap(QueueMap):
    lifo = True


__all__ = ["QueueMap", "StackMap"]
