#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "tls/tls.h"
#include "tunnel/tunnel.h"

#define TUNNEL_CONNECT_MS	15000	/* to reach a tcp:/unix: peer */
#define TUNNEL_REAP_MS		5000	/* sessions get this to say goodbye */

/* A unix socket we created, removed on exit only if it is still ours. */
struct tunnel_sock {
	char path[108];
	dev_t dev;
	ino_t ino;
};

static struct tunnel_sock tunnel_socks[TUNNEL_MAX_LISTENERS + 1];
static size_t tunnel_nsocks;
static volatile sig_atomic_t tunnel_child_exited;

void
tunnel_opts_init(struct tunnel_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->peer.kind = ENDPOINT_STDIO;
	o->keepalive_s = 15;
	o->handshake_s = MUX_HANDSHAKE_MS / 1000;
	o->max_sessions = TUNNEL_SESSIONS;
	o->max_per_source = TUNNEL_PER_SOURCE;
}

static int
tunnel_fail(char *err, size_t errlen, const char *arg, const char *why)
{
	snprintf(err, errlen, "'%s': %s", arg, why);
	return -1;
}

int
tunnel_add_local(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen)
{
	struct mux_listener *l;
	const char *eq = strrchr(arg, '=');
	char text[512], why[400];
	size_t i, len;

	if (o->nlisteners == TUNNEL_MAX_LISTENERS)
		return tunnel_fail(err, errlen, arg, "too many -L (64 at most)");
	/* The last '=' splits: a path may hold '=', a name may not. */
	if (eq == NULL)
		return tunnel_fail(err, errlen, arg, "expected unix:PATH=NAME");
	len = (size_t)(eq - arg);
	if (len >= sizeof(text))
		return tunnel_fail(err, errlen, arg, "too long");
	memcpy(text, arg, len);
	text[len] = '\0';
	if (!frame_name_ok(eq + 1, strlen(eq + 1)))
		return tunnel_fail(err, errlen, arg, "NAME must be 1 to 255 "
		    "printable characters without spaces");
	l = &o->listeners[o->nlisteners];
	if (endpoint_parse(text, ENDPOINT_ALLOW(ENDPOINT_UNIX), &l->ep, why,
	    sizeof(why)) < 0)
		return tunnel_fail(err, errlen, arg, why);
	for (i = 0; i < o->nlisteners; i++)
		if (strcmp(o->listeners[i].ep.path, l->ep.path) == 0)
			return tunnel_fail(err, errlen, arg,
			    "that path is given twice");
	strcpy(l->name, eq + 1);
	l->fd = -1;
	o->nlisteners++;
	return 0;
}

int
tunnel_add_route(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen)
{
	struct mux_route *r;
	const char *eq = strchr(arg, '=');
	char why[400];
	size_t i, len;

	if (o->nroutes == TUNNEL_MAX_ROUTES)
		return tunnel_fail(err, errlen, arg, "too many -R (64 at most)");
	if (eq == NULL)
		return tunnel_fail(err, errlen, arg, "expected NAME=unix:PATH");
	len = (size_t)(eq - arg);
	if (!frame_name_ok(arg, len))
		return tunnel_fail(err, errlen, arg, "NAME must be 1 to 255 "
		    "printable characters without spaces");
	r = &o->routes[o->nroutes];
	if (endpoint_parse(eq + 1, ENDPOINT_ALLOW(ENDPOINT_UNIX), &r->target,
	    why, sizeof(why)) < 0)
		return tunnel_fail(err, errlen, arg, why);
	memcpy(r->name, arg, len);
	r->name[len] = '\0';
	for (i = 0; i < o->nroutes; i++)
		if (strcmp(o->routes[i].name, r->name) == 0)
			return tunnel_fail(err, errlen, arg,
			    "that NAME is given twice");
	o->nroutes++;
	return 0;
}

int
tunnel_set_peer(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen)
{
	unsigned allowed = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);

	o->peer_listen = strncmp(arg, "listen:", 7) == 0;
	if (o->peer_listen)
		arg += 7;
	else
		allowed |= ENDPOINT_ALLOW(ENDPOINT_STDIO);
	return endpoint_parse(arg, allowed, &o->peer, err, errlen);
}

