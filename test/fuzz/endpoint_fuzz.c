/*
 * Fuzz target for lib/base/endpoint.c.  The input (cut at its first NUL)
 * is parsed as a command-line endpoint; what parses must format to text
 * that parses back to the same endpoint, and the QEMU URI must be the
 * format's text (stdio aside).  Errors must be one printable line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/endpoint.h"

static int
endpoint_fuzz_same(const struct endpoint *a, const struct endpoint *b)
{
	return a->kind == b->kind && strcmp(a->path, b->path) == 0 &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0;
}

/* A reason is one line: no control bytes, NUL-terminated in err. */
static void
endpoint_fuzz_check_err(const char *err, size_t errlen)
{
	size_t i;

	if (memchr(err, '\0', errlen) == NULL)
		abort();
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct endpoint ep, back;
	char text[600], fmt[600], uri[600], err[300];

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	if (endpoint_parse(text, ENDPOINT_ANY, &ep, err, sizeof(err)) < 0) {
		endpoint_fuzz_check_err(err, sizeof(err));
		return 0;
	}
	if (strlen(ep.path) >= sizeof(ep.path) ||
	    strlen(ep.host) >= sizeof(ep.host) ||
	    strlen(ep.port) >= sizeof(ep.port))
		abort();
	endpoint_format(&ep, fmt, sizeof(fmt));
	if (endpoint_parse(fmt, ENDPOINT_ANY, &back, err, sizeof(err)) < 0 ||
	    !endpoint_fuzz_same(&ep, &back))
		abort();
	/* Only the kinds the caller allows parse. */
	if (endpoint_parse(text, ENDPOINT_ANY & ~ENDPOINT_ALLOW(ep.kind), &back,
	    err, sizeof(err)) == 0)
		abort();
	endpoint_fuzz_check_err(err, sizeof(err));
	/* stdio has no QEMU URI. */
	if (ep.kind == ENDPOINT_STDIO) {
		if (endpoint_qemu_uri(&ep, uri, sizeof(uri)) == 0)
			abort();
		return 0;
	}
	if (endpoint_qemu_uri(&ep, uri, sizeof(uri)) < 0)
		abort();
	/* A buffer one byte short must be refused, never overrun. */
	if (endpoint_qemu_uri(&ep, uri, strlen(uri)) == 0)
		abort();
	return 0;
}
