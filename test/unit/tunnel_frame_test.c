/*
 * The tunnel frame codec: round trips of every frame type, split at every
 * position and fed byte by byte; truncated streams; each kind of malformed
 * header and payload; a deterministic fuzz loop over random and mutated
 * streams.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#include "tunnel/frame.h"


#define DMAX 8192u	/* data_max of the decoder under test */

static uint8_t stream[64 * 1024];
static size_t slen;

/* What the decoder reported, flattened so two runs can be compared. */
struct rec {
	struct frame f;
	uint32_t sum;		/* DATA: checksum of the payload pieces */
	uint32_t got;		/* DATA: payload bytes handed out */
};
static struct rec want[64], got[64];
static int nwant, ngot;

static uint32_t
cksum(uint32_t s, const uint8_t *p, size_t n)
{
	while (n--)
		s = s * 31 + *p++;
	return s;
}

static void
add(const struct frame *f, const uint8_t *payload)
{
	uint8_t buf[FRAME_HDR_LEN + FRAME_CTL_MAX];
	size_t n = frame_encode(buf, f);

	memcpy(stream + slen, buf, n);
	slen += n;
	want[nwant].f = *f;
	if (f->type != FRAME_DATA) {
		/* The encoder derives len; the decoder reports it. */
		want[nwant].f.len = (uint32_t)(n - FRAME_HDR_LEN);
	} else {
		memcpy(stream + slen, payload, f->len);
		slen += f->len;
		want[nwant].sum = cksum(0, payload, f->len);
		want[nwant].got = f->len;
	}
	nwant++;
}

