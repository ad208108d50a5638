#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/endpoint.h"
#include "base/sock.h"
#include "config/launch.h"
#include "migrate/qemu.h"

#define LAUNCH_QUERY_MS 5000
#define LAUNCH_QUIT_MS 10000

static struct qemu launch_qe;	/* about 1.3 MB: not on the stack */

int
launch_binary(const char *qemu, char *path, size_t len, char *err,
    size_t errlen)
{
	const char *p, *e, *dirs = getenv("PATH");
	struct stat sb;
	size_t n;

	if (qemu[0] == '/') {
		if (stat(qemu, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(qemu, X_OK) == 0) {
			snprintf(path, len, "%s", qemu);
			return 0;
		}
		snprintf(err, errlen, "qemu '%.300s' is not an executable file",
		    qemu);
		return -1;
	}
	for (p = dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; ; p = e + 1) {
		e = strchr(p, ':');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && (size_t)snprintf(path, len, "%.*s/%s", (int)n, p,
		    qemu) < len && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(path, X_OK) == 0)
			return 0;
		if (e == NULL)
			break;
	}
	snprintf(err, errlen, "qemu '%.300s' is not found on PATH", qemu);
	return -1;
}

/* Lock the pid file and write our pid (the process that becomes QEMU). */
static int
launch_pidfile(const char *path)
{
	struct flock fl;
	char buf[32];
	int fd, n;

	/* Not close-on-exec: QEMU's process keeps the lock while it runs. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fcntl(fd, F_SETLK, &fl) < 0 || write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return 0;
}

/* The last line of QEMU's log, for a one-line error. */
static void
launch_log_tail(const struct store *st, const char *name, char *out,
    size_t len)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 16], buf[4096], *s, *e;
	long n;

	out[0] = '\0';
	if (store_run_path(st, name, "log", path, sizeof(path)) < 0 ||
	    (n = store_read_file(path, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	s = strrchr(buf, '\n');
	s = s ? s + 1 : buf;
	if ((e = strchr(s, '\r')) != NULL)
		*e = '\0';
	snprintf(out, len, ": %.400s", s);
}

/* The guest's ctl.sock as an endpoint. */
static int
launch_ctl(const struct store *st, const char *name, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->kind = ENDPOINT_UNIX;
	return store_run_path(st, name, "ctl.sock", ep->path, sizeof(ep->path));
}

int
launch_start(struct store *st, const struct def *d, unsigned flags,
    pid_t *pid, char *err, size_t errlen)
{
	static const char *argv[DEF_ARGS_MAX + 16];
	char bin[4096], dir[STORE_PATH_MAX + DEF_NAME_MAX + 16];
	char qmp[sizeof(dir) + 40], ctl[sizeof(dir) + 40];
	char pidf[sizeof(dir) + 8], logf[sizeof(dir) + 8], deff[sizeof(dir) + 8];
	char why[600];
	struct endpoint ep;
	int i, n = 0, fd, status, rc;
	int64_t deadline;
	pid_t child;

	if (launch_binary(d->qemu, bin, sizeof(bin), err, errlen) < 0)
		return -1;
	/* ctl.sock and qmp.sock have paths of one length. */
	if (store_run_path(st, d->name, "", dir, sizeof(dir)) < 0 ||
	    launch_ctl(st, d->name, &ep) < 0) {
		snprintf(err, errlen, "the run directory's path is too long "
		    "for a unix socket (%s/%s/qmp.sock is over %zu bytes)",
		    st->run_dir, d->name, sizeof(ep.path) - 1);
		return -1;
	}
	snprintf(qmp, sizeof(qmp), "unix:%s/qmp.sock,server=on,wait=off", dir);
	snprintf(ctl, sizeof(ctl), "unix:%s/ctl.sock,server=on,wait=off", dir);
	snprintf(pidf, sizeof(pidf), "%s/pid", dir);
	snprintf(logf, sizeof(logf), "%s/log", dir);
	snprintf(deff, sizeof(deff), "%s/def", dir);
	/* Whatever a dead QEMU left goes first. */
	if (store_run_clean(st, d->name, err, errlen) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (store_write_file(deff, d->text, d->len, 0600, err, errlen) < 0)
		goto fail;
	argv[n++] = bin;
	for (i = 0; i < d->argc; i++)
		argv[n++] = d->argv[i];
	argv[n++] = "-qmp";
	argv[n++] = qmp;
	argv[n++] = "-qmp";
	argv[n++] = ctl;
	if (flags & LAUNCH_PAUSED)
		argv[n++] = "-S";
	if (flags & LAUNCH_INCOMING) {
		argv[n++] = "-incoming";
		argv[n++] = "defer";
	}
	argv[n] = NULL;
	if (flags & LAUNCH_FOREGROUND) {
		if (launch_pidfile(pidf) < 0) {
			snprintf(err, errlen, "cannot lock %s: %s", pidf,
			    strerror(errno));
			goto fail;
		}
		store_unlock(st);
		execv(bin, (char *const *)argv);
		snprintf(err, errlen, "cannot run %s: %s", bin, strerror(errno));
		goto fail;
	}
	child = fork();
	if (child < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (child == 0) {
		setsid();
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		if (launch_pidfile(pidf) < 0) {
			dprintf(2, "mig-config: cannot lock %s: %s\n", pidf,
			    strerror(errno));
			_exit(127);
		}
		execv(bin, (char *const *)argv);
		dprintf(2, "mig-config: cannot run %s: %s\n", bin,
		    strerror(errno));
		_exit(127);
	}
	deadline = clock_ms() + LAUNCH_WAIT_MS;
	for (;;) {
		rc = waitpid(child, &status, WNOHANG);
		if (rc == child) {
			launch_log_tail(st, d->name, why, sizeof(why));
			snprintf(err, errlen, "QEMU exited as it started (%s %d)%s",
			    WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status), why);
			goto fail;
		}
		if (qemu_open(&launch_qe, &ep, "guest's", clock_ms() + 2000,
		    0) == 0) {
			qemu_close(&launch_qe);
			*pid = child;
			return 0;
		}
		if (clock_ms() >= deadline) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			snprintf(err, errlen, "QEMU did not answer on %s within "
			    "%d s", ep.path, LAUNCH_WAIT_MS / 1000);
			goto fail;
		}
		poll(NULL, 0, 50);
	}
fail:
	store_run_clean(st, d->name, why, sizeof(why));
	return -1;
}

static int
launch_active(const char *m)
{
	static const char *const idle[] = {
		"none", "completed", "failed", "cancelled",
	};
	size_t i;

	for (i = 0; i < sizeof(idle) / sizeof(idle[0]); i++)
		if (strcmp(m, idle[i]) == 0)
			return 0;
	return 1;
}

int
launch_query(const struct store *st, const char *name,
    struct launch_status *ls, char *err, size_t errlen)
{
	struct endpoint ep;
	int rc;

	memset(ls, 0, sizeof(*ls));
	if (launch_ctl(st, name, &ep) < 0 ||
	    qemu_open(&launch_qe, &ep, "guest's", clock_ms() +
	    LAUNCH_QUERY_MS, 1) < 0) {
		snprintf(err, errlen, "no answer on %s: %s", ep.path,
		    launch_qe.err);
		return -1;
	}
	rc = qemu_run_state(&launch_qe, ls->run_state, sizeof(ls->run_state));
	if (rc == QEMU_OK)
		rc = qemu_migration_status(&launch_qe, ls->migration,
		    sizeof(ls->migration));
	if (rc != QEMU_OK) {
		snprintf(err, errlen, "%s", launch_qe.err);
		qemu_close(&launch_qe);
		return -1;
	}
	qemu_close(&launch_qe);
	if (strcmp(ls->run_state, "inmigrate") == 0 ||
	    strcmp(ls->run_state, "finish-migrate") == 0 ||
	    (strcmp(ls->run_state, "running") != 0 &&
	    launch_active(ls->migration)))
		snprintf(ls->state, sizeof(ls->state), "in migration");
	else
		snprintf(ls->state, sizeof(ls->state), "%s",
		    strcmp(ls->run_state, "running") == 0 ? "running" : "paused");
	return 0;
}

/* Wait until the guest's QEMU let go of its pid lock (it has exited). */
static int
launch_gone(const struct store *st, const char *name, int64_t ms)
{
	int64_t deadline = clock_ms() + ms;

	while (store_run_state(st, name, NULL) == STORE_RUN_LIVE) {
		if (clock_ms() >= deadline)
			return 0;
		poll(NULL, 0, 50);
	}
	return 1;
}

int
launch_destroy(struct store *st, const char *name, pid_t pid, char *err,
    size_t errlen)
{
	struct endpoint ep;

	if (launch_ctl(st, name, &ep) == 0 && qemu_open(&launch_qe, &ep,
	    "guest's", clock_ms() + LAUNCH_QUERY_MS, 1) == 0) {
		qemu_quit(&launch_qe, LAUNCH_QUIT_MS);
		qemu_close(&launch_qe);
	}
	if (!launch_gone(st, name, LAUNCH_QUIT_MS)) {
		kill(pid, SIGKILL);
		if (!launch_gone(st, name, 5000)) {
			snprintf(err, errlen, "QEMU (pid %ld) does not exit",
			    (long)pid);
			return -1;
		}
	}
	return store_run_clean(st, name, err, errlen);
}
