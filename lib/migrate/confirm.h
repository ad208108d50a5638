#ifndef MIG_CONFIRM_H
#define MIG_CONFIRM_H
/*
 * The destination's word on how the migration ended, passed over the
 * migration endpoint once QEMU no longer listens there
 * (doc/confirm-protocol.md).  mig-send quits the source only when
 * mig-recv said the guest is on the destination, and resumes it after
 * the switch-over only when mig-recv said the destination cannot have it;
 * without a word it leaves the source paused.
 *
 * The line codec does no I/O; confirm_serve and confirm_fetch are the
 * socket edges.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"

#define CONFIRM_LINE_MAX 512	/* one line, newline included */
#define CONFIRM_ACK "ack\n"

enum confirm_word {
	CONFIRM_RUNNING,	/* the guest runs on the destination */
	CONFIRM_PAUSED,		/* it is on the destination, paused as asked */
	CONFIRM_FAILED,		/* the destination does not have it: its QEMU
				   quit or died before the guest ran there */
	CONFIRM_ABORT,		/* source to destination: I gave up before the
				   switch-over and run the guest again */
};

/* "running", "paused", "failed", "abort". */
const char *confirm_word_name(enum confirm_word w);

/*
 * Format "mig-confirm 1 WORD[ REASON]\n" into buf; control characters of
 * reason become '?' and it is cut to fit CONFIRM_LINE_MAX.  Returns the
 * length, or -1 if buf is smaller than CONFIRM_LINE_MAX.
 */
int confirm_format(char *buf, size_t len, enum confirm_word w,
    const char *reason);

/*
 * Parse the bytes received so far, buf[0..len).  Returns 1 with *w and
 * reason (NUL-terminated, may be empty) once a whole line is there, 0 if
 * more bytes are needed, -1 if this is not a confirmation line (wrong
 * prefix or version, unknown word, no newline within CONFIRM_LINE_MAX).
 */
int confirm_parse(const char *buf, size_t len, enum confirm_word *w,
    char *reason, size_t reasonlen);

/*
 * Destination: listen on ep (a socket there is replaced; if QEMU, closing
 * its listener late, unlinks the path, it is bound again) and tell every
 * source that connects, until one acknowledged or deadline_ms passed or a
 * stopping signal came.  Returns 1 if a source acknowledged,
 * 0 if none did, -1 with err if ep could not be listened on.
 */
int confirm_serve(const struct endpoint *ep, enum confirm_word w,
    const char *reason, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Destination, while the stream runs: take the unix path ep from QEMU
 * (whose listener has accepted every channel it waits for) and listen
 * there, nonblocking, so that a source that gives up can say so.  Returns
 * the listening fd, or -1 with err.
 */
int confirm_listen(const struct endpoint *ep, char *err, size_t errlen);

/*
 * Destination: has a source said CONFIRM_ABORT on lfd?  Takes one pending
 * connection, if any, and reads its line for at most a second.  Returns 1
 * with its reason, 0 if none did (the connection is closed either way).
 */
int confirm_check(int lfd, char *reason, size_t reasonlen);

/*
 * Source: connect to ep, retrying until deadline_ms while nobody answers
 * (signals do not end the wait), read the line and acknowledge it.
 * Returns 1 with *w and reason, 0 if no word came by the deadline (err
 * says what was seen last).
 */
int confirm_fetch(const struct endpoint *ep, int64_t deadline_ms,
    enum confirm_word *w, char *reason, size_t reasonlen, char *err,
    size_t errlen);

/*
 * Source, giving up before the switch-over: say CONFIRM_ABORT once on ep
 * (a QEMU still listening there takes it for a broken stream and fails
 * its incoming migration, a mig-recv quits its QEMU), then hear the
 * destination's word as confirm_fetch does.
 */
int confirm_abort(const struct endpoint *ep, const char *why,
    int64_t deadline_ms, enum confirm_word *w, char *reason,
    size_t reasonlen, char *err, size_t errlen);

#endif
