/*
 * The session loop (session.h): set up, then round after round: frame
 * what is due and write it (proto.c, through the transport), run the
 * timers, poll the peer stream, the channels' local connections and the
 * -L listeners, serve what poll found, each in the phase it was polled
 * for; then tear down.  The protocol is proto.c, the channel table
 * chantab.c, the peer stream peer_plain.c or peer_tls.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "tunnel/mux.h"
#include "tunnel/proto.h"

#define MUX_ACCEPT_BURST 16
#define MUX_ACCEPT_PAUSE 100		/* ms: out of fds, the backlog waits */
#define MUX_BYE_MS	2000		/* to flush GOODBYE when stopping */
#define MUX_PFDS(cfg)	(2 + (cfg)->nlisteners + CHANTAB_MAX)

void
mux_end(struct mux *s, int result, const char *fmt, ...)
{
	va_list ap;

	if (s->done)
		return;
	s->done = 1;
	s->result = result;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

/* ---- setup and teardown ---- */

static int
mux_setup(struct mux *s, char *err, size_t errlen)
{
	s->pfds = calloc(MUX_PFDS(s->cfg), sizeof(*s->pfds));
	s->pchan = calloc(MUX_PFDS(s->cfg), sizeof(*s->pchan));
	if (s->pfds == NULL || s->pchan == NULL) {
		snprintf(err, errlen, "out of memory");
		return MUX_LOST;
	}
	frame_dec_init(&s->dec, MUX_DATA_MAX);
	if (sock_set_nonblock(s->peer.rfd, 1) < 0 ||
	    sock_set_nonblock(s->peer.wfd, 1) < 0) {
		snprintf(err, errlen, "cannot make the peer stream "
		    "nonblocking: %s", strerror(errno));
		return MUX_LOST;
	}
	return s->peer.ops->start(s, err, errlen);
}

struct mux *
mux_new(const struct mux_config *cfg, int rfd, int wfd)
{
	struct mux *s;
	char err[256];
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		log_err("%s: out of memory", cfg->peer);
		return NULL;
	}
	s->cfg = cfg;
	chantab_init(&s->tab);
	s->peer.ops = cfg->tls != NULL ? &peer_tls_ops : &peer_plain_ops;
	s->peer.rfd = rfd;
	s->peer.wfd = wfd;
	s->peer.lowat = 1;
	s->now = s->start = s->last_rx = s->last_ping = clock_ms();
	rc = mux_setup(s, err, sizeof(err));
	if (rc != 0) {
		/* Out of memory, or TLS would not start: nothing to undo. */
		mux_end(s, rc, "%s: %s", cfg->peer, err);
	}
	return s;
}

int
mux_free(struct mux *s)
{
	int rc;

	if (!s->done)
		mux_end(s, MUX_CLEAN, "session with %s closed", s->cfg->peer);
	if (s->bye_rcvd || s->bye_sent)
		s->peer.ops->bye(s);
	if (s->result == MUX_CLEAN)
		log_info("%s", s->why);
	else
		log_err("%s", s->why);
	rc = s->result;
	chantab_free_all(&s->tab);
	s->peer.ops->stop(s);
	free(s->pfds);
	free(s->pchan);
	free(s);
	return rc;
}

/* ---- a round ---- */

/* The part of a round that does not wait: frame what is due, write it. */
static void
mux_produce(struct mux *s)
{
	if (sig_stop && !s->stopping && !s->done) {
		/* Told to stop: local connections end now, GOODBYE goes out. */
		proto_stop(s);
		s->bye_deadline = s->now + MUX_BYE_MS;
	}
	if (!s->done) {
		proto_generate(s);
		s->peer.ops->flush(s);
	}
	if (!s->done && s->stopping && s->bye_sent && s->peer.ops->drained(s)) {
		/* Told to stop, and the peer has our GOODBYE. */
		mux_end(s, MUX_CLEAN, "stopped; said goodbye to %s",
		    s->cfg->peer);
	}
	chantab_sweep(&s->tab);
}

