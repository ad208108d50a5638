#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "base/sig.h"
#include "base/sock.h"

#define SOCK_RETRY_MS	20	/* a full unix backlog: try again after */

int64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
sock_fail(char *err, size_t errlen, const struct endpoint *ep, const char *what)
{
	char name[300];
	int saved = errno;

	endpoint_format(ep, name, sizeof(name));
	snprintf(err, errlen, "%s %s: %s", what, name, strerror(saved));
	errno = saved;
	return -1;
}

/*
 * Wait for events on fd (none: just wait) until deadline_ms, taking the
 * signals waitmask lets through (NULL: the current mask).
 */
static int
sock_poll_mask(int fd, short events, int64_t deadline_ms,
    const sigset_t *waitmask)
{
	struct pollfd p = { .fd = fd, .events = events };
	struct timespec ts, *tsp;
	int64_t left;
	int rc;

	for (;;) {
		tsp = NULL;
		if (deadline_ms) {
			left = deadline_ms - clock_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (long)(left % 1000) * 1000000;
			tsp = &ts;
		}
		rc = ppoll(&p, fd >= 0, tsp, waitmask);
		if (rc > 0)
			return 0;
		/* A stopping signal gives up (EINTR); any other (SIGUSR1,
		 * which asks for post-copy later on) goes on waiting. */
		if (rc < 0 && (errno != EINTR || sig_stop))
			return -1;
		if (rc < 0)
			continue;
		if (fd < 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

static int
sock_poll_until(int fd, short events, int64_t deadline_ms)
{
	return sock_poll_mask(fd, events, deadline_ms, NULL);
}

int
sock_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int
sock_set_cloexec(int fd)
{
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int
sock_unix_addr(const struct endpoint *ep, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(ep->path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, ep->path);
	return 0;
}

/*
 * Connect fd to addr, nonblocking so the deadline holds, then blocking.
 * A unix listener whose backlog is full refuses at once (EAGAIN) rather
 * than making us wait: try again every SOCK_RETRY_MS until the deadline.
 */
static int
sock_connect_addr(int fd, const struct sockaddr *sa, socklen_t salen,
    int64_t deadline_ms, const sigset_t *waitmask)
{
	int64_t next;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (sock_set_nonblock(fd, 1) < 0)
		return -1;
	while (connect(fd, sa, salen) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
			next = clock_ms() + SOCK_RETRY_MS;
			if (deadline_ms && next > deadline_ms)
				next = deadline_ms;
			if (sock_poll_mask(-1, 0, next, waitmask) < 0 &&
			    (errno != ETIMEDOUT || (deadline_ms &&
			    clock_ms() >= deadline_ms)))
				return -1;
			continue;
		}
		if (errno != EINPROGRESS)
			return -1;
		if (sock_poll_mask(fd, POLLOUT, deadline_ms, waitmask) < 0)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			return -1;
		if (soerr != 0) {
			errno = soerr;
			return -1;
		}
		break;
	}
	return sock_set_nonblock(fd, 0);
}

int
sock_connect(const struct endpoint *ep, int64_t deadline_ms, char *err,
    size_t errlen)
{
	return sock_connect_mask(ep, deadline_ms, NULL, err, errlen);
}

int
sock_connect_mask(const struct endpoint *ep, int64_t deadline_ms,
    const sigset_t *waitmask, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct sockaddr_un sun;
	int fd, rc, one = 1;

	if (ep->kind == ENDPOINT_UNIX) {
		if (sock_unix_addr(ep, &sun) < 0)
			return sock_fail(err, errlen, ep, "cannot connect to");
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return sock_fail(err, errlen, ep, "socket for");
		if (sock_connect_addr(fd, (struct sockaddr *)&sun, sizeof(sun),
		    deadline_ms, waitmask) < 0) {
			sock_fail(err, errlen, ep, "cannot connect to");
			close(fd);
			return -1;
		}
		return fd;
	}
	if (ep->kind != ENDPOINT_TCP) {
		errno = EINVAL;
		return sock_fail(err, errlen, ep, "cannot connect to");
	}
	rc = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", ep->host,
		    gai_strerror(rc));
		return -1;
	}
	fd = -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (sock_connect_addr(fd, ai->ai_addr, ai->ai_addrlen,
		    deadline_ms, waitmask) == 0)
			break;
		rc = errno;
		close(fd);
		errno = rc;
		fd = -1;
		if (rc == EINTR)
			break;	/* told to stop: not the next address */
	}
	freeaddrinfo(res);
	if (fd < 0)
		return sock_fail(err, errlen, ep, "cannot connect to");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
sock_unix_reclaim(const struct endpoint *ep, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(ep->path, &st) < 0)
		return errno == ENOENT ? 0 : sock_fail(err, errlen, ep, "cannot stat");
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return sock_fail(err, errlen, ep, "refusing to replace non-socket");
	}
	fd = sock_connect(ep, clock_ms() + 1000, err, errlen);
	if (fd >= 0) {
		close(fd);
		errno = EADDRINUSE;
		return sock_fail(err, errlen, ep, "another process listens on");
	}
	/* Only a refusal proves nobody listens: a full backlog, a denied
	 * connect or a timeout may be a live listener we must not unlink. */
	if (errno != ECONNREFUSED)
		return sock_fail(err, errlen, ep, "cannot tell whether anyone "
		    "listens on");
	if (unlink(ep->path) < 0 && errno != ENOENT)
		return sock_fail(err, errlen, ep, "cannot remove stale socket");
	return 0;
}

