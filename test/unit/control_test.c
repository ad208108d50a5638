/* Unit tests for lib/control: the message codec, the connection's framing
 * and keepalive, and desturi. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/sock.h"
#include "control/ctl_conn.h"
#include "control/ctl_msg.h"
#include "control/desturi.h"
#include "check.h"

static struct ctl_msg in, out;
static uint8_t buf[CTL_FRAME_MAX + 64];

static void
fill_prepare(struct ctl_msg *m)
{
	ctl_msg_init(m, CTL_PREPARE);
	snprintf(m->name, sizeof(m->name), "web1");
	snprintf(m->dname, sizeof(m->dname), "web2");
	m->has_def = 1;
	m->deflen = (size_t)snprintf(m->def, sizeof(m->def),
	    "name web1\nqemu qemu-system-x86_64\narg -m\narg 64\n");
	m->ndisks = 2;
	snprintf(m->disk[0].id, sizeof(m->disk[0].id), "vda");
	snprintf(m->disk[0].format, sizeof(m->disk[0].format), "qcow2");
	m->disk[0].size = 1ull << 40;
	snprintf(m->disk[1].id, sizeof(m->disk[1].id), "vdb");
	snprintf(m->disk[1].format, sizeof(m->disk[1].format), "raw");
	m->disk[1].size = 4096;
	m->flags = CTL_FL_RUNNING | CTL_FL_STORAGE | CTL_FL_PERSISTENT;
	m->conns = 4;
	snprintf(m->migrate_uri, sizeof(m->migrate_uri), "unix:/tmp/q");
	snprintf(m->disks_uri, sizeof(m->disks_uri), "unix:/tmp/n");
}

static void
test_round_trip(void)
{
	char err[300];
	long n, k;
	size_t cut;

	fill_prepare(&out);
	n = ctl_encode(&out, buf, sizeof(buf));
	CHECK(n > CTL_HDR_LEN);
	CHECK(ctl_parse(buf, (size_t)n, &in, err, sizeof(err)) == n);
	CHECK(in.type == CTL_PREPARE && strcmp(in.name, "web1") == 0);
	CHECK(strcmp(in.dname, "web2") == 0);
	CHECK(in.has_def && in.deflen == out.deflen &&
	    memcmp(in.def, out.def, in.deflen) == 0);
	CHECK(in.ndisks == 2 && in.disk[0].size == 1ull << 40 &&
	    strcmp(in.disk[1].format, "raw") == 0 && in.disk[1].size == 4096);
	CHECK(in.flags == out.flags && in.conns == 4);
	CHECK(strcmp(in.migrate_uri, "unix:/tmp/q") == 0 &&
	    strcmp(in.disks_uri, "unix:/tmp/n") == 0);
	/* Every cut short of the whole frame needs more; never an error. */
	for (cut = 0; cut < (size_t)n; cut++)
		if (!CHECK(ctl_parse(buf, cut, &in, err, sizeof(err)) == 0))
			break;
	/* Two frames back to back: the first is taken alone. */
	ctl_msg_init(&out, CTL_LOADED);
	k = ctl_encode(&out, buf, sizeof(buf));
	CHECK(k == CTL_HDR_LEN);
	ctl_msg_init(&out, CTL_FAILED);
	out.flags = CTL_FL_HERE;
	snprintf(out.reason, sizeof(out.reason), "cont\x1b[31m failed\n");
	n = ctl_encode(&out, buf + k, sizeof(buf) - (size_t)k);
	CHECK(ctl_parse(buf, (size_t)(k + n), &in, err, sizeof(err)) == k &&
	    in.type == CTL_LOADED);
	CHECK(ctl_parse(buf + k, (size_t)n, &in, err, sizeof(err)) == n);
	CHECK(in.type == CTL_FAILED && in.flags == CTL_FL_HERE);
	CHECKM(strcmp(in.reason, "cont?[31m failed?") == 0, in.reason);
	CHECK(strcmp(ctl_type_name(CTL_COMMIT), "commit") == 0);
	CHECK(strcmp(ctl_type_name(99), "unknown") == 0);
	/* "tunnel", then the tunnel protocol's bytes in the same read: the
	 * frame alone is taken, what follows is left for the tunnel. */
	ctl_msg_init(&out, CTL_TUNNEL);
	k = ctl_encode(&out, buf, sizeof(buf));
	CHECK(k == CTL_HDR_LEN);
	memcpy(buf + k, "\x01\x00\x00\x00garbage", 11);
	CHECK(ctl_parse(buf, (size_t)k + 11, &in, err, sizeof(err)) == k &&
	    in.type == CTL_TUNNEL);
	CHECK(strcmp(ctl_type_name(CTL_TUNNEL), "tunnel") == 0);
	/* It carries nothing. */
	out.flags = CTL_FL_RUNNING;
	CHECK(ctl_encode(&out, buf, sizeof(buf)) == CTL_HDR_LEN);
}

