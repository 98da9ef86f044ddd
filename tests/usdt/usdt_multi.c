/* USDT probe demo:multi at three sites that keep its arguments in different places (built by the tests at -O2):
 * arg0 in a register, as a constant, and in stack memory; arg1 a different constant at each site.
 * `usdt_multi N` fires the three sites N times: (10*i, 1), (77, 2), (3*i, 3). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

__attribute__((noinline)) static void site_reg(long v)
{
	STAP_PROBE2(demo, multi, v, 1);
}

__attribute__((noinline)) static void site_const(void)
{
	STAP_PROBE2(demo, multi, 77, 2);
}

__attribute__((noinline)) static void site_mem(long v)
{
	volatile long x = v * 3;
	STAP_PROBE2(demo, multi, x, 3);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	for (long i = 0; i < n; i++) {
		site_reg(10 * i);
		site_const();
		site_mem(i);
	}
	printf("%d\n", n);
	return 0;
}
