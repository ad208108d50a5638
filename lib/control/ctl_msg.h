#ifndef MIG_CTL_MSG_H
#define MIG_CTL_MSG_H
/*
 * Control protocol messages (doc/control-protocol.md): encoding and
 * parsing, with no I/O.  A frame is an 8-byte header and a body of
 * fields (tag, length, value); every length is bounded by ctl_wire.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "control/ctl_wire.h"

struct ctl_disk {
	char id[CTL_ID_MAX + 1];
	char format[CTL_FORMAT_MAX + 1];
	uint64_t size;
};

/* One message; strings are NUL-terminated, empty when absent. */
struct ctl_msg {
	enum ctl_type type;
	uint32_t flags;
	uint32_t conns;			/* 0 when absent */
	char name[CTL_NAME_MAX + 1];
	char dname[CTL_NAME_MAX + 1];
	char migrate_uri[CTL_URI_MAX + 1];
	char disks_uri[CTL_URI_MAX + 1];
	char reason[CTL_REASON_MAX + 1];
	size_t ndisks;
	struct ctl_disk disk[CTL_DISKS_MAX];
	int has_def;
	size_t deflen;
	char def[CTL_DEF_MAX + 1];
};

/* "prepare", "accept", ... or "unknown". */
const char *ctl_type_name(int type);

/* An empty message of type t. */
void ctl_msg_init(struct ctl_msg *m, enum ctl_type t);

/*
 * Encode m as one frame into buf.  Only the fields that are set (and
 * that t may carry) are written; a reason is cut to CTL_REASON_MAX with
 * control characters sent as '?'.  Returns the frame's length, or -1 if
 * buf is too small or a field breaks its bound (an over-long name, a
 * definition holding a NUL).
 */
long ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t len);

/*
 * Parse the bytes received so far, buf[0..len).  Returns the length of
 * the first frame once it is whole, with *m filled; 0 if more bytes are
 * needed (the header alone is checked as soon as it is there, so a
 * hostile length is refused before its body is awaited); -1 with one
 * printable line in err if this is not a valid frame: bad magic or
 * version, unknown type or tag, a field out of bounds or repeated, a
 * field the type does not carry, a disk without format or size, a
 * request without name.
 */
long ctl_parse(const uint8_t *buf, size_t len, struct ctl_msg *m, char *err,
    size_t errlen);

#endif
