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
	double percent;		/* 0..100 */
	uint64_t done;		/* bytes moved in this phase */
	uint64_t remaining;	/* bytes left, as QEMU estimates */
	uint64_t throughput;	/* bytes/s */
	uint64_t dirty_rate;	/* bytes/s the guest dirties (memory phase) */
	int64_t elapsed_ms;	/* since the start */
};

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
