/*
 * Loading TLS files (lib/tls/tls_pem.c: PEM, then the DER inside: chain,
 * private key, CA anchors) from hostile bytes.  Input: up to three parts
 * split at NUL bytes, CERT \0 KEY \0 CA, each written to a file of its
 * own; one part alone is a CA file with no certificate of ours.  A load
 * must succeed or fail with a reason, never crash or leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls/tls.h"

static char dir[] = "/tmp/pem-fuzz-XXXXXX";
static char path[3][64];
/* A flag, not the template's last byte: mkdtemp may leave an 'X' there
 * (glibc draws from [A-Za-z0-9]), and a second mkdtemp would fail. */
static int made;

static void
cleanup(void)
{
	int i;

	for (i = 0; i < 3; i++)
		unlink(path[i]);
	rmdir(dir);
}

static void
put(int i, const uint8_t *p, size_t len)
{
	int fd = open(path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (len > 0 && write(fd, p, len) != (ssize_t)len))
		abort();
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_config *cfg;
	const uint8_t *part[3], *end = data + size, *nul;
	size_t len[3];
	char err[512];
	int i, n = 0;

	if (!made) {
		if (mkdtemp(dir) == NULL)
			abort();
		made = 1;
		for (i = 0; i < 3; i++)
			snprintf(path[i], sizeof(path[i]), "%s/%d", dir, i);
		atexit(cleanup);
	}
	while (n < 3) {
		nul = n < 2 ? memchr(data, 0, (size_t)(end - data)) : NULL;
		part[n] = data;
		len[n] = (size_t)((nul != NULL ? nul : end) - data);
		n++;
		if (nul == NULL)
			break;
		data = nul + 1;
	}
	for (i = 0; i < n; i++)
		put(i, part[i], len[i]);
	err[0] = '\0';
	if (n == 1)
		cfg = tls_config_load(NULL, NULL, path[0], NULL, err,
		    sizeof(err));
	else
		cfg = tls_config_load(path[0], path[1], path[n - 1],
		    "mig-server", err, sizeof(err));
	if (cfg == NULL && err[0] == '\0')
		abort();	/* a failure must say why */
	tls_config_free(cfg);
	return 0;
}
