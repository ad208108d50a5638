#ifndef MIG_ENDPOINT_H
#define MIG_ENDPOINT_H
/*
 * Endpoints as users write them on the command line:
 *   unix:PATH         a unix socket (PATH may be relative)
 *   unix:///PATH      the same, libvirt's URI spelling (PATH is absolute)
 *   tcp:HOST:PORT     TCP; HOST may be a name, an IPv4 address or [IPv6]
 *   -                 standard input and output
 */
#include <stddef.h>

enum endpoint_kind {
	ENDPOINT_UNIX = 1,
	ENDPOINT_TCP,
	ENDPOINT_STDIO,
};

struct endpoint {
	enum endpoint_kind kind;
	char path[108];		/* ENDPOINT_UNIX: sun_path, NUL-terminated */
	char host[256];		/* ENDPOINT_TCP: without the brackets of [v6] */
	char port[8];		/* ENDPOINT_TCP: decimal 1..65535 */
};

/*
 * Parse text into ep.  Returns 0, or -1 with a one-line reason in err
 * ("unix socket path is longer than 107 bytes").  'allowed' is a mask of
 * (1 << ENDPOINT_*) kinds the caller accepts; others are refused.
 */
int endpoint_parse(const char *text, unsigned allowed, struct endpoint *ep,
    char *err, size_t errlen);

#define ENDPOINT_ALLOW(k) (1u << (k))
#define ENDPOINT_ANY (ENDPOINT_ALLOW(ENDPOINT_UNIX) | \
    ENDPOINT_ALLOW(ENDPOINT_TCP) | ENDPOINT_ALLOW(ENDPOINT_STDIO))

/*
 * Write ep as a QEMU migration URI ("unix:/p", "tcp:h:p", "tcp:[::1]:p")
 * into buf.  Returns 0, or -1 if it does not fit or ep is stdio.
 */
int endpoint_qemu_uri(const struct endpoint *ep, char *buf, size_t buflen);

/*
 * Write ep back the way a user would type it, for messages: the text
 * parses back to the same endpoint (given 300 bytes, enough for any).
 */
void endpoint_format(const struct endpoint *ep, char *buf, size_t buflen);

#endif
