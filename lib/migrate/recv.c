#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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
#include "migrate/recv.h"

#define RECV_TICK_MS 250	/* status refresh */
#define RECV_WRITES_MS 1000	/* how often the disk writes are looked at */
#define RECV_CONFIRM_MS 30000	/* how long the source may take to ask */
#define RECV_TELL_FAIL_MS 10000	/* the same, after a failure here: the
				   source notices at once that the stream
				   or the disk copy broke */
#define RECV_QMP_RETRY_MS 10000	/* the guard reaching the destination QEMU */
#define RECV_BITMAP "mig-copy"	/* marks what the source wrote to a disk */

/* What the guard is told before each step. */
enum {
	MARK_SETUP = 'S',	/* exports and stream set up: quit on death */
	MARK_RELEASED = 'R',	/* the guest runs here */
};

struct recv {
	const struct recv_opts *o;
	struct qemu qe;
	struct guard guard;
	struct disk_list disks;		/* the exported ones */
	int written[DISKS_MAX];		/* the source wrote to it */
	char status[32];
	int nbd_started;
	int bitmaps;		/* RECV_BITMAP added to every exported disk */
	int checked;		/* the exports were checked for a source */
	int contact;		/* the source wrote to a disk */
	int postcopy_seen;
	int released;		/* NBD stopped and the guest let run */
	int ctl;		/* listening on the incoming path, once the
				   stream runs, for a source giving up */
	int mig_lfd;		/* our listener on --incoming, until the
				   stream's connection came (then ctl) */
	ino_t mig_ino, nbd_ino;	/* our sockets' inodes: we unlink only
				   ours */
	int rescuing;
	int doubt;		/* managed: lost after "loaded" */
	enum outcome outcome;
	int64_t t0, last_write, next_writes;
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
	int rc = qemu_exec(&r->qe, cmd, args, out);

	if (rc != QEMU_OK)
		snprintf(r->err, sizeof(r->err), "%s", r->qe.err);
	return rc;
}

static int
recv_status_is(const struct recv *r, const char *a)
{
	return strcmp(r->status, a) == 0;
}

/* Checks that change nothing: any failure here is bad input (exit 2). */
static int
recv_preflight(struct recv *r)
{
	const struct recv_opts *o = r->o;
	struct disk_list all;
	struct qmp_msg *m;
	char status[32];

	if (qemu_run_state(&r->qe, status, sizeof(status)) != QEMU_OK) {
		snprintf(r->err, sizeof(r->err), "%s", r->qe.err);
		return -1;
	}
	if (strcmp(status, "inmigrate") != 0) {
		snprintf(r->err, sizeof(r->err), "the destination QEMU is "
		    "'%s': start it with -incoming defer", status);
		return -1;
	}
	/* -incoming URI (not defer) already set up a listener of its own. */
	if (recv_exec(r, "query-migrate", NULL, &m) != QEMU_OK)
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
	if (recv_exec(r, "query-block", NULL, &m) != QEMU_OK)
		return -1;
	if (disks_from_query_block(&m->doc, m->value, &all, r->err,
	    sizeof(r->err)) < 0 ||
	    disks_select(&all, o->migrate_disks, &r->disks, r->err,
	    sizeof(r->err)) < 0)
		return -1;
	if (r->disks.n == 0) {
		char names[256];

		snprintf(r->err, sizeof(r->err), "--nbd was given but this QEMU "
		    "has no writable disk to export (its disks: %s)",
		    disks_names(&all, names, sizeof(names)));
		return -1;
	}
	return 0;
}

