#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "migrate/confirm.h"
#include "migrate/disks.h"
#include "migrate/guard.h"
#include "migrate/outcome.h"
#include "migrate/progress.h"
#include "migrate/qemu.h"
#include "migrate/qmpargs.h"
#include "migrate/send.h"
#include "nbd/nbd_probe.h"

#define SEND_TICK_MS 250	/* progress refresh: at least twice a second */
#define SEND_UNDO_MS 60000	/* cancelling a migration or the mirrors */
#define SEND_FINISH_MS 300000	/* mirrors converging at the switch-over */
#define SEND_CONFIRM_MS 30000	/* the destination's word on the outcome */
#define SEND_HEAR_MS 5000	/* its reason, after a failure */
#define SEND_CLEANUP_MS 5000	/* QEMU's own cleanup of a failed migration */
#define SEND_QMP_RETRY_MS 10000	/* the guard reaching the source QEMU */
#define SEND_CONNECT_MS 10000	/* connecting to a destination's socket */

/* What the guard is told before each step that changes the source. */
enum {
	MARK_CHANGING = 'S',	/* capabilities, mirrors, migration: undo */
	MARK_CONTINUED = 'C',	/* migrate-continue may have gone out */
	MARK_COMMITTED = 'K',	/* the destination has the guest: quit */
	MARK_DOUBT = 'D',	/* managed: commit may have gone out: the
				   source stays paused, whatever happens */
};

/* The capabilities mig-send sets, and restores as they were. */
enum {
	CAP_EVENTS, CAP_PAUSE, CAP_RETURN_PATH, CAP_POSTCOPY, CAP_MULTIFD,
	CAP_AUTO_CONVERGE, CAP_XBZRLE, CAP_N
};

static const char *const send_cap_names[CAP_N] = {
	"events", "pause-before-switchover", "return-path", "postcopy-ram",
	"multifd", "auto-converge", "xbzrle",
};

/* The parameters it sets, likewise. */
enum { PARAM_BANDWIDTH, PARAM_DOWNTIME, PARAM_CHANNELS, PARAM_N };

static const char *const send_param_names[PARAM_N] = {
	"max-bandwidth", "downtime-limit", "multifd-channels",
};

struct send_disk {
	struct disk d;
	char nbd_node[32];
	char job[32];
	int nbd_added;
	int job_started;
	int ready;
	int finished;
	int failed;
	int io_errors;		/* BLOCK_JOB_ERROR events seen */
	int64_t offset, len;
};

struct send {
	const struct send_opts *o;	/* &oc */
	struct send_opts oc;	/* the options; a peer fills in the URIs */
	int prepared;		/* managed: the destination was prepared */
	int peer_refused;	/* ... or it refused (exit 1, not 2) */
	struct qemu qe;
	struct guard guard;
	struct send_disk disk[DISKS_MAX];
	size_t ndisks;
	char status[32];	/* migration status, from events and polls */
	char error_desc[300];	/* QEMU's reason, when it failed */
	int was_running;
	int return_path;	/* the stream is two-way: QEMU hears back */
	int cap_was[CAP_N];
	int64_t param_was[PARAM_N];	/* -1: QEMU did not say */
	int changed;		/* capabilities or parameters set */
	int migrate_issued;
	int continued;		/* migrate-continue sent: no way back */
	int postcopy_requested;
	int postcopy_active;
	int timeout_fired;
	int heard;		/* the destination's word came */
	int stalled;		/* no progress for --stall-timeout */
	int rescuing;		/* in the guard, after mig-send died */
	int committed;		/* managed: the commit may have gone out */
	int peer_said_gone;	/* ... and yet the destination said its
				   QEMU quit without the guest */
	enum outcome outcome;
	int64_t t0, t_migrate, next_tick;
	int64_t t_waited;	/* --wait: sockets may appear until then */
	uint64_t moved;		/* bytes QEMU said it sent, last we looked */
	int64_t syncs;		/* passes over memory QEMU has made */
	uint64_t left[3];	/* memory left after the last three passes */
	int told_converge;
	int64_t downtime, ram;	/* QEMU's figures, once it ended: ram is
				   what it sent of memory (every pass) */
	int64_t ram_size, passes;	/* the guest's RAM; passes over it */
	int64_t t_moved;	/* when that last grew */
	uint64_t least;		/* least memory a pass started with */
	int64_t t_progress;	/* the last progress (send_policy) */
	int stuck_passes;	/* passes since, none with progress */
	uint64_t last_done;
	int64_t last_t;
	struct progress_track track;	/* what progress showed so far */
	const char *phase;
	char err[700];
};

/* What a wait loop waits for. */
enum send_goal {
	GOAL_MIRRORS_READY,
	GOAL_MIRRORS_FINISHED,
	GOAL_SWITCHOVER,	/* pre-switchover, or the migration ended */
	GOAL_END,		/* completed, failed, cancelled, post-copy paused */
	GOAL_STOPPED,		/* completed, failed, cancelled */
};

enum { SEND_REACHED = 0, SEND_BROKE = -1, SEND_INTERRUPTED = -2,
    SEND_DEADLINE = -3 };

