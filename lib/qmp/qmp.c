#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "qmp/qmp.h"

#define QMP_NEVENT_NODES (sizeof(((struct qmp *)0)->evnodes) / \
    sizeof(struct json_node))

/*
 * Wait for ev on q->fd: 1 ready, 0 deadline passed, 2 interrupted by a
 * signal, -1 error.  A past deadline still polls once, without waiting.
 */
static int
qmp_wait(struct qmp *q, short ev, int64_t deadline_ms)
{
	struct pollfd p = { .fd = q->fd, .events = ev };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline_ms ? deadline_ms - clock_ms() : -1;
		if (deadline_ms && left < 0)
			left = 0;
		rc = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0)
			return errno == EINTR ? 2 : -1;
		if (deadline_ms && clock_ms() >= deadline_ms)
			return 0;
	}
}

/* Nonzero once deadline_ms (0: none) has come. */
static int
qmp_past(int64_t deadline_ms)
{
	return deadline_ms != 0 && clock_ms() >= deadline_ms;
}

/*
 * The next message, reading as needed: 1 with it in q->msg, 0 on deadline
 * (or on a signal if intr), -1 with q->err set.  A greeting is only valid
 * before the first command.
 */
static int
qmp_recv(struct qmp *q, int64_t deadline_ms, int intr)
{
	char why[300], *buf;
	size_t avail;
	ssize_t n;
	int rc;
	int looked = 0;

	for (;;) {
		rc = qmp_codec_next(&q->codec, &q->msg, why, sizeof(why));
		if (rc == 1 && q->msg.kind == QMP_MSG_GREETING &&
		    q->next_id > 1)
			snprintf(why, sizeof(why), "a second greeting");
		else if (rc == 1)
			return 1;
		if (rc != 0) {
			snprintf(q->err, sizeof(q->err),
			    "QMP peer sent garbage: %s", why);
			return -1;
		}
		/*
		 * poll finds bytes at once while the peer keeps sending, so
		 * the clock is read here too: only the first look may come
		 * after the deadline.
		 */
		if (looked++ && qmp_past(deadline_ms))
			return 0;
		rc = qmp_wait(q, POLLIN, deadline_ms);
		if (rc == 0 || (rc == 2 && intr))
			return 0;
		if (rc < 0) {
			snprintf(q->err, sizeof(q->err), "QMP poll: %s",
			    strerror(errno));
			return -1;
		}
		buf = qmp_codec_space(&q->codec, &avail);
		n = read(q->fd, buf, avail);
		if (n > 0) {
			qmp_codec_wrote(&q->codec, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		snprintf(q->err, sizeof(q->err), "QEMU closed the QMP "
		    "connection%s%s", n < 0 ? ": " : "",
		    n < 0 ? strerror(errno) : "");
		return -1;
	}
}

/* Send all of buf, with fd attached if fd >= 0; 0, or -1 (errno set). */
static int
qmp_send(struct qmp *q, const char *buf, size_t len, int fd,
    int64_t deadline_ms)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		rc = qmp_wait(q, POLLOUT, deadline_ms);
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc == 0 || rc == -1)
			return -1;
		if (rc == 2)
			continue;
		if (fd >= 0) {
			/* It sends the rest itself once the fd went out. */
			if (sock_send_with_fd(q->fd, buf, len, fd) == 0)
				return 0;
			n = -1;
		} else
			n = send(q->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Keep an event that came while a command waited, as text to re-parse.
 * Only the first drop of a wait is told (a flood would print a line per
 * event); qmp_exec_fd counts the others and tells their number at the end.
 */
static void
qmp_queue_event(struct qmp *q)
{
	struct qmp_event_slot *s;
	size_t len = q->msg.doc.textlen;

	if (len > QMP_EVENT_MAX || q->msg.doc.n > QMP_NEVENT_NODES) {
		if (q->ev_dropped++ == 0)
			log_warn("dropped QMP event %s: too big to queue (%zu "
			    "bytes, %zu values)", q->msg.name, len,
			    q->msg.doc.n);
		return;
	}
	if (q->ev_count == QMP_EVENTS_MAX) {
		if (q->ev_dropped++ == 0)
			log_warn("QMP event queue full: dropped the oldest "
			    "event");
		q->ev_head = (q->ev_head + 1) % QMP_EVENTS_MAX;
		q->ev_count--;
	}
	s = &q->events[(q->ev_head + q->ev_count) % QMP_EVENTS_MAX];
	memcpy(s->text, q->msg.doc.text, len);
	s->len = len;
	q->ev_count++;
}

int
qmp_open(struct qmp *q, const struct endpoint *ep, int64_t deadline_ms)
{
	int fd;

	q->fd = -1;
	q->ev_count = 0;
	fd = sock_connect(ep, deadline_ms, q->err, sizeof(q->err));
	if (fd < 0)
		return -1;
	return qmp_open_fd(q, fd, deadline_ms);
}

int
qmp_open_fd(struct qmp *q, int fd, int64_t deadline_ms)
{
	struct qmp_msg *m;
	char why[sizeof(q->err)];
	int rc;

	q->fd = fd;
	q->next_id = 1;
	q->ev_head = q->ev_count = q->ev_dropped = 0;
	q->err[0] = '\0';
	qmp_codec_init(&q->codec);
	if (sock_set_nonblock(fd, 1) < 0) {
		snprintf(q->err, sizeof(q->err), "QMP socket: %s",
		    strerror(errno));
		goto fail;
	}
	rc = qmp_recv(q, deadline_ms, 0);
	if (rc == 0) {
		/* A monitor serves one client; others wait in its backlog. */
		snprintf(q->err, sizeof(q->err), "timed out waiting for the "
		    "QMP greeting (is another client connected?)");
		goto fail;
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", q->err);
		if (strncmp(why, "QEMU closed", 11) == 0)
			snprintf(why, sizeof(why), "no greeting (the peer "
			    "closed the connection)");
		snprintf(q->err, sizeof(q->err), "not a QMP socket: %.560s",
		    why);
		goto fail;
	}
	if (q->msg.kind != QMP_MSG_GREETING) {
		snprintf(q->err, sizeof(q->err), "not a QMP socket: no "
		    "greeting (the first message is a%s)", q->msg.kind ==
		    QMP_MSG_EVENT ? "n event" : " command reply");
		goto fail;
	}
	rc = qmp_exec(q, "qmp_capabilities", NULL, deadline_ms, &m);
	if (rc == 0)
		return 0;
fail:
	close(fd);
	q->fd = -1;
	return -1;
}

void
qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->ev_count = 0;
}

int
qmp_exec(struct qmp *q, const char *cmd, const char *args,
    int64_t deadline_ms, struct qmp_msg **out)
{
	return qmp_exec_fd(q, cmd, args, -1, deadline_ms, out);
}

/*
 * Wait for the reply to command id: 0 return, 1 error reply, -1 (q->err
 * set) otherwise.  Events are queued meanwhile.
 */
static int
qmp_await(struct qmp *q, const char *cmd, int64_t id, int64_t deadline_ms)
{
	int rc;

	for (;;) {
		rc = qmp_recv(q, deadline_ms, 0);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (q->msg.kind == QMP_MSG_EVENT)
			qmp_queue_event(q);
		else if (q->msg.id == id || (q->msg.id == -1 &&
		    q->msg.kind == QMP_MSG_ERROR))
			return q->msg.kind == QMP_MSG_RETURN ? 0 : 1;
		else if (q->msg.id == -1) {
			snprintf(q->err, sizeof(q->err), "QEMU replied to "
			    "'%.64s' without an id", cmd);
			return -1;
		}
		/* Events or others' replies without end do not extend it. */
		if (qmp_past(deadline_ms))
			break;
	}
	snprintf(q->err, sizeof(q->err), "timed out waiting for reply to "
	    "'%.64s'", cmd);
	return -1;
}

int
qmp_exec_fd(struct qmp *q, const char *cmd, const char *args, int fd,
    int64_t deadline_ms, struct qmp_msg **out)
{
	char small[1024], *buf = small;
	size_t need;
	int64_t id;
	int n, rc;

	*out = &q->msg;
	if (q->fd < 0) {
		snprintf(q->err, sizeof(q->err), "QMP connection is closed");
		return -1;
	}
	need = strlen(cmd) + (args ? strlen(args) : 0) + 64;
	if (need > sizeof(small) && (buf = malloc(need)) == NULL) {
		snprintf(q->err, sizeof(q->err), "out of memory");
		return -1;
	}
	id = q->next_id++;
	n = qmp_codec_command(buf, need, cmd, args, id);
	if (n < 0)
		snprintf(q->err, sizeof(q->err), "bad QMP command '%.64s' or "
		    "arguments", cmd);
	else if (qmp_send(q, buf, (size_t)n, fd, deadline_ms) < 0) {
		snprintf(q->err, sizeof(q->err), "cannot send '%.64s' to QEMU: "
		    "%s", cmd, errno == ETIMEDOUT ? "timed out" :
		    strerror(errno));
		n = -1;
	}
	if (buf != small)
		free(buf);
	if (n < 0)
		return -1;
	rc = qmp_await(q, cmd, id, deadline_ms);
	if (q->ev_dropped > 1)
		log_warn("dropped %u QMP events in all while waiting for "
		    "'%.64s'", q->ev_dropped, cmd);
	q->ev_dropped = 0;
	if (rc == 1)
		snprintf(q->err, sizeof(q->err), "'%.64s' failed: %s", cmd,
		    q->msg.desc);
	return rc;
}

int
qmp_next_event(struct qmp *q, int64_t deadline_ms, struct qmp_msg **out)
{
	struct qmp_event_slot *s;
	char why[300];
	int rc;

	*out = &q->msg;
	if (q->ev_count > 0) {
		s = &q->events[q->ev_head];
		memcpy(q->evtext, s->text, s->len);
		q->ev_head = (q->ev_head + 1) % QMP_EVENTS_MAX;
		q->ev_count--;
		/* It parsed before; only a bug makes this fail. */
		if (qmp_codec_parse(&q->msg, q->evtext, s->len, q->evnodes,
		    QMP_NEVENT_NODES, why, sizeof(why)) < 0) {
			snprintf(q->err, sizeof(q->err), "queued QMP event: %s",
			    why);
			return -1;
		}
		return 1;
	}
	if (q->fd < 0) {
		snprintf(q->err, sizeof(q->err), "QMP connection is closed");
		return -1;
	}
	for (;;) {
		rc = qmp_recv(q, deadline_ms, 1);
		if (rc <= 0)
			return rc;
		if (q->msg.kind == QMP_MSG_EVENT)
			return 1;
		/* A stream of late replies does not extend the deadline. */
		if (qmp_past(deadline_ms))
			return 0;
	}
}
