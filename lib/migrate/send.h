#ifndef MIG_SEND_H
#define MIG_SEND_H
/*
 * The source side of a migration (mig-send): drives the source QEMU over
 * QMP in libvirt's order, and rolls back on any failure before the
 * switch-over so the guest keeps running where it was.
 */
#include <stdint.h>
#include <stdio.h>

#include "base/endpoint.h"
#include "config/apply.h"
#include "migrate/peer.h"

/* Exit codes, as documented in mig-send(1). */
enum {
	SEND_OK = 0,
	SEND_FAILED = 1,	/* migration failed; source runs as before */
	SEND_USAGE = 2,		/* bad input; nothing was changed */
	SEND_POSTCOPY_FAILED = 3, /* failed after the post-copy switch-over */
	SEND_STUCK = 4,		/* the source guest is left paused: rollback
				   incomplete, or the outcome unknown */
	SEND_LOST = 5,		/* the source QEMU died with the guest */
	SEND_CONFIG = 6,	/* migrated; --undefinesource not applied */
	SEND_DOUBT = 7,		/* managed: the control connection was lost
				   after the commit; the source is paused */
};

enum send_storage { SEND_STORAGE_NONE, SEND_STORAGE_ALL, SEND_STORAGE_INC };
enum send_timeout_action { SEND_TIMEOUT_SUSPEND, SEND_TIMEOUT_POSTCOPY };

struct send_opts {
	struct endpoint qmp;
	struct endpoint migrate_uri;
	struct endpoint disks_uri;	/* kind 0 when not given */
	enum send_storage storage;
	const char *migrate_disks;	/* "a,b" or NULL for the default */
	int sync_writes;
	int postcopy;
	int postcopy_after_precopy;
	int parallel;
	int parallel_connections;
	int64_t bandwidth_mib;		/* MiB/s, 0 = unlimited */
	int64_t downtime_ms;		/* 0 = QEMU's default */
	int auto_converge;
	int compressed;
	int64_t timeout_s;		/* 0 = none */
	int64_t stall_timeout_s;	/* fail if no byte moves; 0 = never */
	enum send_timeout_action timeout_action;
	int keep_source;
	int dry_run;			/* check, say what the destination needs */
	int64_t wait_s;			/* wait this long for the sockets */
	int verbose;
	FILE *json;			/* JSON lines go here, or NULL */
	struct apply_opts cfg;		/* --domain, --undefinesource */
	/* Managed (--desturi): the destination's hooks, else NULL; then
	 * migrate_uri and disks_uri may be left for it to choose. */
	const struct send_peer *peer;
};

/*
 * Check combinations of options that do not depend on any QEMU.  Returns 0,
 * or -1 with the reason in err.
 */
int send_check_opts(const struct send_opts *o, char *err, size_t errlen);

/* Run the migration; returns one of the exit codes above. */
int send_run(const struct send_opts *o);

#endif
