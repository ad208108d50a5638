#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sig.h"
#include "base/sock.h"
#include "config/apply.h"
#include "config/def.h"
#include "config/defdisk.h"
#include "config/launch.h"
#include "config/store.h"
#include "control/ctl_conn.h"
#include "control/ctl_dest.h"
#include "control/ctl_tls.h"
#include "control/ctl_tunnel.h"
#include "migrate/guard.h"
#include "migrate/qemu.h"
#include "migrate/recv.h"

#define CTL_DEST_REQUEST_MS 60000	/* the request, once connected */
#define CTL_DEST_HOOK_MS 30000		/* the migrate hook's run */
#define CTL_DEST_COMMIT_MS 600000	/* the source's commit */
#define CTL_DEST_SEND_MS 10000
#define CTL_DEST_MKDISK_MS 60000	/* one qemu-img create */
#define CTL_DEST_DRAIN_MS 5000		/* the source's close, at the end */
#define CTL_DEST_TLS_MS 10000		/* a source's TLS handshake */
#define CTL_DEST_TUNNEL_MS 10000	/* the tunnel up, its "ctl" opened */
#define CTL_DEST_SESSIONS_MAX 16	/* --listen without --once, at once */

/* One session's state: large, and one per process, so static. */
static struct ctl_dest {
	const struct ctl_dest_opts *o;
	struct ctl_conn conn;
	struct ctl_tunnel tun;		/* --tunnelled: pid 0 if none */
	struct ctl_msg req, m;
	struct recv_peer peer;
	struct recv_opts ro;
	struct store st;
	struct def def;
	char ids[CTL_DISKS_MAX * (CTL_ID_MAX + 1) + 1];
	char created[CTL_DISKS_MAX][4096];	/* disks made here */
	int ncreated;
	pid_t pid;			/* the QEMU launched here, or 0 */
	int answered;			/* accept or refuse sent */
	struct guard guard;		/* undoes Prepare if we are killed */
} ctl_dest;

/* What the session's guard is told. */
enum {
	CTL_DEST_MARK_PREPARED = 'P',	/* undo Prepare on death */
	CTL_DEST_MARK_COMMITTED = 'F',	/* the guest is to run here: keep */
};

static void
ctl_dest_send(struct ctl_dest *d, struct ctl_msg *m)
{
	if (ctl_conn_send(&d->conn, m, clock_ms() + CTL_DEST_SEND_MS) < 0)
		log_warn("%s", d->conn.err);
}

static void
ctl_dest_refuse(struct ctl_dest *d, const char *why)
{
	log_err("refusing the migration: %s", why);
	ctl_msg_init(&d->m, CTL_REFUSE);
	snprintf(d->m.reason, sizeof(d->m.reason), "%s", why);
	ctl_dest_send(d, &d->m);
	d->answered = 1;
}

/* ---- the recv_peer hooks ---- */

static void
ctl_dest_ready(void *arg)
{
	struct ctl_dest *d = arg;

	ctl_msg_init(&d->m, CTL_ACCEPT);
	endpoint_format(&d->ro.incoming, d->m.migrate_uri,
	    sizeof(d->m.migrate_uri));
	if (d->ro.nbd.kind)
		endpoint_format(&d->ro.nbd, d->m.disks_uri,
		    sizeof(d->m.disks_uri));
	ctl_dest_send(d, &d->m);
	d->answered = 1;
	log_info("prepared: the source may start");
}

/* A message outside Finish: the source gave up, or worse. */
static int
ctl_dest_heard(struct ctl_dest *d, int rc, char *err, size_t errlen)
{
	if (rc < 0)
		snprintf(err, errlen, "control connection lost: %s",
		    d->conn.err);
	else if (d->m.type == CTL_ABORT)
		snprintf(err, errlen, "the source gave up: %s", d->m.reason[0] ?
		    d->m.reason : "no reason given");
	else
		snprintf(err, errlen, "the source sent '%s' out of turn",
		    ctl_type_name(d->m.type));
	return -1;
}

static int
ctl_dest_tick(void *arg, char *err, size_t errlen)
{
	struct ctl_dest *d = arg;
	int rc = ctl_conn_poll(&d->conn, 0, &d->m);

	return rc == 0 ? 0 : ctl_dest_heard(d, rc, err, errlen);
}

