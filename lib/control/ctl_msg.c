#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "control/ctl_msg.h"

#define CTL_TAG(t) (1u << (t))

/* Which fields each type may carry, by tag. */
static const unsigned ctl_allowed[CTL_TYPE_MAX + 1] = {
	[CTL_PREPARE] = CTL_TAG(CTL_F_NAME) | CTL_TAG(CTL_F_DEF) |
	    CTL_TAG(CTL_F_DISK_ID) | CTL_TAG(CTL_F_DISK_FORMAT) |
	    CTL_TAG(CTL_F_DISK_SIZE) | CTL_TAG(CTL_F_FLAGS) |
	    CTL_TAG(CTL_F_CONNS) | CTL_TAG(CTL_F_MIGRATE_URI) |
	    CTL_TAG(CTL_F_DISKS_URI) | CTL_TAG(CTL_F_DNAME),
	[CTL_ACCEPT] = CTL_TAG(CTL_F_MIGRATE_URI) | CTL_TAG(CTL_F_DISKS_URI),
	[CTL_REFUSE] = CTL_TAG(CTL_F_REASON),
	[CTL_STARTED] = CTL_TAG(CTL_F_FLAGS),
	[CTL_FAILED] = CTL_TAG(CTL_F_FLAGS) | CTL_TAG(CTL_F_REASON),
	[CTL_ABORT] = CTL_TAG(CTL_F_REASON),
};

static const char *const ctl_names[CTL_TYPE_MAX + 1] = {
	[CTL_PREPARE] = "prepare", [CTL_ACCEPT] = "accept",
	[CTL_REFUSE] = "refuse", [CTL_LOADED] = "loaded",
	[CTL_COMMIT] = "commit", [CTL_STARTED] = "started",
	[CTL_FAILED] = "failed", [CTL_ABORT] = "abort", [CTL_BYE] = "bye",
	[CTL_PING] = "ping", [CTL_PONG] = "pong", [CTL_DEFINED] = "defined",
	[CTL_TUNNEL] = "tunnel",
};

const char *
ctl_type_name(int type)
{
	return type > 0 && type <= CTL_TYPE_MAX ? ctl_names[type] : "unknown";
}

void
ctl_msg_init(struct ctl_msg *m, enum ctl_type t)
{
	/* The definition's buffer is large: clear only what marks it. */
	memset(m, 0, offsetof(struct ctl_msg, def));
	m->def[0] = '\0';
	m->type = t;
}

static void
ctl_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
ctl_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The encoder's cursor: once it overflows, every put is a no-op. */
struct ctl_out {
	uint8_t *buf;
	size_t len, at;
	int bad;
};

static void
ctl_field(struct ctl_out *o, int tag, const void *val, size_t n)
{
	if (o->bad || o->len - o->at < CTL_FIELD_HDR_LEN + n) {
		o->bad = 1;
		return;
	}
	o->buf[o->at] = (uint8_t)tag;
	ctl_put32(o->buf + o->at + 1, (uint32_t)n);
	if (n)
		memcpy(o->buf + o->at + CTL_FIELD_HDR_LEN, val, n);
	o->at += CTL_FIELD_HDR_LEN + n;
}

/* A string field, if set; one longer than max (or empty when it may not
 * be) is refused. */
static void
ctl_str(struct ctl_out *o, int tag, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		o->bad = 1;
	else if (n > 0)
		ctl_field(o, tag, s, n);
}

static void
ctl_u32(struct ctl_out *o, int tag, uint32_t v)
{
	uint8_t b[4];

	ctl_put32(b, v);
	ctl_field(o, tag, b, 4);
}

