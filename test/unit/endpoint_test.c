/* endpoint_parse, endpoint_qemu_uri and endpoint_format. */
#include <stdio.h>
#include <string.h>

#include "base/endpoint.h"
#include "check.h"

static struct endpoint ep;
static char err[300];

static int
parse(const char *text, unsigned allowed)
{
	err[0] = '\0';
	return endpoint_parse(text, allowed, &ep, err, sizeof(err));
}

/* Refused, with a reason that mentions why. */
static int
refused(const char *text, unsigned allowed, const char *why)
{
	if (parse(text, allowed) == 0 || strstr(err, why) == NULL) {
		printf("  '%s': got '%s', wanted '%s'\n", text, err, why);
		return 0;
	}
	return 1;
}

static int
uri_is(const char *want)
{
	char buf[400];

	return endpoint_qemu_uri(&ep, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, want) == 0;
}

static void
test_unix(void)
{
	char text[300];

	CHECK(parse("unix:/run/qmp.sock", ENDPOINT_ANY) == 0 &&
	    ep.kind == ENDPOINT_UNIX && strcmp(ep.path, "/run/qmp.sock") == 0 &&
	    uri_is("unix:/run/qmp.sock"));
	CHECK(parse("unix:rel/qmp.sock", ENDPOINT_ANY) == 0 &&
	    strcmp(ep.path, "rel/qmp.sock") == 0);
	CHECK(parse("unix:///run/qmp.sock", ENDPOINT_ANY) == 0 &&
	    ep.kind == ENDPOINT_UNIX && strcmp(ep.path, "/run/qmp.sock") == 0);
	CHECK(refused("unix://host/run/qmp.sock", ENDPOINT_ANY, "no host"));
	CHECK(refused("unix://", ENDPOINT_ANY, "no host"));
	CHECK(refused("unix:", ENDPOINT_ANY, "empty socket path"));
	/* sun_path holds 107 bytes and the NUL. */
	memset(text, 0, sizeof(text));
	memcpy(text, "unix:/", 6);
	memset(text + 6, 'p', 106);
	CHECK(parse(text, ENDPOINT_ANY) == 0 && strlen(ep.path) == 107);
	text[6 + 106] = 'p';
	CHECK(refused(text, ENDPOINT_ANY, "longer than 107 bytes"));
	memmove(text + 7, text + 5, 110);
	memcpy(text + 5, "//", 2);
	text[6 + 2 + 106] = '\0';
	CHECK(parse(text, ENDPOINT_ANY) == 0 && strlen(ep.path) == 107);
	text[6 + 2 + 106] = 'p';
	CHECK(refused(text, ENDPOINT_ANY, "longer than 107 bytes"));
}

static void
test_tcp(void)
{
	char text[300];

	CHECK(parse("tcp:example.org:4444", ENDPOINT_ANY) == 0 &&
	    ep.kind == ENDPOINT_TCP && strcmp(ep.host, "example.org") == 0 &&
	    strcmp(ep.port, "4444") == 0 && uri_is("tcp:example.org:4444"));
	CHECK(parse("tcp:10.0.0.1:1", ENDPOINT_ANY) == 0 &&
	    strcmp(ep.host, "10.0.0.1") == 0 && strcmp(ep.port, "1") == 0);
	CHECK(parse("tcp:[::1]:65535", ENDPOINT_ANY) == 0 &&
	    strcmp(ep.host, "::1") == 0 && strcmp(ep.port, "65535") == 0 &&
	    uri_is("tcp:[::1]:65535"));
	CHECK(parse("tcp:[fe80::1%eth0]:80", ENDPOINT_ANY) == 0 &&
	    strcmp(ep.host, "fe80::1%eth0") == 0);
	CHECK(parse("tcp:h:0080", ENDPOINT_ANY) == 0 &&
	    strcmp(ep.port, "80") == 0);
	CHECK(refused("tcp:::1:80", ENDPOINT_ANY, "brackets"));
	CHECK(refused("tcp:[::1]80", ENDPOINT_ANY, "tcp:[IPV6]:PORT"));
	CHECK(refused("tcp:[::1", ENDPOINT_ANY, "tcp:[IPV6]:PORT"));
	CHECK(refused("tcp:[]:80", ENDPOINT_ANY, "empty host"));
	CHECK(refused("tcp::80", ENDPOINT_ANY, "empty host"));
	CHECK(refused("tcp:host", ENDPOINT_ANY, "tcp:HOST:PORT"));
	CHECK(refused("tcp:h:0", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:65536", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:-1", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:80x", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:http", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h: 80", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:+80", ENDPOINT_ANY, "port"));
	CHECK(refused("tcp:h:99999999999999999999", ENDPOINT_ANY, "port"));
	memset(text, 0, sizeof(text));
	memcpy(text, "tcp:", 4);
	memset(text + 4, 'h', 255);
	strcpy(text + 4 + 255, ":22");
	CHECK(parse(text, ENDPOINT_ANY) == 0 && strlen(ep.host) == 255);
	memset(text + 4, 'h', 256);
	strcpy(text + 4 + 256, ":22");
	CHECK(refused(text, ENDPOINT_ANY, "too long"));
}

