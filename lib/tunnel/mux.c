/*
 * The session loop.  Data moves like this:
 *
 *  local -> peer: a frame at a time per readable channel, read straight
 *	into the output ring behind a reserved header, as much as the
 *	channel's credit allows, and written out with the frames before and
 *	after it in one writev (splicing this way measured slower: a unix
 *	socket splices one buffer a call, and TCP then carries page-sized
 *	fragments);
 *  peer -> local: the input is decoded as it arrives; DATA payload is
 *	written to its local connection at once (big payloads spliced through
 *	a pipe, never entering user memory), and
 *	only what that connection does not take is copied to the channel's
 *	backlog, which its credit guarantees has room.
 *
 * The peer is therefore always read: nothing that arrives can be refused,
 * so a slow channel holds back only its own sender, never the stream.
 * Control answers (ACCEPT, CREDIT, PONG...) are state, not queued bytes,
 * and go out when the output has room, so reading never waits on writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "tls/tls.h"
#include "tunnel/mux.h"
#include "tunnel/ring.h"

#define MUX_DATA_MAX	(256u * 1024)	/* DATA payload we take and send */
#define MUX_WIN_MAX	(1024u * 1024)	/* a channel's window (its backlog) */
#define MUX_WIN_MIN	(16u * 1024)	/* window every channel gets */
#define MUX_BUDGET	(1536u * 1024)	/* windows beyond MUX_WIN_MIN share this */
#define MUX_IN_BUF	(256u * 1024)
#define MUX_OUT_RING	(512u * 1024)
#define MUX_PIPE	(256u * 1024)	/* the splice pipe, if the kernel lets us */
#define MUX_SPLICE_MIN	(16u * 1024)	/* smaller payloads are copied */
#define MUX_CHUNK_MIN	(16u * 1024)	/* smallest local read worth a frame */
#define MUX_ACCEPT_BURST 16
#define MUX_RETRY_MS	20		/* target's backlog full: retry */
#define MUX_CONNECT_MS	10000		/* ... for this long */
#define MUX_BYE_MS	2000		/* to flush GOODBYE when stopping */
#define MUX_ROUNDS	4		/* peer reads per wakeup, for fairness */
#define MUX_SMALL_RUN	16		/* small frames in a row: read in bulk */
#define MUX_LOWAT_MAX	(128u * 1024)	/* wake for this much of a payload */
#define MUX_TABLE	(2 * FRAME_CHANS)	/* channels live at once, both ways */

enum { MUX_OPENING = 1, MUX_CONNECTING, MUX_OPEN, MUX_REFUSING };

struct mux_chan {
	int fd;			/* local connection; -1 once closed */
	int pfd;		/* its pollfd this round, -1 if none */
	uint16_t num;		/* the opener's number */
	uint8_t mine;		/* we opened it (a -L connection) */
	uint8_t state;
	uint8_t dead;		/* released: freed at the end of the round */
	uint8_t send_open, send_accept;
	uint8_t reason;		/* for REFUSE, or CLOSE once close_want */
	uint8_t rd_eof;		/* the local side sent EOF */
	uint8_t eof_sent, eof_rcvd;
	uint8_t wr_shut;	/* EOF passed on to the local side */
	uint8_t close_want, close_sent, close_rcvd;
	uint32_t tx_credit;	/* bytes we may still send */
	uint32_t rx_granted;	/* bytes the peer may still send */
	uint32_t rx_unsent;	/* part of rx_granted not told yet */
	uint32_t commit;	/* rx_granted + backlog, as last counted */
	uint64_t tx_bytes, rx_bytes;
	int64_t deadline;	/* CONNECTING: give up then */
	int64_t retry_at;	/* CONNECTING: next attempt, 0: none */
	uint64_t seq;		/* CONNECTING: order of its OPEN */
	const char *name;
	const struct endpoint *target;
	struct ring backlog;	/* peer data the local side has not taken */
	uint8_t *mem;		/* its memory, MUX_WIN_MAX, NULL once closed */
	size_t idx;		/* in s->chans */
};

struct mux {
	const struct mux_config *cfg;
	uint64_t open_seq;	/* OPENs from the peer so far */
	int rfd, wfd;
	struct tls_conn *tls;	/* NULL: plaintext */
	int tls_want;		/* TLS_WANT_* from the last pump */
	int tls_dirty;		/* plaintext handed to the engine, not flushed */
	uint8_t *inbuf;
	struct ring out;
	struct frame_dec dec;
	struct mux_chan *cur;	/* DATA payload goes there (NULL: dropped) */
	uint32_t peer_data_max;
	int hello_sent, ready, bye_sent, bye_rcvd, stopping, done, result;
	int pong_due, ping_due;
	uint8_t pong[FRAME_PING_LEN];
	uint64_t pings;
	int64_t now, start, last_rx, last_ping, bye_deadline, accept_pause;
	struct mux_chan *ids[2][FRAME_CHANS];	/* [mine][num] */
	struct mux_chan *chans[MUX_TABLE];	/* live, then dead until swept */
	size_t nchan, nring, rr;
	size_t excess;		/* sum over channels of commit - MUX_WIN_MIN */
	unsigned next_num;
	struct pollfd *pfds;
	int prd, pwr, plis;	/* pollfd indexes: peer read/write, listeners */
	int splice_in;		/* rfd can be spliced from */
	int rxpipe[2];
	size_t pipe_sz;
	int hdr_only;		/* big DATA runs: read a bare header next */
	int small_run;		/* frames since the last big DATA */
	int lowat;		/* SO_RCVLOWAT of rfd; -1: not settable */
	char why[320];
};

