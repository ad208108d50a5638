#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "config/launch.h"
#include "config/store.h"
#include "config/verbs.h"
#include "json/jsonw.h"

#define VERBS_LIST_MAX 1024	/* guests one list shows */

static struct def verbs_def;	/* about 200 KB each: not on the stack */
static struct def verbs_def2;

static int
verbs_store(const struct verbs_opts *o, struct store *st, int optional)
{
	char err[600];

	if (store_init(st, o->config_dir, o->run_dir, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return VERBS_USAGE;
	}
	if (store_lock(st, optional, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return VERBS_FAILED;
	}
	return VERBS_OK;
}

/* A definition from file ("-": standard input), checked, into d. */
static int
verbs_read(const char *file, struct def *d)
{
	static char buf[DEF_MAX + 1];
	char err[600], bin[4096];
	size_t got = 0;
	ssize_t n;
	long len;

	if (strcmp(file, "-") == 0) {
		while (got <= DEF_MAX && (n = read(0, buf + got,
		    DEF_MAX + 1 - got)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				log_err("standard input: %s", strerror(errno));
				return VERBS_USAGE;
			}
			got += (size_t)n;
		}
		len = got > DEF_MAX ? (errno = EFBIG, -1) : (long)got;
	} else {
		len = store_read_file(file, buf, DEF_MAX);
	}
	if (len < 0) {
		log_err("%s: %s", file, errno == EFBIG ? "longer than a "
		    "definition may be" : strerror(errno));
		return VERBS_USAGE;
	}
	if (def_parse(d, buf, (size_t)len, err, sizeof(err)) < 0) {
		log_err("%s: %s", file, err);
		return VERBS_USAGE;
	}
	if (launch_binary(d->qemu, bin, sizeof(bin), err, sizeof(err)) < 0) {
		log_err("%s: %s", file, err);
		return VERBS_USAGE;
	}
	return VERBS_OK;
}

static int
verbs_name(const char *name)
{
	char err[200];

	if (def_name_ok(name, err, sizeof(err)))
		return VERBS_OK;
	log_err("%s", err);
	return VERBS_USAGE;
}

/*
 * The guest's run state: STORE_RUN_LIVE with *pid, STORE_RUN_NONE, or
 * STORE_RUN_STALE once a dead QEMU's left-overs are removed (a warning
 * says so unless quiet).
 */
static enum store_run
verbs_state(const struct store *st, const char *name, pid_t *pid, int quiet)
{
	enum store_run r = store_run_state(st, name, pid);
	char err[600];

	if (r != STORE_RUN_STALE)
		return r;
	if (store_run_clean(st, name, err, sizeof(err)) < 0)
		log_warn("guest '%s': its QEMU died; %s", name, err);
	else if (!quiet)
		log_warn("guest '%s': its QEMU died; removed its stale run "
		    "state", name);
	return STORE_RUN_STALE;
}

static enum store_run
verbs_running(const struct store *st, const char *name, pid_t *pid)
{
	return verbs_state(st, name, pid, 0);
}

int
verbs_define(const struct verbs_opts *o, const char *file)
{
	struct store st;
	char err[600];
	int rc;

	if ((rc = verbs_read(file, &verbs_def)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 0)) != VERBS_OK)
		return rc;
	if (store_put(&st, &verbs_def, err, sizeof(err)) < 0) {
		log_err("%s", err);
		store_unlock(&st);
		return VERBS_FAILED;
	}
	printf("guest '%s' defined%s\n", verbs_def.name,
	    verbs_running(&st, verbs_def.name, NULL) == STORE_RUN_LIVE ?
	    " (it runs on its live definition until started again)" : "");
	store_unlock(&st);
	return VERBS_OK;
}

int
verbs_undefine(const struct verbs_opts *o, const char *name)
{
	struct store st;
	char err[600];
	int rc;

	if ((rc = verbs_name(name)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 0)) != VERBS_OK)
		return rc;
	rc = store_remove(&st, name, err, sizeof(err));
	if (rc <= 0) {
		if (rc == 0)
			log_err("guest '%s' has no stored definition in %s",
			    name, st.config_dir);
		else
			log_err("%s", err);
		store_unlock(&st);
		return rc == 0 ? VERBS_USAGE : VERBS_FAILED;
	}
	printf("guest '%s' undefined%s\n", name,
	    verbs_running(&st, name, NULL) == STORE_RUN_LIVE ?
	    " (it keeps running, now transient)" : "");
	store_unlock(&st);
	return VERBS_OK;
}

