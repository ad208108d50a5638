/*
 * The plaintext peer transport (peer.h).  Out: frames are put in a ring,
 * local data read straight into it behind a reserved header, and written
 * out with the frames before and after it in one writev (splicing this way
 * measured slower: a unix socket splices one buffer a call, and TCP then
 * carries page-sized fragments).  In: the stream is read into a buffer and
 * decoded; the rest of a big DATA payload is spliced through a pipe to its
 * local connection, never entering user memory, or read straight into the
 * channel's backlog if that is in use anyway; SO_RCVLOWAT keeps poll from
 * waking for every segment of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tunnel/mux.h"
#include "tunnel/proto.h"

#define PLAIN_IN_BUF	(256u * 1024)
#define PLAIN_OUT_RING	(512u * 1024)
#define PLAIN_PIPE	(256u * 1024)	/* the splice pipe, if the kernel lets us */
#define PLAIN_CHUNK_MIN	(16u * 1024)	/* smallest local read worth a frame */
#define PLAIN_SMALL_RUN	16		/* small frames in a row: read in bulk */

struct peer_plain {
	uint8_t *inbuf;
	struct ring out;
	int splice_in;		/* rfd can be spliced from */
	int rxpipe[2];
	size_t pipe_sz;
	int hdr_only;		/* big DATA runs: read a bare header next */
	int small_run;		/* frames since the last big DATA */
};

static uint32_t
peer_plain_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static int
peer_plain_splicable(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISSOCK(st.st_mode) ||
	    S_ISFIFO(st.st_mode));
}

/* A pipe for splicing, as large as the kernel lets us have. */
static int
peer_plain_pipe(struct peer_plain *t, int p[2])
{
	int sz;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	fcntl(p[0], F_SETPIPE_SZ, (int)PLAIN_PIPE);
	sz = fcntl(p[0], F_GETPIPE_SZ);
	if (sz <= 0)
		sz = 65536;
	if (t->pipe_sz == 0 || (size_t)sz < t->pipe_sz)
		t->pipe_sz = (size_t)sz;
	return 0;
}

static int
peer_plain_start(struct mux *s, char *err, size_t errlen)
{
	struct peer_plain *t = calloc(1, sizeof(*t));

	if (t == NULL)
		goto nomem;
	s->peer.t = t;
	t->rxpipe[0] = t->rxpipe[1] = -1;
	t->inbuf = malloc(PLAIN_IN_BUF);
	t->out.buf = malloc(PLAIN_OUT_RING);
	if (t->inbuf == NULL || t->out.buf == NULL)
		goto nomem;
	ring_init(&t->out, t->out.buf, PLAIN_OUT_RING);
	/* Splice needs a pipe or socket on the far side; else plain copies. */
	if (peer_plain_splicable(s->peer.rfd) && peer_plain_pipe(t, t->rxpipe) == 0)
		t->splice_in = 1;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return MUX_LOST;
}

static void
peer_plain_stop(struct mux *s)
{
	struct peer_plain *t = s->peer.t;
	int j;

	if (t == NULL)
		return;
	for (j = 0; j < 2; j++)
		if (t->rxpipe[j] >= 0)
			close(t->rxpipe[j]);
	free(t->inbuf);
	free(t->out.buf);
	free(t);
	s->peer.t = NULL;
}

static void
peer_plain_events(struct mux *s, short *rd, short *wr, int *room)
{
	struct peer_plain *t = s->peer.t;

	*rd = POLLIN;
	*wr = ring_used(&t->out) > 0 ? POLLOUT : 0;
	*room = ring_room(&t->out) >= FRAME_HDR_LEN + PLAIN_CHUNK_MIN;
}

static int
peer_plain_prepoll(struct mux *s)
{
	return 0;
}

/*
 * Bulk reads batch small frames but copy big payloads; bare header reads
 * let big payloads be spliced.  A run of small frames switches to bulk,
 * one big one back.
 */
static void
peer_plain_frame_seen(struct mux *s, const struct frame *f)
{
	struct peer_plain *t = s->peer.t;

	if (f->type == FRAME_DATA && f->len >= PEER_SPLICE_MIN) {
		t->hdr_only = t->splice_in;
		t->small_run = 0;
	} else if (++t->small_run >= PLAIN_SMALL_RUN)
		t->hdr_only = 0;
}

