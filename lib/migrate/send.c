#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "json/jsonw.h"
#include "migrate/disks.h"
#include "migrate/progress.h"
#include "migrate/qmpargs.h"
#include "migrate/send.h"
#include "nbd/nbd_probe.h"
#include "qmp/qmp.h"

#define SEND_CMD_MS 30000	/* one QMP command */
#define SEND_TICK_MS 250	/* progress refresh: at least twice a second */
#define SEND_UNDO_MS 60000	/* cancelling a migration or the mirrors */
#define SEND_FINISH_MS 300000	/* mirrors converging at the switch-over */

struct send_disk {
	struct disk d;
	char nbd_node[32];
	char job[32];
	int nbd_added;
	int job_started;
	int ready;
	int finished;
	int failed;
	int64_t offset, len;
};

struct send {
	const struct send_opts *o;
	struct qmp q;
	struct send_disk disk[DISKS_MAX];
	size_t ndisks;
	char status[32];	/* migration status, from events and polls */
	int was_running;
	int caps_set;
	int migrate_issued;
	int continued;		/* migrate-continue sent: no way back */
	int postcopy_requested;
	int postcopy_active;
	int timeout_fired;
	int qemu_gone;
	int64_t t0, t_migrate, next_tick;
	uint64_t last_done;
	int64_t last_t;
	const char *phase;
	char err[700];
};

/* What a wait loop waits for. */
enum send_goal {
	SEND_MIRRORS_READY,
	SEND_MIRRORS_FINISHED,
	SEND_MIGRATION_DONE,
	SEND_MIGRATION_STOPPED,
};

enum { SEND_REACHED = 0, SEND_BROKE = -1, SEND_INTERRUPTED = -2,
    SEND_DEADLINE = -3 };

int
send_check_opts(const struct send_opts *o, char *err, size_t errlen)
{
	if (o->migrate_disks && o->storage == SEND_STORAGE_NONE)
		snprintf(err, errlen, "--migrate-disks needs --copy-storage-all "
		    "or --copy-storage-inc");
	else if (o->storage != SEND_STORAGE_NONE && o->disks_uri.kind == 0)
		snprintf(err, errlen, "copying storage needs --disks-uri");
	else if (o->storage == SEND_STORAGE_NONE && o->disks_uri.kind != 0)
		snprintf(err, errlen, "--disks-uri needs --copy-storage-all or "
		    "--copy-storage-inc");
	else if (o->sync_writes && o->storage == SEND_STORAGE_NONE)
		snprintf(err, errlen, "--copy-storage-synchronous-writes needs "
		    "a copy-storage flag");
	else if (o->postcopy_after_precopy && !o->postcopy)
		snprintf(err, errlen, "--postcopy-after-precopy needs --postcopy");
	else if (o->timeout_action == SEND_TIMEOUT_POSTCOPY && !o->postcopy)
		snprintf(err, errlen, "--timeout-postcopy needs --postcopy");
	else if (o->timeout_action == SEND_TIMEOUT_POSTCOPY && !o->timeout_s)
		snprintf(err, errlen, "--timeout-postcopy needs --timeout");
	else if (o->parallel && o->migrate_uri.kind == ENDPOINT_STDIO)
		snprintf(err, errlen, "--parallel needs a socket --migrate-uri: "
		    "QEMU opens one connection per channel");
	else if (o->postcopy && o->migrate_uri.kind == ENDPOINT_STDIO &&
	    !sock_is_socket(1))
		snprintf(err, errlen, "--postcopy needs a two-way stream and "
		    "standard output is not a socket");
	else
		return 0;
	return -1;
}

static int64_t
send_elapsed(const struct send *s)
{
	return clock_ms() - s->t0;
}

static void
send_phase(struct send *s, const char *phase)
{
	s->phase = phase;
	s->last_done = 0;
	s->last_t = clock_ms();
	progress_phase(phase, send_elapsed(s));
}

/* Run a command; on failure the reason is in s->err.  0, 1 (QEMU said no), -1. */
static int
send_exec(struct send *s, const char *cmd, const char *args,
    struct qmp_msg **out)
{
	struct qmp_msg *m;
	int rc;

