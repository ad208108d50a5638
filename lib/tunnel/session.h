#ifndef MIG_TUNNEL_SESSION_H
#define MIG_TUNNEL_SESSION_H
/*
 * One mig-tunnel session: the channels of one peer stream, multiplexed by
 * a single poll loop (doc/tunnel-protocol.md).  The loop never blocks on
 * any one fd: a channel whose local side is slow is held back by its own
 * credit, never by the others'; a full buffer stops reading and an empty
 * one stops writing.  Memory is allocated when the session and each
 * channel start, never per byte moved.
 */
#include <signal.h>
#include <stddef.h>

#include "base/endpoint.h"
#include "tunnel/frame.h"

struct tls_config;

#define MUX_HANDSHAKE_MS	10000	/* default of mux_config.handshake_ms */

/* -R NAME=unix:TARGET: a channel NAME opened by the peer goes to target. */
struct mux_route {
	char name[FRAME_NAME_MAX + 1];
	struct endpoint target;
};

/* -L unix:LOCAL=NAME: connections accepted on fd open NAME at the peer. */
struct mux_listener {
	char name[FRAME_NAME_MAX + 1];
	struct endpoint ep;
	int fd;			/* listening, set up by the caller */
};

struct mux_config {
	const struct mux_route *routes;
	size_t nroutes;
	const struct mux_listener *listeners;
	size_t nlisteners;
	int keepalive_s;	/* PING after this much silence, peer dead
				   after 3 times as much; 0: never */
	int handshake_ms;	/* TLS handshake and HELLO within this;
				   0: MUX_HANDSHAKE_MS */
	const struct tls_config *tls;	/* NULL: plaintext */
	int tls_server;		/* the TLS role: 1 on the listening side */
	const char *peer;	/* the peer, as messages name it */
	const sigset_t *waitmask;	/* signal mask while waiting in ppoll */
};

/* How a session ended: the process exit status of a connecting tunnel. */
enum {
	MUX_CLEAN = 0,		/* GOODBYE received, or we were told to stop */
	MUX_LOST = 1,		/* stream lost or broken, protocol error */
	MUX_TLS = 3,		/* TLS handshake or peer authentication failed */
};

/*
 * Run a session over the peer stream (read from rfd, write to wfd; the
 * same fd for a socket) until it ends, and return MUX_*.  The fds are made
 * nonblocking and left open.  The session stops cleanly (sending GOODBYE)
 * once sig_stop (base/sig.h) is set; signals are taken only while waiting,
 * with cfg->waitmask in force, so the caller blocks them otherwise.
 * Every local connection of the session is closed when it returns, and
 * why it ended has been logged.
 */
int mux_run(const struct mux_config *cfg, int rfd, int wfd);

/*
 * The same session in steps, for a program that embeds it (mig-send and
 * mig-recv carrying channels over their own connection) and for tests and
 * fuzzing, which drive it from bytes without poll: mux_run() is mux_new(),
 * mux_loop(), then mux_free().
 */
struct mux;

/*
 * Set a session up over (rfd, wfd) as mux_run() does; cfg must outlive
 * it.  NULL only if out of memory (logged); a session whose setup failed
 * has ended already (mux_feed() returns 0, mux_free() says why).
 */
struct mux *mux_new(const struct mux_config *cfg, int rfd, int wfd);

/*
 * Open a channel NAME at the peer for the local connection fd, as each
 * connection accepted on a -L listener does; the OPEN goes out once the
 * session is up.  The session owns fd from now on; name must outlive the
 * session.  Returns the channel number, or -1 with fd closed and errno
 * ENOMEM or EMFILE (all 1024 numbers in use).
 */
int mux_open(struct mux *s, const char *name, int fd);

/*
 * Run the session until it ends, as mux_run() does between mux_new() and
 * mux_free(): for a program that carries channels of its own over its
 * connection to the peer (mux_open() them first).  Stopping, signals and
 * the peer fds as for mux_run().
 */
void mux_loop(struct mux *s);

/*
 * Plaintext sessions only: take len bytes as if just read from the peer
 * stream, then frame what is due and write it to wfd as far as it takes
 * it, without waiting.  Local connections are written but not read, and
 * no timer runs.  Returns 1 while the session goes on, 0 once it ended.
 */
int mux_feed(struct mux *s, const void *p, size_t len);

/*
 * End the session (if it has not ended), close its local connections,
 * log why it ended, free it, and return MUX_*.  The peer fds stay open.
 */
int mux_free(struct mux *s);

#endif
