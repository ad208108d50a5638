#ifndef MIG_QEMU_H
#define MIG_QEMU_H
/*
 * One QEMU as both migration tools drive it: a QMP connection with the
 * commands they share.  A command that times out is not taken for QEMU's
 * death: the connection stays usable and the caller may go on (rollback
 * still runs); only end of file, an I/O error or garbage mark QEMU gone.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"
#include "qmp/qmp.h"

#define QEMU_CMD_MS 30000	/* one command, unless the caller bounds it */

enum {
	QEMU_OK = 0,		/* the command succeeded */
	QEMU_REFUSED = 1,	/* QEMU answered with an error */
	QEMU_GONE = -1,		/* QEMU closed the connection or sent garbage */
	QEMU_TIMEOUT = -2,	/* no answer in time; QEMU may still be alive */
};

struct qemu {
	struct qmp q;		/* about 1.3 MB: keep struct qemu static */
	const char *who;	/* "source" or "destination", for messages */
	int gone;		/* QEMU_GONE seen: no more commands */
	int64_t limit;		/* if set, no command waits past this time */
	char err[700];		/* reason for the last failure */
};

/*
 * Connect to the QMP socket at ep and negotiate, until deadline_ms; with
 * retry, a socket that does not exist yet or refuses (a QEMU starting, or
 * still serving a client that is going away) is tried again until then.
 * Returns 0, or -1 with qe->err.
 */
int qemu_open(struct qemu *qe, const struct endpoint *ep, const char *who,
    int64_t deadline_ms, int retry);

void qemu_close(struct qemu *qe);

/*
 * Run cmd with args (JSON object text or NULL) and wait up to QEMU_CMD_MS
 * (or qe->limit, whichever comes first).  Returns QEMU_OK with the reply in
 * *out (if out is not NULL), QEMU_REFUSED, QEMU_GONE or QEMU_TIMEOUT; on
 * anything but QEMU_OK qe->err says "CMD: why".
 */
int qemu_exec(struct qemu *qe, const char *cmd, const char *args,
    struct qmp_msg **out);

/* As qemu_exec, with fd attached to the command (for getfd). */
int qemu_exec_fd(struct qemu *qe, const char *cmd, const char *args, int fd,
    struct qmp_msg **out);

/*
 * The guest's run state ("running", "paused", "inmigrate", "postmigrate",
 * ...) from query-status into status.  Returns as qemu_exec; a reply
 * without a status is QEMU_REFUSED ("is this QEMU's QMP socket?").
 */
int qemu_run_state(struct qemu *qe, char *status, size_t len);

/* The migration status from query-migrate ("none" when there is none). */
int qemu_migration_status(struct qemu *qe, char *status, size_t len);

/*
 * Wait until deadline_ms for QEMU to have finished with an outgoing or
 * incoming migration that ended: its cleanup, which QEMU runs after the
 * status already says failed, cancelled or completed, unregisters the
 * migration's yank instance (query-yank).  Returns QEMU_OK when it did
 * (or this QEMU has no query-yank), QEMU_GONE if QEMU died meanwhile,
 * QEMU_TIMEOUT.
 */
int qemu_migration_cleaned(struct qemu *qe, int64_t deadline_ms);

/* Hand fd to QEMU under name (getfd): it keeps its own copy. */
int qemu_pass_fd(struct qemu *qe, const char *name, int fd);

/*
 * Quit QEMU and wait, up to wait_ms, until it closed the connection (it
 * has exited then).  Returns 0 once it is gone, -1 otherwise.
 */
int qemu_quit(struct qemu *qe, int64_t wait_ms);

/*
 * The next event until deadline_ms: 1 with *out, 0 on deadline or signal,
 * QEMU_GONE (qe->gone set, qe->err says why).
 */
int qemu_next_event(struct qemu *qe, int64_t deadline_ms,
    struct qmp_msg **out);

#endif