	if (s->qemu_gone) {
		snprintf(s->err, sizeof(s->err), "%s: source QEMU is gone", cmd);
		return -1;
	}
	rc = qmp_exec(&s->q, cmd, args, clock_ms() + SEND_CMD_MS, &m);
	if (rc != 0)
		snprintf(s->err, sizeof(s->err), "%s: %s", cmd, s->q.err);
	if (rc < 0)
		s->qemu_gone = 1;
	if (out)
		*out = m;
	return rc;
}

static struct send_disk *
send_disk_by_job(struct send *s, const struct json_doc *doc, int data)
{
	char job[32];
	size_t i;

	if (json_path_string(doc, data, "device", job, sizeof(job)) < 0)
		return NULL;
	for (i = 0; i < s->ndisks; i++)
		if (s->disk[i].job_started && strcmp(s->disk[i].job, job) == 0)
			return &s->disk[i];
	return NULL;
}

/* Every status change goes through here, from events and polls alike. */
static void
send_set_status(struct send *s, const struct json_doc *doc, int n)
{
	json_path_string(doc, n, "status", s->status, sizeof(s->status));
	if (strcmp(s->status, "postcopy-active") == 0 && !s->postcopy_active) {
		s->postcopy_active = 1;
		send_phase(s, "postcopy");
	}
}

static void
send_on_event(struct send *s, struct qmp_msg *m)
{
	const struct json_doc *doc = &m->doc;
	struct send_disk *d;
	char msg[300];

	if (strcmp(m->name, "MIGRATION") == 0) {
		send_set_status(s, doc, m->value);
		return;
	}
	if (strncmp(m->name, "BLOCK_JOB_", 10) != 0)
		return;
	d = send_disk_by_job(s, doc, m->value);
	if (d == NULL)
		return;
	if (strcmp(m->name, "BLOCK_JOB_READY") == 0) {
		d->ready = 1;
	} else if (strcmp(m->name, "BLOCK_JOB_COMPLETED") == 0 ||
	    strcmp(m->name, "BLOCK_JOB_CANCELLED") == 0) {
		d->finished = 1;
		json_path_int(doc, m->value, "offset", &d->offset);
		json_path_int(doc, m->value, "len", &d->len);
		if (json_path_string(doc, m->value, "error", msg,
		    sizeof(msg)) >= 0) {
			d->failed = 1;
			snprintf(s->err, sizeof(s->err),
			    "copy of disk '%s' failed: %s", d->d.id, msg);
		}
	} else if (strcmp(m->name, "BLOCK_JOB_ERROR") == 0) {
		log_warn("I/O error in the copy of disk '%s'", d->d.id);
	}
}

static int
send_mirrors(const struct send *s, int ready)
{
	size_t i;

	for (i = 0; i < s->ndisks; i++)
		if (s->disk[i].job_started &&
		    !(ready ? s->disk[i].ready : s->disk[i].finished))
			return 0;
	return 1;
}

static int
send_mirror_failed(struct send *s)
{
	size_t i;

	for (i = 0; i < s->ndisks; i++)
		if (s->disk[i].failed || (s->disk[i].finished &&
		    !s->disk[i].ready))
			return 1;
	return 0;
}

static int
send_status_is(const struct send *s, const char *a, const char *b)
{
	return strcmp(s->status, a) == 0 || (b && strcmp(s->status, b) == 0);
}

static void
send_report(struct send *s, uint64_t done, uint64_t total, uint64_t remaining,
    uint64_t rate, uint64_t dirty)
{
	struct progress_sample ps;
	int64_t now = clock_ms();

	memset(&ps, 0, sizeof(ps));
	ps.phase = s->phase;
	ps.done = done;
	ps.remaining = remaining;
	ps.percent = total ? 100.0 * (double)(total - remaining) / (double)total : 0;
	if (ps.percent < 0)
		ps.percent = 0;
	if (rate == 0 && now > s->last_t && done >= s->last_done)
		rate = (done - s->last_done) * 1000 / (uint64_t)(now - s->last_t);
	ps.throughput = rate;
	ps.dirty_rate = dirty;
	ps.elapsed_ms = now - s->t0;
	s->last_done = done;
	s->last_t = now;
	progress_report(&ps);
}