static void
build(void)
{
	static uint8_t data[DMAX];
	struct frame f;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	slen = 0;
	nwant = 0;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO; f.vmin = 1; f.vmax = 3; f.value = 65536;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_OPEN; f.num = 5; f.value = 262144;
	strcpy(f.name, "migration"); f.namelen = 9;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_OPEN; f.num = 1023; f.value = 0;
	memset(f.name, 'x', FRAME_NAME_MAX); f.namelen = FRAME_NAME_MAX;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_ACCEPT; f.rbit = 1; f.num = 7; f.value = FRAME_WINDOW_MAX;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_REFUSE; f.rbit = 1; f.num = 3; f.reason = FRAME_REFUSE_NAME;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_DATA; f.num = 5; f.len = 1000;
	add(&f, data);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_DATA; f.rbit = 1; f.num = 7; f.len = 1;
	add(&f, data + 3);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_DATA; f.rbit = 1; f.num = 0; f.len = DMAX;
	add(&f, data);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_CREDIT; f.num = 5; f.value = 1;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_EOF; f.rbit = 1; f.num = 7;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_CLOSE; f.num = 5; f.reason = FRAME_CLOSE_LOCAL;
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_PING; memcpy(f.ping, "\0\1\2\3\4\5\6\7", 8);
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_PONG; memcpy(f.ping, "abcdefgh", 8);
	add(&f, NULL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_GOODBYE;
	add(&f, NULL);
}

/* Feed in[0..len) whole; record events.  Returns the last event. */
static enum frame_ev
feed(struct frame_dec *d, const uint8_t *in, size_t len)
{
	const uint8_t *data;
	size_t used, dlen, off = 0;
	enum frame_ev ev;

	for (;;) {
		ev = frame_dec_feed(d, in + off, len - off, &used, &data, &dlen);
		if (used > len - off) {
			printf("used %zu of %zu\n", used, len - off);
			return FRAME_EV_ERROR;
		}
		off += used;
		switch (ev) {
		case FRAME_EV_NONE:
			if (off != len)
				return FRAME_EV_ERROR;
			return ev;
		case FRAME_EV_ERROR:
			return ev;
		case FRAME_EV_FRAME:
			if (ngot == 64)
				return FRAME_EV_ERROR;
			got[ngot].f = d->f;
			got[ngot].sum = 0;
			got[ngot].got = 0;
			ngot++;
			break;
		case FRAME_EV_DATA:
			if (ngot == 0 || dlen == 0 || data < in ||
			    data + dlen > in + len)
				return FRAME_EV_ERROR;
			got[ngot - 1].sum = cksum(got[ngot - 1].sum, data, dlen);
			got[ngot - 1].got += (uint32_t)dlen;
			break;
		}
	}
}

static int
same_frame(const struct frame *a, const struct frame *b)
{
	if (a->type != b->type || a->len != b->len)
		return 0;
	switch (a->type) {
	case FRAME_HELLO:
		return a->vmin == b->vmin && a->vmax == b->vmax &&
		    a->value == b->value;
	case FRAME_OPEN:
		return a->num == b->num && a->rbit == b->rbit &&
		    a->value == b->value && a->namelen == b->namelen &&
		    strcmp(a->name, b->name) == 0;
	case FRAME_ACCEPT:
	case FRAME_CREDIT:
		return a->num == b->num && a->rbit == b->rbit &&
		    a->value == b->value;
	case FRAME_REFUSE:
	case FRAME_CLOSE:
		return a->num == b->num && a->rbit == b->rbit &&
		    a->reason == b->reason;
	case FRAME_PING:
	case FRAME_PONG:
		return memcmp(a->ping, b->ping, 8) == 0;
	default:
		return a->num == b->num && a->rbit == b->rbit;
	}
}

/* got[] is want[0..n) exactly, payloads complete except maybe the last. */
static int
matches(int n, int last_partial)
{
	int i;

	if (ngot != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (!same_frame(&want[i].f, &got[i].f))
			return 0;
		if (want[i].f.type != FRAME_DATA)
			continue;
		if (i == n - 1 && last_partial)
			continue;
		if (want[i].got != got[i].got || want[i].sum != got[i].sum)
			return 0;
	}
	return 1;
}

static void
test_round_trip(void)
{
	struct frame_dec d;
	size_t cut, i;
	int ok = 1;

	build();
	frame_dec_init(&d, DMAX);
	ngot = 0;
	CHECK(feed(&d, stream, slen) == FRAME_EV_NONE && matches(nwant, 0));
	CHECK(frame_dec_at_boundary(&d));

	/* Two feeds, cut at every position. */
	for (cut = 0; cut <= slen && ok; cut++) {
		frame_dec_init(&d, DMAX);
		ngot = 0;
		ok = feed(&d, stream, cut) == FRAME_EV_NONE &&
		    feed(&d, stream + cut, slen - cut) == FRAME_EV_NONE &&
		    matches(nwant, 0);
		if (!ok)
			printf("  split at %zu failed\n", cut);
	}
	CHECK(ok);

	/* One byte at a time. */
	frame_dec_init(&d, DMAX);
	ngot = 0;
	for (i = 0; i < slen && ok; i++)
		ok = feed(&d, stream + i, 1) == FRAME_EV_NONE;
	CHECK(ok && matches(nwant, 0));
}

/* Every prefix decodes to a prefix of the frames, without error. */
static void
test_truncated(void)
{
	struct frame_dec d;
	size_t cut, end;
	int i, n, ok = 1;

	build();
	for (cut = 0; cut < slen && ok; cut++) {
		frame_dec_init(&d, DMAX);
		ngot = 0;
		ok = feed(&d, stream, cut) == FRAME_EV_NONE;
		/* Frames whose header is complete by cut are reported. */
		n = 0;
		end = 0;
		for (i = 0; i < nwant; i++) {
			size_t hdr_end = end + FRAME_HDR_LEN;
			size_t frame_end = hdr_end + want[i].f.len;
			if (want[i].f.type == FRAME_DATA ? hdr_end <= cut :
			    frame_end <= cut)
				n = i + 1;
			end = frame_end;
		}
		ok = ok && matches(n, 1);
		if (!ok)
			printf("  prefix of %zu failed (got %d frames, want %d)\n",
			    cut, ngot, n);
	}
	CHECK(ok);
}

static const uint8_t hello[] = {
	FRAME_HELLO, 0, 0, 0, 0, 0, 0, 16,
	'M', 'I', 'G', 'T', 'U', 'N', 'N', 'L', 0, 1, 0, 1, 0, 1, 0, 0
};

/* After a good HELLO, bytes must be refused with a reason containing why. */
static int
refused(const uint8_t *bad, size_t n, const char *why, int with_hello)
{
	uint8_t buf[512];
	struct frame_dec d;
	const uint8_t *data;
	size_t used, dlen;
	enum frame_ev ev;
	size_t off = 0, len = 0;

	if (with_hello) {
		memcpy(buf, hello, sizeof(hello));
		len = sizeof(hello);
	}
	memcpy(buf + len, bad, n);
	len += n;
	frame_dec_init(&d, DMAX);
	do {
		ev = frame_dec_feed(&d, buf + off, len - off, &used, &data, &dlen);
		off += used;
	} while (ev == FRAME_EV_FRAME || ev == FRAME_EV_DATA);
	if (ev != FRAME_EV_ERROR || strstr(d.err, why) == NULL) {
		printf("  wanted error '%s', got ev %d '%s'\n", why, ev, d.err);
		return 0;
	}
	/* Sticky: more input changes nothing. */
	ev = frame_dec_feed(&d, hello, sizeof(hello), &used, &data, &dlen);
	return ev == FRAME_EV_ERROR;
}

#define BAD(why, ...) do { \
	static const uint8_t b_[] = { __VA_ARGS__ }; \
	CHECK(refused(b_, sizeof(b_), why, 1)); \
} while (0)

