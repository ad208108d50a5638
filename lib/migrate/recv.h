#ifndef MIG_RECV_H
#define MIG_RECV_H
/*
 * The destination side of a migration (mig-recv): prepares a QEMU started
 * with -incoming defer, serves its disks over NBD for the source's mirrors,
 * takes the incoming stream, and starts the guest only once the source's
 * mirrors are complete and the NBD server is stopped.
 */
#include <stdint.h>
#include <stdio.h>

#include "base/endpoint.h"
#include "config/apply.h"
#include "migrate/peer.h"

/* Exit codes, as documented in mig-recv(1). */
enum {
	RECV_OK = 0,
	RECV_FAILED = 1,	/* migration failed; destination QEMU quit */
	RECV_USAGE = 2,		/* bad input; nothing was changed */
	RECV_POSTCOPY_FAILED = 3, /* failed after the post-copy switch-over */
	RECV_PAUSED = 4,	/* the guest is left paused here */
	RECV_LOST = 5,		/* the destination QEMU died with the guest */
	RECV_CONFIG = 6,	/* migrated; --persistent not applied */
	RECV_DOUBT = 7,		/* managed: the control connection was lost
				   after "loaded"; the QEMU here was quit */
};

struct recv_opts {
	struct endpoint qmp;
	struct endpoint incoming;	/* default: chosen by the caller */
	struct endpoint nbd;		/* kind 0 when not given */
	const char *migrate_disks;	/* "a,b" or NULL for the default */
	int postcopy;
	int parallel;
	int parallel_connections;
	int paused;
	int64_t timeout_s;		/* 0 = none */
	int64_t idle_timeout_s;		/* give up on a silent source; 0 = never */
	int64_t wait_s;			/* wait this long for the QMP socket */
	const char *ready_file;		/* created once every socket listens */
	int verbose;
	FILE *json;
	struct apply_opts cfg;		/* --domain, --persistent */
	/* Managed (--listen, --serve): the source's hooks, else NULL. */
	const struct recv_peer *peer;
};

int recv_check_opts(const struct recv_opts *o, char *err, size_t errlen);

/* Run the destination side; returns one of the exit codes above. */
int recv_run(const struct recv_opts *o);

#endif
