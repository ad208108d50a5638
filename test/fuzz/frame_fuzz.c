/*
 * The tunnel's frame decoder (lib/tunnel/frame.c) fed hostile bytes.  The
 * first input byte seeds how the rest is split into reads; the same bytes
 * are then decoded whole, and both decodings must see the same events.
 * Every control frame decoded is encoded again and must decode to itself.
 * Checked on the way: what the decoder consumes and hands out stays within
 * the input, DATA never exceeds its header's length or data_max, an error
 * is sticky.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/frame.h"

#define DATA_MAX	(64u * 1024)	/* small, so "too long" is reachable */

/* A running digest of the events, to compare two decodings. */
static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t
mix_frame(uint64_t h, const struct frame *f)
{
	h = mix(h, f->type);
	h = mix(h, f->rbit);
	h = mix(h, f->num);
	h = mix(h, f->len);
	h = mix(h, f->value);
	h = mix(h, (uint64_t)f->vmin << 16 | f->vmax);
	h = mix(h, f->reason);
	h = mix(h, f->namelen);
	h = mix(h, (uint64_t)f->name[0] << 8 | (uint8_t)f->name[f->namelen]);
	return h;
}

/* A control frame encoded again decodes to the same fields. */
static void
roundtrip(const struct frame *f)
{
	uint8_t buf[2 * (FRAME_HDR_LEN + FRAME_CTL_MAX)];
	struct frame hello, g;
	struct frame_dec d;
	const uint8_t *data;
	size_t n = 0, used, dlen, off = 0;
	enum frame_ev ev = FRAME_EV_NONE;

	if (f->type == FRAME_DATA)
		return;
	frame_dec_init(&d, DATA_MAX);
	if (f->type != FRAME_HELLO) {
		memset(&hello, 0, sizeof(hello));
		hello.type = FRAME_HELLO;
		hello.vmin = hello.vmax = FRAME_VERSION;
		hello.value = FRAME_DATA_MIN;
		n = frame_encode(buf, &hello);
	}
	n += frame_encode(buf + n, f);
	while (off < n) {
		ev = frame_dec_feed(&d, buf + off, n - off, &used, &data, &dlen);
		off += used;
		if (ev != FRAME_EV_FRAME || d.f.type == f->type)
			break;
	}
	if (ev != FRAME_EV_FRAME || off != n)
		abort();
	g = d.f;
	if (g.type != f->type || g.rbit != f->rbit || g.num != f->num ||
	    g.len != f->len || g.value != f->value || g.vmin != f->vmin ||
	    g.vmax != f->vmax || g.reason != f->reason ||
	    g.namelen != f->namelen || strcmp(g.name, f->name) != 0 ||
	    memcmp(g.ping, f->ping, FRAME_PING_LEN) != 0)
		abort();
}

/* Decode in[0..len), split into reads by seed (0: whole); digest events. */
static uint64_t
decode(const uint8_t *in, size_t len, unsigned seed, int check)
{
	struct frame_dec d;
	const uint8_t *data;
	size_t off = 0, chunk, pos, used, dlen;
	uint32_t rng = seed * 2654435761u + 1, left = 0;
	uint64_t h = 0;
	enum frame_ev ev;
	int erred = 0;

	frame_dec_init(&d, DATA_MAX);
	while (off < len) {
		chunk = len - off;
		if (seed != 0) {
			rng ^= rng << 13;
			rng ^= rng >> 17;
			rng ^= rng << 5;
			chunk = 1 + rng % (rng & 0x100 ? 7 : 300);
			if (chunk > len - off)
				chunk = len - off;
		}
		pos = 0;
		do {
			ev = frame_dec_feed(&d, in + off + pos, chunk - pos,
			    &used, &data, &dlen);
			if (used > chunk - pos || (erred && ev != FRAME_EV_ERROR))
				abort();
			switch (ev) {
			case FRAME_EV_FRAME:
				if (d.f.type == FRAME_DATA) {
					if (d.f.len == 0 || d.f.len > DATA_MAX)
						abort();
					left = d.f.len;
				} else if (check)
					roundtrip(&d.f);
				h = mix_frame(h, &d.f);
				break;
			case FRAME_EV_DATA:
				if (dlen == 0 || dlen > left ||
				    data < in + off + pos ||
				    data + dlen > in + off + chunk)
					abort();
				left -= (uint32_t)dlen;
				if (frame_dec_left(&d) != left)
					abort();
				while (dlen-- > 0)
					h = mix(h, *data++);
				break;
			case FRAME_EV_ERROR:
				if (!erred)
					h = mix(h, 0xe11e);
				erred = 1;
				used = chunk - pos;	/* the rest is ignored */
				break;
			case FRAME_EV_NONE:
				if (used != chunk - pos)
					abort();
				break;
			}
			pos += used;
		} while (ev != FRAME_EV_NONE && pos < chunk);
		off += chunk;
	}
	return mix(h, erred ? 1 : frame_dec_at_boundary(&d) ? 2 : 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (decode(data + 1, size - 1, data[0] | 1u, 1) !=
	    decode(data + 1, size - 1, 0, 0))
		abort();
	return 0;
}
