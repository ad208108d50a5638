#include <stdio.h>
#include <string.h>

#include "control/desturi.h"

#define DESTURI_LIBVIRT "qemu+unix://"

int
desturi_parse(const char *text, struct endpoint *ep, char *err,
    size_t errlen)
{
	const unsigned kinds = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	char path[sizeof(ep->path) + 8];
	const char *q, *p, *end;
	size_t n;

	if (strncmp(text, "qemu+", 5) != 0 && strstr(text, "://") != NULL &&
	    strncmp(text, "unix://", 7) != 0) {
		snprintf(err, errlen, "desturi '%.100s': only unix:PATH, "
		    "unix:///PATH, tcp:HOST:PORT and qemu+unix:///system?"
		    "socket=PATH are understood", text);
		return -1;
	}
	if (strncmp(text, "qemu+", 5) != 0)
		return endpoint_parse(text, kinds, ep, err, errlen);
	if (strncmp(text, DESTURI_LIBVIRT, strlen(DESTURI_LIBVIRT)) != 0) {
		snprintf(err, errlen, "desturi '%.100s': of libvirt's "
		    "transports only qemu+unix:// is understood (use tcp:HOST:"
		    "PORT for TCP)", text);
		return -1;
	}
	p = text + strlen(DESTURI_LIBVIRT);
	/* A host part is not allowed: the socket is local. */
	if (strncmp(p, "/system", 7) == 0)
		p += 7;
	else if (strncmp(p, "/session", 8) == 0)
		p += 8;
	else {
		snprintf(err, errlen, "desturi '%.100s': expected "
		    "qemu+unix:///system?socket=PATH", text);
		return -1;
	}
	if (*p != '?' || strncmp(p + 1, "socket=", 7) != 0) {
		snprintf(err, errlen, "desturi '%.100s': mig has no default "
		    "control socket: add ?socket=PATH", text);
		return -1;
	}
	q = p + 8;
	end = strchr(q, '&');
	n = end ? (size_t)(end - q) : strlen(q);
	if (end != NULL) {
		snprintf(err, errlen, "desturi '%.100s': only the socket= "
		    "parameter is understood", text);
		return -1;
	}
	if (n == 0 || q[0] != '/' || memchr(q, '%', n) != NULL) {
		snprintf(err, errlen, "desturi '%.100s': socket= needs an "
		    "absolute path (without %%-escapes)", text);
		return -1;
	}
	if (n >= sizeof(path) - 5) {
		snprintf(err, errlen, "desturi: unix socket path is longer "
		    "than %zu bytes", sizeof(ep->path) - 1);
		return -1;
	}
	snprintf(path, sizeof(path), "unix:%.*s", (int)n, q);
	return endpoint_parse(path, kinds, ep, err, errlen);
}