/* Keepalive, deadlines and connect retries; returns the poll timeout. */
static int
mux_timers(struct mux *s)
{
	int64_t ka = (int64_t)s->cfg->keepalive_s * 1000, next = -1, t;
	int64_t hello = s->cfg->handshake_ms > 0 ? s->cfg->handshake_ms :
	    MUX_HANDSHAKE_MS;

#define MUX_NEXT(when) do { t = (when); \
	if (t >= 0 && (next < 0 || t < next)) next = t; } while (0)
	if (!s->ready && !s->stopping) {
		/* Before HELLO a peer is unknown: it may hold us only so long. */
		if (s->now - s->start >= hello) {
			/* No HELLO (or TLS handshake) in time: lost. */
			mux_end(s, MUX_LOST, "%s did not %s within %lld s",
			    s->cfg->peer, s->peer.ops->handshaking(s) ?
			    "complete the TLS handshake" : "say hello",
			    (long long)(hello + 999) / 1000);
			return 0;
		}
		MUX_NEXT(s->start + hello);
	}
	if (ka > 0 && s->ready && !s->stopping) {
		if (s->now - s->last_rx >= 3 * ka) {
			/* Silence through three PINGs: lost. */
			mux_end(s, MUX_LOST, "no sign of life from %s for %lld "
			    "s", s->cfg->peer, (long long)(3 * ka / 1000));
			return 0;
		}
		if (s->now - s->last_rx >= ka && s->now - s->last_ping >= ka) {
			s->ping_due = 1;
			s->last_ping = s->now;
			MUX_NEXT(s->now);	/* the PING goes out now */
		}
		MUX_NEXT(s->last_rx + 3 * ka);
		MUX_NEXT((s->last_rx > s->last_ping ? s->last_rx :
		    s->last_ping) + ka);
	}
	if (s->stopping) {
		if (s->now >= s->bye_deadline) {
			/* Told to stop; the peer would not take GOODBYE. */
			mux_end(s, MUX_CLEAN, "stopped; %s did not take the "
			    "goodbye in time", s->cfg->peer);
			return 0;
		}
		MUX_NEXT(s->bye_deadline);
	}
	if (s->accept_pause > s->now)
		MUX_NEXT(s->accept_pause);
	MUX_NEXT(proto_retries(s));
#undef MUX_NEXT
	if (next < 0)
		return -1;
	return next <= s->now ? 0 : next - s->now > 60000 ? 60000 :
	    (int)(next - s->now);
}

static void
mux_pfd(struct mux *s, int *n, int fd, short events, struct chan *c)
{
	s->pfds[*n].fd = fd;
	s->pfds[*n].events = events;
	s->pfds[*n].revents = 0;
	s->pchan[(*n)++] = c;
}

/*
 * The poll set: the peer stream (one entry, or two if read and written
 * through different fds), the listeners while the session takes new
 * channels, then the channels with something to do.  Returns its size.
 */
static int
mux_poll_set(struct mux *s)
{
	struct chan *c;
	short rd, wr, ev;
	size_t i;
	int n = 0, room;

	s->peer.ops->events(s, &rd, &wr, &room);
	if (s->peer.wfd == s->peer.rfd)
		mux_pfd(s, &n, s->peer.rfd, rd | wr, NULL);
	else {
		mux_pfd(s, &n, s->peer.rfd, rd, NULL);
		mux_pfd(s, &n, s->peer.wfd, wr, NULL);
	}
	if (s->ready && !s->stopping && s->now >= s->accept_pause)
		for (i = 0; i < s->cfg->nlisteners; i++)
			mux_pfd(s, &n, s->cfg->listeners[i].fd, POLLIN, NULL);
	for (i = 0; i < s->tab.nchan; i++) {
		c = s->tab.chans[i];
		if (c->fd < 0 || c->dead)
			continue;
		ev = 0;
		/* A full output stops reading; an empty backlog stops writing. */
		if (c->state == CHANTAB_OPEN && !c->rd_eof && c->tx_credit > 0 &&
		    !c->close_want && room)
			ev |= POLLIN;
		if (ring_used(&c->backlog) > 0)
			ev |= POLLOUT;
		if (ev == 0)
			continue;	/* a hangup alone would spin the loop */
		mux_pfd(s, &n, c->fd, ev, c);
	}
	return n;
}