static int
recv_export(struct recv *r, const struct disk *d)
{
	char args[512];
	struct jsonw w;

	/* Whatever the source writes to the disk sets bits here, so the
	 * disk can be proved copied before the guest may use it. */
	if (recv_exec(r, "block-dirty-bitmap-add", qmpargs_str2(args,
	    sizeof(args), "node", d->node, "name", RECV_BITMAP), NULL) !=
	    QEMU_OK)
		return -1;
	jsonw_init(&w, args, sizeof(args));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "type", "nbd");
	jsonw_kstr(&w, "id", d->id);
	jsonw_kstr(&w, "node-name", d->node);
	jsonw_kstr(&w, "name", d->id);
	jsonw_kbool(&w, "writable", 1);
	jsonw_obj_end(&w);
	if (recv_exec(r, "block-export-add", jsonw_finish(&w) < 0 ? NULL :
	    args, NULL) != QEMU_OK)
		return -1;
	log_info("exporting disk '%s'", d->id);
	return 0;
}

/* The inode of a unix endpoint's socket (0 if none, or TCP). */
static ino_t
recv_ino(const struct endpoint *ep)
{
	struct stat st;

	if (ep->kind != ENDPOINT_UNIX || lstat(ep->path, &st) < 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

/* Remove a socket we created, unless someone replaced it meanwhile. */
static void
recv_unlink(const struct endpoint *ep, ino_t *ino)
{
	if (*ino != 0 && recv_ino(ep) == *ino)
		unlink(ep->path);
	*ino = 0;
}

/*
 * Listen on ep (mode 0600; a stale socket replaced, nothing else) and give
 * QEMU the listener under name; our copy is closed.
 */
static int
recv_listen(struct recv *r, const struct endpoint *ep, const char *name,
    ino_t *ino)
{
	int lfd, rc;

	lfd = sock_listen(ep, r->err, sizeof(r->err));
	if (lfd < 0)
		return -1;
	*ino = recv_ino(ep);
	rc = qemu_pass_fd(&r->qe, name, lfd);
	close(lfd);
	if (rc != QEMU_OK) {
		snprintf(r->err, sizeof(r->err), "%s", r->qe.err);
		return -1;
	}
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
	char args[1024], uri[300];
	struct jsonw w;
	size_t i;

	if (recv_exec(r, "migrate-set-capabilities", qmpargs_caps(args,
	    sizeof(args), caps, sizeof(caps) / sizeof(caps[0])), NULL) !=
	    QEMU_OK)
		return -1;
	if (o->parallel) {
		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		jsonw_kint(&w, "multifd-channels", o->parallel_connections);
		jsonw_obj_end(&w);
		if (recv_exec(r, "migrate-set-parameters", jsonw_finish(&w) < 0 ?
		    NULL : args, NULL) != QEMU_OK)
			return -1;
	}
	/*
	 * On an incoming QEMU, "stop" clears autostart: the guest stays
	 * paused after the switch-over until the NBD server is stopped and
	 * we resume it, whether or not QEMU was started with -S.
	 */
	if (recv_exec(r, "stop", NULL, NULL) != QEMU_OK)
		return -1;
	if (o->nbd.kind != 0) {
		/* Our socket, in our filesystem, handed over: QEMU's own
		 * filesystem (a chroot, a container) may not have the path. */
		if (recv_listen(r, &o->nbd, "mig-nbd", &r->nbd_ino) < 0)
			return -1;
		jsonw_init(&w, args, sizeof(args));
		jsonw_obj_begin(&w);
		qmpargs_fd(&w, "addr", "mig-nbd", 1);
		jsonw_obj_end(&w);
		if (recv_exec(r, "nbd-server-start", jsonw_finish(&w) < 0 ?
		    NULL : args, NULL) != QEMU_OK)
			return -1;
		r->nbd_started = 1;
		for (i = 0; i < r->disks.n; i++)
			if (recv_export(r, &r->disks.d[i]) < 0)
				return -1;
		r->bitmaps = 1;
	}
	if (o->incoming.kind == ENDPOINT_STDIO) {
		if (qemu_pass_fd(&r->qe, "mig-stream", 0) != QEMU_OK) {
			snprintf(r->err, sizeof(r->err), "%s", r->qe.err);
			return -1;
		}
		/* QEMU holds the stream now; ours must not keep it open (fd 0
		 * becomes /dev/null, so no later socket is taken for stdin). */
		close(0);
		if (open("/dev/null", O_RDONLY) != 0)
			log_warn("cannot open /dev/null as standard input");
		snprintf(uri, sizeof(uri), "fd:mig-stream");
	} else if (o->parallel) {
		/*
		 * Parallel channels are several connections: QEMU 7.2 takes
		 * them on a listening socket it is given as "tcp:fd:NAME"
		 * (its socket address parser reads fd:NAME after tcp:).
		 */
		if (recv_listen(r, &o->incoming, "mig-listen", &r->mig_ino) < 0)
			return -1;
		snprintf(uri, sizeof(uri), "tcp:fd:mig-listen");
	} else {
		/* One connection: we accept it (recv_wait) and hand it over. */
		r->mig_lfd = sock_listen(&o->incoming, r->err, sizeof(r->err));
		if (r->mig_lfd < 0)
			return -1;
		r->mig_ino = recv_ino(&o->incoming);
		sock_set_nonblock(r->mig_lfd, 1);
		return 0;
	}
	return recv_exec(r, "migrate-incoming", qmpargs_str(args, sizeof(args),
	    "uri", uri), NULL) == QEMU_OK ? 0 : -1;
}

/*
 * The source connected to our --incoming listener: hand the connection
 * to QEMU as its incoming stream.  The listener stays ours, to hear a
 * source that gives up (ctl).
 */
static int
recv_take_stream(struct recv *r)
{
	char args[128];
	int fd, rc;

	fd = accept4(r->mig_lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ||
		    errno == ECONNABORTED ? 0 : (snprintf(r->err,
		    sizeof(r->err), "accept on the incoming socket: %s",
		    strerror(errno)), -1);
	rc = qemu_pass_fd(&r->qe, "mig-stream", fd);
	close(fd);
	if (rc != QEMU_OK) {
		snprintf(r->err, sizeof(r->err), "%s", r->qe.err);
		return -1;
	}
	r->ctl = r->mig_lfd;
	r->mig_lfd = -1;
	log_info("the source connected: incoming stream handed to QEMU");
	return recv_exec(r, "migrate-incoming", qmpargs_str(args, sizeof(args),
	    "uri", "fd:mig-stream"), NULL) == QEMU_OK ? 0 : -1;
}

/*
 * Look at what the source wrote to each exported disk since the last look
 * (the bitmap is cleared after each): a write is the source's sign of
 * life while no stream runs, and proves the disk was copied to.
 */
static void
recv_poll_writes(struct recv *r)
{
	char node[DISK_NODE_MAX], name[64], args[512];
	struct qmp_msg *m;
	int dev, bm;
	int64_t count;
	size_t i;

	if (!r->bitmaps || recv_exec(r, "query-block", NULL, &m) != QEMU_OK)
		return;
	for (dev = json_first(&m->doc, m->value); dev >= 0;
	    dev = json_next(&m->doc, dev)) {
		if (json_path_string(&m->doc, dev, "inserted.node-name", node,
		    sizeof(node)) < 0)
			continue;
		for (i = 0; i < r->disks.n; i++)
			if (strcmp(r->disks.d[i].node, node) == 0)
				break;
		if (i == r->disks.n)
			continue;
		bm = json_get(&m->doc, json_get(&m->doc, dev, "inserted"),
		    "dirty-bitmaps");
		for (bm = bm >= 0 ? json_first(&m->doc, bm) : -1; bm >= 0;
		    bm = json_next(&m->doc, bm)) {
			if (json_path_string(&m->doc, bm, "name", name,
			    sizeof(name)) < 0 || strcmp(name, RECV_BITMAP) != 0 ||
			    json_path_int(&m->doc, bm, "count", &count) < 0 ||
			    count <= 0)
				continue;
			r->written[i] = 1;
			r->contact = 1;
			r->last_write = clock_ms();
			recv_exec(r, "block-dirty-bitmap-clear", qmpargs_str2(
			    args, sizeof(args), "node", node, "name",
			    RECV_BITMAP), NULL);
		}
	}
}

/*
 * Once the stream runs, the source's mirrors are in sync: every exported
 * disk must have been written to, or be in use by an NBD client (a copy
 * of an overlay with nothing in it writes nothing).  A disk nobody copied
 * would start the guest on whatever the destination's image holds.
 */
static int
recv_check_copied(struct recv *r)
{
	char args[256], names[256] = "";
	size_t i, at = 0;

	recv_poll_writes(r);
	for (i = 0; i < r->disks.n; i++) {
		if (r->written[i])
			continue;
		/* A safe block-export-del fails while a client is connected
		 * (and removes the export when nobody is). */
		if (recv_exec(r, "block-export-del", qmpargs_str(args,
		    sizeof(args), "id", r->disks.d[i].id), NULL) ==
		    QEMU_REFUSED && strstr(r->err, "in use") != NULL)
			continue;
		at += (size_t)snprintf(names + at, sizeof(names) - at, "%s'%s'",
		    at ? ", " : "", r->disks.d[i].id);
		if (at >= sizeof(names))
			break;
	}
	if (names[0] == '\0')
		return 0;
	snprintf(r->err, sizeof(r->err), "disk %s was exported but no source "
	    "copied it (mig-send needs --copy-storage-all or -inc, and the "
	    "same disks): the guest must not start on it", names);
	return -1;
}

/*
 * The source's mirrors are complete once the switch-over began (it
 * completes them before QEMU sends the final state): stop serving the
 * disks, then let the guest run.  Released only once it runs.
 */
static int
recv_release(struct recv *r)
{
	char args[256], state[32] = "";
	size_t i;
	int rc;

	if (r->released)
		return 0;
	if (r->nbd_started && recv_exec(r, "nbd-server-stop", NULL, NULL) !=
	    QEMU_OK)
		return -1;
	r->nbd_started = 0;
	recv_unlink(&r->o->nbd, &r->nbd_ino);
	for (i = 0; r->bitmaps && i < r->disks.n; i++)
		if (recv_exec(r, "block-dirty-bitmap-remove", qmpargs_str2(args,
		    sizeof(args), "node", r->disks.d[i].node, "name",
		    RECV_BITMAP), NULL) != QEMU_OK)
			log_warn("%s", r->err);
	r->bitmaps = 0;
	/* Managed Finish: the guest starts only on the source's commit. */
	if (r->o->peer && (rc = r->o->peer->loaded(r->o->peer->arg,
	    r->postcopy_seen, r->err, sizeof(r->err))) < 0) {
		r->doubt = rc == -2;
		return -1;
	}
	if (r->o->paused) {
		log_info("the guest is left paused (--paused)");
		r->released = 1;
		r->outcome = OUTCOME_DEST_PAUSED;
		guard_mark(&r->guard, MARK_RELEASED);
		return 0;
	}
	/* Still incoming, "cont" only sets autostart; QEMU starts it later. */
	if (recv_exec(r, "cont", NULL, NULL) != QEMU_OK)
		return -1;
	r->released = 1;
	r->outcome = OUTCOME_DEST_RUNNING;
	guard_mark(&r->guard, MARK_RELEASED);
	if (qemu_run_state(&r->qe, state, sizeof(state)) == QEMU_OK)
		log_info("guest released on the destination (status %s)",
		    state);
	return 0;
}

static void
recv_poll(struct recv *r)
{
	struct qmp_msg *m;

	if (recv_exec(r, "query-migrate", NULL, &m) == QEMU_OK)
		json_path_string(&m->doc, m->value, "status", r->status,
		    sizeof(r->status));
}

/* The stream has begun (or ended): the source's disk copy is done. */
static int
recv_stream_began(const struct recv *r)
{
	return !recv_status_is(r, "") && !recv_status_is(r, "none") &&
	    !recv_status_is(r, "setup");
}

/*
 * Once QEMU's listener has every channel it waits for, the incoming path
 * is no use to it: listen there ourselves, so that a source that gives up
 * can tell us (through a relay too) instead of leaving us waiting for a
 * stream that has stopped.  A TCP port stays QEMU's.
 */
static void
recv_take_path(struct recv *r)
{
	char err[300];

	if (r->o->incoming.kind != ENDPOINT_UNIX || r->ctl >= 0)
		return;
	recv_unlink(&r->o->incoming, &r->mig_ino);
	r->ctl = confirm_listen(&r->o->incoming, err, sizeof(err));
	if (r->ctl < 0)
		log_warn("%s", err);
}

static void
recv_drop_path(struct recv *r)
{
	if (r->ctl >= 0)
		close(r->ctl);
	r->ctl = -1;
	if (r->mig_lfd >= 0)
		close(r->mig_lfd);
	r->mig_lfd = -1;
}

/*
 * Wait for the migration's end and release the guest; 0 on success, -1
 * with r->err.
 */
static int
recv_wait(struct recv *r)
{
	const struct recv_opts *o = r->o;
	int64_t deadline = o->timeout_s ? r->t0 + o->timeout_s * 1000 : 0;
	int64_t next_tick = 0, wake, now;
	char why[CONFIRM_LINE_MAX];
	struct qmp_msg *m;
	int rc;

	/* Every way out of this loop is a return with the reason set. */
	for (;;) {
		if (!r->checked && recv_stream_began(r)) {
			r->checked = 1;
			if (r->bitmaps && recv_check_copied(r) < 0)
				return -1;
			recv_take_path(r);
		}
		if (recv_status_is(r, "postcopy-active") && !r->released) {
			r->postcopy_seen = 1;
			progress_phase("postcopy", clock_ms() - r->t0);
			if (recv_release(r) < 0)
				return -1;
		}
		if (recv_status_is(r, "completed"))
			return recv_release(r);
		if (recv_status_is(r, "failed") || recv_status_is(r, "cancelled")
		    || recv_status_is(r, "postcopy-paused")) {
			snprintf(r->err, sizeof(r->err), "the incoming migration "
			    "%s", r->status);
			return -1;
		}
		if (r->qe.gone) {
			snprintf(r->err, sizeof(r->err), "the destination QEMU "
			    "exited: the incoming migration failed (%.600s)",
			    r->qe.err);
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
		if (o->idle_timeout_s && r->contact && !recv_stream_began(r) &&
		    now - r->last_write >= o->idle_timeout_s * 1000) {
			snprintf(r->err, sizeof(r->err), "the source went silent: "
			    "no disk write and no migration stream for %lld s",
			    (long long)o->idle_timeout_s);
			return -1;
		}
		if (now >= next_tick) {
			next_tick = now + RECV_TICK_MS;
			if (o->peer && o->peer->tick(o->peer->arg, r->err,
			    sizeof(r->err)) < 0)
				return -1;
			if (r->ctl >= 0 && confirm_check(r->ctl, why,
			    sizeof(why))) {
				snprintf(r->err, sizeof(r->err), "the source gave "
				    "up: %s", why);
				return -1;
			}
			r->qe.limit = deadline;
			recv_poll(r);
			if (!recv_stream_began(r) && now >= r->next_writes) {
				r->next_writes = now + RECV_WRITES_MS;
				recv_poll_writes(r);
			}
			r->qe.limit = 0;
			continue;
		}
		wake = deadline && deadline < next_tick ? deadline : next_tick;
		if (r->mig_lfd >= 0) {
			/* No stream yet: wait for its connection (QEMU's
			 * state is polled each tick meanwhile). */
			if (sock_accept_ready(r->mig_lfd, wake) &&
			    recv_take_stream(r) < 0)
				return -1;
			continue;
		}
		rc = qemu_next_event(&r->qe, wake, &m);
		if (rc == 1 && strcmp(m->name, "MIGRATION") == 0)
			json_path_string(&m->doc, m->value, "status", r->status,
			    sizeof(r->status));
	}
}

/* Tell a source that asks how it ended (doc/confirm-protocol.md). */
static void
recv_tell(struct recv *r, enum confirm_word w, const char *reason)
{
	int64_t ms = w == CONFIRM_FAILED ? RECV_TELL_FAIL_MS : RECV_CONFIRM_MS;
	char err[300];

	recv_drop_path(r);
	if (r->o->peer) {
		if (!r->rescuing)
			r->o->peer->tell(r->o->peer->arg, w == CONFIRM_RUNNING ?
			    PEER_W_RUNNING : w == CONFIRM_PAUSED ?
			    PEER_W_PAUSED : PEER_W_FAILED, !r->qe.gone &&
			    w == CONFIRM_FAILED && r->outcome != OUTCOME_NOT_HERE,
			    reason);
		return;
	}
	if (r->o->incoming.kind == ENDPOINT_STDIO)
		return;
	r->mig_ino = 0;		/* the path is confirm_serve's now */
	if (confirm_serve(&r->o->incoming, w, reason, clock_ms() + ms, err,
	    sizeof(err)) < 0)
		log_warn("cannot tell the source how it ended: %s", err);
}

/*
 * A failure: unless the guest already runs here, it must never run here.
 * Quit the destination QEMU and tell the source, which then resumes its
 * copy.  Only a completed stream on a pipe, which cannot tell the source,
 * is left paused here instead: the source may have quit.
 */
static int
recv_fail(struct recv *r)
{
	char why[sizeof(r->err)];

	snprintf(why, sizeof(why), "%s", r->err);
	log_err("%s", why);
	if (r->released && r->postcopy_seen && r->qe.gone) {
		/* The guest ran here; what the source still holds of its
		 * memory cannot run without this half. */
		log_err("post-copy failed: the destination QEMU died with the "
		    "guest, whose source side stays paused");
		r->outcome = OUTCOME_LOST;
		return RECV_POSTCOPY_FAILED;
	}
	if (r->released && r->postcopy_seen) {
		log_err("post-copy failed after the guest started here: its "
		    "memory is split between the hosts; QEMU is left as it is");
		r->outcome = OUTCOME_SPLIT;
		return RECV_POSTCOPY_FAILED;
	}
	if (r->released) {
		r->outcome = r->qe.gone ? OUTCOME_LOST : r->outcome;
		return r->qe.gone ? RECV_LOST : RECV_OK;
	}
	if (recv_status_is(r, "completed") && !r->qe.gone &&
	    r->o->incoming.kind == ENDPOINT_STDIO) {
		log_err("the guest is left paused on the destination: the "
		    "source cannot be told over a pipe and may have quit");
		r->outcome = OUTCOME_DEST_PAUSED;
		return RECV_PAUSED;
	}
	if (!r->qe.gone && qemu_quit(&r->qe, 10000) < 0)
		log_warn("the destination QEMU did not quit: %s", r->qe.err);
	else
		log_info("destination QEMU quit");
	r->outcome = OUTCOME_NOT_HERE;
	if (r->doubt) {
		/* The source may have committed and be waiting, paused: the
		 * guest is there, never here, and never running twice. */
		log_err("in doubt: the control connection was lost after "
		    "'loaded'; the destination QEMU was quit, so the guest is "
		    "on the source (paused if it had committed): resume it "
		    "there (QMP 'cont') if it does not run");
		r->outcome = OUTCOME_DOUBT;
		return RECV_DOUBT;
	}
	/* Only a source that began may be waiting to hear why. */
	if (r->contact || recv_stream_began(r) || r->o->peer)
		recv_tell(r, CONFIRM_FAILED, why);
	return RECV_FAILED;
}

static void
recv_summary(struct recv *r, const char *result)
{
	char buf[512];
	struct jsonw w;

	jsonw_init(&w, buf, sizeof(buf));
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, "event", "summary");
	jsonw_kstr(&w, "result", result);
	jsonw_kint(&w, "total_ms", clock_ms() - r->t0);
	jsonw_kstr(&w, "outcome", outcome_name(r->outcome));
	jsonw_obj_end(&w);
	if (jsonw_finish(&w) >= 0)
		progress_json_line(buf);
}

/*
 * --ready-file: "ready" in a file that appears whole (written aside, then
 * renamed), for a source in another container that shares the directory.
 */
static int
recv_ready_file(const char *path)
{
	char tmp[4096];
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, "ready\n", 6) == 6 && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* In the guard, after mig-recv died: what mig-recv would have done. */
static void
recv_rescue(void *arg, int mark)
{
	struct recv *r = arg;

	if (mark == 0)
		return;
	log_err("mig-recv stopped in the middle of a migration: its guard "
	    "takes over");
	r->rescuing = 1;
	if (qemu_open(&r->qe, &r->o->qmp, "destination", clock_ms() +
	    RECV_QMP_RETRY_MS, 1) < 0) {
		log_err("the guard cannot reach the destination QEMU: %s",
		    r->qe.err);
		r->qe.gone = 1;
	}
	if (mark == MARK_RELEASED) {
		recv_tell(r, r->o->paused ? CONFIRM_PAUSED : CONFIRM_RUNNING,
		    NULL);
		return;
	}
	recv_poll(r);
	snprintf(r->err, sizeof(r->err), "mig-recv died before the guest "
	    "started here");
	recv_fail(r);
	log_err("guard: outcome: %s", outcome_name(r->outcome));
}

int
recv_run(const struct recv_opts *o)
{
	static struct recv rbuf;
	struct recv *r = &rbuf;
	int rc;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->t0 = clock_ms();
	r->outcome = OUTCOME_UNCHANGED;
	r->guard.fd = -1;
	r->ctl = -1;
	r->mig_lfd = -1;
	sig_install();
	progress_init(o->verbose, o->json);
	if (qemu_open(&r->qe, &o->qmp, "destination", clock_ms() + (o->wait_s >
	    10 ? o->wait_s * 1000 : 10000), o->wait_s > 0) < 0) {
		log_err("%s", r->qe.err);
		recv_summary(r, "bad-input");
		return RECV_USAGE;
	}
	if (recv_preflight(r) < 0) {
		log_err("%s", r->err);
		recv_summary(r, "bad-input");
		qemu_close(&r->qe);
		return RECV_USAGE;
	}
	if (guard_start(&r->guard, recv_rescue, r) < 0)
		log_warn("no guard process: if mig-recv is killed, nobody "
		    "quits the destination QEMU");
	guard_mark(&r->guard, MARK_SETUP);
	if (recv_setup(r) != 0) {
		rc = recv_fail(r);
		goto out;
	}
	/* Every socket listens now: the source may start. */
	if (o->peer)
		o->peer->ready(o->peer->arg);
	if (o->json) {
		progress_phase("ready", clock_ms() - r->t0);
	} else {
		fputs("ready\n", stdout);
		fflush(stdout);
	}
	if (o->ready_file && recv_ready_file(o->ready_file) < 0)
		log_warn("cannot create --ready-file %s: %s", o->ready_file,
		    strerror(errno));
	if (recv_wait(r) < 0) {
		rc = recv_fail(r);
		goto out;
	}
	progress_phase("completed", clock_ms() - r->t0);
	recv_tell(r, r->o->paused ? CONFIRM_PAUSED : CONFIRM_RUNNING, NULL);
	rc = RECV_OK;
out:
	recv_summary(r, rc == RECV_OK ? "completed" : "failed");
	if (rc == RECV_OK)
		log_info("outcome: %s", outcome_name(r->outcome));
	else
		log_err("outcome: %s", outcome_name(r->outcome));
	if (o->ready_file)
		unlink(o->ready_file);
	recv_drop_path(r);
	recv_unlink(&o->nbd, &r->nbd_ino);
	recv_unlink(&o->incoming, &r->mig_ino);
	guard_done(&r->guard);
	qemu_close(&r->qe);
	/* The guide's table, this side's half, once the guest runs here. */
	if (rc == RECV_OK && apply_migrated(&o->cfg, APPLY_DEST) < 0)
		rc = RECV_CONFIG;
	return rc;
}
