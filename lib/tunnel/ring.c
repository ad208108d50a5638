#include <string.h>

#include "tunnel/ring.h"

void
ring_init(struct ring *r, uint8_t *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->head = r->tail = 0;
}

size_t
ring_used(const struct ring *r)
{
	return r->tail - r->head;
}

size_t
ring_room(const struct ring *r)
{
	return r->cap - (r->tail - r->head);
}

/* Split [pos, pos + len) of the ring at its end into one or two iovecs. */
static int
ring_iov(const struct ring *r, size_t pos, size_t len, struct iovec iov[2])
{
	size_t off = pos & (r->cap - 1), first = r->cap - off;

	if (len == 0)
		return 0;
	iov[0].iov_base = r->buf + off;
	if (len <= first) {
		iov[0].iov_len = len;
		return 1;
	}
	iov[0].iov_len = first;
	iov[1].iov_base = r->buf;
	iov[1].iov_len = len - first;
	return 2;
}

int
ring_data(const struct ring *r, struct iovec iov[2], size_t max)
{
	size_t len = ring_used(r);

	return ring_iov(r, r->head, len < max ? len : max, iov);
}

int
ring_space(const struct ring *r, size_t skip, struct iovec iov[2], size_t max)
{
	size_t len = ring_room(r) - skip;

	return ring_iov(r, r->tail + skip, len < max ? len : max, iov);
}

void
ring_poke(struct ring *r, size_t off, const void *p, size_t n)
{
	struct iovec iov[2];
	int i, cnt = ring_iov(r, r->tail + off, n, iov);

	for (i = 0; i < cnt; i++) {
		memcpy(iov[i].iov_base, p, iov[i].iov_len);
		p = (const uint8_t *)p + iov[i].iov_len;
	}
}

void
ring_fill(struct ring *r, size_t n)
{
	r->tail += n;
}

void
ring_drain(struct ring *r, size_t n)
{
	r->head += n;
	/* Restart at the front: fewer pages touched, fewer split iovecs. */
	if (r->head == r->tail)
		r->head = r->tail = 0;
}

void
ring_put(struct ring *r, const void *p, size_t n)
{
	ring_poke(r, 0, p, n);
	r->tail += n;
}
