#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/defdisk.h"
#include "json/json.h"

#define DEFDISK_HOPS 8		/* -blockdev nodes followed, at most */
#define DEFDISK_NODES 256	/* JSON values in one -blockdev */
#define DEFDISK_INDEX_MAX 256	/* -drive index= we follow */

/* Value of key= in a key=value,... option string, "" if absent. */
static void
defdisk_kv(const char *v, const char *key, char *buf, size_t len)
{
	size_t k = strlen(key);
	const char *p;

	buf[0] = '\0';
	for (p = v; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + k + 1, ","),
			    p + k + 1);
			return;
		}
}

/* The same for a -blockdev, key=value or JSON; key may be dotted. */
static void
defdisk_opt(const char *v, const char *key, char *buf, size_t len)
{
	static struct json_node nodes[DEFDISK_NODES];
	struct json_doc doc;
	int n;

	if (v[0] != '{') {
		defdisk_kv(v, key, buf, len);
		return;
	}
	buf[0] = '\0';
	if (json_parse(&doc, v, strlen(v), nodes, DEFDISK_NODES, NULL, 0) < 0)
		return;
	n = json_path(&doc, 0, key);
	if (n < 0 || json_string(&doc, n, buf, len) < 0)
		buf[0] = '\0';
}

/* The -drive at argv[at]'s if=, "ide" when absent (a pc machine's). */
static void
defdisk_itf(const struct def *df, int at, char *buf, size_t len)
{
	defdisk_kv(df->argv[at + 1], "if", buf, len);
	if (buf[0] == '\0')
		snprintf(buf, len, "ide");
}

/*
 * The name QEMU gives the -drive at argv[at] when it has no id=, or ""
 * (if=none needs one).  Its index is index=, else, as QEMU counts, the
 * first one that no earlier drive of the same interface holds.
 */
static void
defdisk_auto_id(const struct def *df, int at, char *buf, size_t len)
{
	unsigned char used[DEFDISK_INDEX_MAX] = { 0 };
	char itf[16], o_itf[16], media[16], idx[16];
	int i, n = -1;

	buf[0] = '\0';
	defdisk_itf(df, at, itf, sizeof(itf));
	for (i = 0; i <= at && i + 1 < df->argc; i++) {
		if (strcmp(df->argv[i], "-drive") != 0)
			continue;
		defdisk_itf(df, i, o_itf, sizeof(o_itf));
		if (strcmp(o_itf, itf) != 0)
			continue;
		defdisk_kv(df->argv[i + 1], "index", idx, sizeof(idx));
		if (idx[0]) {
			n = atoi(idx);
			if (n < 0 || n >= DEFDISK_INDEX_MAX)
				return;
		} else {
			for (n = 0; n < DEFDISK_INDEX_MAX && used[n]; n++)
				;
			if (n == DEFDISK_INDEX_MAX)
				return;
		}
		used[n] = 1;
	}
	defdisk_kv(df->argv[at + 1], "media", media, sizeof(media));
	if (strcmp(itf, "ide") == 0)
		snprintf(buf, len, "ide%d-%s%d", n / 2,
		    strcmp(media, "cdrom") == 0 ? "cd" : "hd", n % 2);
	else if (strcmp(itf, "virtio") == 0)
		snprintf(buf, len, "virtio%d", n);
}

/* Format drivers and filters: a filter's node is not the format. */
static int
defdisk_is_filter(const char *driver)
{
	return strcmp(driver, "throttle") == 0 ||
	    strcmp(driver, "copy-on-read") == 0 ||
	    strcmp(driver, "preallocate") == 0 ||
	    strcmp(driver, "compress") == 0;
}

int
defdisk_file(const struct def *df, const char *id, char *path,
    size_t len, char *fmt, size_t fmtlen)
{
	char node[128], val[128], ref[128], drv[64];
	int i, hops;

	snprintf(node, sizeof(node), "%s", id);
	fmt[0] = '\0';
	for (i = 0; i + 1 < df->argc; i++) {
		if (strcmp(df->argv[i], "-device") != 0)
			continue;
		defdisk_kv(df->argv[i + 1], "id", val, sizeof(val));
		if (strcmp(val, id) != 0)
			continue;
		defdisk_kv(df->argv[i + 1], "drive", val, sizeof(val));
		if (val[0])
			snprintf(node, sizeof(node), "%s", val);
	}
	for (i = 0; i + 1 < df->argc; i++) {
		if (strcmp(df->argv[i], "-drive") != 0)
			continue;
		defdisk_kv(df->argv[i + 1], "id", val, sizeof(val));
		if (val[0] == '\0')
			defdisk_auto_id(df, i, val, sizeof(val));
		if (strcmp(val, node) != 0)
			continue;
		defdisk_kv(df->argv[i + 1], "file", path, len);
		defdisk_kv(df->argv[i + 1], "format", fmt, fmtlen);
		return path[0] ? 0 : -1;
	}
	for (hops = 0; hops < DEFDISK_HOPS; hops++) {
		for (i = 0; i + 1 < df->argc; i++) {
			const char *v = df->argv[i + 1];

			if (strcmp(df->argv[i], "-blockdev") != 0)
				continue;
			defdisk_opt(v, "node-name", val, sizeof(val));
			if (strcmp(val, node) == 0)
				break;
		}
		if (i + 1 >= df->argc)
			return -1;
		defdisk_opt(df->argv[i + 1], "driver", drv, sizeof(drv));
		/* A format node with its file inline. */
		defdisk_opt(df->argv[i + 1], "file.filename", path, len);
		if (path[0]) {
			snprintf(fmt, fmtlen, "%s", drv);
			return 0;
		}
		/* A protocol node: the format is the node's above. */
		defdisk_opt(df->argv[i + 1], "filename", path, len);
		if (path[0])
			return 0;
		if (!defdisk_is_filter(drv))
			snprintf(fmt, fmtlen, "%s", drv);
		defdisk_opt(df->argv[i + 1], "file", ref, sizeof(ref));
		if (!ref[0])
			return -1;
		snprintf(node, sizeof(node), "%s", ref);
	}
	return -1;
}
