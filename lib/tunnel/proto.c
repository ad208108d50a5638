/*
 * The tunnel protocol (proto.h), in the order of doc/tunnel-protocol.md:
 * errors first (section 9: the rest reports through them), session start
 * (4), channels (5: opening, data and credit, EOF and CLOSE), GOODBYE
 * (7); then the two directions, inbound dispatch (proto_input) and
 * outbound generation (proto_generate), where keepalive (6) is a case
 * each.
 *
 * Data in: the input is decoded as it arrives; DATA payload is written to
 * its local connection at once, and only what that connection does not
 * take is copied to the channel's backlog, which its credit guarantees
 * has room.  The peer is therefore always read: nothing that arrives can
 * be refused, so a slow channel holds back only its own sender, never the
 * stream.  Data out: a frame at a time per readable channel, read by the
 * transport straight into its output behind the frame header.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "tunnel/mux.h"
#include "tunnel/proto.h"

#define PROTO_RETRY_MS	20		/* target's backlog full: retry */
#define PROTO_CONNECT_MS 10000		/* ... for this long */
#define PROTO_READS	16		/* local reads in a row, while full */

static void proto_chan_check(struct mux *s, struct chan *c);

static uint32_t
proto_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ---- 9. Errors ---- */

static void
proto_error(struct mux *s, const struct frame *f, const char *what)
{
	mux_end(s, MUX_LOST, "protocol error from %s: %s on channel %u: %s",
	    s->cfg->peer, frame_type_name(f->type), f->num, what);
}

/* ---- 4. Session start: HELLO ---- */

static void
proto_on_hello(struct mux *s, const struct frame *f)
{
	const char *how = s->peer.ops->describe(s);

	if (f->vmin > FRAME_VERSION || f->vmax < FRAME_VERSION) {
		/* No version in common: nothing can follow. */
		mux_end(s, MUX_LOST, "%s speaks tunnel protocol versions %u to "
		    "%u; this mig-tunnel speaks %u", s->cfg->peer, f->vmin,
		    f->vmax, FRAME_VERSION);
		return;
	}
	s->peer_data_max = proto_min(f->value, MUX_DATA_MAX);
	s->ready = 1;
	log_info("session with %s is up%s%s", s->cfg->peer, *how ? ", " : "",
	    how);
}

/* ---- 5. Channels: opening ---- */

/*
 * QEMU 7.2 tells a migration's channels apart by the order in which they
 * connect (main stream first, then multifd): a channel waiting for a full
 * backlog must not be overtaken by a later one to the same target.
 */
static int
proto_connect_blocked(const struct mux *s, const struct chan *c)
{
	const struct chan *o;
	size_t i;

	for (i = 0; i < s->tab.nchan; i++) {
		o = s->tab.chans[i];
		if (o != c && o->state == CHANTAB_CONNECTING &&
		    o->retry_at != 0 && o->target == c->target &&
		    o->seq < c->seq)
			return 1;
	}
	return 0;
}

/* Connect a peer-opened channel to its target; ACCEPT or REFUSE follows. */
static void
proto_connect(struct mux *s, struct chan *c)
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
		chantab_grant(&s->tab, c);
		return;
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	/* A full listen backlog (EAGAIN) clears as the target accepts. */
	if (err == EAGAIN && s->now < c->deadline) {
		c->retry_at = s->now + PROTO_RETRY_MS;
		return;
	}
	log_warn("channel %s #%u from %s: cannot connect to unix:%s: %s; "
	    "refused", c->name, c->num, s->cfg->peer, c->target->path,
	    strerror(err));
	chantab_close_fd(&s->tab, c);
	c->state = CHANTAB_REFUSING;
	c->reason = FRAME_REFUSE_TARGET;
}

