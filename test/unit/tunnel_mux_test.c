/*
 * Session fuzz: mux_run() in a child process, its peer stream a socketpair
 * driven by a small random peer.  It says HELLO, opens four channels to a
 * real unix socket and one to a missing name, waits for the answers, then
 * sends random frames: mostly right (DATA within the credit it was given,
 * CREDIT, EOF, CLOSE, PING in any order), sometimes wrong (beyond credit,
 * after EOF or CLOSE, unknown channels, a flipped bit).  Whatever comes,
 * the session must end with status 0 (after GOODBYE with no mistake) or 1,
 * never crash or hang.  Fixed seed; about 2 s.  MUX_TEST_LOG=1 shows the
 * sessions' own messages.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "tunnel/frame.h"
#include "tunnel/session.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

#define NCH 4

/* What the random peer knows of its channels. */
struct peer {
	int fd;
	struct frame_dec dec;
	uint32_t credit[NCH];	/* ours to send, from ACCEPT and CREDIT */
	int accepted[NCH], eof[NCH], closed[NCH], answers, mistakes, ended;
};

/* Decode what the session sent: answers and credit. */
static void
peer_input(struct peer *p)
{
	static uint8_t buf[65536];
	const uint8_t *data;
	size_t used, dlen, off;
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n; off += used) {
			switch (frame_dec_feed(&p->dec, buf + off, (size_t)n - off,
			    &used, &data, &dlen)) {
			case FRAME_EV_FRAME:
				if (p->dec.f.num > NCH || !p->dec.f.rbit)
					break;
				if (p->dec.f.num == NCH) {
					/* The channel to a name nobody has. */
					p->answers += p->dec.f.type == FRAME_REFUSE;
					break;
				}
				if (p->dec.f.type == FRAME_ACCEPT) {
					p->accepted[p->dec.f.num] = 1;
					p->credit[p->dec.f.num] = p->dec.f.value;
					p->answers++;
				} else if (p->dec.f.type == FRAME_REFUSE)
					p->answers++;
				else if (p->dec.f.type == FRAME_CREDIT)
					p->credit[p->dec.f.num] += p->dec.f.value;
				break;
			case FRAME_EV_ERROR:
				printf("the session sent bad frames: %s\n",
				    p->dec.err);
				p->mistakes = 1000;
				return;
			default:
				break;
			}
		}
	}
	if (n == 0)
		p->ended = 1;
}

/* Send all of buf, decoding the session's output meanwhile. */
static int
peer_send(struct peer *p, const uint8_t *buf, size_t len)
{
	struct pollfd pf = { .fd = p->fd, .events = POLLIN | POLLOUT };
	ssize_t n;

	while (len > 0 && !p->ended) {
		if (poll(&pf, 1, 5000) <= 0)
			return -1;
		if (pf.revents & POLLIN)
			peer_input(p);
		if (pf.revents & POLLOUT) {
			n = write(p->fd, buf, len);
			if (n < 0 && errno != EAGAIN)
				return 0;	/* the session ended */
			if (n > 0) {
				buf += n;
				len -= (size_t)n;
			}
		}
		if (pf.revents & (POLLHUP | POLLERR))
			return 0;
	}
	return 0;
}

/* One frame from the random peer into buf; returns its length. */
static size_t
peer_frame(struct peer *p, uint8_t *buf)
{
	struct frame f;
	uint32_t r = rnd() % 100;
	int k = (int)(rnd() % NCH), wrong = rnd() % 40 == 0;
	size_t n, i;

	memset(&f, 0, sizeof(f));
	f.num = (uint16_t)k;
	if (r < 55) {
		f.type = FRAME_DATA;
		f.len = 1 + rnd() % 4096;
		if (!wrong && (p->eof[k] || p->closed[k] || p->credit[k] == 0))
			f.type = FRAME_PING;
		else if (!wrong && f.len > p->credit[k])
			f.len = p->credit[k];
	} else if (r < 75) {
		f.type = FRAME_CREDIT;
		f.value = 1 + rnd() % 65536;
		if (!wrong && p->closed[k])
			f.type = FRAME_PING;
	} else if (r < 82) {
		f.type = (p->eof[k] || p->closed[k]) && !wrong ? FRAME_PING :
		    FRAME_EOF;
	} else if (r < 86) {
		f.type = p->closed[k] && !wrong ? FRAME_PING : FRAME_CLOSE;
		f.reason = (uint8_t)(rnd() % 3);
	} else if (r < 98) {
		f.type = FRAME_PING;
	} else {
		f.type = (uint8_t)(FRAME_OPEN + rnd() % 9);
		f.num = (uint16_t)(rnd() % 8);
		f.rbit = f.type == FRAME_ACCEPT || f.type == FRAME_REFUSE;
		f.value = rnd() % 70000;
		f.len = 1 + rnd() % 100;
		strcpy(f.name, "t");
		f.namelen = 1;
		wrong = 1;
	}
	if (f.type == FRAME_PING) {
		f.num = 0;
		f.rbit = 0;
		memcpy(f.ping, "pingpong", 8);
	}
	n = frame_encode(buf, &f);
	if (f.type == FRAME_DATA) {
		for (i = 0; i < f.len; i++)
			buf[n + i] = (uint8_t)rnd();
		n += f.len;
		if (f.len <= p->credit[k])
			p->credit[k] -= f.len;
	}
	if (f.type == FRAME_EOF)
		p->eof[k] = 1;
	if (f.type == FRAME_CLOSE)
		p->closed[k] = 1;
	if (rnd() % 200 == 0) {
		buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
		wrong = 1;
	}
	p->mistakes += wrong;
	return n;
}

