#ifndef MIG_CTL_TUNNEL_H
#define MIG_CTL_TUNNEL_H
/*
 * --tunnelled: every socket of a managed migration over the control
 * connection itself.  After the "tunnel" exchange (doc/control-protocol.md
 * section 8) each side hands its connection to a session process that
 * speaks mig-tunnel's protocol (lib/tunnel, doc/tunnel-protocol.md) and
 * carries three kinds of channel: "ctl", the control protocol from then
 * on; "mig", each connection of the migration stream (the main one, then
 * the multifd ones of --parallel, in that order); "nbd", each NBD
 * connection of the disk copy.  The sockets of both ends are in a private
 * directory: on the source the session listens on mig.sock and nbd.sock
 * (QEMU's migrate and NBD URIs); on the destination it connects "mig" and
 * "nbd" to mig.sock and nbd.sock (where the destination QEMU listens) and
 * "ctl" to ctl.sock, which the tool accepts once.  So the tool's control
 * code stays plain descriptor I/O, as under TLS (ctl_tls.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/endpoint.h"

struct ctl_tunnel {
	pid_t pid;			/* the session process, 0 if none */
	char dir[80];			/* its private directory */
	struct endpoint mig, nbd;	/* dir/mig.sock, dir/nbd.sock */
};

/*
 * Start the session over the connection (read rfd, write wfd: one socket
 * twice, or a pipe pair; after "tunnel" was exchanged on it), as the source (is_source: it
 * opens "ctl" and listens for "mig" and "nbd") or the destination.
 * pending[0..npending) are bytes already read from fd past that exchange
 * (the peer's first frames): the session takes them first.  The fds stay
 * the caller's to close (the session has its own copies).  The
 * destination waits until deadline_ms for the source's "ctl" channel.  Returns the control
 * connection's new descriptor, with t->mig and t->nbd set; or -1 with one
 * line in err, nothing left behind.
 */
int ctl_tunnel_start(struct ctl_tunnel *t, int is_source, int rfd, int wfd,
    const uint8_t *pending, size_t npending, int64_t deadline_ms, char *err,
    size_t errlen);

/*
 * End the session: close ctl (the control descriptor it returned), stop
 * the process (it says goodbye to the peer), reap it and remove the
 * directory.  Nothing if no session was started.
 */
void ctl_tunnel_end(struct ctl_tunnel *t, int ctl);

#endif
