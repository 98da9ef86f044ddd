"""BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH, with a model of the kernel's LRU lists (kernel/bpf/bpf_lru_list.c)
that decides which key is evicted.

The kernel does not evict "the least recently used key" exactly. It keeps preallocated nodes on lists:

* a global FREE list, an ACTIVE and an INACTIVE list (newest at the head), each node with a `ref` bit that program
  lookups set (syscall lookups do not);
* per CPU, a local FREE list and a local PENDING list: a node taken for an update goes to the taking CPU's pending
  list and only reaches ACTIVE/INACTIVE when that CPU next refills its local free list.

When a CPU's local free list is empty it flushes its pending list, rotates ACTIVE/INACTIVE, and moves up to
`target_free` nodes from the global free list (`target_free = clamp(max_entries / possible_cpus / 2, 1, 128)`,
kernel >= 6.16); if fewer were free it shrinks INACTIVE from its tail (unreferenced nodes first, then one node by
force). If still nothing is free it steals from the local lists of the CPUs, round robin.

Free nodes carry no key, so this model keeps only counts of free nodes and ordered lists of keys for the lists that
hold live elements. Python lists are ordered tail (oldest) first, head (newest) last.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any, Callable

from pyebpf.abi.maps import MapSpec, UpdateFlags
from pyebpf.abi.uapi import MapCreateFlags
from pyebpf.vm.maps.base import UPDATE_MODE_MASK, as_errno, check_update_flags, err
from pyebpf.vm.maps.hash import HashMap

LOCAL_FREE_TARGET = 128
LOCAL_NR_SCANS = LOCAL_FREE_TARGET

ACTIVE, INACTIVE, PENDING = "active", "inactive", "pending"


@dataclass(eq=False)
class LruNode:
    """One live element: its key, the list it is on, its ref bit and (for pending nodes) the CPU that took it."""

    key: bytes
    where: str = PENDING
    ref: bool = False
    cpu: int = 0


@dataclass
class _LocalList:
    free: int = 0
    pending: list[LruNode] = field(default_factory=list)
    next_steal: int = 0


class CommonLru:
    """The common (shared between CPUs) LRU of an LRU hash map with `nr_elems` preallocated nodes."""

    def __init__(self, nr_elems: int, ncpus: int, delete_from_table: Callable[[LruNode], bool]):
        self.ncpus = ncpus
        self.free = nr_elems
        self.lists: dict[str, list[LruNode]] = {ACTIVE: [], INACTIVE: []}
        self.local = [_LocalList(next_steal=cpu) for cpu in range(ncpus)]
        self.target_free = min(max((nr_elems // ncpus) // 2, 1), LOCAL_FREE_TARGET)
        self.nr_scans = LOCAL_NR_SCANS
        self.next_inactive_rotation: LruNode | None = None  # None is the list head (sentinel)
        self._delete_from_table = delete_from_table

    # -- list primitives (kernel list_move: take off wherever it is, add at the head) ---------------------------
    def _unlink(self, node: LruNode) -> None:
        if node.where == PENDING:
            self.local[node.cpu].pending.remove(node)
            return
        lst = self.lists[node.where]
        if node is self.next_inactive_rotation:
            i = lst.index(node)
            self.next_inactive_rotation = lst[i + 1] if i + 1 < len(lst) else None
        lst.remove(node)

    def _move(self, node: LruNode, where: str) -> None:
        self._unlink(node)
        node.where = where
        node.ref = False
        self.lists[where].append(node)

    def _to_free(self, node: LruNode) -> None:
        """Node leaves the LRU lists for a local free list (its element was deleted from the table)."""
        self._unlink(node)
        node.where = "free"

    # -- rotation and shrinking ------------------------------------------------------------------------------
    def _rotate_active(self) -> None:
        active = self.lists[ACTIVE]
        if not active:
            return
        first = active[-1]
        for i, node in enumerate(list(active)):
            self._move(node, ACTIVE if node.ref else INACTIVE)
            if i + 1 == self.nr_scans or node is first:
                break

    def _rotate_inactive(self) -> None:
        inactive = self.lists[INACTIVE]
        if not inactive:
            return
        # Walk from the cursor toward the head (newer nodes), wrapping through the sentinel, at most nr_scans nodes.
        order = list(inactive)
        n = len(order)
        start = 0 if self.next_inactive_rotation is None else order.index(self.next_inactive_rotation)
        last_idx = start - 1 if start > 0 else n - 1  # the node just older than the cursor: one full circle
        idx, i, stop_next = start, 0, None
        while i < self.nr_scans:
            node = order[idx]
            nxt = idx + 1
            if node.ref:
                self._move(node, ACTIVE)
            if idx == last_idx:
                stop_next = nxt
                break
            stop_next = nxt
            idx = nxt if nxt < n else 0
            i += 1
        if stop_next is None or stop_next >= n:
            self.next_inactive_rotation = None
        else:
            cand = order[stop_next]
            self.next_inactive_rotation = cand if cand.where == INACTIVE else None

    def _shrink_inactive(self, target: int) -> int:
        shrunk = 0
        for i, node in enumerate(list(self.lists[INACTIVE])):
            if node.ref:
                self._move(node, ACTIVE)
            elif self._delete_from_table(node):
                self._to_free(node)
                shrunk += 1
                if shrunk == target:
                    break
            if i + 1 == self.nr_scans:
                break
        return shrunk

    def _shrink(self, target: int) -> int:
        shrunk = self._shrink_inactive(target)
        if shrunk:
            return shrunk
        victims = self.lists[INACTIVE] or self.lists[ACTIVE]
        for node in list(victims):
            if self._delete_from_table(node):
                self._to_free(node)
                return 1
        return 0

    def _flush_pending(self, loc: _LocalList) -> None:
        for node in list(loc.pending):
            loc.pending.remove(node)
            node.where = ACTIVE if node.ref else INACTIVE
            node.ref = False
            self.lists[node.where].append(node)

    def _refill_local(self, loc: _LocalList) -> None:
        self._flush_pending(loc)
        if len(self.lists[INACTIVE]) < len(self.lists[ACTIVE]):
            self._rotate_active()
        self._rotate_inactive()
        taken = min(self.free, self.target_free)
        self.free -= taken
        loc.free += taken
        if taken < self.target_free:
            loc.free += self._shrink(self.target_free - taken)

    def _pop_pending(self, loc: _LocalList) -> bool:
        for force in (False, True):
            for node in list(loc.pending):
                if (not node.ref or force) and self._delete_from_table(node):
                    loc.pending.remove(node)
                    node.where = "free"
                    return True
        return False

    # -- what the hash table calls ------------------------------------------------------------------------------
    def pop_free(self, key: bytes, cpu: int) -> LruNode | None:
        """bpf_lru_pop_free: a node for a new element on `cpu` (may evict other keys), or None (ENOMEM)."""
        loc = self.local[cpu]
        if not loc.free:
            self._refill_local(loc)
        if not loc.free:
            steal = first = loc.next_steal
            got = False
            while True:
                victim = self.local[steal]
                if victim.free:
                    victim.free -= 1
                    got = True
                else:
                    got = self._pop_pending(victim)
                steal = (steal + 1) % self.ncpus
                if got or steal == first:
                    break
            loc.next_steal = steal
            if not got:
                return None
        else:
            loc.free -= 1
        node = LruNode(key, PENDING, False, cpu)
        loc.pending.append(node)
        return node

    def push_free(self, node: LruNode) -> None:
        """bpf_lru_push_free: the element of `node` left the table (delete, replace, failed update)."""
        if node.where == PENDING:
            self.local[node.cpu].pending.remove(node)
            self.local[node.cpu].free += 1
        elif node.where in (ACTIVE, INACTIVE):
            self._unlink(node)
            self.free += 1
        node.where = "free"


PERCPU_FREE_TARGET = 4


class PercpuLru:
    """The per-CPU LRU of maps created with BPF_F_NO_COMMON_LRU (bpf_percpu_lru_pop_free/push_free): each CPU owns
    roundup(max_entries, ncpus) / ncpus nodes; a CPU takes nodes only from its own list, rotating it on every pop
    and shrinking up to PERCPU_FREE_TARGET nodes when none is free; new nodes go straight to the INACTIVE head."""

    def __init__(self, max_entries: int, ncpus: int, delete_from_table: Callable[[LruNode], bool]):
        per_cpu = -(-max_entries // ncpus)
        self.lists = [CommonLru(per_cpu, 1, delete_from_table) for _ in range(ncpus)]

    def pop_free(self, key: bytes, cpu: int) -> LruNode | None:
        lst = self.lists[cpu]
        if len(lst.lists[INACTIVE]) < len(lst.lists[ACTIVE]):
            lst._rotate_active()
        lst._rotate_inactive()
        if not lst.free:
            lst.free += lst._shrink(PERCPU_FREE_TARGET)
        if not lst.free:
            return None
        lst.free -= 1
        node = LruNode(key, INACTIVE, False, cpu)
        lst.lists[INACTIVE].append(node)
        return node

    def push_free(self, node: LruNode) -> None:
        self.lists[node.cpu].push_free(node)  # never PENDING here: new nodes go straight to INACTIVE


# ---- the maps -------------------------------------------------------------------------------------------------

class LruHashMap(HashMap):
    """BPF_MAP_TYPE_LRU_HASH: never E2BIG; a new key takes a node from the kernel-like LRU lists (the lists above), which
    may evict other keys, even several at once (the kernel frees `target_free` nodes per refill) and even when the
    update replaces an existing key (the kernel links a fresh node for every update). Program lookups set the
    node's ref bit; syscall lookups don't. With BPF_F_NO_COMMON_LRU each CPU has its own list of
    roundup(max_entries, ncpus) / ncpus nodes (`PercpuLru`), so one CPU alone can hold only its share."""

    def __init__(self, spec: MapSpec, ncpus: int = 1):
        super().__init__(spec, ncpus)
        self._nodes: dict[bytes, LruNode] = {}
        self.cpu = 0  # the CPU the syscall side runs on (the kernel: whichever CPU the caller is on)
        self._percpu_lru = bool(spec.flags & MapCreateFlags.NO_COMMON_LRU)
        self._lru: CommonLru | PercpuLru = (PercpuLru if self._percpu_lru else CommonLru)(
            spec.max_entries, ncpus, self._delete_node)

    def _delete_node(self, node: LruNode) -> bool:
        if self._nodes.get(node.key) is node:
            del self._nodes[node.key]
            self._drop_value(node.key)
            return True
        return False

    def _drop_value(self, key: bytes) -> None:
        self._release(self._data.pop(key, None))

    def value_ref(self, key: bytes, cpu: int = 0) -> Any:
        key = bytes(key)
        node = self._nodes.get(key)
        if node is not None:
            node.ref = True
        return super().value_ref(key, cpu)

    def iter_value_ref(self, key: bytes, cpu: int = 0) -> Any:
        node = self._nodes.get(bytes(key))
        ref = node.ref if node is not None else False
        buf = self.value_ref(key, cpu)
        if node is not None:
            node.ref = ref
        return buf

    def _pop_node(self, key: bytes, cpu: int) -> LruNode | None:
        return self._lru.pop_free(key, cpu)

    def _push_node(self, node: LruNode) -> None:
        self._lru.push_free(node)

    def _check_mode(self, old: LruNode | None, flags: int, spare: LruNode | None) -> None:
        """BPF_NOEXIST on a present key is EEXIST, BPF_EXIST on a missing one ENOENT; the node taken for the update
        goes back to the free lists first."""
        mode = flags & UPDATE_MODE_MASK
        if (old is not None and mode == UpdateFlags.NOEXIST) or (old is None and mode == UpdateFlags.EXIST):
            if spare is not None:
                self._push_node(spare)
            raise err(f"{self.name}: key {'exists' if old else 'missing'}",
                      errno.EEXIST if old is not None else errno.ENOENT)

    def _lru_update(self, key: bytes, flags: int, cpu: int, install: Callable[[bool], None]) -> None:
        check_update_flags(flags)
        new = self._pop_node(key, cpu)
        if new is None:
            raise err(f"{self.name}: no free LRU node", errno.ENOMEM)
        old = self._nodes.get(key)
        self._check_mode(old, flags, new)
        install(old is not None)
        self._nodes[key] = new
        if old is not None:
            new.ref = True
            self._push_node(old)

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)

        def install(_replacing: bool) -> None:
            self._link(key, value)
        self._lru_update(key, flags, self.cpu, install)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        key = bytes(key)

        def install(_replacing: bool) -> None:
            self._link(key, value)
        return as_errno(lambda: self._lru_update(self._check_key(key), flags, cpu, install))

    def delete_raw(self, key: bytes) -> None:
        key = self._check_key(key)
        HashMap.delete_raw(self, key)  # ENOENT when absent; frees the value
        self._push_node(self._nodes.pop(key))


class LruPercpuHashMap(LruHashMap):
    """BPF_MAP_TYPE_LRU_PERCPU_HASH: LRU eviction as LruHashMap, values per CPU. Replacing an existing key updates
    the values in place (no new node, as the kernel's __htab_lru_percpu_map_update_elem does)."""

    def value_ref(self, key: bytes, cpu: int = 0) -> bytearray | None:
        key = bytes(key)
        node = self._nodes.get(key)
        if node is None:
            return None
        node.ref = True
        return self._data[key][cpu]

    def _percpu_update(self, key: bytes, values: list[Any], flags: int, cpu: int) -> None:
        # __htab_lru_percpu_map_update_elem: take a node first (unless BPF_EXIST), then check; an existing key is
        # updated in place with its ref bit set and the spare node goes back.
        check_update_flags(flags)
        new = None
        if flags != UpdateFlags.EXIST:
            new = self._pop_node(key, cpu)
            if new is None:
                raise err(f"{self.name}: no free LRU node", errno.ENOMEM)
        old = self._nodes.get(key)
        self._check_mode(old, flags, new)
        if old is not None:
            old.ref = True
            for buf, v in zip(self._data[key], values):
                if v is not None:
                    buf[:] = v
            if new is not None:
                self._push_node(new)
            return
        zero = bytes(self.spec.value_size)
        self._link(key, [zero if v is None else v for v in values])
        assert new is not None
        self._nodes[key] = new

    def update_raw(self, key: bytes, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        key, value = self._check_key(key), self._check_value(value)
        self._percpu_update(key, self._split(value), flags, self.cpu)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        values: list[Any] = [None] * self.ncpus
        values[cpu] = bytes(value)
        return as_errno(lambda: self._percpu_update(self._check_key(bytes(key)), values, flags, cpu))


__all__ = ["LruHashMap", "LruPercpuHashMap", "CommonLru", "PercpuLru", "LruNode", "LOCAL_FREE_TARGET",
           "PERCPU_FREE_TARGET"]
