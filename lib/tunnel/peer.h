#ifndef MIG_TUNNEL_PEER_H
#define MIG_TUNNEL_PEER_H
/*
 * The peer stream of a session, behind a small table of operations: the
 * plaintext transport (peer_plain.c: writev from a ring, splice and
 * SO_RCVLOWAT on the way in) and TLS (peer_tls.c, over lib/tls).  The
 * session picks one at setup; nothing else in the session knows which.
 * Transports hand what they read to proto_input() (and big DATA payload
 * straight to its channel), and take frames from proto.c through
 * emit/data.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mux;
struct chan;
struct frame;

#define PEER_SPLICE_MIN	(16u * 1024)	/* smaller payloads are copied */
#define PEER_LOWAT_MAX	(128u * 1024)	/* wake for this much of a payload */
#define PEER_ROUNDS	4		/* peer reads per wakeup, for fairness */

struct peer_ops {
	/* Set up over s->peer.rfd/wfd; 0, or MUX_* with err filled. */
	int (*start)(struct mux *s, char *err, size_t errlen);
	/* Free what start allocated (after a failed start too). */
	void (*stop)(struct mux *s);
	/*
	 * The poll events wanted on rfd (*rd) and wfd (*wr), and whether a
	 * local read is worth trying: a DATA frame has room (*room).
	 */
	void (*events)(struct mux *s, short *rd, short *wr, int *room);
	/*
	 * Just before poll: 1 if input is buffered already (poll must not
	 * wait for it).
	 */
	int (*prepoll)(struct mux *s);
	/* After poll, with the revents of rfd and wfd: read, decode, write. */
	void (*io)(struct mux *s, short rrev, short wrev);
	/* Append one encoded control frame; -1 if it does not fit now. */
	int (*emit)(struct mux *s, const void *frame, size_t n);
	/*
	 * Read up to want bytes from fd as one DATA frame of channel (rbit,
	 * num).  Returns -1 with nothing read if the output is full, else
	 * sets *n to read(2)'s result (errno for -1) and returns 1 if it got
	 * all it asked for (more may wait), 0 if not.
	 */
	int (*data)(struct mux *s, int fd, int rbit, unsigned num,
	    uint32_t want, ssize_t *n);
	/* Hand everything framed so far to the peer, as far as it takes it. */
	void (*flush)(struct mux *s);
	/* All output has left (a GOODBYE queued is with the peer). */
	int (*drained)(struct mux *s);
	/* A frame was decoded (a hint for how to read next), or NULL. */
	void (*frame_seen)(struct mux *s, const struct frame *f);
	/* After GOODBYE either way: close the stream's own layer, best effort. */
	void (*bye)(struct mux *s);
	/* Still in the transport's handshake (for the timeout's message). */
	int (*handshaking)(const struct mux *s);
	/* What protects the stream, for the log ("" for nothing). */
	const char *(*describe)(const struct mux *s);
};

extern const struct peer_ops peer_plain_ops, peer_tls_ops;

struct peer {
	const struct peer_ops *ops;
	int rfd, wfd;
	int lowat;		/* SO_RCVLOWAT of rfd; -1: not settable */
	void *t;		/* the transport's own state */
};

/*
 * Wake when want bytes of rfd are in (SO_RCVLOWAT): waiting for the rest
 * of a big payload, a wakeup per TCP segment costs far more than the
 * bytes.  Not settable (not TCP): never tried again.
 */
void peer_lowat(struct mux *s, int want);

/* The stream ended (read 0) or failed (what: "read", "write"): s ends. */
void peer_eof(struct mux *s);
void peer_fail(struct mux *s, const char *what, int err);

#endif
