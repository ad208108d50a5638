#ifndef MIG_TUNNEL_MUX_H
#define MIG_TUNNEL_MUX_H
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

#endif