int
send_check_opts(const struct send_opts *o, char *err, size_t errlen)
{
	if (o->migrate_disks && o->storage == SEND_STORAGE_NONE)
		snprintf(err, errlen, "--migrate-disks needs --copy-storage-all "
		    "or --copy-storage-inc");
	else if (o->storage != SEND_STORAGE_NONE && o->disks_uri.kind == 0 &&
	    o->peer == NULL)
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
	else if (o->timeout_action == SEND_TIMEOUT_POSTCOPY && !o->timeout_s &&
	    !o->stall_timeout_s)
		snprintf(err, errlen, "--timeout-postcopy needs --timeout or "
		    "--stall-timeout");
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

/* A command; on failure the reason is in s->err.  Returns QEMU_*. */
static int
send_exec(struct send *s, const char *cmd, const char *args,
    struct qmp_msg **out)
{
	int rc = qemu_exec(&s->qe, cmd, args, out);

	if (rc != QEMU_OK)
		snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
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
	json_path_string(doc, n, "error-desc", s->error_desc,
	    sizeof(s->error_desc));
	if (strcmp(s->status, "postcopy-active") == 0 && !s->postcopy_active) {
		s->postcopy_active = 1;
		send_phase(s, "postcopy");
	}
}

static void
send_job_ended(struct send *s, struct send_disk *d, const char *error)
{
	d->finished = 1;
	if (error != NULL || !d->ready) {
		d->failed = 1;
		snprintf(s->err, sizeof(s->err), "copy of disk '%s' failed: %s",
		    d->d.id, error ? error : "it ended before it was in sync");
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
	if (d == NULL || d->finished)
		return;
	if (strcmp(m->name, "BLOCK_JOB_READY") == 0) {
		d->ready = 1;
	} else if (strcmp(m->name, "BLOCK_JOB_COMPLETED") == 0 ||
	    strcmp(m->name, "BLOCK_JOB_CANCELLED") == 0) {
		json_path_int(doc, m->value, "offset", &d->offset);
		json_path_int(doc, m->value, "len", &d->len);
		send_job_ended(s, d, json_path_string(doc, m->value, "error",
		    msg, sizeof(msg)) >= 0 ? msg : NULL);
	} else if (strcmp(m->name, "BLOCK_JOB_ERROR") == 0) {
		/* QEMU retries and reports each failed request: say it once. */
		if (d->io_errors++ == 0)
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
send_mirror_failed(const struct send *s)
{
	size_t i;

	for (i = 0; i < s->ndisks; i++)
		if (s->disk[i].failed)
			return 1;
	return 0;
}

static int
send_status_is(const struct send *s, const char *a, const char *b)
{
	return strcmp(s->status, a) == 0 || (b && strcmp(s->status, b) == 0);
}

static int
send_status_failed(const struct send *s)
{
	return send_status_is(s, "failed", "cancelled");
}

/*
 * QEMU's numbers, made sane: negative is 0, remaining is at most total,
 * the percent never goes backwards in a phase (progress_track); pass is
 * QEMU's count of passes over memory (0 for the disks).
 */
static void
send_report(struct send *s, uint64_t done, uint64_t total, uint64_t remaining,
    uint64_t rate, uint64_t dirty, int64_t pass)
{
	struct progress_sample ps;
	int64_t now = clock_ms();

	if (remaining > total)
		remaining = total;
	memset(&ps, 0, sizeof(ps));
	ps.phase = s->phase;
	ps.done = done;
	ps.total = total;
	ps.remaining = remaining;
	progress_track(&s->track, &ps, pass);
	if (rate == 0 && now > s->last_t && done >= s->last_done &&
	    done - s->last_done < UINT64_MAX / 1000)
		rate = (done - s->last_done) * 1000 / (uint64_t)(now - s->last_t);
	ps.throughput = rate;
	ps.dirty_rate = dirty;
	ps.elapsed_ms = now - s->t0;
	s->last_done = done;
	s->last_t = now;
	progress_report(&ps);
}

static uint64_t
send_nonneg(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/*
 * The mirrors' progress, and their state: a READY event may have been
 * dropped from a full event queue, and a job that is gone has ended.
 */
static void
send_poll_jobs(struct send *s)
{
	int seen[DISKS_MAX] = { 0 };
	struct qmp_msg *m;
	struct send_disk *d;
	uint64_t done = 0, total = 0;
	int64_t off, len;
	int job, ready;
	size_t i;

	if (send_exec(s, "query-block-jobs", NULL, &m) != QEMU_OK)
		return;
	for (job = json_first(&m->doc, m->value); job >= 0;
	    job = json_next(&m->doc, job)) {
		d = send_disk_by_job(s, &m->doc, job);
		if (d == NULL)
			continue;
		seen[d - s->disk] = 1;
		if (json_path_int(&m->doc, job, "offset", &off) == 0 &&
		    json_path_int(&m->doc, job, "len", &len) == 0) {
			d->offset = off;
			d->len = len;
		}
		if (json_path_bool(&m->doc, job, "ready", &ready) == 0 && ready)
			d->ready = 1;
	}
	for (i = 0; i < s->ndisks; i++) {
		d = &s->disk[i];
		if (d->job_started && !d->finished && !seen[i])
			send_job_ended(s, d, NULL);
		done += send_nonneg(d->offset);
		total += send_nonneg(d->len);
	}
	send_report(s, done, total, total > done ? total - done : 0, 0, 0, 0);
}

static void
send_start_postcopy(struct send *s, const char *why)
{
	if (s->postcopy_requested || s->continued)
		return;
	log_info("switching to post-copy (%s)", why);
	s->postcopy_requested = 1;
	if (send_exec(s, "migrate-start-postcopy", NULL, NULL) != QEMU_OK)
		log_warn("%s", s->err);
}

/*
 * --stall-timeout passed without progress: with --timeout-postcopy (and
 * --postcopy) switch to post-copy once, else fail (send_wait ends on
 * s->stalled and rolls back).
 */
static void
send_stall(struct send *s, int64_t now, uint64_t dirty_rate)
{
	const struct send_opts *o = s->o;
	int silent = now - s->t_moved >= o->stall_timeout_s * 1000;
	char b1[32], b2[32];

	if (!silent && o->timeout_action == SEND_TIMEOUT_POSTCOPY &&
	    o->postcopy && !s->postcopy_requested) {
		send_start_postcopy(s, "--stall-timeout: memory does not "
		    "converge");
		s->t_progress = now;
		s->stuck_passes = 0;
		return;
	}
	s->stalled = 1;
	if (silent)
		snprintf(s->err, sizeof(s->err), "the migration moved no byte "
		    "for %lld s (both sides need the same --parallel and "
		    "--postcopy; is the destination reading?)",
		    (long long)o->stall_timeout_s);
	else
		snprintf(s->err, sizeof(s->err), "memory does not converge: "
		    "for %lld s no pass started with less than %s left; the "
		    "guest dirties %s/s (--auto-converge, --postcopy "
		    "--timeout-postcopy or more --bandwidth help)",
		    (long long)o->stall_timeout_s,
		    progress_bytes(s->least, b1, sizeof(b1)),
		    progress_bytes(dirty_rate, b2, sizeof(b2)));
}

/*
 * The timed decisions of the memory phase, in one place: post-copy after
 * the first pass, on SIGUSR1, at --timeout or at --stall-timeout;
 * suspending the guest at --timeout; failing at --stall-timeout.  syncs is QEMU's count of passes over memory.
 */
static void
send_policy(struct send *s, int64_t syncs, uint64_t transferred,
    uint64_t remaining, uint64_t dirty_rate, uint64_t rate)
{
	int64_t now = clock_ms();
	char b1[32], b2[32], b3[32];
	int new_pass;

	/* After each pass: has what is left shrunk over the last three? */
	new_pass = syncs > s->syncs;
	if (new_pass) {
		s->syncs = syncs;
		s->left[syncs % 3] = remaining;
		if (syncs >= 4 && !s->told_converge &&
		    remaining >= s->left[(syncs + 1) % 3] / 10 * 9) {
			s->told_converge = 1;
			log_warn("memory does not converge: after %lld passes "
			    "%s is still left; the guest dirties %s/s, %s/s "
			    "are sent. --auto-converge, --postcopy or --timeout "
			    "help", (long long)syncs, progress_bytes(remaining,
			    b1, sizeof(b1)), progress_bytes(dirty_rate, b2,
			    sizeof(b2)), progress_bytes(rate, b3, sizeof(b3)));
		}
	}

	/*
	 * Progress: a pass that starts with at most 90% of the least memory
	 * an earlier one started with.  Several passes without it mean the
	 * guest dirties memory as fast as it goes (one long pass does not),
	 * and a stream that moves no byte (a destination waiting for
	 * channels this side does not open, a relay that stopped reading)
	 * never ends by itself either.
	 */
	if (!send_status_is(s, "active", NULL) || s->t_progress == 0) {
		s->t_progress = now;
		s->stuck_passes = 0;
	} else if (new_pass && (s->least == 0 ||
	    remaining <= s->least / 10 * 9)) {
		s->least = remaining;
		s->t_progress = now;
		s->stuck_passes = 0;
	} else if (new_pass) {
		s->stuck_passes++;
	}
	if (transferred > s->moved || s->t_moved == 0 ||
	    !send_status_is(s, "active", NULL)) {
		s->moved = transferred;
		s->t_moved = now;
	}
	if (s->o->stall_timeout_s && (now - s->t_moved >=
	    s->o->stall_timeout_s * 1000 || (s->stuck_passes >= 2 &&
	    now - s->t_progress >= s->o->stall_timeout_s * 1000)))
		send_stall(s, now, dirty_rate);
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
			if (send_exec(s, "stop", NULL, NULL) != QEMU_OK)
				log_warn("%s", s->err);
		}
	}
}

/* Refresh the status and the progress line; the policy step with act. */
static void
send_poll_migration(struct send *s, int act)
{
	struct qmp_msg *m;
	const struct json_doc *doc;
	int64_t transferred = 0, remaining = 0, total = 0, dirty = 0;
	int64_t page = 4096, syncs = 0;
	double mbps = 0;
	uint64_t dirty_bytes = 0;
	int ram, mb;

	if (send_exec(s, "query-migrate", NULL, &m) != QEMU_OK)
		return;
	doc = &m->doc;
	send_set_status(s, doc, m->value);
	ram = json_get(doc, m->value, "ram");
	if (ram >= 0) {
		json_path_int(doc, ram, "transferred", &transferred);
		json_path_int(doc, ram, "remaining", &remaining);
		json_path_int(doc, ram, "total", &total);
		json_path_int(doc, ram, "dirty-pages-rate", &dirty);
		json_path_int(doc, ram, "page-size", &page);
		json_path_int(doc, ram, "dirty-sync-count", &syncs);
		/* "mbps" is a float: read it from the text, within reason. */
		mb = json_get(doc, ram, "mbps");
		if (mb >= 0 && json_type(doc, mb) == JSON_NUMBER)
			mbps = strtod(doc->text + doc->nodes[mb].start, NULL);
		if (!(mbps > 0) || mbps > 1e9)
			mbps = 0;
		dirty_bytes = send_nonneg(dirty);
		dirty_bytes = page > 0 && dirty_bytes <= UINT64_MAX /
		    (uint64_t)page ? dirty_bytes * (uint64_t)page : UINT64_MAX;
		send_report(s, send_nonneg(transferred), send_nonneg(total),
		    send_nonneg(remaining), (uint64_t)(mbps * 1e6 / 8),
		    dirty_bytes, syncs > 0 ? syncs : 1);
	}
	if (act)
		send_policy(s, syncs, send_nonneg(transferred),
		    send_nonneg(remaining), dirty_bytes, (uint64_t)(mbps * 1e6 /
		    8));
}

static int
send_reached(struct send *s, enum send_goal goal)
{
	switch (goal) {
	case GOAL_MIRRORS_READY:
		return send_mirrors(s, 1);
	case GOAL_MIRRORS_FINISHED:
		return send_mirrors(s, 0);
	case GOAL_SWITCHOVER:
		return send_status_is(s, "pre-switchover", "completed") ||
		    send_status_failed(s) ||
		    send_status_is(s, "postcopy-paused", NULL);
	case GOAL_END:
		return send_status_is(s, "completed", "postcopy-paused") ||
		    send_status_failed(s);
	case GOAL_STOPPED:
		return send_status_is(s, "completed", NULL) ||
		    send_status_failed(s);
	}
	return 0;
}

/*
 * Wait for goal, handling events and refreshing progress.  Signals end the
 * wait only when 'interruptible'; deadline 0 means none.  A mirror that
 * fails ends a wait for the mirrors (SEND_BROKE); so does QEMU's death.
 */
static int
send_wait(struct send *s, enum send_goal goal, int interruptible,
    int64_t deadline)
{
	int mirrors = goal == GOAL_MIRRORS_READY || goal == GOAL_MIRRORS_FINISHED;
	struct qmp_msg *m;
	int64_t wake, now;
	int rc;

	for (;;) {
		if (send_reached(s, goal))
			return SEND_REACHED;
		if ((goal == GOAL_MIRRORS_READY && send_mirror_failed(s)) ||
		    (goal == GOAL_SWITCHOVER && s->stalled))
			return SEND_BROKE;
		if (s->qe.gone) {
			snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
			return SEND_BROKE;
		}
		if (interruptible && sig_stop)
			return SEND_INTERRUPTED;
		now = clock_ms();
		if (deadline && now >= deadline)
			return SEND_DEADLINE;
		if (now >= s->next_tick) {
			s->next_tick = now + SEND_TICK_MS;
			/* Managed: the destination may fail before the
			 * switch-over (the waits a signal may end too);
			 * after it, send_settle hears it, and a rollback
			 * does not listen. */
			if (s->o->peer && interruptible && !s->rescuing &&
			    s->o->peer->tick(s->o->peer->arg, s->err,
			    sizeof(s->err)) < 0)
				return SEND_BROKE;
			/* No command may outlive the wait's own deadline. */
			s->qe.limit = deadline;
			if (mirrors)
				send_poll_jobs(s);
			else
				send_poll_migration(s, goal == GOAL_SWITCHOVER);
			s->qe.limit = 0;
			continue;
		}
		wake = s->next_tick;
		if (deadline && deadline < wake)
			wake = deadline;
		rc = qemu_next_event(&s->qe, wake, &m);
		if (rc == 1)
			send_on_event(s, m);
	}
}

static int
send_interrupted(struct send *s)
{
	snprintf(s->err, sizeof(s->err), "interrupted by signal %d",
	    (int)sig_stop);
	return SEND_BROKE;
}

static const char *
send_cap_args(struct send *s, char *args, size_t len, const int *state)
{
	struct qmpargs_cap caps[CAP_N];
	int i;

	for (i = 0; i < CAP_N; i++) {
		caps[i].name = send_cap_names[i];
		caps[i].on = state[i];
	}
	return qmpargs_caps(args, len, caps, CAP_N);
}

static int
send_set_caps(struct send *s)
{
	const struct send_opts *o = s->o;
	int want[CAP_N] = {
		[CAP_EVENTS] = 1,
		[CAP_PAUSE] = 1,
		/* The destination confirms it loaded the state: a failed load
		 * fails the migration here, before the source quits. */
		[CAP_RETURN_PATH] = s->return_path,
		[CAP_POSTCOPY] = o->postcopy,
		[CAP_MULTIFD] = o->parallel,
		[CAP_AUTO_CONVERGE] = o->auto_converge,
		[CAP_XBZRLE] = o->compressed,
	};
	char args[1024];

	return send_exec(s, "migrate-set-capabilities", send_cap_args(s, args,
	    sizeof(args), want), NULL);
}

/* The parameters in p[], those >= 0 only, as one migrate-set-parameters. */
static int
send_put_params(struct send *s, const int64_t *p)
{
	char args[256];
	struct jsonw w;
	int i;

	jsonw_init(&w, args, sizeof(args));
	jsonw_obj_begin(&w);
	for (i = 0; i < PARAM_N; i++)
		if (p[i] >= 0)
			jsonw_kint(&w, send_param_names[i], p[i]);
	jsonw_obj_end(&w);
	return send_exec(s, "migrate-set-parameters",
	    jsonw_finish(&w) < 0 ? NULL : args, NULL);
}

static int
send_set_params(struct send *s)
{
	const struct send_opts *o = s->o;
	int64_t p[PARAM_N] = {
		/* QEMU's default of 128 MiB/s would cap a unix socket's speed. */
		[PARAM_BANDWIDTH] = o->bandwidth_mib ? o->bandwidth_mib << 20 :
		    INT64_MAX,
		[PARAM_DOWNTIME] = o->downtime_ms ? o->downtime_ms : -1,
		[PARAM_CHANNELS] = o->parallel ? o->parallel_connections : -1,
	};

	return send_put_params(s, p);
}

/* Remember the capabilities and parameters to put back on rollback. */
static int
send_save_settings(struct send *s)
{
	struct qmp_msg *m;
	char name[64];
	int c, i, on;

	if (send_exec(s, "query-migrate-capabilities", NULL, &m) != QEMU_OK)
		return -1;
	for (c = json_first(&m->doc, m->value); c >= 0;
	    c = json_next(&m->doc, c)) {
		if (json_path_string(&m->doc, c, "capability", name,
		    sizeof(name)) < 0 || json_path_bool(&m->doc, c, "state",
		    &on) < 0)
			continue;
		for (i = 0; i < CAP_N; i++)
			if (strcmp(name, send_cap_names[i]) == 0)
				s->cap_was[i] = on;
	}
	if (send_exec(s, "query-migrate-parameters", NULL, &m) != QEMU_OK)
		return -1;
	for (i = 0; i < PARAM_N; i++)
		if (json_path_int(&m->doc, m->value, send_param_names[i],
		    &s->param_was[i]) < 0)
			s->param_was[i] = -1;
	return 0;
}

static int
send_restore_settings(struct send *s)
{
	char args[1024];

	if (send_exec(s, "migrate-set-capabilities", send_cap_args(s, args,
	    sizeof(args), s->cap_was), NULL) != QEMU_OK)
		return -1;
	return send_put_params(s, s->param_was) == QEMU_OK ? 0 : -1;
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
	/* The guest is paused: what each mirror copied is final now, and
	 * the summary should not hang on the events that end them (a full
	 * event queue drops some, with many disks). */
	send_poll_jobs(s);
	for (i = 0; i < s->ndisks; i++) {
		if (!s->disk[i].job_started || s->disk[i].finished)
			continue;
		if (send_exec(s, "block-job-cancel", qmpargs_str(args,
		    sizeof(args), "device", s->disk[i].job), NULL) != QEMU_OK)
			return -1;
	}
	rc = send_wait(s, GOAL_MIRRORS_FINISHED, 0, clock_ms() + SEND_FINISH_MS);
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
		    s->disk[i].nbd_node), NULL) != QEMU_OK)
			return -1;
		s->disk[i].nbd_added = 0;
	}
	/* From here the destination may end up with the guest. */
	guard_mark(&s->guard, MARK_CONTINUED);
	s->continued = 1;
	if (send_exec(s, "migrate-continue", qmpargs_str(args, sizeof(args),
	    "state", "pre-switchover"), NULL) != QEMU_OK)
		return -1;
	return 0;
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
	int rc, said = NBD_PROBE_FOUND;

	if (until < s->t_waited)
		until = s->t_waited;

	for (;;) {
		rc = nbd_probe_run(&s->o->disks_uri, id, clock_ms() + 10000,
		    info, s->err, sizeof(s->err));
		/* mig-recv's server listens before its exports are added:
		 * a missing export is retried too. */
		if (rc == NBD_PROBE_FOUND || clock_ms() >= until || sig_stop ||
		    (rc == NBD_PROBE_ERROR && errno != ENOENT &&
		    errno != ECONNREFUSED && errno != ECONNRESET))
			return rc;
		/* Said once per state, so that a pipeline's user (and a test)
		 * sees what is awaited. */
		if (rc != said) {
			said = rc;
			log_info("waiting for the destination's %s",
			    rc == NBD_PROBE_MISSING ? "disk export" :
			    "NBD server");
		}
		poll(NULL, 0, 100);
	}
}