int
sock_listen(const struct endpoint *ep, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE }, *res;
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc, one = 1;

	if (ep->kind == ENDPOINT_UNIX) {
		if (sock_unix_addr(ep, &sun) < 0)
			return sock_fail(err, errlen, ep, "cannot listen on");
		if (sock_unix_reclaim(ep, err, errlen) < 0)
			return -1;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return sock_fail(err, errlen, ep, "socket for");
		/* The umask makes the socket 0600 from its creation on. */
		old = umask(0177);
		rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
		if (rc < 0 || listen(fd, 64) < 0) {
			sock_fail(err, errlen, ep, "cannot listen on");
			close(fd);
			return -1;
		}
		return fd;
	}
	if (ep->kind != ENDPOINT_TCP) {
		errno = EINVAL;
		return sock_fail(err, errlen, ep, "cannot listen on");
	}
	rc = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", ep->host,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return sock_fail(err, errlen, ep, "socket for");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		sock_fail(err, errlen, ep, "cannot listen on");
		freeaddrinfo(res);
		close(fd);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
sock_accept(int lfd, int64_t deadline_ms, char *err, size_t errlen)
{
	int fd;

	for (;;) {
		if (sock_poll_until(lfd, POLLIN, deadline_ms) < 0) {
			snprintf(err, errlen, "accept: %s", strerror(errno));
			return -1;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			snprintf(err, errlen, "accept: %s", strerror(errno));
			return -1;
		}
	}
	sock_set_nonblock(fd, 0);
	return fd;
}

int
sock_accept_ready(int lfd, int64_t deadline_ms)
{
	return sock_poll_until(lfd, POLLIN, deadline_ms) == 0;
}

int
sock_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (sock_poll_until(fd, POLLOUT, deadline_ms) < 0)
			return -1;
	}
	return 0;
}

int
sock_send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	/* The fd travels with the first byte; the rest is ordinary data. */
	if ((size_t)n < len)
		return sock_write_all(sock, (const char *)buf + n, len - (size_t)n, 0);
	return 0;
}

int
sock_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int
sock_set_context(const char *context, char *err, size_t errlen)
{
	size_t len = strlen(context);
	ssize_t n;
	int fd, saved;

	/* Read by the kernel at each socket() this thread makes afterwards
	 * (libselinux's setsockcreatecon writes the same file). */
	fd = open("/proc/thread-self/attr/sockcreate", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "--socket-context %s: cannot open "
		    "/proc/thread-self/attr/sockcreate: %s (is SELinux enabled "
		    "and /proc mounted?)", context, strerror(saved));
		errno = saved;
		return -1;
	}
	do
		n = write(fd, context, len);
	while (n < 0 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n < 0 || (size_t)n != len) {
		snprintf(err, errlen, "--socket-context %s: the kernel refuses "
		    "the label: %s (is SELinux enabled, and the context "
		    "valid?)",
		    context, n < 0 ? strerror(saved) : "short write");
		errno = n < 0 ? saved : EIO;
		return -1;
	}
	return 0;
}

pid_t
sock_peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred))
		return -1;
	return cred.pid;
}

int
sock_path_seen_by(pid_t pid, const char *path, char *err, size_t errlen)
{
	char there[4200];
	struct stat ours, theirs;

	if (pid <= 0) {
		snprintf(err, errlen, "QEMU's process is not visible from here "
		    "(another PID namespace?)");
		return -1;
	}
	snprintf(there, sizeof(there), "/proc/%ld", (long)pid);
	if (stat(there, &theirs) < 0) {
		snprintf(err, errlen, "cannot look at QEMU's process (%s: %s; "
		    "is /proc mounted?)", there, strerror(errno));
		return -1;
	}
	/* QEMU resolves the path in its own root, a relative one from its
	 * own working directory. */
	snprintf(there, sizeof(there), "/proc/%ld/%s/%s", (long)pid,
	    path[0] == '/' ? "root" : "cwd", path);
	if (stat(path, &ours) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(there, &theirs) < 0) {
		snprintf(err, errlen, "QEMU (pid %ld) cannot see %s (%s: %s)",
		    (long)pid, path, there, strerror(errno));
		return -1;
	}
	if (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino) {
		snprintf(err, errlen, "QEMU (pid %ld) sees another file at %s "
		    "than this process does", (long)pid, path);
		return -1;
	}
	return 0;
}
