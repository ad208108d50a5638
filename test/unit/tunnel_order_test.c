/*
 * Channels to one target connect in the order they were opened (commit
 * 440b28c): QEMU 7.2 tells a migration's channels apart only by the order
 * in which they reach its listening socket.  mux_run() runs in a child,
 * its peer stream a socketpair spoken to in raw frames; the target is a
 * unix socket whose backlog holds one pending connection.  Channel 0
 * fills it and channel 1 finds it full, so it waits for its retry timer.
 * Then, again and again, the target accepts one connection and the next
 * channel is opened at once.  The session is stopped (SIGSTOP) meanwhile,
 * so that it sees the room and the OPEN together, before the waiting
 * channel's timer can fire: a session that lets the new channel connect
 * at once puts it ahead of the one waiting, every time.  Each channel's
 * first byte is its number, so the target reads the order of arrival; it
 * must be the opening order, for 3 channels and for 5.  MUX_TEST_LOG=1
 * shows the sessions' own messages.
 */
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
#include "tunnel/frame.h"
#include "tunnel/session.h"

#include "check.h"

#define NCH	5
#define WAIT_MS	5000

/* The test's side of a session: the peer stream and the target. */
struct peer {
	int fd;			/* the session's peer stream */
	int lfd;		/* the target's listener */
	int take;		/* accept connections on lfd as they come */
	int pending;		/* a connection waits on lfd, not taken */
	int pinged, ponged;	/* PINGs sent, last one answered */
	int answer[NCH];	/* 1: ACCEPT, -1: REFUSE */
	int conn[NCH];		/* the target's connections, as accepted */
	int nconn;
	int ended;
	struct frame_dec dec;
};

static void
peer_send(struct peer *p, const uint8_t *buf, size_t len)
{
	if (sock_write_all(p->fd, buf, len, clock_ms() + WAIT_MS) < 0)
		p->ended = 1;
}

/* The session's frames: answers, PONGs; each ACCEPTed channel says its number. */
static void
peer_input(struct peer *p)
{
	const struct frame *f = &p->dec.f;
	const uint8_t *data;
	uint8_t buf[4096], d[FRAME_HDR_LEN + 1];
	size_t off, used, dlen;
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n; off += used) {
			switch (frame_dec_feed(&p->dec, buf + off,
			    (size_t)n - off, &used, &data, &dlen)) {
			case FRAME_EV_ERROR:
				printf("# the session sent bad frames: %s\n",
				    p->dec.err);
				p->ended = 1;
				return;
			case FRAME_EV_FRAME:
				break;
			default:
				continue;
			}
			if (f->type == FRAME_PONG)
				p->ponged = f->ping[0] << 8 | f->ping[1];
			if ((f->type != FRAME_ACCEPT &&
			    f->type != FRAME_REFUSE) || f->num >= NCH)
				continue;
			p->answer[f->num] = f->type == FRAME_ACCEPT ? 1 : -1;
			if (f->type == FRAME_REFUSE ||
			    !CHECKM(f->value >= 1, "ACCEPT grants credit"))
				continue;
			frame_data_hdr(d, 0, f->num, 1);
			d[FRAME_HDR_LEN] = (uint8_t)f->num;
			peer_send(p, d, sizeof(d));
		}
	}
	if (n == 0 || errno != EAGAIN)
		p->ended = 1;
}

static void
peer_ping(struct peer *p)
{
	uint8_t buf[FRAME_HDR_LEN + FRAME_PING_LEN];
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_PING;
	p->pinged++;
	f.ping[0] = (uint8_t)(p->pinged >> 8);
	f.ping[1] = (uint8_t)p->pinged;
	peer_send(p, buf, frame_encode(buf, &f));
}

static void
target_accept(struct peer *p)
{
	int fd = accept(p->lfd, NULL, NULL);

	p->pending = 0;
	if (fd >= 0 && p->nconn < NCH)
		p->conn[p->nconn++] = fd;
	else if (fd >= 0)
		close(fd);
}

/*
 * Serve the session and the target until *v >= want; 0 if that takes 5 s.
 * The peer stays silent meanwhile: a channel connected on a retry must be
 * answered without anything else waking the session.
 */