static void
send_poll_jobs(struct send *s)
{
	struct qmp_msg *m;
	struct send_disk *d;
	uint64_t done = 0, total = 0;
	int64_t off, len;
	int job;

	if (send_exec(s, "query-block-jobs", NULL, &m) != 0)
		return;
	for (job = json_first(&m->doc, m->value); job >= 0;
	    job = json_next(&m->doc, job)) {
		d = send_disk_by_job(s, &m->doc, job);
		if (d == NULL || json_path_int(&m->doc, job, "offset", &off) < 0 ||
		    json_path_int(&m->doc, job, "len", &len) < 0)
			continue;
		d->offset = off;
		d->len = len;
	}
	for (size_t i = 0; i < s->ndisks; i++) {
		done += (uint64_t)s->disk[i].offset;
		total += (uint64_t)s->disk[i].len;
	}
	send_report(s, done, total, total > done ? total - done : 0, 0, 0);
}

static void
send_start_postcopy(struct send *s, const char *why)
{
	if (s->postcopy_requested || s->continued)
		return;
	log_info("switching to post-copy (%s)", why);
	s->postcopy_requested = 1;
	if (send_exec(s, "migrate-start-postcopy", NULL, NULL) != 0)
		log_warn("%s", s->err);
}

/*
 * Refresh the status and the progress line; with 'act', also switch to
 * post-copy or suspend the guest when the options say it is time.
 */
static void
send_poll_migration(struct send *s, int act)
{
	struct qmp_msg *m;
	const struct json_doc *doc;
	int64_t transferred = 0, remaining = 0, total = 0, mbps = 0;
	int64_t dirty = 0, page = 4096, syncs = 0;
	int ram, mb;

	if (send_exec(s, "query-migrate", NULL, &m) != 0)
		return;
	doc = &m->doc;
	send_set_status(s, doc, m->value);
	ram = json_get(doc, m->value, "ram");
	if (ram < 0)
		return;
	json_path_int(doc, ram, "transferred", &transferred);
	json_path_int(doc, ram, "remaining", &remaining);
	json_path_int(doc, ram, "total", &total);
	json_path_int(doc, ram, "dirty-pages-rate", &dirty);
	json_path_int(doc, ram, "page-size", &page);
	json_path_int(doc, ram, "dirty-sync-count", &syncs);
	/* "mbps" is a float: take its integer part from the text. */
	mb = json_get(doc, ram, "mbps");
	if (mb >= 0)
		mbps = (int64_t)strtod(doc->text + doc->nodes[mb].start, NULL);
	send_report(s, (uint64_t)transferred, (uint64_t)total,
	    (uint64_t)remaining, (uint64_t)mbps * 1000000 / 8,
	    (uint64_t)(dirty * page));

	if (!act)
		return;
	if (s->o->postcopy_after_precopy && syncs >= 2)
		send_start_postcopy(s, "first pass done");
	if (sig_usr1) {
		sig_usr1 = 0;
		if (s->o->postcopy)
			send_start_postcopy(s, "SIGUSR1");
		else
			log_warn("SIGUSR1 ignored: --postcopy was not given");
	}
	if (s->o->timeout_s && !s->timeout_fired &&
	    clock_ms() - s->t_migrate >= s->o->timeout_s * 1000) {
		s->timeout_fired = 1;
		if (s->o->timeout_action == SEND_TIMEOUT_POSTCOPY) {
			send_start_postcopy(s, "--timeout");
		} else {
			log_info("--timeout reached: suspending the guest so the "
			    "migration can finish");
			if (send_exec(s, "stop", NULL, NULL) != 0)
				log_warn("%s", s->err);
		}
	}
}

static int
send_reached(struct send *s, enum send_goal goal)
{
	switch (goal) {
	case SEND_MIRRORS_READY:
		return send_mirrors(s, 1);
	case SEND_MIRRORS_FINISHED:
		return send_mirrors(s, 0);
	case SEND_MIGRATION_DONE:
		return send_status_is(s, "completed", NULL);
	case SEND_MIGRATION_STOPPED:
		return send_status_is(s, "completed", "failed") ||
		    send_status_is(s, "cancelled", NULL);
	}
	return 0;
}

