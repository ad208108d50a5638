#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "config/apply.h"
#include "config/store.h"
#include "config/table.h"

#define APPLY_GONE_MS 3000	/* the source's QEMU exiting after its quit */

static struct def apply_def;	/* about 200 KB: not on the stack */

/* The config directory (or, if it does not exist yet, the nearest
 * directory above it, where it will be created) can be written. */
static int
apply_writable(const struct store *st, char *err, size_t errlen)
{
	char p[STORE_PATH_MAX];
	struct stat sb;
	char *s;

	snprintf(p, sizeof(p), "%s", st->config_dir);
	while (stat(p, &sb) < 0 && (s = strrchr(p, '/')) != NULL && s != p)
		*s = '\0';
	if (stat(p, &sb) == 0 && !S_ISDIR(sb.st_mode))
		errno = ENOTDIR;
	else if (access(p, W_OK) == 0)
		return 0;
	snprintf(err, errlen, "cannot write the config directory %s: %s",
	    st->config_dir, strerror(errno));
	return -1;
}

int
apply_prepare(const struct apply_opts *a, enum apply_side side,
    struct endpoint *qmp, char *err, size_t errlen)
{
	struct store st;
	char why[600];
	int rc = -1, n;

	if (!a->domain) {
		if (a->config_dir || a->run_dir) {
			snprintf(err, errlen, "%s needs --domain", a->config_dir ?
			    "--config-dir" : "--run-dir");
			return -1;
		}
		if (a->undefinesource || a->persistent) {
			snprintf(err, errlen, "%s needs --domain (the guest's "
			    "definitions are found by its name)",
			    a->persistent ? "--persistent" : "--undefinesource");
			return -1;
		}
		return 0;
	}
	if (!def_name_ok(a->domain, why, sizeof(why))) {
		snprintf(err, errlen, "--domain: %s", why);
		return -1;
	}
	if (store_init(&st, a->config_dir, a->run_dir, err, errlen) < 0 ||
	    store_lock(&st, 1, err, errlen) < 0)
		return -1;
	switch (store_run_state(&st, a->domain, NULL)) {
	case STORE_RUN_LIVE:
		break;
	case STORE_RUN_STALE:
		store_run_clean(&st, a->domain, why, sizeof(why));
		snprintf(err, errlen, "guest '%s' is not running (its QEMU "
		    "died; its stale run state in %s was removed)", a->domain,
		    st.run_dir);
		goto out;
	default:
		snprintf(err, errlen, "guest '%s' is not running (no run state "
		    "in %s)", a->domain, st.run_dir);
		goto out;
	}
	memset(qmp, 0, sizeof(*qmp));
	qmp->kind = ENDPOINT_UNIX;
	if (store_run_path(&st, a->domain, "qmp.sock", qmp->path,
	    sizeof(qmp->path)) < 0) {
		snprintf(err, errlen, "guest '%s': its QMP socket's path is too "
		    "long", a->domain);
		goto out;
	}
	if (side == APPLY_DEST && a->persistent) {
		if (a->source_def == NULL && (n = store_run_def(&st, a->domain,
		    &apply_def, why, sizeof(why))) <= 0) {
			snprintf(err, errlen, "--persistent: guest '%s' has no "
			    "definition to store%s%s", a->domain, n < 0 ?
			    ": " : " (it was not started by mig-config)",
			    n < 0 ? why : "");
			goto out;
		}
		if (apply_writable(&st, err, errlen) < 0)
			goto out;
	}
	if (side == APPLY_SOURCE && a->undefinesource) {
		n = store_get(&st, a->domain, &apply_def, why, sizeof(why));
		if (n < 0) {
			snprintf(err, errlen, "--undefinesource: %s", why);
			goto out;
		}
		if (n > 0 && apply_writable(&st, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	store_unlock(&st);
	return rc;
}

/* The source: its definition removed as the table says, its run state
 * once its QEMU has quit. */
static int
apply_source(const struct apply_opts *a, struct store *st)
{
	struct table_before b = { 0 };
	char err[600];
	int n, i;

	n = store_get(st, a->domain, &apply_def, err, sizeof(err));
	if (n < 0) {
		log_err("the guest migrated, but its definition was not "
		    "removed: %s", err);
		return -1;
	}
	b.src_persistent = n > 0;
	b.undefinesource = a->undefinesource;
	if (b.src_persistent && !table_row(b).src_defined) {
		if (store_remove(st, a->domain, err, sizeof(err)) < 0) {
			log_err("the guest migrated, but its definition was "
			    "not removed: %s", err);
			return -1;
		}
		log_info("removed the definition of '%s' (--undefinesource)",
		    a->domain);
	}
	/* QEMU closed QMP as it exited: its pid lock goes with the process. */
	for (i = 0; !a->source_kept && i < APPLY_GONE_MS / 50; i++) {
		if (store_run_state(st, a->domain, NULL) != STORE_RUN_LIVE) {
			store_run_clean(st, a->domain, err, sizeof(err));
			break;
		}
		usleep(50000);
	}
	return 0;
}

/* The destination: the source's definition stored as the table says. */
static int
apply_dest(const struct apply_opts *a, struct store *st)
{
	struct table_before b = { 0 };
	const struct def *d = a->source_def;
	char err[600];
	int n;

	n = store_get(st, a->domain, &apply_def, err, sizeof(err));
	b.dst_defined = n != 0;
	b.persistent = a->persistent;
	if (table_row(b).dst_def != TABLE_DEF_SOURCE)
		return 0;
	if (d == NULL) {
		if ((n = store_run_def(st, a->domain, &apply_def, err,
		    sizeof(err))) <= 0) {
			log_err("the guest migrated, but it is not persistent: "
			    "%s", n < 0 ? err : "it has no live definition");
			return -1;
		}
		d = &apply_def;
	}
	if (strcmp(d->name, a->domain) != 0) {
		log_err("the guest migrated, but it is not persistent: the "
		    "source's definition is of '%s'", d->name);
		return -1;
	}
	if (store_put(st, d, err, sizeof(err)) < 0) {
		log_err("the guest migrated, but it is not persistent: %s",
		    err);
		return -1;
	}
	log_info("stored the definition of '%s' (--persistent)", a->domain);
	return 0;
}

int
apply_migrated(const struct apply_opts *a, enum apply_side side)
{
	struct store st;
	char err[600];
	int rc;

	if (!a->domain)
		return 0;
	if (store_init(&st, a->config_dir, a->run_dir, err, sizeof(err)) < 0 ||
	    store_lock(&st, 0, err, sizeof(err)) < 0) {
		log_err("the guest migrated, but its definitions were not "
		    "updated: %s", err);
		return -1;
	}
	rc = side == APPLY_SOURCE ? apply_source(a, &st) : apply_dest(a, &st);
	store_unlock(&st);
	return rc;
}