static void
test_encode_bounds(void)
{
	fill_prepare(&out);
	memset(out.name, 'a', CTL_NAME_MAX);
	out.name[CTL_NAME_MAX] = '\0';
	CHECK(ctl_encode(&out, buf, sizeof(buf)) > 0);
	out.name[0] = '\0';
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);	/* no name */
	fill_prepare(&out);
	out.def[3] = '\0';
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);	/* NUL in def */
	fill_prepare(&out);
	out.deflen = CTL_DEF_MAX + 1;
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);
	fill_prepare(&out);
	memset(out.def, 'x', CTL_DEF_MAX);
	out.deflen = CTL_DEF_MAX;
	out.ndisks = CTL_DISKS_MAX;
	for (size_t i = 0; i < CTL_DISKS_MAX; i++) {
		memset(out.disk[i].id, 'i', CTL_ID_MAX);
		out.disk[i].id[CTL_ID_MAX] = '\0';
		memset(out.disk[i].format, 'f', CTL_FORMAT_MAX);
		out.disk[i].format[CTL_FORMAT_MAX] = '\0';
		out.disk[i].size = INT64_MAX;
	}
	memset(out.migrate_uri, 'u', CTL_URI_MAX);
	memset(out.disks_uri, 'u', CTL_URI_MAX);
	memset(out.dname, 'd', CTL_NAME_MAX);
	/* The largest request fits the bound. */
	CHECK(ctl_encode(&out, buf, sizeof(buf)) > 0);
	out.ndisks = CTL_DISKS_MAX + 1;
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);
	fill_prepare(&out);
	out.disk[0].size = (uint64_t)INT64_MAX + 1;
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);
	fill_prepare(&out);
	out.conns = CTL_CONNS_MAX + 1;
	CHECK(ctl_encode(&out, buf, sizeof(buf)) < 0);
	fill_prepare(&out);
	CHECK(ctl_encode(&out, buf, 20) < 0);		/* buffer too small */
	ctl_msg_init(&out, CTL_REFUSE);
	memset(out.reason, 'r', CTL_REASON_MAX);
	CHECK(ctl_encode(&out, buf, sizeof(buf)) ==
	    CTL_HDR_LEN + CTL_FIELD_HDR_LEN + CTL_REASON_MAX);
}

/* A hand-made frame: header, then fields. */
static size_t
frame(uint8_t *b, int type, const uint8_t *body, size_t n)
{
	b[0] = 'M';
	b[1] = 'C';
	b[2] = 1;
	b[3] = (uint8_t)type;
	b[4] = (uint8_t)(n >> 24);
	b[5] = (uint8_t)(n >> 16);
	b[6] = (uint8_t)(n >> 8);
	b[7] = (uint8_t)n;
	memcpy(b + 8, body, n);
	return n + 8;
}

static int
refused(const uint8_t *b, size_t n, const char *want)
{
	char err[300] = "";
	int ok = ctl_parse(b, n, &in, err, sizeof(err)) == -1 &&
	    strstr(err, want) != NULL;

	CHECKM(ok, err);
	return ok;
}