static int send_switchover(struct send *s);

/*
 * Wait for goal, handling events and refreshing progress.  Signals end the
 * wait only when 'interruptible'; deadline 0 means none.
 */
static int
send_wait(struct send *s, enum send_goal goal, int interruptible,
    int64_t deadline)
{
	struct qmp_msg *m;
	int64_t wake, now;
	int rc;

	for (;;) {
		if (send_reached(s, goal))
			return SEND_REACHED;
		/* A mirror that ends before READY, or with an error, failed. */
		if (goal == SEND_MIRRORS_READY && send_mirror_failed(s))
			return SEND_BROKE;
		if (goal == SEND_MIGRATION_DONE) {
			if (send_status_is(s, "failed", "cancelled") ||
			    send_status_is(s, "postcopy-paused", NULL)) {
				snprintf(s->err, sizeof(s->err),
				    "QEMU reports the migration %s", s->status);
				return SEND_BROKE;
			}
			if (send_status_is(s, "pre-switchover", NULL) &&
			    !s->continued && send_switchover(s) < 0)
				return SEND_BROKE;
		}
		if (interruptible && sig_stop)
			return SEND_INTERRUPTED;
		now = clock_ms();
		if (deadline && now >= deadline)
			return SEND_DEADLINE;
		if (now >= s->next_tick) {
			s->next_tick = now + SEND_TICK_MS;
			if (goal == SEND_MIRRORS_READY)
				send_poll_jobs(s);
			else if (goal == SEND_MIGRATION_DONE)
				send_poll_migration(s, 1);
			else if (goal == SEND_MIGRATION_STOPPED)
				send_poll_migration(s, 0);
			if (s->qemu_gone)
				return SEND_BROKE;
			continue;
		}
		wake = s->next_tick;
		if (deadline && deadline < wake)
			wake = deadline;
		rc = qmp_next_event(&s->q, wake, &m);
		if (rc < 0) {
			snprintf(s->err, sizeof(s->err), "%s", s->q.err);
			s->qemu_gone = 1;
			return SEND_BROKE;
		}
		if (rc == 1)
			send_on_event(s, m);
	}
}

/*
 * The source is paused before the switch-over: complete every mirror
 * (a soft cancel of a READY mirror leaves the target consistent), drop the
 * NBD clients so the destination may stop its server, then let QEMU send
 * the final state.
 */
static int
send_switchover(struct send *s)
{
	char args[128];
	size_t i;
	int rc;

	send_phase(s, "switch-over");
	for (i = 0; i < s->ndisks; i++) {
		if (!s->disk[i].job_started || s->disk[i].finished)
			continue;
		if (send_exec(s, "block-job-cancel", qmpargs_str(args,
		    sizeof(args), "device", s->disk[i].job), NULL) != 0)
			return -1;
	}
	rc = send_wait(s, SEND_MIRRORS_FINISHED, 0, clock_ms() + SEND_FINISH_MS);
	if (rc != SEND_REACHED) {
		if (rc == SEND_DEADLINE)
			snprintf(s->err, sizeof(s->err),
			    "disk mirrors did not complete at the switch-over");
		return -1;
	}
	for (i = 0; i < s->ndisks; i++) {
		if (s->disk[i].failed)
			return -1;
		if (s->disk[i].nbd_added && send_exec(s, "blockdev-del",
		    qmpargs_str(args, sizeof(args), "node-name",
		    s->disk[i].nbd_node), NULL) != 0)
			return -1;
		s->disk[i].nbd_added = 0;
	}
	if (send_exec(s, "migrate-continue", qmpargs_str(args, sizeof(args),
	    "state", "pre-switchover"), NULL) != 0)
		return -1;
	s->continued = 1;
	return 0;
}

