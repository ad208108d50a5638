/*
 * The NBD probe state machine fed scripted server bytes (good, missing,
 * broken, truncated, split at every position), then nbd_probe_run against
 * fake servers (a forked child on a unix socket) for the socket edge.
 *
 * With arguments, probes a real server instead:
 *   nbd_probe_test ENDPOINT EXPORT SIZE|missing|error
 * which test/nbd-probe.sh uses against qemu-nbd and nbdkit.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/endpoint.h"
#include "base/sock.h"
#include "nbd/nbd_probe.h"
#include "nbd/nbd_wire.h"
#include "check.h"

/* ---- building server bytes ---- */

struct bytes {
	uint8_t b[200000];
	size_t n;
};

static struct bytes srv, cli, want;

static void
put(struct bytes *s, const void *d, size_t n)
{
	memcpy(s->b + s->n, d, n);
	s->n += n;
}

static void
put8(struct bytes *s, uint8_t v)
{
	put(s, &v, 1);
}

static void
put16(struct bytes *s, uint16_t v)
{
	put8(s, (uint8_t)(v >> 8));
	put8(s, (uint8_t)v);
}

static void
put32(struct bytes *s, uint32_t v)
{
	put16(s, (uint16_t)(v >> 16));
	put16(s, (uint16_t)v);
}

static void
put64(struct bytes *s, uint64_t v)
{
	put32(s, (uint32_t)(v >> 32));
	put32(s, (uint32_t)v);
}

static void
greeting(struct bytes *s, uint16_t hflags)
{
	put(s, "NBDMAGICIHAVEOPT", 16);
	put16(s, hflags);
}

static void
reply(struct bytes *s, uint32_t opt, uint32_t type, uint32_t len)
{
	put64(s, 0x3e889045565a9ull);
	put32(s, opt);
	put32(s, type);
	put32(s, len);
}

static void
info_export(struct bytes *s, uint64_t size, uint16_t flags)
{
	reply(s, 6, 3, 12);
	put16(s, 0);
	put64(s, size);
	put16(s, flags);
}

/* The good exchange: export, block size, name, an unknown info, ACK. */
static size_t good_decided;	/* server bytes up to the end of the ACK */

static void
good_server(struct bytes *s, uint16_t hflags, uint16_t tflags)
{
	s->n = 0;
	greeting(s, hflags);
	info_export(s, 67108864, tflags);
	reply(s, 6, 3, 14);
	put16(s, 3);
	put32(s, 1);
	put32(s, 4096);
	put32(s, 33554432);
	reply(s, 6, 3, 5);
	put16(s, 1);
	put(s, "vd0", 3);
	reply(s, 6, 3, 30);		/* an info type from the future */
	put16(s, 0x7777);
	put(s, "twenty-eight bytes of stuff!", 28);
	reply(s, 6, 1, 0);
	good_decided = s->n;
	reply(s, 2, 1, 0);		/* ACK of NBD_OPT_ABORT */
}

/* What the client must send for export "vd0", written out by hand. */
static const uint8_t vd0_option[] = {
	'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
	0, 0, 0, 6,		/* NBD_OPT_INFO */
	0, 0, 0, 13,		/* 4 + 3 + 2 + 4 */
	0, 0, 0, 3, 'v', 'd', '0',
	0, 2, 0, 0, 0, 3,	/* NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE */
};
static const uint8_t abort_option[] = {
	'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T', 0, 0, 0, 2, 0, 0, 0, 0,
};

static void
want_client(uint32_t cflags, int with_abort)
{
	want.n = 0;
	put32(&want, cflags);
	put(&want, vd0_option, sizeof(vd0_option));
	if (with_abort)
		put(&want, abort_option, sizeof(abort_option));
}

