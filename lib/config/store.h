#ifndef MIG_STORE_H
#define MIG_STORE_H
/*
 * Where guests live on one host.  The config directory holds the stored
 * (persistent) definitions, NAME.def each; it is this host's own and must
 * never be shared between hosts.  The run directory holds, per running
 * guest, NAME/ with
 *     qmp.sock  the QMP socket for mig-send, mig-recv and users
 *     ctl.sock  a second QMP socket that mig-config keeps to itself
 *     pid       QEMU's pid, locked (fcntl) by QEMU's process while it runs
 *     def       the live definition the guest was started from
 *     log       QEMU's standard output and error
 * and 'lock', which serialises every command that reads or changes either
 * directory.  Every file is written aside, fsynced and renamed, so a crash
 * leaves the old file or the new one, never half of one.
 */
#include <stddef.h>
#include <sys/types.h>

#include "config/def.h"

#define STORE_PATH_MAX 400

struct store {
	char config_dir[STORE_PATH_MAX];
	char run_dir[STORE_PATH_MAX];
	int lock_fd;		/* -1 when not locked */
};

/* The guest's run state. */
enum store_run {
	STORE_RUN_NONE,		/* no run state: not running */
	STORE_RUN_LIVE,		/* its QEMU runs (it holds the pid lock) */
	STORE_RUN_STALE,	/* left by a QEMU that died */
};

/*
 * Directories: the arguments if not NULL, else $MIG_CONFIG_DIR and
 * $MIG_RUN_DIR if set, else /etc/mig and /run/mig.  Returns 0, or -1 with
 * a reason (too long, not absolute once resolved, holds a ',').
 */
int store_init(struct store *st, const char *config_dir, const char *run_dir,
    char *err, size_t errlen);

/*
 * Take the run directory's lock (creating the directory), waiting for
 * another command that holds it.  The lock is close-on-exec.  With
 * optional (a reader), a run directory that does not exist is not
 * created, and one the caller may not write is no error: st->lock_fd
 * stays -1 (nothing runs there that the caller could change).
 */
int store_lock(struct store *st, int optional, char *err, size_t errlen);
void store_unlock(struct store *st);

/* A path in the run directory: NAME/FILE (FILE "" for the directory). */
int store_run_path(const struct store *st, const char *name, const char *file,
    char *buf, size_t len);

/*
 * The stored definition of name: 1 with *d, 0 if there is none, -1 with
 * a reason (unreadable, or no longer a valid definition).
 */
int store_get(const struct store *st, const char *name, struct def *d,
    char *err, size_t errlen);

/* Store d under its name, replacing any (atomically). 0 or -1. */
int store_put(const struct store *st, const struct def *d, char *err,
    size_t errlen);

/* Remove the stored definition: 1 removed, 0 there was none, -1. */
int store_remove(const struct store *st, const char *name, char *err,
    size_t errlen);

/*
 * The guest's run state; with STORE_RUN_LIVE, *pid (if not NULL) is its
 * QEMU's.  Looked at under the lock: a guest being started holds it.
 */
enum store_run store_run_state(const struct store *st, const char *name,
    pid_t *pid);

/* The live definition: 1 with *d, 0 none, -1 with a reason. */
int store_run_def(const struct store *st, const char *name, struct def *d,
    char *err, size_t errlen);

/* Remove the guest's run state (its NAME/ directory).  0 or -1. */
int store_run_clean(const struct store *st, const char *name, char *err,
    size_t errlen);

/*
 * The names with a stored definition (stored) or run state (run), sorted,
 * each once, into names[0..max); returns how many (at most max), or -1.
 */
int store_names(const struct store *st, char (*names)[DEF_NAME_MAX + 1],
    int max, char *err, size_t errlen);

/*
 * Write data to path atomically: PATH.tmp.PID, fsync, rename, fsync of
 * the directory.  0, or -1 with a reason naming the path.
 */
int store_write_file(const char *path, const char *data, size_t len,
    int mode, char *err, size_t errlen);

/* Read a whole file of at most max bytes: its length, or -1 (errno). */
long store_read_file(const char *path, char *buf, size_t max);

#endif
