#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/store.h"

#define STORE_SUFFIX ".def"

/* dir made absolute (QEMU and the other tools may run elsewhere). */
static int
store_dir(char *out, const char *dir, const char *what, char *err,
    size_t errlen)
{
	char cwd[STORE_PATH_MAX];
	int n;

	if (dir[0] == '\0') {
		snprintf(err, errlen, "the %s directory is empty", what);
		return -1;
	}
	if (dir[0] == '/')
		n = snprintf(out, STORE_PATH_MAX, "%s", dir);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		n = -1;
	else
		n = snprintf(out, STORE_PATH_MAX, "%s/%s", cwd, dir);
	if (n < 0 || n >= STORE_PATH_MAX - DEF_NAME_MAX - 16) {
		snprintf(err, errlen, "the %s directory's path '%.100s' is too "
		    "long", what, dir);
		return -1;
	}
	/* QEMU takes ',' in an option value as a separator. */
	if (strchr(out, ',') != NULL) {
		snprintf(err, errlen, "the %s directory '%.100s' has a ',' in "
		    "its path", what, dir);
		return -1;
	}
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int
store_init(struct store *st, const char *config_dir, const char *run_dir,
    char *err, size_t errlen)
{
	const char *e;

	st->lock_fd = -1;
	if (config_dir == NULL)
		config_dir = (e = getenv("MIG_CONFIG_DIR")) && *e ? e : "/etc/mig";
	if (run_dir == NULL)
		run_dir = (e = getenv("MIG_RUN_DIR")) && *e ? e : "/run/mig";
	if (store_dir(st->config_dir, config_dir, "config", err, errlen) < 0 ||
	    store_dir(st->run_dir, run_dir, "run", err, errlen) < 0)
		return -1;
	return 0;
}

/* mkdir -p, the last component with mode. */
static int
store_mkdirs(const char *path, int mode)
{
	char p[STORE_PATH_MAX];
	char *s;

	snprintf(p, sizeof(p), "%s", path);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
store_lock(struct store *st, int optional, char *err, size_t errlen)
{
	char path[STORE_PATH_MAX + 8];
	int fd;

	struct stat sb;

	/* A reader finds nothing running where there is no run directory. */
	if (optional && stat(st->run_dir, &sb) < 0 && errno == ENOENT)
		return 0;
	snprintf(path, sizeof(path), "%s/.lock", st->run_dir);
	if (store_mkdirs(st->run_dir, 0755) < 0 ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		if (optional && (errno == EACCES || errno == EROFS ||
		    errno == EPERM))
			return 0;
		snprintf(err, errlen, "cannot lock the run directory %s: %s",
		    st->run_dir, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "cannot lock %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	st->lock_fd = fd;
	return 0;
}

void
store_unlock(struct store *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

int
store_run_path(const struct store *st, const char *name, const char *file,
    char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s", st->run_dir, name,
	    file[0] ? "/" : "", file);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
store_def_path(const struct store *st, const char *name, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/%s" STORE_SUFFIX, st->config_dir, name);
}

long
store_read_file(const char *path, char *buf, size_t max)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	/* Read one byte past max to tell a file that is too long. */
	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = errno;
			close(fd);
			errno = (int)n;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > max) {
		errno = EFBIG;
		return -1;
	}
	return (long)got;
}

/* Read and parse a definition file: 1, 0 if absent, -1. */
static int
store_load(const char *path, struct def *d, const char *want, char *err,
    size_t errlen)
{
	static char buf[DEF_MAX + 1];
	char why[300];
	long n = store_read_file(path, buf, DEF_MAX);

	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    errno == EFBIG ? "longer than a definition may be" :
		    strerror(errno));
		return -1;
	}
	if (def_parse(d, buf, (size_t)n, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	if (strcmp(d->name, want) != 0) {
		snprintf(err, errlen, "%s: defines '%s', not '%s'", path,
		    d->name, want);
		return -1;
	}
	return 1;
}

int
store_get(const struct store *st, const char *name, struct def *d,
    char *err, size_t errlen)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 8];

	store_def_path(st, name, path, sizeof(path));
	return store_load(path, d, name, err, errlen);
}

int
store_write_file(const char *path, const char *data, size_t len, int mode,
    char *err, size_t errlen)
{
	char tmp[STORE_PATH_MAX + DEF_NAME_MAX + 40], dir[sizeof(tmp)];
	char *slash;
	size_t done = 0;
	ssize_t n;
	int fd, e;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (done < len) {
		n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done < len || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot rename %s into place: %s", tmp,
		    strerror(e));
		return -1;
	}
	/* The rename lasts only once the directory is on disk too. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int
store_put(const struct store *st, const struct def *d, char *err,
    size_t errlen)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 8];

	if (store_mkdirs(st->config_dir, 0755) < 0) {
		snprintf(err, errlen, "cannot create the config directory %s: "
		    "%s", st->config_dir, strerror(errno));
		return -1;
	}
	store_def_path(st, d->name, path, sizeof(path));
	return store_write_file(path, d->text, d->len, 0644, err, errlen);
}

int
store_remove(const struct store *st, const char *name, char *err,
    size_t errlen)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 8];
	int fd;

	store_def_path(st, name, path, sizeof(path));
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot remove %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((fd = open(st->config_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return 1;
}

enum store_run
store_run_state(const struct store *st, const char *name, pid_t *pid)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 16];
	struct flock fl;
	struct stat sb;
	int fd;

	if (store_run_path(st, name, "", path, sizeof(path)) < 0 ||
	    stat(path, &sb) < 0)
		return STORE_RUN_NONE;
	if (store_run_path(st, name, "pid", path, sizeof(path)) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return STORE_RUN_STALE;
	/* QEMU's process took a write lock on the file before it exec'ed
	 * QEMU and holds it until it exits: no pid reuse fools this. */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK) {
		close(fd);
		return STORE_RUN_STALE;
	}
	close(fd);
	if (pid)
		*pid = fl.l_pid;
	return STORE_RUN_LIVE;
}