static void mux_end(struct mux *s, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void mux_tls_pump(struct mux *s);
static void mux_tls_pump_how(struct mux *s, int rd);

/* The first reason wins: later ones are consequences. */
static void
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

static uint32_t
mux_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ---- channels ---- */

static void mux_sweep(struct mux *s);

/*
 * A new channel (mine, num), whose number the caller has checked is free.
 * Released channels stay in chans[] until the round's sweep; a peer that
 * closes and reopens numbers within one read can leave more of them than
 * the table holds beside the live ones, so a full table is swept first.
 * That is safe here: no caller walks chans[] while channels are created.
 */
static struct mux_chan *
mux_chan_new(struct mux *s, int mine, unsigned num, int with_backlog)
{
	struct mux_chan *c;

	if (s->nchan == MUX_TABLE)
		mux_sweep(s);
	if (s->nchan == MUX_TABLE)
		return NULL;	/* cannot be: live channels have a number each */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (with_backlog) {
		/* Untouched until a local side lags: address space, not RSS. */
		c->mem = malloc(MUX_WIN_MAX);
		if (c->mem == NULL) {
			free(c);
			return NULL;
		}
		ring_init(&c->backlog, c->mem, MUX_WIN_MAX);
		s->nring++;
	}
	c->fd = -1;
	c->pfd = -1;
	c->mine = (uint8_t)mine;
	c->num = (uint16_t)num;
	s->ids[mine][num] = c;
	c->idx = s->nchan;
	s->chans[s->nchan++] = c;
	return c;
}

static uint32_t
mux_excess(uint32_t commit)
{
	return commit > MUX_WIN_MIN ? commit - MUX_WIN_MIN : 0;
}

/* Recount what c may hold (credit out plus backlog) into the pool. */
static void
mux_commit_sync(struct mux *s, struct mux_chan *c)
{
	uint32_t now = c->mem == NULL ? 0 :
	    c->rx_granted + (uint32_t)ring_used(&c->backlog);

	s->excess -= mux_excess(c->commit);
	s->excess += mux_excess(now);
	c->commit = now;
}

/* The local side is gone or done: drop it and its backlog. */
static void
mux_chan_close_fd(struct mux *s, struct mux_chan *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->mem != NULL) {
		free(c->mem);
		c->mem = NULL;
		s->nring--;
		ring_init(&c->backlog, NULL, 0);
	}
	mux_commit_sync(s, c);
	if (s->cur == c)
		s->cur = NULL;
}

/* The number is free again; the struct goes at the end of the round. */
static void
mux_chan_release(struct mux *s, struct mux_chan *c)
{
	mux_chan_close_fd(s, c);
	if (s->ids[c->mine][c->num] == c)
		s->ids[c->mine][c->num] = NULL;
	if (!c->dead && c->state == MUX_OPEN)
		log_info("channel %s #%u%s closed: %llu bytes sent, %llu "
		    "received", c->name, c->num, c->mine ? "" : " (peer's)",
		    (unsigned long long)c->tx_bytes,
		    (unsigned long long)c->rx_bytes);
	c->dead = 1;
}

static void
mux_sweep(struct mux *s)
{
	struct mux_chan *c;
	size_t i = 0;

	while (i < s->nchan) {
		c = s->chans[i];
		if (!c->dead) {
			i++;
			continue;
		}
		s->chans[i] = s->chans[--s->nchan];
		s->chans[i]->idx = i;
		free(c);
	}
}

/*
 * A channel's window target: an even share of the pool, within
 * [MUX_WIN_MIN, MUX_WIN_MAX].  A share is a target, not a promise: a
 * channel that got a big window while alone keeps it until the data
 * arrives, and the pool, not the shares, bounds the total.
 */
static uint32_t
mux_cap(const struct mux *s)
{
	uint32_t cap = MUX_BUDGET / (uint32_t)(s->nring ? s->nring : 1);

	return cap < MUX_WIN_MIN ? MUX_WIN_MIN : cap > MUX_WIN_MAX ?
	    MUX_WIN_MAX : cap;
}

/*
 * Top up the peer's credit toward the window, in steps of at least half
 * a window so that CREDIT frames stay rare.  Every channel may
 * commit MUX_WIN_MIN; beyond that it draws on the pool, so the memory
 * all backlogs can need is at most channels * MUX_WIN_MIN + MUX_BUDGET.
 * Credit plus backlog never exceed MUX_WIN_MAX: the backlog has room for
 * anything the peer may send.
 */
static void
mux_grant(struct mux *s, struct mux_chan *c)
{
	uint32_t cap, want, pool, step;

	mux_commit_sync(s, c);
	if (c->mem == NULL || c->eof_rcvd || c->close_want || c->close_sent ||
	    c->close_rcvd)
		return;
	cap = mux_cap(s);
	if (c->commit >= cap)
		return;
	want = cap;
	step = cap / 2;
	pool = s->excess > MUX_BUDGET ? 0 :
	    MUX_BUDGET - (uint32_t)s->excess + mux_excess(c->commit);
	if (want > MUX_WIN_MIN + pool) {
		/* The pool is short: smaller steps, the minimum always. */
		want = MUX_WIN_MIN + pool;
		step = MUX_WIN_MIN / 4;
	}
	if (want <= c->commit || want - c->commit < step)
		return;
	c->rx_granted += want - c->commit;
	c->rx_unsent += want - c->commit;
	mux_commit_sync(s, c);
}

/* Drop the local side at once and tell the peer (CLOSE, or REFUSE). */
static void
mux_abort(struct mux *s, struct mux_chan *c, int reason, const char *what,
    int err)
{
	if (c->fd >= 0 && what != NULL)
		log_info("channel %s #%u: %s: %s; aborting it", c->name, c->num,
		    what, strerror(err));
	mux_chan_close_fd(s, c);
	if (c->close_want || c->close_sent)
		return;
	if (c->state == MUX_CONNECTING) {
		c->state = MUX_REFUSING;
		c->reason = FRAME_REFUSE_TARGET;
		c->retry_at = 0;
		return;
	}
	c->close_want = 1;
	c->reason = (uint8_t)reason;
}

/*
 * Pass EOF on once the backlog is out; both directions done: the local
 * connection is closed and CLOSE goes to the peer.
 */
static void
mux_chan_check(struct mux *s, struct mux_chan *c)
{
	if (c->state != MUX_OPEN || c->close_want || c->close_sent ||
	    c->fd < 0)
		return;
	if (c->eof_rcvd && !c->wr_shut && ring_used(&c->backlog) == 0) {
		/* The client may be gone already; then there is nobody to tell. */
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
	if (c->eof_sent && c->wr_shut) {
		mux_chan_close_fd(s, c);
		c->close_want = 1;
		c->reason = FRAME_CLOSE_DONE;
	}
}

/* Write the backlog to the local side as far as it takes it. */
static void
mux_chan_flush(struct mux *s, struct mux_chan *c)
{
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t n;

	while (c->fd >= 0 && ring_used(&c->backlog) > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)ring_data(&c->backlog, iov, SIZE_MAX);
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				mux_abort(s, c, FRAME_CLOSE_LOCAL, "write", errno);
			break;
		}
		ring_drain(&c->backlog, (size_t)n);
	}
	mux_grant(s, c);
	mux_chan_check(s, c);
}

