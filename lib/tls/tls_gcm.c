/*
 * AES-GCM's two halves for the engine's records, on 256-bit registers:
 * GHASH sixteen blocks a step with VPCLMULQDQ (br_ssl_engine_set_ghash), and
 * AES-CTR sixteen blocks a step with VAES (br_ssl_engine_set_aes_ctr).
 *
 * Why: with BearSSL's br_ghash_pclmul and br_aes_x86ni_ctr, a TLS tunnel
 * spent about a third of its CPU in them, GHASH twice what AES took; they
 * work a block (AES: four) at a time on 128-bit registers.
 *
 * GHASH.  The arithmetic is POLYVAL's (RFC 8452): a block read big-endian
 * is a polynomial with bit i the coefficient of x^i, products are plain
 * carry-less multiplications, and dot(a, b) = a * b * x^-128 mod
 * Q = x^128 + x^127 + x^126 + x^121 + 1.  RFC 8452, appendix A:
 * GHASH(H, X...) = ByteReverse(POLYVAL(mulX(ByteReverse(H)),
 * ByteReverse(X)...)), and that holds block by block, so BearSSL's running
 * value y converts the same way.  Each step multiplies sixteen blocks by
 * H^16..H^1 and reduces once.
 *
 * AES-CTR.  BearSSL's own br_aes_x86ni_ctr_init expands the key (its
 * context layout is public); the rounds run here, two blocks an
 * instruction.
 *
 * No table, no branch on data: constant time, as the code replaced.
 * test/unit/tls_gcm_test.c checks both against BearSSL's portable code.
 */
#include "tls/tls_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define GCM_TARGET __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))

#define GCM_PAIRS	8		/* GHASH: pairs of blocks a step */
#define GCM_STEP	(32 * GCM_PAIRS)

/* x^57 + x^62 + x^63: Q's low terms above x^0, over x^64 (one fold). */
#define GCM_FOLD	0xC200000000000000ULL

/* The byte reversal of each 128-bit lane. */
static const uint8_t tls_gcm_rev[32] = {
	15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
};

/*
 * (hi:lo) * x^-128 mod Q, two Montgomery folds of 64 bits: adding d0 * Q
 * clears the lowest word (Q = 1 mod x^64), and dividing by x^64 leaves
 * d0 * (x^57 + x^62 + x^63) plus d0 one word up.
 */
GCM_TARGET static __m128i
tls_gcm_reduce(__m128i lo, __m128i hi)
{
	const __m128i fold = _mm_set_epi64x(0, (long long)GCM_FOLD);
	__m128i x;

	x = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E),
	    _mm_clmulepi64_si128(lo, fold, 0x00));
	x = _mm_xor_si128(_mm_shuffle_epi32(x, 0x4E),
	    _mm_clmulepi64_si128(x, fold, 0x00));
	return _mm_xor_si128(x, hi);
}

/* The 256-bit carry-less product a * b as (*hi:*lo). */
GCM_TARGET static void
tls_gcm_mul(__m128i a, __m128i b, __m128i *lo, __m128i *hi)
{
	__m128i mid;

	mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
	    _mm_clmulepi64_si128(a, b, 0x10));
	*lo = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x00),
	    _mm_slli_si128(mid, 8));
	*hi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x11),
	    _mm_srli_si128(mid, 8));
}

GCM_TARGET static __m128i
tls_gcm_dot(__m128i a, __m128i b)
{
	__m128i lo, hi;

	tls_gcm_mul(a, b, &lo, &hi);
	return tls_gcm_reduce(lo, hi);
}

/* Products of a pair of blocks by a pair of keys, added lane by lane. */
GCM_TARGET static void
tls_gcm_mul2(__m256i x, __m256i k, __m256i *lo, __m256i *mid, __m256i *hi)
{
	*lo = _mm256_xor_si256(*lo, _mm256_clmulepi64_epi128(x, k, 0x00));
	*hi = _mm256_xor_si256(*hi, _mm256_clmulepi64_epi128(x, k, 0x11));
	*mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(x, k, 0x01));
	*mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(x, k, 0x10));
}

/* A 256-bit register holding (first, second) as its (low, high) lanes. */
GCM_TARGET static __m256i
tls_gcm_pair(__m128i first, __m128i second)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(first), second,
	    1);
}

