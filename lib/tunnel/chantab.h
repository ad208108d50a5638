#ifndef MIG_TUNNEL_CHANTAB_H
#define MIG_TUNNEL_CHANTAB_H
/*
 * The channels of one session and the credit pool they share: the table
 * by number each way, each channel's state and counters, and how much the
 * peer may send it (doc/tunnel-protocol.md, sections 5 and 11).  No I/O
 * but closing a channel's local fd; the protocol (proto.c) decides, this
 * file keeps the books, and test/unit/tunnel_chantab_test.c checks them
 * without sockets.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"
#include "tunnel/frame.h"
#include "tunnel/ring.h"

#define CHANTAB_WIN_MAX	(1024u * 1024)	/* a channel's window (its backlog) */
#define CHANTAB_WIN_MIN	(16u * 1024)	/* window every channel gets */
#define CHANTAB_BUDGET	(1536u * 1024)	/* windows beyond WIN_MIN share this */
#define CHANTAB_MAX	(2 * FRAME_CHANS)	/* live at once, both ways */

/* A channel's state (doc/tunnel-protocol.md, section 5). */
enum {
	CHANTAB_OPENING = 1,	/* ours: OPEN sent or due, no answer yet */
	CHANTAB_CONNECTING,	/* the peer's: connecting to the -R target */
	CHANTAB_OPEN,
	CHANTAB_REFUSING,	/* the peer's: REFUSE due */
};

struct chan {
	int fd;			/* local connection; -1 once closed */
	uint16_t num;		/* the opener's number */
	uint8_t mine;		/* we opened it (a -L connection) */
	uint8_t state;		/* CHANTAB_* */
	uint8_t dead;		/* released: freed at the next sweep */
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
	uint64_t seq;		/* order of its OPEN, sent or received */
	const char *name;
	const struct endpoint *target;
	struct ring backlog;	/* peer data the local side has not taken */
	uint8_t *mem;		/* its memory, CHANTAB_WIN_MAX; NULL once closed */
};

struct chantab {
	struct chan *ids[2][FRAME_CHANS];	/* live, by [mine][num] */
	struct chan *chans[CHANTAB_MAX];	/* live, then dead until swept */
	size_t nchan;		/* in chans[] */
	size_t nring;		/* of those, with a backlog */
	size_t excess;		/* sum over channels of commit - WIN_MIN */
	unsigned next_num;	/* where the search for our next number starts */
	struct chan *rx;	/* DATA payload arriving goes there (NULL: dropped) */
	unsigned long sweeps;	/* sweeps that freed channels, so far */
};

/* An empty table (zeroed). */
void chantab_init(struct chantab *t);

/*
 * A new channel (mine, num), whose number the caller has checked is free,
 * with a backlog of CHANTAB_WIN_MAX bytes if with_backlog.  A full table
 * is swept first (see chantab_sweep).  NULL if out of memory.
 */
struct chan *chantab_new(struct chantab *t, int mine, unsigned num,
    int with_backlog);

/*
 * The next free number of ours, going round so that a number is not
 * reused at once (the search starts past the last one chantab_new took);
 * -1 if all FRAME_CHANS are in use.
 */
int chantab_next_num(struct chantab *t);

/* Close c's local fd and free its backlog; t->rx stops pointing at it. */
void chantab_close_fd(struct chantab *t, struct chan *c);

/*
 * c is over: its local side is closed and its number free again; the
 * struct stays in chans[] (dead) until the next sweep, so that pointers
 * held in this round stay valid.  Logs the byte counts of an open channel.
 */
void chantab_release(struct chantab *t, struct chan *c);

/*
 * Free the dead channels.  Only where no caller holds channel pointers
 * across it: between rounds, and in chantab_new (no caller walks chans[]
 * while creating channels; one that holds pointers across it checks that
 * t->sweeps did not change).
 */
void chantab_sweep(struct chantab *t);

/* Close and free every channel. */
void chantab_free_all(struct chantab *t);

/*
 * A channel's window target: an even share of the pool among channels
 * with a backlog, within [CHANTAB_WIN_MIN, CHANTAB_WIN_MAX].
 */
uint32_t chantab_cap(const struct chantab *t);

/*
 * Top up the peer's credit for c toward its window (rx_granted and
 * rx_unsent grow), in steps of at least half a window; nothing for a
 * channel without a backlog or past EOF or CLOSE.  Credit plus backlog
 * never exceed CHANTAB_WIN_MAX, and beyond CHANTAB_WIN_MIN each channel
 * draws on the pool, so all backlogs together need at most
 * channels * CHANTAB_WIN_MIN + CHANTAB_BUDGET bytes.
 */
void chantab_grant(struct chantab *t, struct chan *c);

/*
 * n bytes of DATA payload for c arrived (n within c's credit, which the
 * protocol checked): the credit is spent and counted.
 */
void chantab_received(struct chan *c, size_t n);

#endif
