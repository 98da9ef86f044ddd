/* USDT test program: `usdt_demo N` fires demo:tick N times with (i, -1000*i, (short)-i, 42) and demo:str with a
 * string (with a second argument, after reading a line from stdin), then prints how many of the ticks found the semaphore raised. Built by the tests with <sys/sdt.h>. */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

__extension__ unsigned short demo_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));
__extension__ unsigned short demo_str_semaphore __attribute__((unused)) __attribute__((section(".probes")));

static volatile long sink;

__attribute__((noinline)) static void tick(int i, const char *word)
{
	long big = -1000L * i;
	short small = (short)-i;
	if (demo_tick_semaphore)
		sink++;
	STAP_PROBE4(demo, tick, i, big, small, 42);
	DTRACE_PROBE2(demo, str, word, i);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2) { /* "wait": a test attaches to this process (or raises its semaphore), then writes a line */
		char line[8];
		if (!fgets(line, sizeof line, stdin))
			return 2;
	}
	for (int i = 0; i < n; i++)
		tick(i, i % 2 ? "odd" : "even");
	printf("%ld\n", sink);
	return 0;
}