int64_t
proto_retries(struct mux *s)
{
	int64_t next = -1, t;
	struct chan *c;
	size_t i;

	for (i = 0; i < s->tab.nchan; i++) {
		c = s->tab.chans[i];
		if (c->state != CHANTAB_CONNECTING || c->retry_at == 0)
			continue;
		if (s->now >= c->retry_at && proto_connect_blocked(s, c))
			c->retry_at = s->now + PROTO_RETRY_MS;
		else if (s->now >= c->retry_at)
			proto_connect(s, c);
		/* Connected or refused: its ACCEPT or REFUSE is due now. */
		t = c->retry_at != 0 ? c->retry_at : s->now;
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}

static void
proto_on_open(struct mux *s, const struct frame *f)
{
	const struct mux_route *r = NULL;
	struct chan *c;
	size_t i;

	if (s->tab.ids[0][f->num] != NULL) {
		mux_end(s, MUX_LOST, "protocol error from %s: OPEN of channel "
		    "%u, which is open", s->cfg->peer, f->num);
		return;
	}
	for (i = 0; i < s->cfg->nroutes && r == NULL; i++)
		if (strcmp(s->cfg->routes[i].name, f->name) == 0)
			r = &s->cfg->routes[i];
	if (s->stopping)
		r = NULL;
	c = chantab_new(&s->tab, 0, f->num, r != NULL);
	if (c == NULL && r != NULL)
		c = chantab_new(&s->tab, 0, f->num, 0);
	if (c == NULL) {
		/* Not even a refusal fits in memory. */
		mux_end(s, MUX_LOST, "out of memory for channel %s", f->name);
		return;
	}
	c->tx_credit = f->value;
	if (r == NULL) {
		c->state = CHANTAB_REFUSING;
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
		c->state = CHANTAB_REFUSING;
		c->reason = FRAME_REFUSE_FULL;
		return;
	}
	c->state = CHANTAB_CONNECTING;
	c->deadline = s->now + PROTO_CONNECT_MS;
	c->seq = ++s->open_seq;
	if (proto_connect_blocked(s, c))
		c->retry_at = s->now + PROTO_RETRY_MS;
	else
		proto_connect(s, c);
}

static const char *
proto_refuse_text(unsigned reason)
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

/* ACCEPT or REFUSE of a channel we opened. */
static void
proto_on_answer(struct mux *s, struct chan *c, const struct frame *f)
{
	if (c->state != CHANTAB_OPENING) {
		proto_error(s, f, "answered already");
		return;
	}
	if (f->type == FRAME_REFUSE) {
		log_warn("channel %s #%u refused: %s", c->name, c->num,
		    proto_refuse_text(f->reason));
		chantab_release(&s->tab, c);
		return;
	}
	c->state = CHANTAB_OPEN;
	c->tx_credit = f->value;
	log_info("channel %s #%u open", c->name, c->num);
}

int
proto_open(struct mux *s, const char *name, int fd)
{
	int num = chantab_next_num(&s->tab);
	struct chan *c;

	c = num >= 0 ? chantab_new(&s->tab, 1, (unsigned)num, 1) : NULL;
	if (c == NULL) {
		close(fd);
		errno = num >= 0 ? ENOMEM : EMFILE;
		return -1;
	}
	c->fd = fd;
	c->name = name;
	c->state = CHANTAB_OPENING;
	c->send_open = 1;
	c->seq = ++s->open_seq;
	chantab_grant(&s->tab, c);
	return num;
}

/* ---- 5. Channels: data and credit ---- */

static void
proto_on_data(struct mux *s, struct chan *c, const struct frame *f)
{
	if (c->eof_rcvd) {
		proto_error(s, f, "after EOF");
		return;
	}
	if (f->len > c->rx_granted) {
		proto_error(s, f, "more than its credit");
		return;
	}
	/*
	 * Credit is spent as the payload arrives: until then the rest of the
	 * frame counts as granted, so no top-up overlaps it.
	 */
	s->tab.rx = c->fd >= 0 && c->mem != NULL ? c : NULL;
}

static void
proto_on_credit(struct mux *s, struct chan *c, const struct frame *f)
{
	if (f->value > FRAME_WINDOW_MAX - c->tx_credit) {
		proto_error(s, f, "credit above 16 MiB");
		return;
	}
	c->tx_credit += f->value;
}

void
proto_chan_flush(struct mux *s, struct chan *c)
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
				proto_abort(s, c, FRAME_CLOSE_LOCAL, "write",
				    errno);
			break;
		}
		ring_drain(&c->backlog, (size_t)n);
	}
	chantab_grant(&s->tab, c);
	proto_chan_check(s, c);
}

