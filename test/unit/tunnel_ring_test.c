/* The tunnel's byte ring: wrap-around, iovec splits, poke, restart at 0. */
#include <stdio.h>
#include <string.h>

#include "check.h"

#include "tunnel/ring.h"


/* Copy what iov[0..cnt) describes into out; returns the byte count. */
static size_t
gather(const struct iovec *iov, int cnt, unsigned char *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < cnt; i++) {
		memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	return n;
}

int
main(void)
{
	unsigned char mem[16], out[32];
	struct iovec iov[2];
	struct ring r;
	int cnt, i, ok;
	size_t n;

	ring_init(&r, mem, sizeof(mem));
	CHECK(ring_used(&r) == 0 && ring_room(&r) == 16);
	CHECK(ring_data(&r, iov, 100) == 0);
	cnt = ring_space(&r, 0, iov, 100);
	CHECK(cnt == 1 && iov[0].iov_base == mem && iov[0].iov_len == 16);

	ring_put(&r, "abcdefghij", 10);
	ring_drain(&r, 6);		/* "ghij" left at offset 6 */
	CHECK(ring_used(&r) == 4 && ring_room(&r) == 12);
	/* Free space wraps: 6 bytes at the end, 6 at the front. */
	cnt = ring_space(&r, 0, iov, 100);
	CHECK(cnt == 2 && iov[0].iov_base == mem + 10 && iov[0].iov_len == 6 &&
	    iov[1].iov_base == mem && iov[1].iov_len == 6);
	/* Skipping a reserved header: 4 bytes, then the rest. */
	cnt = ring_space(&r, 4, iov, 5);
	CHECK(cnt == 2 && iov[0].iov_base == mem + 14 && iov[0].iov_len == 2 &&
	    iov[1].iov_base == mem && iov[1].iov_len == 3);
	cnt = ring_space(&r, 6, iov, 100);
	CHECK(cnt == 1 && iov[0].iov_base == mem && iov[0].iov_len == 6);
	/* A header poked across the end, then the payload behind it. */
	ring_poke(&r, 0, "HDRhdr", 6);
	cnt = ring_space(&r, 6, iov, 3);
	memcpy(iov[0].iov_base, "xyz", 3);
	ring_fill(&r, 9);
	CHECK(ring_used(&r) == 13 && ring_room(&r) == 3);
	cnt = ring_data(&r, iov, 100);
	n = gather(iov, cnt, out);
	CHECK(cnt == 2 && n == 13 && memcmp(out, "ghijHDRhdrxyz", 13) == 0);
	cnt = ring_data(&r, iov, 5);
	n = gather(iov, cnt, out);
	CHECK(n == 5 && memcmp(out, "ghijH", 5) == 0);
	/* Drained empty: back to offset 0, one contiguous region. */
	ring_drain(&r, 13);
	CHECK(ring_used(&r) == 0);
	cnt = ring_space(&r, 0, iov, 100);
	CHECK(cnt == 1 && iov[0].iov_base == mem && iov[0].iov_len == 16);
	/* Full. */
	ring_put(&r, "0123456789abcdef", 16);
	CHECK(ring_room(&r) == 0 && ring_space(&r, 0, iov, 100) == 0);
	/* Many laps of odd sizes keep the bytes in order. */
	ring_init(&r, mem, sizeof(mem));
	ok = 1;
	for (i = 0; i < 1000 && ok; i++) {
		unsigned char in[7];
		size_t k = 1 + (size_t)i % 7, j;

		for (j = 0; j < k; j++)
			in[j] = (unsigned char)(i + j);
		ring_put(&r, in, k);
		cnt = ring_data(&r, iov, k);
		n = gather(iov, cnt, out);
		ok = n == k && memcmp(in, out, k) == 0;
		/* Leave a byte behind now and then, so laps do not align. */
		ring_drain(&r, i % 3 == 0 && k > 1 ? k - 1 : k);
		if (ring_used(&r) > 0) {
			cnt = ring_data(&r, iov, 100);
			ok = ok && gather(iov, cnt, out) == 1 && out[0] == in[k - 1];
			ring_drain(&r, 1);
		}
	}
	CHECK(ok);
	return check_done();
}
