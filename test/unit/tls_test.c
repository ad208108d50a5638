/*
 * lib/tls: client and server in one process over a socketpair.
 *   tls_test [CERTDIR]     checks (CERTDIR made by scripts/mkcerts.sh; if
 *                          absent, made here with it in a temporary dir)
 *   tls_test CERTDIR bench [MiB]   one-way throughput, nothing checked
 * TLS_TEST_MIB sets the size of the two-way transfer (default 64).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "tls/tls.h"
#include "check.h"

static const char *dir;
static char err[300];

/* Load a config from files in dir; NULL names stay NULL. */
static struct tls_config *
cfg(const char *cert, const char *key, const char *ca, const char *peer)
{
	char c[512], k[512], a[512];
	struct tls_config *t;

	if (cert != NULL)
		snprintf(c, sizeof(c), "%s/%s", dir, cert);
	if (key != NULL)
		snprintf(k, sizeof(k), "%s/%s", dir, key);
	snprintf(a, sizeof(a), "%s/%s", dir, ca);
	err[0] = 0;
	t = tls_config_load(cert ? c : NULL, key ? k : NULL, a, peer, err,
	    sizeof(err));
	if (t == NULL)
		printf("  config %s/%s/%s: %s\n", cert, key, ca, err);
	return t;
}

/* Loading fails with a reason that contains 'why'. */
static int
cfg_refused(const char *cert, const char *key, const char *ca,
    const char *peer, const char *why)
{
	char c[512], k[512], a[512];
	struct tls_config *t;

	snprintf(c, sizeof(c), "%s/%s", dir, cert);
	snprintf(k, sizeof(k), "%s/%s", dir, key);
	snprintf(a, sizeof(a), "%s/%s", dir, ca);
	err[0] = 0;
	t = tls_config_load(c, k, a, peer, err, sizeof(err));
	if (t != NULL) {
		tls_config_free(t);
		printf("  %s/%s/%s: loaded, wanted '%s'\n", cert, key, ca, why);
		return 0;
	}
	if (strstr(err, why) == NULL) {
		printf("  %s/%s/%s: got '%s', wanted '%s'\n", cert, key, ca,
		    err, why);
		return 0;
	}
	return 1;
}

struct side {
	struct tls_conn *c;
	int fd;
	int rc;			/* last tls_pump result */
	uint64_t sent, got, total;
	uint64_t seed;
	int bad;		/* received bytes differ from the pattern */
};

struct pair {
	struct side cli, srv;
};

