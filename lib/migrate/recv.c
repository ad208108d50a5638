#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "json/jsonw.h"
#include "migrate/disks.h"
#include "migrate/progress.h"
#include "migrate/qmpargs.h"
#include "migrate/recv.h"
#include "qmp/qmp.h"

#define RECV_CMD_MS 30000
#define RECV_TICK_MS 250

struct recv {
	const struct recv_opts *o;
	struct qmp q;
	struct disk_list disks;
	char status[32];
	int nbd_started;
	int released;		/* NBD stopped and guest allowed to run */
	int qemu_gone;
	int64_t t0;
	char err[700];
};

int
recv_check_opts(const struct recv_opts *o, char *err, size_t errlen)
{
	if (o->migrate_disks && o->nbd.kind == 0)
		snprintf(err, errlen, "--migrate-disks needs --nbd");
	else if (o->parallel && o->incoming.kind == ENDPOINT_STDIO)
		snprintf(err, errlen, "--parallel needs a socket --incoming: "
		    "QEMU accepts one connection per channel");
	else if (o->postcopy && o->incoming.kind == ENDPOINT_STDIO &&
	    !sock_is_socket(0))
		snprintf(err, errlen, "--postcopy needs a two-way stream and "
		    "standard input is not a socket");
	else
		return 0;
	return -1;
}

static int
recv_exec(struct recv *r, const char *cmd, const char *args,
    struct qmp_msg **out)
{
	struct qmp_msg *m;
	int rc;

	if (r->qemu_gone) {
		snprintf(r->err, sizeof(r->err), "%s: destination QEMU is gone",
		    cmd);
		return -1;
	}
	rc = qmp_exec(&r->q, cmd, args, clock_ms() + RECV_CMD_MS, &m);
	if (rc != 0)
		snprintf(r->err, sizeof(r->err), "%s: %s", cmd, r->q.err);
	if (rc < 0)
		r->qemu_gone = 1;
	if (out)
		*out = m;
	return rc;
}

/* Checks that change nothing: any failure here is bad input (exit 2). */
static int
recv_preflight(struct recv *r)
{
	const struct recv_opts *o = r->o;
	struct disk_list all;
	struct qmp_msg *m;
	char status[32];

	if (recv_exec(r, "query-status", NULL, &m) != 0)
		return -1;
	if (json_path_string(&m->doc, m->value, "status", status,
	    sizeof(status)) < 0) {
		snprintf(r->err, sizeof(r->err), "query-status: the reply has "
		    "no status (is this QEMU's QMP socket?)");
		return -1;
	}
	if (strcmp(status, "inmigrate") != 0) {
		snprintf(r->err, sizeof(r->err), "the destination QEMU is "
		    "'%s': start it with -incoming defer", status);
		return -1;
	}
	/* -incoming URI (not defer) already set up a listener of its own. */
	if (recv_exec(r, "query-migrate", NULL, &m) != 0)
		return -1;
	if (json_get(&m->doc, m->value, "socket-address") >= 0) {
		snprintf(r->err, sizeof(r->err), "the destination QEMU already "
		    "listens for its migration: start it with -incoming defer");
		return -1;
	}
	if (json_path_string(&m->doc, m->value, "status", status,
	    sizeof(status)) >= 0 && strcmp(status, "none") != 0) {
		snprintf(r->err, sizeof(r->err), "the destination QEMU's "
		    "incoming migration is already '%s': start it with "
		    "-incoming defer", status);
		return -1;
	}
	if (o->incoming.kind == ENDPOINT_UNIX &&
	    sock_unix_reclaim(&o->incoming, r->err, sizeof(r->err)) < 0)
		return -1;
	if (o->nbd.kind == 0)
		return 0;
	if (o->nbd.kind == ENDPOINT_UNIX &&
	    sock_unix_reclaim(&o->nbd, r->err, sizeof(r->err)) < 0)
		return -1;
	if (recv_exec(r, "query-block", NULL, &m) != 0)
		return -1;
	if (disks_from_query_block(&m->doc, m->value, &all, r->err,
	    sizeof(r->err)) < 0 ||
	    disks_select(&all, o->migrate_disks, &r->disks, r->err,
	    sizeof(r->err)) < 0)
		return -1;
	if (r->disks.n == 0)
		log_warn("no writable disk to export");
	return 0;
}

