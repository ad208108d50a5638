#ifndef MIG_TABLE_H
#define MIG_TABLE_H
/*
 * The migration guide's table "Configuration file handling": what a
 * migration does to the guest's stored definitions, for every state and
 * flag combination.  A pure function; each side applies its own half
 * (apply.h).
 */

/* Before the migration. */
struct table_before {
	int src_persistent;	/* the source guest has a stored definition
				   (the guide's "source type" and "source
				   config" always go together) */
	int dst_defined;	/* the destination stores a definition of
				   that name */
	int undefinesource;	/* --undefinesource */
	int persistent;		/* --persistent */
};

/* What the destination's stored definition is afterwards. */
enum table_dst_def {
	TABLE_DEF_NONE,		/* none */
	TABLE_DEF_UNCHANGED,	/* the destination's own, unchanged */
	TABLE_DEF_SOURCE,	/* the source's definition, stored (or
				   replacing the destination's own) */
};

/* After a successful migration. */
struct table_after {
	int dst_persistent;	/* the guest is persistent on the destination */
	int src_defined;	/* the source still stores its definition */
	enum table_dst_def dst_def;
};

/*
 * The row of the table for b.  The source's half (src_defined) depends
 * only on the source's inputs (src_persistent, undefinesource), the
 * destination's half only on dst_defined and persistent: each side can
 * apply its half knowing only its own state and its own flag.
 */
struct table_after table_row(struct table_before b);

#endif
