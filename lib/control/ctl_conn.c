#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/sock.h"
#include "control/ctl_conn.h"

void
ctl_conn_init(struct ctl_conn *c, int rfd, int wfd, int64_t interval_ms,
    int count)
{
	c->rfd = rfd;
	c->wfd = wfd;
	c->inlen = 0;
	c->last_rx = c->last_tx = clock_ms();
	c->interval_ms = interval_ms > 0 ? interval_ms : CTL_KEEPALIVE_MS;
	c->count = count > 0 ? count : CTL_KEEPALIVE_COUNT;
	c->lost = 0;
	c->err[0] = '\0';
	sock_set_nonblock(rfd, 1);
}

int64_t
ctl_conn_silence_ms(const struct ctl_conn *c)
{
	return c->interval_ms * c->count;
}

static int
ctl_conn_lose(struct ctl_conn *c, const char *why)
{
	if (!c->lost)
		snprintf(c->err, sizeof(c->err), "%s", why);
	c->lost = 1;
	return -1;
}

int
ctl_conn_send(struct ctl_conn *c, const struct ctl_msg *m,
    int64_t deadline_ms)
{
	static uint8_t out[CTL_FRAME_MAX];
	char why[300];
	long n;

	if (c->lost)
		return -1;
	n = ctl_encode(m, out, sizeof(out));
	if (n < 0)
		return ctl_conn_lose(c, "a control message did not encode");
	if (sock_write_all(c->wfd, out, (size_t)n, deadline_ms) < 0) {
		snprintf(why, sizeof(why), "the control connection broke "
		    "sending '%s': %s", ctl_type_name(m->type), errno ==
		    ETIMEDOUT ? "the peer does not read" : strerror(errno));
		return ctl_conn_lose(c, why);
	}
	c->last_tx = clock_ms();
	return 0;
}

/* Read what is pending; -1 once the peer closed or the read failed. */
static int
ctl_conn_read(struct ctl_conn *c)
{
	ssize_t n;

	while (c->inlen < sizeof(c->in)) {
		n = read(c->rfd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n > 0) {
			c->inlen += (size_t)n;
			c->last_rx = clock_ms();
			continue;
		}
		if (n == 0)
			return -1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
	return 0;
}

/* One whole message out of the buffer: 1, 0 (need more), -1 (bad). */
static int
ctl_conn_take(struct ctl_conn *c, struct ctl_msg *m)
{
	char why[300];
	long n = ctl_parse(c->in, c->inlen, m, why, sizeof(why));

	if (n < 0)
		return ctl_conn_lose(c, why);
	if (n == 0)
		return 0;
	memmove(c->in, c->in + n, c->inlen - (size_t)n);
	c->inlen -= (size_t)n;
	return 1;
}

int
ctl_conn_poll(struct ctl_conn *c, int64_t deadline_ms, struct ctl_msg *m)
{
	static struct ctl_msg ping;
	struct pollfd p;
	int64_t now, wake;
	int rc, closed = 0;
	char why[300];

	for (;;) {
		/* Whole messages first, even after the peer closed. */
		while ((rc = ctl_conn_take(c, m)) == 1) {
			if (m->type == CTL_PING) {
				ctl_msg_init(&ping, CTL_PONG);
				if (ctl_conn_send(c, &ping, clock_ms() +
				    c->interval_ms) < 0)
					return -1;
				continue;
			}
			if (m->type != CTL_PONG)
				return 1;
		}
		if (rc < 0 || c->lost)
			return -1;
		if (closed)
			return ctl_conn_lose(c, c->inlen ? "the control "
			    "connection closed in the middle of a message" :
			    "the peer closed the control connection");
		now = clock_ms();
		if (now - c->last_tx >= c->interval_ms) {
			ctl_msg_init(&ping, CTL_PING);
			if (ctl_conn_send(c, &ping, now + c->interval_ms) < 0)
				return -1;
		}
		/* Silent?  Only once what is pending has been read: a busy
		 * reader must not take its own delay for the peer's. */
		if (now - c->last_rx >= ctl_conn_silence_ms(c)) {
			if (ctl_conn_read(c) < 0)
				closed = 1;
			if (c->inlen || closed ||
			    clock_ms() - c->last_rx < ctl_conn_silence_ms(c))
				continue;
			snprintf(why, sizeof(why), "the peer was silent for "
			    "%lld s", (long long)(ctl_conn_silence_ms(c) /
			    1000));
			return ctl_conn_lose(c, why);
		}
		wake = c->last_tx + c->interval_ms;
		if (c->last_rx + ctl_conn_silence_ms(c) < wake)
			wake = c->last_rx + ctl_conn_silence_ms(c);
		if (deadline_ms && deadline_ms < wake)
			wake = deadline_ms;
		p.fd = c->rfd;
		p.events = POLLIN;
		p.revents = 0;
		rc = poll(&p, 1, deadline_ms == 0 || wake <= now ? 0 :
		    (int)(wake - now));
		if (rc < 0 && errno == EINTR)
			return 0;
		if (rc > 0) {
			if (ctl_conn_read(c) < 0)
				closed = 1;
			continue;
		}
		if (deadline_ms == 0 || clock_ms() >= deadline_ms)
			return 0;
	}
}
