#ifndef MIG_TUNNEL_PROTO_H
#define MIG_TUNNEL_PROTO_H
/*
 * The tunnel protocol as doc/tunnel-protocol.md writes it, for one
 * session: frames from the peer in (proto_input), frames to it out
 * (proto_generate, proto_chan_read), and the local connections of the
 * channels.  Control answers (ACCEPT, CREDIT, PONG...) are state, not
 * queued bytes: they are framed when the output has room, so that reading
 * the peer never waits on writing to it.
 */
#include <stddef.h>
#include <stdint.h>

struct mux;
struct chan;

/*
 * Decode len bytes the peer sent and act on each frame; DATA payload goes
 * to its channel's local side (proto_deliver).  The session ends on a
 * protocol error.
 */
void proto_input(struct mux *s, const uint8_t *p, size_t len);

/*
 * DATA payload for the channel receiving (s->tab.rx; dropped if none):
 * written to the local side at once, the rest to the backlog, which the
 * credit guarantees has room.  A transport that moves payload itself
 * (splice) accounts for it with chantab_received(), then flushes
 * (proto_chan_flush) or grants (chantab_grant).
 */
void proto_deliver(struct mux *s, const uint8_t *p, size_t n);

/*
 * Frame what is due: HELLO, GOODBYE, PONG, PING, then each channel's
 * OPEN/ACCEPT/REFUSE, CREDIT, EOF and CLOSE in turn, as long as the
 * output takes them.
 */
void proto_generate(struct mux *s);

/*
 * c's local side is readable: its data to the peer, a frame at a time
 * within its credit, a few frames while reads come in full.  -1 when the
 * output is full (the round stops), else 0.
 */
int proto_chan_read(struct mux *s, struct chan *c);

/* c's local side is writable: its backlog out, as far as it takes it. */
void proto_chan_flush(struct mux *s, struct chan *c);

/*
 * Drop c's local side at once and tell the peer: CLOSE with reason (a
 * FRAME_CLOSE_*), or REFUSE if it was still connecting.  what and err,
 * unless what is NULL, are logged as the failure.
 */
void proto_abort(struct mux *s, struct chan *c, int reason, const char *what,
    int err);

/* mux_open() (session.h). */
int proto_open(struct mux *s, const char *name, int fd);

/*
 * Connect retries of peer-opened channels whose target's listen queue was
 * full: those due are tried.  Returns when to come back (ms, clock_ms()),
 * or -1 if none waits.
 */
int64_t proto_retries(struct mux *s);

/* Told to stop: local connections end now, GOODBYE is due. */
void proto_stop(struct mux *s);

#endif