static void
mux_accept(struct mux *s, const struct mux_listener *l)
{
	int fd, i, num;

	for (i = 0; i < MUX_ACCEPT_BURST; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* The connection waits in the backlog; so do we. */
				log_warn("accept on unix:%s: %s", l->ep.path,
				    strerror(errno));
				s->accept_pause = s->now + MUX_ACCEPT_PAUSE;
			}
			return;
		}
		num = proto_open(s, l->name, fd);
		if (num < 0) {
			log_warn("connection on unix:%s closed: %s", l->ep.path,
			    errno == ENOMEM ? "out of memory" :
			    "1024 channels open already");
			continue;
		}
		log_info("channel %s #%d: connection on unix:%s", l->name,
		    num, l->ep.path);
	}
}

/*
 * Serve what poll found, in this order: the peer stream in and out (so
 * that the output has room), the channels' backlogs out to their local
 * sides and their data in, round-robin from where the last round started
 * until the output is full, then the listeners.  Reading the peer may
 * open channels and so sweep closed ones: then the channels wait for the
 * next round, as one polled may be gone (poll reports them again at once).
 */
static void
mux_serve(struct mux *s, int n)
{
	const struct mux_config *cfg = s->cfg;
	unsigned long sweeps = s->tab.sweeps;
	struct chan *c;
	int first = 0, k, j, full = 0;
	short rrev, wrev;
	size_t i;

	rrev = s->pfds[0].revents;
	wrev = s->peer.wfd == s->peer.rfd ? rrev : s->pfds[1].revents;
	s->peer.ops->io(s, rrev, wrev);
	while (first < n && s->pchan[first] == NULL)
		first++;
	for (j = 0; j < n - first && !s->done && s->tab.sweeps == sweeps;
	    j++) {
		k = first + (int)((s->rr + (size_t)j) % (size_t)(n - first));
		c = s->pchan[k];
		if ((s->pfds[k].revents & (POLLOUT | POLLHUP | POLLERR)) &&
		    ring_used(&c->backlog) > 0)
			proto_chan_flush(s, c);
		if ((s->pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !full)
			full = proto_chan_read(s, c) < 0;
	}
	k = s->peer.wfd == s->peer.rfd ? 1 : 2;
	if (k < first && !s->done)
		for (i = 0; i < cfg->nlisteners; i++)
			if (s->pfds[k + (int)i].revents & POLLIN)
				mux_accept(s, &cfg->listeners[i]);
}

/* Wait for the peer, the local sides and the timers; serve what is ready. */
void
mux_loop(struct mux *s)
{
	struct timespec ts, *tsp;
	int n, timeout, rc;

	for (;;) {
		mux_produce(s);
		if (s->done)
			break;
		timeout = mux_timers(s);
		if (s->done)
			break;
		n = mux_poll_set(s);
		tsp = NULL;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (long)(timeout % 1000) * 1000000;
			tsp = &ts;
		}
		if (s->peer.ops->prepoll(s)) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
			tsp = &ts;
		}
		rc = ppoll(s->pfds, (nfds_t)n, tsp, s->cfg->waitmask);
		s->now = clock_ms();
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			/* poll itself failed: nothing can go on. */
			mux_end(s, MUX_LOST, "poll: %s", strerror(errno));
			break;
		}
		mux_serve(s, n);
	}
}

/* ---- the API (session.h) ---- */

int
mux_open(struct mux *s, const char *name, int fd)
{
	return proto_open(s, name, fd);
}

int
mux_feed(struct mux *s, const void *p, size_t len)
{
	if (!s->done && s->cfg->tls != NULL)
		mux_end(s, MUX_LOST, "internal error: bytes fed to a TLS "
		    "session");
	s->now = clock_ms();
	if (!s->done && len > 0) {
		s->last_rx = s->now;
		proto_input(s, p, len);
	}
	mux_produce(s);
	return !s->done;
}

int
mux_run(const struct mux_config *cfg, int rfd, int wfd)
{
	struct mux *s = mux_new(cfg, rfd, wfd);

	if (s == NULL)
		return MUX_LOST;
	mux_loop(s);
	return mux_free(s);
}