/* Managed: Prepare, once the disks are chosen; nothing changed yet. */
static int
send_peer_prepare(struct send *s, const struct disk_list *chosen)
{
	const struct send_peer *p = s->o->peer;

	if (p == NULL || s->prepared)
		return 0;
	if (p->prepare(p->arg, s->was_running, chosen ? chosen->d : NULL,
	    chosen ? chosen->n : 0, &s->oc.migrate_uri, &s->oc.disks_uri,
	    s->err, sizeof(s->err)) < 0) {
		s->peer_refused = 1;
		return -1;
	}
	s->prepared = 1;
	return 0;
}

static int
send_check_disks(struct send *s)
{
	const struct send_opts *o = s->o;
	struct disk_list all, chosen;
	struct nbd_export_info info;
	struct qmp_msg *m;
	char names[256];
	size_t i;
	int rc = NBD_PROBE_FOUND;

	if (send_exec(s, "query-block", NULL, &m) != QEMU_OK)
		return -1;
	if (disks_from_query_block(&m->doc, m->value, &all, s->err,
	    sizeof(s->err)) < 0 ||
	    disks_select(&all, o->migrate_disks, &chosen, s->err,
	    sizeof(s->err)) < 0)
		return -1;
	/* Copying nothing would start the guest on whatever the
	 * destination's disks hold. */
	if (chosen.n == 0) {
		snprintf(s->err, sizeof(s->err), "--copy-storage-%s was given "
		    "but the source has no writable disk to copy (its disks: "
		    "%s)", o->storage == SEND_STORAGE_INC ? "inc" : "all",
		    disks_names(&all, names, sizeof(names)));
		return -1;
	}
	for (i = 0; i < chosen.n; i++) {
		struct send_disk *d = &s->disk[i];

		d->d = chosen.d[i];
		snprintf(d->nbd_node, sizeof(d->nbd_node), "mig-nbd-%zu", i);
		snprintf(d->job, sizeof(d->job), "mig-mirror-%zu", i);
	}
	/* Managed: the destination makes these disks ready (Prepare). */
	if (!o->dry_run && send_peer_prepare(s, &chosen) < 0)
		return -1;
	for (i = 0; i < chosen.n; i++) {
		struct send_disk *d = &s->disk[i];

		/* A dry run asks what the destination needs: it may not be
		 * there yet. */
		if (o->dry_run)
			continue;
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
			    "source %lld: grow its image (qemu-img resize "
			    "IMAGE %lld) before mig-recv starts", d->d.id,
			    (unsigned long long)info.size, (long long)d->d.size,
			    (long long)d->d.size);
			return -1;
		}
	}
	s->ndisks = chosen.n;
	return 0;
}

