/*
 * Fuzz target for the NBD probe state machine (lib/nbd/nbd_probe.c).
 * Input: one byte choosing the export name, four seeding the chunking,
 * then what the server sends.  Two machines get the server's bytes: one
 * the way nbd_probe_run drives it (never more than nbd_probe_want, the
 * output taken in random pieces), the other all at once.  Then EOF.  Both
 * must finish with the same result and reason; a decision never changes;
 * a reason is one printable line; input is consumed entirely unless the
 * machine finished part way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbd/nbd_probe.h"

#define nbd_fuzz_assert(c) do { if (!(c)) abort(); } while (0)

struct nbd_fuzz_end {
	int result;
	struct nbd_export_info info;
	char err[300];
};

static uint32_t
nbd_fuzz_rand(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* Take what the machine wants sent, n bytes at most (0: all). */
static void
nbd_fuzz_send(struct nbd_probe *p, size_t n)
{
	size_t len;
	const uint8_t *o = nbd_probe_out(p, &len);

	nbd_fuzz_assert(len == 0 || (o >= (const uint8_t *)p && o + len <=
	    (const uint8_t *)(p + 1)));
	nbd_probe_sent(p, n == 0 || n > len ? len : n);
}

/* The machine's state is sane; once decided, its result stays. */
static void
nbd_fuzz_check(struct nbd_probe *p, int *decided_as)
{
	char err[300];
	size_t i;
	int rc;

	memset(err, 'x', sizeof(err));
	rc = nbd_probe_result(p, NULL, err, sizeof(err));
	if (rc != NBD_PROBE_FOUND) {
		nbd_fuzz_assert(memchr(err, '\0', sizeof(err)) != NULL &&
		    err[0] != '\0');
		for (i = 0; err[i] != '\0'; i++)
			nbd_fuzz_assert((unsigned char)err[i] >= 0x20 &&
			    err[i] != 0x7f);
	}
	nbd_fuzz_assert(rc == NBD_PROBE_FOUND || rc == NBD_PROBE_MISSING ||
	    rc == NBD_PROBE_ERROR);
	nbd_fuzz_assert(rc != NBD_PROBE_FOUND || p->have_export);
	if (nbd_probe_decided(p)) {
		nbd_fuzz_assert(*decided_as == -2 || *decided_as == rc);
		*decided_as = rc;
	}
	if (nbd_probe_finished(p))
		nbd_fuzz_assert(nbd_probe_want(p) == 0);
}

static void
nbd_fuzz_end(struct nbd_probe *p, int *decided_as, struct nbd_fuzz_end *e)
{
	if (!nbd_probe_finished(p)) {
		nbd_probe_eof(p);
		nbd_fuzz_send(p, 0);
	}
	nbd_fuzz_assert(nbd_probe_finished(p) && nbd_probe_decided(p));
	nbd_fuzz_check(p, decided_as);
	memset(e, 0, sizeof(*e));
	e->result = nbd_probe_result(p, &e->info, e->err, sizeof(e->err));
}

/* As nbd_probe_run drives it: want-sized reads, output in pieces. */
static void
nbd_fuzz_careful(const char *name, const uint8_t *s, size_t len,
    uint32_t seed, struct nbd_fuzz_end *e)
{
	static struct nbd_probe p;
	size_t at = 0, n, want, used;
	int decided_as = -2;

	nbd_probe_init(&p, name);
	while (!nbd_probe_finished(&p)) {
		nbd_fuzz_check(&p, &decided_as);
		nbd_fuzz_send(&p, nbd_fuzz_rand(&seed) % 64 + 1);
		want = nbd_probe_want(&p);
		if (want == 0 || at == len) {
			if (want == 0)	/* finished once the output is out */
				nbd_fuzz_send(&p, 0);
			if (at == len)
				break;
			continue;
		}
		n = nbd_fuzz_rand(&seed) % 8 == 0 ? nbd_fuzz_rand(&seed) % 300 +
		    1 : nbd_fuzz_rand(&seed) % 24 + 1;
		if (n > want)
			n = want;
		if (n > len - at)
			n = len - at;
		used = nbd_probe_in(&p, s + at, n);
		/* Never more than wanted, so all of it is used. */
		nbd_fuzz_assert(used == n);
		at += n;
	}
	nbd_fuzz_end(&p, &decided_as, e);
}

/* Everything at once: used up, unless the machine finished. */
static void
nbd_fuzz_greedy(const char *name, const uint8_t *s, size_t len,
    struct nbd_fuzz_end *e)
{
	static struct nbd_probe p;
	size_t used;
	int decided_as = -2;

	nbd_probe_init(&p, name);
	used = nbd_probe_in(&p, s, len);
	nbd_fuzz_assert(used <= len);
	nbd_fuzz_assert(used == len || nbd_probe_want(&p) == 0);
	nbd_fuzz_check(&p, &decided_as);
	nbd_fuzz_send(&p, 0);
	nbd_fuzz_end(&p, &decided_as, e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[4100];
	static struct nbd_fuzz_end careful, greedy;
	uint32_t seed;

	if (size < 5)
		return 0;
	/* "", an ordinary name, the longest allowed, one byte too long. */
	memset(name, 'n', sizeof(name));
	switch (data[0] % 4) {
	case 0: name[0] = '\0'; break;
	case 1: strcpy(name, "vd0"); break;
	case 2: name[4096] = '\0'; break;
	case 3: name[4097] = '\0'; break;
	}
	memcpy(&seed, data + 1, 4);
	nbd_fuzz_careful(name, data + 5, size - 5, seed, &careful);
	nbd_fuzz_greedy(name, data + 5, size - 5, &greedy);
	nbd_fuzz_assert(careful.result == greedy.result &&
	    strcmp(careful.err, greedy.err) == 0);
	nbd_fuzz_assert(careful.result != NBD_PROBE_FOUND ||
	    (careful.info.size == greedy.info.size &&
	    careful.info.flags == greedy.info.flags &&
	    careful.info.read_only == greedy.info.read_only));
	return 0;
}
