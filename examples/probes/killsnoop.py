"""kill() calls as they happen, with the sender, target, signal and result (bcc libbpf-tools killsnoop):

    sudo python examples/probes/killsnoop.py [seconds]

sys_enter_kill keeps the target and signal per thread; sys_exit_kill adds the result and sends the event through a
perf event array, as the C tool does.
"""
import ctypes
import sys
import time

from pyebpf.probe import HashMap, PerfEventArray, comm, pid, probe, tid, u32


class Pending(ctypes.Structure):
    _fields_ = [("tpid", ctypes.c_int32), ("sig", ctypes.c_int32)]


class Event(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("tpid", ctypes.c_int32), ("sig", ctypes.c_int32),
                ("ret", ctypes.c_int32), ("comm", ctypes.c_char * 16)]


pending = HashMap(u32, Pending, max_entries=10240)
events = PerfEventArray(Event)


@probe("tracepoint/syscalls/sys_enter_kill")
def kill_entry(ctx):
    pending[tid()] = Pending(tpid=ctx.pid, sig=ctx.sig)


@probe("tracepoint/syscalls/sys_exit_kill")
def kill_exit(ctx):
    t = tid()
    if t in pending:
        events.output(Event(pid=pid(), tpid=pending[t].tpid, sig=pending[t].sig, ret=ctx.ret, comm=comm()))
        del pending[t]


def lines(records) -> list[str]:
    return [f"{time.strftime('%H:%M:%S')} {e.pid:<7} {e.comm.decode(errors='replace'):<16} {e.sig:<4} "
            f"{e.tpid:<7} {e.ret}" for e in records]


if __name__ == "__main__":
    from pyebpf.probe import load_all

    print(f"{'TIME':<8} {'PID':<7} {'COMM':<16} {'SIG':<4} {'TPID':<7} RESULT")
    loaded = load_all([kill_entry, kill_exit])
    try:
        end = time.monotonic() + (float(sys.argv[1]) if len(sys.argv) > 1 else 1e9)
        while time.monotonic() < end:
            for line in lines(events.read(timeout=0.5)):
                print(line, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for lp in loaded:
            lp.close()