static int
ctl_dest_loaded(void *arg, int postcopy, char *err, size_t errlen)
{
	struct ctl_dest *d = arg;
	int64_t deadline = clock_ms() + CTL_DEST_COMMIT_MS;
	int rc;

	ctl_msg_init(&d->m, CTL_LOADED);
	if (ctl_conn_send(&d->conn, &d->m, clock_ms() + CTL_DEST_SEND_MS) < 0) {
		snprintf(err, errlen, "control connection lost: %s",
		    d->conn.err);
		return postcopy ? 0 : -2;
	}
	/* Past post-copy's switch-over the guest is this side's. */
	if (postcopy)
		return 0;
	log_info("loaded: waiting for the source's commit");
	for (;;) {
		rc = ctl_conn_poll(&d->conn, deadline, &d->m);
		if (rc == 1 && d->m.type == CTL_COMMIT) {
			log_info("the source committed");
			/* From here a launched QEMU is the guest's. */
			guard_mark(&d->guard, CTL_DEST_MARK_COMMITTED);
			return 0;
		}
		if (rc == 1 && d->m.type == CTL_ABORT) {
			ctl_dest_heard(d, rc, err, errlen);
			return -1;
		}
		if (rc != 0 || clock_ms() >= deadline) {
			if (rc == 0)
				snprintf(err, errlen, "no commit within %d s",
				    CTL_DEST_COMMIT_MS / 1000);
			else if (rc < 0)
				snprintf(err, errlen, "control connection lost "
				    "after 'loaded': %s", d->conn.err);
			else
				snprintf(err, errlen, "the source sent '%s' "
				    "instead of a commit",
				    ctl_type_name(d->m.type));
			return -2;
		}
	}
}

static void
ctl_dest_tell(void *arg, enum peer_word w, int here, const char *reason)
{
	struct ctl_dest *d = arg;

	if (!d->answered) {
		ctl_dest_refuse(d, reason ? reason : "the destination failed");
		return;
	}
	ctl_msg_init(&d->m, w == PEER_W_FAILED ? CTL_FAILED : CTL_STARTED);
	if (w == PEER_W_PAUSED)
		d->m.flags = CTL_FL_PAUSED;
	if (w == PEER_W_FAILED) {
		d->m.flags = here ? CTL_FL_HERE : 0;
		snprintf(d->m.reason, sizeof(d->m.reason), "%s",
		    reason ? reason : "");
	}
	ctl_dest_send(d, &d->m);
}

/* ---- Prepare's steps ---- */

/*
 * The migrate hook, as libvirt's: CONFIG/hooks/qemu NAME migrate begin -,
 * the definition on stdin; a non-empty stdout replaces it; a non-zero
 * exit refuses, with the first line of its stderr.
 */
static int
ctl_dest_hook(struct ctl_dest *d, char *err, size_t errlen)
{
	char hook[STORE_PATH_MAX + 32], tmpl[3][4096], line[CTL_REASON_MAX];
	const char *tmp = getenv("TMPDIR");
	int fds[3], i, status = 0;
	int64_t deadline;
	pid_t child;
	long n;
	char *nl;

	snprintf(hook, sizeof(hook), "%s/hooks/qemu", d->st.config_dir);
	if (access(hook, X_OK) != 0)
		return 0;
	for (i = 0; i < 3; i++) {
		snprintf(tmpl[i], sizeof(tmpl[i]), "%s/mig-hook.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		fds[i] = mkstemp(tmpl[i]);
		if (fds[i] < 0) {
			snprintf(err, errlen, "hook: cannot create a temporary "
			    "file in %s: %s", tmp ? tmp : "/tmp",
			    strerror(errno));
			while (i-- > 0) {
				close(fds[i]);
				unlink(tmpl[i]);
			}
			return -1;
		}
		unlink(tmpl[i]);
	}
	if (write(fds[0], d->def.text, d->def.len) != (ssize_t)d->def.len ||
	    lseek(fds[0], 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "hook: cannot write its input");
		goto out_fail;
	}
	child = fork();
	if (child < 0) {
		snprintf(err, errlen, "hook: fork: %s", strerror(errno));
		goto out_fail;
	}
	if (child == 0) {
		dup2(fds[0], 0);
		dup2(fds[1], 1);
		dup2(fds[2], 2);
		execl(hook, hook, d->def.name, "migrate", "begin", "-",
		    (char *)NULL);
		_exit(127);
	}
	deadline = clock_ms() + CTL_DEST_HOOK_MS;
	while (waitpid(child, &status, WNOHANG) != child) {
		if (clock_ms() >= deadline) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			snprintf(err, errlen, "hook %s did not finish within "
			    "%d s", hook, CTL_DEST_HOOK_MS / 1000);
			goto out_fail;
		}
		poll(NULL, 0, 20);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		n = pread(fds[2], line, sizeof(line) - 1, 0);
		line[n > 0 ? n : 0] = '\0';
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		snprintf(err, errlen, "the migrate hook refused (%s %d)%s%.400s",
		    WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status), line[0] ? ": " : "",
		    line);
		goto out_fail;
	}
	n = pread(fds[1], d->m.def, CTL_DEF_MAX + 1, 0);
	if (n > (long)CTL_DEF_MAX) {
		snprintf(err, errlen, "the migrate hook printed more than %u "
		    "bytes", CTL_DEF_MAX);
		goto out_fail;
	}
	if (n > 0) {
		if (def_parse(&d->def, d->m.def, (size_t)n, line,
		    sizeof(line)) < 0) {
			snprintf(err, errlen, "the migrate hook's definition: "
			    "%s", line);
			goto out_fail;
		}
		log_info("the migrate hook rewrote the definition");
	}
	for (i = 0; i < 3; i++)
		close(fds[i]);
	return 0;
