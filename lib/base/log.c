#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

size_t
log_printable(const char *in, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t at = 0;
	unsigned char c;

	if (len == 0)
		return 0;
	for (; (c = (unsigned char)*in) != '\0'; in++) {
		const char *esc = NULL;
		char xs[5];
		size_t n;

		if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			xs[0] = '\\';
			xs[1] = 'x';
			xs[2] = hex[c >> 4];
			xs[3] = hex[c & 15];
			xs[4] = '\0';
			esc = xs;
		}
		n = esc ? strlen(esc) : 1;
		/* Whole or not at all, leaving room for the final NUL. */
		if (at + n + 1 > len)
			break;
		if (esc)
			memcpy(out + at, esc, n);
		else
			out[at] = (char)c;
		at += n;
	}
	out[at] = '\0';
	return at;
}

int
log_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	char raw[1024], line[1200];
	size_t n;
	int saved = errno;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	n = (size_t)snprintf(line, sizeof(line), "%s: %s", log_prog, level);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/*
	 * QEMU's strings (statuses, error descriptions, disk ids) and echoed
	 * option values end up in raw: control characters are escaped so
	 * that a line stays one line and cannot drive the terminal.
	 */
	n += log_printable(raw, line + n, sizeof(line) - n - 1);
	line[n++] = '\n';
	if (log_before)
		log_before();
	/* One write(2) per line, whatever stdio's buffer size, so that the
	 * lines of concurrent processes in a pipeline do not interleave. */
	fflush(stderr);
	log_write_all(2, line, n);
	errno = saved;
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