int
tunnel_check(const struct tunnel_opts *o, char *err, size_t errlen)
{
	int tls = o->tls_cert || o->tls_key || o->tls_ca;

	if (tls && !(o->tls_cert && o->tls_key && o->tls_ca)) {
		snprintf(err, errlen, "TLS needs all of --tls-cert, --tls-key "
		    "and --tls-ca");
		return -1;
	}
	if (!tls && (o->tls_peer_name || o->tls_client)) {
		snprintf(err, errlen, "--tls-peer-name and --tls-client need "
		    "--tls-cert, --tls-key and --tls-ca");
		return -1;
	}
	if (o->tls_client && o->peer.kind != ENDPOINT_STDIO) {
		snprintf(err, errlen, "--tls-client is for PEER '-' only (a "
		    "connecting tunnel is the client anyway)");
		return -1;
	}
	if (o->limits_set && !o->peer_listen) {
		snprintf(err, errlen, "--max-sessions and --max-per-source are "
		    "for a listening PEER (listen:...)");
		return -1;
	}
	if (!tls && !o->insecure && o->peer.kind == ENDPOINT_TCP) {
		snprintf(err, errlen, "a tcp: peer carries the guest's memory: "
		    "use --tls-cert, --tls-key and --tls-ca, or --insecure to "
		    "send it in the clear");
		return -1;
	}
	return 0;
}

/* ---- sockets we own ---- */

static int
tunnel_listen(const struct endpoint *ep, char *err, size_t errlen)
{
	struct tunnel_sock *ts;
	struct stat st;
	int fd;

	fd = sock_listen(ep, err, errlen);
	if (fd < 0 || ep->kind != ENDPOINT_UNIX)
		return fd;
	if (sock_set_nonblock(fd, 1) < 0 || stat(ep->path, &st) < 0) {
		snprintf(err, errlen, "unix:%s: %s", ep->path, strerror(errno));
		close(fd);
		unlink(ep->path);
		return -1;
	}
	ts = &tunnel_socks[tunnel_nsocks++];
	strcpy(ts->path, ep->path);
	ts->dev = st.st_dev;
	ts->ino = st.st_ino;
	return fd;
}

/* Someone may have replaced a socket of ours since; leave theirs alone. */
static void
tunnel_unlink_all(void)
{
	struct tunnel_sock *ts;
	struct stat st;
	size_t i;

	for (i = 0; i < tunnel_nsocks; i++) {
		ts = &tunnel_socks[i];
		if (lstat(ts->path, &st) == 0 && st.st_dev == ts->dev &&
		    st.st_ino == ts->ino)
			unlink(ts->path);
	}
	tunnel_nsocks = 0;
}

/* ---- sessions ---- */

static int
tunnel_session(const struct tunnel_opts *o, const struct tls_config *tls,
    int tls_server, int rfd, int wfd, const char *desc,
    const sigset_t *waitmask)
{
	struct mux_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.routes = o->routes;
	cfg.nroutes = o->nroutes;
	cfg.listeners = o->listeners;
	cfg.nlisteners = o->nlisteners;
	cfg.keepalive_s = o->keepalive_s;
	cfg.handshake_ms = o->handshake_s * 1000;
	cfg.tls = tls;
	cfg.tls_server = tls_server;
	cfg.peer = desc;
	cfg.waitmask = waitmask;
	return mux_run(&cfg, rfd, wfd);
}

static void
tunnel_on_child(int sig)
{
	(void)sig;
	tunnel_child_exited = 1;
}

/*
 * Where a peer comes from, for --max-per-source: its address for TCP (a
 * port is cheap, an address is not), its user for a unix socket.
 */
struct tunnel_source {
	int family;		/* AF_INET, AF_INET6, AF_UNIX */
	uint8_t addr[16];	/* AF_INET: 4 bytes; AF_UNIX: the uid */
};

static void
tunnel_source(int fd, const struct sockaddr_storage *ss,
    struct tunnel_source *src)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(src, 0, sizeof(*src));
	src->family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(src->addr, &((const struct sockaddr_in *)ss)->sin_addr,
		    4);
	else if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		/* A dual-stack listener: the same client either way. */
		src->family = AF_INET;
		memcpy(src->addr, in6->sin6_addr.s6_addr + 12, 4);
	} else if (ss->ss_family == AF_INET6)
		memcpy(src->addr, &in6->sin6_addr, 16);
	else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		memcpy(src->addr, &cred.uid, sizeof(cred.uid));
	else
		memset(src->addr, 0xff, sizeof(src->addr));	/* unknown */
}