long
ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t len)
{
	struct ctl_out o = { buf, len, CTL_HDR_LEN, 0 };
	char reason[CTL_REASON_MAX + 1];
	uint8_t b[8];
	size_t i, j;

	if (len < CTL_HDR_LEN || m->type < 1 || m->type > CTL_TYPE_MAX)
		return -1;
	switch (m->type) {
	case CTL_PREPARE:
		if (m->name[0] == '\0')
			return -1;
		ctl_str(&o, CTL_F_NAME, m->name, CTL_NAME_MAX);
		if (m->has_def) {
			if (m->deflen > CTL_DEF_MAX ||
			    memchr(m->def, '\0', m->deflen) != NULL)
				return -1;
			ctl_field(&o, CTL_F_DEF, m->def, m->deflen);
		}
		if (m->ndisks > CTL_DISKS_MAX)
			return -1;
		for (i = 0; i < m->ndisks; i++) {
			const struct ctl_disk *d = &m->disk[i];

			if (d->id[0] == '\0' || d->format[0] == '\0' ||
			    d->size > INT64_MAX)
				return -1;
			ctl_str(&o, CTL_F_DISK_ID, d->id, CTL_ID_MAX);
			ctl_str(&o, CTL_F_DISK_FORMAT, d->format,
			    CTL_FORMAT_MAX);
			for (j = 0; j < 8; j++)
				b[j] = (uint8_t)(d->size >> (56 - 8 * j));
			ctl_field(&o, CTL_F_DISK_SIZE, b, 8);
		}
		ctl_u32(&o, CTL_F_FLAGS, m->flags & CTL_FL_ALL);
		if (m->conns) {
			if (m->conns > CTL_CONNS_MAX)
				return -1;
			ctl_u32(&o, CTL_F_CONNS, m->conns);
		}
		ctl_str(&o, CTL_F_MIGRATE_URI, m->migrate_uri, CTL_URI_MAX);
		ctl_str(&o, CTL_F_DISKS_URI, m->disks_uri, CTL_URI_MAX);
		ctl_str(&o, CTL_F_DNAME, m->dname, CTL_NAME_MAX);
		break;
	case CTL_ACCEPT:
		ctl_str(&o, CTL_F_MIGRATE_URI, m->migrate_uri, CTL_URI_MAX);
		ctl_str(&o, CTL_F_DISKS_URI, m->disks_uri, CTL_URI_MAX);
		break;
	case CTL_STARTED:
		ctl_u32(&o, CTL_F_FLAGS, m->flags & CTL_FL_ALL);
		break;
	case CTL_FAILED:
		ctl_u32(&o, CTL_F_FLAGS, m->flags & CTL_FL_ALL);
		/* fall through */
	case CTL_REFUSE:
	case CTL_ABORT:
		/* People's text: cut, and made inert. */
		for (i = 0; i < CTL_REASON_MAX && m->reason[i]; i++)
			reason[i] = (unsigned char)m->reason[i] < 0x20 ||
			    m->reason[i] == 0x7f ? '?' : m->reason[i];
		ctl_field(&o, CTL_F_REASON, reason, i);
		break;
	default:
		break;
	}
	if (o.bad || o.at - CTL_HDR_LEN > CTL_BODY_MAX)
		return -1;
	buf[0] = CTL_MAGIC0;
	buf[1] = CTL_MAGIC1;
	buf[2] = CTL_VERSION;
	buf[3] = (uint8_t)m->type;
	ctl_put32(buf + 4, (uint32_t)(o.at - CTL_HDR_LEN));
	return (long)o.at;
}