/* DATA payload for c: straight to the local side, the rest to the backlog. */
static void
mux_deliver(struct mux *s, struct mux_chan *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (c == NULL || c->fd < 0)
		return;		/* the channel is being aborted: dropped */
	c->rx_granted -= (uint32_t)n;
	c->rx_bytes += n;
	if (ring_used(&c->backlog) == 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			mux_abort(s, c, FRAME_CLOSE_LOCAL, "write", errno);
			return;
		}
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (n > ring_room(&c->backlog)) {
		/* Cannot happen while credit is checked; never overflow. */
		mux_end(s, MUX_LOST, "internal error: backlog of channel %s "
		    "overflows", c->name);
		return;
	}
	ring_put(&c->backlog, p, n);
	mux_grant(s, c);
}

/*
 * QEMU 7.2 tells a migration's channels apart by the order in which they
 * connect (main stream first, then multifd): a channel waiting for a full
 * backlog must not be overtaken by a later one to the same target.
 */
static int
mux_connect_blocked(const struct mux *s, const struct mux_chan *c)
{
	const struct mux_chan *o;
	size_t i;

	for (i = 0; i < s->nchan; i++) {
		o = s->chans[i];
		if (o != c && o->state == MUX_CONNECTING && o->retry_at != 0 &&
		    o->target == c->target && o->seq < c->seq)
			return 1;
	}
	return 0;
}

/* Connect a peer-opened channel to its target; ACCEPT or REFUSE follows. */
static void
mux_connect(struct mux *s, struct mux_chan *c)
{
	struct sockaddr_un sun;
	int fd, err;

	c->retry_at = 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->target->path, sizeof(sun.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		c->fd = fd;
		c->send_accept = 1;
		mux_grant(s, c);
		return;
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	/* A full listen backlog (EAGAIN) clears as the target accepts. */
	if (err == EAGAIN && s->now < c->deadline) {
		c->retry_at = s->now + MUX_RETRY_MS;
		return;
	}
	log_warn("channel %s #%u from %s: cannot connect to unix:%s: %s; "
	    "refused", c->name, c->num, s->cfg->peer, c->target->path,
	    strerror(err));
	mux_chan_close_fd(s, c);
	c->state = MUX_REFUSING;
	c->reason = FRAME_REFUSE_TARGET;
}

/* ---- frames from the peer ---- */

static void
mux_on_open(struct mux *s, const struct frame *f)
{
	const struct mux_route *r = NULL;
	struct mux_chan *c;
	size_t i;

	if (s->ids[0][f->num] != NULL) {
		mux_end(s, MUX_LOST, "protocol error from %s: OPEN of channel "
		    "%u, which is open", s->cfg->peer, f->num);
		return;
	}
	for (i = 0; i < s->cfg->nroutes && r == NULL; i++)
		if (strcmp(s->cfg->routes[i].name, f->name) == 0)
			r = &s->cfg->routes[i];
	if (s->stopping)
		r = NULL;
	c = mux_chan_new(s, 0, f->num, r != NULL);
	if (c == NULL && r != NULL)
		c = mux_chan_new(s, 0, f->num, 0);
	if (c == NULL) {
		/* Not even a refusal fits in memory. */
		mux_end(s, MUX_LOST, "out of memory for channel %s", f->name);
		return;
	}
	c->tx_credit = f->value;
	if (r == NULL) {
		c->state = MUX_REFUSING;
		c->reason = s->stopping ? FRAME_REFUSE_FULL : FRAME_REFUSE_NAME;
		c->name = "?";
		if (!s->stopping)
			log_warn("%s asked for channel '%s', which no -R "
			    "delivers; refused", s->cfg->peer, f->name);
		return;
	}
	c->name = r->name;
	c->target = &r->target;
	if (c->mem == NULL) {
		log_warn("channel %s from %s: out of memory; refused",
		    r->name, s->cfg->peer);
		c->state = MUX_REFUSING;
		c->reason = FRAME_REFUSE_FULL;
		return;
	}
	c->state = MUX_CONNECTING;
	c->deadline = s->now + MUX_CONNECT_MS;
	c->seq = ++s->open_seq;
	if (mux_connect_blocked(s, c))
		c->retry_at = s->now + MUX_RETRY_MS;
	else
		mux_connect(s, c);
}

static const char *
mux_refuse_text(unsigned reason)
{
	switch (reason) {
	case FRAME_REFUSE_NAME:
		return "the peer delivers no channel of that name (-R)";
	case FRAME_REFUSE_TARGET:
		return "the peer cannot connect to its target";
	case FRAME_REFUSE_FULL:
		return "the peer has no room for more channels";
	}
	return "refused";
}

static void
mux_proto(struct mux *s, const struct frame *f, const char *what)
{
	mux_end(s, MUX_LOST, "protocol error from %s: %s on channel %u: %s",
	    s->cfg->peer, frame_type_name(f->type), f->num, what);
}

static void
mux_on_frame(struct mux *s, const struct frame *f)
{
	struct mux_chan *c;

	switch (f->type) {
	case FRAME_HELLO:
		if (f->vmin > FRAME_VERSION || f->vmax < FRAME_VERSION) {
			/* No version in common: nothing can follow. */
			mux_end(s, MUX_LOST, "%s speaks tunnel protocol versions "
			    "%u to %u; this mig-tunnel speaks %u", s->cfg->peer,
			    f->vmin, f->vmax, FRAME_VERSION);
			return;
		}
		s->peer_data_max = mux_min(f->value, MUX_DATA_MAX);
		s->ready = 1;
		log_info("session with %s is up%s%s", s->cfg->peer,
		    s->tls != NULL ? ", TLS " : "",
		    s->tls != NULL ? tls_suite(s->tls) : "");
		return;
	case FRAME_PING:
		memcpy(s->pong, f->ping, sizeof(s->pong));
		s->pong_due = 1;
		return;
	case FRAME_PONG:
		return;
	case FRAME_GOODBYE:
		s->bye_rcvd = 1;
		/* The peer ended the session cleanly. */
		mux_end(s, MUX_CLEAN, "%s said goodbye", s->cfg->peer);
		return;
	case FRAME_OPEN:
		mux_on_open(s, f);
		return;
	}
	c = s->ids[f->rbit][f->num];
	if (c == NULL) {
		mux_proto(s, f, "no such channel");
		return;
	}
	if (f->type == FRAME_ACCEPT || f->type == FRAME_REFUSE) {
		if (c->state != MUX_OPENING) {
			mux_proto(s, f, "answered already");
			return;
		}
		if (f->type == FRAME_REFUSE) {
			log_warn("channel %s #%u refused: %s", c->name, c->num,
			    mux_refuse_text(f->reason));
			mux_chan_release(s, c);
			return;
		}
		c->state = MUX_OPEN;
		c->tx_credit = f->value;
		log_info("channel %s #%u open", c->name, c->num);
		return;
	}
	if (c->state != MUX_OPEN || c->close_rcvd) {
		mux_proto(s, f, c->close_rcvd ? "after CLOSE" : "not open yet");
		return;
	}
	switch (f->type) {
	case FRAME_DATA:
		if (c->eof_rcvd) {
			mux_proto(s, f, "after EOF");
			return;
		}
		if (f->len > c->rx_granted) {
			mux_proto(s, f, "more than its credit");
			return;
		}
		/*
		 * Credit is spent as the payload arrives: until then the rest
		 * of the frame counts as granted, so no top-up overlaps it.
		 */
		s->cur = c->fd >= 0 && c->mem != NULL ? c : NULL;
		return;
	case FRAME_CREDIT:
		if (f->value > FRAME_WINDOW_MAX - c->tx_credit) {
			mux_proto(s, f, "credit above 16 MiB");
			return;
		}
		c->tx_credit += f->value;
		return;
	case FRAME_EOF:
		if (c->eof_rcvd) {
			mux_proto(s, f, "a second EOF");
			return;
		}
		c->eof_rcvd = 1;
		c->rx_unsent = 0;
		mux_chan_check(s, c);
		return;
	case FRAME_CLOSE:
		c->close_rcvd = 1;
		if (c->close_sent) {
			mux_chan_release(s, c);
			return;
		}
		/* DONE after EOF both ways: our CLOSE follows our backlog. */
		if (f->reason != FRAME_CLOSE_DONE || !c->eof_rcvd ||
		    !c->eof_sent) {
			if (c->fd >= 0)
				log_info("channel %s #%u aborted by the peer",
				    c->name, c->num);
			mux_abort(s, c, FRAME_CLOSE_ABORT, NULL, 0);
		}
		return;
	}
}

static void
mux_decode(struct mux *s, const uint8_t *p, size_t len)
{
	const uint8_t *data;
	size_t used, dlen;

	while (!s->done) {
		switch (frame_dec_feed(&s->dec, p, len, &used, &data, &dlen)) {
		case FRAME_EV_NONE:
			return;
		case FRAME_EV_ERROR:
			/* Malformed input: the stream cannot be trusted on. */
			mux_end(s, MUX_LOST, "protocol error from %s: %s",
			    s->cfg->peer, s->dec.err);
			return;
		case FRAME_EV_FRAME:
			/*
			 * Bulk reads batch small frames but copy big payloads;
			 * bare header reads let big payloads be spliced.  A
			 * run of small frames switches to bulk, one big one
			 * back.
			 */
			if (s->dec.f.type == FRAME_DATA &&
			    s->dec.f.len >= MUX_SPLICE_MIN) {
				s->hdr_only = s->splice_in;
				s->small_run = 0;
			} else if (++s->small_run >= MUX_SMALL_RUN)
				s->hdr_only = 0;
			mux_on_frame(s, &s->dec.f);
			break;
		case FRAME_EV_DATA:
			mux_deliver(s, s->cur, data, dlen);
			break;
		}
		p += used;
		len -= used;
	}
}

/* ---- the peer stream ---- */

static void
mux_peer_eof(struct mux *s)
{
	/* The stream ended without GOODBYE: the peer is lost. */
	mux_end(s, MUX_LOST, "%s closed the stream%s", s->cfg->peer,
	    frame_dec_at_boundary(&s->dec) ? " without saying goodbye" :
	    " in the middle of a frame");
}

static void
mux_peer_fail(struct mux *s, const char *what, int err)
{
	/* Read or write error on the stream: the peer is lost. */
	mux_end(s, MUX_LOST, "%s lost: %s: %s", s->cfg->peer, what,
	    strerror(err));
}

/* Empty rxpipe of n bytes: into c's backlog, or dropped if c is NULL. */
static void
mux_pipe_drain(struct mux *s, struct mux_chan *c, size_t n)
{
	struct iovec iov[2];
	ssize_t r;
	int cnt;

	while (n > 0) {
		if (c != NULL) {
			cnt = ring_space(&c->backlog, 0, iov, n);
			r = readv(s->rxpipe[0], iov, cnt);
		} else
			r = read(s->rxpipe[0], s->inbuf, n < MUX_IN_BUF ? n :
			    MUX_IN_BUF);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* The bytes are there: a failure is a kernel surprise. */
			mux_end(s, MUX_LOST, "internal error: reading back a "
			    "pipe: %s", r < 0 ? strerror(errno) : "EOF");
			return;
		}
		if (c != NULL)
			ring_fill(&c->backlog, (size_t)r);
		n -= (size_t)r;
	}
}

