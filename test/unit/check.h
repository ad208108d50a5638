/*
 * The unit tests' pass/fail counting.  CHECK(c) counts a pass if c holds,
 * else a failure with a "FAIL file:line: c" line; CHECKM(c, what) adds
 * " -- what" to that line.  Both are expressions, 1 if c held, 0 if not,
 * so that a test can skip what depends on a failed check.  check_done()
 * prints the final "N passed, N failed" line and returns main's exit
 * status: 1 if anything failed, else 0.
 */
#ifndef TEST_UNIT_CHECK_H
#define TEST_UNIT_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(c) check((c) != 0, #c, __FILE__, __LINE__, NULL)
#define CHECKM(c, what) check((c) != 0, #c, __FILE__, __LINE__, (what))

/* Count one check of expr (at file:line), which held if ok. */
static inline int
check(int ok, const char *expr, const char *file, int line, const char *what)
{
	if (ok) {
		check_passed++;
		return 1;
	}
	check_failed++;
	printf("FAIL %s:%d: %s%s%s\n", file, line, expr, what ? " -- " : "",
	    what ? what : "");
	return 0;
}

static inline int
check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