out_fail:
	for (i = 0; i < 3; i++)
		close(fds[i]);
	return -1;
}

/* --dname: the definition under its new name. */
static int
ctl_dest_rename(struct ctl_dest *d, const char *dname, char *err,
    size_t errlen)
{
	static char text[DEF_MAX + 1];
	const char *p = d->def.text, *e;
	size_t at = 0, n;
	int done = 0;

	while (*p) {
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p + 1) : strlen(p);
		if (!done && strncmp(p, "name", 4) == 0 && (p[4] == ' ' ||
		    p[4] == '\t')) {
			at += (size_t)snprintf(text + at, sizeof(text) - at,
			    "name %s\n", dname);
			done = 1;
		} else if (at + n < sizeof(text)) {
			memcpy(text + at, p, n);
			at += n;
		}
		if (at >= sizeof(text) - 1) {
			snprintf(err, errlen, "--dname: the definition is too "
			    "long");
			return -1;
		}
		p += n;
	}
	return def_parse(&d->def, text, at, err, errlen);
}

/* Make the missing directories above path. */
static int
ctl_dest_mkdirs(char *path)
{
	char *s;

	for (s = path + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

/* qemu-img create -f FMT PATH SIZE, for each disk with no image here. */
static int
ctl_dest_create_disks(struct ctl_dest *d, char *err, size_t errlen)
{
	char path[4096], size[32], fmt[32];
	struct stat sb;
	int64_t deadline;
	size_t i;
	int status;
	pid_t child;

	for (i = 0; i < d->req.ndisks; i++) {
		const struct ctl_disk *k = &d->req.disk[i];

		if (defdisk_file(&d->def, k->id, path, sizeof(path), fmt,
		    sizeof(fmt)) < 0 || path[0] != '/' || stat(path, &sb) == 0)
			continue;
		/* The definition's format, else the source's. */
		if (fmt[0] == '\0' || strcmp(fmt, "file") == 0)
			snprintf(fmt, sizeof(fmt), "%s", strcmp(k->format,
			    "throttle") == 0 ? "raw" : k->format);
		/* The source's probe refuses an image that is too small. */
		if (ctl_dest_mkdirs(path) < 0) {
			snprintf(err, errlen, "cannot create the directory of "
			    "%.400s: %s", path, strerror(errno));
			return -1;
		}
		snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)k->size);
		child = fork();
		if (child < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			return -1;
		}
		if (child == 0) {
			int fd = open("/dev/null", O_WRONLY);

			if (fd >= 0)
				dup2(fd, 1);
			execlp("qemu-img", "qemu-img", "create", "-q", "-f",
			    fmt, path, size, (char *)NULL);
			_exit(127);
		}
		deadline = clock_ms() + CTL_DEST_MKDISK_MS;
		while (waitpid(child, &status, WNOHANG) != child) {
			if (clock_ms() >= deadline) {
				kill(child, SIGKILL);
				waitpid(child, &status, 0);
				break;
			}
			poll(NULL, 0, 20);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			unlink(path);
			snprintf(err, errlen, "qemu-img create -f %s %.400s %s "
			    "failed", fmt, path, size);
			return -1;
		}
		snprintf(d->created[d->ncreated++], sizeof(d->created[0]),
		    "%s", path);
		log_info("created disk '%s': %s (%s, %s bytes)", k->id, path,
		    fmt, size);
	}
	return 0;
}