static void
test_malformed(void)
{
	uint8_t b[64];

	/* Header. */
	BAD("unknown frame type 0x00", 0, 0, 0, 0, 0, 0, 0, 0);
	BAD("unknown frame type 0x0c", 12, 0, 0, 0, 0, 0, 0, 0);
	BAD("unknown frame type 0xff", 255, 0, 0, 0, 0, 0, 0, 0);
	BAD("flags 0x01", FRAME_EOF, 1, 0, 1, 0, 0, 0, 0);
	BAD("second HELLO", FRAME_HELLO, 0, 0, 0, 0, 0, 0, 16);
	BAD("PING frame on channel field 0x0001", FRAME_PING, 0, 0, 1, 0, 0, 0, 8);
	BAD("GOODBYE frame on channel field 0x8000", FRAME_GOODBYE, 0, 0x80, 0, 0, 0, 0, 0);
	BAD("EOF frame on channel 1024", FRAME_EOF, 0, 4, 0, 0, 0, 0, 0);
	BAD("DATA frame on channel 32767", FRAME_DATA, 0, 0xff, 0xff, 0, 0, 0, 1);
	BAD("OPEN with the receiver's bit", FRAME_OPEN, 0, 0x80, 1, 0, 0, 0, 5);
	BAD("ACCEPT of a channel the receiver did not", FRAME_ACCEPT, 0, 0, 1, 0, 0, 0, 4);
	BAD("REFUSE of a channel the receiver did not", FRAME_REFUSE, 0, 0, 1, 0, 0, 0, 1);
	/* Lengths, per type. */
	BAD("DATA frame with 0 payload", FRAME_DATA, 0, 0, 1, 0, 0, 0, 0);
	BAD("DATA frame with 8193 payload", FRAME_DATA, 0, 0, 1, 0, 0, 0x20, 0x01);
	BAD("DATA frame with 4294967295", FRAME_DATA, 0, 0, 1, 0xff, 0xff, 0xff, 0xff);
	BAD("OPEN frame with 4 payload", FRAME_OPEN, 0, 0, 1, 0, 0, 0, 4);
	BAD("OPEN frame with 260 payload", FRAME_OPEN, 0, 0, 1, 0, 0, 1, 4);
	BAD("ACCEPT frame with 5 payload", FRAME_ACCEPT, 0, 0x80, 1, 0, 0, 0, 5);
	BAD("CREDIT frame with 3 payload", FRAME_CREDIT, 0, 0, 1, 0, 0, 0, 3);
	BAD("REFUSE frame with 0 payload", FRAME_REFUSE, 0, 0x80, 1, 0, 0, 0, 0);
	BAD("CLOSE frame with 2 payload", FRAME_CLOSE, 0, 0, 1, 0, 0, 0, 2);
	BAD("EOF frame with 1 payload", FRAME_EOF, 0, 0, 1, 0, 0, 0, 1);
	BAD("PING frame with 7 payload", FRAME_PING, 0, 0, 0, 0, 0, 0, 7);
	BAD("PONG frame with 9 payload", FRAME_PONG, 0, 0, 0, 0, 0, 0, 9);
	BAD("GOODBYE frame with 1 payload", FRAME_GOODBYE, 0, 0, 0, 0, 0, 0, 1);
	/* Payload contents. */
	BAD("not printable", FRAME_OPEN, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 1, 'a', ' ');
	BAD("not printable", FRAME_OPEN, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1, 0x7f);
	BAD("not printable", FRAME_OPEN, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 1, 'a', 0);
	BAD("with window 16777217", FRAME_OPEN, 0, 0, 1, 0, 0, 0, 5, 1, 0, 0, 1, 'a');
	BAD("CREDIT frame with window 0", FRAME_CREDIT, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0);
	BAD("CREDIT frame with window 4294967295", FRAME_CREDIT, 0, 0, 1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff);
	BAD("ACCEPT frame with window 16777217", FRAME_ACCEPT, 0, 0x80, 1, 0, 0, 0, 4, 1, 0, 0, 1);

	/* HELLO: must come first, with magic and sane fields. */
	memcpy(b, hello, sizeof(hello));
	b[0] = FRAME_PING;
	b[7] = 8;
	CHECK(refused(b, 16, "first frame is PING, not HELLO", 0));
	memcpy(b, hello, sizeof(hello));
	b[8] = 'm';
	CHECK(refused(b, sizeof(hello), "bad magic", 0));
	memcpy(b, hello, sizeof(hello));
	b[17] = 0;
	CHECK(refused(b, sizeof(hello), "versions 0..1", 0));
	memcpy(b, hello, sizeof(hello));
	b[17] = 3;
	CHECK(refused(b, sizeof(hello), "versions 3..1", 0));
	memcpy(b, hello, sizeof(hello));
	b[21] = 0; b[22] = 0x0f; b[23] = 0xff;
	CHECK(refused(b, sizeof(hello), "data_max 4095", 0));
	memcpy(b, hello, sizeof(hello));
	b[7] = 15;
	CHECK(refused(b, sizeof(hello), "HELLO frame with 15 payload", 0));
	/* A HTTP server answering us. */
	CHECK(refused((const uint8_t *)"HTTP/1.1 400 Bad", 16, "unknown frame type 0x48", 0));
}