void
proto_deliver(struct mux *s, const uint8_t *p, size_t n)
{
	struct chan *c = s->tab.rx;
	ssize_t w;

	if (c == NULL || c->fd < 0)
		return;		/* the channel is being aborted: dropped */
	chantab_received(c, n);
	if (ring_used(&c->backlog) == 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			proto_abort(s, c, FRAME_CLOSE_LOCAL, "write", errno);
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
	chantab_grant(&s->tab, c);
}

/* What a local read returned: n bytes framed already, 0 EOF, -1 error. */
static void
proto_local_result(struct mux *s, struct chan *c, ssize_t n)
{
	if (n > 0) {
		c->tx_credit -= (uint32_t)n;
		c->tx_bytes += (uint64_t)n;
	} else if (n == 0)
		c->rd_eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		proto_abort(s, c, FRAME_CLOSE_LOCAL, "read", errno);
}

int
proto_chan_read(struct mux *s, struct chan *c)
{
	ssize_t n;
	int k, r;

	/* While reads come in full, a few more: fewer polls per byte. */
	for (k = 0; k < PROTO_READS && c->state == CHANTAB_OPEN &&
	    !c->close_want && !c->close_sent && c->fd >= 0 && !c->rd_eof &&
	    c->tx_credit > 0; k++) {
		r = s->peer.ops->data(s, c->fd, !c->mine, c->num,
		    proto_min(c->tx_credit, s->peer_data_max), &n);
		if (r < 0)
			return -1;
		proto_local_result(s, c, n);
		if (r == 0)
			break;
	}
	return 0;
}

/* ---- 5. Channels: half-close (EOF) and closing (CLOSE) ---- */

void
proto_abort(struct mux *s, struct chan *c, int reason, const char *what,
    int err)
{
	if (c->fd >= 0 && what != NULL)
		log_info("channel %s #%u: %s: %s; aborting it", c->name, c->num,
		    what, strerror(err));
	chantab_close_fd(&s->tab, c);
	if (c->close_want || c->close_sent)
		return;
	if (c->state == CHANTAB_CONNECTING) {
		c->state = CHANTAB_REFUSING;
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
proto_chan_check(struct mux *s, struct chan *c)
{
	if (c->state != CHANTAB_OPEN || c->close_want || c->close_sent ||
	    c->fd < 0)
		return;
	if (c->eof_rcvd && !c->wr_shut && ring_used(&c->backlog) == 0) {
		/* The client may be gone already; then there is nobody to tell. */
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
	if (c->eof_sent && c->wr_shut) {
		chantab_close_fd(&s->tab, c);
		c->close_want = 1;
		c->reason = FRAME_CLOSE_DONE;
	}
}

static void
proto_on_eof(struct mux *s, struct chan *c, const struct frame *f)
{
	if (c->eof_rcvd) {
		proto_error(s, f, "a second EOF");
		return;
	}
	c->eof_rcvd = 1;
	c->rx_unsent = 0;
	proto_chan_check(s, c);
}

static void
proto_on_close(struct mux *s, struct chan *c, const struct frame *f)
{
	c->close_rcvd = 1;
	if (c->close_sent) {
		chantab_release(&s->tab, c);
		return;
	}
	/* DONE after EOF both ways: our CLOSE follows our backlog. */
	if (f->reason != FRAME_CLOSE_DONE || !c->eof_rcvd || !c->eof_sent) {
		if (c->fd >= 0)
			log_info("channel %s #%u aborted by the peer", c->name,
			    c->num);
		proto_abort(s, c, FRAME_CLOSE_ABORT, NULL, 0);
	}
}

/* ---- 7. Ending: GOODBYE ---- */

void
proto_stop(struct mux *s)
{
	size_t i;

	s->stopping = 1;
	for (i = 0; i < s->tab.nchan; i++)
		chantab_close_fd(&s->tab, s->tab.chans[i]);
	log_info("stopping: saying goodbye to %s", s->cfg->peer);
}

/* ---- inbound dispatch ---- */

static void
proto_on_frame(struct mux *s, const struct frame *f)
{
	struct chan *c;

	switch (f->type) {
	case FRAME_HELLO:
		proto_on_hello(s, f);
		return;
	case FRAME_PING:	/* 6. Keepalive */
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
		proto_on_open(s, f);
		return;
	}
	c = s->tab.ids[f->rbit][f->num];
	if (c == NULL) {
		proto_error(s, f, "no such channel");
		return;
	}
	if (f->type == FRAME_ACCEPT || f->type == FRAME_REFUSE) {
		proto_on_answer(s, c, f);
		return;
	}
	if (c->state != CHANTAB_OPEN || c->close_rcvd) {
		proto_error(s, f, c->close_rcvd ? "after CLOSE" :
		    "not open yet");
		return;
	}
	switch (f->type) {
	case FRAME_DATA:
		proto_on_data(s, c, f);
		return;
	case FRAME_CREDIT:
		proto_on_credit(s, c, f);
		return;
	case FRAME_EOF:
		proto_on_eof(s, c, f);
		return;
	case FRAME_CLOSE:
		proto_on_close(s, c, f);
		return;
	}
}

void
proto_input(struct mux *s, const uint8_t *p, size_t len)
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
			if (s->peer.ops->frame_seen != NULL)
				s->peer.ops->frame_seen(s, &s->dec.f);
			proto_on_frame(s, &s->dec.f);
			break;
		case FRAME_EV_DATA:
			proto_deliver(s, data, dlen);
			break;
		}
		p += used;
		len -= used;
	}
}

/* ---- outbound generation ---- */

/* Append a control frame; -1 if it does not fit now (nothing written). */
static int
proto_emit(struct mux *s, const struct frame *f)
{
	uint8_t buf[FRAME_HDR_LEN + FRAME_CTL_MAX];

	return s->peer.ops->emit(s, buf, frame_encode(buf, f));
}

static int
proto_close_frame(struct mux *s, struct chan *c)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_CLOSE;
	f.rbit = !c->mine;
	f.num = c->num;
	f.reason = c->reason;
	if (proto_emit(s, &f) < 0)
		return -1;
	c->close_sent = 1;
	if (c->close_rcvd)
		chantab_release(&s->tab, c);
	return 0;
}