static int
send_set_caps(struct send *s, int on)
{
	int return_path = s->o->migrate_uri.kind != ENDPOINT_STDIO ||
	    sock_is_socket(1);
	struct qmpargs_cap caps[] = {
		{ "events", 1 },
		{ "pause-before-switchover", on },
		/* The destination confirms it loaded the state: a failed load
		 * fails the migration here, and the source runs on. */
		{ "return-path", on && return_path },
		{ "postcopy-ram", on && s->o->postcopy },
		{ "multifd", on && s->o->parallel },
		{ "auto-converge", on && s->o->auto_converge },
		{ "xbzrle", on && s->o->compressed },
	};
	char args[1024];

	return send_exec(s, "migrate-set-capabilities", qmpargs_caps(args,
	    sizeof(args), caps, sizeof(caps) / sizeof(caps[0])), NULL);
}

static int
send_set_params(struct send *s)
{
	const struct send_opts *o = s->o;
	char args[256];
	struct jsonw w;

	jsonw_init(&w, args, sizeof(args));
	jsonw_obj_begin(&w);
	/* QEMU's default of 128 MiB/s would cap a unix socket's speed. */
	jsonw_kint(&w, "max-bandwidth", o->bandwidth_mib ?
	    o->bandwidth_mib << 20 : INT64_MAX);
	if (o->downtime_ms)
		jsonw_kint(&w, "downtime-limit", o->downtime_ms);
	if (o->parallel)
		jsonw_kint(&w, "multifd-channels", o->parallel_connections);
	jsonw_obj_end(&w);
	return send_exec(s, "migrate-set-parameters",
	    jsonw_finish(&w) < 0 ? NULL : args, NULL);
}

/*
 * In a pipeline (mig-send --migrate-uri - | mig-recv --incoming -) both
 * start at once and mig-send cannot see mig-recv's "ready": give the NBD
 * server and its exports a few seconds to appear.  Elsewhere the user
 * waited for "ready", so a missing server is an error at once.
 */
static int
send_probe(struct send *s, const char *id, struct nbd_export_info *info)
{
	int64_t until = clock_ms() + (s->o->migrate_uri.kind ==
	    ENDPOINT_STDIO ? 10000 : 0);
	int rc;

	for (;;) {
		rc = nbd_probe_run(&s->o->disks_uri, id, clock_ms() + 10000,
		    info, s->err, sizeof(s->err));
		/* mig-recv's server listens before its exports are added. */
		if (rc == NBD_PROBE_FOUND || clock_ms() >= until || sig_stop ||
		    (rc == NBD_PROBE_ERROR && errno != ENOENT &&
		    errno != ECONNREFUSED))
			return rc;
		poll(NULL, 0, 100);
	}
}

