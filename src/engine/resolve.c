/* Target resolution, source address selection, background reverse DNS. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "resolve.h"

int parse_addr(const char *s, int family, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	if (family != AF_INET6 && inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (family != AF_INET && inet_pton(AF_INET6, s, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

int host_name_ok(const char *host)
{
	size_t n;

	for (n = 0; host[n] != '\0'; n++)
		if (n == 253 || (unsigned char)host[n] < 0x21 ||
		    (unsigned char)host[n] > 0x7e)
			return 0;
	return n > 0;
}

int resolve_target(const char *host, int family, struct addr *out,
		   char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	if (!host_name_ok(host)) {
		snprintf(err, errlen, "invalid host name '%s' (1-253 printable "
			 "ASCII characters)", host);
		return EX_USAGE;
	}
	if (parse_addr(host, family, out) == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family ? family : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return EX_NOHOST;
	}
	/* Prefer IPv4 when either family will do, like traceroute. */
	for (int pass = 0; pass < 2; pass++) {
		for (ai = res; ai; ai = ai->ai_next) {
			if (pass == 0 && family == 0 && ai->ai_family != AF_INET)
				continue;
			if (ai->ai_family == AF_INET) {
				out->family = AF_INET;
				memcpy(&out->u.v4,
				       &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
				       sizeof(out->u.v4));
			} else if (ai->ai_family == AF_INET6) {
				out->family = AF_INET6;
				memcpy(&out->u.v6,
				       &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
				       sizeof(out->u.v6));
			} else {
				continue;
			}
			freeaddrinfo(res);
			return 0;
		}
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "%s: no address of the requested family", host);
	return EX_NOHOST;
}

int pick_source(const struct addr *dst, const char *iface, struct addr *src,
		char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return EX_OSERR;
	}
	if (iface != NULL &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface,
		       (socklen_t)strlen(iface) + 1) < 0) {
		snprintf(err, errlen, "interface %s: %s", iface, strerror(errno));
		close(fd);
		return errno == EPERM ? EX_NOPERM : EX_UNAVAILABLE;
	}
	memset(&ss, 0, sizeof(ss));
	if (dst->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		sin->sin_addr = dst->u.v4;
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		sin6->sin6_addr = dst->u.v6;
		sl = sizeof(*sin6);
	}
	/* connect() on UDP sends nothing; it only asks the routing table. */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		char a[INET6_ADDRSTRLEN];

		snprintf(err, errlen, "no route to %s: %s",
			 addr_str(dst, a, sizeof(a)), strerror(errno));
		close(fd);
		return EX_UNAVAILABLE;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		close(fd);
		return EX_OSERR;
	}
	close(fd);
	memset(src, 0, sizeof(*src));
	src->family = dst->family;
	if (dst->family == AF_INET)
		src->u.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	else
		src->u.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	return 0;
}

/* Background reverse DNS: one detached thread per distinct address, at
 * most RDNS_MAX of them; results are read under one lock. */
#define RDNS_MAX 256

static struct rdns_entry {
	struct addr a;
	char name[NI_MAXHOST];
	int done, found;
} rdns_tab[RDNS_MAX];
static size_t rdns_n;
static pthread_mutex_t rdns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rdns_cond = PTHREAD_COND_INITIALIZER;

static void *rdns_worker(void *arg)
{
	struct rdns_entry *e = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[NI_MAXHOST];
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (e->a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = e->a.u.v4;
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = e->a.u.v6;
		sl = sizeof(*sin6);
	}
	rc = getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	pthread_mutex_lock(&rdns_lock);
	if (rc == 0) {
		snprintf(e->name, sizeof(e->name), "%s", host);
		e->found = 1;
	}
	e->done = 1;
	pthread_cond_broadcast(&rdns_cond);
	pthread_mutex_unlock(&rdns_lock);
	return NULL;
}

void rdns_want(const struct addr *a)
{
	pthread_t t;
	pthread_attr_t attr;
	struct rdns_entry *e;

	pthread_mutex_lock(&rdns_lock);
	for (size_t i = 0; i < rdns_n; i++) {
		if (addr_eq(&rdns_tab[i].a, a)) {
			pthread_mutex_unlock(&rdns_lock);
			return;
		}
	}
	if (rdns_n == RDNS_MAX) {
		pthread_mutex_unlock(&rdns_lock);
		return;
	}
	e = &rdns_tab[rdns_n++];
	e->a = *a;
	pthread_mutex_unlock(&rdns_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, rdns_worker, e) != 0) {
		pthread_mutex_lock(&rdns_lock);
		e->done = 1;
		pthread_mutex_unlock(&rdns_lock);
	}
	pthread_attr_destroy(&attr);
}

const char *rdns_name(const struct addr *a)
{
	const char *name = NULL;

	pthread_mutex_lock(&rdns_lock);
	for (size_t i = 0; i < rdns_n; i++)
		if (addr_eq(&rdns_tab[i].a, a) && rdns_tab[i].found)
			name = rdns_tab[i].name;
	pthread_mutex_unlock(&rdns_lock);
	return name;
}

void rdns_finish(int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&rdns_lock);
	for (;;) {
		size_t pending = 0;

		for (size_t i = 0; i < rdns_n; i++)
			pending += !rdns_tab[i].done;
		if (pending == 0 ||
		    pthread_cond_timedwait(&rdns_cond, &rdns_lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&rdns_lock);
}