/* Take everything the machine wants sent, acknowledging in two steps. */
static void
drain(struct nbd_probe *p)
{
	const uint8_t *o;
	size_t n;

	for (;;) {
		o = nbd_probe_out(p, &n);
		if (n == 0)
			return;
		n = n > 1 ? n / 2 : n;
		put(&cli, o, n);
		nbd_probe_sent(p, n);
	}
}

/* Feed s in chunks of at most 'chunk' bytes (0: one piece), then EOF. */
static int
run_script(struct nbd_probe *p, const char *name, const struct bytes *s,
    size_t split, size_t chunk, int eof)
{
	size_t off = 0, n, used;

	nbd_probe_init(p, name);
	cli.n = 0;
	drain(p);
	while (off < s->n && !nbd_probe_finished(p)) {
		n = s->n - off;
		if (split && off < split && n > split - off)
			n = split - off;
		if (chunk && n > chunk)
			n = chunk;
		used = nbd_probe_in(p, s->b + off, n);
		if (used < n && !nbd_probe_decided(p))
			return -2;	/* it must take all until decided */
		off += used;
		drain(p);
		if (used < n)
			break;
	}
	if (eof)
		nbd_probe_eof(p);
	drain(p);
	return (int)off;
}

static struct nbd_probe P;

static int
result(struct nbd_export_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	err[0] = '\0';
	return nbd_probe_result(&P, info, err, errlen);
}

static int
same(const struct bytes *a, const struct bytes *b)
{
	return a->n == b->n && memcmp(a->b, b->b, a->n) == 0;
}

static void
test_good(void)
{
	struct nbd_export_info info;
	char err[256];
	size_t i;
	int ok = 1;

	good_server(&srv, 3, 0x0005);
	CHECK(run_script(&P, "vd0", &srv, 0, 0, 0) == (int)srv.n);
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_FOUND);
	CHECK(info.size == 67108864);
	CHECK(info.flags == 0x0005 && info.read_only == 0);
	CHECK(nbd_probe_finished(&P));
	want_client(3, 1);
	CHECK(same(&cli, &want));

	/* The first thing wanted is the greeting, nothing is sent first. */
	nbd_probe_init(&P, "vd0");
	CHECK(nbd_probe_want(&P) == 18);
	CHECK(nbd_probe_out(&P, &i) != NULL && i == 0);
	CHECK(!nbd_probe_decided(&P) && !nbd_probe_finished(&P));
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_ERROR);

	/* Without NBD_FLAG_NO_ZEROES the client does not ask for it. */
	good_server(&srv, 1, 0x0003);
	run_script(&P, "vd0", &srv, 0, 0, 1);
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_FOUND);
	CHECK(info.read_only == 1);
	want_client(1, 1);
	CHECK(same(&cli, &want));

	/* The server may also simply close after NBD_OPT_ABORT. */
	good_server(&srv, 3, 1);
	srv.n = good_decided;
	run_script(&P, "vd0", &srv, 0, 0, 1);
	CHECK(nbd_probe_finished(&P));
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_FOUND);

	/* Every split position, and one byte at a time. */
	good_server(&srv, 3, 1);
	want_client(3, 1);
	for (i = 1; i < srv.n; i++) {
		run_script(&P, "vd0", &srv, i, 0, 0);
		if (result(&info, err, sizeof(err)) != NBD_PROBE_FOUND ||
		    info.size != 67108864 || !same(&cli, &want) ||
		    !nbd_probe_finished(&P)) {
			printf("split at %zu: %s\n", i, err);
			ok = 0;
		}
	}
	CHECK(ok);
	run_script(&P, "vd0", &srv, 0, 1, 0);
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_FOUND);
	CHECK(same(&cli, &want) && nbd_probe_finished(&P));

	/* Truncated at every position: an error, unless already decided. */
	ok = 1;
	for (i = 0; i < srv.n; i++) {
		struct bytes *cut = &srv;
		size_t keep = cut->n;

		cut->n = i;
		run_script(&P, "vd0", cut, 0, 7, 1);
		cut->n = keep;
		if (!nbd_probe_finished(&P) ||
		    result(&info, err, sizeof(err)) !=
		    (i < good_decided ? NBD_PROBE_ERROR : NBD_PROBE_FOUND) ||
		    (i < good_decided && strstr(err, "closed") == NULL)) {
			printf("cut at %zu: %s\n", i, err);
			ok = 0;
		}
	}
	CHECK(ok);
}

