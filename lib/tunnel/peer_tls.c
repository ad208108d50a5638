/*
 * The TLS peer transport (peer.h), over lib/tls: frames are written into
 * the engine's plaintext buffer (local data read straight into it behind
 * a reserved header) and sealed as records fill; what tls_recv_buf()
 * gives is decoded in place.  The engine does the I/O when pumped:
 * reading only after poll said so, writing whenever there is output.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls/tls.h"
#include "tunnel/mux.h"
#include "tunnel/proto.h"

#define PEER_TLS_RECORDS (8 * PEER_ROUNDS)	/* records decoded per wakeup */
#define PEER_TLS_CHUNK	4096u		/* smallest local read worth a frame */

struct peer_tls {
	int want;		/* TLS_WANT_* from the last pump */
	int dirty;		/* plaintext handed to the engine, not flushed */
	char how[64];		/* "TLS " and the suite, once up */
	struct tls_conn *conn;	/* last: tls_conn_size() bytes */
};

static int
peer_tls_start(struct mux *s, char *err, size_t errlen)
{
	struct peer_tls *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->conn = malloc(tls_conn_size())) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return MUX_LOST;
	}
	s->peer.t = t;
	if (tls_conn_start(t->conn, s->cfg->tls, s->cfg->tls_server, err,
	    errlen) < 0)
		return MUX_TLS;
	t->want = TLS_WANT_READ | TLS_WANT_WRITE;
	return 0;
}

static void
peer_tls_stop(struct mux *s)
{
	struct peer_tls *t = s->peer.t;

	if (t == NULL)
		return;
	free(t->conn);
	free(t);
	s->peer.t = NULL;
}

/* Pump the engine (reading too if rd), and end the session if it failed. */
static void
peer_tls_pump(struct mux *s, int rd)
{
	struct peer_tls *t = s->peer.t;
	int r;

	r = rd ? tls_pump_rw(t->conn, s->peer.rfd, s->peer.wfd) :
	    tls_pump_write(t->conn, s->peer.rfd, s->peer.wfd);
	if (r >= 0) {
		t->want = r;
		return;
	}
	t->want = 0;
	if (s->stopping && s->bye_sent)
		return;
	if (!tls_ready(t->conn))
		/* Handshake failed: untrusted, expired, no certificate... */
		mux_end(s, MUX_TLS, "TLS with %s failed: %s", s->cfg->peer,
		    tls_error(t->conn));
	else if (tls_closed_cleanly(t->conn))
		/* TLS closed with no GOODBYE first: lost. */
		mux_end(s, MUX_LOST, "%s closed the TLS session without "
		    "saying goodbye", s->cfg->peer);
	else
		/* TLS broke mid-session: lost. */
		mux_end(s, MUX_LOST, "TLS session with %s: %s", s->cfg->peer,
		    tls_error(t->conn));
}

static int
peer_tls_pending(struct mux *s)
{
	struct peer_tls *t = s->peer.t;
	size_t len;

	return tls_recv_buf(t->conn, &len) != NULL && len > 0;
}

static void
peer_tls_events(struct mux *s, short *rd, short *wr, int *room)
{
	struct peer_tls *t = s->peer.t;
	size_t len;

	*rd = t->want & TLS_WANT_READ ? POLLIN : 0;
	*wr = t->want & TLS_WANT_WRITE ? POLLOUT : 0;
	tls_send_buf(t->conn, &len);
	*room = len > FRAME_HDR_LEN;
}

/*
 * Input the engine holds already will not wake poll.  As for plaintext:
 * wake once a good part of what the peer is sure to send is in; set after
 * every read of rfd, just before poll.
 */
static int
peer_tls_prepoll(struct mux *s)
{
	struct peer_tls *t = s->peer.t;
	int pending = peer_tls_pending(s);
	size_t due = tls_in_due(t->conn, frame_dec_left(&s->dec));

	peer_lowat(s, due >= PEER_SPLICE_MIN ?
	    (int)(due < PEER_LOWAT_MAX ? due : PEER_LOWAT_MAX) : 1);
	return pending;
}

