#ifndef MIG_TUNNEL_MUX_H
#define MIG_TUNNEL_MUX_H
/*
 * Private to the session (session.h): its state, shared by the loop
 * (mux.c), the protocol (proto.c) and the peer transports (peer*.c).
 * Each part owns its fields, as marked; the others read them.
 */
#include <poll.h>
#include <stdint.h>

#include "tunnel/chantab.h"
#include "tunnel/frame.h"
#include "tunnel/peer.h"
#include "tunnel/session.h"

#define MUX_DATA_MAX	(256u * 1024)	/* DATA payload we take and send */

struct mux {
	const struct mux_config *cfg;
	struct peer peer;	/* the transport (peer*.c) */
	struct chantab tab;	/* the channels (chantab.c) */

	/* proto.c */
	struct frame_dec dec;
	uint32_t peer_data_max;
	int hello_sent, ready, bye_sent, bye_rcvd, stopping;
	int pong_due, ping_due;
	uint8_t pong[FRAME_PING_LEN];
	uint64_t pings;
	uint64_t open_seq;	/* OPENs so far, both ways: their order */
	size_t rr;		/* where the next round of channels starts */

	/* mux.c */
	int64_t now, start, last_rx, last_ping, bye_deadline, accept_pause;
	struct pollfd *pfds;
	struct chan **pchan;	/* the channel of each of pfds, this round */
	int done, result;
	char why[320];
};

/*
 * End the session with result (MUX_*) and why, a printf format; the first
 * reason wins, later ones being its consequences.
 */
void mux_end(struct mux *s, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
