/*
 * The session's channel table, driven from bytes (mux_feed), no poll: a
 * local channel is open, the peer has all 1024 of its numbers in use and
 * each already answered by our CLOSE; then, in one read, the peer closes
 * all 1024 and opens all 1024 again.  Released channels wait in the table
 * until the round ends, so this once wrote past its end.  The session must
 * refuse the 1024 new ones (no such name), keep the local channel working,
 * and end cleanly on GOODBYE.  Then, in a new session: OPENs of local
 * connections that wait together go out in the order the connections
 * came, whatever channel the round starts with (QEMU 7.2 tells the main
 * stream from the multifd channels by that order).  MUX_TEST_LOG=1 shows
 * the session's messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

#include "base/log.h"
#include "tunnel/frame.h"
#include "tunnel/session.h"

#define BATCH 32

/* What the session sent, counted by type (frames of peer-opened channels). */
struct seen {
	struct frame_dec dec;
	unsigned n[FRAME_TYPE_MAX + 1];
	unsigned refuse_name, local_open;
	unsigned opened[8];	/* the numbers of the first OPENs, in order */
};

static void
drain(int fd, struct seen *w)
{
	static uint8_t buf[65536];
	const uint8_t *data;
	size_t used, dlen, off;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < (size_t)n; off += used)
			switch (frame_dec_feed(&w->dec, buf + off,
			    (size_t)n - off, &used, &data, &dlen)) {
			case FRAME_EV_FRAME:
				if (w->dec.f.type == FRAME_OPEN &&
				    w->local_open < 8)
					w->opened[w->local_open] = w->dec.f.num;
				if (w->dec.f.type == FRAME_OPEN)
					w->local_open++;
				else if (w->dec.f.rbit)
					w->n[w->dec.f.type]++;
				if (w->dec.f.type == FRAME_REFUSE &&
				    w->dec.f.reason == FRAME_REFUSE_NAME)
					w->refuse_name++;
				break;
			case FRAME_EV_ERROR:
				printf("the session sent bad frames: %s\n",
				    w->dec.err);
				exit(1);
			default:
				break;
			}
}

/* Append a control frame to buf at *len. */
static void
put(uint8_t *buf, size_t *len, int type, int rbit, unsigned num,
    uint32_t value, const char *name)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = (uint8_t)type;
	f.rbit = (uint8_t)rbit;
	f.num = (uint16_t)num;
	f.value = value;
	f.vmin = f.vmax = FRAME_VERSION;
	f.reason = FRAME_CLOSE_ABORT;
	if (name != NULL) {
		f.namelen = (uint8_t)strlen(name);
		memcpy(f.name, name, f.namelen);
	}
	*len += frame_encode(buf + *len, &f);
}

static void
put_data(uint8_t *buf, size_t *len, int rbit, unsigned num, const char *p)
{
	frame_data_hdr(buf + *len, rbit, num, (uint32_t)strlen(p));
	memcpy(buf + *len + FRAME_HDR_LEN, p, strlen(p));
	*len += FRAME_HDR_LEN + strlen(p);
}

/*
 * One channel open, the round moved on, then three connections at once:
 * their OPENs must leave in the order mux_open() took them.
 */
static void
open_order(void)
{
	static const char *const names[] = { "a", "main", "multifd0", "multifd1" };
	struct mux_config cfg;
	struct seen w;
	struct mux *s;
	uint8_t buf[256];
	size_t len;
	int sp[2], lp[2], num[4], i, k;

	memset(&cfg, 0, sizeof(cfg));
	cfg.peer = "the test peer";
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	memset(&w, 0, sizeof(w));
	frame_dec_init(&w.dec, FRAME_DATA_LIMIT);
	s = mux_new(&cfg, sp[0], sp[0]);
	if (!CHECK(s != NULL))
		return;
	for (i = 0; i < 4; i++) {
		socketpair(AF_UNIX, SOCK_STREAM, 0, lp);
		num[i] = mux_open(s, names[i], lp[0]);
		CHECK(num[i] >= 0);
		if (i > 0)
			continue;
		len = 0;
		put(buf, &len, FRAME_HELLO, 0, 0, 65536, NULL);
		CHECK(mux_feed(s, buf, len));
		/* Rounds that move where the next one starts. */
		for (k = 0; k < 2; k++) {
			len = 0;
			put(buf, &len, FRAME_PING, 0, 0, 0, NULL);
			CHECK(mux_feed(s, buf, len));
		}
	}
	len = 0;
	put(buf, &len, FRAME_PING, 0, 0, 0, NULL);
	CHECK(mux_feed(s, buf, len));
	drain(sp[1], &w);
	CHECKM(w.local_open == 4, "four OPENs went out");
	for (i = 0; i < 4; i++)
		CHECKM(w.opened[i] == (unsigned)num[i],
		    "OPENs in the order of the connections");
	mux_free(s);
	close(sp[1]);
}