static int
recv_setup(struct recv *r)
{
	const struct recv_opts *o = r->o;
	struct qmpargs_cap caps[] = {
		{ "events", 1 },
		/* Disks stay inactive until we resume the guest ourselves. */
		{ "late-block-activate", 1 },
		{ "postcopy-ram", o->postcopy },
		{ "multifd", o->parallel },
	};
	struct qmp_msg *m;
	char args[1024], uri[300];
	struct jsonw w;
	size_t i;

	if (recv_exec(r, "migrate-set-capabilities", qmpargs_caps(args,
	    sizeof(args), caps, sizeof(caps) / sizeof(caps[0])), NULL) != 0)
		return -1;
	if (o->parallel) {
		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		jsonw_kint(&w, "multifd-channels", o->parallel_connections);
		jsonw_obj_end(&w);
		if (recv_exec(r, "migrate-set-parameters", jsonw_finish(&w) < 0 ?
		    NULL : args, NULL) != 0)
			return -1;
	}
	/*
	 * On an incoming QEMU, "stop" clears autostart: the guest stays
	 * paused after the switch-over until the NBD server is stopped and
	 * we resume it, whether or not QEMU was started with -S.
	 */
	if (recv_exec(r, "stop", NULL, NULL) != 0)
		return -1;
	if (o->nbd.kind != 0) {
		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		qmpargs_socket(&w, "addr", &o->nbd, 1);
		jsonw_obj_end(&w);
		if (recv_exec(r, "nbd-server-start", jsonw_finish(&w) < 0 ?
		    NULL : args, NULL) != 0)
			return -1;
		r->nbd_started = 1;
		for (i = 0; i < r->disks.n; i++) {
			jsonw_init(&w, args, sizeof(args));
			jsonw_obj_begin(&w);
			jsonw_kstr(&w, "type", "nbd");
			jsonw_kstr(&w, "id", r->disks.d[i].id);
			jsonw_kstr(&w, "node-name", r->disks.d[i].node);
			jsonw_kstr(&w, "name", r->disks.d[i].id);
			jsonw_kbool(&w, "writable", 1);
			jsonw_obj_end(&w);
			if (recv_exec(r, "block-export-add", jsonw_finish(&w) < 0 ?
			    NULL : args, NULL) != 0)
				return -1;
			log_info("exporting disk '%s'", r->disks.d[i].id);
		}
	}
	if (o->incoming.kind == ENDPOINT_STDIO) {
		if (qmp_exec_fd(&r->q, "getfd", qmpargs_str(args, sizeof(args),
		    "fdname", "mig-stream"), 0, clock_ms() + RECV_CMD_MS,
		    &m) != 0) {
			snprintf(r->err, sizeof(r->err), "getfd: %s", r->q.err);
			return -1;
		}
		snprintf(uri, sizeof(uri), "fd:mig-stream");
	} else if (endpoint_qemu_uri(&o->incoming, uri, sizeof(uri)) < 0) {
		snprintf(r->err, sizeof(r->err), "incoming URI too long");
		return -1;
	}
	return recv_exec(r, "migrate-incoming", qmpargs_str(args, sizeof(args),
	    "uri", uri), NULL);
}

/*
 * The source's mirrors are complete once the switch-over began (it
 * completes them before QEMU sends the final state): stop serving the
 * disks, then let the guest run.
 */
static int
recv_release(struct recv *r)
{
	struct qmp_msg *m;
	char status[32] = "";

	if (r->released)
		return 0;
	if (r->nbd_started && recv_exec(r, "nbd-server-stop", NULL, NULL) != 0)
		return -1;
	r->nbd_started = 0;
	r->released = 1;
	if (r->o->paused) {
		log_info("the guest is left paused (--paused)");
		return 0;
	}
	/* Still incoming, "cont" only sets autostart; QEMU starts it later. */
	if (recv_exec(r, "cont", NULL, NULL) != 0)
		return -1;
	if (recv_exec(r, "query-status", NULL, &m) == 0)
		json_path_string(&m->doc, m->value, "status", status,
		    sizeof(status));
	log_info("guest released on the destination (status %s)", status);
	return 0;
}

