#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/sig.h"
#include "base/sock.h"
#include "migrate/qemu.h"
#include "migrate/qmpargs.h"

int
qemu_open(struct qemu *qe, const struct endpoint *ep, const char *who,
    int64_t deadline_ms, int retry)
{
	qe->who = who;
	qe->gone = 0;
	qe->limit = 0;
	for (;;) {
		if (qmp_open(&qe->q, ep, deadline_ms) == 0)
			return 0;
		snprintf(qe->err, sizeof(qe->err), "%s", qe->q.err);
		/* A QEMU still starting has no socket yet, or a stale one. */
		if (!retry || (errno != ENOENT && errno != ECONNREFUSED &&
		    errno != ETIMEDOUT) || sig_stop ||
		    clock_ms() + 100 >= deadline_ms)
			return -1;
		poll(NULL, 0, 100);
	}
}

void
qemu_close(struct qemu *qe)
{
	qmp_close(&qe->q);
}

int
qemu_exec_fd(struct qemu *qe, const char *cmd, const char *args, int fd,
    struct qmp_msg **out)
{
	int64_t deadline = clock_ms() + QEMU_CMD_MS;
	struct qmp_msg *m;
	int rc;

	if (qe->limit && qe->limit < deadline)
		deadline = qe->limit;
	if (qe->gone) {
		snprintf(qe->err, sizeof(qe->err), "%s: the %s QEMU is gone",
		    cmd, qe->who);
		return QEMU_GONE;
	}
	rc = fd >= 0 ? qmp_exec_fd(&qe->q, cmd, args, fd, deadline, &m) :
	    qmp_exec(&qe->q, cmd, args, deadline, &m);
	if (out)
		*out = m;
	if (rc == 0)
		return QEMU_OK;
	snprintf(qe->err, sizeof(qe->err), "%s: %s", cmd, qe->q.err);
	if (rc == 1)
		return QEMU_REFUSED;
	/* The connection stays usable after a timeout: QEMU may be busy. */
	if (clock_ms() >= deadline)
		return QEMU_TIMEOUT;
	qe->gone = 1;
	return QEMU_GONE;
}

int
qemu_exec(struct qemu *qe, const char *cmd, const char *args,
    struct qmp_msg **out)
{
	return qemu_exec_fd(qe, cmd, args, -1, out);
}

static int
qemu_status_of(struct qemu *qe, const char *cmd, const char *dflt,
    char *status, size_t len)
{
	struct qmp_msg *m;
	int rc;

	snprintf(status, len, "%s", dflt ? dflt : "");
	rc = qemu_exec(qe, cmd, NULL, &m);
	if (rc != QEMU_OK)
		return rc;
	if (json_path_string(&m->doc, m->value, "status", status, len) >= 0)
		return QEMU_OK;
	if (dflt != NULL) {
		snprintf(status, len, "%s", dflt);
		return QEMU_OK;
	}
	snprintf(qe->err, sizeof(qe->err), "%s: the reply has no status "
	    "(is this QEMU's QMP socket?)", cmd);
	return QEMU_REFUSED;
}

int
qemu_run_state(struct qemu *qe, char *status, size_t len)
{
	return qemu_status_of(qe, "query-status", NULL, status, len);
}

int
qemu_migration_status(struct qemu *qe, char *status, size_t len)
{
	return qemu_status_of(qe, "query-migrate", "none", status, len);
}

int
qemu_migration_cleaned(struct qemu *qe, int64_t deadline_ms)
{
	struct qmp_msg *m;
	int rc, n, found;

	for (;;) {
		rc = qemu_exec(qe, "query-yank", NULL, &m);
		if (rc == QEMU_REFUSED)
			return QEMU_OK;		/* older than QEMU 6.0 */
		if (rc != QEMU_OK)
			return rc;
		found = 0;
		for (n = json_first(&m->doc, m->value); n >= 0;
		    n = json_next(&m->doc, n))
			if (json_streq(&m->doc, json_get(&m->doc, n, "type"),
			    "migration"))
				found = 1;
		if (!found)
			return QEMU_OK;
		if (clock_ms() >= deadline_ms)
			return QEMU_TIMEOUT;
		poll(NULL, 0, 20);
	}
}

int
qemu_pass_fd(struct qemu *qe, const char *name, int fd)
{
	char args[128];

	return qemu_exec_fd(qe, "getfd", qmpargs_str(args, sizeof(args),
	    "fdname", name), fd, NULL);
}

int
qemu_quit(struct qemu *qe, int64_t wait_ms)
{
	int64_t deadline = clock_ms() + wait_ms;
	struct qmp_msg *m;
	int rc;

	if (!qe->gone && qemu_exec(qe, "quit", NULL, NULL) == QEMU_TIMEOUT)
		return -1;
	/* QEMU closes the connection as it exits. */
	while (!qe->gone) {
		rc = qemu_next_event(qe, deadline, &m);
		if (rc == 0 && clock_ms() >= deadline)
			return -1;
	}
	return 0;
}

int
qemu_next_event(struct qemu *qe, int64_t deadline_ms, struct qmp_msg **out)
{
	int rc;

	if (qe->gone) {
		snprintf(qe->err, sizeof(qe->err), "the %s QEMU is gone",
		    qe->who);
		return QEMU_GONE;
	}
	rc = qmp_next_event(&qe->q, deadline_ms, out);
	if (rc >= 0)
		return rc;
	snprintf(qe->err, sizeof(qe->err), "%s", qe->q.err);
	qe->gone = 1;
	return QEMU_GONE;
}
