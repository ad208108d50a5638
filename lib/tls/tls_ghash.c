/*
 * GHASH for AES-GCM records, eight blocks a step with VPCLMULQDQ on 256-bit
 * registers, plugged into BearSSL's engine (br_ssl_engine_set_ghash).
 *
 * Why: BearSSL's br_ghash_pclmul takes about twice as long as its AES-CTR
 * and was a fifth of a TLS tunnel's CPU.  Here each step multiplies eight
 * blocks by H^8..H^1 with two blocks an instruction and reduces once.
 *
 * The arithmetic is POLYVAL's (RFC 8452): a block read big-endian is a
 * polynomial with bit i the coefficient of x^i, products are plain
 * carry-less multiplications, and dot(a, b) = a * b * x^-128 mod
 * Q = x^128 + x^127 + x^126 + x^121 + 1.  RFC 8452, appendix A:
 * GHASH(H, X...) = ByteReverse(POLYVAL(mulX(ByteReverse(H)),
 * ByteReverse(X)...)), and that holds block by block, so BearSSL's running
 * value y converts the same way.  No table, no branch on data: constant
 * time, as the code it replaces.
 *
 * tls_ghash_get() picks it when the CPU and the OS have AVX2 and
 * VPCLMULQDQ, else BearSSL's best.  test/unit/tls_test.c checks it against
 * br_ghash_ctmul64 on every length from 0 to 300 and on random values.
 */
#include "tls/tls_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define GHASH_TARGET __attribute__((target("avx2,pclmul,vpclmulqdq")))

/* x^57 + x^62 + x^63: Q's low terms above x^0, over x^64 (one fold). */
#define GHASH_FOLD	0xC200000000000000ULL

/* The byte reversal of each 128-bit lane. */
static const uint8_t tls_ghash_rev[32] = {
	15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
};

/*
 * (hi:lo) * x^-128 mod Q, two Montgomery folds of 64 bits: adding d0 * Q
 * clears the lowest word (Q = 1 mod x^64), and dividing by x^64 leaves
 * d0 * (x^57 + x^62 + x^63) plus d0 one word up.
 */
GHASH_TARGET static __m128i
tls_ghash_reduce(__m128i lo, __m128i hi)
{
	const __m128i fold = _mm_set_epi64x(0, (long long)GHASH_FOLD);
	__m128i x;

	x = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4E),
	    _mm_clmulepi64_si128(lo, fold, 0x00));
	x = _mm_xor_si128(_mm_shuffle_epi32(x, 0x4E),
	    _mm_clmulepi64_si128(x, fold, 0x00));
	return _mm_xor_si128(x, hi);
}

/* The 256-bit carry-less product a * b as (*hi:*lo). */
GHASH_TARGET static void
tls_ghash_mul(__m128i a, __m128i b, __m128i *lo, __m128i *hi)
{
	__m128i mid;

	mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
	    _mm_clmulepi64_si128(a, b, 0x10));
	*lo = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x00),
	    _mm_slli_si128(mid, 8));
	*hi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x11),
	    _mm_srli_si128(mid, 8));
}

GHASH_TARGET static __m128i
tls_ghash_dot(__m128i a, __m128i b)
{
	__m128i lo, hi;

	tls_ghash_mul(a, b, &lo, &hi);
	return tls_ghash_reduce(lo, hi);
}

/* Products of a pair of blocks by a pair of keys, added lane by lane. */
GHASH_TARGET static void
tls_ghash_mul2(__m256i x, __m256i k, __m256i *lo, __m256i *mid, __m256i *hi)
{
	*lo = _mm256_xor_si256(*lo, _mm256_clmulepi64_epi128(x, k, 0x00));
	*hi = _mm256_xor_si256(*hi, _mm256_clmulepi64_epi128(x, k, 0x11));
	*mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(x, k, 0x01));
	*mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(x, k, 0x10));
}

/* A 256-bit register holding (first, second) as its (low, high) lanes. */
GHASH_TARGET static __m256i
tls_ghash_pair(__m128i first, __m128i second)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(first), second,
	    1);
}

