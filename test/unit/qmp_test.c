/*
 * The QMP codec fed bytes in every split, then the client against fake
 * peers (a forked child on a socketpair) for the error paths, then against
 * a real QEMU when one is installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/sock.h"
#include "qmp/qmp.h"
#include "check.h"

static struct qmp_codec codec;
static struct qmp client;
static char big[QMP_MSG_MAX + 64];

/* ---- codec ---- */

/* Feed text in pieces cut at the given positions; record kinds seen. */
static int
feed(const char *text, size_t len, const size_t *cuts, int ncuts,
    int *kinds, int maxkinds, char *err, size_t errlen)
{
	struct qmp_msg m;
	size_t at = 0, end, avail;
	char *p;
	int i, n = 0, rc;

	qmp_codec_init(&codec);
	for (i = 0; i <= ncuts; i++) {
		end = i < ncuts ? cuts[i] : len;
		while (at < end) {
			p = qmp_codec_space(&codec, &avail);
			if (avail == 0)
				return -2;
			if (avail > end - at)
				avail = end - at;
			memcpy(p, text + at, avail);
			qmp_codec_wrote(&codec, avail);
			at += avail;
			while ((rc = qmp_codec_next(&codec, &m, err,
			    errlen)) == 1)
				if (n < maxkinds)
					kinds[n++] = m.kind;
			if (rc < 0)
				return -1;
		}
	}
	return n;
}

static int
same_kinds(const int *a, const int *b, int n)
{
	return memcmp(a, b, (size_t)n * sizeof(int)) == 0;
}

static void
test_codec_splits(void)
{
	static const char s[] =
	    "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 8}}, "
	    "\"capabilities\": [\"oob\"]}}\r\n"
	    "{\"return\": {}, \"id\": 1}\r\n"
	    "{\"event\": \"STOP\", \"data\": {}, \"timestamp\": "
	    "{\"seconds\": 1, \"microseconds\": 2}}\n"
	    "{\"return\": \"a}\\\"{[b\", \"id\": 2}\r\n  \r\n"
	    "{\n  \"error\": {\n    \"class\": \"GenericError\",\n"
	    "    \"desc\": \"no }\"\n  },\n  \"id\": 3\n}\n"
	    "{\"return\": [[], {}, [{}]], \"id\": 4}\r\n";
	static const int want[] = { QMP_MSG_GREETING, QMP_MSG_RETURN,
	    QMP_MSG_EVENT, QMP_MSG_RETURN, QMP_MSG_ERROR, QMP_MSG_RETURN };
	size_t len = sizeof(s) - 1, k, j, cuts[2];
	int kinds[8], n, bad1 = 0, bad2 = 0;
	char err[300];

	n = feed(s, len, NULL, 0, kinds, 8, err, sizeof(err));
	CHECK(n == 6 && same_kinds(kinds, want, 6));
	for (k = 0; k <= len; k++) {
		n = feed(s, len, &k, 1, kinds, 8, err, sizeof(err));
		bad1 += !(n == 6 && same_kinds(kinds, want, 6));
	}
	CHECK(bad1 == 0);
	/* Every pair of cuts: three pieces, messages cut twice. */
	for (k = 0; k <= len; k += 3)
		for (j = k; j <= len; j += 5) {
			cuts[0] = k;
			cuts[1] = j;
			n = feed(s, len, cuts, 2, kinds, 8, err, sizeof(err));
			bad2 += !(n == 6 && same_kinds(kinds, want, 6));
		}
	CHECK(bad2 == 0);
	/* Byte by byte. */
	{
		size_t every[sizeof(s)];
		for (k = 0; k < len; k++)
			every[k] = k + 1;
		n = feed(s, len, every, (int)len, kinds, 8, err, sizeof(err));
		CHECK(n == 6 && same_kinds(kinds, want, 6));
	}
}

/* Parse one message with the codec; returns qmp_codec_next's result. */
static int
one(const char *text, struct qmp_msg *m, char *err, size_t errlen)
{
	char *p;
	size_t avail;

	qmp_codec_init(&codec);
	p = qmp_codec_space(&codec, &avail);
	snprintf(p, avail, "%s", text);
	qmp_codec_wrote(&codec, strlen(text));
	return qmp_codec_next(&codec, m, err, errlen);
}