/*
 * The rest of a big DATA payload, past the input buffer: spliced to the
 * local side, or read into the backlog if the channel is behind anyway.
 * Returns 1 if bytes moved, 0 if the peer had none.
 */
static int
mux_payload_direct(struct mux *s, uint32_t left)
{
	struct mux_chan *c = s->cur;
	struct iovec iov[2];
	ssize_t n, m;
	size_t moved = 0;
	int cnt;

	if (ring_used(&c->backlog) > 0 || !s->splice_in) {
		cnt = ring_space(&c->backlog, 0, iov, left);
		n = readv(s->rfd, iov, cnt);
	} else
		n = splice(s->rfd, NULL, s->rxpipe[1], NULL,
		    mux_min(left, (uint32_t)s->pipe_sz),
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n == 0) {
		mux_peer_eof(s);
		return 0;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			mux_peer_fail(s, "read", errno);
		return 0;
	}
	s->last_rx = s->now;
	s->hdr_only = s->splice_in;
	frame_dec_skip(&s->dec, (uint32_t)n);
	c->rx_granted -= (uint32_t)n;
	c->rx_bytes += (uint64_t)n;
	if (ring_used(&c->backlog) > 0 || !s->splice_in) {
		ring_fill(&c->backlog, (size_t)n);
		mux_chan_flush(s, c);
		return 1;
	}
	while (moved < (size_t)n) {
		m = splice(s->rxpipe[0], NULL, c->fd, NULL, (size_t)n - moved,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (m > 0) {
			moved += (size_t)m;
			continue;
		}
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0 && errno != EAGAIN) {
			mux_abort(s, c, FRAME_CLOSE_LOCAL, "write", errno);
			c = NULL;
		}
		break;
	}
	if (moved < (size_t)n)
		mux_pipe_drain(s, c, (size_t)n - moved);
	if (c != NULL)
		mux_grant(s, c);
	return 1;
}