/*
 * --parallel: QEMU 7.2 opens every channel itself, so it must see the
 * path in its own filesystem as we do (not from a chroot or container
 * with other mounts).  QEMU is the peer of our QMP socket.
 */
static int
send_qemu_sees(struct send *s, const struct endpoint *ep)
{
	char why[512];

	if (sock_path_seen_by(sock_peer_pid(s->qe.q.fd), ep->path, why,
	    sizeof(why)) == 0)
		return 0;
	snprintf(s->err, sizeof(s->err), "--parallel: QEMU connects to %s "
	    "itself and it must see the same socket: %s", ep->path, why);
	return -1;
}

/* Checks that change nothing: any failure here is bad input (exit 2). */
static int
send_preflight(struct send *s)
{
	const struct send_opts *o = s->o;
	char state[32];
	struct stat st;

	if (qemu_run_state(&s->qe, state, sizeof(state)) != QEMU_OK) {
		snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
		return -1;
	}
	if (strcmp(state, "inmigrate") == 0) {
		snprintf(s->err, sizeof(s->err), "this QEMU waits for an "
		    "incoming migration: it is a destination, not a source");
		return -1;
	}
	if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0) {
		snprintf(s->err, sizeof(s->err), "the source guest is '%s': "
		    "only a running or paused guest can be migrated", state);
		return -1;
	}
	s->was_running = strcmp(state, "running") == 0;
	if (qemu_migration_status(&s->qe, state, sizeof(state)) != QEMU_OK) {
		snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
		return -1;
	}
	if (strcmp(state, "none") != 0 && strcmp(state, "completed") != 0 &&
	    strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0) {
		snprintf(s->err, sizeof(s->err), "a migration is already in "
		    "progress (status '%s')", state);
		return -1;
	}
	/* Managed: the destination makes its sockets in Prepare. */
	if (o->peer)
		goto settings;
	/* --wait: a destination that is still starting. */
	while (o->migrate_uri.kind == ENDPOINT_UNIX && !o->dry_run &&
	    (stat(o->migrate_uri.path, &st) < 0 || !S_ISSOCK(st.st_mode)) &&
	    clock_ms() < s->t_waited && !sig_stop)
		poll(NULL, 0, 100);
	if (o->migrate_uri.kind == ENDPOINT_UNIX && !o->dry_run &&
	    (stat(o->migrate_uri.path, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		snprintf(s->err, sizeof(s->err), "no migration socket at %s "
		    "(is mig-recv ready?)", o->migrate_uri.path);
		return -1;
	}
	if (o->parallel && o->migrate_uri.kind == ENDPOINT_UNIX &&
	    !o->dry_run && send_qemu_sees(s, &o->migrate_uri) < 0)
		return -1;
settings:
	s->return_path = o->migrate_uri.kind != ENDPOINT_STDIO ||
	    sock_is_socket(1);
	if (send_save_settings(s) < 0)
		return -1;
	if (o->storage != SEND_STORAGE_NONE && send_check_disks(s) < 0)
		return -1;
	if (o->storage == SEND_STORAGE_NONE && !o->dry_run &&
	    send_peer_prepare(s, NULL) < 0)
		return -1;
	/* Managed: the socket is known once prepared (the tunnel's too). */
	if (o->peer && o->parallel && o->migrate_uri.kind == ENDPOINT_UNIX &&
	    send_qemu_sees(s, &o->migrate_uri) < 0)
		return -1;
	return 0;
}

/*
 * A passed descriptor the command that should have taken it did not: QEMU
 * would hold the connection open (keeping a destination's NBD client
 * slot busy) until QEMU exits.
 */
static void
send_drop_fd(struct send *s, const char *name)
{
	char args[128], err[sizeof(s->err)];

	memcpy(err, s->err, sizeof(err));
	send_exec(s, "closefd", qmpargs_str(args, sizeof(args), "fdname",
	    name), NULL);
	memcpy(s->err, err, sizeof(err));
}

/* Connect to ep and hand QEMU the connection under name (getfd). */
static int
send_pass_conn(struct send *s, const struct endpoint *ep, const char *name)
{
	int fd, rc;

	fd = sock_connect(ep, clock_ms() + SEND_CONNECT_MS, s->err,
	    sizeof(s->err));
	if (fd < 0)
		return -1;
	rc = qemu_pass_fd(&s->qe, name, fd);
	close(fd);
	if (rc != QEMU_OK) {
		snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
		return -1;
	}
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

		/* We connect, in our filesystem, and hand QEMU the
		 * connection: its own may not have the path. */
		if (send_pass_conn(s, &o->disks_uri, d->nbd_node) < 0)
			return -1;
		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "driver", "nbd");
		jsonw_kstr(&w, "node-name", d->nbd_node);
		qmpargs_fd(&w, "server", d->nbd_node, 0);
		jsonw_kstr(&w, "export", d->d.id);
		jsonw_obj_end(&w);
		if (send_exec(s, "blockdev-add", jsonw_finish(&w) < 0 ? NULL :
		    args, NULL) != QEMU_OK) {
			send_drop_fd(s, d->nbd_node);
			return -1;
		}
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
		    NULL : args, NULL) != QEMU_OK)
			return -1;
		d->job_started = 1;
		log_info("copying disk '%s' (%lld bytes)", d->d.id,
		    (long long)d->d.size);
	}
	return 0;
}