static void
test_codec_fields(void)
{
	static char s2k[2001];
	struct qmp_msg m;
	char err[300], s[64];
	int64_t v;

	CHECK(one("{\"QMP\": {\"version\": {}}}\r\n", &m, err, 300) == 1 &&
	    m.kind == QMP_MSG_GREETING && json_type(&m.doc, m.value) ==
	    JSON_OBJECT);
	CHECK(one("{\"return\": {\"status\": \"running\"}, \"id\": 42}", &m,
	    err, 300) == 1 && m.kind == QMP_MSG_RETURN && m.id == 42);
	CHECK(json_path_string(&m.doc, m.value, "status", s, sizeof(s)) >= 0 &&
	    strcmp(s, "running") == 0);
	CHECK(one("{\"return\": 7}", &m, err, 300) == 1 && m.id == -1 &&
	    json_int(&m.doc, m.value, &v) == 0 && v == 7);
	CHECK(one("{\"return\": {}, \"id\": \"x\"}", &m, err, 300) == 1 &&
	    m.id == -2);
	CHECK(one("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
	    "\"The command foo has not been found\"}, \"id\": 5}", &m, err,
	    300) == 1 && m.kind == QMP_MSG_ERROR && m.id == 5 &&
	    strcmp(m.name, "CommandNotFound") == 0 &&
	    strcmp(m.desc, "The command foo has not been found") == 0);
	CHECK(one("{\"error\": {}}", &m, err, 300) == 1 &&
	    strcmp(m.name, "GenericError") == 0 && m.desc[0] != '\0');
	CHECK(one("{\"event\": \"MIGRATION\", \"data\": {\"status\": "
	    "\"completed\"}}", &m, err, 300) == 1 && m.kind == QMP_MSG_EVENT &&
	    strcmp(m.name, "MIGRATION") == 0 && json_path_string(&m.doc,
	    m.value, "status", s, sizeof(s)) >= 0 &&
	    strcmp(s, "completed") == 0);
	CHECK(one("{\"event\": \"RESUME\"}", &m, err, 300) == 1 &&
	    m.value == -1);
	/* A desc too long for m.desc is cut, not lost. */
	memset(s2k, 'd', sizeof(s2k) - 1);
	snprintf(big, 3000, "{\"error\": {\"class\": \"X\", \"desc\": "
	    "\"%s\"}}", s2k);
	CHECK(one(big, &m, err, 300) == 1 &&
	    strlen(m.desc) == sizeof(m.desc) - 1 &&
	    strcmp(m.desc + sizeof(m.desc) - 4, "...") == 0);
	/* Incomplete: wait for more. */
	CHECK(one("{\"return\": {", &m, err, 300) == 0);
	CHECK(one("  \r\n", &m, err, 300) == 0);
}

static void
test_codec_garbage(void)
{
	struct qmp_msg m;
	char err[300];

	CHECK(one("hello\r\n", &m, err, 300) == -1 &&
	    strstr(err, "expected '{' at offset 0") != NULL &&
	    strstr(err, "\"hello\"") != NULL);
	CHECK(one("[1, 2]\r\n", &m, err, 300) == -1 &&
	    strstr(err, "expected '{'") != NULL);
	CHECK(one("42\r\n", &m, err, 300) == -1);
	CHECK(one("\"str\"\r\n", &m, err, 300) == -1);
	CHECK(one("\r\n null\r\n", &m, err, 300) == -1 &&
	    strstr(err, "offset 3") != NULL);
	CHECK(one("{\"return\": {}, \"id\": 1}\r\nxyz", &m, err, 300) == 1 &&
	    qmp_codec_next(&codec, &m, err, 300) == -1 &&
	    strstr(err, "offset 25") != NULL);
	CHECK(one("{\"a\" 1}\r\n", &m, err, 300) == -1 &&
	    strstr(err, "invalid JSON") != NULL);
	CHECK(one("{\"a\": 1,}\r\n", &m, err, 300) == -1);
	CHECK(one("{\"a\": [}]}\r\n", &m, err, 300) == -1);
	CHECK(one("{\"hello\": 1}\r\n", &m, err, 300) == -1 &&
	    strstr(err, "none of") != NULL);
	CHECK(one("{}\r\n", &m, err, 300) == -1);
	CHECK(one("{\"error\": 5}\r\n", &m, err, 300) == -1);
	CHECK(one("{\"event\": 5}\r\n", &m, err, 300) == -1);
	CHECK(one("{\"event\": \"\"}\r\n", &m, err, 300) == -1);
	CHECK(one("\xff\xfe\r\n", &m, err, 300) == -1);
}

