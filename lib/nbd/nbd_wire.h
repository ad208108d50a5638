#ifndef MIG_NBD_WIRE_H
#define MIG_NBD_WIRE_H
/*
 * The NBD protocol on the wire (NetworkBlockDevice doc/proto.md): magics,
 * option and reply codes, flags and the fixed-size messages, in one place.
 * Every field is big-endian.  The structs document the layouts and give
 * their sizes; code reads and writes the bytes with the nbd_wire_get and
 * nbd_wire_put helpers below, never by casting a buffer to a struct.
 */
#include <stddef.h>
#include <stdint.h>

/* Magics. */
#define NBD_MAGIC			UINT64_C(0x4e42444d41474943) /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC			UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_OLD_VERSION			UINT64_C(0x0000420281861253) /* oldstyle */
#define NBD_REP_MAGIC			UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC		UINT32_C(0x25609513)
#define NBD_EXTENDED_REQUEST_MAGIC	UINT32_C(0x21e41c71)
#define NBD_SIMPLE_REPLY_MAGIC		UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC	UINT32_C(0x668e33ef)
#define NBD_EXTENDED_REPLY_MAGIC	UINT32_C(0x6e8a278c)

/* Handshake flags, 16 bits, server to client. */
#define NBD_FLAG_FIXED_NEWSTYLE		(1u << 0)
#define NBD_FLAG_NO_ZEROES		(1u << 1)

/* Client flags, 32 bits, client to server. */
#define NBD_FLAG_C_FIXED_NEWSTYLE	(1u << 0)
#define NBD_FLAG_C_NO_ZEROES		(1u << 1)

/* Transmission flags, 16 bits, per export. */
#define NBD_FLAG_HAS_FLAGS		(1u << 0)
#define NBD_FLAG_READ_ONLY		(1u << 1)
#define NBD_FLAG_SEND_FLUSH		(1u << 2)
#define NBD_FLAG_SEND_FUA		(1u << 3)
#define NBD_FLAG_ROTATIONAL		(1u << 4)
#define NBD_FLAG_SEND_TRIM		(1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES	(1u << 6)
#define NBD_FLAG_SEND_DF		(1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN		(1u << 8)
#define NBD_FLAG_SEND_RESIZE		(1u << 9)
#define NBD_FLAG_SEND_CACHE		(1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO		(1u << 11)
#define NBD_FLAG_BLOCK_STAT_PAYLOAD	(1u << 12)

/* Options (NBD_OPT_*), 32 bits. */
#define NBD_OPT_EXPORT_NAME		1u
#define NBD_OPT_ABORT			2u
#define NBD_OPT_LIST			3u
#define NBD_OPT_PEEK_EXPORT		4u	/* withdrawn */
#define NBD_OPT_STARTTLS		5u
#define NBD_OPT_INFO			6u
#define NBD_OPT_GO			7u
#define NBD_OPT_STRUCTURED_REPLY	8u
#define NBD_OPT_LIST_META_CONTEXT	9u
#define NBD_OPT_SET_META_CONTEXT	10u
#define NBD_OPT_EXTENDED_HEADERS	11u

/* Option reply types, 32 bits; errors have bit 31 set. */
#define NBD_REP_ACK			1u
#define NBD_REP_SERVER			2u
#define NBD_REP_INFO			3u
#define NBD_REP_META_CONTEXT		4u
#define NBD_REP_ERR(n)			(UINT32_C(0x80000000) | (n))
#define NBD_REP_IS_ERR(t)		(((t) & UINT32_C(0x80000000)) != 0)
#define NBD_REP_ERR_UNSUP		NBD_REP_ERR(1u)
#define NBD_REP_ERR_POLICY		NBD_REP_ERR(2u)
#define NBD_REP_ERR_INVALID		NBD_REP_ERR(3u)
#define NBD_REP_ERR_PLATFORM		NBD_REP_ERR(4u)
#define NBD_REP_ERR_TLS_REQD		NBD_REP_ERR(5u)
#define NBD_REP_ERR_UNKNOWN		NBD_REP_ERR(6u)
#define NBD_REP_ERR_SHUTDOWN		NBD_REP_ERR(7u)
#define NBD_REP_ERR_BLOCK_SIZE_REQD	NBD_REP_ERR(8u)
#define NBD_REP_ERR_TOO_BIG		NBD_REP_ERR(9u)
#define NBD_REP_ERR_EXT_HEADER_REQD	NBD_REP_ERR(10u)

