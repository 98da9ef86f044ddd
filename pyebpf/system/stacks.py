"""Counted kernel + user stacks, symbolised and printed as bcc's profile and offcputime print them.

A sample is (pid, comm, kernel frames, user frames, value), frames leaf first as bpf_get_stackid records them;
None for a stack that was not recorded (bcc's `[Missed Kernel Stack]`). `stack_lines` is bcc's default multi-line
output, `folded_stacks` its `-f` folding (root first: comm, user frames, `-` when delimited, kernel frames) for
`flamegraph.folded` / `flamegraph_svg`.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, Mapping

MISSED_KERNEL = "[Missed Kernel Stack]"
MISSED_USER = "[Missed User Stack]"
UNKNOWN = "[unknown]"  # a frame no symbol covers, as bcc's sym()/ksym() name it


@dataclass
class StackSample:
    pid: int
    comm: str
    kernel: list[str] | None
    user: list[str] | None
    value: int


def stack_id_error(stack_id: int) -> bool:
    """A stack that was wanted but not recorded (bcc's stack_id_err): a negative id other than -EFAULT, which
    means there was no such stack (no user stack: a kernel thread)."""
    return stack_id < 0 and stack_id != -errno.EFAULT


def stack_frames(stacks: Mapping[int, Any], stack_id: int, symbolizer: Any, offsets: bool = False
                 ) -> list[str] | None:
    """The frames of `stack_id` in a stack trace map, leaf first, named by `symbolizer` (KernelSymbolizer or
    ProcessSymbolizer; `[unknown]` where no symbol covers the address); [] when there was no stack, None when it
    was missed (or evicted from the map)."""
    if stack_id_error(stack_id):
        return None
    if stack_id < 0:
        return []
    try:
        addrs = stacks[stack_id]
    except KeyError:
        return None
    return [UNKNOWN if f.name is None else f.format(offsets=offsets) for f in symbolizer.stack(list(addrs))]


def stack_lines(samples: list[StackSample], delimited: bool = False, kernel: bool = True, user: bool = True) -> str:
    """bcc's default output per sample: kernel frames, `--` (delimited, both stacks present), user frames,
    `-                comm (pid)`, the value; samples in the order given (bcc sorts by value, ascending)."""
    lines = []
    for s in samples:
        if kernel:
            lines.extend([f"    {MISSED_KERNEL}"] if s.kernel is None else [f"    {f}" for f in s.kernel])
        if user:
            if delimited and kernel and s.kernel and s.user:
                lines.append("    --")
            lines.extend([f"    {MISSED_USER}"] if s.user is None else [f"    {f}" for f in s.user])
        lines.append(f"    {'-':<16} {s.comm} ({s.pid})")
        lines.append(f"        {s.value}\n")
    return "\n".join(lines)


def folded_stacks(samples: list[StackSample], delimited: bool = False, kernel: bool = True, user: bool = True
                  ) -> dict[tuple[str, ...], int]:
    """Root-first stacks as bcc's `-f` folds them: comm, user frames, `-` (delimited, both present), kernel."""
    out: dict[tuple[str, ...], int] = {}
    for s in samples:
        ufr = ([MISSED_USER] if s.user is None else list(reversed(s.user))) if user else []
        kfr = ([MISSED_KERNEL] if s.kernel is None else list(reversed(s.kernel))) if kernel else []
        both = bool(s.user) and bool(s.kernel)
        stack = (s.comm, *ufr, *(["-"] if delimited and user and kernel and both else []), *kfr)
        out[stack] = out.get(stack, 0) + s.value
    return out


__all__ = ["MISSED_KERNEL", "MISSED_USER", "UNKNOWN", "StackSample", "folded_stacks", "stack_frames", "stack_id_error",
           "stack_lines"]
