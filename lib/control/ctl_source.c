#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "control/ctl_source.h"
#include "control/ctl_tls.h"

#define CTL_SOURCE_PREPARE_MS 120000	/* a launch and disks created */
#define CTL_SOURCE_ABORT_MS 5000	/* the destination's reason */
#define CTL_SOURCE_SETTLE_MS 600000	/* the stream's end, "loaded" */
#define CTL_SOURCE_SEND_MS 10000	/* a message taken by the peer */
#define CTL_SOURCE_CLOSE_MS 2000	/* the destination's close, at the end */

static struct ctl_msg ctl_source_msg;	/* large: not on the stack */

/*
 * One message, or -1 with err (lost, the deadline passed, or, if
 * stoppable, a stopping signal: not after the commit, whose answer must
 * be heard).
 */
static int
ctl_source_wait(struct ctl_source *cs, int64_t deadline, int stoppable,
    struct ctl_msg *m, char *err, size_t errlen)
{
	int rc;

	for (;;) {
		rc = ctl_conn_poll(&cs->conn, deadline, m);
		if (rc == 1)
			return 0;
		if (stoppable && sig_stop) {
			snprintf(err, errlen, "interrupted");
			return -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "control connection lost: %s",
			    cs->conn.err);
			return -1;
		}
		if (clock_ms() >= deadline) {
			snprintf(err, errlen, "the destination did not "
			    "answer in time");
			return -1;
		}
	}
}

static int
ctl_source_unexpected(const struct ctl_msg *m, const char *when, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "the destination sent '%s' %s",
	    ctl_type_name(m->type), when);
	return -1;
}

static int
ctl_source_prepare(void *arg, int was_running, const struct disk *d,
    size_t n, struct endpoint *migrate_uri, struct endpoint *disks_uri,
    char *err, size_t errlen)
{
	struct ctl_source *cs = arg;
	struct ctl_msg *m = &ctl_source_msg;
	int count = cs->conn.count;
	size_t i;
	int rc;

	ctl_msg_init(m, CTL_PREPARE);
	snprintf(m->name, sizeof(m->name), "%s", cs->name);
	if (cs->dname)
		snprintf(m->dname, sizeof(m->dname), "%s", cs->dname);
	if (cs->def) {
		m->has_def = 1;
		m->deflen = cs->def->len;
		memcpy(m->def, cs->def->text, cs->def->len);
	}
	if (n > CTL_DISKS_MAX)
		n = CTL_DISKS_MAX;
	for (i = 0; i < n; i++) {
		snprintf(m->disk[i].id, sizeof(m->disk[i].id), "%s", d[i].id);
		snprintf(m->disk[i].format, sizeof(m->disk[i].format), "%s",
		    d[i].format[0] ? d[i].format : "raw");
		m->disk[i].size = d[i].size > 0 ? (uint64_t)d[i].size : 0;
	}
	m->ndisks = n;
	m->flags = cs->flags | (was_running ? CTL_FL_RUNNING : 0);
	m->conns = cs->conns;
	/* Tunnelled, the destination's QEMU listens in its tunnel's
	 * directory, ours connects to our tunnel's. */
	if (cs->tun.pid) {
		*migrate_uri = cs->tun.mig;
		if (n > 0)
			*disks_uri = cs->tun.nbd;
	} else {
		if (migrate_uri->kind)
			endpoint_format(migrate_uri, m->migrate_uri,
			    sizeof(m->migrate_uri));
		if (disks_uri->kind)
			endpoint_format(disks_uri, m->disks_uri,
			    sizeof(m->disks_uri));
	}
	if (ctl_conn_send(&cs->conn, m, clock_ms() + CTL_SOURCE_SEND_MS) < 0) {
		snprintf(err, errlen, "%s", cs->conn.err);
		return -1;
	}
	log_info("prepare sent: guest '%s', %zu disk(s)", cs->name, n);
	/* Launching QEMU and creating disks block the destination for a
	 * while: silence is tolerated up to the Prepare's own bound. */
	cs->conn.count = (int)(CTL_SOURCE_PREPARE_MS / cs->conn.interval_ms);
	rc = ctl_source_wait(cs, clock_ms() + CTL_SOURCE_PREPARE_MS, 1, m, err,
	    errlen);
	cs->conn.count = count;
	if (rc < 0)
		return -1;
	if (m->type == CTL_REFUSE) {
		snprintf(err, errlen, "the destination refused: %s",
		    m->reason[0] ? m->reason : "no reason given");
		return -1;
	}
	if (m->type != CTL_ACCEPT)
		return ctl_source_unexpected(m, "in answer to 'prepare'", err,
		    errlen);
	if (migrate_uri->kind == 0 && (m->migrate_uri[0] == '\0' ||
	    endpoint_parse(m->migrate_uri, ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP), migrate_uri, err, errlen) < 0)) {
		snprintf(err, errlen, "the destination named no usable "
		    "migration socket");
		return -1;
	}
	if (n > 0 && disks_uri->kind == 0 && (m->disks_uri[0] == '\0' ||
	    endpoint_parse(m->disks_uri, ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP), disks_uri, err, errlen) < 0)) {
		snprintf(err, errlen, "the destination named no usable NBD "
		    "socket");
		return -1;
	}
	log_info("the destination is prepared");
	return 0;
}

