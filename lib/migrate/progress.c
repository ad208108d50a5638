#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "json/jsonw.h"
#include "migrate/progress.h"

static int progress_verbose;
static FILE *progress_json;
static int progress_tty;
static int progress_line_open;	/* a '\r' line is on the terminal */

const char *
progress_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

void
progress_track(struct progress_track *t, struct progress_sample *s,
    int64_t pass)
{
	uint64_t left = s->remaining < s->total ? s->remaining : s->total;
	double pct;

	if (t->phase == NULL || strcmp(t->phase, s->phase) != 0) {
		memset(t, 0, sizeof(*t));
		t->phase = s->phase;
	}
	pct = s->total ? 100.0 * (double)(s->total - left) / (double)s->total :
	    0;
	if (pct > t->percent)
		t->percent = pct;
	s->percent = t->percent;
	s->pass = 0;
	s->pass_percent = 0;
	if (pass <= 0)
		return;
	/* Within a pass, what is left only shrinks; a new pass starts from
	 * what was dirtied meanwhile.  The first pass sends all of RAM; a
	 * later one's first sample may come after it began: its size is the
	 * most left seen in it. */
	if (pass != t->pass) {
		t->pass = pass;
		t->pass_size = pass == 1 ? s->total : 0;	/* all of RAM */
	}
	if (left > t->pass_size)
		t->pass_size = left;
	s->pass = pass;
	s->pass_percent = t->pass_size ? 100.0 * (double)(t->pass_size -
	    left) / (double)t->pass_size : 100;
}

void
progress_format_line(const struct progress_sample *s, char *buf, size_t len)
{
	char done[32], left[32], rate[32], dirty[32], pass[40] = "";
	int n;

	if (s->pass > 0)
		snprintf(pass, sizeof(pass), "  pass %lld %3.0f%%",
		    (long long)s->pass, s->pass_percent);
	n = snprintf(buf, len, "%-11s %5.1f%%%s  %s done, %s left, %s/s",
	    s->phase, s->percent, pass,
	    progress_bytes(s->done, done, sizeof(done)),
	    progress_bytes(s->remaining, left, sizeof(left)),
	    progress_bytes(s->throughput, rate, sizeof(rate)));
	if (n > 0 && (size_t)n < len && s->dirty_rate)
		snprintf(buf + n, len - (size_t)n, ", dirtying %s/s",
		    progress_bytes(s->dirty_rate, dirty, sizeof(dirty)));
}

int
progress_format_json(const struct progress_sample *s, char *buf, size_t len)
{
	struct jsonw w;

	jsonw_init(&w, buf, len);
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "progress");
	jsonw_kstr(&w, "phase", s->phase);
	jsonw_key(&w, "percent");
	jsonw_double(&w, (double)(int64_t)(s->percent * 10 + 0.5) / 10);
	if (s->pass > 0) {
		jsonw_kint(&w, "pass", s->pass);
		jsonw_key(&w, "pass_percent");
		jsonw_double(&w, (double)(int64_t)(s->pass_percent * 10 + 0.5) /
		    10);
	}
	jsonw_kint(&w, "done", (int64_t)s->done);
	jsonw_kint(&w, "total", (int64_t)s->total);
	jsonw_kint(&w, "remaining", (int64_t)s->remaining);
	jsonw_kint(&w, "throughput", (int64_t)s->throughput);
	jsonw_kint(&w, "dirty_rate", (int64_t)s->dirty_rate);
	jsonw_kint(&w, "elapsed_ms", s->elapsed_ms);
	jsonw_obj_end(&w);
	return jsonw_finish(&w);
}

void
progress_end_line(void)
{
	if (progress_line_open) {
		fputc('\n', stderr);
		fflush(stderr);
		progress_line_open = 0;
	}
}

void
progress_init(int verbose, FILE *json_out)
{
	progress_verbose = verbose;
	progress_json = json_out;
	progress_tty = isatty(2);
	/* A log line must not land in the middle of a redrawn line. */
	log_set_before_hook(progress_end_line);
}

void
progress_json_line(const char *json)
{
	char line[4096];
	size_t len = strlen(json);

	if (progress_json == NULL || len + 1 > sizeof(line))
		return;
	/* One write(2) per line, retried: a signal must not lose a line or
	 * leave half of one, and lines of other writers must not interleave
	 * with it. */
	memcpy(line, json, len);
	line[len++] = '\n';
	fflush(progress_json);
	log_write_all(fileno(progress_json), line, len);
}

void
progress_phase(const char *phase, int64_t elapsed_ms)
{
	char buf[256];
	struct jsonw w;

	log_info("phase: %s", phase);
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "phase");
	jsonw_kstr(&w, "phase", phase);
	jsonw_kint(&w, "elapsed_ms", elapsed_ms);
	jsonw_obj_end(&w);
	if (jsonw_finish(&w) >= 0)
		progress_json_line(buf);
}

void
progress_report(const struct progress_sample *s)
{
	char line[256];

	if (progress_verbose) {
		progress_format_line(s, line, sizeof(line));
		/* On a terminal the line is redrawn; in a log, one per sample. */
		if (progress_tty) {
			fprintf(stderr, "\r%-79s", line);
			progress_line_open = 1;
		} else {
			fprintf(stderr, "%s\n", line);
		}
		fflush(stderr);
	}
	if (progress_json && progress_format_json(s, line, sizeof(line)) >= 0)
		progress_json_line(line);
}