static void
test_names(void)
{
	static char name[4098];
	struct nbd_export_info info;
	char err[256];
	const uint8_t *o;
	size_t n;

	/* The default export: an empty name. */
	srv.n = 0;
	greeting(&srv, 1);
	run_script(&P, "", &srv, 0, 0, 0);
	o = nbd_probe_out(&P, &n);
	CHECK(cli.n == 4 + 16 + 4 + 6);
	CHECK(cli.n >= 30 && memcmp(cli.b + 16, "\0\0\0\x0a\0\0\0\0\0\x02",
	    10) == 0);

	/* 4096 bytes is the limit and fits; 4097 fails at once. */
	memset(name, 'x', 4096);
	run_script(&P, name, &srv, 0, 0, 0);
	CHECK(cli.n == 4 + 16 + 4 + 4096 + 6);
	CHECK(cli.n > 24 && nbd_wire_get32(cli.b + 20) == 4096);
	memset(name, 'x', 4097);
	nbd_probe_init(&P, name);
	o = nbd_probe_out(&P, &n);
	CHECK(n == 0 && nbd_probe_finished(&P));
	CHECK(result(&info, err, sizeof(err)) == NBD_PROBE_ERROR);
	CHECK(strstr(err, "4097") != NULL);
	(void)o;
}

/* Run srv's script, which must fail with err containing 'what'. */
static void
expect_fail(int line, const char *what, int want_result)
{
	struct nbd_export_info info;
	char err[256];
	int rc;

	run_script(&P, "vd0", &srv, 18, 0, 1);	/* greeting, then the rest */
	rc = result(&info, err, sizeof(err));
	if (!check(rc == want_result && strstr(err, what) != NULL &&
	    nbd_probe_finished(&P) && strchr(err, '\n') == NULL, what,
	    __FILE__, line, NULL))
		printf("    got %d '%s'\n", rc, err);
}