/*
 * Waiting for the rest of a big payload, a wakeup per TCP segment costs
 * far more than the bytes: poll should say "readable" only once a good
 * part of it is there.  Back to 1 between frames, where anything may come.
 */
static void
mux_lowat(struct mux *s, int want)
{
	if (s->lowat < 0 || s->lowat == want)
		return;
	if (setsockopt(s->rfd, SOL_SOCKET, SO_RCVLOWAT, &want,
	    sizeof(want)) < 0) {
		s->lowat = -1;	/* not TCP, or not allowed: never mind */
		return;
	}
	s->lowat = want;
}

/* Read and decode what the peer sent, a few rounds at most. */
static void
mux_peer_read(struct mux *s)
{
	uint32_t left;
	size_t max;
	ssize_t n;
	int round;

	for (round = 0; round < MUX_ROUNDS && !s->done; round++) {
		left = frame_dec_left(&s->dec);
		/* Big payload: splice it, or straight into a backlog in use. */
		if (left >= MUX_SPLICE_MIN && s->cur != NULL &&
		    (s->splice_in || ring_used(&s->cur->backlog) > 0)) {
			if (mux_payload_direct(s, left) == 0) {
				left = frame_dec_left(&s->dec);
				if (left >= MUX_SPLICE_MIN && !s->done)
					mux_lowat(s, (int)mux_min(left,
					    MUX_LOWAT_MAX));
				return;
			}
			continue;
		}
		mux_lowat(s, 1);
		max = s->hdr_only && frame_dec_at_boundary(&s->dec) ?
		    FRAME_HDR_LEN : MUX_IN_BUF;
		n = read(s->rfd, s->inbuf, max);
		if (n == 0) {
			mux_peer_eof(s);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				mux_peer_fail(s, "read", errno);
			return;
		}
		s->last_rx = s->now;
		mux_decode(s, s->inbuf, (size_t)n);
		if ((size_t)n < max && max != FRAME_HDR_LEN)
			return;		/* drained */
	}
}