/* Copy a string field: bytes min..max, none of them NUL. */
static int
ctl_get_str(char *dst, const uint8_t *v, size_t n, size_t min, size_t max)
{
	if (n < min || n > max || memchr(v, '\0', n) != NULL)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static long
ctl_parse_frame(const uint8_t *buf, size_t len, struct ctl_msg *m, char *err,
    size_t errlen)
{
	unsigned seen = 0, tag;
	size_t body, at, n, i;
	const uint8_t *v;
	int type, need_fmt = 0, need_size = 0;
	uint64_t size;

	if (len >= 1 && buf[0] != CTL_MAGIC0)
		goto bad_magic;
	if (len >= 2 && buf[1] != CTL_MAGIC1)
		goto bad_magic;
	if (len >= 3 && buf[2] != CTL_VERSION) {
		snprintf(err, errlen, "control protocol version %u, not %u: "
		    "the other side's mig is not compatible", buf[2],
		    CTL_VERSION);
		return -1;
	}
	if (len >= 4 && (buf[3] < 1 || buf[3] > CTL_TYPE_MAX)) {
		snprintf(err, errlen, "control message of unknown type %u",
		    buf[3]);
		return -1;
	}
	if (len < CTL_HDR_LEN)
		return 0;
	type = buf[3];
	body = ctl_get32(buf + 4);
	if (body > CTL_BODY_MAX) {
		snprintf(err, errlen, "control message '%s' of %zu bytes, more "
		    "than %u", ctl_type_name(type), body, CTL_BODY_MAX);
		return -1;
	}
	if (len - CTL_HDR_LEN < body)
		return 0;
	ctl_msg_init(m, (enum ctl_type)type);
	for (at = CTL_HDR_LEN; at < CTL_HDR_LEN + body; at += n) {
		if (CTL_HDR_LEN + body - at < CTL_FIELD_HDR_LEN) {
			snprintf(err, errlen, "control message '%s': a field "
			    "header is cut short", ctl_type_name(type));
			return -1;
		}
		tag = buf[at];
		n = ctl_get32(buf + at + 1);
		at += CTL_FIELD_HDR_LEN;
		if (n > CTL_HDR_LEN + body - at) {
			snprintf(err, errlen, "control message '%s': field %u "
			    "runs past the message's end", ctl_type_name(type),
			    tag);
			return -1;
		}
		v = buf + at;
		if (tag > 31 || !(ctl_allowed[type] & CTL_TAG(tag))) {
			snprintf(err, errlen, "control message '%s' may not "
			    "carry field %u", ctl_type_name(type), tag);
			return -1;
		}
		/* Every field once, but the disks' (in order, per disk). */
		if (tag != CTL_F_DISK_ID && (seen & CTL_TAG(tag)) &&
		    !(tag == CTL_F_DISK_FORMAT && need_fmt) &&
		    !(tag == CTL_F_DISK_SIZE && need_size)) {
			snprintf(err, errlen, "control message '%s': field %u "
			    "repeated", ctl_type_name(type), tag);
			return -1;
		}
		seen |= CTL_TAG(tag);
		switch (tag) {
		case CTL_F_NAME:
			if (ctl_get_str(m->name, v, n, 1, CTL_NAME_MAX) < 0)
				goto bad_field;
			break;
		case CTL_F_DNAME:
			if (ctl_get_str(m->dname, v, n, 1, CTL_NAME_MAX) < 0)
				goto bad_field;
			break;
		case CTL_F_DEF:
			if (ctl_get_str(m->def, v, n, 0, CTL_DEF_MAX) < 0)
				goto bad_field;
			m->deflen = n;
			m->has_def = 1;
			break;
		case CTL_F_DISK_ID:
			if (need_fmt || need_size ||
			    m->ndisks == CTL_DISKS_MAX ||
			    ctl_get_str(m->disk[m->ndisks].id, v, n, 1,
			    CTL_ID_MAX) < 0)
				goto bad_field;
			m->ndisks++;
			need_fmt = need_size = 1;
			break;
		case CTL_F_DISK_FORMAT:
			if (!need_fmt || ctl_get_str(m->disk[m->ndisks - 1].
			    format, v, n, 1, CTL_FORMAT_MAX) < 0)
				goto bad_field;
			need_fmt = 0;
			break;
		case CTL_F_DISK_SIZE:
			if (need_fmt || !need_size || n != 8)
				goto bad_field;
			for (size = 0, i = 0; i < 8; i++)
				size = size << 8 | v[i];
			if (size > INT64_MAX)
				goto bad_field;
			m->disk[m->ndisks - 1].size = size;
			need_size = 0;
			break;
		case CTL_F_FLAGS:
			if (n != 4 || (ctl_get32(v) & ~(uint32_t)CTL_FL_ALL))
				goto bad_field;
			m->flags = ctl_get32(v);
			break;
		case CTL_F_CONNS:
			if (n != 4 || ctl_get32(v) < 1 ||
			    ctl_get32(v) > CTL_CONNS_MAX)
				goto bad_field;
			m->conns = ctl_get32(v);
			break;
		case CTL_F_MIGRATE_URI:
			if (ctl_get_str(m->migrate_uri, v, n, 1,
			    CTL_URI_MAX) < 0)
				goto bad_field;
			break;
		case CTL_F_DISKS_URI:
			if (ctl_get_str(m->disks_uri, v, n, 1, CTL_URI_MAX) < 0)
				goto bad_field;
			break;
		case CTL_F_REASON:
			if (n > CTL_REASON_MAX)
				goto bad_field;
			/* Made inert here too: the peer may be hostile. */
			for (i = 0; i < n; i++)
				m->reason[i] = v[i] < 0x20 || v[i] >= 0x7f ?
				    '?' : (char)v[i];
			m->reason[n] = '\0';
			break;
		}
		continue;
bad_field:
		snprintf(err, errlen, "control message '%s': field %u (%zu "
		    "bytes) is out of bounds or out of place",
		    ctl_type_name(type), tag, n);
		return -1;
	}
	if (need_fmt || need_size) {
		snprintf(err, errlen, "control message '%s': disk '%s' has no "
		    "%s", ctl_type_name(type), m->disk[m->ndisks - 1].id,
		    need_fmt ? "format" : "size");
		return -1;
	}
	if (type == CTL_PREPARE && m->name[0] == '\0') {
		snprintf(err, errlen, "control message 'prepare' names no "
		    "guest");
		return -1;
	}
	return (long)(CTL_HDR_LEN + body);
bad_magic:
	snprintf(err, errlen, "not a mig control connection (bad magic)");
	return -1;
}

long
ctl_parse(const uint8_t *buf, size_t len, struct ctl_msg *m, char *err,
    size_t errlen)
{
	long n = ctl_parse_frame(buf, len, m, err, errlen);
	char *p;

	/* The line may quote the peer's bytes: one printable line. */
	if (n < 0)
		for (p = err; errlen > 0 && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return n;
}
