/*
 * Connecting to a unix peer (sock_connect, which mig-tunnel's connecting
 * side uses): a listener whose backlog is full makes us wait, never hands
 * back an unconnected socket as connected; once the listener accepts, the
 * wait ends connected; a stopping signal the caller blocks outside its
 * waits still ends the wait at once (sock_connect_mask), and one that does
 * not stop (SIGUSR1 in mig-send) is waited through.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#include "base/sig.h"
#include "base/sock.h"

static volatile sig_atomic_t alarms;

/* A stopping signal, as sig_install's handlers record one. */
static void
on_alarm(int sig)
{
	sig_stop = sig;
}

/* A signal that does not stop: counted, the wait goes on. */
static void
on_other(int sig)
{
	(void)sig;
	alarms++;
}

int
main(void)
{
	char dir[] = "/tmp/tunnel-connect-XXXXXX", err[256], c;
	struct sockaddr_un sun;
	struct endpoint ep;
	struct sigaction sa;
	sigset_t block, waitmask;
	int64_t t0;
	int lfd, filler, fd, st;
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&ep, 0, sizeof(ep));
	ep.kind = ENDPOINT_UNIX;
	snprintf(ep.path, sizeof(ep.path), "%s/full", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, ep.path);

	/* Backlog 0: one connection waits in it, the next finds it full. */
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(lfd, 0) == 0);
	filler = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(connect(filler, (struct sockaddr *)&sun, sizeof(sun)) == 0);

	/* Full until the deadline: a timeout, not a socket. */
	t0 = clock_ms();
	fd = sock_connect(&ep, clock_ms() + 300, err, sizeof(err));
	CHECKM(fd < 0, "a full backlog was taken for a connection");
	CHECK(fd >= 0 || errno == ETIMEDOUT);
	CHECK(clock_ms() - t0 >= 250);
	if (fd >= 0)
		close(fd);

	/* Full now, free later: the child waits, then is connected. */
	pid = fork();
	if (pid == 0) {
		fd = sock_connect(&ep, clock_ms() + 10000, err, sizeof(err));
		if (fd < 0)
			_exit(2);
		/* Only a connected socket can send. */
		_exit(send(fd, "x", 1, MSG_NOSIGNAL) == 1 ? 0 : 3);
	}
	fd = accept(lfd, NULL, NULL);	/* the filler: room for the child */
	CHECK(fd >= 0);
	close(fd);
	fd = sock_accept(lfd, clock_ms() + 10000, err, sizeof(err));
	CHECKM(fd >= 0, err);
	CHECK(fd >= 0 && read(fd, &c, 1) == 1 && c == 'x');
	if (fd >= 0)
		close(fd);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	close(filler);

	/*
	 * Full again, SIGALRM blocked but let through while waiting.  As a
	 * signal that does not stop, it is waited through: the wait ends at
	 * its deadline, a second after the signal.
	 */
	filler = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(connect(filler, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_other;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGALRM);
	alarm(1);
	t0 = clock_ms();
	fd = sock_connect_mask(&ep, t0 + 2000, &waitmask, err, sizeof(err));
	CHECK(fd < 0 && errno == ETIMEDOUT);
	CHECK(alarms == 1 && clock_ms() - t0 >= 2000);
	alarm(0);

	/* As a stopping signal, with no deadline: it ends the wait (EINTR)
	 * within the second. */
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	t0 = clock_ms();
	fd = sock_connect_mask(&ep, 0, &waitmask, err, sizeof(err));
	CHECK(fd < 0 && errno == EINTR && sig_stop == SIGALRM);
	CHECK(clock_ms() - t0 < 5000);
	alarm(0);
	sig_stop = 0;

	close(filler);
	close(lfd);
	unlink(ep.path);
	rmdir(dir);
	return check_done();
}