/* Our standard output is the stream: QEMU has it now, we must not. */
static void
send_drop_stdout(void)
{
	int devnull = open("/dev/null", O_WRONLY);

	if (devnull >= 0) {
		dup2(devnull, 1);
		close(devnull);
	}
}

static int
send_start_migration(struct send *s)
{
	char uri[300], args[400];

	if (s->o->migrate_uri.kind == ENDPOINT_STDIO) {
		if (qemu_pass_fd(&s->qe, "mig-stream", 1) != QEMU_OK) {
			snprintf(s->err, sizeof(s->err), "%s", s->qe.err);
			return -1;
		}
		send_drop_stdout();
		snprintf(uri, sizeof(uri), "fd:mig-stream");
	} else if (!s->o->parallel) {
		if (send_pass_conn(s, &s->o->migrate_uri, "mig-stream") < 0)
			return -1;
		snprintf(uri, sizeof(uri), "fd:mig-stream");
	} else if (endpoint_qemu_uri(&s->o->migrate_uri, uri, sizeof(uri)) < 0) {
		/* Parallel channels: QEMU 7.2 connects each itself. */
		snprintf(s->err, sizeof(s->err), "migration URI too long");
		return -1;
	}
	s->migrate_issued = 1;
	if (send_exec(s, "migrate", qmpargs_str(args, sizeof(args), "uri",
	    uri), NULL) != QEMU_OK) {
		if (strncmp(uri, "fd:", 3) == 0)
			send_drop_fd(s, uri + 3);
		return -1;
	}
	s->t_migrate = clock_ms();
	return 0;
}

/*
 * The destination's word on the outcome (doc/confirm-protocol.md), within
 * ms; with abort_why, said after telling the destination that we gave up
 * before the switch-over (so it quits its QEMU rather than wait for a
 * stream that will not come).  Returns 1 with *w (its reason in s->err
 * for a failure), 0 if none came or none can come (a pipe carries nothing
 * back: closing our end of it is all the destination hears).
 */
static int
send_hear(struct send *s, int64_t ms, enum confirm_word *w,
    const char *abort_why)
{
	char reason[CONFIRM_LINE_MAX], err[300];
	int rc;

	if (s->o->peer) {
		/* Managed: the control connection carries the words. */
		if (abort_why && s->prepared && !s->rescuing && !s->heard)
			s->o->peer->abort(s->o->peer->arg, abort_why);
		s->heard = 1;
		return 0;
	}
	if (s->o->migrate_uri.kind == ENDPOINT_STDIO) {
		send_drop_stdout();
		return 0;
	}
	if (s->heard)
		return 0;
	rc = abort_why ? confirm_abort(&s->o->migrate_uri, abort_why,
	    clock_ms() + ms, w, reason, sizeof(reason), err, sizeof(err)) :
	    confirm_fetch(&s->o->migrate_uri, clock_ms() + ms, w, reason,
	    sizeof(reason), err, sizeof(err));
	if (!rc) {
		log_info("no word from the destination: %s", err);
		return 0;
	}
	s->heard = 1;
	if (*w == CONFIRM_FAILED) {
		log_err("the destination says it failed%s%s", reason[0] ?
		    ": " : "", reason);
		snprintf(s->err, sizeof(s->err), "the destination failed%s%s",
		    reason[0] ? ": " : "", reason);
	} else {
		log_info("the destination says: %s", confirm_word_name(*w));
	}
	return 1;
}