static void
test_errors(void)
{
	static char msg[70000];

	/* Missing export: with a message and without. */
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_UNKNOWN, 24);
	put(&srv, "export 'vd0' not present", 24);
	reply(&srv, 2, 1, 0);
	expect_fail(__LINE__, "no export 'vd0' (server: export 'vd0' not "
	    "present)", NBD_PROBE_MISSING);
	want_client(3, 1);
	CHECK(same(&cli, &want));
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_UNKNOWN, 0);
	expect_fail(__LINE__, "no export 'vd0'", NBD_PROBE_MISSING);
	CHECK(same(&cli, &want));

	/* Other refusals. */
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_UNSUP, 0);
	expect_fail(__LINE__, "does not support NBD_OPT_INFO", NBD_PROBE_ERROR);
	CHECK(same(&cli, &want));
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_TLS_REQD, 0);
	expect_fail(__LINE__, "requires TLS", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR(42u), 9);
	put(&srv, "bad\nthing", 9);
	expect_fail(__LINE__, "0x8000002a) (server: bad?thing)",
	    NBD_PROBE_ERROR);
	/* A 64 KiB message is read past, and shown cut short. */
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_POLICY, 65536);
	memset(msg, 'm', 65536);
	put(&srv, msg, 65536);
	expect_fail(__LINE__, "refused NBD_OPT_INFO (NBD reply 0x80000002) "
	    "(server: mmm", NBD_PROBE_ERROR);
	CHECK(same(&cli, &want));

	/* Greetings that are not fixed newstyle NBD: nothing is sent. */
	srv.n = 0;
	put(&srv, "HTTP/1.1 400 Bad Request\r\n", 26);
	expect_fail(__LINE__, "not an NBD server", NBD_PROBE_ERROR);
	CHECK(cli.n == 0);
	srv.n = 0;
	put(&srv, "NBDMAGIC", 8);
	put64(&srv, 0x00420281861253ull);
	put(&srv, msg, 200);
	expect_fail(__LINE__, "oldstyle", NBD_PROBE_ERROR);
	CHECK(cli.n == 0);
	srv.n = 0;
	put(&srv, "NBDMAGICIHAVEOPX", 16);
	put16(&srv, 3);
	expect_fail(__LINE__, "newstyle", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 2);
	expect_fail(__LINE__, "fixed newstyle", NBD_PROBE_ERROR);
	CHECK(cli.n == 0);

	/* Bad replies: no abort is sent after them. */
	want_client(3, 0);
	srv.n = 0;
	greeting(&srv, 3);
	put64(&srv, 0x3e889045565aaull);
	put32(&srv, 6);
	put32(&srv, 1);
	put32(&srv, 0);
	expect_fail(__LINE__, "bad NBD option reply", NBD_PROBE_ERROR);
	CHECK(same(&cli, &want));
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 7, 1, 0);
	expect_fail(__LINE__, "option 7", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, 3, 65537);
	put(&srv, msg, 65537);
	expect_fail(__LINE__, "65537 bytes is too long", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, NBD_REP_ERR_UNKNOWN, 0xffffffffu);
	expect_fail(__LINE__, "too long", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, 77, 0);
	expect_fail(__LINE__, "unexpected NBD option reply type 0x0000004d",
	    NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, 1, 0);
	expect_fail(__LINE__, "without NBD_INFO_EXPORT", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	info_export(&srv, 1, 1);
	reply(&srv, 6, 1, 4);
	put32(&srv, 0);
	expect_fail(__LINE__, "NBD_REP_ACK with a payload", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, 3, 10);
	put16(&srv, 0);
	put64(&srv, 1);
	expect_fail(__LINE__, "NBD_INFO_EXPORT of 10 bytes", NBD_PROBE_ERROR);
	srv.n = 0;
	greeting(&srv, 3);
	reply(&srv, 6, 3, 1);
	put8(&srv, 0);
	expect_fail(__LINE__, "NBD_REP_INFO of 1 bytes", NBD_PROBE_ERROR);

	/* EOF at the start, or bytes after the end. */
	srv.n = 0;
	expect_fail(__LINE__, "before its greeting", NBD_PROBE_ERROR);
	good_server(&srv, 3, 1);
	put(&srv, "trailing junk", 13);
	CHECK(run_script(&P, "vd0", &srv, 0, 0, 0) == (int)srv.n - 13);
	CHECK(nbd_probe_finished(&P) && nbd_probe_want(&P) == 0);
}

/* ---- the socket edge, against forked fake servers ---- */

