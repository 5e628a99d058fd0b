/* stats: Fisher's exact test for "ECN fails more than its control". */
#include <math.h>

#include "stats.h"

static double log_choose(int n, int k)
{
	return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

/* Hypergeometric tail: of N = n_t + n_c trials with K failures, the chance
 * that a random n_t of them hold at least bad_t failures. */
double fisher_greater(int bad_t, int n_t, int bad_c, int n_c)
{
	int N = n_t + n_c, K = bad_t + bad_c, hi;
	double p = 0, denom;

	if (n_t <= 0 || n_c <= 0 || K <= 0 || bad_t < 0 || bad_c < 0 ||
	    bad_t > n_t || bad_c > n_c)
		return 1.0;
	denom = log_choose(N, n_t);
	hi = K < n_t ? K : n_t;
	for (int x = bad_t; x <= hi; x++) {
		if (K - x > n_c)
			continue;
		p += exp(log_choose(K, x) + log_choose(N - K, n_t - x) - denom);
	}
	return p > 1.0 ? 1.0 : p;
}

double pp_miss_pair(int a, int b)
{
	if (a <= 0 || b <= 0)
		return 1.0;
	return exp(a * log((double)a) + b * log((double)b) -
		   (a + b) * log((double)(a + b)));
}