static int
ctl_source_tick(void *arg, char *err, size_t errlen)
{
	struct ctl_source *cs = arg;
	struct ctl_msg *m = &ctl_source_msg;
	int rc = ctl_conn_poll(&cs->conn, 0, m);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "control connection lost: %s",
		    cs->conn.err);
		return -1;
	}
	if (m->type == CTL_FAILED) {
		snprintf(err, errlen, "the destination failed: %s",
		    m->reason[0] ? m->reason : "no reason given");
		return -1;
	}
	return ctl_source_unexpected(m, "during the copy", err, errlen);
}

static void
ctl_source_abort(void *arg, const char *why)
{
	struct ctl_source *cs = arg;
	struct ctl_msg *m = &ctl_source_msg;
	char err[300];

	ctl_msg_init(m, CTL_ABORT);
	snprintf(m->reason, sizeof(m->reason), "%s", why);
	if (ctl_conn_send(&cs->conn, m, clock_ms() + CTL_SOURCE_SEND_MS) < 0)
		return;
	if (ctl_source_wait(cs, clock_ms() + CTL_SOURCE_ABORT_MS, 0, m, err,
	    sizeof(err)) == 0 && m->type == CTL_FAILED && m->reason[0])
		log_info("the destination gave up: %s", m->reason);
}

static enum peer_end
ctl_source_settle(void *arg, void (*committing)(void *), void *carg,
    char *err, size_t errlen)
{
	struct ctl_source *cs = arg;
	struct ctl_msg *m = &ctl_source_msg;

	/* Finish's first half: the destination has the state, paused. */
	if (ctl_source_wait(cs, clock_ms() + CTL_SOURCE_SETTLE_MS, 0, m, err,
	    errlen) < 0)
		return PEER_NOT_THERE;	/* no commit went out */
	if (m->type == CTL_FAILED) {
		snprintf(err, errlen, "the destination failed: %s",
		    m->reason[0] ? m->reason : "no reason given");
		return PEER_NOT_THERE;
	}
	if (m->type != CTL_LOADED) {
		ctl_source_unexpected(m, "instead of 'loaded'", err, errlen);
		return PEER_NOT_THERE;
	}
	log_info("the destination loaded the guest: committing");
	/* From here the source never resumes its copy. */
	committing(carg);
	ctl_msg_init(m, CTL_COMMIT);
	if (ctl_conn_send(&cs->conn, m, clock_ms() + CTL_SOURCE_SEND_MS) < 0) {
		snprintf(err, errlen, "%s", cs->conn.err);
		return PEER_DOUBT;
	}
	if (ctl_source_wait(cs, clock_ms() + CTL_SOURCE_SETTLE_MS, 0, m, err,
	    errlen) < 0)
		return PEER_DOUBT;
	if (m->type == CTL_STARTED)
		return m->flags & CTL_FL_PAUSED ? PEER_STARTED_PAUSED :
		    PEER_STARTED;
	if (m->type == CTL_FAILED) {
		snprintf(err, errlen, "the destination failed after the "
		    "commit: %s%s", m->reason[0] ? m->reason : "no reason",
		    m->flags & CTL_FL_HERE ? " (it holds the guest, paused)" :
		    "");
		return m->flags & CTL_FL_HERE ? PEER_DOUBT : PEER_NOT_THERE;
	}
	ctl_source_unexpected(m, "instead of 'started'", err, errlen);
	return PEER_DOUBT;
}

/*
 * --tunnelled: "tunnel" both ways, then the tunnel on the connection.  No
 * ping may cross the switch: the keepalive waits until it is done.
 */