/* Undo Prepare: the QEMU launched here and the disks created here. */
static void
ctl_dest_undo(struct ctl_dest *d)
{
	char err[300];
	int i;

	if (d->pid > 0) {
		if (store_lock(&d->st, 0, err, sizeof(err)) == 0) {
			if (launch_destroy(&d->st, d->def.name, d->pid, err,
			    sizeof(err)) < 0)
				log_warn("%s", err);
			store_unlock(&d->st);
		}
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	for (i = 0; i < d->ncreated; i++)
		if (unlink(d->created[i]) == 0)
			log_info("removed %s", d->created[i]);
	d->ncreated = 0;
}

/* In the guard, after mig-recv died before the commit: undo Prepare. */
static void
ctl_dest_rescue(void *arg, int mark)
{
	struct ctl_dest *d = arg;

	if (mark != CTL_DEST_MARK_PREPARED)
		return;
	d->guard.fd = -1;
	ctl_dest_undo(d);
}

/* Our own socket for ep when the source names none: NAME/FILE. */
static int
ctl_dest_endpoint(struct ctl_dest *d, const char *given,
    const struct endpoint *dflt, const char *file, struct endpoint *ep,
    char *err, size_t errlen)
{
	const unsigned kinds = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);

	if (given[0])
		return endpoint_parse(given, kinds, ep, err, errlen);
	if (dflt->kind) {
		*ep = *dflt;
		return 0;
	}
	memset(ep, 0, sizeof(*ep));
	ep->kind = ENDPOINT_UNIX;
	if (store_run_path(&d->st, d->def.name, file, ep->path,
	    sizeof(ep->path)) < 0) {
		snprintf(err, errlen, "the run directory's path is too long "
		    "for a unix socket");
		return -1;
	}
	return 0;
}

/* Offline: the definition only, stored here. */
static int
ctl_dest_offline(struct ctl_dest *d)
{
	char err[600];

	if (!(d->req.flags & CTL_FL_PERSISTENT)) {
		ctl_dest_refuse(d, "--offline needs --persistent");
		return RECV_USAGE;
	}
	if (store_lock(&d->st, 0, err, sizeof(err)) < 0 ||
	    store_put(&d->st, &d->def, err, sizeof(err)) < 0) {
		store_unlock(&d->st);
		ctl_dest_refuse(d, err);
		return RECV_CONFIG;
	}
	store_unlock(&d->st);
	log_info("offline: guest '%s' defined here", d->def.name);
	ctl_msg_init(&d->m, CTL_DEFINED);
	ctl_dest_send(d, &d->m);
	return RECV_OK;
}

/*
 * At the end: let the source close first (within a few seconds), so that
 * our last word is read before we close (a relay such as socat EXEC, or
 * TCP with unread input, may drop it otherwise), and a commit it sends
 * late (after post-copy, "loaded" is read only at the end) never meets a
 * closed connection.
 */
static void
ctl_dest_drain(struct ctl_dest *d)
{
	int64_t until = clock_ms() + CTL_DEST_DRAIN_MS;

	while (!d->conn.lost && clock_ms() < until && !sig_stop &&
	    ctl_conn_poll(&d->conn, until, &d->m) >= 0)
		;
}

/*
 * The source's request, after the switch to the tunnel if it asks for
 * that first.  No ping goes out before the first message: one could
 * cross the switch.  Returns 0 with d->req, or an exit code.
 */
