#ifndef MIG_LAUNCH_H
#define MIG_LAUNCH_H
/*
 * Running guests from their definitions: start QEMU with its run state
 * (store.h), ask it its state, stop it.  Every call is made with the
 * store's lock held.
 */
#include <stddef.h>
#include <sys/types.h>

#include "config/def.h"
#include "config/store.h"

#define LAUNCH_WAIT_MS 30000	/* a starting QEMU's time to answer QMP */

enum {
	LAUNCH_INCOMING = 1,	/* -incoming defer: a destination for mig-recv */
	LAUNCH_PAUSED = 2,	/* -S */
	LAUNCH_FOREGROUND = 4,	/* exec QEMU in this process */
};

/*
 * The binary d names, made a path: an absolute one must be an executable
 * file, a bare name is looked up on PATH.  0, or -1 with a reason.
 */
int launch_binary(const char *qemu, char *path, size_t len, char *err,
    size_t errlen);

/*
 * Start d's guest (which must not be running): its run state with d as
 * the live definition, QEMU with d's arguments and mig's own (-qmp twice,
 * -S, -incoming defer).  Detached (the default), QEMU runs in a new
 * session with its output in the run state's log; returns 0 with *pid
 * once QMP answers, or -1 with a reason, QEMU stopped and the run state
 * removed.  With LAUNCH_FOREGROUND this process becomes QEMU: it returns
 * only on failure.
 */
int launch_start(struct store *st, const struct def *d, unsigned flags,
    pid_t *pid, char *err, size_t errlen);

struct launch_status {
	char state[16];		/* "running", "paused", "in migration" */
	char run_state[32];	/* QEMU's, from query-status */
	char migration[32];	/* from query-migrate ("none" if none) */
};

/*
 * Ask a running guest's QEMU (on its ctl.sock, so a migration tool on
 * qmp.sock does not stand in the way).  "in migration": an incoming one
 * (inmigrate), the switch-over (finish-migrate), or a guest stopped while
 * a migration is active.  0, or -1 with a reason (no answer).
 */
int launch_query(const struct store *st, const char *name,
    struct launch_status *ls, char *err, size_t errlen);

/*
 * Stop the guest's QEMU (pid): QMP quit, and SIGKILL if it has not gone
 * within 10 s; then remove its run state.  0, or -1 with a reason.
 */
int launch_destroy(struct store *st, const char *name, pid_t pid, char *err,
    size_t errlen);

#endif
