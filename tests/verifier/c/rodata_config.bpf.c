/* const volatile configuration in .rodata: libbpf (and pyebpf's loader) freeze the map, so the verifier knows
 * the values and prunes the branches on them (test_stats_kernel.py). */
#include <linux/bpf.h>
#define SEC(n) __attribute__((section(n), used))
const volatile int debug = 0;
const volatile int mode = 2;
const volatile unsigned int limit = 100;
static long (*bpf_trace_printk)(const char *fmt, int fmt_size, ...) = (void *)6;
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    int len = end - data;
    if (debug) { char f[] = "len %d\n"; bpf_trace_printk(f, sizeof(f), len); }
    if (mode == 1) { if (len > 100) return XDP_DROP; }
    else if (mode == 2) { if (len > (int)limit) return XDP_PASS; }
    else { if (len < 10) return XDP_ABORTED; }
    if (debug > 1) { char g[] = "again %d\n"; bpf_trace_printk(g, sizeof(g), len); }
    return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