static int
ctl_dest_request(struct ctl_dest *d, int rfd, int wfd)
{
	const struct ctl_dest_opts *o = d->o;
	int64_t deadline = clock_ms() + CTL_DEST_REQUEST_MS;
	char err[400];
	int rc, ctl;

	ctl_conn_init(&d->conn, rfd, wfd, CTL_DEST_REQUEST_MS, 0);
	for (;;) {
		rc = ctl_conn_poll(&d->conn, deadline, &d->req);
		if (rc == 1 && d->req.type == CTL_TUNNEL && d->tun.pid == 0) {
			ctl_msg_init(&d->m, CTL_TUNNEL);
			if (ctl_conn_send(&d->conn, &d->m, clock_ms() +
			    CTL_DEST_SEND_MS) < 0) {
				log_err("--tunnelled: %s", d->conn.err);
				return RECV_FAILED;
			}
			ctl = ctl_tunnel_start(&d->tun, 0, rfd, wfd,
			    d->conn.in, d->conn.inlen, clock_ms() +
			    CTL_DEST_TUNNEL_MS, err, sizeof(err));
			if (ctl < 0) {
				log_err("%s", err);
				return RECV_FAILED;
			}
			log_info("tunnelled: the migration's sockets ride the "
			    "control connection");
			ctl_conn_init(&d->conn, ctl, ctl, CTL_DEST_REQUEST_MS,
			    0);
			continue;
		}
		if (rc == 1)
			break;
		if (rc < 0 || clock_ms() >= deadline || sig_stop) {
			log_err("no request from the source: %s", rc < 0 ?
			    d->conn.err : sig_stop ? "interrupted" :
			    "timed out");
			return RECV_FAILED;
		}
	}
	d->conn.interval_ms = o->keepalive_ms ? o->keepalive_ms :
	    CTL_KEEPALIVE_MS;
	if (d->req.type != CTL_PREPARE) {
		ctl_dest_refuse(d, "expected a 'prepare' request");
		return RECV_USAGE;
	}
	return 0;
}