/* Information types (NBD_OPT_INFO/GO requests, NBD_REP_INFO), 16 bits. */
#define NBD_INFO_EXPORT			0u
#define NBD_INFO_NAME			1u
#define NBD_INFO_DESCRIPTION		2u
#define NBD_INFO_BLOCK_SIZE		3u

/* Commands (transmission phase), 16 bits. */
#define NBD_CMD_READ			0u
#define NBD_CMD_WRITE			1u
#define NBD_CMD_DISC			2u
#define NBD_CMD_FLUSH			3u
#define NBD_CMD_TRIM			4u
#define NBD_CMD_CACHE			5u
#define NBD_CMD_WRITE_ZEROES		6u
#define NBD_CMD_BLOCK_STATUS		7u
#define NBD_CMD_RESIZE			8u

/* Command flags, 16 bits. */
#define NBD_CMD_FLAG_FUA		(1u << 0)
#define NBD_CMD_FLAG_NO_HOLE		(1u << 1)
#define NBD_CMD_FLAG_DF			(1u << 2)
#define NBD_CMD_FLAG_REQ_ONE		(1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO		(1u << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN	(1u << 5)

/* Structured reply flags and chunk types, 16 bits; errors have bit 15. */
#define NBD_REPLY_FLAG_DONE		(1u << 0)
#define NBD_REPLY_TYPE_NONE		0u
#define NBD_REPLY_TYPE_OFFSET_DATA	1u
#define NBD_REPLY_TYPE_OFFSET_HOLE	2u
#define NBD_REPLY_TYPE_BLOCK_STATUS	5u
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT	6u
#define NBD_REPLY_TYPE_ERR(n)		((1u << 15) | (n))
#define NBD_REPLY_TYPE_ERROR		NBD_REPLY_TYPE_ERR(1u)
#define NBD_REPLY_TYPE_ERROR_OFFSET	NBD_REPLY_TYPE_ERR(2u)

/* Error values in replies (not the host's errno values). */
#define NBD_EPERM			1u
#define NBD_EIO				5u
#define NBD_ENOMEM			12u
#define NBD_EINVAL			22u
#define NBD_ENOSPC			28u
#define NBD_EOVERFLOW			75u
#define NBD_ENOTSUP			95u
#define NBD_ESHUTDOWN			108u

/* base:allocation states. */
#define NBD_STATE_HOLE			(1u << 0)
#define NBD_STATE_ZERO			(1u << 1)

/* Strings (names, messages) are at most this long on the wire. */
#define NBD_MAX_STRING			4096u

#define NBD_WIRE_PACKED __attribute__((packed))

/* Server greeting of newstyle negotiation. */
struct nbd_wire_greeting {
	uint64_t magic;		/* NBD_MAGIC */
	uint64_t version;	/* NBD_OPTS_MAGIC (NBD_OLD_VERSION: oldstyle) */
	uint16_t hflags;	/* NBD_FLAG_FIXED_NEWSTYLE... */
} NBD_WIRE_PACKED;

/* Client's option header, followed by 'len' bytes of data. */
struct nbd_wire_option {
	uint64_t magic;		/* NBD_OPTS_MAGIC */
	uint32_t option;	/* NBD_OPT_* */
	uint32_t len;
} NBD_WIRE_PACKED;

/* Server's option reply header, followed by 'len' bytes of data. */
struct nbd_wire_option_reply {
	uint64_t magic;		/* NBD_REP_MAGIC */
	uint32_t option;	/* the option replied to */
	uint32_t reply;		/* NBD_REP_* */
	uint32_t len;
} NBD_WIRE_PACKED;

