/*
 * The session as another program embeds it (session.h): one side builds
 * its session in steps, mux_new(), mux_open() of a connection it holds
 * already, mux_loop(), mux_free(); the other runs mux_run() with a route
 * to a unix socket this test listens on.  Bytes go through both ways, EOF
 * is passed on each way, and a SIGTERM to the embedding side ends both
 * sessions cleanly (GOODBYE).  MUX_TEST_LOG=1 shows the sessions' own
 * messages.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "tunnel/session.h"

#include "check.h"

#define WAIT_MS	10000

/* Read exactly len bytes from fd within WAIT_MS; 0 at EOF first, -1 else. */
static int
read_n(int fd, char *buf, size_t len)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (poll(&pf, 1, WAIT_MS) != 1)
			return -1;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return n == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

/* A child running one side; stop signals are taken only while waiting. */
static pid_t
side(const struct mux_config *cfg, int fd, int close1, int close2,
    int local)
{
	sigset_t block, old;
	struct mux *s;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	alarm(60);	/* as the test: nothing outlives it long */
	close(close1);
	if (close2 >= 0)
		close(close2);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sig_install();
	if (local < 0)
		_exit(mux_run(cfg, fd, fd));
	s = mux_new(cfg, fd, fd);
	if (s == NULL)
		_exit(99);
	if (mux_open(s, "echo", local) != 0)
		_exit(98);
	mux_loop(s);
	_exit(mux_free(s));
}

int
main(void)
{
	struct mux_route route;
	struct mux_config acfg, bcfg;
	char dir[] = "/tmp/mux-session.XXXXXX", err[300], buf[8];
	struct pollfd pf;
	sigset_t none;
	int sv[2], lp[2], lfd, conn = -1, st;
	pid_t a, b;

	signal(SIGPIPE, SIG_IGN);
	alarm(60);	/* a hang fails the test rather than the run */
	log_init("tunnel_session_test", getenv("MUX_TEST_LOG") != NULL);
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&route, 0, sizeof(route));
	strcpy(route.name, "echo");
	route.target.kind = ENDPOINT_UNIX;
	snprintf(route.target.path, sizeof(route.target.path), "%s/t", dir);
	lfd = sock_listen(&route.target, err, sizeof(err));
	if (lfd < 0) {
		printf("%s\n", err);
		return 1;
	}
	sigemptyset(&none);
	memset(&acfg, 0, sizeof(acfg));
	acfg.peer = "side B";
	acfg.waitmask = &none;
	bcfg = acfg;
	bcfg.peer = "side A";
	bcfg.routes = &route;
	bcfg.nroutes = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, lp) < 0)
		return 1;

	a = side(&acfg, sv[0], sv[1], lp[1], lp[0]);
	b = side(&bcfg, sv[1], sv[0], lp[0], -1);
	close(sv[0]);
	close(sv[1]);
	close(lp[0]);

	CHECK(write(lp[1], "ping", 4) == 4);
	pf.fd = lfd;
	pf.events = POLLIN;
	if (CHECKM(poll(&pf, 1, WAIT_MS) == 1, "the channel reaches the target"))
		conn = accept(lfd, NULL, NULL);
	if (CHECK(conn >= 0)) {
		CHECKM(read_n(conn, buf, 4) == 1 && memcmp(buf, "ping", 4) == 0,
		    "the embedder's bytes arrive");
		CHECK(write(conn, "pong", 4) == 4);
		CHECKM(read_n(lp[1], buf, 4) == 1 && memcmp(buf, "pong", 4) == 0,
		    "the answer comes back");
		shutdown(lp[1], SHUT_WR);
		CHECKM(read_n(conn, buf, 1) == 0, "EOF reaches the target");
		close(conn);
		CHECKM(read_n(lp[1], buf, 1) == 0, "EOF comes back");
	}

	kill(a, SIGTERM);
	CHECK(waitpid(a, &st, 0) == a);
	CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == MUX_CLEAN,
	    "the embedding side stops cleanly");
	CHECK(waitpid(b, &st, 0) == b);
	CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == MUX_CLEAN,
	    "the other side takes the goodbye");

	close(lp[1]);
	close(lfd);
	unlink(route.target.path);
	rmdir(dir);
	return check_done();
}