static void
test_hostile(void)
{
	static const uint8_t name[] = { 1, 0, 0, 0, 2, 'a', 'b' };
	static const uint8_t twice[] = { 1, 0, 0, 0, 1, 'a', 1, 0, 0, 0, 1, 'b' };
	static const uint8_t nul[] = { 1, 0, 0, 0, 2, 'a', 0 };
	static const uint8_t past[] = { 1, 0, 0, 0, 9, 'a' };
	static const uint8_t shorthdr[] = { 1, 0, 0 };
	static const uint8_t diskonly[] = { 1, 0, 0, 0, 1, 'a',
	    3, 0, 0, 0, 1, 'd' };
	static const uint8_t sizefirst[] = { 1, 0, 0, 0, 1, 'a',
	    3, 0, 0, 0, 1, 'd', 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t bigsize[] = { 1, 0, 0, 0, 1, 'a',
	    3, 0, 0, 0, 1, 'd', 4, 0, 0, 0, 1, 'r',
	    5, 0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t flags[] = { 6, 0, 0, 0, 4, 0xff, 0, 0, 0 };
	static const uint8_t conns0[] = { 1, 0, 0, 0, 1, 'a',
	    7, 0, 0, 0, 4, 0, 0, 0, 0 };
	static const uint8_t tag[] = { 40, 0, 0, 0, 0 };
	static const uint8_t noname[] = { 6, 0, 0, 0, 4, 0, 0, 0, 1 };
	static const uint8_t longname[5 + 65] = { 1, 0, 0, 0, 65 };
	uint8_t b[256];
	size_t n;

	n = frame(b, CTL_PREPARE, name, sizeof(name));
	b[0] = 'X';
	refused(b, 1, "bad magic");
	b[0] = 'M';
	b[2] = 2;
	refused(b, 3, "version 2");
	b[2] = 1;
	b[3] = 0;
	refused(b, 4, "unknown type");
	b[3] = CTL_TYPE_MAX + 1;
	refused(b, 4, "unknown type");
	b[3] = CTL_PREPARE;
	{ char e[50]; CHECK(ctl_parse(b, n, &in, e, sizeof(e)) == (long)n); }
	/* A hostile length is refused at once, not awaited. */
	b[4] = 0x7f;
	refused(b, 8, "more than");
	refused(b, frame(b, CTL_PREPARE, twice, sizeof(twice)), "repeated");
	refused(b, frame(b, CTL_PREPARE, nul, sizeof(nul)), "out of bounds");
	refused(b, frame(b, CTL_PREPARE, past, sizeof(past)), "past");
	refused(b, frame(b, CTL_PREPARE, shorthdr, sizeof(shorthdr)),
	    "cut short");
	refused(b, frame(b, CTL_PREPARE, diskonly, sizeof(diskonly)),
	    "has no format");
	refused(b, frame(b, CTL_PREPARE, sizefirst, sizeof(sizefirst)),
	    "out of place");
	refused(b, frame(b, CTL_PREPARE, bigsize, sizeof(bigsize)),
	    "out of bounds");
	refused(b, frame(b, CTL_STARTED, flags, sizeof(flags)),
	    "out of bounds");
	refused(b, frame(b, CTL_PREPARE, conns0, sizeof(conns0)),
	    "out of bounds");
	refused(b, frame(b, CTL_PREPARE, tag, sizeof(tag)), "may not carry");
	refused(b, frame(b, CTL_LOADED, name, sizeof(name)), "may not carry");
	refused(b, frame(b, CTL_TUNNEL, name, sizeof(name)), "may not carry");
	refused(b, frame(b, CTL_PREPARE, noname, sizeof(noname)), "names no");
	refused(b, frame(b, CTL_PREPARE, longname, sizeof(longname)),
	    "out of bounds");
}

static void
test_conn(void)
{
	struct ctl_conn a, b;
	int sv[2];
	int64_t t0;

	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0))
		return;
	ctl_conn_init(&a, sv[0], sv[0], 50, 3);
	ctl_conn_init(&b, sv[1], sv[1], 50, 3);
	CHECK(ctl_conn_silence_ms(&a) == 150);
	fill_prepare(&out);
	CHECK(ctl_conn_send(&a, &out, clock_ms() + 1000) == 0);
	CHECK(ctl_conn_poll(&b, clock_ms() + 1000, &in) == 1 &&
	    in.type == CTL_PREPARE && in.ndisks == 2);
	/* Nothing pending: 0 at once with no deadline. */
	CHECK(ctl_conn_poll(&b, 0, &in) == 0);
	/* Both keep polling: pings keep the connection alive past the
	 * silence bound, and are never handed out. */
	t0 = clock_ms();
	while (clock_ms() - t0 < 400) {
		CHECK(ctl_conn_poll(&a, clock_ms() + 20, &in) == 0);
		CHECK(ctl_conn_poll(&b, clock_ms() + 20, &in) == 0);
	}
	CHECK(!a.lost && !b.lost);
	/* b stops answering: a notices within the bound, not forever. */
	t0 = clock_ms();
	CHECK(ctl_conn_poll(&a, clock_ms() + 2000, &in) == -1);
	CHECKM(strstr(a.err, "silent") != NULL, a.err);
	CHECK(clock_ms() - t0 < 1000);
	/* Pending bytes are read before silence is declared: b, which
	 * slept, finds a's pings waiting and is not lost. */
	CHECK(ctl_conn_poll(&b, 0, &in) == 0 && !b.lost);
	/* A message sent just before a close is still handed out. */
	ctl_msg_init(&out, CTL_COMMIT);
	close(sv[0]);
	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0))
		return;
	close(b.rfd);
	ctl_conn_init(&a, sv[0], sv[0], 0, 0);
	ctl_conn_init(&b, sv[1], sv[1], 0, 0);
	CHECK(a.interval_ms == CTL_KEEPALIVE_MS && a.count == 5);
	CHECK(ctl_conn_send(&a, &out, clock_ms() + 1000) == 0);
	close(sv[0]);
	CHECK(ctl_conn_poll(&b, clock_ms() + 1000, &in) == 1 &&
	    in.type == CTL_COMMIT);
	CHECK(ctl_conn_poll(&b, clock_ms() + 1000, &in) == -1);
	CHECKM(strstr(b.err, "closed") != NULL, b.err);
	/* Sending on a lost connection fails without touching the fd. */
	CHECK(ctl_conn_send(&b, &out, 0) == -1);
	close(sv[1]);
	/* A hostile peer: the connection is lost with the codec's line. */
	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0))
		return;
	ctl_conn_init(&b, sv[1], sv[1], 0, 0);
	CHECK(write(sv[0], "GET / HTTP/1.0\r\n", 16) == 16);
	CHECK(ctl_conn_poll(&b, clock_ms() + 1000, &in) == -1);
	CHECKM(strstr(b.err, "bad magic") != NULL, b.err);
	close(sv[0]);
	close(sv[1]);
}

