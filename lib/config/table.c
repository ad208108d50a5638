#include "config/table.h"

struct table_after
table_row(struct table_before b)
{
	struct table_after a;

	/* --undefinesource removes the source's definition, if any. */
	a.src_defined = b.src_persistent && !b.undefinesource;
	/* --persistent stores the source's definition on the destination,
	 * replacing its own; without it the destination's stays as it is. */
	if (b.persistent)
		a.dst_def = TABLE_DEF_SOURCE;
	else
		a.dst_def = b.dst_defined ? TABLE_DEF_UNCHANGED : TABLE_DEF_NONE;
	/* The destination guest is persistent iff a definition is stored. */
	a.dst_persistent = a.dst_def != TABLE_DEF_NONE;
	return a;
}