static pid_t
fake_server(const struct endpoint *ep, const struct bytes *s, int linger)
{
	char err[256];
	int lfd, fd;
	pid_t pid;

	lfd = sock_listen(ep, err, sizeof(err));
	if (lfd < 0) {
		printf("listen: %s\n", err);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		fd = sock_accept(lfd, clock_ms() + 5000, err, sizeof(err));
		if (fd >= 0 && s->n > 0)
			sock_write_all(fd, s->b, s->n, clock_ms() + 5000);
		if (linger)
			sleep(5);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void
reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void
test_run(void)
{
	struct endpoint ep;
	struct nbd_export_info info;
	char err[256], path[64];
	int64_t t0;
	pid_t pid;
	int rc;

	snprintf(path, sizeof(path), "unix:/tmp/nbd_probe_test.%d",
	    (int)getpid());
	if (!CHECK(endpoint_parse(path, ENDPOINT_ANY, &ep, err,
	    sizeof(err)) == 0))
		return;

	/* A server that accepts and says nothing: the deadline holds. */
	srv.n = 0;
	pid = fake_server(&ep, &srv, 1);
	t0 = clock_ms();
	rc = nbd_probe_run(&ep, "vd0", t0 + 300, &info, err, sizeof(err));
	CHECK(rc == NBD_PROBE_ERROR && strstr(err, "timed out") != NULL);
	CHECK(clock_ms() - t0 < 1500);
	reap(pid);

	/* A good server that never answers NBD_OPT_ABORT: still found. */
	good_server(&srv, 3, 1);
	srv.n = good_decided;
	pid = fake_server(&ep, &srv, 1);
	t0 = clock_ms();
	rc = nbd_probe_run(&ep, "vd0", t0 + 10000, &info, err, sizeof(err));
	CHECK(rc == NBD_PROBE_FOUND && info.size == 67108864);
	CHECK(clock_ms() - t0 < 5000);
	reap(pid);

	/* A good server that closes after replying. */
	good_server(&srv, 3, 1);
	pid = fake_server(&ep, &srv, 0);
	rc = nbd_probe_run(&ep, "vd0", clock_ms() + 10000, &info, err,
	    sizeof(err));
	CHECK(rc == NBD_PROBE_FOUND && info.size == 67108864);
	reap(pid);

	/* A server that closes mid-greeting. */
	srv.n = 0;
	put(&srv, "NBDMAGIC", 8);
	pid = fake_server(&ep, &srv, 0);
	rc = nbd_probe_run(&ep, "vd0", clock_ms() + 10000, &info, err,
	    sizeof(err));
	CHECK(rc == NBD_PROBE_ERROR && strstr(err, "closed") != NULL &&
	    strstr(err, path + 5) != NULL);
	reap(pid);

	/* Nobody there. */
	unlink(ep.path);
	rc = nbd_probe_run(&ep, "vd0", clock_ms() + 10000, &info, err,
	    sizeof(err));
	CHECK(rc == NBD_PROBE_ERROR && err[0] != '\0');
}

/* ---- against a real server ---- */

static int
real_server(const char *where, const char *name, const char *expect)
{
	struct endpoint ep;
	struct nbd_export_info info;
	char err[512];
	int64_t t0 = clock_ms();
	int rc;

	if (endpoint_parse(where, ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP), &ep, err, sizeof(err)) < 0) {
		printf("%s\n", err);
		return 2;
	}
	rc = nbd_probe_run(&ep, name, t0 + 10000, &info, err, sizeof(err));
	if (rc == NBD_PROBE_FOUND)
		printf("found '%s': size %llu, flags 0x%04x%s (%lld ms)\n",
		    name, (unsigned long long)info.size, info.flags,
		    info.read_only ? ", read-only" : "",
		    (long long)(clock_ms() - t0));
	else
		printf("%s: %s (%lld ms)\n", rc == NBD_PROBE_MISSING ?
		    "missing" : "error", err, (long long)(clock_ms() - t0));
	if (strcmp(expect, "missing") == 0)
		CHECK(rc == NBD_PROBE_MISSING && err[0] != '\0');
	else if (strcmp(expect, "error") == 0)
		CHECK(rc == NBD_PROBE_ERROR && err[0] != '\0');
	else
		CHECK(rc == NBD_PROBE_FOUND &&
		    info.size == strtoull(expect, NULL, 10));
	CHECK(clock_ms() - t0 < 10000);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4) {
		if (real_server(argv[1], argv[2], argv[3]) != 0)
			check_failed++;
	} else if (argc != 1) {
		fprintf(stderr, "usage: nbd_probe_test [ENDPOINT EXPORT "
		    "SIZE|missing|error]\n");
		return 2;
	} else {
		test_good();
		test_names();
		test_errors();
		test_run();
	}
	return check_done();
}
