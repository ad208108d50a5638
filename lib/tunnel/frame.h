#ifndef MIG_TUNNEL_FRAME_H
#define MIG_TUNNEL_FRAME_H
/*
 * mig-tunnel's wire format (doc/tunnel-protocol.md is the spec): the frame
 * constants, an encoder and a decoder.  Neither does I/O nor allocates: the
 * decoder is a state machine fed with whatever bytes arrived, split
 * anywhere, and it hands DATA payload out as pointers into the caller's
 * bytes, so payload is never copied here.
 *
 * Every frame: an 8-byte header, then 'len' bytes of payload.
 *   type u8 | flags u8 (0) | chan u16 | len u32        (big-endian)
 * chan: bit 15 set means the channel was opened by the receiver of the
 * frame; bits 0..14 are the opener's channel number.
 */
#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN		8
#define FRAME_VERSION		1	/* the only version spoken so far */
#define FRAME_MAGIC		"MIGTUNNL"
#define FRAME_HELLO_LEN		16	/* magic 8, vmin 2, vmax 2, data_max 4 */
#define FRAME_NAME_MAX		255	/* channel names: 1..255 bytes 0x21..0x7e */
#define FRAME_CTL_MAX		(4 + FRAME_NAME_MAX)	/* largest non-DATA payload */
#define FRAME_CHANS		1024	/* channel numbers 0..1023 per opener */
#define FRAME_RBIT		0x8000u
#define FRAME_DATA_MIN		4096u	/* smallest data_max a HELLO may announce */
#define FRAME_DATA_LIMIT	(1024u * 1024)	/* largest data_max honoured */
#define FRAME_WINDOW_MAX	(16u * 1024 * 1024)	/* credit a sender may hold */
#define FRAME_PING_LEN		8

enum frame_type {
	FRAME_HELLO = 1,	/* first frame each way: version, data_max */
	FRAME_OPEN,		/* open channel by name, with a window */
	FRAME_ACCEPT,		/* the target is connected; a window back */
	FRAME_REFUSE,		/* no such name / target down; number free */
	FRAME_DATA,		/* payload on a channel, within credit */
	FRAME_CREDIT,		/* the receiver may take this many more bytes */
	FRAME_EOF,		/* half-close: sender sends no more DATA */
	FRAME_CLOSE,		/* sender is done with the channel entirely */
	FRAME_PING,		/* keepalive, answered by PONG */
	FRAME_PONG,
	FRAME_GOODBYE,		/* clean end of the session */
	FRAME_TYPE_MAX = FRAME_GOODBYE
};

/* REFUSE reasons. */
enum {
	FRAME_REFUSE_NAME = 1,		/* no -R for that name */
	FRAME_REFUSE_TARGET = 2,	/* its target cannot be connected */
	FRAME_REFUSE_FULL = 3,		/* too many channels */
};

/* CLOSE reasons: 0 after EOF both ways, anything else aborts. */
enum {
	FRAME_CLOSE_DONE = 0,
	FRAME_CLOSE_LOCAL = 1,		/* the local connection failed */
	FRAME_CLOSE_ABORT = 2,		/* the peer asked (reply to a CLOSE) */
};

/* One decoded (or to-be-encoded) frame; which fields count depends on type. */
struct frame {
	uint8_t type;
	uint8_t rbit;		/* 1: channel opened by this frame's receiver */
	uint16_t num;		/* channel number, < FRAME_CHANS */
	uint32_t len;		/* payload length */
	uint32_t value;		/* OPEN, ACCEPT: window; CREDIT: increment;
				   HELLO: data_max */
	uint16_t vmin, vmax;	/* HELLO */
	uint8_t reason;		/* REFUSE, CLOSE */
	uint8_t namelen;	/* OPEN */
	char name[FRAME_NAME_MAX + 1];	/* OPEN, NUL-terminated */
	uint8_t ping[FRAME_PING_LEN];	/* PING, PONG */
};

/*
 * Encode f into buf (room for FRAME_HDR_LEN + FRAME_CTL_MAX bytes) and
 * return the length.  For DATA only the header is written (f->len is the
 * payload length that the caller puts right after it).  The payload length
 * of other types is derived from their fields; f->len is ignored.
 */
size_t frame_encode(uint8_t *buf, const struct frame *f);

/* Write a DATA header for len bytes on channel (rbit, num) into buf. */
void frame_data_hdr(uint8_t *buf, int rbit, unsigned num, uint32_t len);

/* Nonzero if name (len bytes) is a valid channel name. */
int frame_name_ok(const char *name, size_t len);

enum frame_ev {
	FRAME_EV_NONE = 0,	/* all input used, more needed */
	FRAME_EV_FRAME,		/* d->f is complete (DATA: its header only) */
	FRAME_EV_DATA,		/* *data, *datalen: a piece of DATA payload */
	FRAME_EV_ERROR,		/* malformed: d->err says why; sticky */
};

/* Decoder state: private except f (the last frame) and err. */
struct frame_dec {
	struct frame f;
	char err[96];
	int state;
	int hello_seen;
	uint32_t data_max;
	uint32_t left;		/* payload bytes still to come */
	size_t have;		/* bytes of buf filled */
	uint8_t buf[FRAME_HDR_LEN + FRAME_CTL_MAX];
};

/*
 * Start a decoder that refuses DATA payloads above data_max (what we
 * announce in our HELLO).  The first frame must be HELLO, and only the
 * first.
 */
void frame_dec_init(struct frame_dec *d, uint32_t data_max);

/*
 * Consume input from in[0..len) up to the next event; *used says how much
 * was consumed (also for FRAME_EV_NONE, where it is len).  For
 * FRAME_EV_DATA, *data points into in and *datalen > 0.  Call again with
 * the rest of the input until it returns FRAME_EV_NONE.
 */
enum frame_ev frame_dec_feed(struct frame_dec *d, const uint8_t *in,
    size_t len, size_t *used, const uint8_t **data, size_t *datalen);

/* DATA payload bytes still expected for the current frame (0 between frames). */
uint32_t frame_dec_left(const struct frame_dec *d);

/* Nonzero when the next byte fed starts a header. */
int frame_dec_at_boundary(const struct frame_dec *d);

/*
 * The caller moved n bytes of the current DATA payload past the decoder
 * (spliced them); n <= frame_dec_left().
 */
void frame_dec_skip(struct frame_dec *d, uint32_t n);

/* Human name of a frame type, for messages ("DATA", "type 0x2a"). */
const char *frame_type_name(unsigned type);

#endif
