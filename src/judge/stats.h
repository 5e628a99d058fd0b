/*
 * The statistics the verdict rests on. Pure.
 */
#ifndef ECNTRACE_STATS_H
#define ECNTRACE_STATS_H

/*
 * Fisher's exact test, one-sided: the probability, if failures struck both
 * groups alike, that the test group would get at least bad_t of the
 * bad_t + bad_c failures (n_t test trials, n_c control trials). Small
 * means the test group fails more than chance explains. 1.0 when there is
 * nothing to compare (a group is empty or nothing failed).
 */
double fisher_greater(int bad_t, int n_t, int bad_c, int n_c);

/*
 * Identical probes against a per-packet balancer: a of one codepoint all
 * reached X, b of the other all reached Y (X != Y). The largest chance of
 * that, whatever the balancer's weights (qX + qY <= 1): max qX^a qY^b =
 * a^a b^b / (a+b)^(a+b), which is 4^-a when a = b. 1.0 if a or b is 0.
 */
double pp_miss_pair(int a, int b);

#endif
