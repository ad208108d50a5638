#ifndef MIG_PEER_H
#define MIG_PEER_H
/*
 * The other side of a managed migration, as send.c and recv.c see it:
 * a few hooks called at the phases' edges (doc/control-protocol.md says
 * what goes over the wire; lib/control implements these).  Without a
 * peer (NULL), both tools behave as in the two-command mode.
 */
#include <stddef.h>

#include "base/endpoint.h"
#include "migrate/disks.h"

/* How the destination answered, for the source's Confirm. */
enum peer_end {
	PEER_STARTED,		/* the guest runs there: quit the source */
	PEER_STARTED_PAUSED,	/* it is there, paused as asked */
	PEER_NOT_THERE,		/* the destination does not have it (its
				   QEMU quit) and was never told to start
				   it, or said it failed: resume */
	PEER_DOUBT,		/* commit went out, and nothing came back:
				   the source must never resume */
};

struct send_peer {
	void *arg;
	/*
	 * Prepare, after the source's checks: ask the destination to get
	 * ready for these disks (n may be 0).  Fills *migrate_uri and
	 * *disks_uri where their kind is 0 with the destination's.  0, or
	 * -1 with one line in err: nothing changed on either side.
	 */
	int (*prepare)(void *arg, int was_running, const struct disk *d,
	    size_t n, struct endpoint *migrate_uri, struct endpoint *disks_uri,
	    char *err, size_t errlen);
	/* While copying (before the switch-over): 0, or -1 with err when
	 * the destination failed or the connection was lost. */
	int (*tick)(void *arg, char *err, size_t errlen);
	/* The source gave up before the switch-over and resumes: tell the
	 * destination, which quits its QEMU; its reason is logged. */
	void (*abort)(void *arg, const char *why);
	/*
	 * After migrate-continue (whatever QEMU said next): wait for the
	 * destination's "loaded" or "failed"; on "loaded" call
	 * committing(carg) (from then the source never resumes), send the
	 * commit and wait for "started".  Returns a PEER_* with err set
	 * for the last two.
	 */
	enum peer_end (*settle)(void *arg, void (*committing)(void *),
	    void *carg, char *err, size_t errlen);
};

/* Confirm words the destination sends, for recv's tell. */
enum peer_word { PEER_W_RUNNING, PEER_W_PAUSED, PEER_W_FAILED };

struct recv_peer {
	void *arg;
	/* Every socket listens: answer the source's request. */
	void (*ready)(void *arg);
	/* While the stream runs: 0, or -1 with err when the source gave up
	 * or the connection was lost. */
	int (*tick)(void *arg, char *err, size_t errlen);
	/*
	 * Finish: the stream completed (or post-copy began, postcopy 1),
	 * the guest is paused here.  Say "loaded" and wait for the commit
	 * (after post-copy's switch-over the guest is this side's: no
	 * wait).  0 on commit; -1 with err when the source aborted; -2 with
	 * err when the connection was lost (the outcome is in doubt).
	 */
	int (*loaded)(void *arg, int postcopy, char *err, size_t errlen);
	/*
	 * The end here: running, paused, or failed (here 1: this side
	 * still holds the guest, paused).
	 */
	void (*tell)(void *arg, enum peer_word w, int here,
	    const char *reason);
};

#endif