static int
recv_poll(struct recv *r)
{
	struct qmp_msg *m;

	if (recv_exec(r, "query-migrate", NULL, &m) != 0)
		return -1;
	json_path_string(&m->doc, m->value, "status", r->status,
	    sizeof(r->status));
	return 0;
}

/* Wait for the migration's end; 0 on success, -1 with r->err. */
static int
recv_wait(struct recv *r)
{
	const struct recv_opts *o = r->o;
	int64_t deadline = o->timeout_s ? r->t0 + o->timeout_s * 1000 : 0;
	int64_t next_tick = 0, wake, now;
	struct qmp_msg *m;
	int rc;

	for (;;) {
		if (strcmp(r->status, "postcopy-active") == 0 && !r->released) {
			progress_phase("postcopy", clock_ms() - r->t0);
			if (recv_release(r) < 0)
				return -1;
		}
		if (strcmp(r->status, "completed") == 0)
			return recv_release(r);
		if (strcmp(r->status, "failed") == 0 ||
		    strcmp(r->status, "cancelled") == 0) {
			snprintf(r->err, sizeof(r->err), "the incoming migration "
			    "%s", r->status);
			return -1;
		}
		if (sig_stop) {
			snprintf(r->err, sizeof(r->err), "interrupted by signal "
			    "%d", (int)sig_stop);
			return -1;
		}
		now = clock_ms();
		if (deadline && now >= deadline) {
			snprintf(r->err, sizeof(r->err), "timed out after %lld s",
			    (long long)o->timeout_s);
			return -1;
		}
		if (now >= next_tick) {
			next_tick = now + RECV_TICK_MS;
			if (recv_poll(r) < 0)
				return -1;
			continue;
		}
		wake = deadline && deadline < next_tick ? deadline : next_tick;
		rc = qmp_next_event(&r->q, wake, &m);
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "the destination QEMU "
			    "exited: the incoming migration failed (%s)",
			    r->q.err);
			r->qemu_gone = 1;
			return -1;
		}
		if (rc == 1 && strcmp(m->name, "MIGRATION") == 0)
			json_path_string(&m->doc, m->value, "status", r->status,
			    sizeof(r->status));
	}
}

static void
recv_quit_destination(struct recv *r)
{
	struct qmp_msg *m;

	if (r->qemu_gone)
		return;
	if (recv_exec(r, "quit", NULL, NULL) < 0)
		return;
	while (qmp_next_event(&r->q, clock_ms() + 10000, &m) == 1)
		;
	log_info("destination QEMU quit");
}

int
recv_run(const struct recv_opts *o)
{
	static struct recv rbuf;
	struct recv *r = &rbuf;
	char buf[256];
	struct jsonw w;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->t0 = clock_ms();
	sig_install();
	progress_init(o->verbose, o->json);
	if (qmp_open(&r->q, &o->qmp, clock_ms() + 10000) < 0) {
		log_err("%s", r->q.err);
		return RECV_USAGE;
	}
	if (recv_preflight(r) < 0) {
		log_err("%s", r->err);
		qmp_close(&r->q);
		return RECV_USAGE;
	}
	if (recv_setup(r) != 0)
		goto fail;
	/* Every socket listens now: the source may start. */
	fputs("ready\n", stdout);
	fflush(stdout);
	progress_phase("ready", clock_ms() - r->t0);
	if (recv_wait(r) < 0)
		goto fail;
	progress_phase("completed", clock_ms() - r->t0);
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "summary");
	jsonw_kstr(&w, "result", "completed");
	jsonw_kint(&w, "total_ms", clock_ms() - r->t0);
	jsonw_obj_end(&w);
	if (jsonw_finish(&w) >= 0)
		progress_json_line(buf);
	qmp_close(&r->q);
	return RECV_OK;

fail:
	log_err("%s", r->err);
	if (r->released && !r->o->paused) {
		log_err("post-copy failed after the guest started here: its "
		    "memory is split between the hosts; QEMU is left as it is");
		qmp_close(&r->q);
		return RECV_POSTCOPY_FAILED;
	}
	recv_quit_destination(r);
	qmp_close(&r->q);
	return RECV_FAILED;
}
