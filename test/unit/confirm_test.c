/* Unit tests for the confirmation line codec (doc/confirm-protocol.md). */
#include <stdio.h>
#include <string.h>

#include "migrate/confirm.h"
#include "check.h"

static void
test_round_trip(void)
{
	char line[CONFIRM_LINE_MAX], reason[CONFIRM_LINE_MAX];
	enum confirm_word w, k;
	int len;

	for (k = CONFIRM_RUNNING; k <= CONFIRM_ABORT; k++) {
		len = confirm_format(line, sizeof(line), k, "why\nnot");
		CHECK(len > 0 && line[len - 1] == '\n');
		CHECK(strchr(line, '\n') == line + len - 1);
		CHECK(confirm_parse(line, (size_t)len, &w, reason,
		    sizeof(reason)) == 1);
		CHECK(w == k && strcmp(reason, "why?not") == 0);
	}
	len = confirm_format(line, sizeof(line), CONFIRM_RUNNING, NULL);
	CHECK(strcmp(line, "mig-confirm 1 running\n") == 0);
	CHECK(confirm_parse(line, (size_t)len, &w, reason, sizeof(reason)) == 1);
	CHECK(w == CONFIRM_RUNNING && reason[0] == '\0');
}

static void
test_partial_and_bounds(void)
{
	char line[CONFIRM_LINE_MAX], reason[8], big[2 * CONFIRM_LINE_MAX];
	enum confirm_word w;
	size_t i;
	int len;

	len = confirm_format(line, sizeof(line), CONFIRM_FAILED,
	    "disk 'vd1' was exported but no source copied it");
	/* Every prefix of a good line asks for more. */
	for (i = 0; i < (size_t)len; i++)
		CHECK(confirm_parse(line, i, &w, reason, sizeof(reason)) == 0);
	/* A reason longer than the caller's buffer is cut, not overrun. */
	CHECK(confirm_parse(line, (size_t)len, &w, reason, sizeof(reason)) == 1);
	CHECK(strlen(reason) == sizeof(reason) - 1);
	/* A reason too long for a line is cut to fit one. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	len = confirm_format(line, sizeof(line), CONFIRM_FAILED, big);
	CHECK(len == CONFIRM_LINE_MAX - 1 && line[len - 1] == '\n');
	/* A buffer smaller than a line is refused. */
	CHECK(confirm_format(line, 16, CONFIRM_FAILED, NULL) < 0);
	/* No newline within a line's length: refused, not waited for. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "mig-confirm 1 failed ", 21);
	CHECK(confirm_parse(big, CONFIRM_LINE_MAX - 1, &w, NULL, 0) == 0);
	CHECK(confirm_parse(big, CONFIRM_LINE_MAX, &w, NULL, 0) < 0);
}

static void
test_garbage(void)
{
	enum confirm_word w;
	char r[64];

	CHECK(confirm_parse("QEVM", 4, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("mig-confirm 2 running\n", 22, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("mig-confirm 1 runnin\n", 21, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("mig-confirm 1 runningx\n", 23, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("mig-confirm 1 \n", 15, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("mig-confirm 1\n", 14, &w, r, sizeof(r)) < 0);
	CHECK(confirm_parse("ack\n", 4, &w, r, sizeof(r)) < 0);
	CHECK(strcmp(confirm_word_name(CONFIRM_ABORT), "abort") == 0);
	CHECK(strcmp(confirm_word_name((enum confirm_word)9), "?") == 0);
}

int
main(void)
{
	test_round_trip();
	test_partial_and_bounds();
	test_garbage();
	return check_done();
}
