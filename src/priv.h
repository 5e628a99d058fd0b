/* Privileges: open what needs privilege first, then keep only what the
 * rest of the run needs. */
#ifndef ECNTRACE_PRIV_H
#define ECNTRACE_PRIV_H

/* Drop every capability except CAP_NET_ADMIN when keep_net_admin is set
 * (connect needs it to remove its nftables rule at exit), give up a
 * setuid identity, and forbid regaining privileges. 0 or -1. */
int priv_drop(int keep_net_admin);

#endif