/* A message of exactly len bytes (before "\r\n"). */
static size_t
make_big(size_t len)
{
	static const char head[] = "{\"return\": \"", tail[] = "\", \"id\": 9}";

	memcpy(big, head, sizeof(head) - 1);
	memset(big + sizeof(head) - 1, 'x',
	    len - sizeof(head) - sizeof(tail) + 2);
	memcpy(big + len - sizeof(tail) + 1, tail, sizeof(tail) - 1);
	memcpy(big + len, "\r\n{\"return\": 1}\r\n", 18);
	return len + 17;
}

static void
test_codec_limit(void)
{
	struct qmp_msg m;
	char err[300];
	size_t len, cut = 1000;
	int kinds[4], n;

	len = make_big(QMP_MSG_MAX);
	n = feed(big, len, &cut, 1, kinds, 4, err, sizeof(err));
	CHECK(n == 2 && kinds[0] == QMP_MSG_RETURN &&
	    kinds[1] == QMP_MSG_RETURN);
	/* The same, with the small message queued right behind the big one. */
	qmp_codec_init(&codec);
	memcpy(qmp_codec_space(&codec, &cut), big, QMP_MSG_MAX + 2);
	qmp_codec_wrote(&codec, QMP_MSG_MAX + 2);
	CHECK(qmp_codec_next(&codec, &m, err, 300) == 1 && m.id == 9 &&
	    m.doc.textlen == QMP_MSG_MAX);
	len = make_big(QMP_MSG_MAX + 1);
	n = feed(big, len, NULL, 0, kinds, 4, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "longer than") != NULL);
	cut = QMP_MSG_MAX - 5;
	n = feed(big, len, &cut, 1, kinds, 4, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "longer than") != NULL);
}

static void
test_codec_command(void)
{
	char buf[256];
	int n;

	n = qmp_codec_command(buf, sizeof(buf), "query-status", NULL, 3);
	CHECK(n > 0 && strcmp(buf,
	    "{\"execute\":\"query-status\",\"id\":3}\r\n") == 0);
	n = qmp_codec_command(buf, sizeof(buf), "getfd", "{\"fdname\":\"a\"}",
	    12345678901LL);
	CHECK(n == (int)strlen(buf) && strcmp(buf, "{\"execute\":\"getfd\","
	    "\"arguments\":{\"fdname\":\"a\"},\"id\":12345678901}\r\n") == 0);
	CHECK(qmp_codec_command(buf, sizeof(buf), "a\"b", NULL, 1) == -1);
	CHECK(qmp_codec_command(buf, sizeof(buf), "", NULL, 1) == -1);
	CHECK(qmp_codec_command(buf, sizeof(buf), "x", "[1]", 1) == -1);
	n = qmp_codec_command(buf, sizeof(buf), "stop", NULL, 1);
	CHECK(qmp_codec_command(buf, (size_t)n + 1, "stop", NULL, 1) == n);
	CHECK(qmp_codec_command(buf, (size_t)n, "stop", NULL, 1) == -1);
}

/* ---- fake peers ---- */

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, " \
    "\"minor\": 2, \"major\": 8}, \"package\": \"\"}, \"capabilities\": " \
    "[\"oob\"]}}\r\n"

static void
put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		_exit(90);
}

static void
putf(int fd, const char *fmt, long long id)
{
	char buf[512];

	snprintf(buf, sizeof(buf), fmt, id);
	put(fd, buf);
}

/* Read one command up to "\n"; its id, or -1 on EOF. */
static long long
get_cmd(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char *p;

	while (n + 1 < cap && read(fd, buf + n, 1) == 1)
		if (buf[n++] == '\n')
			break;
	buf[n] = '\0';
	if (n == 0 || (p = strstr(buf, "\"id\":")) == NULL)
		return -1;
	return atoll(p + 5);
}

