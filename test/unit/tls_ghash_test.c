/*
 * tls_ghash.c against BearSSL's portable br_ghash_ctmul64: the same running
 * value for every length from 0 to 300 bytes (every tail after the
 * eight-block steps, partial last blocks included), for record-sized inputs,
 * for starting values and keys with the top and bottom bits set (the
 * reduction's carries), and for a whole record fed in uneven pieces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tls/tls_int.h"

static uint64_t ghash_test_state = 0x9E3779B97F4A7C15ULL;

static void
fill(uint8_t *p, size_t n)
{
	while (n-- > 0) {
		ghash_test_state ^= ghash_test_state << 13;
		ghash_test_state ^= ghash_test_state >> 7;
		ghash_test_state ^= ghash_test_state << 17;
		*p++ = (uint8_t)(ghash_test_state >> 24);
	}
}

/* g over (y, h, data[0..len)) gives what ctmul64 gives. */
static int
same(br_ghash g, const uint8_t *y, const uint8_t *h, const uint8_t *data,
    size_t len)
{
	uint8_t y1[16], y2[16];

	memcpy(y1, y, 16);
	memcpy(y2, y, 16);
	g(y1, h, data, len);
	br_ghash_ctmul64(y2, h, data, len);
	return memcmp(y1, y2, 16) == 0;
}

static void
test_impl(br_ghash g)
{
	static uint8_t data[16384 + 64];
	uint8_t y[16], h[16], y1[16], y2[16];
	size_t len, off, piece;
	int bad, i;

	fill(data, sizeof(data));
	for (bad = 0, len = 0; len <= 300; len++) {
		fill(y, 16);
		fill(h, 16);
		bad += !same(g, y, h, data, len);
	}
	CHECKM(bad == 0, "lengths 0..300, random y and h");

	for (bad = 0, i = 0; i < 64; i++) {
		fill(y, 16);
		fill(h, 16);
		bad += !same(g, y, h, data + i, 16384 + (size_t)(i % 17));
	}
	CHECKM(bad == 0, "record-sized inputs");

	/* Keys and values at the edges of the field's bit order. */
	{
		static const uint8_t edge[][16] = {
			{ 0 },
			{ 0x80 },
			{ [15] = 0x01 },
			{ 0x80, [15] = 0x01 },
			{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		};
		size_t a, b;

		bad = 0;
		for (a = 0; a < sizeof(edge) / 16; a++)
			for (b = 0; b < sizeof(edge) / 16; b++) {
				bad += !same(g, edge[a], edge[b], data, 256);
				bad += !same(g, edge[a], edge[b], edge[4], 16);
			}
		CHECKM(bad == 0, "edge values of y and h");
	}

	/* Fed in pieces of whole blocks, a record hashes as in one call. */
	fill(y, 16);
	fill(h, 16);
	memcpy(y1, y, 16);
	memcpy(y2, y, 16);
	for (off = 0; off < 16384; off += piece) {
		piece = 16 * (1 + (size_t)(data[off] % 20));
		if (piece > 16384 - off)
			piece = 16384 - off;
		g(y1, h, data + off, piece);
	}
	br_ghash_ctmul64(y2, h, data, 16384);
	CHECKM(memcmp(y1, y2, 16) == 0, "a record in pieces");
}

int
main(void)
{
	br_ghash fast = tls_ghash_fast();

	if (fast != 0)
		test_impl(fast);
	else
		printf("note: this CPU lacks AVX2 or VPCLMULQDQ: only "
		    "BearSSL's GHASH is in use\n");
	CHECK(tls_ghash_get() != 0);
	test_impl(tls_ghash_get());
	return check_done();
}
