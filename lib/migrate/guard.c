#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migrate/guard.h"

#define GUARD_DONE 'D'

/* In the child: keep only stderr and the pipe; stdin, stdout on /dev/null. */
static void
guard_close_fds(int keep)
{
	struct dirent *e;
	DIR *d;
	int fd, null;

	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 2 && null != keep)
			close(null);
	}
	d = opendir("/proc/self/fd");
	if (d == NULL) {
		for (fd = 3; fd < 1024; fd++)
			if (fd != keep)
				close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		fd = atoi(e->d_name);
		if (fd > 2 && fd != keep && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

static void
guard_child(int rfd, guard_rescue_fn rescue, void *arg)
{
	struct sigaction sa;
	int mark = 0;
	char c;
	ssize_t n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	guard_close_fds(rfd);
	for (;;) {
		n = read(rfd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* the tool is gone */
		if (c == GUARD_DONE)
			_exit(0);
		mark = c;
	}
	rescue(arg, mark);
	_exit(0);
}

int
guard_start(struct guard *g, guard_rescue_fn rescue, void *arg)
{
	int p[2];

	g->fd = -1;
	g->pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	g->pid = fork();
	if (g->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (g->pid == 0) {
		close(p[1]);
		guard_child(p[0], rescue, arg);
	}
	close(p[0]);
	g->fd = p[1];
	return 0;
}

void
guard_mark(struct guard *g, int mark)
{
	char c = (char)mark;

	if (g->fd >= 0)
		while (write(g->fd, &c, 1) < 0 && errno == EINTR)
			;
}

void
guard_done(struct guard *g)
{
	if (g->fd < 0)
		return;
	guard_mark(g, GUARD_DONE);
	close(g->fd);
	g->fd = -1;
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
}
