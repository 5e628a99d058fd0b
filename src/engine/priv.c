/* Privilege drop with libcap. */
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "priv.h"

int priv_drop(int keep_net_admin)
{
	cap_t caps = cap_init();     /* all sets empty */
	cap_value_t admin = CAP_NET_ADMIN;
	int rc = 0;

	if (caps == NULL)
		return -1;
	if (keep_net_admin && cap_set_flag(caps, CAP_PERMITTED, 1, &admin, CAP_SET) < 0)
		rc = -1;
	/* A setuid-root install: become the invoking user for good, keeping
	 * the capability sets across the identity change. */
	if (rc == 0 && geteuid() != getuid()) {
		if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setuid(getuid()) < 0)
			rc = -1;
	}
	if (rc == 0 && cap_set_proc(caps) < 0) {
		/* Without CAP_SETPCAP we may not be able to shrink some sets
		 * we never had; an empty effective set is what matters. */
		cap_clear(caps);
		if (cap_set_proc(caps) < 0)
			rc = -1;
	}
	cap_free(caps);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -1;
	return rc;
}

static int admin_effective(cap_flag_value_t on)
{
	cap_t caps = cap_get_proc();
	cap_value_t admin = CAP_NET_ADMIN;
	int rc = -1;

	if (caps == NULL)
		return -1;
	if (cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, on) == 0 &&
	    cap_set_proc(caps) == 0)
		rc = 0;
	cap_free(caps);
	return rc;
}

int priv_raise_admin(void)
{
	return admin_effective(CAP_SET);
}

int priv_lower_admin(void)
{
	return admin_effective(CAP_CLEAR);
}
