/* Privileges: open what needs privilege first, then keep only what the
 * rest of the run needs, and that only in the permitted set: it is made
 * effective just around the work that needs it. */
#ifndef ECNTRACE_PRIV_H
#define ECNTRACE_PRIV_H

/* Give up a setuid identity, keep no capability (keep_net_admin: only
 * CAP_NET_ADMIN, permitted but not effective, for the nftables table),
 * and forbid regaining privileges. 0 or -1. */
int priv_drop(int keep_net_admin);
/* Make CAP_NET_ADMIN effective, or not any more. 0 or -1. */
int priv_raise_admin(void);
int priv_lower_admin(void);

#endif
