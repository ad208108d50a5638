/*
 * tls_gcm.c against BearSSL's portable code.  GHASH against
 * br_ghash_ctmul64: the same running value for every length from 0 to 300
 * bytes (every tail after the sixteen-block steps, partial last blocks
 * included), for record-sized inputs, for starting values and keys with the
 * top and bottom bits set (the reduction's carries), and for a record fed
 * in uneven pieces.  AES-CTR against br_aes_ct64_ctr: the same bytes and
 * the same returned counter for 128, 192 and 256-bit keys, every length
 * from 0 to 600, record sizes, and counters that wrap past 2^32 - 1.
 * Then a whole AES-GCM record, sealed with ours and opened with BearSSL's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tls/tls_int.h"

static uint64_t gcm_test_state = 0x9E3779B97F4A7C15ULL;

static void
fill(uint8_t *p, size_t n)
{
	while (n-- > 0) {
		gcm_test_state ^= gcm_test_state << 13;
		gcm_test_state ^= gcm_test_state >> 7;
		gcm_test_state ^= gcm_test_state << 17;
		*p++ = (uint8_t)(gcm_test_state >> 24);
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
test_ghash(br_ghash g)
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

/* ours over (key, iv, cc, data[0..len)) gives what ct64 gives. */
static int
ctr_same(const br_block_ctr_class *ours, const uint8_t *key, size_t klen,
    const uint8_t *iv, uint32_t cc, const uint8_t *data, size_t len)
{
	static uint8_t a[16384 + 64], b[16384 + 64];
	br_aes_x86ni_ctr_keys ka;
	br_aes_ct64_ctr_keys kb;
	uint32_t ra, rb;

	memcpy(a, data, len);
	memcpy(b, data, len);
	ours->init(&ka.vtable, key, klen);
	br_aes_ct64_ctr_init(&kb, key, klen);
	ra = ours->run(&ka.vtable, iv, cc, a, len);
	rb = br_aes_ct64_ctr_run(&kb, iv, cc, b, len);
	return ra == rb && memcmp(a, b, len) == 0;
}

static void
test_ctr(const br_block_ctr_class *ours)
{
	static uint8_t data[16384 + 64];
	static const size_t klens[] = { 16, 24, 32 };
	uint8_t key[32], iv[12];
	size_t k, len;
	int bad;

	CHECK(ours->context_size >= sizeof(br_aes_x86ni_ctr_keys) &&
	    ours->block_size == 16 && ours->log_block_size == 4);
	fill(data, sizeof(data));
	for (k = 0; k < 3; k++) {
		for (bad = 0, len = 0; len <= 600; len++) {
			fill(key, sizeof(key));
			fill(iv, sizeof(iv));
			bad += !ctr_same(ours, key, klens[k], iv,
			    (uint32_t)len * 7919u, data, len);
		}
		CHECKM(bad == 0, "lengths 0..600");
		for (bad = 0, len = 16384 - 3; len <= 16384 + 17; len++)
			bad += !ctr_same(ours, key, klens[k], iv, 2, data, len);
		CHECKM(bad == 0, "record sizes");
		bad = !ctr_same(ours, key, klens[k], iv, 0xFFFFFFF0u, data,
		    4096 + 5);
		CHECKM(bad == 0, "the counter wraps");
	}
}

/* A record sealed with our GCM halves opens with BearSSL's own. */
static void
test_record(br_ghash g, const br_block_ctr_class *ours)
{
	static uint8_t data[16384], copy[16384];
	br_aes_x86ni_ctr_keys ko;
	br_aes_ct64_ctr_keys kb;
	br_gcm_context gcm;
	uint8_t key[16], iv[12], aad[13], tag[16];

	fill(key, sizeof(key));
	fill(iv, sizeof(iv));
	fill(aad, sizeof(aad));
	fill(data, sizeof(data));
	memcpy(copy, data, sizeof(data));
	ours->init(&ko.vtable, key, sizeof(key));
	br_gcm_init(&gcm, &ko.vtable, g);
	br_gcm_reset(&gcm, iv, sizeof(iv));
	br_gcm_aad_inject(&gcm, aad, sizeof(aad));
	br_gcm_flip(&gcm);
	br_gcm_run(&gcm, 1, data, sizeof(data));
	br_gcm_get_tag(&gcm, tag);
	CHECKM(memcmp(data, copy, sizeof(data)) != 0, "sealing changed it");

	br_aes_ct64_ctr_init(&kb, key, sizeof(key));
	br_gcm_init(&gcm, &kb.vtable, br_ghash_ctmul64);
	br_gcm_reset(&gcm, iv, sizeof(iv));
	br_gcm_aad_inject(&gcm, aad, sizeof(aad));
	br_gcm_flip(&gcm);
	br_gcm_run(&gcm, 0, data, sizeof(data));
	CHECKM(br_gcm_check_tag(&gcm, tag) == 1, "BearSSL accepts our tag");
	CHECKM(memcmp(data, copy, sizeof(data)) == 0, "and our ciphertext");
}

int
main(void)
{
	br_ghash g = tls_gcm_ghash();
	const br_block_ctr_class *ctr = tls_gcm_ctr();

	if (g == 0 || ctr == NULL) {
		/* Nothing of ours is in use on this CPU: nothing to test. */
		CHECK(g == 0 && ctr == NULL);
		printf("note: this CPU lacks AVX2, VAES or VPCLMULQDQ: "
		    "BearSSL's own AES-GCM is in use\n");
		return check_done();
	}
	test_ghash(g);
	test_ctr(ctr);
	test_record(g, ctr);
	return check_done();
}
