#ifndef MIG_VERBS_H
#define MIG_VERBS_H
/*
 * mig-config's commands (virsh's verbs), each returning the program's
 * exit code after at most one line on standard error.  See mig-config(1).
 */

enum { VERBS_OK = 0, VERBS_FAILED = 1, VERBS_USAGE = 2 };

struct verbs_opts {
	const char *config_dir;	/* NULL: default */
	const char *run_dir;	/* NULL: default */
	int all;		/* list: shut-off guests too */
	int json;		/* list: one JSON array */
	int inactive;		/* dumpdef: the stored definition */
	unsigned launch;	/* start/create: LAUNCH_* flags */
};

int verbs_define(const struct verbs_opts *o, const char *file);
int verbs_undefine(const struct verbs_opts *o, const char *name);
int verbs_list(const struct verbs_opts *o);
int verbs_dumpdef(const struct verbs_opts *o, const char *name);
int verbs_start(const struct verbs_opts *o, const char *name);
int verbs_create(const struct verbs_opts *o, const char *file);
int verbs_destroy(const struct verbs_opts *o, const char *name);

#endif