static int
ctl_source_tunnel(struct ctl_source *cs, int64_t deadline_ms, char *err,
    size_t errlen)
{
	struct ctl_msg *m = &ctl_source_msg;
	int ctl;

	cs->conn.interval_ms = CTL_SOURCE_PREPARE_MS;
	ctl_msg_init(m, CTL_TUNNEL);
	if (ctl_conn_send(&cs->conn, m, deadline_ms) < 0) {
		snprintf(err, errlen, "%s", cs->conn.err);
		return -1;
	}
	if (ctl_source_wait(cs, deadline_ms, 1, m, err, errlen) < 0)
		return -1;
	if (m->type == CTL_REFUSE) {
		snprintf(err, errlen, "the destination refused --tunnelled: "
		    "%s", m->reason[0] ? m->reason : "no reason given");
		return -1;
	}
	if (m->type != CTL_TUNNEL)
		return ctl_source_unexpected(m, "in answer to 'tunnel'", err,
		    errlen);
	ctl = ctl_tunnel_start(&cs->tun, 1, cs->conn.rfd, cs->conn.wfd,
	    cs->conn.in, cs->conn.inlen, deadline_ms, err, errlen);
	if (ctl < 0)
		return -1;
	cs->wire = cs->conn.rfd;
	ctl_conn_init(&cs->conn, ctl, ctl, 0, 0);
	return 0;
}

int
ctl_source_connect(struct ctl_source *cs, const struct endpoint *dest,
    int64_t deadline_ms, int retry, char *err, size_t errlen)
{
	int fd, plain;

	/* A destination still starting has no socket yet, or a stale one. */
	while ((fd = sock_connect(dest, deadline_ms, err, errlen)) < 0) {
		if (!retry || (errno != ENOENT && errno != ECONNREFUSED) ||
		    sig_stop || clock_ms() + 100 >= deadline_ms)
			return -1;
		poll(NULL, 0, 100);
	}
	cs->relay = 0;
	if (cs->tls) {
		plain = ctl_tls_wrap(fd, cs->tls, 0, deadline_ms, &cs->relay,
		    err, errlen);
		if (plain < 0) {
			close(fd);
			return -1;
		}
		fd = plain;
	}
	ctl_conn_init(&cs->conn, fd, fd, 0, 0);
	cs->wire = -1;
	memset(&cs->tun, 0, sizeof(cs->tun));
	if (cs->tunnelled && ctl_source_tunnel(cs, deadline_ms, err,
	    errlen) < 0) {
		ctl_tls_end(fd, cs->relay);
		return -1;
	}
	cs->peer.arg = cs;
	cs->peer.prepare = ctl_source_prepare;
	cs->peer.tick = ctl_source_tick;
	cs->peer.abort = ctl_source_abort;
	cs->peer.settle = ctl_source_settle;
	return 0;
}

int
ctl_source_offline(struct ctl_source *cs, char *err, size_t errlen)
{
	struct ctl_msg *m = &ctl_source_msg;
	struct endpoint none;

	memset(&none, 0, sizeof(none));
	cs->flags |= CTL_FL_OFFLINE;
	ctl_msg_init(m, CTL_PREPARE);
	snprintf(m->name, sizeof(m->name), "%s", cs->name);
	if (cs->dname)
		snprintf(m->dname, sizeof(m->dname), "%s", cs->dname);
	m->has_def = 1;
	m->deflen = cs->def->len;
	memcpy(m->def, cs->def->text, cs->def->len);
	m->flags = cs->flags;
	if (ctl_conn_send(&cs->conn, m, clock_ms() + CTL_SOURCE_SEND_MS) < 0) {
		snprintf(err, errlen, "%s", cs->conn.err);
		return -1;
	}
	if (ctl_source_wait(cs, clock_ms() + CTL_SOURCE_PREPARE_MS, 1, m, err,
	    errlen) < 0)
		return -1;
	if (m->type == CTL_REFUSE) {
		snprintf(err, errlen, "the destination refused: %s",
		    m->reason[0] ? m->reason : "no reason given");
		return -1;
	}
	if (m->type != CTL_DEFINED)
		return ctl_source_unexpected(m, "in answer to an offline "
		    "'prepare'", err, errlen);
	return 0;
}

void
ctl_source_close(struct ctl_source *cs)
{
	struct ctl_msg *m = &ctl_source_msg;
	int64_t until = clock_ms() + CTL_SOURCE_CLOSE_MS;
	struct pollfd p;
	char sink[256];

	if (!cs->conn.lost) {
		ctl_msg_init(m, CTL_BYE);
		ctl_conn_send(&cs->conn, m, clock_ms() + 1000);
	}
	if (cs->tun.pid == 0) {
		ctl_tls_end(cs->conn.rfd, cs->relay);
		return;
	}
	/* The tunnel carries our bye and the destination's close before
	 * it says goodbye. */
	shutdown(cs->conn.wfd, SHUT_WR);
	p.fd = cs->conn.rfd;
	p.events = POLLIN;
	while (!cs->conn.lost && clock_ms() < until &&
	    poll(&p, 1, (int)(until - clock_ms())) > 0 &&
	    read(cs->conn.rfd, sink, sizeof(sink)) > 0)
		;
	ctl_tunnel_end(&cs->tun, cs->conn.rfd);
	ctl_tls_end(cs->wire, cs->relay);
}