/* Greeting and the reply to qmp_capabilities. */
static void
handshake(int fd)
{
	char buf[512];
	long long id;

	put(fd, GREETING);
	id = get_cmd(fd, buf, sizeof(buf));
	if (strstr(buf, "qmp_capabilities") == NULL)
		_exit(91);
	putf(fd, "{\"return\": {}, \"id\": %lld}\r\n", id);
}

static pid_t
peer_start(void (*script)(int), int *qfd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		script(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	*qfd = sv[0];
	return pid;
}

/* Nonzero if the peer's own checks passed. */
static int
peer_ok(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	return waitpid(pid, &st, 0) == pid && ((WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0) || (WIFSIGNALED(st) &&
	    WTERMSIG(st) == SIGTERM));
}

/* The peer's exit status itself, waiting for it to finish. */
static int
peer_done(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0;
}

static void
script_normal(int fd)
{
	char buf[512];
	long long id;

	handshake(fd);
	id = get_cmd(fd, buf, sizeof(buf));
	put(fd, "{\"event\": \"STOP\", \"data\": {\"n\": 1}, \"timestamp\": "
	    "{\"seconds\": 1, \"microseconds\": 0}}\r\n");
	putf(fd, "{\"return\": {}, \"id\": %lld}\r\n", id + 1000);
	put(fd, "{\"event\": \"RESUME\", \"timestamp\": {}}\r\n");
	putf(fd, "{\"return\": {\"status\": \"running\", \"running\": true}, "
	    "\"id\": %lld}\r\n", id);
	/* Pretty-printed, in two writes, after a pause. */
	usleep(50000);
	put(fd, "{\n    \"event\": \"SHUTDOWN\",\n    \"data\": {");
	usleep(20000);
	put(fd, "\n        \"guest\": true\n    }\n}\n");
	get_cmd(fd, buf, sizeof(buf));
	_exit(0);
}

static void
test_normal(void)
{
	struct qmp_msg *m;
	char s[32];
	int64_t dl = clock_ms() + 5000, v;
	int fd, b;
	pid_t pid = peer_start(script_normal, &fd);

	if (!CHECK(qmp_open_fd(&client, fd, dl) == 0)) {
		printf("  %s\n", client.err);
		peer_ok(pid);
		return;
	}
	CHECK(qmp_exec(&client, "query-status", NULL, dl, &m) == 0 &&
	    m->kind == QMP_MSG_RETURN && json_path_string(&m->doc, m->value,
	    "status", s, sizeof(s)) > 0 && strcmp(s, "running") == 0 &&
	    json_path_bool(&m->doc, m->value, "running", &b) == 0 && b == 1);
	CHECK(client.ev_count == 2);
	CHECK(qmp_next_event(&client, dl, &m) == 1 && strcmp(m->name, "STOP")
	    == 0 && json_path_int(&m->doc, m->value, "n", &v) == 0 && v == 1);
	CHECK(qmp_next_event(&client, dl, &m) == 1 &&
	    strcmp(m->name, "RESUME") == 0 && m->value == -1);
	CHECK(qmp_next_event(&client, dl, &m) == 1 &&
	    strcmp(m->name, "SHUTDOWN") == 0 && json_path_bool(&m->doc,
	    m->value, "guest", &b) == 0 && b == 1);
	/* Nothing more: a past deadline only polls. */
	CHECK(qmp_next_event(&client, clock_ms() - 1, &m) == 0);
	qmp_close(&client);
	CHECK(peer_done(pid));
	CHECK(qmp_exec(&client, "x", NULL, dl, &m) == -1 &&
	    strstr(client.err, "closed") != NULL);
}

static void
script_errors(int fd)
{
	char buf[512];
	long long id;

	handshake(fd);
	id = get_cmd(fd, buf, sizeof(buf));
	putf(fd, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
	    "\"The command nope has not been found\"}, \"id\": %lld}\r\n", id);
	get_cmd(fd, buf, sizeof(buf));
	put(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
	    "\"JSON parse error\"}}\r\n");
	get_cmd(fd, buf, sizeof(buf));
	put(fd, "{\"return\": {}}\r\n");
	get_cmd(fd, buf, sizeof(buf));
	_exit(0);
}

static void
test_errors(void)
{
	struct qmp_msg *m;
	int64_t dl = clock_ms() + 5000;
	int fd;
	pid_t pid = peer_start(script_errors, &fd);

	CHECK(qmp_open_fd(&client, fd, dl) == 0);
	CHECK(qmp_exec(&client, "nope", NULL, dl, &m) == 1 &&
	    m->kind == QMP_MSG_ERROR &&
	    strcmp(m->name, "CommandNotFound") == 0 &&
	    strcmp(m->desc, "The command nope has not been found") == 0 &&
	    strstr(client.err, "'nope' failed: The command nope") != NULL);
	CHECK(qmp_exec(&client, "x", "{\"a\": 1}", dl, &m) == 1 &&
	    strcmp(m->desc, "JSON parse error") == 0);
	CHECK(qmp_exec(&client, "y", NULL, dl, &m) == -1 &&
	    strstr(client.err, "without an id") != NULL);
	CHECK(qmp_exec(&client, "bad\"name", NULL, dl, &m) == -1 &&
	    strstr(client.err, "bad QMP command") != NULL);
	qmp_close(&client);
	CHECK(peer_done(pid));
}

static void
script_eof(int fd)
{
	char buf[512];

	handshake(fd);
	get_cmd(fd, buf, sizeof(buf));
	put(fd, "{\"return\": {\"status\": ");
	_exit(0);
}

static void
test_eof(void)
{
	struct qmp_msg *m;
	int64_t dl = clock_ms() + 5000;
	int fd;
	pid_t pid = peer_start(script_eof, &fd);

	CHECK(qmp_open_fd(&client, fd, dl) == 0);
	CHECK(qmp_exec(&client, "query-status", NULL, dl, &m) == -1 &&
	    strcmp(client.err, "QEMU closed the QMP connection") == 0);
	CHECK(qmp_next_event(&client, dl, &m) == -1);
	CHECK(qmp_exec(&client, "query-status", NULL, dl, &m) == -1);
	qmp_close(&client);
	CHECK(peer_done(pid));
}

static const char *open_reply;

/* Say open_reply and hang up; stay silent and connected if it is NULL. */
static void
script_say(int fd)
{
	if (open_reply == NULL)
		pause();
	put(fd, open_reply);
	if (strcmp(open_reply, GREETING) == 0)
		pause();
	_exit(0);
}

/* qmp_open_fd against a peer that says open_reply (NULL: nothing). */
static int
open_against(const char *reply, int64_t ms, const char *want)
{
	int64_t t0 = clock_ms();
	int fd, rc, ok;
	pid_t pid;

	open_reply = reply;
	pid = peer_start(script_say, &fd);
	rc = qmp_open_fd(&client, fd, t0 + ms);
	ok = rc == -1 && client.fd == -1 && strstr(client.err, want) != NULL &&
	    clock_ms() - t0 < ms + 500;
	if (!ok)
		printf("  got %d '%s' after %lld ms\n", rc, client.err,
		    (long long)(clock_ms() - t0));
	qmp_close(&client);
	peer_ok(pid);
	return ok;
}

static void
test_bad_peers(void)
{
	int64_t t0;

	CHECK(open_against("QEMU 8.2.0 monitor - type 'help' for more "
	    "information\r\n(qemu) ", 5000,
	    "not a QMP socket: QMP peer sent garbage: expected '{' at offset 0 "
	    "(got \"QEMU 8.2.0 monitor"));
	CHECK(open_against("HTTP/1.1 400", 5000, "expected '{' at offset 0"));
	CHECK(open_against("{\"return\": {}}\r\n", 5000,
	    "not a QMP socket: no greeting"));
	CHECK(open_against("{\"event\": \"X\"}\r\n", 5000,
	    "not a QMP socket: no greeting"));
	CHECK(open_against("{\"hello\": \"world\"}\r\n", 5000,
	    "not a QMP socket:"));
	CHECK(open_against("[\"QMP\"]\r\n", 5000, "not a QMP socket:"));
	CHECK(open_against("", 5000, "not a QMP socket: no greeting (the peer "
	    "closed the connection)"));
	CHECK(open_against("{\"QMP\": {", 5000, "closed"));
	t0 = clock_ms();
	CHECK(open_against(NULL, 300,
	    "timed out waiting for the QMP greeting"));
	CHECK(clock_ms() - t0 >= 300);
	/* Greets but never answers qmp_capabilities. */
	CHECK(open_against(GREETING, 300,
	    "timed out waiting for reply to 'qmp_capabilities'"));
}

static void
script_slow(int fd)
{
	char buf[512];
	long long id, id2;

	handshake(fd);
	id = get_cmd(fd, buf, sizeof(buf));
	id2 = get_cmd(fd, buf, sizeof(buf));
	/* The late reply to the first command, then the second's. */
	putf(fd, "{\"return\": {\"late\": 1}, \"id\": %lld}\r\n", id);
	putf(fd, "{\"return\": {\"late\": 0}, \"id\": %lld}\r\n", id2);
	putf(fd, "{\"return\": {}, \"id\": %lld}\r\n", id2 + 1);
	put(fd, "{\"event\": \"E\"}\r\n");
	pause();
}

static void
test_timeout(void)
{
	struct qmp_msg *m;
	int64_t dl = clock_ms() + 5000, v = -1;
	int fd;
	pid_t pid = peer_start(script_slow, &fd);

	CHECK(qmp_open_fd(&client, fd, dl) == 0);
	CHECK(qmp_exec(&client, "query-status", NULL, clock_ms() + 200, &m) ==
	    -1 && strcmp(client.err,
	    "timed out waiting for reply to 'query-status'") == 0);
	CHECK(qmp_exec(&client, "query-x", NULL, dl, &m) == 0 &&
	    json_path_int(&m->doc, m->value, "late", &v) == 0 && v == 0);
	/* A late reply while waiting for events is skipped. */
	CHECK(qmp_next_event(&client, dl, &m) == 1 &&
	    strcmp(m->name, "E") == 0);
	qmp_close(&client);
	CHECK(peer_ok(pid));
}

static void
script_flood(int fd)
{
	char buf[512], ev[QMP_EVENT_MAX + 100];
	long long id;
	int i;

	handshake(fd);
	id = get_cmd(fd, buf, sizeof(buf));
	memset(ev, 'z', sizeof(ev));
	memcpy(ev, "{\"event\": \"BIG\", \"data\": \"", 26);
	strcpy(ev + sizeof(ev) - 5, "\"}\r\n");
	put(fd, ev);
	for (i = 0; i < QMP_EVENTS_MAX + 10; i++) {
		snprintf(buf, sizeof(buf), "{\"event\": \"E%d\"}\r\n", i);
		put(fd, buf);
	}
	putf(fd, "{\"return\": {}, \"id\": %lld}\r\n", id);
	pause();
}

static void
test_flood(void)
{
	struct qmp_msg *m;
	char name[16];
	int64_t dl = clock_ms() + 5000;
	int fd, i, bad = 0;
	pid_t pid = peer_start(script_flood, &fd);

	CHECK(qmp_open_fd(&client, fd, dl) == 0);
	printf("# 2 warnings about dropped QMP events are expected:\n");
	fflush(stdout);
	CHECK(qmp_exec(&client, "cont", NULL, dl, &m) == 0);
	CHECK(client.ev_count == QMP_EVENTS_MAX);
	for (i = 10; i < QMP_EVENTS_MAX + 10; i++) {
		snprintf(name, sizeof(name), "E%d", i);
		bad += !(qmp_next_event(&client, dl, &m) == 1 &&
		    strcmp(m->name, name) == 0);
	}
	CHECK(bad == 0);
	CHECK(qmp_next_event(&client, clock_ms() + 50, &m) == 0);
	qmp_close(&client);
	CHECK(peer_ok(pid));
}

/*
 * A peer that never stops talking: after the handshake and one command,
 * it sends chatter_line over and over for CHATTER_MS (bounded so that a
 * client that ignores its deadline fails the test rather than hangs it).
 */
#define CHATTER_MS 4000
static const char *chatter_line;

static void
script_chatter(int fd)
{
	static char batch[65536];
	char buf[512];
	size_t n = strlen(chatter_line), used = 0;
	int64_t end;

	handshake(fd);
	get_cmd(fd, buf, sizeof(buf));
	while (used + n <= sizeof(batch)) {
		memcpy(batch + used, chatter_line, n);
		used += n;
	}
	end = clock_ms() + CHATTER_MS;
	while (clock_ms() < end)
		if (write(fd, batch, used) < 0)
			_exit(0);	/* the client hung up: done */
	pause();
}

/*
 * Run one wait (an exec, or an event wait if events) against a chattering
 * peer with a 300 ms deadline; stderr goes to a file whose lines are
 * counted into *warnings.  Nonzero if the wait ended in time, as wanted.
 */
static int
chatter(const char *line, int events, int *warnings)
{
	char tmpl[] = "/tmp/qmp_test.XXXXXX", c;
	struct qmp_msg *m;
	int64_t t0;
	int fd, log, saved, rc, ok;
	pid_t pid;

	chatter_line = line;
	pid = peer_start(script_chatter, &fd);
	if (qmp_open_fd(&client, fd, clock_ms() + 5000) != 0)
		return 0;
	log = mkstemp(tmpl);
	unlink(tmpl);
	fflush(stderr);
	saved = dup(2);
	dup2(log, 2);
	t0 = clock_ms();
	if (events) {
		/* The command gets the peer going; its wait is not timed. */
		qmp_exec(&client, "go", NULL, clock_ms() + 100, &m);
		t0 = clock_ms();
		rc = qmp_next_event(&client, t0 + 300, &m);
		ok = rc == 0;
	} else {
		rc = qmp_exec(&client, "go", NULL, t0 + 300, &m);
		ok = rc == -1 && strstr(client.err, "timed out") != NULL;
	}
	ok = ok && clock_ms() - t0 < 1500;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	*warnings = 0;
	lseek(log, 0, SEEK_SET);
	while (read(log, &c, 1) == 1)
		*warnings += c == '\n';
	close(log);
	qmp_close(&client);
	CHECK(peer_ok(pid));
	if (!ok)
		printf("  chatter '%.30s...': rc %d after %lld ms: %s\n", line,
		    rc, (long long)(clock_ms() - t0), client.err);
	return ok;
}

static void
test_chatter(void)
{
	static char line[9000];
	int warnings, i;

	/* An event flood: one warning, then the count, not one per event. */
	CHECK(chatter("{\"event\": \"E\", \"data\": {\"n\": 1}}\r\n", 0,
	    &warnings));
	CHECK(warnings == 2);
	/*
	 * Replies to somebody else's commands, forever, each with many
	 * values so that parsing them is slower than sending them.
	 */
	strcpy(line, "{\"id\": 999999, \"return\": [0");
	for (i = 0; i < 4000; i++)
		strcat(line, ",0");
	strcat(line, "]}\r\n");
	CHECK(chatter(line, 0, &warnings));
	CHECK(warnings == 0);
	CHECK(chatter(line, 1, &warnings));
	/* Whitespace between messages, forever. */
	CHECK(chatter("\r\n", 0, &warnings));
}

static void
on_alarm(int sig)
{
	(void)sig;
}

static void
script_quiet(int fd)
{
	handshake(fd);
	pause();
}

static void
test_eintr(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	struct qmp_msg *m;
	int64_t t0;
	int fd;
	pid_t pid = peer_start(script_quiet, &fd);

	CHECK(qmp_open_fd(&client, fd, clock_ms() + 5000) == 0);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART */
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = clock_ms();
	CHECK(qmp_next_event(&client, t0 + 5000, &m) == 0 &&
	    clock_ms() - t0 < 2000);
	/* A command's wait is not cut short by a signal. */
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = clock_ms();
	CHECK(qmp_exec(&client, "x", NULL, t0 + 400, &m) == -1 &&
	    clock_ms() - t0 >= 400 && strstr(client.err, "timed out") != NULL);
	signal(SIGALRM, SIG_DFL);
	qmp_close(&client);
	CHECK(peer_ok(pid));
}

static int pfd[2];

/* Receive the getfd command with its fd and write through that fd. */
static void
script_getfd(int fd)
{
	char buf[512], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n;
	int got = -1;
	char *p;

	/* Only the fd that comes over the socket may reach the pipe. */
	close(pfd[0]);
	close(pfd[1]);
	handshake(fd);
	n = recvmsg(fd, &mh, 0);
	if (n <= 0)
		_exit(92);
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	if (got < 0)
		_exit(93);
	if (strstr(buf, "\"execute\":\"getfd\"") == NULL ||
	    strstr(buf, "\"fdname\":\"mig\"") == NULL ||
	    (p = strstr(buf, "\"id\":")) == NULL)
		_exit(94);
	if (write(got, "ping", 4) != 4)
		_exit(95);
	close(got);
	putf(fd, "{\"return\": {}, \"id\": %lld}\r\n", atoll(p + 5));
	pause();
}

static void
test_getfd(void)
{
	struct qmp_msg *m;
	char buf[8] = "";
	int fd;
	pid_t pid;

	if (pipe(pfd) < 0)
		abort();
	pid = peer_start(script_getfd, &fd);
	CHECK(qmp_open_fd(&client, fd, clock_ms() + 5000) == 0);
	CHECK(qmp_exec_fd(&client, "getfd", "{\"fdname\":\"mig\"}", pfd[1],
	    clock_ms() + 5000, &m) == 0);
	close(pfd[1]);
	CHECK(read(pfd[0], buf, sizeof(buf)) == 4 &&
	    memcmp(buf, "ping", 4) == 0);
	close(pfd[0]);
	qmp_close(&client);
	CHECK(peer_ok(pid));
}

/* ---- a real QEMU, when installed ---- */

static int
have_prog(const char *name, char *path, size_t len)
{
	const char *p = getenv("PATH"), *e;

	for (; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		snprintf(path, len, "%.*s/%s", (int)(e - p), p, name);
		if (access(path, X_OK) == 0)
			return 1;
	}
	return 0;
}

static void
test_qemu(void)
{
	char qemu[512], sock[108], opt[160], s[32], err[200];
	struct endpoint ep;
	struct qmp_msg *m;
	int64_t dl, major = 0;
	int rc = -1, st;
	pid_t pid;

	if (!have_prog("qemu-system-x86_64", qemu, sizeof(qemu))) {
		printf("# note: qemu-system-x86_64 not found, real QEMU check "
		    "skipped\n");
		return;
	}
	snprintf(sock, sizeof(sock), "/tmp/mig-qmp-test.%d.sock",
	    (int)getpid());
	snprintf(opt, sizeof(opt), "unix:%s,server=on,wait=off", sock);
	unlink(sock);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(qemu, qemu, "-M", "none", "-display", "none",
		    "-nodefaults", "-qmp", opt, (char *)NULL);
		_exit(127);
	}
	snprintf(opt, sizeof(opt), "unix:%s", sock);
	CHECK(endpoint_parse(opt, ENDPOINT_ANY, &ep, err, sizeof(err)) == 0);
	/* The socket appears some time after the start. */
	dl = clock_ms() + 20000;
	while (clock_ms() < dl && waitpid(pid, &st, WNOHANG) == 0) {
		if ((rc = qmp_open(&client, &ep, dl)) == 0)
			break;
		usleep(50000);
	}
	if (!CHECK(rc == 0)) {
		printf("  %s\n", client.err);
		goto out;
	}
	dl = clock_ms() + 10000;
	CHECK(qmp_exec(&client, "query-status", NULL, dl, &m) == 0 &&
	    json_path_string(&m->doc, m->value, "status", s, sizeof(s)) > 0);
	CHECK(qmp_exec(&client, "query-version", NULL, dl, &m) == 0 &&
	    json_path_int(&m->doc, m->value, "qemu.major", &major) == 0 &&
	    major >= 2);
	CHECK(qmp_exec(&client, "no-such-command", NULL, dl, &m) == 1 &&
	    strcmp(m->name, "CommandNotFound") == 0);
	CHECK(pipe(pfd) == 0);
	CHECK(qmp_exec_fd(&client, "getfd", "{\"fdname\":\"t\"}", pfd[1], dl,
	    &m) == 0);
	CHECK(qmp_exec(&client, "closefd", "{\"fdname\":\"t\"}", dl, &m) == 0);
	close(pfd[0]);
	close(pfd[1]);
	/* STOP comes before stop's return: queued, then handed out. */
	CHECK(qmp_exec(&client, "stop", NULL, dl, &m) == 0);
	CHECK(qmp_next_event(&client, dl, &m) == 1 &&
	    strcmp(m->name, "STOP") == 0);
	qmp_close(&client);
out:
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	unlink(sock);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_codec_splits();
	test_codec_fields();
	test_codec_garbage();
	test_codec_limit();
	test_codec_command();
	test_normal();
	test_errors();
	test_eof();
	test_bad_peers();
	test_timeout();
	test_flood();
	test_chatter();
	test_eintr();
	test_getfd();
	test_qemu();
	return check_done();
}