/* Checks that change nothing: any failure here is bad input (exit 2). */
static int
send_preflight(struct send *s)
{
	const struct send_opts *o = s->o;
	struct disk_list all, chosen;
	struct nbd_export_info info;
	struct qmp_msg *m;
	char status[32];
	struct stat st;
	size_t i;
	int rc;

	if (send_exec(s, "query-status", NULL, &m) != 0)
		return -1;
	if (json_path_string(&m->doc, m->value, "status", status,
	    sizeof(status)) < 0) {
		snprintf(s->err, sizeof(s->err), "query-status: the reply has "
		    "no status (is this QEMU's QMP socket?)");
		return -1;
	}
	if (strcmp(status, "inmigrate") == 0) {
		snprintf(s->err, sizeof(s->err), "this QEMU waits for an "
		    "incoming migration: it is a destination, not a source");
		return -1;
	}
	if (strcmp(status, "running") != 0 && strcmp(status, "paused") != 0) {
		snprintf(s->err, sizeof(s->err), "the source guest is '%s': "
		    "only a running or paused guest can be migrated", status);
		return -1;
	}
	s->was_running = strcmp(status, "running") == 0;
	if (send_exec(s, "query-migrate", NULL, &m) != 0)
		return -1;
	if (json_path_string(&m->doc, m->value, "status", status,
	    sizeof(status)) >= 0 && strcmp(status, "completed") != 0 &&
	    strcmp(status, "failed") != 0 && strcmp(status, "cancelled") != 0) {
		snprintf(s->err, sizeof(s->err), "a migration is already in "
		    "progress (status '%s')", status);
		return -1;
	}
	if (o->migrate_uri.kind == ENDPOINT_UNIX &&
	    (stat(o->migrate_uri.path, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		snprintf(s->err, sizeof(s->err), "no migration socket at %s "
		    "(is mig-recv ready?)", o->migrate_uri.path);
		return -1;
	}
	if (o->storage == SEND_STORAGE_NONE)
		return 0;
	if (send_exec(s, "query-block", NULL, &m) != 0)
		return -1;
	if (disks_from_query_block(&m->doc, m->value, &all, s->err,
	    sizeof(s->err)) < 0 ||
	    disks_select(&all, o->migrate_disks, &chosen, s->err,
	    sizeof(s->err)) < 0)
		return -1;
	if (chosen.n == 0)
		log_warn("no writable disk to copy");
	for (i = 0; i < chosen.n; i++) {
		struct send_disk *d = &s->disk[i];

		d->d = chosen.d[i];
		snprintf(d->nbd_node, sizeof(d->nbd_node), "mig-nbd-%zu", i);
		snprintf(d->job, sizeof(d->job), "mig-mirror-%zu", i);
		rc = send_probe(s, d->d.id, &info);
		if (rc == NBD_PROBE_MISSING) {
			snprintf(s->err, sizeof(s->err), "the destination "
			    "exports no disk '%s' (does mig-recv --nbd know "
			    "it?)", d->d.id);
			return -1;
		}
		if (rc != NBD_PROBE_FOUND)
			return -1;
		if (info.read_only || info.size < (uint64_t)d->d.size) {
			snprintf(s->err, sizeof(s->err), info.read_only ?
			    "the destination disk '%s' is read-only" :
			    "the destination disk '%s' has %llu bytes, the "
			    "source %lld", d->d.id, (unsigned long long)info.size,
			    (long long)d->d.size);
			return -1;
		}
	}
	s->ndisks = chosen.n;
	return 0;
}

static int
send_start_mirrors(struct send *s)
{
	const struct send_opts *o = s->o;
	char args[1024];
	struct jsonw w;
	size_t i;

	for (i = 0; i < s->ndisks; i++) {
		struct send_disk *d = &s->disk[i];

		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "driver", "nbd");
		jsonw_kstr(&w, "node-name", d->nbd_node);
		qmpargs_socket(&w, "server", &o->disks_uri, 0);
		jsonw_kstr(&w, "export", d->d.id);
		jsonw_obj_end(&w);
		if (send_exec(s, "blockdev-add", jsonw_finish(&w) < 0 ? NULL :
		    args, NULL) != 0)
			return -1;
		d->nbd_added = 1;

		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "job-id", d->job);
		jsonw_kstr(&w, "device", d->d.node);
		jsonw_kstr(&w, "target", d->nbd_node);
		jsonw_kstr(&w, "sync", o->storage == SEND_STORAGE_INC ?
		    "top" : "full");
		jsonw_kstr(&w, "copy-mode", o->sync_writes ?
		    "write-blocking" : "background");
		jsonw_obj_end(&w);
		if (send_exec(s, "blockdev-mirror", jsonw_finish(&w) < 0 ?
		    NULL : args, NULL) != 0)
			return -1;
		d->job_started = 1;
		log_info("copying disk '%s' (%lld bytes)", d->d.id,
		    (long long)d->d.size);
	}
	return 0;
}

static int
send_start_migration(struct send *s)
{
	struct qmp_msg *m;
	char uri[300], args[400];
	int devnull;

	if (s->o->migrate_uri.kind == ENDPOINT_STDIO) {
		if (qmp_exec_fd(&s->q, "getfd", qmpargs_str(args, sizeof(args),
		    "fdname", "mig-stream"), 1, clock_ms() + SEND_CMD_MS,
		    &m) != 0) {
			snprintf(s->err, sizeof(s->err), "getfd: %s", s->q.err);
			return -1;
		}
		/* QEMU holds the stream now; ours must not keep it open. */
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			close(devnull);
		}
		snprintf(uri, sizeof(uri), "fd:mig-stream");
	} else if (endpoint_qemu_uri(&s->o->migrate_uri, uri, sizeof(uri)) < 0) {
		snprintf(s->err, sizeof(s->err), "migration URI too long");
		return -1;
	}
	if (send_exec(s, "migrate", qmpargs_str(args, sizeof(args), "uri",
	    uri), NULL) != 0)
		return -1;
	s->migrate_issued = 1;
	s->t_migrate = clock_ms();
	return 0;
}

