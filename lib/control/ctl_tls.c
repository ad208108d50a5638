#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "control/ctl_tls.h"
#include "tls/tls.h"

#define CTL_TLS_CLOSE_MS 2000	/* a clean close_notify at the end */

static struct tls_conn *ctl_tls_c;	/* one session per process */

/* The relay: plaintext on plain <-> TLS on fd, until either ends. */
static void
ctl_tls_relay(struct tls_conn *c, int fd, int plain)
{
	struct pollfd p[2];
	unsigned char *b;
	size_t len;
	ssize_t n;
	int mask, plain_open = 1;
	int64_t until = 0;

	sock_set_nonblock(plain, 1);
	for (;;) {
		/* Decrypted input to the plaintext side. */
		while ((b = tls_recv_buf(c, &len)) != NULL && len > 0) {
			n = write(plain, b, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				p[0].fd = plain;
				p[0].events = POLLOUT;
				poll(p, 1, 1000);
				continue;
			}
			if (n <= 0)
				_exit(0);
			tls_recv_ack(c, (size_t)n);
		}
		/* Plaintext to seal. */
		if (plain_open && (b = tls_send_buf(c, &len)) != NULL &&
		    len > 0) {
			n = read(plain, b, len);
			if (n > 0) {
				tls_send_ack(c, (size_t)n);
				tls_flush(c);
			} else if (n == 0 || (errno != EAGAIN &&
			    errno != EINTR)) {
				plain_open = 0;
				tls_close(c);
				until = clock_ms() + CTL_TLS_CLOSE_MS;
			}
		}
		mask = tls_pump(c, fd);
		if (mask < 0 || (!plain_open && clock_ms() >= until))
			_exit(0);
		p[0].fd = fd;
		p[0].events = (short)((mask & TLS_WANT_READ ? POLLIN : 0) |
		    (mask & TLS_WANT_WRITE ? POLLOUT : 0));
		p[1].fd = plain_open ? plain : -1;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if ((b = tls_recv_buf(c, &len)) != NULL && len > 0)
			continue;
		poll(p, 2, plain_open ? 5000 : CTL_TLS_CLOSE_MS);
	}
}

int
ctl_tls_wrap(int fd, const struct tls_config *cfg, int is_server,
    int64_t deadline_ms, pid_t *relay, char *err, size_t errlen)
{
	struct sigaction sa;
	struct pollfd p;
	int64_t now;
	int mask, sv[2];
	pid_t pid;

	if (ctl_tls_c == NULL && (ctl_tls_c = malloc(tls_conn_size())) ==
	    NULL) {
		snprintf(err, errlen, "TLS: out of memory");
		return -1;
	}
	if (tls_conn_start(ctl_tls_c, cfg, is_server, err, errlen) < 0)
		return -1;
	sock_set_nonblock(fd, 1);
	while (!tls_ready(ctl_tls_c)) {
		mask = tls_pump(ctl_tls_c, fd);
		if (mask < 0) {
			snprintf(err, errlen, "TLS handshake failed: %s",
			    tls_closed_cleanly(ctl_tls_c) ? "the peer closed" :
			    tls_error(ctl_tls_c));
			return -1;
		}
		if (tls_ready(ctl_tls_c))
			break;
		now = clock_ms();
		if (now >= deadline_ms) {
			snprintf(err, errlen, "TLS handshake: no answer in time "
			    "(is the peer speaking TLS?)");
			return -1;
		}
		p.fd = fd;
		p.events = (short)((mask & TLS_WANT_READ ? POLLIN : 0) |
		    (mask & TLS_WANT_WRITE ? POLLOUT : 0));
		if (poll(&p, 1, (int)(deadline_ms - now)) < 0 &&
		    errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* The tool handles its stopping signals; the relay ends
		 * when the tool closes its end. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		close(sv[0]);
		ctl_tls_relay(ctl_tls_c, fd, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	close(fd);
	*relay = pid;
	return sv[0];
}

void
ctl_tls_end(int plain, pid_t relay)
{
	close(plain);
	if (relay > 0)
		while (waitpid(relay, NULL, 0) < 0 && errno == EINTR)
			;
}

int
ctl_tls_options(const char *opt, int given, int tcp, int insecure,
    const struct ctl_tls_files *f, struct tls_config **cfg)
{
	char err[300];

	*cfg = NULL;
	if ((f->cert || f->key || f->ca || f->peer_name) && (!given ||
	    !f->cert || !f->key || !f->ca)) {
		log_err("TLS needs %s and all of --tls-cert, --tls-key and "
		    "--tls-ca", opt);
		return -1;
	}
	if (given && tcp && !insecure && !f->ca) {
		log_err("%s tcp: needs --tls-cert, --tls-key and --tls-ca "
		    "(mutual TLS), or --insecure", opt);
		return -1;
	}
	if (f->ca && (*cfg = tls_config_load(f->cert, f->key, f->ca,
	    f->peer_name, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}
