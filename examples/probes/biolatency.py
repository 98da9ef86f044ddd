"""Block I/O latency, issue to completion, as a power-of-two histogram of microseconds (bcc libbpf-tools
biolatency):

    sudo python examples/probes/biolatency.py [seconds]

tp_btf block_rq_issue / block_rq_complete pass the `struct request *`, used as the key of the start time.
"""
import sys
import time

from pyebpf.probe import HashMap, Log2Histogram, ktime_ns, load_all, probe, u64

start = HashMap(u64, u64, max_entries=10240)
lat_us = Log2Histogram()


@probe("tp_btf/block_rq_issue")
def issue(ctx):
    start[u64(ctx.rq)] = ktime_ns()


@probe("tp_btf/block_rq_complete")
def complete(ctx):
    rq = u64(ctx.rq)
    began = start.get(rq, 0)
    if began != 0:
        lat_us.record((ktime_ns() - began) // 1000)
        del start[rq]


PROBES = [issue, complete]

if __name__ == "__main__":
    loaded = load_all(PROBES)
    try:
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    except KeyboardInterrupt:
        pass
    finally:
        for lp in loaded:
            lp.close()
    print("     usecs")
    print(lat_us)