static int
peer_wait(struct peer *p, const int *v, int want)
{
	int64_t end = clock_ms() + WAIT_MS, left;
	struct pollfd pf[2];
	int n;

	while (*v < want && !p->ended && (left = end - clock_ms()) > 0) {
		pf[0].fd = p->fd;
		pf[1].fd = p->take || !p->pending ? p->lfd : -1;
		pf[0].events = pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		n = poll(pf, 2, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			peer_input(p);
		if ((pf[1].revents & POLLIN) && p->take)
			target_accept(p);
		else if (pf[1].revents & POLLIN)
			p->pending = 1;
	}
	return *v >= want;
}

/* OPEN channel num to "t", then a PING: its PONG says the OPEN was taken in. */
static void
peer_open(struct peer *p, int num)
{
	uint8_t buf[FRAME_HDR_LEN + FRAME_CTL_MAX];
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_OPEN;
	f.num = (uint16_t)num;
	f.value = 65536;
	f.namelen = 1;
	strcpy(f.name, "t");
	peer_send(p, buf, frame_encode(buf, &f));
	peer_ping(p);
}

/* The first byte on a target connection: the channel it belongs to. */
static int
target_first(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	uint8_t b;

	if (poll(&pf, 1, WAIT_MS) != 1 || read(fd, &b, 1) != 1)
		return -1;
	return b;
}

/* A session opening n channels to the target while it accepts one by one. */
static void
scenario(const struct mux_config *cfg, int lfd, int n)
{
	static const uint8_t hello[] = { 1, 0, 0, 0, 0, 0, 0, 16, 'M', 'I',
	    'G', 'T', 'U', 'N', 'N', 'L', 0, 1, 0, 1, 0, 4, 0, 0 };
	static const uint8_t bye[] = { FRAME_GOODBYE, 0, 0, 0, 0, 0, 0, 0 };
	struct peer p;
	char what[96];
	int sv[2], st, k, got, reaped = 0;
	pid_t pid;

	memset(&p, 0, sizeof(p));
	p.lfd = lfd;
	frame_dec_init(&p.dec, 1u << 20);
	if (!CHECKM(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair"))
		return;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(lfd);
		_exit(mux_run(cfg, sv[1], sv[1]));
	}
	close(sv[1]);
	p.fd = sv[0];
	sock_set_nonblock(p.fd, 1);
	peer_send(&p, hello, sizeof(hello));

	/* Channel 0 fills the target's backlog; channel 1 finds it full. */
	peer_open(&p, 0);
	CHECKM(peer_wait(&p, &p.ponged, p.pinged), "PONG after OPEN 0");
	CHECKM(peer_wait(&p, &p.answer[0], 1), "channel 0 is accepted");
	peer_open(&p, 1);
	CHECKM(peer_wait(&p, &p.ponged, p.pinged), "PONG after OPEN 1");
	CHECKM(p.answer[1] == 0, "channel 1 waits for the backlog");

	/* Room for one, and at once the next channel: it must queue. */
	for (k = 2; k < n; k++) {
		if (!CHECKM(peer_wait(&p, &p.pending, 1),
		    "a connection waits at the target"))
			break;
		if (!CHECKM(kill(pid, SIGSTOP) == 0 &&
		    waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st),
		    "the session stops")) {
			reaped = 1;
			break;
		}
		target_accept(&p);
		peer_open(&p, k);
		kill(pid, SIGCONT);
		snprintf(what, sizeof(what), "PONG after OPEN %d", k);
		CHECKM(peer_wait(&p, &p.ponged, p.pinged), what);
	}

	/* The rest as they come; each says which channel it is. */
	p.take = 1;
	for (k = 0; k < n; k++) {
		snprintf(what, sizeof(what), "channel %d of %d accepted", k, n);
		CHECKM(peer_wait(&p, &p.answer[k], 1), what);
	}
	snprintf(what, sizeof(what), "%d connections at the target", n);
	CHECKM(peer_wait(&p, &p.nconn, n), what);
	for (k = 0; k < p.nconn; k++) {
		got = target_first(p.conn[k]);
		snprintf(what, sizeof(what), "%d channels: connection %d to "
		    "arrive is channel %d", n, k, got);
		CHECKM(got == k, what);
	}

	peer_send(&p, bye, sizeof(bye));
	if (!reaped) {
		if (!peer_wait(&p, &p.ended, 1))
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == MUX_CLEAN,
		    "the session ends cleanly on GOODBYE");
	}
	for (k = 0; k < p.nconn; k++)
		close(p.conn[k]);
	close(p.fd);
	/* Whatever a failed run left queued must not reach the next one. */
	while ((k = accept(lfd, NULL, NULL)) >= 0)
		close(k);
}

int
main(void)
{
	struct mux_route route;
	struct mux_config cfg;
	char dir[] = "/tmp/mux-order.XXXXXX", err[300];
	sigset_t none;
	int lfd;

	signal(SIGPIPE, SIG_IGN);
	log_init("tunnel_order_test", getenv("MUX_TEST_LOG") != NULL);
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&route, 0, sizeof(route));
	strcpy(route.name, "t");
	route.target.kind = ENDPOINT_UNIX;
	snprintf(route.target.path, sizeof(route.target.path), "%s/t", dir);
	lfd = sock_listen(&route.target, err, sizeof(err));
	/* Linux: backlog 0 holds one pending connection, then EAGAIN. */
	if (lfd < 0 || listen(lfd, 0) < 0 || sock_set_nonblock(lfd, 1) < 0) {
		printf("%s\n", lfd < 0 ? err : strerror(errno));
		return 1;
	}
	sigemptyset(&none);
	memset(&cfg, 0, sizeof(cfg));
	cfg.routes = &route;
	cfg.nroutes = 1;
	cfg.peer = "the test";
	cfg.waitmask = &none;

	scenario(&cfg, lfd, 3);
	scenario(&cfg, lfd, NCH);

	close(lfd);
	unlink(route.target.path);
	rmdir(dir);
	return check_done();
}