/* NBD_REP_INFO payload for NBD_INFO_EXPORT. */
struct nbd_wire_info_export {
	uint16_t info;		/* NBD_INFO_EXPORT */
	uint64_t size;
	uint16_t tflags;	/* NBD_FLAG_HAS_FLAGS... */
} NBD_WIRE_PACKED;

/* NBD_REP_INFO payload for NBD_INFO_BLOCK_SIZE. */
struct nbd_wire_info_block_size {
	uint16_t info;		/* NBD_INFO_BLOCK_SIZE */
	uint32_t minimum;
	uint32_t preferred;
	uint32_t maximum;
} NBD_WIRE_PACKED;

/* Reply to NBD_OPT_EXPORT_NAME (124 zero bytes follow without NO_ZEROES). */
struct nbd_wire_export_name_reply {
	uint64_t size;
	uint16_t tflags;
} NBD_WIRE_PACKED;

/* Transmission request, compact form. */
struct nbd_wire_request {
	uint32_t magic;		/* NBD_REQUEST_MAGIC */
	uint16_t flags;		/* NBD_CMD_FLAG_* */
	uint16_t type;		/* NBD_CMD_* */
	uint64_t cookie;
	uint64_t offset;
	uint32_t count;
} NBD_WIRE_PACKED;

/* Transmission request with extended headers. */
struct nbd_wire_request_ext {
	uint32_t magic;		/* NBD_EXTENDED_REQUEST_MAGIC */
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint64_t count;
} NBD_WIRE_PACKED;

struct nbd_wire_simple_reply {
	uint32_t magic;		/* NBD_SIMPLE_REPLY_MAGIC */
	uint32_t error;		/* NBD_E* */
	uint64_t cookie;
} NBD_WIRE_PACKED;

struct nbd_wire_structured_reply {
	uint32_t magic;		/* NBD_STRUCTURED_REPLY_MAGIC */
	uint16_t flags;		/* NBD_REPLY_FLAG_* */
	uint16_t type;		/* NBD_REPLY_TYPE_* */
	uint64_t cookie;
	uint32_t len;
} NBD_WIRE_PACKED;

struct nbd_wire_extended_reply {
	uint32_t magic;		/* NBD_EXTENDED_REPLY_MAGIC */
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint64_t len;
} NBD_WIRE_PACKED;

_Static_assert(sizeof(struct nbd_wire_greeting) == 18, "greeting");
_Static_assert(sizeof(struct nbd_wire_option) == 16, "option");
_Static_assert(sizeof(struct nbd_wire_option_reply) == 20, "option reply");
_Static_assert(sizeof(struct nbd_wire_info_export) == 12, "info export");
_Static_assert(sizeof(struct nbd_wire_info_block_size) == 14, "info bsize");
_Static_assert(sizeof(struct nbd_wire_export_name_reply) == 10, "export");
_Static_assert(sizeof(struct nbd_wire_request) == 28, "request");
_Static_assert(sizeof(struct nbd_wire_request_ext) == 32, "request ext");
_Static_assert(sizeof(struct nbd_wire_simple_reply) == 16, "simple reply");
_Static_assert(sizeof(struct nbd_wire_structured_reply) == 20, "structured");
_Static_assert(sizeof(struct nbd_wire_extended_reply) == 32, "extended");

/* Big-endian field access on byte buffers. */
static inline uint16_t
nbd_wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
nbd_wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
nbd_wire_get64(const uint8_t *p)
{
	return (uint64_t)nbd_wire_get32(p) << 32 | nbd_wire_get32(p + 4);
}

static inline uint8_t *
nbd_wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *
nbd_wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *
nbd_wire_put64(uint8_t *p, uint64_t v)
{
	nbd_wire_put32(p, (uint32_t)(v >> 32));
	return nbd_wire_put32(p + 4, (uint32_t)v);
}

#endif