/*
 * The destination QEMU waits for a stream; a connection closed at once
 * makes its incoming migration fail, so mig-recv quits it instead of
 * waiting for a source that gave up.
 */
static void
send_poke_destination(struct send *s)
{
	char err[300];
	int fd, devnull;

	if (s->o->migrate_uri.kind == ENDPOINT_STDIO) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			close(devnull);
		}
		return;
	}
	fd = sock_connect(&s->o->migrate_uri, clock_ms() + 2000, err,
	    sizeof(err));
	if (fd >= 0)
		close(fd);
}

/* Undo everything, in reverse; returns the exit code. */
static int
send_rollback(struct send *s)
{
	struct qmp_msg *m;
	char args[128], status[32] = "";
	size_t i;
	int rc;

	progress_end_line();
	if (s->qemu_gone) {
		send_poke_destination(s);
		log_err("the source QEMU is gone; nothing to roll back");
		return SEND_FAILED;
	}
	if (s->migrate_issued && !send_status_is(s, "failed", "cancelled")) {
		send_exec(s, "migrate_cancel", NULL, NULL);
		rc = send_wait(s, SEND_MIGRATION_STOPPED, 0,
		    clock_ms() + SEND_UNDO_MS);
		if (rc == SEND_REACHED && send_status_is(s, "completed", NULL))
			return -1;	/* it finished after all: caller proceeds */
	}
	for (i = 0; i < s->ndisks; i++) {
		struct send_disk *d = &s->disk[i];
		char cargs[128];
		struct jsonw w;

		if (!d->job_started || d->finished)
			continue;
		jsonw_init(&w, cargs, sizeof(cargs));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "device", d->job);
		jsonw_kbool(&w, "force", 1);
		jsonw_obj_end(&w);
		jsonw_finish(&w);
		if (send_exec(s, "block-job-cancel", cargs, NULL) == 1)
			d->finished = 1;	/* already gone */
	}
	if (send_wait(s, SEND_MIRRORS_FINISHED, 0, clock_ms() + SEND_UNDO_MS) !=
	    SEND_REACHED)
		log_warn("disk mirrors did not stop: %s", s->err);
	for (i = 0; i < s->ndisks; i++)
		if (s->disk[i].nbd_added && send_exec(s, "blockdev-del",
		    qmpargs_str(args, sizeof(args), "node-name",
		    s->disk[i].nbd_node), NULL) != 0)
			log_warn("%s", s->err);
	if (s->caps_set && send_set_caps(s, 0) != 0)
		log_warn("%s", s->err);
	send_poke_destination(s);
	if (send_exec(s, "query-status", NULL, &m) == 0)
		json_path_string(&m->doc, m->value, "status", status,
		    sizeof(status));
	if (s->was_running && strcmp(status, "running") != 0) {
		if (send_exec(s, "cont", NULL, NULL) != 0) {
			log_err("the source guest is left paused: %s", s->err);
			return SEND_STUCK;
		}
	}
	log_info("rolled back: the guest runs on the source");
	return SEND_FAILED;
}

static void
send_summary(struct send *s)
{
	struct qmp_msg *m;
	int64_t total = 0, downtime = 0, ram = 0;
	char buf[2048], b1[32];
	struct jsonw w;
	uint64_t disk_total = 0;
	size_t i;

	/* QEMU 7.2 says "completed" a moment before it computes the
	 * downtime: ask again for up to a second while it reads 0. */
	for (int64_t until = clock_ms() + 1000;;) {
		if (send_exec(s, "query-migrate", NULL, &m) != 0)
			break;
		json_path_int(&m->doc, m->value, "total-time", &total);
		json_path_int(&m->doc, m->value, "downtime", &downtime);
		json_path_int(&m->doc, m->value, "ram.transferred", &ram);
		if (downtime > 0 || clock_ms() >= until)
			break;
		poll(NULL, 0, 20);
	}
	total = send_elapsed(s);
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "summary");
	jsonw_kstr(&w, "result", "completed");
	jsonw_kint(&w, "total_ms", total);
	jsonw_kint(&w, "downtime_ms", downtime);
	jsonw_kint(&w, "memory_bytes", ram);
	jsonw_key(&w, "disks");
	jsonw_arr_begin(&w);
	for (i = 0; i < s->ndisks; i++) {
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "id", s->disk[i].d.id);
		jsonw_kint(&w, "bytes", s->disk[i].offset);
		jsonw_obj_end(&w);
		disk_total += (uint64_t)s->disk[i].offset;
	}
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	if (jsonw_finish(&w) >= 0)
		progress_json_line(buf);
	progress_end_line();
	log_info("migrated in %lld ms, downtime %lld ms, memory %s, disks %s",
	    (long long)total, (long long)downtime,
	    progress_bytes((uint64_t)ram, buf, 32),
	    progress_bytes(disk_total, b1, sizeof(b1)));
}

