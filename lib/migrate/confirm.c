#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sig.h"
#include "base/sock.h"
#include "migrate/confirm.h"

#define CONFIRM_PREFIX "mig-confirm 1 "
#define CONFIRM_PEER_MS 2000	/* one peer's turn: a line, an ack */
#define CONFIRM_RETRY_MS 100
#define CONFIRM_PATH_MS 200	/* how often the path is checked as ours */

static const char *const confirm_words[] = {
	[CONFIRM_RUNNING] = "running",
	[CONFIRM_PAUSED] = "paused",
	[CONFIRM_FAILED] = "failed",
	[CONFIRM_ABORT] = "abort",
};

const char *
confirm_word_name(enum confirm_word w)
{
	return (unsigned)w <= CONFIRM_ABORT ? confirm_words[w] : "?";
}

int
confirm_format(char *buf, size_t len, enum confirm_word w,
    const char *reason)
{
	size_t at, room;

	if (len < CONFIRM_LINE_MAX || (unsigned)w > CONFIRM_ABORT)
		return -1;
	at = (size_t)snprintf(buf, len, "%s%s", CONFIRM_PREFIX,
	    confirm_words[w]);
	if (reason && *reason) {
		buf[at++] = ' ';
		/* Room for the newline and the NUL within the line. */
		room = CONFIRM_LINE_MAX - 2 - at;
		for (; *reason && room > 0; reason++, room--)
			buf[at++] = (unsigned char)*reason < 0x20 ||
			    *reason == 0x7f ? '?' : *reason;
	}
	buf[at++] = '\n';
	buf[at] = '\0';
	return (int)at;
}

int
confirm_parse(const char *buf, size_t len, enum confirm_word *w,
    char *reason, size_t reasonlen)
{
	size_t plen = sizeof(CONFIRM_PREFIX) - 1, i, wl;
	const char *nl, *word, *rest;
	unsigned k;

	if (memcmp(buf, CONFIRM_PREFIX, len < plen ? len : plen) != 0)
		return -1;
	nl = memchr(buf, '\n', len);
	if (nl == NULL)
		return len >= CONFIRM_LINE_MAX ? -1 : 0;
	if ((size_t)(nl - buf) < plen)
		return -1;
	word = buf + plen;
	rest = memchr(word, ' ', (size_t)(nl - word));
	wl = (size_t)((rest ? rest : nl) - word);
	for (k = 0; k <= CONFIRM_ABORT; k++)
		if (strlen(confirm_words[k]) == wl &&
		    memcmp(word, confirm_words[k], wl) == 0)
			break;
	if (k > CONFIRM_ABORT)
		return -1;
	*w = (enum confirm_word)k;
	if (reasonlen == 0)
		return 1;
	i = 0;
	if (rest)
		for (rest++; rest < nl && i + 1 < reasonlen; rest++)
			reason[i++] = *rest;
	reason[i] = '\0';
	return 1;
}

/* Read up to len bytes into buf until deadline; how many, or -1. */
static ssize_t
confirm_read(int fd, char *buf, size_t len, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t left = deadline_ms - clock_ms();

	if (left <= 0)
		return 0;
	if (poll(&p, 1, (int)left) <= 0)
		return -1;
	return read(fd, buf, len);
}

