#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tunnel/frame.h"

enum {
	FRAME_ST_HDR = 0,	/* collecting the 8 header bytes */
	FRAME_ST_CTL,		/* collecting a control payload */
	FRAME_ST_DATA,		/* handing out DATA payload */
	FRAME_ST_ERR,		/* malformed input seen; nothing more */
};

static void
frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
frame_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t
frame_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
frame_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
frame_hdr(uint8_t *buf, unsigned type, int rbit, unsigned num, uint32_t len)
{
	buf[0] = (uint8_t)type;
	buf[1] = 0;
	frame_put16(buf + 2, (uint16_t)((rbit ? FRAME_RBIT : 0) | num));
	frame_put32(buf + 4, len);
}

void
frame_data_hdr(uint8_t *buf, int rbit, unsigned num, uint32_t len)
{
	frame_hdr(buf, FRAME_DATA, rbit, num, len);
}

int
frame_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > FRAME_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return 0;
	return 1;
}

size_t
frame_encode(uint8_t *buf, const struct frame *f)
{
	uint8_t *p = buf + FRAME_HDR_LEN;
	size_t n = 0;

	switch (f->type) {
	case FRAME_HELLO:
		memcpy(p, FRAME_MAGIC, 8);
		frame_put16(p + 8, f->vmin);
		frame_put16(p + 10, f->vmax);
		frame_put32(p + 12, f->value);
		n = FRAME_HELLO_LEN;
		break;
	case FRAME_OPEN:
		frame_put32(p, f->value);
		memcpy(p + 4, f->name, f->namelen);
		n = 4 + (size_t)f->namelen;
		break;
	case FRAME_ACCEPT:
	case FRAME_CREDIT:
		frame_put32(p, f->value);
		n = 4;
		break;
	case FRAME_REFUSE:
	case FRAME_CLOSE:
		p[0] = f->reason;
		n = 1;
		break;
	case FRAME_PING:
	case FRAME_PONG:
		memcpy(p, f->ping, FRAME_PING_LEN);
		n = FRAME_PING_LEN;
		break;
	case FRAME_DATA:
		frame_hdr(buf, f->type, f->rbit, f->num, f->len);
		return FRAME_HDR_LEN;
	default:	/* EOF, GOODBYE: no payload */
		break;
	}
	frame_hdr(buf, f->type, f->rbit, f->num, (uint32_t)n);
	return FRAME_HDR_LEN + n;
}

const char *
frame_type_name(unsigned type)
{
	static const char *const names[] = { "?", "HELLO", "OPEN", "ACCEPT",
	    "REFUSE", "DATA", "CREDIT", "EOF", "CLOSE", "PING", "PONG",
	    "GOODBYE" };

	return type >= 1 && type <= FRAME_TYPE_MAX ? names[type] : "unknown";
}