/* Name an accepted peer for messages: "peer 10.0.0.2:51234". */
static void
tunnel_describe(const struct sockaddr_storage *ss, socklen_t len,
    const struct tunnel_source *src, const struct endpoint *ep,
    unsigned long n, char *buf, size_t buflen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	uid_t uid;

	memcpy(&uid, src->addr, sizeof(uid));
	if (ss->ss_family != AF_UNIX && getnameinfo((const struct sockaddr *)ss,
	    len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(buf, buflen, strchr(host, ':') ? "peer [%s]:%s" :
		    "peer %s:%s", host, port);
	else
		snprintf(buf, buflen, "peer #%lu on unix:%s (uid %ld)", n,
		    ep->path, uid == (uid_t)-1 ? -1L : (long)uid);
}

struct tunnel_child {
	pid_t pid;
	unsigned long n;
	struct tunnel_source src;
};

static size_t
tunnel_count_source(const struct tunnel_child *kids, size_t nkids,
    const struct tunnel_source *src)
{
	size_t i, n = 0;

	for (i = 0; i < nkids; i++)
		n += memcmp(&kids[i].src, src, sizeof(*src)) == 0;
	return n;
}

/*
 * A connection over its source's share is closed unheard.  A flood of
 * them is told once every 10 s, with how many since.
 */
static void
tunnel_turn_away(const char *desc, size_t have)
{
	static int64_t last;
	static unsigned long quiet;
	int64_t now = clock_ms();

	if (last != 0 && now - last < 10000) {
		quiet++;
		return;
	}
	if (quiet)
		log_warn("%s: closed unheard, %zu sessions from there already "
		    "(--max-per-source); %lu more closed since the last such "
		    "message", desc, have, quiet);
	else
		log_warn("%s: closed unheard, %zu sessions from there already "
		    "(--max-per-source)", desc, have);
	last = now;
	quiet = 0;
}

/* Collect exited sessions; log how each ended when it was not clean. */
static void
tunnel_reap(struct tunnel_child *kids, size_t *nkids)
{
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < *nkids && kids[i].pid != pid; i++)
			;
		if (i == *nkids)
			continue;
		if (WIFEXITED(st))
			log_info("session %lu ended with status %d", kids[i].n,
			    WEXITSTATUS(st));
		else
			log_warn("session %lu killed by signal %d", kids[i].n,
			    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		kids[i] = kids[--*nkids];
	}
}

/* Stop every session: TERM (each says goodbye), then KILL at a deadline. */
static void
tunnel_stop_kids(struct tunnel_child *kids, size_t *nkids,
    const sigset_t *waitmask)
{
	int64_t left, deadline = clock_ms() + TUNNEL_REAP_MS;
	struct timespec ts;
	size_t i;

	for (i = 0; i < *nkids; i++)
		kill(kids[i].pid, SIGTERM);
	for (;;) {
		tunnel_reap(kids, nkids);
		left = deadline - clock_ms();
		if (*nkids == 0 || left <= 0)
			break;
		/* SIGCHLD ends the wait early. */
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		ppoll(NULL, 0, &ts, waitmask);
	}
	for (i = 0; i < *nkids; i++) {
		log_warn("session %lu did not stop in time; killed", kids[i].n);
		kill(kids[i].pid, SIGKILL);
		waitpid(kids[i].pid, NULL, 0);
	}
	*nkids = 0;
}

/* listen:...: one forked session per peer, until told to stop. */
static int
tunnel_serve(const struct tunnel_opts *o, const struct tls_config *tls,
    const sigset_t *waitmask)
{
	static struct tunnel_child kids[TUNNEL_MAX_SESSIONS];
	struct tunnel_source src;
	size_t have;
	struct sockaddr_storage ss;
	struct sigaction sa;
	struct pollfd p;
	struct timespec pause = { 0, 100 * 1000000 }, *tsp;
	char err[400], desc[192];
	unsigned long nsess = 0;
	size_t nkids = 0;
	socklen_t len;
	pid_t pid;
	int lfd, fd, n, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tunnel_on_child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	lfd = tunnel_listen(&o->peer, err, sizeof(err));
	if (lfd < 0) {
		log_err("%s", err);
		return TUNNEL_EXIT_USAGE;
	}
	sock_set_nonblock(lfd, 1);
	endpoint_format(&o->peer, err, sizeof(err));
	log_info("listening for peers on %s", err);
	tsp = NULL;
	while (!sig_stop) {
		tunnel_child_exited = 0;
		tunnel_reap(kids, &nkids);
		p.fd = lfd;
		/* All slots taken: new peers wait in the kernel's backlog. */
		p.events = nkids < (size_t)o->max_sessions ? POLLIN : 0;
		p.revents = 0;
		n = ppoll(&p, 1, tsp, waitmask);
		tsp = NULL;
		if (n <= 0)
			continue;	/* a signal, or the pause is over */
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept: %s", strerror(errno));
				tsp = &pause;
			}
			continue;
		}
		nsess++;
		tunnel_source(fd, &ss, &src);
		tunnel_describe(&ss, len, &src, &o->peer, nsess, desc,
		    sizeof(desc));
		have = tunnel_count_source(kids, nkids, &src);
		if (have >= (size_t)o->max_per_source) {
			/* One source may not take every slot. */
			tunnel_turn_away(desc, have);
			close(fd);
			continue;
		}
		if (ss.ss_family != AF_UNIX)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		pid = fork();
		if (pid == 0) {
			close(lfd);
			_exit(tunnel_session(o, tls, 1, fd, fd, desc, waitmask));
		}
		close(fd);
		if (pid < 0) {
			log_err("session with %s: fork: %s", desc,
			    strerror(errno));
			continue;
		}
		log_info("session %lu: %s", nsess, desc);
		kids[nkids].pid = pid;
		kids[nkids].n = nsess;
		kids[nkids].src = src;
		nkids++;
	}
	log_info("stopping");
	close(lfd);
	tunnel_stop_kids(kids, &nkids, waitmask);
	return TUNNEL_EXIT_OK;
}