int
main(void)
{
	static uint8_t buf[FRAME_CHANS * 32];
	char dir[] = "/tmp/tunnel-chans-XXXXXX", got[16];
	struct mux_route route;
	struct mux_config cfg;
	struct sockaddr_un sun;
	struct seen w;
	struct mux *s;
	size_t len;
	unsigned b, i, accepted = 0;
	int tfd, fd, sp[2], lp[2], local, alive, quiet, errfd = -1;

	log_init("tunnel_chans_test", getenv("MUX_TEST_LOG") != NULL);
	quiet = getenv("MUX_TEST_LOG") == NULL;
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&route, 0, sizeof(route));
	strcpy(route.name, "t");
	route.target.kind = ENDPOINT_UNIX;
	snprintf(route.target.path, sizeof(route.target.path), "%s/t", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, route.target.path);
	tfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (bind(tfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(tfd, 4 * BATCH) < 0)
		return 1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.routes = &route;
	cfg.nroutes = 1;
	cfg.peer = "the test peer";
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	socketpair(AF_UNIX, SOCK_STREAM, 0, lp);
	memset(&w, 0, sizeof(w));
	frame_dec_init(&w.dec, FRAME_DATA_LIMIT);

	s = mux_new(&cfg, sp[0], sp[0]);
	if (!CHECK(s != NULL))
		return check_done();
	local = mux_open(s, "loc", lp[0]);
	CHECK(local >= 0);
	len = 0;
	put(buf, &len, FRAME_HELLO, 0, 0, 65536, NULL);
	CHECK(mux_feed(s, buf, len));
	drain(sp[1], &w);
	CHECKM(w.local_open == 1, "the local channel's OPEN went out");

	/*
	 * All 1024 peer numbers: open, connected, then the target hangs up
	 * and a DATA fails to arrive there, so each gets our CLOSE.
	 */
	if (quiet) {
		errfd = dup(2);
		dup2(open("/dev/null", O_WRONLY), 2);
	}
	for (b = 0; b < FRAME_CHANS / BATCH; b++) {
		len = 0;
		for (i = b * BATCH; i < (b + 1) * BATCH; i++)
			put(buf, &len, FRAME_OPEN, 0, i, 65536, "t");
		alive = mux_feed(s, buf, len);
		while ((fd = accept(tfd, NULL, NULL)) >= 0) {
			accepted++;
			close(fd);
		}
		len = 0;
		for (i = b * BATCH; i < (b + 1) * BATCH; i++)
			put_data(buf, &len, 0, i, "x");
		alive = alive && mux_feed(s, buf, len);
		if (!alive)
			break;
	}
	drain(sp[1], &w);
	CHECKM(alive, "the session lives through 1024 channels");
	CHECK(accepted == FRAME_CHANS);
	CHECK(w.n[FRAME_ACCEPT] == FRAME_CHANS);
	CHECK(w.n[FRAME_CLOSE] == FRAME_CHANS);

	/* One read: every number closed and opened again. */
	len = 0;
	for (i = 0; i < FRAME_CHANS; i++)
		put(buf, &len, FRAME_CLOSE, 0, i, 0, NULL);
	for (i = 0; i < FRAME_CHANS; i++)
		put(buf, &len, FRAME_OPEN, 0, i, 65536, "nope");
	CHECKM(mux_feed(s, buf, len), "the session lives through reuse");
	drain(sp[1], &w);
	CHECK(w.refuse_name == FRAME_CHANS);
	if (errfd >= 0)
		dup2(errfd, 2);

	/* The local channel still works both ways of the table. */
	len = 0;
	put(buf, &len, FRAME_ACCEPT, 1, (unsigned)local, 65536, NULL);
	put_data(buf, &len, 1, (unsigned)local, "hello");
	CHECK(mux_feed(s, buf, len));
	memset(got, 0, sizeof(got));
	CHECK(read(lp[1], got, sizeof(got)) == 5 && strcmp(got, "hello") == 0);

	len = 0;
	put(buf, &len, FRAME_GOODBYE, 0, 0, 0, NULL);
	CHECK(mux_feed(s, buf, len) == 0);
	CHECK(mux_free(s) == MUX_CLEAN);

	close(tfd);
	unlink(route.target.path);
	rmdir(dir);
	open_order();
	return check_done();
}
