#ifndef MIG_CTL_CONN_H
#define MIG_CTL_CONN_H
/*
 * A control connection over a pair of descriptors (one socket twice, or
 * standard input and output): framing, and the keepalive that notices a
 * silent peer within a bounded time (ctl_wire.h).  No other I/O.
 */
#include <stddef.h>
#include <stdint.h>

#include "control/ctl_msg.h"

struct ctl_conn {
	int rfd, wfd;
	uint8_t in[CTL_FRAME_MAX];
	size_t inlen;
	int64_t last_rx, last_tx;	/* clock_ms() of the last byte */
	int64_t interval_ms;		/* ping after this much quiet */
	int count;			/* silent after count intervals */
	int lost;			/* EOF, error or silence: final */
	char err[300];			/* why it was lost */
};

/*
 * Start c on rfd/wfd (made nonblocking for reading).  interval_ms 0 means
 * CTL_KEEPALIVE_MS, count 0 CTL_KEEPALIVE_COUNT.
 */
void ctl_conn_init(struct ctl_conn *c, int rfd, int wfd, int64_t interval_ms,
    int count);

/*
 * Send m, waiting at most until deadline_ms for the peer to take it.
 * Returns 0, or -1 with c->err (the connection is then lost).
 */
int ctl_conn_send(struct ctl_conn *c, const struct ctl_msg *m,
    int64_t deadline_ms);

/*
 * Wait until deadline_ms (0: return at once after reading what is
 * pending) for one message, answering pings and sending its own.  A
 * signal ends the wait early (returns 0).  Returns 1 with *m (never a
 * ping or pong), 0 if none came, -1 once the connection is lost: the
 * peer closed it, sent a bad frame, or was silent for count intervals
 * (bytes already pending are read before that is said); c->err says
 * which.  A message in the same read as the close is still handed out.
 */
int ctl_conn_poll(struct ctl_conn *c, int64_t deadline_ms,
    struct ctl_msg *m);

/* The bound after which a silent peer is noticed, in ms. */
int64_t ctl_conn_silence_ms(const struct ctl_conn *c);

#endif
