#include "migrate/outcome.h"

static const char *const outcome_names[] = {
	[OUTCOME_UNCHANGED] = "unchanged",
	[OUTCOME_DEST_RUNNING] = "destination running",
	[OUTCOME_DEST_PAUSED] = "paused on destination",
	[OUTCOME_SOURCE_RUNNING] = "source running",
	[OUTCOME_SOURCE_PAUSED] = "paused on source",
	[OUTCOME_SPLIT] = "paused on both (post-copy split)",
	[OUTCOME_LOST] = "lost",
	[OUTCOME_NOT_HERE] = "not on destination",
	[OUTCOME_DOUBT] = "in doubt",
};

const char *
outcome_name(enum outcome o)
{
	return (unsigned)o <= OUTCOME_DOUBT ? outcome_names[o] : "unknown";
}