static int
ctl_dest_serve(const struct ctl_dest_opts *o, int rfd, int wfd,
    pid_t *pid, struct endpoint *qmp)
{
	struct ctl_dest *d = &ctl_dest;
	struct recv_opts *ro = &d->ro;
	char err[700];
	size_t i, at = 0;
	int rc, attach = o->qmp.kind != 0 || o->domain != NULL;

	memset(d, 0, offsetof(struct ctl_dest, req));
	d->ncreated = 0;
	d->pid = 0;
	d->answered = 0;
	d->guard.fd = -1;
	d->guard.pid = -1;
	d->o = o;
	*pid = 0;
	if ((rc = ctl_dest_request(d, rfd, wfd)) != 0)
		return rc;
	log_info("request: guest '%s', %zu disk(s)%s", d->req.name,
	    d->req.ndisks, d->req.flags & CTL_FL_OFFLINE ? ", offline" : "");
	if (store_init(&d->st, o->config_dir, o->run_dir, err,
	    sizeof(err)) < 0) {
		ctl_dest_refuse(d, err);
		return RECV_USAGE;
	}
	/* Begin's definition, through the hook, under its new name. */
	if (d->req.has_def) {
		if (def_parse(&d->def, d->req.def, d->req.deflen, err,
		    sizeof(err)) < 0 || ctl_dest_hook(d, err, sizeof(err)) < 0 ||
		    (d->req.dname[0] && ctl_dest_rename(d, d->req.dname, err,
		    sizeof(err)) < 0)) {
			ctl_dest_refuse(d, err);
			return RECV_FAILED;
		}
	} else if (!attach || (d->req.flags & CTL_FL_OFFLINE)) {
		ctl_dest_refuse(d, "the source sent no definition (mig-send "
		    "--domain or --definition) and this mig-recv has no QEMU "
		    "(--qmp or --domain)");
		return RECV_USAGE;
	}
	if (d->req.flags & CTL_FL_OFFLINE)
		return ctl_dest_offline(d);
	memset(ro, 0, sizeof(*ro));
	ro->cfg.config_dir = o->config_dir;
	ro->cfg.run_dir = o->run_dir;
	ro->cfg.persistent = !!(d->req.flags & CTL_FL_PERSISTENT);
	ro->cfg.source_def = d->req.has_def ? &d->def : NULL;
	if (attach) {
		ro->qmp = o->qmp;
		ro->cfg.domain = o->domain;
	} else {
		if (ctl_dest_create_disks(d, err, sizeof(err)) < 0)
			goto refuse;
		if (store_lock(&d->st, 0, err, sizeof(err)) < 0)
			goto refuse;
		if (store_run_state(&d->st, d->def.name, NULL) ==
		    STORE_RUN_LIVE) {
			store_unlock(&d->st);
			snprintf(err, sizeof(err), "guest '%.64s' already runs "
			    "here", d->def.name);
			goto refuse;
		}
		rc = launch_start(&d->st, &d->def, LAUNCH_INCOMING, &d->pid,
		    err, sizeof(err));
		store_unlock(&d->st);
		if (rc < 0)
			goto refuse;
		log_info("launched guest '%s' (pid %ld)", d->def.name,
		    (long)d->pid);
		ro->cfg.domain = d->def.name;
	}
	/* A launched QEMU and created disks go with a killed mig-recv,
	 * until the commit. */
	if ((d->pid > 0 || d->ncreated > 0) &&
	    guard_start(&d->guard, ctl_dest_rescue, d) == 0)
		guard_mark(&d->guard, CTL_DEST_MARK_PREPARED);
	if (apply_prepare(&ro->cfg, APPLY_DEST, &ro->qmp, err,
	    sizeof(err)) < 0)
		goto refuse;
	if (d->tun.pid) {
		/* Where our tunnel delivers the source's channels. */
		ro->incoming = d->tun.mig;
		if (d->req.flags & CTL_FL_STORAGE)
			ro->nbd = d->tun.nbd;
	} else if (ctl_dest_endpoint(d, d->req.migrate_uri, &o->incoming,
	    "migrate.sock", &ro->incoming, err, sizeof(err)) < 0 ||
	    ((d->req.flags & CTL_FL_STORAGE) && ctl_dest_endpoint(d,
	    d->req.disks_uri, &o->nbd, "nbd.sock", &ro->nbd, err,
	    sizeof(err)) < 0))
		goto refuse;
	for (i = 0; i < d->req.ndisks; i++)
		at += (size_t)snprintf(d->ids + at, sizeof(d->ids) - at,
		    "%s%s", i ? "," : "", d->req.disk[i].id);
	ro->migrate_disks = (d->req.flags & CTL_FL_STORAGE) && at ? d->ids :
	    NULL;
	ro->postcopy = !!(d->req.flags & CTL_FL_POSTCOPY);
	ro->parallel = !!(d->req.flags & CTL_FL_PARALLEL);
	ro->parallel_connections = d->req.conns ? (int)d->req.conns : 2;
	/* A paused source guest stays paused here. */
	ro->paused = o->paused || !(d->req.flags & CTL_FL_RUNNING);
	ro->timeout_s = o->timeout_s;
	ro->idle_timeout_s = o->idle_timeout_s;
	ro->wait_s = 10;
	ro->verbose = o->verbose;
	ro->json = o->json;
	d->peer.arg = d;
	d->peer.ready = ctl_dest_ready;
	d->peer.tick = ctl_dest_tick;
	d->peer.loaded = ctl_dest_loaded;
	d->peer.tell = ctl_dest_tell;
	ro->peer = &d->peer;
	if (recv_check_opts(ro, err, sizeof(err)) < 0)
		goto refuse;
	rc = recv_run(ro);
	guard_done(&d->guard);
	if (!d->answered)
		ctl_dest_refuse(d, "the destination could not prepare (its "
		    "log says why)");
	if (rc != RECV_OK && rc != RECV_CONFIG) {
		ctl_dest_undo(d);
		return rc;
	}
	*pid = d->pid;
	*qmp = ro->qmp;
	return rc;
refuse:
	ctl_dest_refuse(d, err);
	guard_done(&d->guard);
	ctl_dest_undo(d);
	return RECV_FAILED;
}

int
ctl_dest_session(const struct ctl_dest_opts *o, int rfd, int wfd,
    pid_t *pid, struct endpoint *qmp)
{
	int rc = ctl_dest_serve(o, rfd, wfd, pid, qmp);

	ctl_dest_drain(&ctl_dest);
	if (ctl_dest.tun.pid)
		ctl_tunnel_end(&ctl_dest.tun, ctl_dest.conn.rfd);
	return rc;
}

int
ctl_dest_supervise(pid_t pid, const struct endpoint *qmp)
{
	static struct qemu qe;
	int status, asked = 0;
	pid_t w;

	log_info("supervising the guest's QEMU (pid %ld)", (long)pid);
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			log_err("waitpid: %s", strerror(errno));
			return RECV_FAILED;
		}
		if (sig_stop && asked < 2) {
			sig_stop = 0;
			asked++;
			if (qemu_open(&qe, qmp, "guest's", clock_ms() + 5000,
			    0) == 0) {
				if (asked == 1) {
					log_info("asking the guest to power "
					    "down (again to quit QEMU)");
					qemu_exec(&qe, "system_powerdown", NULL,
					    NULL);
					qemu_close(&qe);
				} else {
					log_info("quitting QEMU");
					qemu_quit(&qe, 10000);
					qemu_close(&qe);
				}
			}
		}
		poll(NULL, 0, 100);
	}
	if (WIFEXITED(status)) {
		log_info("the guest's QEMU exited with status %d",
		    WEXITSTATUS(status));
		return WEXITSTATUS(status);
	}
	log_info("the guest's QEMU was killed by signal %d", WTERMSIG(status));
	return 128 + WTERMSIG(status);
}