static enum frame_ev frame_fail(struct frame_dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Malformed input ends decoding for good: a stream cannot resync. */
static enum frame_ev
frame_fail(struct frame_dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	d->state = FRAME_ST_ERR;
	return FRAME_EV_ERROR;
}

void
frame_dec_init(struct frame_dec *d, uint32_t data_max)
{
	memset(d, 0, sizeof(*d));
	d->data_max = data_max;
}

/* Is len a valid payload length for type?  Session frames carry chan 0. */
static enum frame_ev
frame_check_hdr(struct frame_dec *d)
{
	struct frame *f = &d->f;
	unsigned chan = frame_get16(d->buf + 2);
	uint32_t len = frame_get32(d->buf + 4);
	uint32_t lo, hi;
	int session;

	memset(f, 0, sizeof(*f));
	f->type = d->buf[0];
	f->rbit = (chan & FRAME_RBIT) != 0;
	f->num = (uint16_t)(chan & ~FRAME_RBIT);
	f->len = len;
	if (f->type < 1 || f->type > FRAME_TYPE_MAX)
		return frame_fail(d, "unknown frame type 0x%02x", f->type);
	if (d->buf[1] != 0)
		return frame_fail(d, "%s frame with flags 0x%02x (must be 0)",
		    frame_type_name(f->type), d->buf[1]);
	if (!d->hello_seen && f->type != FRAME_HELLO)
		return frame_fail(d, "first frame is %s, not HELLO",
		    frame_type_name(f->type));
	if (d->hello_seen && f->type == FRAME_HELLO)
		return frame_fail(d, "a second HELLO");
	session = f->type == FRAME_HELLO || f->type == FRAME_PING ||
	    f->type == FRAME_PONG || f->type == FRAME_GOODBYE;
	if (session && chan != 0)
		return frame_fail(d, "%s frame on channel field 0x%04x (must "
		    "be 0)", frame_type_name(f->type), chan);
	if (!session && f->num >= FRAME_CHANS)
		return frame_fail(d, "%s frame on channel %u (limit %u)",
		    frame_type_name(f->type), f->num, FRAME_CHANS - 1);
	/* OPEN names the sender's channel; ACCEPT/REFUSE answer ours. */
	if (f->type == FRAME_OPEN && f->rbit)
		return frame_fail(d, "OPEN with the receiver's bit set");
	if ((f->type == FRAME_ACCEPT || f->type == FRAME_REFUSE) && !f->rbit)
		return frame_fail(d, "%s of a channel the receiver did not "
		    "open", frame_type_name(f->type));
	switch (f->type) {
	case FRAME_HELLO:	lo = hi = FRAME_HELLO_LEN; break;
	case FRAME_OPEN:	lo = 5; hi = 4 + FRAME_NAME_MAX; break;
	case FRAME_ACCEPT:
	case FRAME_CREDIT:	lo = hi = 4; break;
	case FRAME_REFUSE:
	case FRAME_CLOSE:	lo = hi = 1; break;
	case FRAME_DATA:	lo = 1; hi = d->data_max; break;
	case FRAME_PING:
	case FRAME_PONG:	lo = hi = FRAME_PING_LEN; break;
	default:		lo = hi = 0; break;
	}
	if (len < lo || len > hi)
		return frame_fail(d, "%s frame with %lu payload bytes "
		    "(allowed %lu..%lu)", frame_type_name(f->type),
		    (unsigned long)len, (unsigned long)lo, (unsigned long)hi);
	return FRAME_EV_NONE;
}

/* Decode the fields of a complete control payload at d->buf + 8. */
static enum frame_ev
frame_check_ctl(struct frame_dec *d)
{
	struct frame *f = &d->f;
	const uint8_t *p = d->buf + FRAME_HDR_LEN;

	switch (f->type) {
	case FRAME_HELLO:
		if (memcmp(p, FRAME_MAGIC, 8) != 0)
			return frame_fail(d, "bad magic in HELLO: not a "
			    "mig-tunnel peer");
		f->vmin = frame_get16(p + 8);
		f->vmax = frame_get16(p + 10);
		f->value = frame_get32(p + 12);
		if (f->vmin == 0 || f->vmin > f->vmax)
			return frame_fail(d, "HELLO with versions %u..%u",
			    f->vmin, f->vmax);
		if (f->value < FRAME_DATA_MIN)
			return frame_fail(d, "HELLO with data_max %lu (minimum "
			    "%u)", (unsigned long)f->value, FRAME_DATA_MIN);
		if (f->value > FRAME_DATA_LIMIT)
			f->value = FRAME_DATA_LIMIT;
		d->hello_seen = 1;
		break;
	case FRAME_OPEN:
		f->value = frame_get32(p);
		f->namelen = (uint8_t)(f->len - 4);
		memcpy(f->name, p + 4, f->namelen);
		f->name[f->namelen] = '\0';
		if (!frame_name_ok(f->name, f->namelen))
			return frame_fail(d, "OPEN of channel %u with a name "
			    "that is not printable ASCII", f->num);
		if (f->value > FRAME_WINDOW_MAX)
			return frame_fail(d, "OPEN of channel %u with window "
			    "%lu", f->num, (unsigned long)f->value);
		break;
	case FRAME_ACCEPT:
	case FRAME_CREDIT:
		f->value = frame_get32(p);
		if (f->value > FRAME_WINDOW_MAX ||
		    (f->type == FRAME_CREDIT && f->value == 0))
			return frame_fail(d, "%s frame with window %lu",
			    frame_type_name(f->type), (unsigned long)f->value);
		break;
	case FRAME_REFUSE:
	case FRAME_CLOSE:
		f->reason = p[0];
		break;
	case FRAME_PING:
	case FRAME_PONG:
		memcpy(f->ping, p, FRAME_PING_LEN);
		break;
	}
	return FRAME_EV_FRAME;
}

enum frame_ev
frame_dec_feed(struct frame_dec *d, const uint8_t *in, size_t len,
    size_t *used, const uint8_t **data, size_t *datalen)
{
	size_t n, want, off = 0;
	enum frame_ev ev;

	*used = 0;
	for (;;) {
		switch (d->state) {
		case FRAME_ST_ERR:
			return FRAME_EV_ERROR;
		case FRAME_ST_DATA:
			if (off == len)
				goto more;
			n = len - off < d->left ? len - off : d->left;
			*data = in + off;
			*datalen = n;
			d->left -= (uint32_t)n;
			if (d->left == 0)
				d->state = FRAME_ST_HDR;
			*used = off + n;
			return FRAME_EV_DATA;
		case FRAME_ST_HDR:
		case FRAME_ST_CTL:
			want = d->state == FRAME_ST_HDR ? FRAME_HDR_LEN :
			    FRAME_HDR_LEN + d->f.len;
			n = want - d->have;
			if (n > len - off)
				n = len - off;
			memcpy(d->buf + d->have, in + off, n);
			d->have += n;
			off += n;
			if (d->have < want)
				goto more;
			*used = off;
			if (d->state == FRAME_ST_CTL) {
				d->state = FRAME_ST_HDR;
				d->have = 0;
				return frame_check_ctl(d);
			}
			if ((ev = frame_check_hdr(d)) != FRAME_EV_NONE)
				return ev;
			if (d->f.type == FRAME_DATA) {
				d->state = FRAME_ST_DATA;
				d->left = d->f.len;
				d->have = 0;
				return FRAME_EV_FRAME;
			}
			if (d->f.len == 0) {
				d->have = 0;
				return frame_check_ctl(d);
			}
			d->state = FRAME_ST_CTL;
			break;
		}
	}
more:
	*used = len;
	return FRAME_EV_NONE;
}

uint32_t
frame_dec_left(const struct frame_dec *d)
{
	return d->state == FRAME_ST_DATA ? d->left : 0;
}

int
frame_dec_at_boundary(const struct frame_dec *d)
{
	return d->state == FRAME_ST_HDR && d->have == 0;
}

void
frame_dec_skip(struct frame_dec *d, uint32_t n)
{
	if (d->state != FRAME_ST_DATA || n > d->left)
		return;
	d->left -= n;
	if (d->left == 0)
		d->state = FRAME_ST_HDR;
}