int
main(void)
{
	static uint8_t stream[64 * (8 + 4096) + 512];
	static const uint8_t hello[] = { 1, 0, 0, 0, 0, 0, 0, 16, 'M', 'I',
	    'G', 'T', 'U', 'N', 'N', 'L', 0, 1, 0, 1, 0, 4, 0, 0 };
	struct mux_route routes[2];
	struct mux_config cfg;
	struct endpoint ep;
	struct peer p;
	struct frame f;
	char dir[] = "/tmp/mux-test.XXXXXX", err[300];
	int64_t deadline;
	sigset_t none;
	size_t len, k, rounds;
	int sv[2], lfd, fd, st, sessions = 0, bad = 0, clean = 0, bye;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&ep, 0, sizeof(ep));
	ep.kind = ENDPOINT_UNIX;
	snprintf(ep.path, sizeof(ep.path), "%s/t", dir);
	lfd = sock_listen(&ep, err, sizeof(err));
	if (lfd < 0) {
		printf("%s\n", err);
		return 1;
	}
	sock_set_nonblock(lfd, 1);
	memset(routes, 0, sizeof(routes));
	strcpy(routes[0].name, "t");
	routes[0].target = ep;
	strcpy(routes[1].name, "gone");
	routes[1].target.kind = ENDPOINT_UNIX;
	snprintf(routes[1].target.path, sizeof(routes[1].target.path),
	    "%s/gone", dir);
	sigemptyset(&none);
	memset(&cfg, 0, sizeof(cfg));
	cfg.routes = routes;
	cfg.nroutes = 2;
	cfg.keepalive_s = 15;
	cfg.peer = "fuzzer";
	cfg.waitmask = &none;
	log_init("tunnel_mux_test", getenv("MUX_TEST_LOG") != NULL);

	deadline = clock_ms() + 2000;
	while (sessions < 5000 && clock_ms() < deadline) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return 1;
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			close(lfd);
			/* Its complaints are expected; keep the log short. */
			if (getenv("MUX_TEST_LOG") == NULL && freopen("/dev/null", "w", stderr) == NULL)
				_exit(9);
			_exit(mux_run(&cfg, sv[1], sv[1]));
		}
		close(sv[1]);
		memset(&p, 0, sizeof(p));
		p.fd = sv[0];
		frame_dec_init(&p.dec, 1u << 20);
		sock_set_nonblock(p.fd, 1);
		/* HELLO, four channels to "t", one to a name nobody has. */
		memcpy(stream, hello, sizeof(hello));
		len = sizeof(hello);
		memset(&f, 0, sizeof(f));
		f.type = FRAME_OPEN;
		f.value = 65536;
		f.namelen = 1;
		strcpy(f.name, "t");
		for (k = 0; k <= NCH; k++) {
			f.num = (uint16_t)k;
			if (k == NCH) {
				strcpy(f.name, "nosuch");
				f.namelen = 6;
			}
			len += frame_encode(stream + len, &f);
		}
		peer_send(&p, stream, len);
		while (p.answers < NCH + 1 && !p.ended && !p.mistakes) {
			struct pollfd pf = { .fd = p.fd, .events = POLLIN };

			if (poll(&pf, 1, 5000) <= 0) {
				printf("session %d: no answers\n", sessions);
				bad++;
				break;
			}
			peer_input(&p);
		}
		/* Random frames, in a few bursts, then goodbye or hang up. */
		for (rounds = 1 + rnd() % 4; rounds > 0 && !p.ended; rounds--) {
			len = 0;
			for (k = 1 + rnd() % 64; k > 0; k--)
				len += peer_frame(&p, stream + len);
			if (peer_send(&p, stream, len) < 0) {
				printf("session %d: the tunnel stopped reading\n",
				    sessions);
				bad++;
			}
		}
		bye = rnd() % 2;
		if (bye) {
			memset(&f, 0, sizeof(f));
			f.type = FRAME_GOODBYE;
			len = frame_encode(stream, &f);
			peer_send(&p, stream, len);
		}
		shutdown(p.fd, SHUT_WR);
		sock_set_nonblock(p.fd, 0);
		while (!p.ended && p.mistakes < 1000)
			peer_input(&p);
		close(p.fd);
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) > 1 ||
		    (bye && !p.mistakes && WEXITSTATUS(st) != 0) ||
		    p.mistakes >= 1000) {
			printf("session %d: status 0x%x after %d mistakes%s\n",
			    sessions, st, p.mistakes, bye ? " and GOODBYE" : "");
			bad++;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			clean++;
		/* The target takes what the session connected, and hangs up. */
		while ((fd = accept(lfd, NULL, NULL)) >= 0)
			close(fd);
		sessions++;
	}
	unlink(ep.path);
	rmdir(dir);
	/* Each session is one check: it ended as a session must. */
	printf("# %d random sessions, %d ended cleanly\n", sessions, clean);
	printf("%d passed, %d failed\n", sessions - bad, bad);
	return bad ? 1 : 0;
}
