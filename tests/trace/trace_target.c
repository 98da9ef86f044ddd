/* uprobe / uretprobe / USDT target for tests/trace: `trace_target N` calls add(i, 2*i) and greet() N times and fires
 * USDT trace:tick(i, -i) each time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

static volatile long sink;

__attribute__((noinline)) int add(int a, int b)
{
	sink += a;
	return a + b;
}

__attribute__((noinline)) const char *greet(const char *who)
{
	sink++;
	return who;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long total = 0;
	for (int i = 0; i < n; i++) {
		total += add(i, 2 * i);
		greet(i % 2 ? "odd" : "even");
		DTRACE_PROBE2(trace, tick, i, (long)-i);
	}
	printf("%ld\n", total);
	return 0;
}
