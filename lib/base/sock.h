#ifndef MIG_SOCK_H
#define MIG_SOCK_H
/*
 * Socket helpers shared by every program.  All return -1 with a one-line
 * reason in err on failure; none of them exits or logs.
 */
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/endpoint.h"

/* Milliseconds on the monotonic clock; deadlines are expressed in it. */
int64_t clock_ms(void);

/*
 * Connect to a unix or tcp endpoint, blocking, giving up at deadline_ms
 * (clock_ms() time; 0 = no deadline; errno ETIMEDOUT) or when a stopping
 * signal (base/sig.h: sig_stop set) interrupts the wait (errno EINTR); any
 * other signal, SIGUSR1 for one, is waited through.  A unix listener with a full backlog
 * is tried again until the deadline.  The fd is close-on-exec, blocking.
 */
int sock_connect(const struct endpoint *ep, int64_t deadline_ms, char *err,
    size_t errlen);

/*
 * sock_connect, waiting with waitmask as the signal mask (ppoll), for a
 * caller that blocks its stop signals outside its waits: one arriving
 * while we connect ends the wait (EINTR) instead of staying pending.
 */
int sock_connect_mask(const struct endpoint *ep, int64_t deadline_ms,
    const sigset_t *waitmask, char *err, size_t errlen);

/*
 * Listen on a unix or tcp endpoint.  A unix socket is created mode 0600; an
 * existing file at its path is replaced only if it is a socket nobody
 * listens on (a stale one), never a regular file.  The fd is close-on-exec.
 */
int sock_listen(const struct endpoint *ep, char *err, size_t errlen);

/*
 * Make a unix socket path free for a listener: nothing there, or a stale
 * socket, which is removed only when a connect proves it dead
 * (ECONNREFUSED).  A live socket, one whose state cannot be told, or any
 * other file is an error.
 */
int sock_unix_reclaim(const struct endpoint *ep, char *err, size_t errlen);

/*
 * Accept one connection, waiting at most until deadline_ms (0 = forever);
 * a signal ends the wait (EINTR).
 */
int sock_accept(int lfd, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Wait until deadline_ms (0 = forever) for a connection to accept on lfd:
 * 1 if one is pending, 0 on the deadline, a stopping signal or an error.
 */
int sock_accept_ready(int lfd, int64_t deadline_ms);

int sock_set_nonblock(int fd, int on);
int sock_set_cloexec(int fd);

/*
 * Write all of buf, waiting for POLLOUT as needed (fd may be nonblocking),
 * until deadline_ms (0 = none).  Returns 0 or -1 (errno set; ETIMEDOUT on
 * deadline, EINTR on a signal).
 */
int sock_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms);

/*
 * Send buf with one file descriptor attached (SCM_RIGHTS), as QMP's getfd
 * expects.  Returns 0 or -1 (errno set).
 */
int sock_send_with_fd(int sock, const void *buf, size_t len, int fd);

/*
 * Label every socket this thread creates from now on with the SELinux
 * context (the kernel's /proc/thread-self/attr/sockcreate; no library).
 * Returns 0, or -1 with a one-line reason (a kernel without SELinux
 * refuses: EINVAL, or ENOENT without the file).
 */
int sock_set_context(const char *context, char *err, size_t errlen);

/* The pid of the process at the other end of unix socket fd (SO_PEERCRED),
 * 0 if it is outside our PID namespace, -1 on error. */
pid_t sock_peer_pid(int fd);

/*
 * Does process pid see, at path (as it would resolve it: in its root, or
 * its working directory if relative), the same file as we do?  Looked up
 * under /proc/PID/.  Returns 0, or -1 with a one-line reason.
 */
int sock_path_seen_by(pid_t pid, const char *path, char *err, size_t errlen);

/* Nonzero if fd is a socket (so it is bidirectional and can be shut down). */
int sock_is_socket(int fd);

#endif
