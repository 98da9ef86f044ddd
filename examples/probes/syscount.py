"""System calls counted by name, machine-wide, the top ones printed at the end:

    sudo python examples/probes/syscount.py [seconds]
"""
import re
import sys
import time

from pyebpf.probe import HashMap, probe, u32, u64

counts = HashMap(u32, u64, max_entries=1024)


@probe("tracepoint/raw_syscalls/sys_enter")
def count_syscalls(ctx):
    counts[u32(ctx.id)] += 1


def syscall_names(header: str = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h") -> dict[int, str]:
    """Syscall number -> name from the kernel headers (empty when they are not installed)."""
    try:
        text = open(header).read()
    except OSError:
        return {}
    return {int(n): name for name, n in re.findall(r"#define __NR_(\w+)\s+(\d+)", text)}


def top(n: int = 10) -> list[str]:
    names = syscall_names()
    rows = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return [f"{names.get(nr, nr)!s:<20} {count:>10}" for nr, count in rows]


if __name__ == "__main__":
    with count_syscalls.load():
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    print(f"{'SYSCALL':<20} {'COUNT':>10}")
    print("\n".join(top()))