/*
 * Undo everything, in reverse, and resume the guest if it was running.
 * Returns the exit code: SEND_FAILED (rolled back), SEND_STUCK (the
 * source is left paused) or SEND_LOST (its QEMU is gone); s->outcome says
 * where the guest is.
 */
static int
send_rollback(struct send *s)
{
	char args[128], state[32] = "", why[700] = "";
	enum confirm_word w;
	size_t i;
	int rc;

	progress_end_line();
	if (s->qe.gone) {
		send_hear(s, SEND_HEAR_MS, &w, "the source QEMU is gone");
		log_err("the source QEMU is gone: the guest is lost with it");
		s->outcome = OUTCOME_LOST;
		return SEND_LOST;
	}
	if (s->migrate_issued && !send_status_failed(s)) {
		send_exec(s, "migrate_cancel", NULL, NULL);
		rc = send_wait(s, GOAL_STOPPED, 0, clock_ms() + SEND_UNDO_MS);
		if (rc != SEND_REACHED)
			snprintf(why, sizeof(why), "the migration did not stop");
	}
	for (i = 0; i < s->ndisks; i++) {
		struct send_disk *d = &s->disk[i];
		char cargs[128];
		struct jsonw jw;

		if (!d->job_started || d->finished)
			continue;
		jsonw_init(&jw, cargs, sizeof(cargs));
		jsonw_obj_begin(&jw);
		jsonw_kstr(&jw, "device", d->job);
		jsonw_kbool(&jw, "force", 1);
		jsonw_obj_end(&jw);
		jsonw_finish(&jw);
		if (send_exec(s, "block-job-cancel", cargs, NULL) ==
		    QEMU_REFUSED)
			d->finished = 1;	/* already gone */
	}
	if (send_wait(s, GOAL_MIRRORS_FINISHED, 0, clock_ms() + SEND_UNDO_MS) !=
	    SEND_REACHED && !why[0])
		snprintf(why, sizeof(why), "the disk mirrors did not stop");
	for (i = 0; i < s->ndisks; i++) {
		if (!s->disk[i].nbd_added)
			continue;
		rc = send_exec(s, "blockdev-del", qmpargs_str(args,
		    sizeof(args), "node-name", s->disk[i].nbd_node), NULL);
		if (rc == QEMU_OK || (rc == QEMU_REFUSED && s->rescuing))
			s->disk[i].nbd_added = 0;
		else
			log_warn("%s", s->err);
	}
	if (s->changed && send_restore_settings(s) < 0)
		log_warn("migration settings not restored: %s", s->err);
	/* The destination gives up too, and says why it failed if it did. */
	send_hear(s, SEND_HEAR_MS, &w, "mig-send rolled back");
	/* QEMU ends a failed migration in a cleanup of its own, after the
	 * status said so, and QEMU 7.2 can die in it (a parallel channel
	 * that failed early trips an assertion in yank_unregister_instance):
	 * the guest is said to run here only once that is over. */
	if (s->migrate_issued && !s->qe.gone &&
	    qemu_migration_cleaned(&s->qe, clock_ms() + SEND_CLEANUP_MS) ==
	    QEMU_TIMEOUT)
		log_warn("the source QEMU has not finished cleaning up the "
		    "failed migration (QEMU 7.2 can hang there when parallel "
		    "channels failed): it may refuse another one");
	if (qemu_run_state(&s->qe, state, sizeof(state)) != QEMU_OK)
		snprintf(why, sizeof(why), "%s", s->qe.err);
	else if (s->committed && !s->peer_said_gone)
		snprintf(why, sizeof(why), "the commit went out");
	else if (s->was_running && strcmp(state, "running") != 0 &&
	    send_exec(s, "cont", NULL, NULL) != QEMU_OK)
		snprintf(why, sizeof(why), "%s", s->err);
	if (s->qe.gone) {
		log_err("the source QEMU died during the rollback: the guest is "
		    "lost with it");
		s->outcome = OUTCOME_LOST;
		return SEND_LOST;
	}
	if (why[0] && s->was_running) {
		log_err("rollback incomplete (%s): the source guest is left "
		    "paused", why);
		s->outcome = OUTCOME_SOURCE_PAUSED;
		return SEND_STUCK;
	}
	log_info("rolled back: the guest %s on the source", s->was_running ?
	    "runs" : "is paused, as it was,");
	s->outcome = s->was_running ? OUTCOME_SOURCE_RUNNING :
	    OUTCOME_SOURCE_PAUSED;
	return SEND_FAILED;
}

/*
 * The figures of a migration QEMU ended (before the source may quit).
 * QEMU 7.2 says "completed" a moment before it computes the downtime: ask
 * again for up to a second while it reads 0.
 */
static void
send_figures(struct send *s)
{
	struct qmp_msg *m;
	int64_t until = clock_ms() + 1000;

	while (s->migrate_issued && !s->qe.gone) {
		if (send_exec(s, "query-migrate", NULL, &m) != QEMU_OK)
			break;
		json_path_int(&m->doc, m->value, "downtime", &s->downtime);
		json_path_int(&m->doc, m->value, "ram.transferred", &s->ram);
		json_path_int(&m->doc, m->value, "ram.total", &s->ram_size);
		json_path_int(&m->doc, m->value, "ram.dirty-sync-count",
		    &s->passes);
		if (s->downtime > 0 || clock_ms() >= until ||
		    !send_status_is(s, "completed", NULL))
			break;
		poll(NULL, 0, 20);
	}
}

static void
send_summary(struct send *s, const char *result)
{
	int64_t downtime = s->downtime, ram = s->ram;
	char buf[2048], b1[32], b2[32], b3[32];
	struct jsonw w;
	uint64_t disk_total = 0, disk_size = 0;
	size_t i;

	jsonw_init(&w, buf, sizeof(buf));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "summary");
	jsonw_kstr(&w, "result", result);
	jsonw_kint(&w, "total_ms", send_elapsed(s));
	jsonw_kint(&w, "downtime_ms", downtime);
	jsonw_kint(&w, "memory_bytes", ram);
	jsonw_kint(&w, "memory_size", s->ram_size);
	jsonw_kint(&w, "memory_passes", s->passes);
	jsonw_key(&w, "disks");
	jsonw_arr_begin(&w);
	for (i = 0; i < s->ndisks; i++) {
		/* The mirror's progress: what it went over, zero areas (sent
		 * as NBD write-zeroes, no data) included; QEMU 7.2 counts no
		 * bytes on the wire for it (mig-send(1), --json). */
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "id", s->disk[i].d.id);
		jsonw_kint(&w, "bytes", s->disk[i].offset);
		jsonw_kint(&w, "size", s->disk[i].d.size);
		jsonw_obj_end(&w);
		disk_total += send_nonneg(s->disk[i].offset);
		disk_size += send_nonneg(s->disk[i].d.size);
	}
	jsonw_arr_end(&w);
	jsonw_kstr(&w, "outcome", outcome_name(s->outcome));
	jsonw_obj_end(&w);
	if (jsonw_finish(&w) >= 0)
		progress_json_line(buf);
	progress_end_line();
	if (strcmp(result, "completed") == 0)
		log_info("migrated in %lld ms, downtime %lld ms; memory: %s "
		    "sent for %s of RAM in %lld passes; disks: the mirrors "
		    "went over %s of %s (zero areas without data)",
		    (long long)send_elapsed(s), (long long)downtime,
		    progress_bytes(send_nonneg(ram), buf, 32),
		    progress_bytes(send_nonneg(s->ram_size), b2, sizeof(b2)),
		    (long long)s->passes,
		    progress_bytes(disk_total, b1, sizeof(b1)),
		    progress_bytes(disk_size, b3, sizeof(b3)));
}

