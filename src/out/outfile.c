/* outfile: output files created safely. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

static int open_nofollow(const char *path, int *created)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0666);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	return fd;
}

int outfile_open(struct outfile *o, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	memset(o, 0, sizeof(*o));
	o->path = path;
	fd = open_nofollow(path, &o->created);
	if (fd < 0) {
		snprintf(err, errlen, "%s", errno == ELOOP ?
			 "is a symbolic link (not followed)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		snprintf(err, errlen, "not a regular file or FIFO");
		close(fd);
		return -1;
	}
	/* Truncate only now that it is known to be a regular file; the
	 * descriptor was opened non-blocking so a FIFO without a reader
	 * cannot hang us, and blocks again from here on. */
	if ((S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0) ||
	    fcntl(fd, F_SETFL, 0) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	o->fp = fdopen(fd, "w");
	if (o->fp == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return 0;
}

int outfile_close(struct outfile *o)
{
	int bad;

	if (o->fp == NULL)
		return 0;
	bad = fflush(o->fp) != 0 || ferror(o->fp);
	bad |= fclose(o->fp) != 0;
	o->fp = NULL;
	return bad ? -1 : 0;
}

void outfile_discard(struct outfile *o)
{
	if (o->fp != NULL) {
		fclose(o->fp);
		o->fp = NULL;
	}
	if (o->created)
		(void)unlink(o->path);
}