static void
test_desturi(void)
{
	struct endpoint ep;
	char err[300];

	CHECK(desturi_parse("qemu+unix:///system?socket=/tmp/migdir/"
	    "test-sock-driver", &ep, err, sizeof(err)) == 0 &&
	    ep.kind == ENDPOINT_UNIX &&
	    strcmp(ep.path, "/tmp/migdir/test-sock-driver") == 0);
	CHECK(desturi_parse("qemu+unix:///session?socket=/a", &ep, err,
	    sizeof(err)) == 0 && strcmp(ep.path, "/a") == 0);
	CHECK(desturi_parse("unix:///tmp/c", &ep, err, sizeof(err)) == 0 &&
	    strcmp(ep.path, "/tmp/c") == 0);
	CHECK(desturi_parse("unix:rel/c", &ep, err, sizeof(err)) == 0 &&
	    strcmp(ep.path, "rel/c") == 0);
	CHECK(desturi_parse("tcp:host:4444", &ep, err, sizeof(err)) == 0 &&
	    ep.kind == ENDPOINT_TCP && strcmp(ep.port, "4444") == 0);
	CHECK(desturi_parse("-", &ep, err, sizeof(err)) < 0);
	CHECK(desturi_parse("qemu+ssh://h/system", &ep, err, sizeof(err)) < 0
	    && strstr(err, "qemu+unix") != NULL);
	CHECK(desturi_parse("qemu+unix:///system", &ep, err, sizeof(err)) < 0
	    && strstr(err, "socket=") != NULL);
	CHECK(desturi_parse("qemu+unix://host/system?socket=/a", &ep, err,
	    sizeof(err)) < 0);
	CHECK(desturi_parse("qemu+unix:///system?socket=/a&x=1", &ep, err,
	    sizeof(err)) < 0 && strstr(err, "only the socket=") != NULL);
	CHECK(desturi_parse("qemu+unix:///system?socket=rel", &ep, err,
	    sizeof(err)) < 0 && strstr(err, "absolute") != NULL);
	CHECK(desturi_parse("qemu+unix:///system?socket=/a%20b", &ep, err,
	    sizeof(err)) < 0);
	CHECK(desturi_parse("http://x/", &ep, err, sizeof(err)) < 0);
	{
		char longuri[400];

		snprintf(longuri, sizeof(longuri), "qemu+unix:///system?"
		    "socket=/%0200d", 0);
		CHECK(desturi_parse(longuri, &ep, err, sizeof(err)) < 0 &&
		    strstr(err, "longer") != NULL);
	}
}

int
main(void)
{
	test_round_trip();
	test_encode_bounds();
	test_hostile();
	test_conn();
	test_desturi();
	return check_done();
}
