#include <stdio.h>
#include <string.h>

#include "migrate/disks.h"

/*
 * The user's name for a -blockdev disk's device, from query-block's qdev.
 * QEMU 7.2 gives the bare id when the block backend is attached to the
 * device the user named (scsi-hd, ide-hd: "disk0"), and a QOM path when it
 * is attached to an inner device (virtio-blk:
 * "/machine/peripheral/vd0/virtio-backend"): the user's id is the
 * component after "/machine/peripheral/".  Anonymous devices
 * ("/machine/peripheral-anon/...", "/machine/unattached/...") have no id.
 */
static int
disks_id_from_qdev(const char *qdev, char *id, size_t idlen)
{
	static const char prefix[] = "/machine/peripheral/";
	const char *start, *end;
	size_t len;

	if (qdev[0] != '/')
		start = qdev;
	else if (strncmp(qdev, prefix, sizeof(prefix) - 1) == 0)
		start = qdev + sizeof(prefix) - 1;
	else
		return -1;
	end = strchr(start, '/');
	len = end ? (size_t)(end - start) : strlen(start);
	if (len == 0 || len >= idlen)
		return -1;
	memcpy(id, start, len);
	id[len] = '\0';
	return 0;
}

int
disks_from_query_block(const struct json_doc *doc, int ret,
    struct disk_list *list, char *err, size_t errlen)
{
	char device[DISK_ID_MAX], qdev[256];
	struct disk *d;
	int dev, ins, ro;

	memset(list, 0, sizeof(*list));
	if (json_type(doc, ret) != JSON_ARRAY) {
		snprintf(err, errlen, "query-block did not return an array");
		return -1;
	}
	for (dev = json_first(doc, ret); dev >= 0; dev = json_next(doc, dev)) {
		if (list->n == DISKS_MAX) {
			snprintf(err, errlen, "more than %d disks", DISKS_MAX);
			return -1;
		}
		d = &list->d[list->n];
		memset(d, 0, sizeof(*d));
		if (json_path_string(doc, dev, "qdev", qdev, sizeof(qdev)) < 0)
			qdev[0] = '\0';
		if (json_path_string(doc, dev, "device", device,
		    sizeof(device)) >= 1)
			strcpy(d->id, device);
		else if (qdev[0] != '\0')
			disks_id_from_qdev(qdev, d->id, sizeof(d->id));
		snprintf(d->where, sizeof(d->where), "%.127s", qdev[0] ? qdev :
		    d->id);
		ins = json_get(doc, dev, "inserted");
		if (ins < 0) {
			d->empty = 1;
			if (d->id[0] != '\0')
				list->n++;
			continue;
		}
		if (json_path_string(doc, ins, "node-name", d->node,
		    sizeof(d->node)) < 1 ||
		    json_path_int(doc, ins, "image.virtual-size", &d->size) < 0 ||
		    json_path_bool(doc, ins, "ro", &ro) < 0) {
			snprintf(err, errlen,
			    "query-block: disk '%s' lacks node-name, size or ro",
			    d->id[0] ? d->id : d->where);
			return -1;
		}
		d->read_only = ro;
		/* The image's own format, under any filter (throttle). */
		if (json_path_string(doc, ins, "image.format", d->format,
		    sizeof(d->format)) < 1)
			json_path_string(doc, ins, "drv", d->format,
			    sizeof(d->format));
		/* An anonymous device on a node the user named: the node name
		 * is the only name both sides can share. */
		if (d->id[0] == '\0' && d->node[0] != '#' &&
		    strlen(d->node) < sizeof(d->id))
			strcpy(d->id, d->node);
		if (d->id[0] != '\0' && disks_find(list, d->id) != NULL) {
			snprintf(err, errlen, "two disks are named '%s'", d->id);
			return -1;
		}
		list->n++;
	}
	return 0;
}

const struct disk *
disks_find(const struct disk_list *list, const char *id)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (list->d[i].id[0] != '\0' && strcmp(list->d[i].id, id) == 0)
			return &list->d[i];
	return NULL;
}

const char *
disks_names(const struct disk_list *list, char *buf, size_t len)
{
	size_t i, at = 0;
	int n;

	snprintf(buf, len, "none");
	for (i = 0; i < list->n; i++) {
		if (list->d[i].id[0] == '\0')
			continue;
		n = snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
		    list->d[i].id);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	return buf;
}

static int
disks_add(struct disk_list *out, const struct disk *d, char *err,
    size_t errlen)
{
	if (disks_find(out, d->id) != NULL) {
		snprintf(err, errlen, "disk '%s' is named twice", d->id);
		return -1;
	}
	out->d[out->n++] = *d;
	return 0;
}

int
disks_select(const struct disk_list *all, const char *names,
    struct disk_list *out, char *err, size_t errlen)
{
	char id[DISK_ID_MAX];
	const struct disk *d;
	const char *p, *comma;
	size_t i, len;

	memset(out, 0, sizeof(*out));
	if (names == NULL) {
		for (i = 0; i < all->n; i++) {
			d = &all->d[i];
			if (d->empty || d->read_only)
				continue;
			if (d->id[0] == '\0') {
				snprintf(err, errlen, "the writable disk of "
				    "device %s has no name to copy it by: give "
				    "its -device an id= or its -blockdev a "
				    "node-name", d->where);
				return -1;
			}
			out->d[out->n++] = *d;
		}
		return 0;
	}
	for (p = names;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(id)) {
			snprintf(err, errlen, "bad disk list '%s': %s", names,
			    len ? "an ID is too long" : "empty ID");
			return -1;
		}
		memcpy(id, p, len);
		id[len] = '\0';
		d = disks_find(all, id);
		if (d == NULL) {
			char known[256];

			snprintf(err, errlen, "no disk '%s' in this QEMU (its "
			    "disks: %s)", id, disks_names(all, known,
			    sizeof(known)));
			return -1;
		}
		if (d->empty || d->read_only) {
			snprintf(err, errlen, "disk '%s' is %s", id,
			    d->empty ? "empty" : "read-only");
			return -1;
		}
		if (disks_add(out, d, err, errlen) < 0)
			return -1;
		if (comma == NULL)
			break;
	}
	return 0;
}