/*
 * The OPENs due, oldest first; -1 when the output is full.  QEMU 7.2 tells
 * a migration's channels apart by the order in which they connect (main
 * stream first, then multifd): the peer connects in the order of our
 * OPENs, so they leave in the order the connections came, never in the
 * round's.
 */
static int
proto_opens(struct mux *s)
{
	struct chan *c, *o;
	struct frame f;
	size_t i;

	for (;;) {
		c = NULL;
		for (i = 0; i < s->tab.nchan; i++) {
			o = s->tab.chans[i];
			if (o->send_open && !o->dead && (c == NULL ||
			    o->seq < c->seq))
				c = o;
		}
		if (c == NULL)
			return 0;
		memset(&f, 0, sizeof(f));
		f.type = FRAME_OPEN;
		f.num = c->num;
		f.value = c->rx_unsent;
		f.namelen = (uint8_t)strlen(c->name);
		memcpy(f.name, c->name, f.namelen);
		if (proto_emit(s, &f) < 0)
			return -1;
		c->send_open = 0;
		c->rx_unsent = 0;
	}
}

/* Everything c has to say, in order; -1 when the output is full. */
static int
proto_chan_output(struct mux *s, struct chan *c)
{
	struct frame f;

	/* Not a word before its OPEN, which waits its turn (proto_opens). */
	if (c->dead || c->send_open)
		return 0;
	memset(&f, 0, sizeof(f));
	f.rbit = !c->mine;
	f.num = c->num;
	if (c->state == CHANTAB_REFUSING) {
		f.type = FRAME_REFUSE;
		f.reason = c->reason;
		if (proto_emit(s, &f) < 0)
			return -1;
		chantab_release(&s->tab, c);
		return 0;
	}
	if (c->send_accept) {
		f.type = FRAME_ACCEPT;
		f.value = c->rx_unsent;
		if (proto_emit(s, &f) < 0)
			return -1;
		c->send_accept = 0;
		c->rx_unsent = 0;
		c->state = CHANTAB_OPEN;
		log_info("channel %s #%u from %s open", c->name, c->num,
		    s->cfg->peer);
	}
	if (c->state != CHANTAB_OPEN || c->close_sent)
		return 0;
	if (c->close_want)
		return proto_close_frame(s, c);
	if (c->rx_unsent > 0) {
		f.type = FRAME_CREDIT;
		f.value = c->rx_unsent;
		if (proto_emit(s, &f) < 0)
			return -1;
		c->rx_unsent = 0;
	}
	if (c->rd_eof && !c->eof_sent) {
		f.type = FRAME_EOF;
		if (proto_emit(s, &f) < 0)
			return -1;
		c->eof_sent = 1;
		proto_chan_check(s, c);
	}
	/* Done both ways (or failed) just now: say so in this round. */
	if (c->close_want)
		return proto_close_frame(s, c);
	return 0;
}

void
proto_generate(struct mux *s)
{
	struct frame f;
	size_t i, n;
	int j;

	memset(&f, 0, sizeof(f));
	if (!s->hello_sent) {
		f.type = FRAME_HELLO;
		f.vmin = f.vmax = FRAME_VERSION;
		f.value = MUX_DATA_MAX;
		if (proto_emit(s, &f) < 0)
			return;
		s->hello_sent = 1;
	}
	if (s->stopping) {
		f.type = FRAME_GOODBYE;
		if (!s->bye_sent && proto_emit(s, &f) == 0)
			s->bye_sent = 1;
		return;
	}
	if (!s->ready)
		return;
	if (s->pong_due) {
		f.type = FRAME_PONG;
		memcpy(f.ping, s->pong, sizeof(f.ping));
		if (proto_emit(s, &f) < 0)
			return;
		s->pong_due = 0;
	}
	if (s->ping_due) {
		f.type = FRAME_PING;
		s->pings++;
		for (j = 0; j < FRAME_PING_LEN; j++)
			f.ping[j] = (uint8_t)(s->pings >> (8 * j));
		if (proto_emit(s, &f) < 0)
			return;
		s->ping_due = 0;
	}
	if (proto_opens(s) < 0)
		return;
	n = s->tab.nchan;
	for (i = 0; i < n && !s->done; i++)
		if (proto_chan_output(s, s->tab.chans[(s->rr + i) % n]) < 0)
			break;
	s->rr++;
}
