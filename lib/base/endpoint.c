#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/endpoint.h"

/* The reason quotes the text, control bytes shown as '?' to keep one line. */
static int
endpoint_fail(char *err, size_t errlen, const char *text, const char *why)
{
	char shown[300];
	size_t i;

	for (i = 0; text[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ?
		    '?' : text[i];
	shown[i] = '\0';
	snprintf(err, errlen, "bad endpoint '%s%s': %s", shown,
	    text[i] != '\0' ? "..." : "", why);
	return -1;
}

/* What the caller accepts, for a refusal: only the kinds in allowed. */
static void
endpoint_expected(unsigned allowed, char *buf, size_t len)
{
	const char *kinds[4];
	size_t n = 0, i, used = 0;

	if (allowed & ENDPOINT_ALLOW(ENDPOINT_UNIX)) {
		kinds[n++] = "unix:PATH";
		kinds[n++] = "unix:///PATH";
	}
	if (allowed & ENDPOINT_ALLOW(ENDPOINT_TCP))
		kinds[n++] = "tcp:HOST:PORT";
	if (allowed & ENDPOINT_ALLOW(ENDPOINT_STDIO))
		kinds[n++] = "-";
	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i == 0 ? "expected " : i + 1 == n ? " or " : ", ",
		    kinds[i]);
}

static int
endpoint_parse_tcp(const char *text, const char *rest, struct endpoint *ep,
    char *err, size_t errlen)
{
	const char *colon, *host = rest;
	size_t hostlen;
	char *end;
	long port;

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');
		if (close == NULL || close[1] != ':')
			return endpoint_fail(err, errlen, text,
			    "expected tcp:[IPV6]:PORT");
		host = rest + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (colon == NULL)
			return endpoint_fail(err, errlen, text,
			    "expected tcp:HOST:PORT");
		hostlen = (size_t)(colon - rest);
		if (memchr(rest, ':', hostlen) != NULL)
			return endpoint_fail(err, errlen, text,
			    "IPv6 hosts go in brackets: tcp:[::1]:PORT");
	}
	if (hostlen == 0)
		return endpoint_fail(err, errlen, text, "empty host");
	/* A bracket in the host could not be written back unambiguously. */
	if (memchr(host, '[', hostlen) != NULL ||
	    memchr(host, ']', hostlen) != NULL)
		return endpoint_fail(err, errlen, text, "brackets in the host");
	if (hostlen >= sizeof(ep->host))
		return endpoint_fail(err, errlen, text, "host name too long");
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1 ||
	    port > 65535)
		return endpoint_fail(err, errlen, text,
		    "port must be a number from 1 to 65535");
	ep->kind = ENDPOINT_TCP;
	memcpy(ep->host, host, hostlen);
	ep->host[hostlen] = '\0';
	snprintf(ep->port, sizeof(ep->port), "%ld", port);
	return 0;
}

int
endpoint_parse(const char *text, unsigned allowed, struct endpoint *ep,
    char *err, size_t errlen)
{
	const char *path;
	char expected[80], why[120];
	int rc;

	memset(ep, 0, sizeof(*ep));
	if (text == NULL || text[0] == '\0')
		return endpoint_fail(err, errlen, "", "empty");
	if (strcmp(text, "-") == 0) {
		ep->kind = ENDPOINT_STDIO;
	} else if (strncmp(text, "unix:", 5) == 0) {
		path = text + 5;
		/* unix:///abs is libvirt's URI form; unix://host/ is not ours. */
		if (strncmp(path, "//", 2) == 0) {
			if (path[2] != '/')
				return endpoint_fail(err, errlen, text,
				    "unix URIs have no host: use unix:///PATH");
			path += 2;
		}
		if (path[0] == '\0')
			return endpoint_fail(err, errlen, text, "empty socket path");
		if (strlen(path) >= sizeof(ep->path))
			return endpoint_fail(err, errlen, text,
			    "unix socket path is longer than 107 bytes");
		ep->kind = ENDPOINT_UNIX;
		strcpy(ep->path, path);
	} else if (strncmp(text, "tcp:", 4) == 0) {
		rc = endpoint_parse_tcp(text, text + 4, ep, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		endpoint_expected(allowed, expected, sizeof(expected));
		return endpoint_fail(err, errlen, text, expected);
	}
	if (!(allowed & ENDPOINT_ALLOW(ep->kind))) {
		endpoint_expected(allowed, expected, sizeof(expected));
		snprintf(why, sizeof(why), "%s is not allowed here, %s",
		    ep->kind == ENDPOINT_STDIO ? "'-'" :
		    ep->kind == ENDPOINT_TCP ? "tcp:" : "unix:", expected);
		return endpoint_fail(err, errlen, text, why);
	}
	return 0;
}

int
endpoint_qemu_uri(const struct endpoint *ep, char *buf, size_t buflen)
{
	int n;

	if (ep->kind == ENDPOINT_UNIX)
		n = snprintf(buf, buflen, "unix:%s", ep->path);
	else if (ep->kind == ENDPOINT_TCP)
		n = snprintf(buf, buflen, strchr(ep->host, ':') ?
		    "tcp:[%s]:%s" : "tcp:%s:%s", ep->host, ep->port);
	else
		return -1;
	return (n < 0 || (size_t)n >= buflen) ? -1 : 0;
}

/*
 * A path that starts with "//" is written in the URI form: "unix://x"
 * would read back as a host, so the path "//x" comes out as "unix:////x".
 */
void
endpoint_format(const struct endpoint *ep, char *buf, size_t buflen)
{
	if (ep->kind == ENDPOINT_STDIO)
		snprintf(buf, buflen, "-");
	else if (ep->kind == ENDPOINT_UNIX && strncmp(ep->path, "//", 2) == 0)
		snprintf(buf, buflen, "unix://%s", ep->path);
	else if (endpoint_qemu_uri(ep, buf, buflen) < 0)
		snprintf(buf, buflen, "?");
}
