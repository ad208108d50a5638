#ifndef MIG_CTL_SOURCE_H
#define MIG_CTL_SOURCE_H
/*
 * mig-send's side of the control connection (doc/control-protocol.md):
 * the send_peer hooks send.c calls at the phases' edges, and the offline
 * migration, which moves a definition only.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/endpoint.h"
#include "config/def.h"
#include "control/ctl_conn.h"
#include "control/ctl_tunnel.h"
#include "migrate/peer.h"

struct ctl_source {
	struct ctl_conn conn;
	struct send_peer peer;		/* hooks into this */
	/* The request, beyond what send.c passes to prepare. */
	const char *name;		/* the guest's */
	const char *dname;		/* its name there, or NULL */
	const struct def *def;		/* what travels, or NULL */
	uint32_t flags;			/* CTL_FL_* of the request */
	uint32_t conns;			/* --parallel-connections, or 0 */
	struct endpoint migrate_uri;	/* the source's, kind 0 if none */
	struct endpoint disks_uri;
	const struct tls_config *tls;	/* mutual TLS, or NULL */
	int tunnelled;			/* --tunnelled asked */
	pid_t relay;			/* its relay process, or 0 */
	int wire;			/* under a tunnel: the connection */
	struct ctl_tunnel tun;		/* the tunnel, pid 0 if none */
};

struct tls_config;

/*
 * Connect to the destination's control socket (waiting at most
 * deadline_ms for it to answer; with retry, also for it to appear or
 * stop refusing; with cs->tls, the TLS handshake too; with cs->tunnelled,
 * the switch to the tunnel, whose sockets Prepare then names as the
 * migration's) and set cs->peer's hooks.  Returns 0, or -1 with one line
 * in err.
 */
int ctl_source_connect(struct ctl_source *cs, const struct endpoint *dest,
    int64_t deadline_ms, int retry, char *err, size_t errlen);

/*
 * Offline: send the definition (CTL_FL_OFFLINE) and wait for the
 * destination's "defined" or its refusal.  Returns 0, or -1 with err.
 */
int ctl_source_offline(struct ctl_source *cs, char *err, size_t errlen);

/* Say bye and close (the tunnel too, once the destination closed). */
void ctl_source_close(struct ctl_source *cs);

#endif
