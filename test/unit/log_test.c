/* log_printable and the log line: foreign strings print as one inert line. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "check.h"

static int
printable_is(const char *in, size_t len, const char *want)
{
	char out[64];

	memset(out, '#', sizeof(out));
	log_printable(in, out, len);
	if (strcmp(out, want) != 0) {
		printf("  got '%s', wanted '%s'\n", out, want);
		return 0;
	}
	return 1;
}

static void
test_printable(void)
{
	CHECK(printable_is("vd0", 64, "vd0"));
	CHECK(printable_is("a\nb", 64, "a\\nb"));
	CHECK(printable_is("\x1b[2J", 64, "\\x1b[2J"));
	CHECK(printable_is("\r\t\\\x7f", 64, "\\r\\t\\\\\\x7f"));
	CHECK(printable_is("caf\xc3\xa9", 64, "caf\xc3\xa9"));
	/* Truncated whole: never half an escape, always terminated. */
	CHECK(printable_is("abc\ndef", 5, "abc"));
	CHECK(printable_is("abc\ndef", 6, "abc\\n"));
	CHECK(printable_is("abcdef", 1, ""));
}

/* A logged line with a newline and an escape in it reaches stderr as
 * exactly one line, in one piece, however long. */
static void
test_line(void)
{
	char big[1500], got[4096];
	int fds[2], saved;
	ssize_t n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	if (!CHECK(pipe(fds) == 0))
		return;
	saved = dup(2);
	dup2(fds[1], 2);
	log_init("t", 0);
	log_err("status '%s'", "run\nning\x1b[2J");
	log_err("%s", big);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], got, sizeof(got) - 1);
	close(fds[0]);
	if (!CHECK(n > 0))
		return;
	got[n] = '\0';
	CHECK(strncmp(got, "t: error: status 'run\\nning\\x1b[2J'\n", 36) == 0);
	/* The long line is cut to the buffer and still ends the line. */
	CHECK(n > 1000 && got[n - 1] == '\n');
	CHECK(memchr(got, '\x1b', (size_t)n) == NULL);
	{
		int lines = 0;
		for (ssize_t i = 0; i < n; i++)
			lines += got[i] == '\n';
		CHECK(lines == 2);
	}
}

int
main(void)
{
	test_printable();
	test_line();
	return check_done();
}