/* The two lanes' sums added together. */
GCM_TARGET static __m128i
tls_gcm_lanes(__m256i v)
{
	return _mm_xor_si128(_mm256_castsi256_si128(v),
	    _mm256_extracti128_si256(v, 1));
}

/* mulX_POLYVAL of ByteReverse(h): the key in POLYVAL's terms. */
static __m128i
tls_gcm_hkey(const uint8_t *h)
{
	uint64_t hi = 0, lo = 0, carry;
	int i;

	for (i = 0; i < 8; i++) {
		hi = hi << 8 | h[i];
		lo = lo << 8 | h[8 + i];
	}
	carry = -(hi >> 63);		/* all ones when x^128 overflows */
	hi = (hi << 1 | lo >> 63) ^ (carry & GCM_FOLD);
	lo = (lo << 1) ^ (carry & 1);
	return _mm_set_epi64x((long long)hi, (long long)lo);
}

GCM_TARGET static void
tls_gcm_ghash_run(void *y, const void *h, const void *data, size_t len)
{
	const __m256i rev2 = _mm256_loadu_si256((const void *)tls_gcm_rev);
	const __m128i rev = _mm256_castsi256_si128(rev2);
	const uint8_t *p = data;
	__m128i s, k[2 * GCM_PAIRS + 1], lo, hi;
	__m256i kp[GCM_PAIRS];
	uint8_t last[16];
	int i;

	s = _mm_shuffle_epi8(_mm_loadu_si128(y), rev);
	k[1] = tls_gcm_hkey(h);
	if (len >= GCM_STEP) {
		/* k[i] = H^i * x^(-128 (i - 1)): one reduction per step. */
		for (i = 2; i <= 2 * GCM_PAIRS; i++)
			k[i] = tls_gcm_dot(k[i / 2], k[i - i / 2]);
		for (i = 0; i < GCM_PAIRS; i++)
			kp[i] = tls_gcm_pair(k[2 * (GCM_PAIRS - i)],
			    k[2 * (GCM_PAIRS - i) - 1]);
	}
	for (; len >= GCM_STEP; len -= GCM_STEP, p += GCM_STEP) {
		__m256i x, l = _mm256_setzero_si256(), m = l, u = l;
		__m128i mid;

		/*
		 * The first pair, which the running value joins, goes last:
		 * the products of the others do not wait for it.
		 */
		for (i = GCM_PAIRS - 1; i >= 0; i--) {
			x = _mm256_shuffle_epi8(
			    _mm256_loadu_si256((const void *)(p + 32 * i)),
			    rev2);
			if (i == 0)
				x = _mm256_xor_si256(x,
				    _mm256_zextsi128_si256(s));
			tls_gcm_mul2(x, kp[i], &l, &m, &u);
		}
		lo = tls_gcm_lanes(l);
		mid = tls_gcm_lanes(m);
		hi = tls_gcm_lanes(u);
		s = tls_gcm_reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)),
		    _mm_xor_si128(hi, _mm_srli_si128(mid, 8)));
	}
	for (; len > 0; len -= len < 16 ? len : 16, p += 16) {
		const uint8_t *b = p;

		if (len < 16) {		/* the last block, padded with zeros */
			memset(last, 0, sizeof(last));
			memcpy(last, p, len);
			b = last;
		}
		s = tls_gcm_dot(_mm_xor_si128(s,
		    _mm_shuffle_epi8(_mm_loadu_si128((const void *)b), rev)),
		    k[1]);
	}
	_mm_storeu_si128(y, _mm_shuffle_epi8(s, rev));
	/*
	 * SSE code runs next (BearSSL's own AES, when it is in use): with the
	 * upper halves of the 256-bit registers left dirty it ran half as fast.
	 */
	_mm256_zeroupper();
}

/*
 * The key stream for blocks cc, cc + 1, ... XORed into data: BearSSL's
 * br_block_ctr_class run, on br_aes_x86ni_ctr_keys.
 */
