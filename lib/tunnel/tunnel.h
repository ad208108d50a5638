#ifndef MIG_TUNNEL_TUNNEL_H
#define MIG_TUNNEL_TUNNEL_H
/*
 * mig-tunnel's setup around the session loop (session.h): the -L/-R/PEER
 * arguments, local listeners, the peer stream (stdio, connect, or a
 * listener serving one forked session per peer), signals, and removing
 * our sockets on the way out.
 */
#include <stddef.h>

#include "base/endpoint.h"
#include "tunnel/session.h"

#define TUNNEL_MAX_ROUTES	64
#define TUNNEL_MAX_LISTENERS	64
#define TUNNEL_MAX_SESSIONS	1024	/* --max-sessions at most */
#define TUNNEL_SESSIONS		128	/* at once, on a listening tunnel */
#define TUNNEL_PER_SOURCE	8	/* of those, from one address or uid */

/* Exit statuses (doc/mig-tunnel.1). */
enum {
	TUNNEL_EXIT_OK = 0,	/* peer said goodbye, or we were stopped */
	TUNNEL_EXIT_LOST = 1,	/* peer lost, protocol or runtime failure */
	TUNNEL_EXIT_USAGE = 2,	/* bad arguments or files; a local socket
				   could not be set up: nothing started */
	TUNNEL_EXIT_TLS = 3,	/* TLS handshake or authentication failed */
};

struct tunnel_opts {
	struct mux_route routes[TUNNEL_MAX_ROUTES];
	size_t nroutes;
	struct mux_listener listeners[TUNNEL_MAX_LISTENERS];
	size_t nlisteners;
	struct endpoint peer;	/* ENDPOINT_STDIO for '-' */
	int peer_listen;	/* listen:... */
	const char *tls_cert, *tls_key, *tls_ca, *tls_peer_name;
	int tls_client;		/* with '-': be the TLS client */
	int insecure;		/* TCP without TLS is allowed */
	int keepalive_s;
	int handshake_s;	/* TLS handshake and HELLO within this */
	int max_sessions;	/* listening: sessions at once */
	int max_per_source;	/* listening: of those, from one source */
	int limits_set;		/* either was given */
};

/*
 * Defaults: PEER '-', keepalive 15 s, handshake 10 s, 128 sessions of
 * which 8 per source, nothing else.
 */
void tunnel_opts_init(struct tunnel_opts *o);

/*
 * Add "-L unix:LOCAL=NAME" / "-R NAME=unix:TARGET" / PEER to o.  Each
 * returns 0, or -1 with a one-line reason in err (the caller exits 2).
 */
int tunnel_add_local(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen);
int tunnel_add_route(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen);
int tunnel_set_peer(struct tunnel_opts *o, const char *arg, char *err,
    size_t errlen);

/*
 * Check the options together: TLS files all or none, TLS-only options
 * without TLS, TCP without TLS unless insecure, session limits only when
 * listening.  0, or -1 with err.
 */
int tunnel_check(const struct tunnel_opts *o, char *err, size_t errlen);

/*
 * Run the tunnel until the peer goes (connecting or stdio: one session)
 * or, listening, until SIGINT/SIGTERM.  Returns TUNNEL_EXIT_*; sockets we
 * created are removed.  A stdio peer whose standard output is a terminal
 * is refused (TUNNEL_EXIT_USAGE) before anything is created.
 */
int tunnel_run(struct tunnel_opts *o);

#endif
