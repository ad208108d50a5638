#ifndef MIG_DISKS_H
#define MIG_DISKS_H
/*
 * The disks of a QEMU, as query-block reports them, and the choice of
 * which to copy.  Pure functions over parsed JSON: no QMP, no I/O.
 *
 * A disk's ID is what users name in --migrate-disks and what the NBD export
 * is called: the -drive id when there is one, else the id of the device
 * the block backend is attached to (-device ...,id=vd0), else the node name
 * the user gave the -blockdev of an anonymous device.  A disk with none of
 * these (an anonymous device on an automatically named node) is listed
 * with an empty ID: it cannot be exported, so choosing it is an error.
 */
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"

#define DISKS_MAX 16
#define DISK_ID_MAX 64
#define DISK_NODE_MAX 128

struct disk {
	char id[DISK_ID_MAX];
	char node[DISK_NODE_MAX];	/* top block node, for mirror/export */
	int64_t size;			/* virtual size in bytes */
	char format[16];		/* the image's format: qcow2, raw, ... */
	int read_only;
	int empty;			/* no medium */
	char where[128];		/* the device as QEMU names it, for
					   messages about a disk with no ID */
};

struct disk_list {
	struct disk d[DISKS_MAX];
	size_t n;
};

/*
 * Fill list from a query-block "return" array (node ret of doc).  Returns
 * 0, or -1 with err if the reply is malformed, has more than DISKS_MAX
 * disks or names two disks alike.
 */
int disks_from_query_block(const struct json_doc *doc, int ret,
    struct disk_list *list, char *err, size_t errlen);

/*
 * Choose the disks to copy.  With names (a comma-separated list from
 * --migrate-disks) every name must be a disk that has a medium and is
 * writable; without (names NULL), the default is libvirt's: every writable
 * disk that has a medium, and a writable disk with no ID is an error (it
 * would be left behind).  The chosen disks are copied to *out.  Returns 0,
 * or -1 with err naming the first bad, duplicate or unknown ID and, for an
 * unknown one, the IDs there are.
 */
int disks_select(const struct disk_list *all, const char *names,
    struct disk_list *out, char *err, size_t errlen);

/* The disk with this ID, or NULL. */
const struct disk *disks_find(const struct disk_list *list, const char *id);

/* "vd0, vd1" (the named disks of list) into buf, "none" if none; buf. */
const char *disks_names(const struct disk_list *list, char *buf, size_t len);

#endif