/* One source's turn: the line out, the ack in.  1 acknowledged, else 0. */
static int
confirm_tell(int fd, const char *line, size_t len)
{
	int64_t until = clock_ms() + CONFIRM_PEER_MS;
	char ack[8];
	size_t got = 0;
	ssize_t n;

	if (sock_write_all(fd, line, len, until) < 0)
		return 0;
	while (got < sizeof(CONFIRM_ACK) - 1) {
		n = confirm_read(fd, ack + got, sizeof(CONFIRM_ACK) - 1 - got,
		    until);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return memcmp(ack, CONFIRM_ACK, got) == 0;
}

/* The inode at a unix endpoint's path (0 if none; always 0 for TCP). */
static ino_t
confirm_path_ino(const struct endpoint *ep)
{
	struct stat st;

	if (ep->kind != ENDPOINT_UNIX || stat(ep->path, &st) < 0)
		return 0;
	return st.st_ino;
}

/* The path is ours; a listener there (QEMU's) gives way to ours. */
static int
confirm_take(const struct endpoint *ep, int64_t deadline_ms, char *err,
    size_t errlen)
{
	struct stat st;
	int lfd;

	if (ep->kind == ENDPOINT_UNIX && stat(ep->path, &st) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlink(ep->path);
	while ((lfd = sock_listen(ep, err, errlen)) < 0) {
		if (errno != EADDRINUSE || sig_stop ||
		    clock_ms() + CONFIRM_RETRY_MS >= deadline_ms)
			return -1;
		poll(NULL, 0, CONFIRM_RETRY_MS);
	}
	return lfd;
}

int
confirm_listen(const struct endpoint *ep, char *err, size_t errlen)
{
	int lfd;

	if (ep->kind != ENDPOINT_UNIX) {
		snprintf(err, errlen, "only a unix path can be taken from QEMU");
		return -1;
	}
	lfd = confirm_take(ep, clock_ms(), err, errlen);
	if (lfd >= 0)
		sock_set_nonblock(lfd, 1);
	return lfd;
}

int
confirm_check(int lfd, char *reason, size_t reasonlen)
{
	char buf[CONFIRM_LINE_MAX];
	int64_t until = clock_ms() + 1000;
	enum confirm_word w;
	size_t got = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	while (rc == 0 && got < sizeof(buf)) {
		n = confirm_read(fd, buf + got, sizeof(buf) - got, until);
		if (n <= 0)
			break;
		got += (size_t)n;
		rc = confirm_parse(buf, got, &w, reason, reasonlen);
	}
	close(fd);
	return rc == 1 && w == CONFIRM_ABORT;
}

int
confirm_serve(const struct endpoint *ep, enum confirm_word w,
    const char *reason, int64_t deadline_ms, char *err, size_t errlen)
{
	char line[CONFIRM_LINE_MAX];
	int lfd, fd, told = 0, len;
	ino_t ino;

	len = confirm_format(line, sizeof(line), w, reason);
	if (len < 0)
		return -1;
	/*
	 * The path is ours (mig-recv reclaimed it for QEMU): a QEMU that is
	 * still exiting may hold its listener a moment longer, so take the
	 * path from it rather than wait.  A TCP port must be waited for.
	 */
	lfd = confirm_take(ep, deadline_ms, err, errlen);
	if (lfd < 0)
		return -1;
	ino = confirm_path_ino(ep);
	/* Every way out: a source acknowledged, the deadline, a signal. */
	while (!told && !sig_stop && clock_ms() < deadline_ms) {
		/*
		 * QEMU unlinks its unix listener's path when it closes it,
		 * which may come after we took the path (post-copy ends
		 * late): put ours back whenever the path is not ours.
		 */
		if (ino != confirm_path_ino(ep)) {
			close(lfd);
			lfd = confirm_take(ep, deadline_ms, err, errlen);
			if (lfd < 0)
				return -1;
			ino = confirm_path_ino(ep);
		}
		fd = sock_accept(lfd, clock_ms() + CONFIRM_PATH_MS, err, errlen);
		if (fd < 0)
			continue;	/* a slice passed, a signal, an error */
		told = confirm_tell(fd, line, (size_t)len);
		close(fd);
	}
	close(lfd);
	if (ep->kind == ENDPOINT_UNIX && ino == confirm_path_ino(ep))
		unlink(ep->path);
	return told;
}

int
confirm_fetch(const struct endpoint *ep, int64_t deadline_ms,
    enum confirm_word *w, char *reason, size_t reasonlen, char *err,
    size_t errlen)
{
	char buf[CONFIRM_LINE_MAX];
	size_t got;
	ssize_t n;
	int fd, rc;

	/* A signal does not cut this short: the caller is already ending
	 * the migration, and the answer decides where the guest goes. */
	snprintf(err, errlen, "no answer");
	while (clock_ms() < deadline_ms) {
		fd = sock_connect(ep, deadline_ms, err, errlen);
		if (fd < 0) {
			/* Not listening yet, or a relay that found nobody. */
			poll(NULL, 0, CONFIRM_RETRY_MS);
			continue;
		}
		got = 0;
		rc = 0;
		while (rc == 0 && got < sizeof(buf)) {
			n = confirm_read(fd, buf + got, sizeof(buf) - got,
			    deadline_ms);
			if (n <= 0)
				break;
			got += (size_t)n;
			rc = confirm_parse(buf, got, w, reason, reasonlen);
		}
		if (rc == 1)
			sock_write_all(fd, CONFIRM_ACK, sizeof(CONFIRM_ACK) - 1,
			    clock_ms() + CONFIRM_PEER_MS);
		close(fd);
		if (rc == 1)
			return 1;
		snprintf(err, errlen, rc < 0 ? "the answer was not a "
		    "confirmation line" : "the connection closed without an "
		    "answer");
		poll(NULL, 0, CONFIRM_RETRY_MS);
	}
	return 0;
}

int
confirm_abort(const struct endpoint *ep, const char *why,
    int64_t deadline_ms, enum confirm_word *w, char *reason,
    size_t reasonlen, char *err, size_t errlen)
{
	char line[CONFIRM_LINE_MAX];
	int fd, len;

	len = confirm_format(line, sizeof(line), CONFIRM_ABORT, why);
	fd = sock_connect(ep, clock_ms() + CONFIRM_PEER_MS, err, errlen);
	if (fd >= 0) {
		if (len > 0)
			sock_write_all(fd, line, (size_t)len,
			    clock_ms() + CONFIRM_PEER_MS);
		close(fd);
	}
	return confirm_fetch(ep, deadline_ms, w, reason, reasonlen, err,
	    errlen);
}
