/* mig-config: guest definitions and their lifecycle.  See mig-config(1). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "config/launch.h"
#include "config/verbs.h"

static const char usage_head[] =
"usage: mig-config [--config-dir DIR] [--run-dir DIR] COMMAND [ARGUMENT]\n"
"                  [OPTION]...\n";
static const char usage_tail[] =
"FILE may be - (standard input).  Directories: --config-dir ($MIG_CONFIG_DIR,\n"
"/etc/mig) holds definitions, --run-dir ($MIG_RUN_DIR, /run/mig) running guests.\n"
"Options may come before or after the command.\n"
"Exit: 0 done; 1 failed (QEMU, a file); 2 bad input, nothing changed.\n";

/* The options a command may be given are O_ALL .. O_FOREGROUND. */
enum {
	O_CONFIG = 1, O_RUN, O_ALL, O_JSON, O_INACTIVE, O_INCOMING,
	O_PAUSED, O_FOREGROUND, O_HELP, O_VERSION,
};

/* The one description of each option (base/opt.h); doc/mig-config.1 agrees. */
static const struct opt opts[] = {
	{ O_CONFIG, 0, "config-dir", "DIR", "the stored definitions" },
	{ O_RUN, 0, "run-dir", "DIR", "the running guests' state" },
	{ O_ALL, 0, "all", NULL, "list: the defined guests that do not run too" },
	{ O_JSON, 0, "json", NULL, "list: one JSON object per line" },
	{ O_INACTIVE, 0, "inactive", NULL, "dumpdef: the stored definition" },
	{ O_INCOMING, 0, "incoming", NULL,
	    "start, create: wait for a migration" },
	{ O_PAUSED, 0, "paused", NULL, "start, create: leave the guest paused" },
	{ O_FOREGROUND, 0, "foreground", NULL,
	    "start, create: become QEMU (exec)" },
	{ O_HELP, 'h', "help", NULL, "print this and exit" },
	{ O_VERSION, 0, "version", NULL, "print the version and exit" },
	{ 0 },
};

/* Which options each command takes (bits of 1 << (O_x - O_ALL)). */
#define F(o) (1u << ((o) - O_ALL))
#define F_LAUNCH (F(O_INCOMING) | F(O_PAUSED) | F(O_FOREGROUND))

static const struct {
	const char *name;
	const char *arg;	/* what its one argument is, or NULL */
	unsigned flags;
	const char *help;
} cmds[] = {
	{ "define", "FILE", 0, "store a persistent definition (replaces one)" },
	{ "undefine", "NAME", 0, "remove it; a running guest keeps running" },
	{ "list", NULL, F(O_ALL) | F(O_JSON), "name, state, persistent or not" },
	{ "dumpdef", "NAME", F(O_INACTIVE),
	    "the live definition, else the stored one" },
	{ "start", "NAME", F_LAUNCH, "start a defined guest" },
	{ "create", "FILE", F_LAUNCH, "start a guest without storing it (transient)" },
	{ "destroy", "NAME", 0, "stop the guest's QEMU, remove its run state" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* --help: each command with the options it takes, then the options. */
static void
usage(void)
{
	const struct opt *row;
	char line[160], name[64];
	size_t k, len;

	fputs(usage_head, stdout);
	for (k = 0; k < NCMDS; k++) {
		len = (size_t)snprintf(line, sizeof(line), "%s%s%s",
		    cmds[k].name, cmds[k].arg ? " " : "",
		    cmds[k].arg ? cmds[k].arg : "");
		for (row = opts; row->id != 0; row++) {
			if (row->id < O_ALL || row->id > O_FOREGROUND ||
			    !(cmds[k].flags & F(row->id)))
				continue;
			opt_format(row, 0, name, sizeof(name));
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    " [%s]", name);
		}
		if (len < 28)
			printf("  %-28s%s\n", line, cmds[k].help);
		else
			printf("  %s\n%30s%s\n", line, "", cmds[k].help);
	}
	puts("Options:");
	opt_help(stdout, opts);
	fputs(usage_tail, stdout);
}

int
main(int argc, char **argv)
{
	struct verbs_opts o;
	struct opt_parser p;
	const struct opt *row;
	const char *val, *words[3];	/* COMMAND ARGUMENT and one too many */
	unsigned given = 0;
	size_t k, need, nwords = 0;
	char name[64];
	int c;

	memset(&o, 0, sizeof(o));
	log_init("mig-config", 0);
	opt_start(&p, opts, argc, argv);
	while ((c = opt_next(&p, &val)) != OPT_END) {
		switch (c) {
		case O_CONFIG: o.config_dir = val; break;
		case O_RUN: o.run_dir = val; break;
		case O_ALL: case O_JSON: case O_INACTIVE: case O_INCOMING:
		case O_PAUSED: case O_FOREGROUND:
			given |= F(c);
			break;
		case O_HELP:
			usage();
			return 0;
		case O_VERSION:
			puts("mig-config " MIG_VERSION);
			return 0;
		case OPT_OPERAND:
			if (nwords < 3)
				words[nwords++] = val;
			break;
		default:
			return VERBS_USAGE;
		}
	}
	if (nwords == 0) {
		log_err("a command is required (see --help)");
		return VERBS_USAGE;
	}
	for (k = 0; k < NCMDS; k++)
		if (strcmp(words[0], cmds[k].name) == 0)
			break;
	if (k == NCMDS) {
		log_err("unknown command '%s' (see --help)", words[0]);
		return VERBS_USAGE;
	}
	for (row = opts; row->id != 0; row++) {
		if (row->id >= O_ALL && row->id <= O_FOREGROUND &&
		    (given & F(row->id)) && !(cmds[k].flags & F(row->id))) {
			opt_format(row, 0, name, sizeof(name));
			log_err("%s takes no %s", cmds[k].name, name);
			return VERBS_USAGE;
		}
	}
	need = cmds[k].arg ? 2 : 1;
	if (nwords < need) {
		log_err("%s needs a %s", cmds[k].name, cmds[k].arg);
		return VERBS_USAGE;
	}
	if (nwords > need) {
		log_err("unexpected argument '%s'", words[need]);
		return VERBS_USAGE;
	}
	val = need == 2 ? words[1] : NULL;
	o.all = !!(given & F(O_ALL));
	o.json = !!(given & F(O_JSON));
	o.inactive = !!(given & F(O_INACTIVE));
	o.launch = (given & F(O_INCOMING) ? LAUNCH_INCOMING : 0) |
	    (given & F(O_PAUSED) ? LAUNCH_PAUSED : 0) |
	    (given & F(O_FOREGROUND) ? LAUNCH_FOREGROUND : 0);
	switch (k) {
	case 0: return verbs_define(&o, val);
	case 1: return verbs_undefine(&o, val);
	case 2: return verbs_list(&o);
	case 3: return verbs_dumpdef(&o, val);
	case 4: return verbs_start(&o, val);
	case 5: return verbs_create(&o, val);
	default: return verbs_destroy(&o, val);
	}
}
