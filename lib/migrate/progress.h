#ifndef MIG_PROGRESS_H
#define MIG_PROGRESS_H
/*
 * Progress of a migration, for people (--verbose: one line on stderr,
 * redrawn in place on a terminal) and for programs (--json: one JSON object
 * per line).  Formatting is separate from output so it can be tested.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct progress_sample {
	const char *phase;	/* "disk-copy", "memory", "switch-over", ... */
	double percent;		/* 0..100, not lower than before in a
				   phase */
	int64_t pass;		/* memory: the pass over RAM being sent,
				   from 1; 0 in a phase without passes */
	double pass_percent;	/* how far that pass is, 0..100 */
	uint64_t done;		/* bytes moved in this phase (memory:
				   every pass, so above total after the
				   first) */
	uint64_t total;		/* the phase's size: RAM, or the
				   disks' */
	uint64_t remaining;	/* bytes left, as QEMU estimates */
	uint64_t throughput;	/* bytes/s */
	uint64_t dirty_rate;	/* bytes/s the guest dirties (memory phase) */
	int64_t elapsed_ms;	/* since the start */
};

/*
 * What a phase's samples have shown so far, so that what is reported
 * does not go backwards: QEMU's "left" grows at each new pass over memory
 * (the pages dirtied meanwhile) and a disk's length grows with the
 * guest's writes.  Zeroed means nothing seen.
 */
struct progress_track {
	const char *phase;	/* the phase the figures belong to */
	double percent;		/* the highest percent reported in it */
	int64_t pass;		/* the pass last seen */
	uint64_t pass_size;	/* the pass's size: all of RAM for the
				   first, else the most left seen in it */
};

/*
 * Fill s->percent, s->pass and s->pass_percent from s->phase, s->total
 * and s->remaining, and pass (QEMU's count of passes, dirty-sync-count;
 * 0 for a phase without passes).  The percent is 100 * (total - left) /
 * total, but never lower than one reported before in the same phase; the
 * pass's is how much of the most this pass had left has been sent.
 * Pure: no I/O.
 */
void progress_track(struct progress_track *t, struct progress_sample *s,
    int64_t pass);

/* "12.3 MiB" style, 1024-based; returns buf. */
const char *progress_bytes(uint64_t n, char *buf, size_t len);

/* The human line for s (no newline). */
void progress_format_line(const struct progress_sample *s, char *buf,
    size_t len);

/* The JSON line for s (no newline): {"event":"progress",...}. */
int progress_format_json(const struct progress_sample *s, char *buf,
    size_t len);

/*
 * Output: human lines go to stderr when verbose; JSON lines to json_out
 * when not NULL.  Call once at start.
 */
void progress_init(int verbose, FILE *json_out);

/* A phase change: a JSON event, and a log line when verbose. */
void progress_phase(const char *phase, int64_t elapsed_ms);

/* A sample: redraw the human line, emit a JSON line. */
void progress_report(const struct progress_sample *s);

/* Write a preformatted JSON object as one line on the JSON stream. */
void progress_json_line(const char *json);

/* Finish the human line (newline) so later messages start clean. */
void progress_end_line(void);

#endif