/* A connected TCP pair on 127.0.0.1, both ends nonblocking. */
static int
tcp_pair(int sv[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&sin,
	    sizeof(sin)) < 0 || (sv[1] = accept4(l, NULL, NULL,
	    SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return -1;
	close(l);
	return fcntl(sv[0], F_SETFL, O_NONBLOCK);
}

static int use_tcp;

static int
pair_open(struct pair *p, const struct tls_config *cc,
    const struct tls_config *sc)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	if (use_tcp ? tcp_pair(sv) < 0 : socketpair(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	p->cli.fd = sv[0];
	p->srv.fd = sv[1];
	p->cli.c = malloc(tls_conn_size());
	p->srv.c = malloc(tls_conn_size());
	if (p->cli.c == NULL || p->srv.c == NULL) {
		perror("malloc");
		exit(1);
	}
	p->cli.seed = 1;
	p->srv.seed = 2;
	if (tls_conn_start(p->cli.c, cc, 0, err, sizeof(err)) < 0 ||
	    tls_conn_start(p->srv.c, sc, 1, err, sizeof(err)) < 0) {
		printf("  tls_conn_start: %s\n", err);
		return -1;
	}
	return 0;
}

static void
pair_free(struct pair *p)
{
	if (p->cli.fd >= 0)
		close(p->cli.fd);
	if (p->srv.fd >= 0)
		close(p->srv.fd);
	free(p->cli.c);
	free(p->srv.c);
}

static void
pump(struct side *s)
{
	if (s->rc >= 0)
		s->rc = tls_pump(s->c, s->fd);
}

static int
side_settled(struct side *s)
{
	return s->rc < 0 || tls_ready(s->c);
}

/* Wait for what the two sides want; 0 on timeout (a stall). */
static int
pair_wait(struct pair *p)
{
	struct pollfd pf[2];
	int n = 0;

	if (p->cli.rc > 0)
		pf[n++] = (struct pollfd){ p->cli.fd,
		    (short)((p->cli.rc & TLS_WANT_READ ? POLLIN : 0) |
		    (p->cli.rc & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
	if (p->srv.rc > 0)
		pf[n++] = (struct pollfd){ p->srv.fd,
		    (short)((p->srv.rc & TLS_WANT_READ ? POLLIN : 0) |
		    (p->srv.rc & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
	return poll(pf, (nfds_t)n, 5000) > 0;
}

/*
 * Pump both sides until each is ready or has failed.  A failed side's fd
 * is shut so its peer sees the end after whatever alert was sent.
 * Returns 1 if both are ready.
 */
static int
pair_handshake(struct pair *p)
{
	for (;;) {
		pump(&p->cli);
		pump(&p->srv);
		/* Over TCP, the rude way: close at once, unread input or not. */
		if (p->cli.rc < 0 && p->cli.fd >= 0 && use_tcp) {
			close(p->cli.fd);
			p->cli.fd = -1;
		} else if (p->cli.rc < 0)
			shutdown(p->cli.fd, SHUT_WR);
		if (p->srv.rc < 0 && p->srv.fd >= 0 && use_tcp) {
			close(p->srv.fd);
			p->srv.fd = -1;
		} else if (p->srv.rc < 0)
			shutdown(p->srv.fd, SHUT_WR);
		if (side_settled(&p->cli) && side_settled(&p->srv))
			break;
		if (!pair_wait(p)) {
			printf("  handshake stalled\n");
			return 0;
		}
	}
	return p->cli.rc >= 0 && p->srv.rc >= 0;
}

/* The test stream: byte i is a function of i and the sender's seed. */
static uint64_t
mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

static void
pattern(unsigned char *b, uint64_t off, size_t n, uint64_t seed)
{
	uint64_t w = mix((off >> 3) + seed * 0x1000000000ull);
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if ((off & 7) == 0)
			w = mix((off >> 3) + seed * 0x1000000000ull);
		b[i] = (unsigned char)(w >> ((off & 7) * 8));
	}
}

static int
pattern_ok(const unsigned char *b, uint64_t off, size_t n, uint64_t seed)
{
	unsigned char tmp[4096];
	size_t k;

	while (n > 0) {
		k = n < sizeof(tmp) ? n : sizeof(tmp);
		pattern(tmp, off, k, seed);
		if (memcmp(tmp, b, k) != 0)
			return 0;
		b += k;
		off += k;
		n -= k;
	}
	return 1;
}

/* Fill what may be sent and take what arrived; nonzero if anything moved. */
static int
side_move(struct side *s, uint64_t peer_seed, int verify)
{
	unsigned char *b;
	size_t len, n;
	int moved = 0;

	while (s->sent < s->total && (b = tls_send_buf(s->c, &len)) != NULL &&
	    len > 0) {
		n = s->total - s->sent < len ? (size_t)(s->total - s->sent) : len;
		if (verify)
			pattern(b, s->sent, n, s->seed);
		tls_send_ack(s->c, n);
		s->sent += n;
		if (s->sent == s->total)
			tls_flush(s->c);
		moved = 1;
	}
	while ((b = tls_recv_buf(s->c, &len)) != NULL && len > 0) {
		if (verify && !s->bad && !pattern_ok(b, s->got, len, peer_seed))
			s->bad = 1;
		tls_recv_ack(s->c, len);
		s->got += len;
		moved = 1;
	}
	return moved;
}

/* Send cli.total and srv.total bytes at once; 1 when all arrived intact. */
static int
pair_transfer(struct pair *p, int verify)
{
	int moved;

	while (p->cli.got < p->srv.total || p->srv.got < p->cli.total) {
		/* Moving after each pump too: a pump may bring data or room. */
		moved = side_move(&p->cli, p->srv.seed, verify);
		pump(&p->cli);
		moved |= side_move(&p->cli, p->srv.seed, verify);
		moved |= side_move(&p->srv, p->cli.seed, verify);
		pump(&p->srv);
		moved |= side_move(&p->srv, p->cli.seed, verify);
		if (p->cli.rc < 0 || p->srv.rc < 0) {
			printf("  transfer: client '%s', server '%s'\n",
			    tls_error(p->cli.c), tls_error(p->srv.c));
			return 0;
		}
		if (!moved && !pair_wait(p)) {
			printf("  transfer stalled\n");
			return 0;
		}
	}
	return !p->cli.bad && !p->srv.bad;
}

/* Close from the client; 1 when both ends report a clean close. */
static int
pair_close(struct pair *p)
{
	tls_close(p->cli.c);
	while (p->cli.rc >= 0 || p->srv.rc >= 0) {
		side_move(&p->cli, 0, 0);
		side_move(&p->srv, 0, 0);
		pump(&p->cli);
		pump(&p->srv);
		if ((p->cli.rc >= 0 || p->srv.rc >= 0) && !pair_wait(p)) {
			printf("  close stalled\n");
			return 0;
		}
	}
	if (!tls_closed_cleanly(p->cli.c) || !tls_closed_cleanly(p->srv.c))
		printf("  close: client '%s', server '%s'\n",
		    tls_error(p->cli.c), tls_error(p->srv.c));
	return tls_closed_cleanly(p->cli.c) && tls_closed_cleanly(p->srv.c);
}

static int
has(const struct tls_conn *c, const char *side, const char *want)
{
	if (strstr(tls_error(c), want) != NULL)
		return 1;
	printf("  %s error '%s', wanted '%s'\n", side, tls_error(c), want);
	return 0;
}

/* A handshake that must fail: each side's reason contains its string. */
static int
refused(const struct tls_config *cc, const struct tls_config *sc,
    const char *cwhy, const char *swhy)
{
	struct pair p;
	int ok;

	if (cc == NULL || sc == NULL || pair_open(&p, cc, sc) < 0)
		return 0;
	ok = !pair_handshake(&p) && p.cli.rc < 0 && p.srv.rc < 0 &&
	    !tls_closed_cleanly(p.cli.c) && !tls_closed_cleanly(p.srv.c);
	ok = has(p.cli.c, "client", cwhy) & has(p.srv.c, "server", swhy) & ok;
	pair_free(&p);
	return ok;
}

/* A handshake that must work with the given suite, then a clean close. */
static int
works(const struct tls_config *cc, const struct tls_config *sc,
    const char *suite)
{
	struct pair p;
	int ok;

	if (cc == NULL || sc == NULL || pair_open(&p, cc, sc) < 0)
		return 0;
	ok = pair_handshake(&p);
	if (!ok)
		printf("  handshake: client '%s', server '%s'\n",
		    tls_error(p.cli.c), tls_error(p.srv.c));
	if (ok && strcmp(tls_suite(p.cli.c), suite) != 0) {
		printf("  suite %s, wanted %s\n", tls_suite(p.cli.c), suite);
		ok = 0;
	}
	p.cli.total = p.srv.total = 100000;
	ok = ok && pair_transfer(&p, 1) && pair_close(&p);
	pair_free(&p);
	return ok;
}

static struct tls_config *server, *client;

static void
test_config(void)
{
	char path[512];
	struct tls_config *t;
	int fd, i;
	static char junk[64 * 1024];

	CHECK(cfg_refused("nonexistent.pem", "server.key", "ca.pem", NULL,
	    "No such file"));
	CHECK(cfg_refused("server.pem", "client.key", "ca.pem", NULL,
	    "does not match"));
	CHECK(cfg_refused("server.pem", "encrypted.key", "ca.pem", NULL,
	    "encrypted"));
	CHECK(cfg_refused("server.key", "server.key", "ca.pem", NULL,
	    "no CERTIFICATE"));
	CHECK(cfg_refused("server.pem", "server.pem", "ca.pem", NULL,
	    "no PRIVATE KEY"));
	CHECK(cfg_refused("server.pem", "server.key", "ca.key", NULL,
	    "no CA CERTIFICATE"));
	CHECK(cfg_refused("server.pem", "server.key", "ca.pem", "",
	    "not a valid name"));
	CHECK(tls_config_load(NULL, NULL, NULL, NULL, err, sizeof(err)) ==
	    NULL && strstr(err, "CA file") != NULL);

	/* Files over 1 MiB are refused before any parsing. */
	snprintf(path, sizeof(path), "%s/big.pem", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	memset(junk, '\n', sizeof(junk));
	for (i = 0; i < 17; i++)
		if (write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
			perror("write");
	close(fd);
	CHECK(cfg_refused("big.pem", "server.key", "ca.pem", NULL,
	    "larger than 1 MiB"));

	/* Corrupt base64 inside a PEM block. */
	snprintf(path, sizeof(path), "%s/bad.pem", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (write(fd, "-----BEGIN CERTIFICATE-----\n#!%\n"
	    "-----END CERTIFICATE-----\n", 59) != 59)
		perror("write");
	close(fd);
	CHECK(cfg_refused("bad.pem", "server.key", "ca.pem", NULL, "PEM"));

	/* A client without a certificate loads; as a server it cannot start. */
	t = cfg(NULL, NULL, "ca.pem", NULL);
	CHECK(t != NULL);
	if (t != NULL) {
		struct tls_conn *c = malloc(tls_conn_size());

		CHECK(tls_conn_start(c, t, 1, err, sizeof(err)) < 0 &&
		    strstr(err, "needs a certificate") != NULL);
		free(c);
		tls_config_free(t);
	}
}

static void
test_good(void)
{
	struct tls_config *c, *s;
	struct pair p;
	uint64_t mib = 64;
	const char *e = getenv("TLS_TEST_MIB");

	if (e != NULL)
		mib = strtoull(e, NULL, 10);
	CHECK(server != NULL && client != NULL);
	if (server == NULL || client == NULL)
		return;
	/* The big one: both directions at once, every byte checked. */
	if (CHECK(pair_open(&p, client, server) == 0)) {
		CHECK(pair_handshake(&p));
		CHECK(tls_suite(p.cli.c) != NULL && strcmp(tls_suite(p.cli.c),
		    "ECDHE-ECDSA-AES128-GCM-SHA256") == 0 &&
		    strcmp(tls_suite(p.srv.c), tls_suite(p.cli.c)) == 0);
		p.cli.total = mib << 20;
		p.srv.total = (mib << 20) + 12345;
		CHECK(pair_transfer(&p, 1));
		CHECK(p.cli.got == p.srv.total && p.srv.got == p.cli.total);
		CHECK(pair_close(&p));
		/* Over and done: every call keeps saying so. */
		CHECK(tls_pump(p.cli.c, p.cli.fd) == -1 &&
		    tls_closed_cleanly(p.cli.c));
		pair_free(&p);
	}

	/* RSA client key (traditional PEM), and RSA server: ECDHE-RSA. */
	c = cfg("client-rsa.pem", "client-rsa.key", "ca.pem", "mig-server");
	CHECK(works(c, server, "ECDHE-ECDSA-AES128-GCM-SHA256"));
	tls_config_free(c);
	s = cfg("server-rsa.pem", "server-rsa.key", "ca.pem", "mig-client");
	CHECK(works(client, s, "ECDHE-RSA-AES128-GCM-SHA256"));
	tls_config_free(s);

	/* P-384 leaf sent with its intermediate; only the root is trusted. */
	s = cfg("server384.pem", "server384.key", "ca.pem", "mig-client");
	CHECK(works(client, s, "ECDHE-ECDSA-AES128-GCM-SHA256"));
	tls_config_free(s);

	/* Several CAs in one file; no names checked. */
	c = cfg("client.pem", "client.key", "cas.pem", NULL);
	s = cfg("server.pem", "server.key", "cas.pem", NULL);
	CHECK(works(c, s, "ECDHE-ECDSA-AES128-GCM-SHA256"));
	tls_config_free(c);
	tls_config_free(s);
}

static void
test_refused(void)
{
	struct tls_config *c, *s;

	/* Wrong CA, on either end. */
	c = cfg("client.pem", "client.key", "other-ca.pem", "mig-server");
	CHECK(refused(c, server, "peer certificate not trusted by the CA",
	    "peer refused our certificate: unknown CA"));
	tls_config_free(c);
	s = cfg("server.pem", "server.key", "other-ca.pem", "mig-client");
	CHECK(refused(client, s, "peer refused our certificate: unknown CA",
	    "peer certificate not trusted by the CA"));
	tls_config_free(s);
	s = cfg("rogue.pem", "rogue.key", "cas.pem", NULL);
	CHECK(refused(client, s, "not trusted by the CA", "unknown CA"));
	tls_config_free(s);

	/* The reason reaches the peer over TCP even if the refuser closes
	 * at once with the rest of the peer's flight unread. */
	use_tcp = 1;
	c = cfg("client.pem", "client.key", "other-ca.pem", "mig-server");
	CHECK(refused(c, server, "not trusted by the CA", "unknown CA"));
	tls_config_free(c);
	s = cfg("server.pem", "server.key", "other-ca.pem", "mig-client");
	CHECK(refused(client, s, "unknown CA", "not trusted by the CA"));
	tls_config_free(s);
	use_tcp = 0;

	/* No client certificate. */
	c = cfg(NULL, NULL, "ca.pem", "mig-server");
	CHECK(refused(c, server, "require a client certificate",
	    "peer presented no certificate"));
	tls_config_free(c);

	/* Expired, on either end. */
	s = cfg("expired.pem", "expired.key", "ca.pem", NULL);
	CHECK(refused(client, s, "peer certificate expired or not yet valid",
	    "peer refused our certificate: certificate expired"));
	tls_config_free(s);
	c = cfg("expired.pem", "expired.key", "ca.pem", NULL);
	CHECK(refused(c, server, "peer refused our certificate: "
	    "certificate expired", "peer certificate expired"));
	tls_config_free(c);

	/* Names: the client's own certificate as the server's, and back. */
	s = cfg("client.pem", "client.key", "ca.pem", NULL);
	CHECK(refused(client, s, "peer name mismatch: its certificate is not "
	    "for 'mig-server'", "peer refused our certificate"));
	tls_config_free(s);
	c = cfg("server.pem", "server.key", "ca.pem", NULL);
	CHECK(refused(c, server, "peer refused our certificate",
	    "peer name mismatch: its certificate is not for 'mig-client'"));
	tls_config_free(c);
}

static void
test_ends(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: mig\r\n\r\n";
	static const unsigned char fake[] = {
		0x16, 0x03, 0x03, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04,
		0xde, 0xad, 0xbe, 0xef,
	};
	struct pair p;

	/* The peer vanishes without close_notify: not a clean close. */
	if (CHECK(pair_open(&p, client, server) == 0)) {
		CHECK(pair_handshake(&p));
		close(p.srv.fd);
		p.srv.fd = -1;
		pump(&p.cli);
		CHECK(p.cli.rc < 0 && !tls_closed_cleanly(p.cli.c) &&
		    has(p.cli.c, "client", "without close_notify"));
		pair_free(&p);
	}

	/* The server's close is answered and clean on both ends too. */
	if (CHECK(pair_open(&p, client, server) == 0)) {
		CHECK(pair_handshake(&p));
		p.srv.total = 1000;
		CHECK(pair_transfer(&p, 1));
		tls_close(p.srv.c);
		pump(&p.srv);
		pump(&p.cli);
		pump(&p.srv);
		CHECK(p.cli.rc < 0 && p.srv.rc < 0 &&
		    tls_closed_cleanly(p.cli.c) && tls_closed_cleanly(p.srv.c));
		pair_free(&p);
	}

	/* Garbage instead of a ClientHello, then instead of a ServerHello. */
	if (CHECK(pair_open(&p, client, server) == 0)) {
		CHECK(write(p.cli.fd, http, sizeof(http) - 1) > 0);
		pump(&p.srv);
		CHECK(p.srv.rc < 0 && has(p.srv.c, "server",
		    "does not speak TLS 1.2"));
		pump(&p.cli);
		CHECK(write(p.srv.fd, fake, sizeof(fake)) > 0);
		pump(&p.cli);
		CHECK(p.cli.rc < 0 && !tls_closed_cleanly(p.cli.c) &&
		    has(p.cli.c, "client", "BearSSL error"));
		pair_free(&p);
	}

	/* A peer that hangs up mid-handshake. */
	if (CHECK(pair_open(&p, client, server) == 0)) {
		pump(&p.cli);
		close(p.srv.fd);
		p.srv.fd = -1;
		pump(&p.cli);
		CHECK(p.cli.rc < 0 && has(p.cli.c, "client",
		    "during the TLS handshake"));
		pair_free(&p);
	}
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
bench(uint64_t mib)
{
	struct pair p;
	double t0, c0, t, c;

	if (server == NULL || client == NULL || pair_open(&p, client, server) <
	    0 || !pair_handshake(&p))
		return 1;
	p.cli.total = mib << 20;
	t0 = now();
	c0 = cpu_seconds();
	if (!pair_transfer(&p, 0))
		return 1;
	t = now() - t0;
	c = cpu_seconds() - c0;
	printf("%s: %llu MiB one way in %.2f s (%.0f MB/s), %.2f CPU s "
	    "(both ends, one thread)\n", tls_suite(p.cli.c),
	    (unsigned long long)mib, t, (double)(mib << 20) / t / 1e6, c);
	pair_free(&p);
	return 0;
}

/* Certificates made here when no directory was given. */
static char tmpdir[256];

static void
rm_tmpdir(void)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	if (tmpdir[0] == 0 || (d = opendir(tmpdir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

static const char *
make_certs(const char *argv0)
{
	char script[512];
	const char *slash = strrchr(argv0, '/');
	pid_t pid;
	int st;

	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		printf("skipped: needs openssl to make test certificates\n");
		exit(77);
	}
	/* build/test/tls_test -> scripts/mkcerts.sh */
	snprintf(script, sizeof(script), "%.*s/../../scripts/mkcerts.sh",
	    slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".");
	if (access(script, R_OK) != 0)
		snprintf(script, sizeof(script), "scripts/mkcerts.sh");
	snprintf(tmpdir, sizeof(tmpdir), "%s/tls_test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(rm_tmpdir);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", script, tmpdir, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		printf("%s %s failed\n", script, tmpdir);
		exit(1);
	}
	return tmpdir;
}

/*
 * Staging: many records per write, but bounded.  A peer that reads nothing
 * makes the sender run out of room (no unbounded buffering); data staged
 * before a close is delivered before the end is reported, and the close
 * stays clean.
 */
static void
test_staging(void)
{
	struct pair p;
	unsigned char *b;
	size_t len, n;
	uint64_t taken = 0;
	int i;

	if (!CHECK(pair_open(&p, client, server) == 0))
		return;
	CHECK(pair_handshake(&p));
	/* The server never reads: the client fills what it may, then stops. */
	for (i = 0; i < 100000; i++) {
		b = tls_send_buf(p.cli.c, &len);
		if (b == NULL || len == 0) {
			pump(&p.cli);
			b = tls_send_buf(p.cli.c, &len);
			if (b == NULL || len == 0)
				break;
		}
		pattern(b, taken, len, p.cli.seed);
		tls_send_ack(p.cli.c, len);
		taken += len;
	}
	CHECK(p.cli.rc >= 0 && (p.cli.rc & TLS_WANT_WRITE));
	/* Socket buffers plus the stages: a few MiB at most, not 100000
	 * rounds' worth. */
	CHECK(taken > 0 && taken < (uint64_t)16 << 20);
	/* Then the server reads it all, every byte checked, and the client
	 * closes right after its last byte: data first, then a clean end. */
	p.cli.total = p.cli.sent = taken;
	tls_flush(p.cli.c);
	tls_close(p.cli.c);
	while (p.cli.rc >= 0 || p.srv.rc >= 0) {
		pump(&p.cli);
		pump(&p.srv);
		/* What a pump opened does not wake poll: take it first. */
		for (i = 0; (b = tls_recv_buf(p.srv.c, &n)) != NULL && n > 0;
		    i++) {
			if (!p.srv.bad && !pattern_ok(b, p.srv.got, n,
			    p.cli.seed))
				p.srv.bad = 1;
			tls_recv_ack(p.srv.c, n);
			p.srv.got += n;
		}
		if (i > 0)
			continue;
		if ((p.cli.rc >= 0 || p.srv.rc >= 0) && !pair_wait(&p)) {
			printf("  staged close stalled\n");
			break;
		}
	}
	CHECK(p.srv.got == taken && !p.srv.bad);
	CHECK(tls_closed_cleanly(p.cli.c) && tls_closed_cleanly(p.srv.c));
	pair_free(&p);
}

int
main(int argc, char **argv)
{
	char a[512], b[512], cmd[1200];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	dir = argc > 1 ? argv[1] : make_certs(argv[0]);
	/* Both CAs in one file, the other first. */
	snprintf(a, sizeof(a), "%s/other-ca.pem", dir);
	snprintf(b, sizeof(b), "%s/ca.pem", dir);
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' >'%s/cas.pem'", a, b, dir);
	if (system(cmd) != 0)
		return 1;
	server = cfg("server.pem", "server.key", "ca.pem", "mig-client");
	client = cfg("client.pem", "client.key", "ca.pem", "mig-server");
	if (argc > 2 && strcmp(argv[2], "bench") == 0)
		return bench(argc > 3 ? strtoull(argv[3], NULL, 10) : 256);

	test_config();
	test_good();
	test_refused();
	test_ends();
	test_staging();
	tls_config_free(server);
	tls_config_free(client);
	return check_done();
}
