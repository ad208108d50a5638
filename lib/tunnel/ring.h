#ifndef MIG_TUNNEL_RING_H
#define MIG_TUNNEL_RING_H
/*
 * A byte ring over caller-owned memory of a power-of-two size, read and
 * written in place through iovecs (readv/writev straight into it, no
 * staging copy).  An emptied ring restarts at offset 0, so a ring that
 * rarely holds much only ever touches its first pages: its untouched tail
 * costs address space, not memory.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ring {
	uint8_t *buf;
	size_t cap;		/* power of two */
	size_t head, tail;	/* free-running; used = tail - head */
};

/* Use buf[0..cap) as an empty ring; cap must be a power of two. */
void ring_init(struct ring *r, uint8_t *buf, size_t cap);

size_t ring_used(const struct ring *r);
size_t ring_room(const struct ring *r);

/*
 * Describe up to max bytes of the data in iov[0..1], oldest first.
 * Returns the number of iovecs filled (0 when empty).
 */
int ring_data(const struct ring *r, struct iovec iov[2], size_t max);

/*
 * Describe up to max bytes of free space starting skip bytes past the
 * tail (skip <= ring_room).  Returns the number of iovecs filled.
 */
int ring_space(const struct ring *r, size_t skip, struct iovec iov[2],
    size_t max);

/* Copy n bytes to the free space at tail + off (wrapping); not committed. */
void ring_poke(struct ring *r, size_t off, const void *p, size_t n);

/* Commit n bytes written into the free space (n <= ring_room). */
void ring_fill(struct ring *r, size_t n);

/* Drop n bytes of data from the head (n <= ring_used). */
void ring_drain(struct ring *r, size_t n);

/* Append n bytes (n <= ring_room). */
void ring_put(struct ring *r, const void *p, size_t n);

#endif
