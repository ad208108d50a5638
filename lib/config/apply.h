#ifndef MIG_APPLY_H
#define MIG_APPLY_H
/*
 * A migration's side of guest definitions, for mig-send and mig-recv:
 * --domain NAME finds the guest's QMP socket in the run directory, and at
 * the end of a successful migration each side applies its half of the
 * guide's table (table.h) to its own config directory.
 *
 * What each side knows: the source its own stored definition, the
 * destination its own stored definition and the live one its guest was
 * started from.  The source's definition is not sent in the two-command
 * mode: the destination stores, for --persistent, the live definition
 * of its guest, which is the source's when the destination was started
 * from the source's definition (mig-config create --incoming).  A
 * control channel can pass the source's own as source_def.
 */
#include <stddef.h>

#include "base/endpoint.h"
#include "config/def.h"

enum apply_side { APPLY_SOURCE, APPLY_DEST };

struct apply_opts {
	const char *domain;	/* --domain NAME, or NULL */
	const char *config_dir;	/* NULL: the default (store_init) */
	const char *run_dir;	/* NULL: the default */
	int undefinesource;	/* source: remove its stored definition */
	int source_kept;	/* source: its QEMU stays (--keep-source) */
	int persistent;		/* destination: store the source's */
	/* Destination: the source's definition (its stored one if it is
	 * persistent, else its live one), or NULL for the live definition
	 * of the destination's guest. */
	const struct def *source_def;
};

/*
 * Before the migration, nothing changed yet.  Checks a for side: the
 * flags need --domain; the guest must run (a run state left by a dead
 * QEMU is removed and refused); --persistent needs a definition to store
 * and a config directory it can write, --undefinesource (with a stored
 * definition) the same.  With a domain, qmp is set to its QMP socket.
 * Returns 0, or -1 with one line in err (the caller exits 2).
 */
int apply_prepare(const struct apply_opts *a, enum apply_side side,
    struct endpoint *qmp, char *err, size_t errlen);

/*
 * After a successful migration: side's half of the table (the source
 * removes its stored definition with --undefinesource and its run state
 * once its QEMU has gone; the destination stores the source's definition
 * with --persistent).  Does nothing without a domain.  Returns 0, or -1
 * after an error line: the guest migrated but the definition was not
 * changed as the table says.
 */
int apply_migrated(const struct apply_opts *a, enum apply_side side);

#endif