static void
test_other(void)
{
	char buf[300];

	CHECK(parse("-", ENDPOINT_ANY) == 0 && ep.kind == ENDPOINT_STDIO);
	CHECK(endpoint_qemu_uri(&ep, buf, sizeof(buf)) == -1);
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(strcmp(buf, "-") == 0);
	CHECK(refused("", ENDPOINT_ANY, "empty"));
	CHECK(refused(NULL, ENDPOINT_ANY, "empty"));
	CHECK(refused("/run/qmp.sock", ENDPOINT_ANY, "expected unix:PATH"));
	CHECK(refused("UNIX:/x", ENDPOINT_ANY, "expected unix:PATH"));
	CHECK(refused("--", ENDPOINT_ANY, "expected"));

	/* The mask. */
	CHECK(refused("-", ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP), "'-' is not allowed here"));
	CHECK(refused("tcp:h:1", ENDPOINT_ALLOW(ENDPOINT_UNIX),
	    "tcp: is not allowed here"));
	CHECK(refused("unix:/x", ENDPOINT_ALLOW(ENDPOINT_TCP),
	    "unix: is not allowed here"));
	CHECK(parse("unix:/x", ENDPOINT_ALLOW(ENDPOINT_UNIX)) == 0);
	CHECK(parse("tcp:h:1", ENDPOINT_ALLOW(ENDPOINT_TCP)) == 0);
	CHECK(parse("-", ENDPOINT_ALLOW(ENDPOINT_STDIO)) == 0);
	CHECK(refused("-", 0, "not allowed"));
	/* A refusal offers only what the caller accepts (--qmp: unix). */
	CHECK(refused("x", ENDPOINT_ALLOW(ENDPOINT_UNIX),
	    ": expected unix:PATH or unix:///PATH") && strstr(err, "tcp") == NULL);
	CHECK(refused("-", ENDPOINT_ALLOW(ENDPOINT_UNIX),
	    "'-' is not allowed here, expected unix:PATH or unix:///PATH"));
	CHECK(refused("x", ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP),
	    "expected unix:PATH, unix:///PATH or tcp:HOST:PORT") &&
	    strstr(err, " -") == NULL);
	CHECK(refused("x", ENDPOINT_ALLOW(ENDPOINT_TCP),
	    ": expected tcp:HOST:PORT"));

	/* endpoint_qemu_uri only writes what fits. */
	CHECK(parse("unix:/abc", ENDPOINT_ANY) == 0);
	CHECK(endpoint_qemu_uri(&ep, buf, 10) == 0 &&
	    strcmp(buf, "unix:/abc") == 0);
	CHECK(endpoint_qemu_uri(&ep, buf, 9) == -1);
	CHECK(parse("tcp:[::1]:9", ENDPOINT_ANY) == 0);
	CHECK(endpoint_qemu_uri(&ep, buf, 12) == 0 &&
	    strcmp(buf, "tcp:[::1]:9") == 0);
	CHECK(endpoint_qemu_uri(&ep, buf, 11) == -1);
	endpoint_format(&ep, buf, sizeof(buf));
	CHECK(strcmp(buf, "tcp:[::1]:9") == 0);
}

/* What endpoint_format writes parses back to the same endpoint. */
static int
round_trip(const char *text, const char *want)
{
	struct endpoint first;
	char buf[300];

	if (parse(text, ENDPOINT_ANY) < 0)
		return 0;
	first = ep;
	endpoint_format(&first, buf, sizeof(buf));
	if (strcmp(buf, want) != 0 || parse(buf, ENDPOINT_ANY) < 0) {
		printf("  '%s' written '%s': %s\n", text, buf, err);
		return 0;
	}
	return memcmp(&first, &ep, sizeof(ep)) == 0;
}

static void
test_round_trip(void)
{
	CHECK(round_trip("unix:/run/x", "unix:/run/x"));
	CHECK(round_trip("unix:///run/x", "unix:/run/x"));
	/* The path is "//x": "unix://x" would name a host. */
	CHECK(round_trip("unix:////x", "unix:////x") &&
	    strcmp(ep.path, "//x") == 0);
	CHECK(round_trip("unix://///x", "unix://///x"));
	CHECK(round_trip("tcp:[::1]:80", "tcp:[::1]:80"));
	CHECK(round_trip("tcp:[h]:080", "tcp:h:80"));
	/* Brackets in a host cannot be written back: refused. */
	CHECK(refused("tcp:[[x]:80", ENDPOINT_ANY, "brackets in the host"));
	CHECK(refused("tcp:x]:80", ENDPOINT_ANY, "brackets in the host"));
	CHECK(refused("tcp:a[b:80", ENDPOINT_ANY, "brackets in the host"));
	/* A reason is one line, whatever the text holds. */
	CHECK(refused("tcp:\n:80x", ENDPOINT_ANY, "'tcp:?:80x'") &&
	    strchr(err, '\n') == NULL);
}

int
main(void)
{
	test_unix();
	test_tcp();
	test_other();
	test_round_trip();
	return check_done();
}