int
verbs_list(const struct verbs_opts *o)
{
	static char names[VERBS_LIST_MAX][DEF_NAME_MAX + 1];
	char err[600], buf[2048], qmp[STORE_PATH_MAX + 80];
	struct launch_status ls;
	struct store st;
	struct jsonw w;
	int n, i, rc, first = 1, persistent, running;
	pid_t pid = 0;

	if ((rc = verbs_store(o, &st, 1)) != VERBS_OK)
		return rc;
	if ((n = store_names(&st, names, VERBS_LIST_MAX, err,
	    sizeof(err))) < 0) {
		log_err("%s", err);
		store_unlock(&st);
		return VERBS_FAILED;
	}
	if (o->json)
		fputs("[", stdout);
	else
		printf("%-24s %-13s %s\n", "NAME", "STATE", "PERSISTENT");
	for (i = 0; i < n; i++) {
		persistent = store_get(&st, names[i], &verbs_def, err,
		    sizeof(err)) != 0;
		running = verbs_running(&st, names[i], &pid) == STORE_RUN_LIVE;
		if (!running && (!o->all || !persistent))
			continue;
		memset(&ls, 0, sizeof(ls));
		if (!running) {
			snprintf(ls.state, sizeof(ls.state), "shut off");
		} else if (launch_query(&st, names[i], &ls, err,
		    sizeof(err)) < 0) {
			log_warn("guest '%s': %s", names[i], err);
			snprintf(ls.state, sizeof(ls.state), "unknown");
		}
		if (!o->json) {
			printf("%-24s %-13s %s\n", names[i], ls.state,
			    persistent ? "yes" : "no");
			continue;
		}
		jsonw_init(&w, buf, sizeof(buf));
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "name", names[i]);
		jsonw_kstr(&w, "state", ls.state);
		jsonw_kbool(&w, "persistent", persistent);
		if (running) {
			jsonw_kint(&w, "pid", pid);
			store_run_path(&st, names[i], "qmp.sock", qmp,
			    sizeof(qmp));
			jsonw_kstr(&w, "qmp", qmp);
			if (ls.run_state[0]) {
				jsonw_kstr(&w, "qemu_status", ls.run_state);
				jsonw_kstr(&w, "migration", ls.migration);
			}
		}
		jsonw_obj_end(&w);
		if (jsonw_finish(&w) >= 0) {
			printf("%s%s", first ? "" : ",", buf);
			first = 0;
		}
	}
	if (o->json)
		puts("]");
	store_unlock(&st);
	return fflush(stdout) == 0 ? VERBS_OK : VERBS_FAILED;
}

int
verbs_dumpdef(const struct verbs_opts *o, const char *name)
{
	struct store st;
	char err[600];
	int rc, n;

	if ((rc = verbs_name(name)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 1)) != VERBS_OK)
		return rc;
	if (!o->inactive && verbs_running(&st, name, NULL) == STORE_RUN_LIVE)
		n = store_run_def(&st, name, &verbs_def, err, sizeof(err));
	else
		n = store_get(&st, name, &verbs_def, err, sizeof(err));
	store_unlock(&st);
	if (n <= 0) {
		if (n == 0)
			log_err("guest '%s' is not %s", name, o->inactive ?
			    "defined (it has no stored definition)" :
			    "defined or running");
		else
			log_err("%s", err);
		return n == 0 ? VERBS_USAGE : VERBS_FAILED;
	}
	if (fwrite(verbs_def.text, 1, verbs_def.len, stdout) != verbs_def.len ||
	    fflush(stdout) != 0)
		return VERBS_FAILED;
	return VERBS_OK;
}

/* Launch d (st locked, the guest checked not running). */
static int
verbs_launch(const struct verbs_opts *o, struct store *st,
    const struct def *d)
{
	char err[600];
	pid_t pid;

	if (launch_start(st, d, o->launch, &pid, err, sizeof(err)) < 0) {
		log_err("guest '%s': %s", d->name, err);
		store_unlock(st);
		return VERBS_FAILED;
	}
	printf("guest '%s' started (pid %ld)%s\n", d->name, (long)pid,
	    o->launch & LAUNCH_INCOMING ? ", waiting for a migration" : "");
	store_unlock(st);
	return VERBS_OK;
}

int
verbs_start(const struct verbs_opts *o, const char *name)
{
	struct store st;
	char err[600], bin[4096];
	int rc, n;

	if ((rc = verbs_name(name)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 0)) != VERBS_OK)
		return rc;
	rc = VERBS_USAGE;
	if (verbs_running(&st, name, NULL) == STORE_RUN_LIVE) {
		log_err("guest '%s' is already running", name);
	} else if ((n = store_get(&st, name, &verbs_def, err,
	    sizeof(err))) <= 0) {
		if (n == 0)
			log_err("guest '%s' is not defined (no %s.def in %s)",
			    name, name, st.config_dir);
		else
			log_err("%s", err);
	} else if (launch_binary(verbs_def.qemu, bin, sizeof(bin), err,
	    sizeof(err)) < 0) {
		log_err("guest '%s': %s", name, err);
	} else {
		return verbs_launch(o, &st, &verbs_def);
	}
	store_unlock(&st);
	return rc;
}

int
verbs_create(const struct verbs_opts *o, const char *file)
{
	struct store st;
	int rc;

	if ((rc = verbs_read(file, &verbs_def)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 0)) != VERBS_OK)
		return rc;
	if (verbs_running(&st, verbs_def.name, NULL) == STORE_RUN_LIVE) {
		log_err("guest '%s' is already running%s: destroy it first",
		    verbs_def.name, store_run_def(&st, verbs_def.name,
		    &verbs_def2, NULL, 0) > 0 && (verbs_def2.len !=
		    verbs_def.len || memcmp(verbs_def2.text, verbs_def.text,
		    verbs_def.len) != 0) ? " from another definition" : "");
		store_unlock(&st);
		return VERBS_USAGE;
	}
	return verbs_launch(o, &st, &verbs_def);
}

int
verbs_destroy(const struct verbs_opts *o, const char *name)
{
	struct store st;
	char err[600];
	pid_t pid;
	int rc;

	if ((rc = verbs_name(name)) != VERBS_OK ||
	    (rc = verbs_store(o, &st, 0)) != VERBS_OK)
		return rc;
	if ((rc = verbs_state(&st, name, &pid, 1)) != STORE_RUN_LIVE) {
		log_err("guest '%s' is not running%s", name, rc ==
		    STORE_RUN_STALE ? " (its QEMU died: removed its stale run "
		    "state)" : "");
		store_unlock(&st);
		return VERBS_USAGE;
	}
	rc = VERBS_OK;
	if (launch_destroy(&st, name, pid, err, sizeof(err)) < 0) {
		log_err("guest '%s': %s", name, err);
		rc = VERBS_FAILED;
	} else {
		printf("guest '%s' destroyed\n", name);
	}
	store_unlock(&st);
	return rc;
}