/* Write the output ring as far as the peer takes it. */
static void
mux_peer_write(struct mux *s)
{
	struct iovec iov[2];
	ssize_t n;
	int cnt;

	if (s->tls != NULL) {
		/* Reading is for after poll said so (mux_tls_read). */
		mux_tls_pump_how(s, 0);
		return;
	}
	while (!s->done && ring_used(&s->out) > 0) {
		cnt = ring_data(&s->out, iov, SIZE_MAX);
		n = writev(s->wfd, iov, cnt);
		if (n >= 0) {
			ring_drain(&s->out, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			mux_peer_fail(s, "write", errno);
		return;
	}
}

static void
mux_tls_pump_how(struct mux *s, int rd)
{
	int r;

	r = rd ? tls_pump_rw(s->tls, s->rfd, s->wfd) :
	    tls_pump_write(s->tls, s->rfd, s->wfd);
	if (r >= 0) {
		s->tls_want = r;
		return;
	}
	s->tls_want = 0;
	if (s->stopping && s->bye_sent)
		return;
	if (!tls_ready(s->tls))
		/* Handshake failed: untrusted, expired, no certificate... */
		mux_end(s, MUX_TLS, "TLS with %s failed: %s", s->cfg->peer,
		    tls_error(s->tls));
	else if (tls_closed_cleanly(s->tls))
		/* TLS closed with no GOODBYE first: lost. */
		mux_end(s, MUX_LOST, "%s closed the TLS session without "
		    "saying goodbye", s->cfg->peer);
	else
		/* TLS broke mid-session: lost. */
		mux_end(s, MUX_LOST, "TLS session with %s: %s", s->cfg->peer,
		    tls_error(s->tls));
}

static void
mux_tls_pump(struct mux *s)
{
	mux_tls_pump_how(s, 1);
}

static int
mux_tls_pending(struct mux *s)
{
	size_t len;

	return tls_recv_buf(s->tls, &len) != NULL && len > 0;
}

/*
 * As for plaintext (mux_lowat): wake once a good part of what the peer is
 * sure to send is in.  Set just before poll, after every read of rfd.
 */
static void
mux_tls_lowat(struct mux *s)
{
	size_t due = tls_in_due(s->tls, frame_dec_left(&s->dec));

	mux_lowat(s, due >= MUX_SPLICE_MIN ?
	    (int)mux_min((uint32_t)due, MUX_LOWAT_MAX) : 1);
}

static void
mux_tls_read(struct mux *s)
{
	unsigned char *p;
	size_t len;
	int round;

	mux_tls_pump(s);
	/* A record at a time, a bounded number, so the locals get a turn. */
	for (round = 0; round < 8 * MUX_ROUNDS && !s->done; round++) {
		p = tls_recv_buf(s->tls, &len);
		if (p == NULL || len == 0)
			return;
		s->last_rx = s->now;
		mux_decode(s, p, len);
		tls_recv_ack(s->tls, len);
		/* Output it made; more input waits for poll. */
		mux_tls_pump_how(s, 0);
	}
}

/*
 * Room for n bytes of output at *p (TLS: in the current record), or
 * NULL.  For TLS a partly filled record is sealed and pushed to make room.
 */
static uint8_t *
mux_out_reserve(struct mux *s, size_t n, size_t *room)
{
	size_t len;
	uint8_t *p;

	if (s->tls == NULL) {
		*room = ring_room(&s->out);
		return *room >= n ? s->out.buf : NULL;
	}
	p = tls_send_buf(s->tls, &len);
	if (len < n && s->tls_dirty) {
		tls_flush(s->tls);
		s->tls_dirty = 0;
		/* The sealed record is staged: write only if that is full. */
		p = tls_send_buf(s->tls, &len);
		if (len < n) {
			mux_tls_pump_how(s, 0);
			p = tls_send_buf(s->tls, &len);
		}
	}
	*room = len;
	return len >= n ? p : NULL;
}

/* Append a control frame; -1 if it does not fit now (nothing written). */
static int
mux_emit(struct mux *s, const struct frame *f)
{
	uint8_t buf[FRAME_HDR_LEN + FRAME_CTL_MAX];
	size_t n = frame_encode(buf, f), room;
	uint8_t *p = mux_out_reserve(s, n, &room);

	if (p == NULL)
		return -1;
	if (s->tls == NULL) {
		ring_put(&s->out, buf, n);
		return 0;
	}
	memcpy(p, buf, n);
	tls_send_ack(s->tls, n);
	s->tls_dirty = 1;
	return 0;
}

/* What a local read returned: n bytes framed already, 0 EOF, -1 error. */
static void
mux_local_result(struct mux *s, struct mux_chan *c, ssize_t n)
{
	if (n > 0) {
		c->tx_credit -= (uint32_t)n;
		c->tx_bytes += (uint64_t)n;
	} else if (n == 0)
		c->rd_eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		mux_abort(s, c, FRAME_CLOSE_LOCAL, "read", errno);
}

/*
 * One frame of c's local data to the peer.  Returns -1 when the output is
 * full (the round stops), 1 if the read took all it asked for (so there
 * may be more), else 0.
 */
static int
mux_read_local(struct mux *s, struct mux_chan *c)
{
	uint32_t want = mux_min(c->tx_credit, s->peer_data_max);
	uint8_t hdr[FRAME_HDR_LEN];
	struct iovec iov[2];
	size_t room;
	uint8_t *p;
	ssize_t n;
	int cnt;

	if (s->tls != NULL) {
		p = mux_out_reserve(s, FRAME_HDR_LEN + mux_min(want, 4096),
		    &room);
		if (p == NULL)
			return -1;
		n = read(c->fd, p + FRAME_HDR_LEN, mux_min(want,
		    (uint32_t)(room - FRAME_HDR_LEN)));
		want = mux_min(want, (uint32_t)(room - FRAME_HDR_LEN));
		if (n > 0) {
			frame_data_hdr(p, !c->mine, c->num, (uint32_t)n);
			tls_send_ack(s->tls, FRAME_HDR_LEN + (size_t)n);
			s->tls_dirty = 1;
		}
		mux_local_result(s, c, n);
		return n > 0 && (uint32_t)n == want;
	}
	room = ring_room(&s->out);
	if (room < FRAME_HDR_LEN + mux_min(want, MUX_CHUNK_MIN))
		return -1;
	want = mux_min(want, (uint32_t)(room - FRAME_HDR_LEN));
	cnt = ring_space(&s->out, FRAME_HDR_LEN, iov, want);
	n = readv(c->fd, iov, cnt);
	if (n > 0) {
		frame_data_hdr(hdr, !c->mine, c->num, (uint32_t)n);
		ring_poke(&s->out, 0, hdr, FRAME_HDR_LEN);
		ring_fill(&s->out, FRAME_HDR_LEN + (size_t)n);
	}
	mux_local_result(s, c, n);
	return n > 0 && (uint32_t)n == want;
}

static int
mux_chan_close_frame(struct mux *s, struct mux_chan *c)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_CLOSE;
	f.rbit = !c->mine;
	f.num = c->num;
	f.reason = c->reason;
	if (mux_emit(s, &f) < 0)
		return -1;
	c->close_sent = 1;
	if (c->close_rcvd)
		mux_chan_release(s, c);
	return 0;
}

/* Everything c has to say, in order; -1 when the output is full. */
static int
mux_chan_output(struct mux *s, struct mux_chan *c)
{
	struct frame f;
	short rev;
	int k, r;

	if (c->dead)
		return 0;
	memset(&f, 0, sizeof(f));
	f.rbit = !c->mine;
	f.num = c->num;
	if (c->send_open) {
		f.type = FRAME_OPEN;
		f.value = c->rx_unsent;
		f.namelen = (uint8_t)strlen(c->name);
		memcpy(f.name, c->name, f.namelen);
		if (mux_emit(s, &f) < 0)
			return -1;
		c->send_open = 0;
		c->rx_unsent = 0;
	}
	if (c->state == MUX_REFUSING) {
		f.type = FRAME_REFUSE;
		f.reason = c->reason;
		if (mux_emit(s, &f) < 0)
			return -1;
		mux_chan_release(s, c);
		return 0;
	}
	if (c->send_accept) {
		f.type = FRAME_ACCEPT;
		f.value = c->rx_unsent;
		if (mux_emit(s, &f) < 0)
			return -1;
		c->send_accept = 0;
		c->rx_unsent = 0;
		c->state = MUX_OPEN;
		log_info("channel %s #%u from %s open", c->name, c->num,
		    s->cfg->peer);
	}
	if (c->state != MUX_OPEN || c->close_sent)
		return 0;
	if (c->close_want)
		return mux_chan_close_frame(s, c);
	if (c->rx_unsent > 0) {
		f.type = FRAME_CREDIT;
		f.value = c->rx_unsent;
		if (mux_emit(s, &f) < 0)
			return -1;
		c->rx_unsent = 0;
	}
	rev = c->pfd >= 0 ? s->pfds[c->pfd].revents : 0;
	/* While reads come in full, a few more: fewer polls per byte. */
	for (k = 0; k < 16 && (rev & (POLLIN | POLLHUP | POLLERR)) &&
	    c->fd >= 0 && !c->rd_eof && c->tx_credit > 0; k++) {
		r = mux_read_local(s, c);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	if (c->rd_eof && !c->eof_sent && !c->close_want) {
		f.type = FRAME_EOF;
		if (mux_emit(s, &f) < 0)
			return -1;
		c->eof_sent = 1;
		mux_chan_check(s, c);
	}
	/* Done both ways (or failed) just now: say so in this round. */
	if (c->close_want)
		return mux_chan_close_frame(s, c);
	return 0;
}

/* Frame what is due: session frames first, then each channel in turn. */
static void
mux_generate(struct mux *s)
{
	struct frame f;
	size_t i, n;
	int j;

	memset(&f, 0, sizeof(f));
	if (!s->hello_sent) {
		f.type = FRAME_HELLO;
		f.vmin = f.vmax = FRAME_VERSION;
		f.value = MUX_DATA_MAX;
		if (mux_emit(s, &f) < 0)
			return;
		s->hello_sent = 1;
	}
	if (s->stopping) {
		f.type = FRAME_GOODBYE;
		if (!s->bye_sent && mux_emit(s, &f) == 0)
			s->bye_sent = 1;
		return;
	}
	if (!s->ready)
		return;
	if (s->pong_due) {
		f.type = FRAME_PONG;
		memcpy(f.ping, s->pong, sizeof(f.ping));
		if (mux_emit(s, &f) < 0)
			return;
		s->pong_due = 0;
	}
	if (s->ping_due) {
		f.type = FRAME_PING;
		s->pings++;
		for (j = 0; j < FRAME_PING_LEN; j++)
			f.ping[j] = (uint8_t)(s->pings >> (8 * j));
		if (mux_emit(s, &f) < 0)
			return;
		s->ping_due = 0;
	}
	n = s->nchan;
	for (i = 0; i < n && !s->done; i++)
		if (mux_chan_output(s, s->chans[(s->rr + i) % n]) < 0)
			break;
	s->rr++;
}

/* ---- local listeners ---- */

int
mux_open(struct mux *s, const char *name, int fd)
{
	struct mux_chan *c;
	unsigned num, k;

	/* Numbers go round, so a number is not reused at once. */
	for (k = 0; k < FRAME_CHANS; k++) {
		num = (s->next_num + k) % FRAME_CHANS;
		if (s->ids[1][num] == NULL)
			break;
	}
	c = k < FRAME_CHANS ? mux_chan_new(s, 1, num, 1) : NULL;
	if (c == NULL) {
		close(fd);
		errno = k < FRAME_CHANS ? ENOMEM : EMFILE;
		return -1;
	}
	s->next_num = (num + 1) % FRAME_CHANS;
	c->fd = fd;
	c->name = name;
	c->state = MUX_OPENING;
	c->send_open = 1;
	mux_grant(s, c);
	return (int)c->num;
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
				s->accept_pause = s->now + 100;
			}
			return;
		}
		num = mux_open(s, l->name, fd);
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

/* ---- the loop ---- */

static int
mux_poll_set(struct mux *s)
{
	struct mux_chan *c;
	short rev = 0, wev = 0, ev;
	size_t i, room;
	int n = 0, out_ok;

	if (s->tls != NULL) {
		rev = s->tls_want & TLS_WANT_READ ? POLLIN : 0;
		wev = s->tls_want & TLS_WANT_WRITE ? POLLOUT : 0;
		tls_send_buf(s->tls, &room);
		out_ok = room > FRAME_HDR_LEN;
	} else {
		rev = POLLIN;
		wev = ring_used(&s->out) > 0 ? POLLOUT : 0;
		room = ring_room(&s->out);
		out_ok = room >= FRAME_HDR_LEN + MUX_CHUNK_MIN;
	}
	s->prd = n;
	s->pfds[n].fd = s->rfd;
	s->pfds[n].events = rev | (s->wfd == s->rfd ? wev : 0);
	s->pfds[n++].revents = 0;
	s->pwr = s->prd;
	if (s->wfd != s->rfd) {
		s->pwr = n;
		s->pfds[n].fd = s->wfd;
		s->pfds[n].events = wev;
		s->pfds[n++].revents = 0;
	}
	s->plis = -1;
	if (s->ready && !s->stopping && s->now >= s->accept_pause) {
		s->plis = n;
		for (i = 0; i < s->cfg->nlisteners; i++) {
			s->pfds[n].fd = s->cfg->listeners[i].fd;
			s->pfds[n].events = POLLIN;
			s->pfds[n++].revents = 0;
		}
	}
	for (i = 0; i < s->nchan; i++) {
		c = s->chans[i];
		c->pfd = -1;
		if (c->fd < 0 || c->dead)
			continue;
		ev = 0;
		/* A full output stops reading; an empty backlog stops writing. */
		if (c->state == MUX_OPEN && !c->rd_eof && c->tx_credit > 0 &&
		    !c->close_want && out_ok)
			ev |= POLLIN;
		if (ring_used(&c->backlog) > 0)
			ev |= POLLOUT;
		if (ev == 0)
			continue;	/* a hangup alone would spin the loop */
		c->pfd = n;
		s->pfds[n].fd = c->fd;
		s->pfds[n].events = ev;
		s->pfds[n++].revents = 0;
	}
	return n;
}

/* Keepalive, deadlines and connect retries; returns the poll timeout. */
static int
mux_timers(struct mux *s)
{
	int64_t ka = (int64_t)s->cfg->keepalive_s * 1000, next = -1, t;
	int64_t hello = s->cfg->handshake_ms > 0 ? s->cfg->handshake_ms :
	    MUX_HANDSHAKE_MS;
	struct mux_chan *c;
	size_t i;

#define MUX_NEXT(when) do { t = (when); \
	if (next < 0 || t < next) next = t; } while (0)
	if (!s->ready && !s->stopping) {
		/* Before HELLO a peer is unknown: it may hold us only so long. */
		if (s->now - s->start >= hello) {
			/* No HELLO (or TLS handshake) in time: lost. */
			mux_end(s, MUX_LOST, "%s did not %s within %lld s",
			    s->cfg->peer, s->tls && !tls_ready(s->tls) ?
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
	for (i = 0; i < s->nchan; i++) {
		c = s->chans[i];
		if (c->state != MUX_CONNECTING || c->retry_at == 0)
			continue;
		if (s->now >= c->retry_at && mux_connect_blocked(s, c))
			c->retry_at = s->now + MUX_RETRY_MS;
		else if (s->now >= c->retry_at)
			mux_connect(s, c);
		if (c->retry_at != 0)
			MUX_NEXT(c->retry_at);
		else
			MUX_NEXT(s->now);	/* its ACCEPT or REFUSE is due */
	}
#undef MUX_NEXT
	if (next < 0)
		return -1;
	return next <= s->now ? 0 : next - s->now > 60000 ? 60000 :
	    (int)(next - s->now);
}

/* Told to stop: local connections end now, GOODBYE goes out. */
static void
mux_stop(struct mux *s)
{
	size_t i;

	s->stopping = 1;
	s->bye_deadline = s->now + MUX_BYE_MS;
	for (i = 0; i < s->nchan; i++)
		mux_chan_close_fd(s, s->chans[i]);
	log_info("stopping: saying goodbye to %s", s->cfg->peer);
}

/* Is all output written (so a GOODBYE has left)? */
static int
mux_out_empty(struct mux *s)
{
	if (s->tls != NULL)
		return !s->tls_dirty && !(s->tls_want & TLS_WANT_WRITE);
	return ring_used(&s->out) == 0;
}

static int
mux_splicable(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISSOCK(st.st_mode) ||
	    S_ISFIFO(st.st_mode));
}

/* A pipe for splicing, as large as the kernel lets us have. */
static int
mux_pipe(struct mux *s, int p[2])
{
	int sz;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	fcntl(p[0], F_SETPIPE_SZ, (int)MUX_PIPE);
	sz = fcntl(p[0], F_GETPIPE_SZ);
	if (sz <= 0)
		sz = 65536;
	if (s->pipe_sz == 0 || (size_t)sz < s->pipe_sz)
		s->pipe_sz = (size_t)sz;
	return 0;
}

static int
mux_setup(struct mux *s, char *err, size_t errlen)
{
	s->rxpipe[0] = s->rxpipe[1] = -1;
	s->lowat = 1;
	s->pfds = calloc(2 + s->cfg->nlisteners + 2 * FRAME_CHANS,
	    sizeof(*s->pfds));
	if (s->pfds == NULL)
		goto nomem;
	frame_dec_init(&s->dec, MUX_DATA_MAX);
	if (sock_set_nonblock(s->rfd, 1) < 0 ||
	    sock_set_nonblock(s->wfd, 1) < 0) {
		snprintf(err, errlen, "cannot make the peer stream "
		    "nonblocking: %s", strerror(errno));
		return MUX_LOST;
	}
	if (s->cfg->tls != NULL) {
		s->tls = malloc(tls_conn_size());
		if (s->tls == NULL)
			goto nomem;
		if (tls_conn_start(s->tls, s->cfg->tls, s->cfg->tls_server,
		    err, errlen) < 0)
			return MUX_TLS;
		s->tls_want = TLS_WANT_READ | TLS_WANT_WRITE;
		return 0;
	}
	s->inbuf = malloc(MUX_IN_BUF);
	s->out.buf = malloc(MUX_OUT_RING);
	if (s->inbuf == NULL || s->out.buf == NULL)
		goto nomem;
	ring_init(&s->out, s->out.buf, MUX_OUT_RING);
	/* Splice needs a pipe or socket on the far side; else plain copies. */
	if (mux_splicable(s->rfd) && mux_pipe(s, s->rxpipe) == 0)
		s->splice_in = 1;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return MUX_LOST;
}

static void
mux_teardown(struct mux *s)
{
	size_t i;
	int j;

	for (i = 0; i < s->nchan; i++) {
		mux_chan_close_fd(s, s->chans[i]);
		free(s->chans[i]);
	}
	for (j = 0; j < 2; j++)
		if (s->rxpipe[j] >= 0)
			close(s->rxpipe[j]);
	free(s->tls);
	free(s->inbuf);
	free(s->out.buf);
	free(s->pfds);
}

/* Hand the rest of the session's output to the peer (TLS: seal it). */
static void
mux_flush(struct mux *s)
{
	if (s->tls != NULL && s->tls_dirty) {
		tls_flush(s->tls);
		s->tls_dirty = 0;
	}
	mux_peer_write(s);
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
	s->rfd = rfd;
	s->wfd = wfd;
	s->now = s->start = s->last_rx = s->last_ping = clock_ms();
	rc = mux_setup(s, err, sizeof(err));
	if (rc != 0) {
		/* Out of memory, or TLS would not start: nothing to undo. */
		mux_end(s, rc, "%s: %s", cfg->peer, err);
	}
	return s;
}

/* The part of a round that does not wait: frame what is due, write it. */
static void
mux_produce(struct mux *s)
{
	if (sig_stop && !s->stopping && !s->done)
		mux_stop(s);
	if (!s->done) {
		mux_generate(s);
		mux_flush(s);
	}
	if (!s->done && s->stopping && s->bye_sent && mux_out_empty(s)) {
		/* Told to stop, and the peer has our GOODBYE. */
		mux_end(s, MUX_CLEAN, "stopped; said goodbye to %s",
		    s->cfg->peer);
	}
	mux_sweep(s);
}

int
mux_feed(struct mux *s, const void *p, size_t len)
{
	if (!s->done && s->tls != NULL)
		mux_end(s, MUX_LOST, "internal error: bytes fed to a TLS "
		    "session");
	s->now = clock_ms();
	if (!s->done && len > 0) {
		s->last_rx = s->now;
		mux_decode(s, p, len);
	}
	mux_produce(s);
	return !s->done;
}

/* Wait for the peer, the local sides and the timers; serve what is ready. */
static void
mux_loop(struct mux *s)
{
	const struct mux_config *cfg = s->cfg;
	struct timespec ts, *tsp;
	struct mux_chan *c;
	size_t i;
	short rev;
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
		/* Input the engine holds already will not wake poll. */
		if (s->tls != NULL && mux_tls_pending(s)) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
			tsp = &ts;
		}
		if (s->tls != NULL)
			mux_tls_lowat(s);
		rc = ppoll(s->pfds, (nfds_t)n, tsp, cfg->waitmask);
		s->now = clock_ms();
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			/* poll itself failed: nothing can go on. */
			mux_end(s, MUX_LOST, "poll: %s", strerror(errno));
			break;
		}
		rev = s->pfds[s->prd].revents;
		if (s->tls != NULL) {
			if (rev || s->pfds[s->pwr].revents || mux_tls_pending(s))
				mux_tls_read(s);
		} else {
			if (rev & (POLLIN | POLLHUP | POLLERR))
				mux_peer_read(s);
			if (s->pfds[s->pwr].revents & (POLLOUT | POLLERR))
				mux_peer_write(s);
		}
		for (i = 0; i < s->nchan && !s->done; i++) {
			c = s->chans[i];
			if (c->pfd >= 0 && (s->pfds[c->pfd].revents &
			    (POLLOUT | POLLHUP | POLLERR)) &&
			    ring_used(&c->backlog) > 0)
				mux_chan_flush(s, c);
		}
		if (s->plis >= 0 && !s->done)
			for (i = 0; i < cfg->nlisteners; i++)
				if (s->pfds[s->plis + (int)i].revents & POLLIN)
					mux_accept(s, &cfg->listeners[i]);
	}
}

int
mux_free(struct mux *s)
{
	int rc;

	if (!s->done)
		mux_end(s, MUX_CLEAN, "session with %s closed", s->cfg->peer);
	if (s->tls != NULL && (s->bye_rcvd || s->bye_sent)) {
		/* Best effort close_notify; the session is over either way. */
		tls_close(s->tls);
		tls_pump_rw(s->tls, s->rfd, s->wfd);
	}
	if (s->result == MUX_CLEAN)
		log_info("%s", s->why);
	else
		log_err("%s", s->why);
	rc = s->result;
	mux_teardown(s);
	free(s);
	return rc;
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