/* After success: quit the source as libvirt's confirm step does. */
static void
send_finish_source(struct send *s)
{
	struct qmp_msg *m;

	if (s->o->keep_source) {
		log_info("the source QEMU is left paused (--keep-source)");
		return;
	}
	if (send_exec(s, "quit", NULL, NULL) < 0)
		return;
	/* Wait for QEMU to close the connection: it has exited then. */
	while (qmp_next_event(&s->q, clock_ms() + 10000, &m) == 1)
		;
}

static int
send_interrupted(struct send *s)
{
	snprintf(s->err, sizeof(s->err), "interrupted by signal %d",
	    (int)sig_stop);
	return SEND_BROKE;
}

int
send_run(const struct send_opts *o)
{
	static struct send sbuf;
	struct send *s = &sbuf;
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->t0 = clock_ms();
	sig_install();
	progress_init(o->verbose, o->json);
	if (qmp_open(&s->q, &o->qmp, clock_ms() + 10000) < 0) {
		log_err("%s", s->q.err);
		return SEND_USAGE;
	}
	if (send_preflight(s) < 0) {
		log_err("%s", s->err);
		qmp_close(&s->q);
		return SEND_USAGE;
	}
	if (sig_stop) {
		log_err("interrupted before anything changed");
		return SEND_FAILED;
	}

	rc = SEND_BROKE;
	s->caps_set = 1;
	if (send_set_caps(s, 1) != 0 || send_set_params(s) != 0)
		goto fail;
	if (s->ndisks > 0) {
		send_phase(s, "disk-copy");
		if (send_start_mirrors(s) < 0)
			goto fail;
		rc = send_wait(s, SEND_MIRRORS_READY, 1, 0);
		if (rc == SEND_INTERRUPTED)
			rc = send_interrupted(s);
		if (rc != SEND_REACHED)
			goto fail;
	}
	send_phase(s, "memory");
	if (send_start_migration(s) < 0)
		goto fail;
	for (;;) {
		rc = send_wait(s, SEND_MIGRATION_DONE, !s->continued &&
		    !s->postcopy_active, 0);
		if (rc != SEND_INTERRUPTED)
			break;
		/* Past the switch-over a cancel could leave the guest on both
		 * hosts: finish instead. */
		if (s->continued || s->postcopy_active) {
			log_warn("switch-over in progress: finishing, not "
			    "cancelling");
			sig_stop = 0;
			continue;
		}
		rc = send_interrupted(s);
		break;
	}
	if (rc != SEND_REACHED)
		goto fail;
	send_phase(s, "completed");
	send_summary(s);
	send_finish_source(s);
	qmp_close(&s->q);
	return SEND_OK;

fail:
	progress_end_line();
	log_err("%s", s->err);
	if (s->postcopy_active) {
		log_err("post-copy failed after the switch-over: the guest's "
		    "memory is split between the hosts and cannot be recovered "
		    "by mig-send");
		qmp_close(&s->q);
		return SEND_POSTCOPY_FAILED;
	}
	rc = send_rollback(s);
	if (rc < 0) {
		log_warn("the migration completed while being cancelled");
		send_summary(s);
		send_finish_source(s);
		rc = SEND_OK;
	}
	qmp_close(&s->q);
	return rc;
}
