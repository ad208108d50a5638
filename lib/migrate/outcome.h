#ifndef MIG_OUTCOME_H
#define MIG_OUTCOME_H
/*
 * Where the guest is when a migration tool exits: the last word of its
 * --json summary and of its last line on stderr.
 */

enum outcome {
	OUTCOME_UNCHANGED,	/* nothing was changed (bad input) */
	OUTCOME_DEST_RUNNING,	/* it runs on the destination */
	OUTCOME_DEST_PAUSED,	/* it is on the destination, paused */
	OUTCOME_SOURCE_RUNNING,	/* it runs on the source */
	OUTCOME_SOURCE_PAUSED,	/* it is on the source, paused */
	OUTCOME_SPLIT,		/* post-copy broke: paused, memory on both */
	OUTCOME_LOST,		/* the QEMU that held it died */
	OUTCOME_NOT_HERE,	/* mig-recv: not on the destination, whose
				   QEMU quit (the source was told) */
	OUTCOME_DOUBT,		/* managed: the control connection was lost
				   when the outcome could not be known; the
				   guest is paused, never running twice */
};

/* "destination running", "paused on source", ..., as the man pages say. */
const char *outcome_name(enum outcome o);

#endif