/* The destination has the guest: quit the source, libvirt's Confirm. */
static int
send_commit(struct send *s, enum confirm_word w)
{
	guard_mark(&s->guard, MARK_COMMITTED);
	s->outcome = w == CONFIRM_PAUSED ? OUTCOME_DEST_PAUSED :
	    OUTCOME_DEST_RUNNING;
	if (s->o->keep_source) {
		log_info("the source QEMU is left paused (--keep-source)");
		return SEND_OK;
	}
	if (!s->qe.gone && qemu_quit(&s->qe, 10000) < 0)
		log_warn("the source QEMU did not quit: %s", s->qe.err);
	return SEND_OK;
}

/*
 * After migrate-continue the destination may have the guest: the source
 * resumes only on the destination's word that it does not, quits on its
 * word that it does, and without a word stays paused.  completed: QEMU
 * reported the stream complete (so the destination loaded it).
 */
static void
send_committing(void *arg)
{
	struct send *s = arg;

	guard_mark(&s->guard, MARK_DOUBT);
	s->committed = 1;
}

/*
 * Managed Confirm: the destination's "loaded" or "failed", then the
 * commit and its "started" (lib/control does the talking).
 */
static int
send_peer_settle(struct send *s)
{
	const struct send_peer *p = s->o->peer;
	char why[sizeof(s->err)];

	switch (p->settle(p->arg, send_committing, s, why, sizeof(why))) {
	case PEER_STARTED:
		return send_commit(s, CONFIRM_RUNNING);
	case PEER_STARTED_PAUSED:
		return send_commit(s, CONFIRM_PAUSED);
	case PEER_NOT_THERE:
		s->peer_said_gone = 1;
		log_err("%s: resuming the source", why);
		snprintf(s->err, sizeof(s->err), "%s", why);
		s->heard = 1;
		return send_rollback(s);
	case PEER_DOUBT:
		break;
	}
	progress_end_line();
	log_err("in doubt: %s after the commit went out; the guest is paused "
	    "on the source and may be starting on the destination. Never "
	    "resume both: quit the source QEMU if the destination runs the "
	    "guest, else resume the source (QMP 'cont')", why);
	s->outcome = OUTCOME_DOUBT;
	return SEND_DOUBT;
}

static int
send_settle(struct send *s, int completed)
{
	enum confirm_word w;

	if (s->o->peer)
		return send_peer_settle(s);
	progress_end_line();
	if (!send_hear(s, SEND_CONFIRM_MS, &w, NULL)) {
		if (completed && s->o->migrate_uri.kind == ENDPOINT_STDIO) {
			/* QEMU heard the destination load the state, if the
			 * stream is two-way; a pipe tells nothing. */
			if (s->return_path)
				return send_commit(s, CONFIRM_RUNNING);
			log_warn("a pipe carries no word back from the "
			    "destination: the source QEMU is left paused; quit "
			    "it once the guest runs on the destination");
			s->outcome = OUTCOME_DEST_RUNNING;
			return SEND_OK;
		}
		if (s->qe.gone) {
			log_err("the source QEMU died after the switch-over and "
			    "the destination did not say it has the guest: it "
			    "may be lost");
			s->outcome = OUTCOME_LOST;
			return SEND_LOST;
		}
		log_err("%s; the destination did not say whether it has the "
		    "guest: the source guest is left paused. Resume it (QMP "
		    "'cont') only if the destination does not run it",
		    completed ? "the stream completed" : s->err);
		s->outcome = OUTCOME_SOURCE_PAUSED;
		return SEND_STUCK;
	}
	if (w != CONFIRM_FAILED)
		return send_commit(s, w);
	log_err("%s: resuming the source", s->err);
	return send_rollback(s);
}

/* A failure: roll back before the switch-over, settle after it. */
static int
send_fail(struct send *s)
{
	progress_end_line();
	send_figures(s);
	/* QEMU's own reason comes with a poll, not with the event. */
	if (s->migrate_issued && !s->qe.gone && !s->error_desc[0] &&
	    send_status_failed(s))
		send_poll_migration(s, 0);
	log_err("%s%s%s", s->err, s->error_desc[0] ? ": " : "",
	    s->error_desc);
	if (s->postcopy_active) {
		log_err("post-copy failed after the switch-over: the guest's "
		    "memory is split between the hosts and cannot be recovered "
		    "by mig-send; both QEMUs are left as they are");
		s->outcome = OUTCOME_SPLIT;
		return SEND_POSTCOPY_FAILED;
	}
	if (s->continued)
		return send_settle(s, 0);
	return send_rollback(s);
}

/* The migration proper, in the order mig-send(1) tells; the exit code. */
static int
send_migrate(struct send *s)
{
	int rc;

	guard_mark(&s->guard, MARK_CHANGING);
	s->changed = 1;
	if (send_set_caps(s) != QEMU_OK || send_set_params(s) != QEMU_OK)
		return send_fail(s);
	if (s->ndisks > 0) {
		send_phase(s, "disk-copy");
		if (send_start_mirrors(s) < 0)
			return send_fail(s);
		rc = send_wait(s, GOAL_MIRRORS_READY, 1, 0);
		if (rc == SEND_INTERRUPTED)
			send_interrupted(s);
		if (rc != SEND_REACHED)
			return send_fail(s);
	}
	/* Announced once QEMU has the stream and sends. */
	if (send_start_migration(s) < 0)
		return send_fail(s);
	send_phase(s, "memory");
	rc = send_wait(s, GOAL_SWITCHOVER, 1, 0);
	if (rc == SEND_INTERRUPTED)
		send_interrupted(s);
	if (rc != SEND_REACHED)
		return send_fail(s);
	if (!send_status_is(s, "pre-switchover", NULL)) {
		snprintf(s->err, sizeof(s->err), "QEMU reports the migration "
		    "%s", s->status);
		return send_fail(s);
	}
	if (send_switchover(s) < 0)
		return send_fail(s);
	/* Past the switch-over a cancel could leave the guest on both
	 * hosts: signals no longer stop the wait. */
	if (send_wait(s, GOAL_END, 0, 0) != SEND_REACHED ||
	    !send_status_is(s, "completed", NULL)) {
		if (!s->qe.gone && !s->err[0])
			snprintf(s->err, sizeof(s->err), "QEMU reports the "
			    "migration %s", s->status);
		return send_fail(s);
	}
	send_phase(s, "completed");
	send_figures(s);
	return send_settle(s, 1);
}

/*
 * --dry-run: after the checks, what the destination needs, as text on
 * standard output (or one JSON object with --json).
 */
