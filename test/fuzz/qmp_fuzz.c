/*
 * Fuzz target for the QMP codec (lib/qmp/qmp_codec.c) fed as a stream.
 * The first 4 bytes seed the chunking, the rest is what a peer sends.  The
 * stream goes through two codecs: one is given as much as fits at a time,
 * the other random chunks of 1 byte up; after each write every complete
 * message is taken out.  Both must hand out the same messages and end the
 * same way (needing more, or the same error), and neither may stall with a
 * full buffer.  Events small enough to queue must re-parse with the
 * client's smaller node array, as qmp.c relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

#define qmp_fuzz_assert(c) do { if (!(c)) abort(); } while (0)

static struct qmp_codec qmp_fuzz_codec;
static struct json_node qmp_fuzz_evnodes[512];	/* as struct qmp's */
static char qmp_fuzz_evtext[QMP_EVENT_MAX];

/* What a run saw: a running hash of the messages and how it ended. */
struct qmp_fuzz_run {
	uint64_t hash;
	unsigned count;
	int failed;
	char err[300];
};

static void
qmp_fuzz_mix(struct qmp_fuzz_run *r, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		r->hash = (r->hash ^ *b++) * 0x100000001b3ull;	/* FNV-1a */
}

static void
qmp_fuzz_record(struct qmp_fuzz_run *r, const struct qmp_msg *m)
{
	struct qmp_msg again;
	char why[300];
	int t = json_type(&m->doc, m->value);

	qmp_fuzz_assert(m->kind >= QMP_MSG_GREETING &&
	    m->kind <= QMP_MSG_EVENT);
	qmp_fuzz_assert(m->doc.textlen >= 2 && m->doc.text[0] == '{' &&
	    m->doc.textlen <= QMP_MSG_MAX);
	qmp_fuzz_assert(memchr(m->name, '\0', sizeof(m->name)) != NULL &&
	    memchr(m->desc, '\0', sizeof(m->desc)) != NULL);
	qmp_fuzz_assert(m->kind == QMP_MSG_EVENT || m->value >= 0);
	qmp_fuzz_mix(r, &m->kind, sizeof(m->kind));
	qmp_fuzz_mix(r, &m->id, sizeof(m->id));
	qmp_fuzz_mix(r, &t, sizeof(t));
	qmp_fuzz_mix(r, m->name, strlen(m->name) + 1);
	qmp_fuzz_mix(r, m->desc, strlen(m->desc) + 1);
	qmp_fuzz_mix(r, m->doc.text, m->doc.textlen);
	r->count++;
	/* qmp.c queues such an event as text and parses it again later. */
	if (m->kind == QMP_MSG_EVENT && m->doc.textlen <= QMP_EVENT_MAX &&
	    m->doc.n <= 512) {
		memcpy(qmp_fuzz_evtext, m->doc.text, m->doc.textlen);
		qmp_fuzz_assert(qmp_codec_parse(&again, qmp_fuzz_evtext,
		    m->doc.textlen, qmp_fuzz_evnodes, 512, why,
		    sizeof(why)) == 0 && again.kind == QMP_MSG_EVENT &&
		    strcmp(again.name, m->name) == 0);
	}
}

/* Take every complete message out; 0 when more is needed, -1 on error. */
static int
qmp_fuzz_drain(struct qmp_fuzz_run *r)
{
	struct qmp_msg m;
	char *p;
	int rc;

	while ((rc = qmp_codec_next(&qmp_fuzz_codec, &m, r->err,
	    sizeof(r->err))) == 1)
		qmp_fuzz_record(r, &m);
	if (rc < 0) {
		qmp_fuzz_assert(memchr(r->err, '\0', sizeof(r->err)) != NULL &&
		    r->err[0] != '\0');
		/* What the peer's bytes looked like depends on the chunks. */
		if ((p = strstr(r->err, " (got \"")) != NULL)
			*p = '\0';
		r->failed = 1;
	}
	return rc;
}

/* Feed s[0..len) in chunks from seed (0: as much as fits each time). */
static void
qmp_fuzz_run(struct qmp_fuzz_run *r, const uint8_t *s, size_t len,
    uint32_t seed)
{
	size_t at = 0, avail, n;
	char *space;

	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ull;
	qmp_codec_init(&qmp_fuzz_codec);
	while (at < len) {
		space = qmp_codec_space(&qmp_fuzz_codec, &avail);
		/* Drained with nothing ready and no room: a stalled stream. */
		qmp_fuzz_assert(avail > 0);
		n = len - at;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % 8 == 0 ? (seed >> 8) % 4096 + 1 :
			    (seed >> 16) % 16 + 1;
			if (n > len - at)
				n = len - at;
		}
		if (n > avail)
			n = avail;
		memcpy(space, s + at, n);
		qmp_codec_wrote(&qmp_fuzz_codec, n);
		at += n;
		if (qmp_fuzz_drain(r) < 0)
			return;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qmp_fuzz_run whole, chunked;
	uint32_t seed;

	if (size < 4)
		return 0;
	memcpy(&seed, data, 4);
	qmp_fuzz_run(&whole, data + 4, size - 4, 0);
	qmp_fuzz_run(&chunked, data + 4, size - 4, seed | 1);
	qmp_fuzz_assert(whole.count == chunked.count &&
	    whole.hash == chunked.hash && whole.failed == chunked.failed);
	qmp_fuzz_assert(!whole.failed || strcmp(whole.err, chunked.err) == 0);
	return 0;
}