/* A huge data_max in HELLO is clamped; skip() moves through payload. */
static void
test_clamp_and_skip(void)
{
	struct frame_dec d;
	uint8_t b[64];
	const uint8_t *data;
	size_t used, dlen;

	memcpy(b, hello, sizeof(hello));
	b[20] = 0xff; b[21] = 0xff; b[22] = 0xff; b[23] = 0xff;
	frame_dec_init(&d, DMAX);
	CHECK(frame_dec_feed(&d, b, sizeof(hello), &used, &data, &dlen) ==
	    FRAME_EV_FRAME && d.f.value == FRAME_DATA_LIMIT);

	frame_data_hdr(b, 1, 9, 100);
	CHECK(frame_dec_feed(&d, b, 8, &used, &data, &dlen) == FRAME_EV_FRAME &&
	    d.f.type == FRAME_DATA && d.f.rbit == 1 && d.f.num == 9 &&
	    d.f.len == 100 && used == 8);
	CHECK(frame_dec_left(&d) == 100 && !frame_dec_at_boundary(&d));
	frame_dec_skip(&d, 60);
	CHECK(frame_dec_left(&d) == 40);
	frame_dec_skip(&d, 41);		/* too much: ignored */
	CHECK(frame_dec_left(&d) == 40);
	memset(b, 'z', 48);
	frame_data_hdr(b + 40, 0, 2, 1);
	CHECK(frame_dec_feed(&d, b, 48, &used, &data, &dlen) == FRAME_EV_DATA &&
	    dlen == 40 && used == 40 && data == b);
	CHECK(frame_dec_at_boundary(&d));
	frame_dec_skip(&d, 1);		/* not in DATA: ignored */
	CHECK(frame_dec_feed(&d, b + 40, 8, &used, &data, &dlen) == FRAME_EV_FRAME &&
	    d.f.num == 2 && frame_dec_left(&d) == 1);
	frame_dec_skip(&d, 1);
	CHECK(frame_dec_at_boundary(&d));
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* Invariants under arbitrary input: progress, bounds, sticky errors. */
static int
fuzz_one(const uint8_t *in, size_t len)
{
	struct frame_dec d;
	const uint8_t *data;
	size_t used, dlen, off = 0, chunk;
	enum frame_ev ev;
	uint32_t left = 0;
	int errored = 0;

	frame_dec_init(&d, DMAX);
	while (off < len) {
		chunk = 1 + rnd() % (len - off);
		if (rnd() % 4 == 0)
			chunk = 1 + rnd() % 16 < len - off ? 1 + rnd() % 16 : len - off;
		const uint8_t *p = in + off;
		size_t n = chunk, poff = 0;
		for (;;) {
			ev = frame_dec_feed(&d, p + poff, n - poff, &used, &data, &dlen);
			if (used > n - poff)
				return 0;
			if (errored && ev != FRAME_EV_ERROR)
				return 0;
			poff += used;
			if (ev == FRAME_EV_ERROR) {
				if (d.err[0] == '\0')
					return 0;
				errored = 1;
				break;
			}
			if (ev == FRAME_EV_NONE) {
				if (poff != n)
					return 0;
				break;
			}
			if (ev == FRAME_EV_FRAME) {
				if (d.f.type < 1 || d.f.type > FRAME_TYPE_MAX)
					return 0;
				if (d.f.type == FRAME_DATA &&
				    (d.f.len == 0 || d.f.len > DMAX))
					return 0;
				if (d.f.type == FRAME_OPEN &&
				    !frame_name_ok(d.f.name, d.f.namelen))
					return 0;
				left = d.f.type == FRAME_DATA ? d.f.len : 0;
			} else {
				if (dlen == 0 || dlen > left ||
				    data != p + poff - used)
					return 0;
				left -= (uint32_t)dlen;
			}
			if (used == 0 && ev != FRAME_EV_FRAME)
				return 0;
		}
		if (errored)
			break;
		off += chunk;
	}
	return 1;
}

static void
test_fuzz(void)
{
	static uint8_t buf[sizeof(stream)];
	clock_t start = clock();
	int iter, ok = 1, rounds = 0;
	size_t i, n;

	build();
	for (iter = 0; iter < 200000 && ok; iter++) {
		if (iter % 3 == 0) {
			/* Random bytes after a valid HELLO. */
			n = sizeof(hello) + rnd() % 600;
			memcpy(buf, hello, sizeof(hello));
			for (i = sizeof(hello); i < n; i++)
				buf[i] = (uint8_t)rnd();
			/* Bias types and lengths toward plausible values. */
			if (n >= sizeof(hello) + 8 && rnd() % 2) {
				buf[sizeof(hello)] = (uint8_t)(1 + rnd() % 12);
				buf[sizeof(hello) + 1] = 0;
				buf[sizeof(hello) + 4] = 0;
				buf[sizeof(hello) + 5] = 0;
			}
		} else {
			/* A valid stream with a few bytes changed. */
			n = slen;
			memcpy(buf, stream, n);
			for (i = 1 + rnd() % 4; i > 0; i--)
				buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 4 == 0)
				n = rnd() % n + 1;
		}
		ok = fuzz_one(buf, n);
		if (!ok)
			printf("  fuzz iteration %d failed\n", iter);
		rounds++;
		/* A fixed amount of work, but never more than ~3 s. */
		if ((iter & 1023) == 0 &&
		    clock() - start > 3 * CLOCKS_PER_SEC)
			break;
	}
	CHECK(ok);
	printf("fuzz: %d rounds\n", rounds);
}

int
main(void)
{
	test_round_trip();
	test_truncated();
	test_malformed();
	test_clamp_and_skip();
	test_fuzz();
	return check_done();
}