/* Empty rxpipe of n bytes: into c's backlog, or dropped if c is NULL. */
static void
peer_plain_pipe_drain(struct mux *s, struct chan *c, size_t n)
{
	struct peer_plain *t = s->peer.t;
	struct iovec iov[2];
	ssize_t r;
	int cnt;

	while (n > 0) {
		if (c != NULL) {
			cnt = ring_space(&c->backlog, 0, iov, n);
			r = readv(t->rxpipe[0], iov, cnt);
		} else
			r = read(t->rxpipe[0], t->inbuf, n < PLAIN_IN_BUF ? n :
			    PLAIN_IN_BUF);
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
peer_plain_payload(struct mux *s, uint32_t left)
{
	struct peer_plain *t = s->peer.t;
	struct chan *c = s->tab.rx;
	struct iovec iov[2];
	ssize_t n, m;
	size_t moved = 0;
	int cnt, copy = ring_used(&c->backlog) > 0 || !t->splice_in;

	if (copy) {
		cnt = ring_space(&c->backlog, 0, iov, left);
		n = readv(s->peer.rfd, iov, cnt);
	} else
		n = splice(s->peer.rfd, NULL, t->rxpipe[1], NULL,
		    peer_plain_min(left, (uint32_t)t->pipe_sz),
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n == 0) {
		peer_eof(s);
		return 0;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			peer_fail(s, "read", errno);
		return 0;
	}
	s->last_rx = s->now;
	t->hdr_only = t->splice_in;
	frame_dec_skip(&s->dec, (uint32_t)n);
	chantab_received(c, (size_t)n);
	if (copy) {
		ring_fill(&c->backlog, (size_t)n);
		proto_chan_flush(s, c);
		return 1;
	}
	while (moved < (size_t)n) {
		m = splice(t->rxpipe[0], NULL, c->fd, NULL, (size_t)n - moved,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (m > 0) {
			moved += (size_t)m;
			continue;
		}
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0 && errno != EAGAIN) {
			proto_abort(s, c, FRAME_CLOSE_LOCAL, "write", errno);
			c = NULL;
		}
		break;
	}
	if (moved < (size_t)n)
		peer_plain_pipe_drain(s, c, (size_t)n - moved);
	if (c != NULL)
		chantab_grant(&s->tab, c);
	return 1;
}

/* Read and decode what the peer sent, a few rounds at most. */
static void
peer_plain_read(struct mux *s)
{
	struct peer_plain *t = s->peer.t;
	uint32_t left;
	size_t max;
	ssize_t n;
	int round;

	for (round = 0; round < PEER_ROUNDS && !s->done; round++) {
		left = frame_dec_left(&s->dec);
		/* Big payload: splice it, or straight into a backlog in use. */
		if (left >= PEER_SPLICE_MIN && s->tab.rx != NULL &&
		    (t->splice_in || ring_used(&s->tab.rx->backlog) > 0)) {
			if (peer_plain_payload(s, left) == 0) {
				left = frame_dec_left(&s->dec);
				if (left >= PEER_SPLICE_MIN && !s->done)
					peer_lowat(s, (int)peer_plain_min(left,
					    PEER_LOWAT_MAX));
				return;
			}
			continue;
		}
		peer_lowat(s, 1);
		max = t->hdr_only && frame_dec_at_boundary(&s->dec) ?
		    FRAME_HDR_LEN : PLAIN_IN_BUF;
		n = read(s->peer.rfd, t->inbuf, max);
		if (n == 0) {
			peer_eof(s);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				peer_fail(s, "read", errno);
			return;
		}
		s->last_rx = s->now;
		proto_input(s, t->inbuf, (size_t)n);
		if ((size_t)n < max && max != FRAME_HDR_LEN)
			return;		/* drained */
	}
}

/* Write the output ring as far as the peer takes it. */
static void
peer_plain_flush(struct mux *s)
{
	struct peer_plain *t = s->peer.t;
	struct iovec iov[2];
	ssize_t n;
	int cnt;

	while (!s->done && ring_used(&t->out) > 0) {
		cnt = ring_data(&t->out, iov, SIZE_MAX);
		n = writev(s->peer.wfd, iov, cnt);
		if (n >= 0) {
			ring_drain(&t->out, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			peer_fail(s, "write", errno);
		return;
	}
}

static void
peer_plain_io(struct mux *s, short rrev, short wrev)
{
	if (rrev & (POLLIN | POLLHUP | POLLERR))
		peer_plain_read(s);
	if (wrev & (POLLOUT | POLLERR))
		peer_plain_flush(s);
}

static int
peer_plain_emit(struct mux *s, const void *frame, size_t n)
{
	struct peer_plain *t = s->peer.t;

	if (ring_room(&t->out) < n)
		return -1;
	ring_put(&t->out, frame, n);
	return 0;
}

static int
peer_plain_data(struct mux *s, int fd, int rbit, unsigned num, uint32_t want,
    ssize_t *n)
{
	struct peer_plain *t = s->peer.t;
	uint8_t hdr[FRAME_HDR_LEN];
	size_t room = ring_room(&t->out);
	struct iovec iov[2];
	int cnt;

	if (room < FRAME_HDR_LEN + peer_plain_min(want, PLAIN_CHUNK_MIN))
		return -1;
	want = peer_plain_min(want, (uint32_t)(room - FRAME_HDR_LEN));
	cnt = ring_space(&t->out, FRAME_HDR_LEN, iov, want);
	*n = readv(fd, iov, cnt);
	if (*n > 0) {
		frame_data_hdr(hdr, rbit, num, (uint32_t)*n);
		ring_poke(&t->out, 0, hdr, FRAME_HDR_LEN);
		ring_fill(&t->out, FRAME_HDR_LEN + (size_t)*n);
	}
	return *n > 0 && (uint32_t)*n == want;
}

static int
peer_plain_drained(struct mux *s)
{
	struct peer_plain *t = s->peer.t;

	return ring_used(&t->out) == 0;
}

static void
peer_plain_bye(struct mux *s)
{
}

static int
peer_plain_handshaking(const struct mux *s)
{
	return 0;
}

static const char *
peer_plain_describe(const struct mux *s)
{
	return "";
}

const struct peer_ops peer_plain_ops = {
	.start = peer_plain_start,
	.stop = peer_plain_stop,
	.events = peer_plain_events,
	.prepoll = peer_plain_prepoll,
	.io = peer_plain_io,
	.emit = peer_plain_emit,
	.data = peer_plain_data,
	.flush = peer_plain_flush,
	.drained = peer_plain_drained,
	.frame_seen = peer_plain_frame_seen,
	.bye = peer_plain_bye,
	.handshaking = peer_plain_handshaking,
	.describe = peer_plain_describe,
};