GCM_TARGET static uint32_t
tls_gcm_ctr_run(const br_block_ctr_class *const *ctx, const void *iv,
    uint32_t cc, void *data, size_t len)
{
	const br_aes_x86ni_ctr_keys *kc = (const void *)ctx;
	/* Counter words kept little-endian in dwords 3 and 7, swapped on use. */
	const __m256i swap = _mm256_setr_epi8(
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 15, 14, 13, 12,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 15, 14, 13, 12);
	const __m256i two = _mm256_setr_epi32(0, 0, 0, 2, 0, 0, 0, 2);
	__m256i sk[15], ivv, ctr, x[8];
	uint8_t *p = data, last[32];
	unsigned nr = kc->num_rounds, r;
	size_t n, i;

	memset(last, 0, sizeof(last));
	memcpy(last, iv, 12);
	ivv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)last));
	ctr = _mm256_setr_epi32(0, 0, 0, (int)cc, 0, 0, 0, (int)(cc + 1));
	for (r = 0; r <= nr; r++)
		sk[r] = _mm256_broadcastsi128_si256(
		    _mm_loadu_si128((const void *)(kc->skey.skni + 16 * r)));
	while (len > 0) {
		/*
		 * Eight pairs a step, all in registers (hence the unrolling,
		 * which -Os would not do); a tail takes one step too.
		 */
#pragma GCC unroll 8
		for (i = 0; i < 8; i++) {
			x[i] = _mm256_xor_si256(_mm256_xor_si256(ivv,
			    _mm256_shuffle_epi8(ctr, swap)), sk[0]);
			ctr = _mm256_add_epi32(ctr, two);
		}
		for (r = 1; r < nr; r++) {
#pragma GCC unroll 8
			for (i = 0; i < 8; i++)
				x[i] = _mm256_aesenc_epi128(x[i], sk[r]);
		}
#pragma GCC unroll 8
		for (i = 0; i < 8; i++)
			x[i] = _mm256_aesenclast_epi128(x[i], sk[nr]);
		n = len >= 256 ? 8 : len / 32;
		for (i = 0; i < n; i++, p += 32, len -= 32)
			_mm256_storeu_si256((void *)p, _mm256_xor_si256(x[i],
			    _mm256_loadu_si256((const void *)p)));
		if (n < 8 && len > 0) {	/* under 32 bytes left */
			memcpy(last, p, len);
			_mm256_storeu_si256((void *)last, _mm256_xor_si256(x[n],
			    _mm256_loadu_si256((const void *)last)));
			memcpy(p, last, len);
			cc += (uint32_t)(len / 16);	/* as BearSSL's */
			len = 0;
		}
	}
	_mm256_zeroupper();
	return cc + (uint32_t)((p - (uint8_t *)data) / 16);
}

static void
tls_gcm_ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len);

static const br_block_ctr_class tls_gcm_ctr_vtable = {
	sizeof(br_aes_x86ni_ctr_keys), 16, 4, tls_gcm_ctr_init,
	tls_gcm_ctr_run,
};

static void
tls_gcm_ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len)
{
	br_aes_x86ni_ctr_init((br_aes_x86ni_ctr_keys *)(void *)ctx, key, len);
	*ctx = &tls_gcm_ctr_vtable;
}

/* AVX2, VAES and VPCLMULQDQ, with the OS saving the 256-bit registers. */
static int
tls_gcm_cpu_ok(void)
{
	unsigned a, b, c, d, xlo, xhi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_PCLMUL) || !(c & bit_AES) || !(c & bit_OSXSAVE) ||
	    !(c & bit_AVX))
		return 0;
	__asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
	if ((xlo & 6) != 6)		/* XMM and YMM state */
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_AVX2) && (c & bit_VAES) && (c & bit_VPCLMULQDQ);
}

br_ghash
tls_gcm_ghash(void)
{
	return tls_gcm_cpu_ok() ? tls_gcm_ghash_run : 0;
}

const br_block_ctr_class *
tls_gcm_ctr(void)
{
	return tls_gcm_cpu_ok() ? &tls_gcm_ctr_vtable : NULL;
}
#else
br_ghash
tls_gcm_ghash(void)
{
	return 0;
}

const br_block_ctr_class *
tls_gcm_ctr(void)
{
	return NULL;
}
#endif

void
tls_gcm_setup(br_ssl_engine_context *eng)
{
	br_ghash g = tls_gcm_ghash();
	const br_block_ctr_class *ctr = tls_gcm_ctr();

	if (g != 0)
		br_ssl_engine_set_ghash(eng, g);
	if (ctr != NULL)
		br_ssl_engine_set_aes_ctr(eng, ctr);
}