static void
send_dry_run(struct send *s)
{
	const struct send_opts *o = s->o;
	char buf[4096], size[32], opts[256];
	struct jsonw w;
	size_t i;

	snprintf(opts, sizeof(opts), "--incoming %s%s%s%s%s%s",
	    o->migrate_uri.kind == ENDPOINT_STDIO ? "-" : "URI",
	    s->ndisks ? " --nbd URI" : "", o->postcopy ? " --postcopy" : "",
	    o->parallel ? " --parallel" : "",
	    o->parallel && o->parallel_connections != 2 ?
	    " --parallel-connections " : "",
	    o->parallel && o->parallel_connections != 2 ?
	    (snprintf(size, sizeof(size), "%d", o->parallel_connections),
	    size) : "");
	if (o->json) {
		jsonw_init(&w, buf, sizeof(buf));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "event", "dry-run");
		jsonw_kstr(&w, "guest", s->was_running ? "running" : "paused");
		jsonw_key(&w, "disks");
		jsonw_arr_begin(&w);
		for (i = 0; i < s->ndisks; i++) {
			jsonw_obj_begin(&w);
			jsonw_kstr(&w, "id", s->disk[i].d.id);
			jsonw_kstr(&w, "format", s->disk[i].d.format);
			jsonw_kint(&w, "size", s->disk[i].d.size);
			jsonw_obj_end(&w);
		}
		jsonw_arr_end(&w);
		jsonw_kstr(&w, "mig_recv", opts);
		jsonw_obj_end(&w);
		if (jsonw_finish(&w) >= 0)
			progress_json_line(buf);
		return;
	}
	printf("the source guest is %s; nothing was changed.\n",
	    s->was_running ? "running" : "paused");
	if (s->ndisks)
		printf("the destination QEMU needs these disks, empty, each "
		    "under the same ID\n(the -drive id, the device id, or "
		    "the node name of an anonymous device):\n");
	for (i = 0; i < s->ndisks; i++) {
		const struct disk *d = &s->disk[i].d;
		char id[4 * sizeof(d->id)], fmt[4 * sizeof(d->format)];

		/* QEMU's names, printed inert. */
		log_printable(d->id, id, sizeof(id));
		log_printable(d->format, fmt, sizeof(fmt));
		printf("  disk %s: %s, %lld bytes (%s)\n"
		    "    qemu-img create -f %s IMAGE %lld\n", id, fmt,
		    (long long)d->size, progress_bytes((uint64_t)d->size, size,
		    sizeof(size)), fmt, (long long)d->size);
	}
	printf("and mig-recv needs: %s\n", opts);
	fflush(stdout);
}

/*
 * In the guard, after mig-send died: reconnect to the source QEMU and
 * finish what mig-send would have done on a failure at this mark.
 */
static void
send_rescue(void *arg, int mark)
{
	struct send *s = arg;
	size_t i;

	if (mark == 0)
		return;
	log_err("mig-send stopped in the middle of a migration: its guard "
	    "takes over");
	s->rescuing = 1;
	s->err[0] = '\0';
	if (qemu_open(&s->qe, &s->o->qmp, "source", clock_ms() +
	    SEND_QMP_RETRY_MS, 1) < 0) {
		log_err("the guard cannot reach the source QEMU: %s", s->qe.err);
		return;
	}
	/* What mig-send had done since the fork is not in this copy: undo
	 * all of it; what was not there is refused and skipped. */
	s->changed = 1;
	for (i = 0; i < s->ndisks; i++)
		s->disk[i].job_started = s->disk[i].nbd_added = 1;
	qemu_migration_status(&s->qe, s->status, sizeof(s->status));
	s->migrate_issued = !send_status_is(s, "none", NULL);
	/* Still waiting at the switch-over: migrate-continue never went
	 * out, the destination cannot have the guest. */
	if (mark == MARK_CONTINUED && send_status_is(s, "pre-switchover",
	    NULL))
		mark = MARK_CHANGING;
	if (mark == MARK_DOUBT) {
		/* The commit may have gone out: never resume. */
		log_err("guard: the commit may have reached the destination: "
		    "the source guest is left paused (in doubt)");
		s->outcome = OUTCOME_DOUBT;
	} else if (mark == MARK_COMMITTED) {
		send_commit(s, CONFIRM_RUNNING);
	} else if (mark == MARK_CONTINUED && s->o->peer) {
		/* Managed: no commit went out, and a destination that loses
		 * its source before the commit quits its QEMU: the guest is
		 * the source's. */
		s->continued = 1;
		for (i = 0; i < s->ndisks; i++)
			s->disk[i].finished = 1;
		send_wait(s, GOAL_END, 0, clock_ms() + SEND_FINISH_MS);
		send_rollback(s);
	} else if (mark == MARK_CONTINUED) {
		s->continued = 1;
		for (i = 0; i < s->ndisks; i++)
			s->disk[i].finished = 1;
		send_wait(s, GOAL_END, 0, clock_ms() + SEND_FINISH_MS);
		if (send_status_is(s, "postcopy-active", "postcopy-paused"))
			s->postcopy_active = 1;
		if (send_status_is(s, "completed", NULL))
			send_settle(s, 1);
		else
			send_fail(s);
	} else {
		send_rollback(s);
	}
	log_err("guard: outcome: %s", outcome_name(s->outcome));
	qemu_close(&s->qe);
}

int
send_run(const struct send_opts *o)
{
	static struct send sbuf;
	struct send *s = &sbuf;
	int rc;

	memset(s, 0, sizeof(*s));
	s->oc = *o;
	s->o = o = &s->oc;
	s->t0 = clock_ms();
	s->outcome = OUTCOME_UNCHANGED;
	s->guard.fd = -1;
	sig_install();
	progress_init(o->verbose, o->json);
	s->t_waited = s->t0 + o->wait_s * 1000;
	if (qemu_open(&s->qe, &o->qmp, "source", s->t_waited > s->t0 + 10000 ?
	    s->t_waited : s->t0 + 10000, o->wait_s > 0) < 0) {
		log_err("%s", s->qe.err);
		send_summary(s, "bad-input");
		return SEND_USAGE;
	}
	if (send_preflight(s) < 0) {
		log_err("%s", s->err);
		/* Managed: a prepared destination undoes its Prepare. */
		if (s->prepared)
			o->peer->abort(o->peer->arg, s->err);
		send_summary(s, s->peer_refused ? "refused" : "bad-input");
		qemu_close(&s->qe);
		return s->peer_refused ? SEND_FAILED : SEND_USAGE;
	}
	if (o->dry_run) {
		send_dry_run(s);
		qemu_close(&s->qe);
		return SEND_OK;
	}
	if (sig_stop) {
		log_err("interrupted before anything changed");
		send_summary(s, "interrupted");
		qemu_close(&s->qe);
		return SEND_FAILED;
	}
	if (guard_start(&s->guard, send_rescue, s) < 0)
		log_warn("no guard process: if mig-send is killed, nobody "
		    "rolls back");
	rc = send_migrate(s);
	send_summary(s, rc == SEND_OK ? "completed" : "failed");
	if (rc == SEND_OK)
		log_info("outcome: %s", outcome_name(s->outcome));
	else
		log_err("outcome: %s", outcome_name(s->outcome));
	guard_done(&s->guard);
	qemu_close(&s->qe);
	/* The guide's table, this side's half, once the guest has moved. */
	if (rc == SEND_OK && apply_migrated(&o->cfg, APPLY_SOURCE) < 0)
		rc = SEND_CONFIG;
	return rc;
}