/* One connection accepted by --listen: TLS if asked, then the session. */
static int
ctl_dest_accepted(const struct ctl_dest_opts *o, int fd, pid_t *pid,
    struct endpoint *qmp)
{
	char err[300];
	int plain, rc;
	pid_t relay = 0;

	*pid = 0;
	if (o->tls) {
		plain = ctl_tls_wrap(fd, o->tls, 1, clock_ms() +
		    CTL_DEST_TLS_MS, &relay, err, sizeof(err));
		if (plain < 0) {
			/* Refused: the next source may be the right one. */
			log_err("%s", err);
			close(fd);
			return -1;
		}
		fd = plain;
	}
	rc = ctl_dest_session(o, fd, fd, pid, qmp);
	ctl_tls_end(fd, relay);
	return rc;
}

/* Reap the sessions that ended; with all, wait for all of them. */
static void
ctl_dest_reap(pid_t *kids, int *nkids, int all)
{
	int i;
	pid_t w;

	for (i = 0; i < *nkids; i++) {
		do
			w = waitpid(kids[i], NULL, all ? 0 : WNOHANG);
		while (all && w < 0 && errno == EINTR);
		if (w == 0 || (w < 0 && errno == EINTR))
			continue;	/* still running */
		kids[i--] = kids[--*nkids];
	}
}

int
ctl_dest_listen(const struct ctl_dest_opts *o, const struct endpoint *ep,
    int once)
{
	static pid_t kids[CTL_DEST_SESSIONS_MAX];
	struct endpoint qmp;
	char err[300];
	int lfd, fd, i, nkids = 0, rc = RECV_OK;
	pid_t pid;

	lfd = sock_listen(ep, err, sizeof(err));
	if (lfd < 0) {
		log_err("%s", err);
		return RECV_USAGE;
	}
	log_info("listening for sources");
	while (!sig_stop) {
		ctl_dest_reap(kids, &nkids, 0);
		/* A full table stops accepting until a session ends. */
		if (nkids == CTL_DEST_SESSIONS_MAX) {
			poll(NULL, 0, 100);
			continue;
		}
		if (!sock_accept_ready(lfd, clock_ms() + 1000))
			continue;	/* a second's wait: reap, look again */
		fd = sock_accept(lfd, clock_ms() + 1000, err, sizeof(err));
		if (fd < 0) {
			if (sig_stop || errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			log_err("%s", err);
			rc = RECV_FAILED;
			break;
		}
		if (once) {
			rc = ctl_dest_accepted(o, fd, &pid, &qmp);
			if (rc < 0)
				continue;	/* refused TLS: wait on */
			close(lfd);
			if (ep->kind == ENDPOINT_UNIX)
				unlink(ep->path);
			if (pid > 0 && (rc == RECV_OK || rc == RECV_CONFIG))
				return ctl_dest_supervise(pid, &qmp);
			return rc;
		}
		/* Each session in its own process: several at a time, and
		 * one's state never touches another's. */
		pid = fork();
		if (pid == 0) {
			/* Its lines told apart from the other sessions'. */
			static char name[32];

			snprintf(name, sizeof(name), "mig-recv[%ld]",
			    (long)getpid());
			log_init(name, log_verbose());
			close(lfd);
			rc = ctl_dest_accepted(o, fd, &pid, &qmp);
			_exit(rc < 0 ? RECV_FAILED : rc);
		}
		close(fd);
		if (pid < 0)
			log_err("fork: %s; source refused", strerror(errno));
		else
			kids[nkids++] = pid;
	}
	close(lfd);
	if (ep->kind == ENDPOINT_UNIX)
		unlink(ep->path);
	/* Stopped: the sessions in progress end as a stopped one does. */
	for (i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	ctl_dest_reap(kids, &nkids, 1);
	return rc;
}