static void
peer_tls_io(struct mux *s, short rrev, short wrev)
{
	struct peer_tls *t = s->peer.t;
	unsigned char *p;
	size_t len;
	int round;

	if (!rrev && !wrev && !peer_tls_pending(s))
		return;
	peer_tls_pump(s, 1);
	/* A record at a time, a bounded number, so the locals get a turn. */
	for (round = 0; round < PEER_TLS_RECORDS && !s->done; round++) {
		p = tls_recv_buf(t->conn, &len);
		if (p == NULL || len == 0)
			return;
		s->last_rx = s->now;
		proto_input(s, p, len);
		tls_recv_ack(t->conn, len);
		/* Output it made; more input waits for poll. */
		peer_tls_pump(s, 0);
	}
}

/*
 * Room for n bytes of output at the return value (in the current record),
 * or NULL.  A partly filled record is sealed and pushed to make room.
 */
static uint8_t *
peer_tls_reserve(struct mux *s, size_t n, size_t *room)
{
	struct peer_tls *t = s->peer.t;
	uint8_t *p;
	size_t len;

	p = tls_send_buf(t->conn, &len);
	if (len < n && t->dirty) {
		tls_flush(t->conn);
		t->dirty = 0;
		/* The sealed record is staged: write only if that is full. */
		p = tls_send_buf(t->conn, &len);
		if (len < n) {
			peer_tls_pump(s, 0);
			p = tls_send_buf(t->conn, &len);
		}
	}
	*room = len;
	return len >= n ? p : NULL;
}

static int
peer_tls_emit(struct mux *s, const void *frame, size_t n)
{
	struct peer_tls *t = s->peer.t;
	size_t room;
	uint8_t *p = peer_tls_reserve(s, n, &room);

	if (p == NULL)
		return -1;
	memcpy(p, frame, n);
	tls_send_ack(t->conn, n);
	t->dirty = 1;
	return 0;
}

static int
peer_tls_data(struct mux *s, int fd, int rbit, unsigned num, uint32_t want,
    ssize_t *n)
{
	struct peer_tls *t = s->peer.t;
	size_t room;
	uint8_t *p;

	p = peer_tls_reserve(s, FRAME_HDR_LEN + (want < PEER_TLS_CHUNK ? want :
	    PEER_TLS_CHUNK), &room);
	if (p == NULL)
		return -1;
	if (want > room - FRAME_HDR_LEN)
		want = (uint32_t)(room - FRAME_HDR_LEN);
	*n = read(fd, p + FRAME_HDR_LEN, want);
	if (*n > 0) {
		frame_data_hdr(p, rbit, num, (uint32_t)*n);
		tls_send_ack(t->conn, FRAME_HDR_LEN + (size_t)*n);
		t->dirty = 1;
	}
	return *n > 0 && (uint32_t)*n == want;
}

/* Seal what is staged, and write; reading is for after poll said so. */
static void
peer_tls_flush(struct mux *s)
{
	struct peer_tls *t = s->peer.t;

	if (t->dirty) {
		tls_flush(t->conn);
		t->dirty = 0;
	}
	peer_tls_pump(s, 0);
}

static int
peer_tls_drained(struct mux *s)
{
	struct peer_tls *t = s->peer.t;

	return !t->dirty && !(t->want & TLS_WANT_WRITE);
}

/* Best effort close_notify; the session is over either way. */
static void
peer_tls_bye(struct mux *s)
{
	struct peer_tls *t = s->peer.t;

	tls_close(t->conn);
	tls_pump_rw(t->conn, s->peer.rfd, s->peer.wfd);
}

static int
peer_tls_handshaking(const struct mux *s)
{
	const struct peer_tls *t = s->peer.t;

	return !tls_ready(t->conn);
}

static const char *
peer_tls_describe(const struct mux *s)
{
	struct peer_tls *t = s->peer.t;
	const char *suite = tls_suite(t->conn);

	snprintf(t->how, sizeof(t->how), "TLS %s", suite ? suite : "");
	return t->how;
}

const struct peer_ops peer_tls_ops = {
	.start = peer_tls_start,
	.stop = peer_tls_stop,
	.events = peer_tls_events,
	.prepoll = peer_tls_prepoll,
	.io = peer_tls_io,
	.emit = peer_tls_emit,
	.data = peer_tls_data,
	.flush = peer_tls_flush,
	.drained = peer_tls_drained,
	.frame_seen = NULL,
	.bye = peer_tls_bye,
	.handshaking = peer_tls_handshaking,
	.describe = peer_tls_describe,
};