int
store_run_def(const struct store *st, const char *name, struct def *d,
    char *err, size_t errlen)
{
	char path[STORE_PATH_MAX + DEF_NAME_MAX + 16];

	if (store_run_path(st, name, "def", path, sizeof(path)) < 0)
		return 0;
	return store_load(path, d, name, err, errlen);
}

int
store_run_clean(const struct store *st, const char *name, char *err,
    size_t errlen)
{
	char dir[STORE_PATH_MAX + DEF_NAME_MAX + 16], path[sizeof(dir) + 300];
	struct dirent *e;
	DIR *dp;

	if (store_run_path(st, name, "", dir, sizeof(dir)) < 0)
		return 0;
	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	/* The directory is mig's own: whatever is in it goes. */
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(dp);
	if (rmdir(dir) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
store_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Add the names found in dir (those ending in suffix, or directories). */
static int
store_scan(const char *dir, const char *suffix, char (*names)[DEF_NAME_MAX + 1],
    int n, int max)
{
	char why[200];
	struct dirent *e;
	size_t len, sl = suffix ? strlen(suffix) : 0;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return errno == ENOENT ? n : -1;
	while ((e = readdir(dp)) != NULL && n < max) {
		len = strlen(e->d_name);
		if (suffix) {
			if (len <= sl || strcmp(e->d_name + len - sl, suffix))
				continue;
			len -= sl;
		} else if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
			continue;
		}
		if (len > DEF_NAME_MAX)
			continue;
		memcpy(names[n], e->d_name, len);
		names[n][len] = '\0';
		if (def_name_ok(names[n], why, sizeof(why)))
			n++;
	}
	closedir(dp);
	return n;
}

int
store_names(const struct store *st, char (*names)[DEF_NAME_MAX + 1], int max,
    char *err, size_t errlen)
{
	int n, i, j;

	if ((n = store_scan(st->config_dir, STORE_SUFFIX, names, 0, max)) < 0) {
		snprintf(err, errlen, "cannot list %s: %s", st->config_dir,
		    strerror(errno));
		return -1;
	}
	if ((n = store_scan(st->run_dir, NULL, names, n, max)) < 0) {
		snprintf(err, errlen, "cannot list %s: %s", st->run_dir,
		    strerror(errno));
		return -1;
	}
	qsort(names, (size_t)n, sizeof(names[0]), store_cmp);
	for (i = j = 0; i < n; i++)
		if (j == 0 || strcmp(names[j - 1], names[i]) != 0)
			memmove(names[j++], names[i], sizeof(names[0]));
	return j;
}