int
tunnel_run(struct tunnel_opts *o)
{
	struct tls_config *tls = NULL;
	sigset_t block, waitmask;
	char err[400], desc[420];
	size_t i;
	int rc = TUNNEL_EXIT_LOST, fd = -1;

	/* The frames would land on a user's screen (and its escape
	 * sequences): a stdio peer is a pipe or a socket, never a terminal. */
	if (!o->peer_listen && o->peer.kind == ENDPOINT_STDIO && isatty(1)) {
		log_err("standard output is a terminal: the peer stream is "
		    "binary (give a PEER, or a pipe or socket as stdout)");
		return TUNNEL_EXIT_USAGE;
	}
	sig_install();
	/*
	 * Signals are taken only inside ppoll: a flag set between a check
	 * and the wait cannot be missed.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGCHLD);

	if (o->tls_cert != NULL) {
		tls = tls_config_load(o->tls_cert, o->tls_key, o->tls_ca,
		    o->tls_peer_name, err, sizeof(err));
		if (tls == NULL) {
			log_err("%s", err);
			return TUNNEL_EXIT_USAGE;
		}
	}
	for (i = 0; i < o->nlisteners; i++) {
		o->listeners[i].fd = tunnel_listen(&o->listeners[i].ep, err,
		    sizeof(err));
		if (o->listeners[i].fd < 0) {
			log_err("-L: %s", err);
			rc = TUNNEL_EXIT_USAGE;
			goto out;
		}
	}
	if (o->peer_listen) {
		rc = tunnel_serve(o, tls, &waitmask);
		goto out;
	}
	if (o->peer.kind == ENDPOINT_STDIO) {
		rc = tunnel_session(o, tls, !o->tls_client, 0, 1,
		    "peer on stdin/stdout", &waitmask);
		goto out;
	}
	endpoint_format(&o->peer, err, sizeof(err));
	snprintf(desc, sizeof(desc), "peer %s", err);
	log_info("connecting to %s", desc);
	/* Signals are blocked outside waits: the connect's wait takes them. */
	fd = sock_connect_mask(&o->peer, clock_ms() + TUNNEL_CONNECT_MS,
	    &waitmask, err, sizeof(err));
	if (fd < 0 && sig_stop) {
		log_info("stopped while connecting to %s", desc);
		rc = TUNNEL_EXIT_OK;
		goto out;
	}
	if (fd < 0) {
		log_err("%s", err);
		goto out;
	}
	log_info("connected to %s", desc);
	rc = tunnel_session(o, tls, 0, fd, fd, desc, &waitmask);
out:
	if (fd >= 0)
		close(fd);
	for (i = 0; i < o->nlisteners; i++)
		if (o->listeners[i].fd >= 0)
			close(o->listeners[i].fd);
	tunnel_unlink_all();
	if (tls != NULL)
		tls_config_free(tls);
	return rc;
}
