#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"

static const char *log_prog = "mig";
static int log_verbosity;
static void (*log_before)(void);

void
log_init(const char *prog, int verbose)
{
	log_prog = prog;
	log_verbosity = verbose;
}

int
log_verbose(void)
{
	return log_verbosity;
}

void
log_set_before_hook(void (*hook)(void))
{
	log_before = hook;
}

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_before)
		log_before();
	/* One write per line so lines of concurrent processes do not interleave. */
	fprintf(stderr, "%s: %s%s\n", log_prog, level, line);
	fflush(stderr);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("error: ", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbosity)
		return;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}
