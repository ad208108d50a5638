#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "control/ctl_tunnel.h"
#include "tunnel/session.h"

#define CTL_TUNNEL_STOP_MS 2000		/* its goodbye, at the end */

/* ep = dir/file. */
static int
ctl_tunnel_path(const struct ctl_tunnel *t, const char *file,
    struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->kind = ENDPOINT_UNIX;
	return snprintf(ep->path, sizeof(ep->path), "%s/%s", t->dir, file) <
	    (int)sizeof(ep->path) ? 0 : -1;
}

/* Remove the directory and what the two sides made in it. */
static void
ctl_tunnel_rmdir(struct ctl_tunnel *t)
{
	struct endpoint ep;

	if (t->dir[0] == '\0')
		return;
	if (ctl_tunnel_path(t, "ctl.sock", &ep) == 0)
		unlink(ep.path);
	unlink(t->mig.path);
	unlink(t->nbd.path);
	rmdir(t->dir);
	t->dir[0] = '\0';
}

/*
 * The session process: it ends when told (SIGTERM, also sent if the tool
 * dies), when the peer says goodbye or is lost; the tool's other signals
 * (a terminal's SIGINT) are the tool's to handle, while the tunnel
 * carries its rollback.
 */
static void
ctl_tunnel_child(struct ctl_tunnel *t, struct mux_config *cfg,
    pid_t parent, int rfd, int wfd, const uint8_t *pending, size_t npending,
    int ctl)
{
	struct sigaction sa;
	sigset_t block, waitmask;
	struct mux *s;
	int rc;

	sig_install();		/* the tool may not have yet */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sig_stop = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	cfg->waitmask = &waitmask;	/* SIGTERM is taken in the wait only */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(MUX_LOST);	/* the tool died before prctl */
	s = mux_new(cfg, rfd, wfd);
	if (s == NULL)
		_exit(MUX_LOST);
	if (ctl >= 0 && mux_open(s, "ctl", ctl) < 0) {
		mux_free(s);
		_exit(MUX_LOST);
	}
	if (mux_feed(s, pending, npending))
		mux_loop(s);
	rc = mux_free(s);
	/* A killed tool leaves nothing behind either. */
	ctl_tunnel_rmdir(t);
	_exit(rc);
}

int
ctl_tunnel_start(struct ctl_tunnel *t, int is_source, int rfd, int wfd,
    const uint8_t *pending, size_t npending, int64_t deadline_ms, char *err,
    size_t errlen)
{
	static struct mux_listener listeners[2];
	static struct mux_route routes[3];
	static struct mux_config cfg;
	const char *tmp = getenv("TMPDIR");
	struct endpoint ctl_ep;
	int sv[2] = { -1, -1 }, lfd = -1, ctl = -1, ready = 0;
	size_t i;
	pid_t parent = getpid();

	memset(t, 0, sizeof(*t));
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (snprintf(t->dir, sizeof(t->dir), "%s/mig-tunnel.XXXXXX", tmp) >=
	    (int)sizeof(t->dir)) {
		t->dir[0] = '\0';
		snprintf(err, errlen, "--tunnelled: TMPDIR is too long for "
		    "the tunnel's sockets");
		return -1;
	}
	if (mkdtemp(t->dir) == NULL) {
		snprintf(err, errlen, "--tunnelled: cannot make a directory "
		    "in %s: %s", tmp, strerror(errno));
		t->dir[0] = '\0';
		return -1;
	}
	ctl_tunnel_path(t, "mig.sock", &t->mig);
	ctl_tunnel_path(t, "nbd.sock", &t->nbd);
	ctl_tunnel_path(t, "ctl.sock", &ctl_ep);
	memset(&cfg, 0, sizeof(cfg));
	memset(listeners, 0, sizeof(listeners));
	memset(routes, 0, sizeof(routes));
	listeners[0].fd = listeners[1].fd = -1;
	cfg.peer = is_source ? "the destination" : "the source";
	if (is_source) {
		/* QEMU connects here; each connection opens a channel. */
		strcpy(listeners[0].name, "mig");
		listeners[0].ep = t->mig;
		strcpy(listeners[1].name, "nbd");
		listeners[1].ep = t->nbd;
		for (i = 0; i < 2; i++) {
			listeners[i].fd = sock_listen(&listeners[i].ep, err,
			    errlen);
			if (listeners[i].fd < 0 ||
			    sock_set_nonblock(listeners[i].fd, 1) < 0)
				goto fail;
		}
		cfg.listeners = listeners;
		cfg.nlisteners = 2;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sv) < 0) {
			snprintf(err, errlen, "socketpair: %s",
			    strerror(errno));
			goto fail;
		}
	} else {
		/* The source's channels go to the destination QEMU's
		 * sockets, and the control one to us. */
		strcpy(routes[0].name, "mig");
		routes[0].target = t->mig;
		strcpy(routes[1].name, "nbd");
		routes[1].target = t->nbd;
		strcpy(routes[2].name, "ctl");
		routes[2].target = ctl_ep;
		cfg.routes = routes;
		cfg.nroutes = 3;
		lfd = sock_listen(&ctl_ep, err, errlen);
		if (lfd < 0)
			goto fail;
	}
	t->pid = fork();
	if (t->pid < 0) {
		t->pid = 0;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (t->pid == 0) {
		if (lfd >= 0)
			close(lfd);
		if (sv[0] >= 0)
			close(sv[0]);
		ctl_tunnel_child(t, &cfg, parent, rfd, wfd, pending,
		    npending, sv[1]);
	}
	for (i = 0; i < 2; i++)
		if (listeners[i].fd >= 0)
			close(listeners[i].fd);
	if (is_source) {
		close(sv[1]);
		return sv[0];
	}
	/* The source's session opens "ctl" once both are up; ours ends
	 * first if the source speaks something else. */
	while (!(ready = sock_accept_ready(lfd, clock_ms() + 100)) &&
	    clock_ms() < deadline_ms && !sig_stop)
		if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
			t->pid = 0;	/* reaped */
			break;
		}
	ctl = ready ? sock_accept(lfd, deadline_ms, err, errlen) : -1;
	close(lfd);
	unlink(ctl_ep.path);
	if (ctl < 0) {
		snprintf(err, errlen, "--tunnelled: no control channel from "
		    "the source's tunnel (its log says why)");
		ctl_tunnel_end(t, -1);
		return -1;
	}
	return ctl;
fail:
	for (i = 0; i < 2; i++)
		if (listeners[i].fd >= 0)
			close(listeners[i].fd);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (lfd >= 0)
		close(lfd);
	ctl_tunnel_rmdir(t);
	return -1;
}

void
ctl_tunnel_end(struct ctl_tunnel *t, int ctl)
{
	int64_t until = clock_ms() + CTL_TUNNEL_STOP_MS;
	pid_t w;

	if (ctl >= 0)
		close(ctl);
	if (t->pid > 0) {
		kill(t->pid, SIGTERM);
		/* Its goodbye may wait for a peer that does not read. */
		while ((w = waitpid(t->pid, NULL, WNOHANG)) == 0 &&
		    clock_ms() < until)
			poll(NULL, 0, 20);
		if (w == 0) {
			kill(t->pid, SIGKILL);
			while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		t->pid = 0;
	}
	ctl_tunnel_rmdir(t);
}