/* mulX_POLYVAL of ByteReverse(h): the key in POLYVAL's terms. */
static __m128i
tls_ghash_key(const uint8_t *h)
{
	uint64_t hi = 0, lo = 0, carry;
	int i;

	for (i = 0; i < 8; i++) {
		hi = hi << 8 | h[i];
		lo = lo << 8 | h[8 + i];
	}
	carry = -(hi >> 63);		/* all ones when x^128 overflows */
	hi = (hi << 1 | lo >> 63) ^ (carry & GHASH_FOLD);
	lo = (lo << 1) ^ (carry & 1);
	return _mm_set_epi64x((long long)hi, (long long)lo);
}

GHASH_TARGET static void
tls_ghash_vpclmul(void *y, const void *h, const void *data, size_t len)
{
	const __m256i rev2 = _mm256_loadu_si256((const void *)tls_ghash_rev);
	const __m128i rev = _mm256_castsi256_si128(rev2);
	const uint8_t *p = data;
	__m128i s, k[9], lo, hi;
	__m256i kp[4];
	uint8_t last[16];
	int i;

	s = _mm_shuffle_epi8(_mm_loadu_si128(y), rev);
	k[1] = tls_ghash_key(h);
	if (len >= 128) {
		/* k[i] = H^i * x^(-128 (i - 1)): one reduction per step. */
		for (i = 2; i <= 8; i++)
			k[i] = tls_ghash_dot(k[i - 1], k[1]);
		for (i = 0; i < 4; i++)
			kp[i] = tls_ghash_pair(k[8 - 2 * i], k[7 - 2 * i]);
	}
	for (; len >= 128; len -= 128, p += 128) {
		__m256i x, l = _mm256_setzero_si256(), m = l, u = l;
		__m128i mid;

		for (i = 0; i < 4; i++) {
			x = _mm256_shuffle_epi8(
			    _mm256_loadu_si256((const void *)(p + 32 * i)),
			    rev2);
			if (i == 0)	/* the running value joins block 1 */
				x = _mm256_xor_si256(x,
				    _mm256_zextsi128_si256(s));
			tls_ghash_mul2(x, kp[i], &l, &m, &u);
		}
		lo = _mm_xor_si128(_mm256_castsi256_si128(l),
		    _mm256_extracti128_si256(l, 1));
		mid = _mm_xor_si128(_mm256_castsi256_si128(m),
		    _mm256_extracti128_si256(m, 1));
		hi = _mm_xor_si128(_mm256_castsi256_si128(u),
		    _mm256_extracti128_si256(u, 1));
		s = tls_ghash_reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)),
		    _mm_xor_si128(hi, _mm_srli_si128(mid, 8)));
	}
	for (; len > 0; len -= len < 16 ? len : 16, p += 16) {
		const uint8_t *b = p;

		if (len < 16) {		/* the last block, padded with zeros */
			memset(last, 0, sizeof(last));
			memcpy(last, p, len);
			b = last;
		}
		s = tls_ghash_dot(_mm_xor_si128(s,
		    _mm_shuffle_epi8(_mm_loadu_si128((const void *)b), rev)),
		    k[1]);
	}
	_mm_storeu_si128(y, _mm_shuffle_epi8(s, rev));
	/*
	 * BearSSL's AES runs next, in SSE code: with the upper halves of the
	 * 256-bit registers left dirty it ran half as fast.
	 */
	_mm256_zeroupper();
}

/* AVX2 and VPCLMULQDQ, with the OS saving the 256-bit registers. */
static int
tls_ghash_cpu_ok(void)
{
	unsigned a, b, c, d, xlo, xhi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_PCLMUL) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	__asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
	if ((xlo & 6) != 6)		/* XMM and YMM state */
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_AVX2) && (c & bit_VPCLMULQDQ);
}

br_ghash
tls_ghash_fast(void)
{
	return tls_ghash_cpu_ok() ? tls_ghash_vpclmul : 0;
}
#else
br_ghash
tls_ghash_fast(void)
{
	return 0;
}
#endif

br_ghash
tls_ghash_get(void)
{
	br_ghash g = tls_ghash_fast();

	if (g == 0)
		g = br_ghash_pclmul_get();
	return g != 0 ? g : br_ghash_ctmul64;
}
