/* mig-config: guest definitions and their lifecycle.  See mig-config(1). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "config/launch.h"
#include "config/verbs.h"

static const char usage[] =
"usage: mig-config [--config-dir DIR] [--run-dir DIR] COMMAND ...\n"
"  define FILE                 store a persistent definition (replaces one)\n"
"  undefine NAME               remove it; a running guest keeps running\n"
"  list [--all] [--json]       name, state, persistent or not\n"
"  dumpdef NAME [--inactive]   the live definition, else the stored one\n"
"  start NAME [--incoming] [--paused] [--foreground]\n"
"  create FILE [--incoming] [--paused] [--foreground]   (transient)\n"
"  destroy NAME                stop the guest's QEMU, remove its run state\n"
"FILE may be - (standard input).  Directories: --config-dir ($MIG_CONFIG_DIR,\n"
"/etc/mig) holds definitions, --run-dir ($MIG_RUN_DIR, /run/mig) running guests.\n"
"Exit: 0 done; 1 failed (QEMU, a file); 2 bad input, nothing changed.\n";

enum {
	O_CONFIG = 256, O_RUN, O_ALL, O_JSON, O_INACTIVE, O_INCOMING,
	O_PAUSED, O_FOREGROUND,
};

/* Which options each command takes (bits of 1 << (O_x - O_ALL)). */
#define F(o) (1u << ((o) - O_ALL))
#define F_LAUNCH (F(O_INCOMING) | F(O_PAUSED) | F(O_FOREGROUND))

static const struct {
	const char *name;
	const char *arg;	/* what its one argument is, or NULL */
	unsigned flags;
} cmds[] = {
	{ "define", "FILE", 0 },
	{ "undefine", "NAME", 0 },
	{ "list", NULL, F(O_ALL) | F(O_JSON) },
	{ "dumpdef", "NAME", F(O_INACTIVE) },
	{ "start", "NAME", F_LAUNCH },
	{ "create", "FILE", F_LAUNCH },
	{ "destroy", "NAME", 0 },
};

static const struct option longopts[] = {
	{ "config-dir", required_argument, NULL, O_CONFIG },
	{ "run-dir", required_argument, NULL, O_RUN },
	{ "all", no_argument, NULL, O_ALL },
	{ "json", no_argument, NULL, O_JSON },
	{ "inactive", no_argument, NULL, O_INACTIVE },
	{ "incoming", no_argument, NULL, O_INCOMING },
	{ "paused", no_argument, NULL, O_PAUSED },
	{ "foreground", no_argument, NULL, O_FOREGROUND },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct verbs_opts o;
	unsigned given = 0;
	const char *arg;
	size_t i, k;
	int c;

	memset(&o, 0, sizeof(o));
	log_init("mig-config", 0);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: o.config_dir = optarg; break;
		case O_RUN: o.run_dir = optarg; break;
		case O_ALL: case O_JSON: case O_INACTIVE: case O_INCOMING:
		case O_PAUSED: case O_FOREGROUND:
			given |= F(c);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts("mig-config " MIG_VERSION);
			return 0;
		default:
			opt_bad(c, argv, "h");
			return VERBS_USAGE;
		}
	}
	if (optind >= argc) {
		log_err("a command is required (see --help)");
		return VERBS_USAGE;
	}
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (strcmp(argv[optind], cmds[k].name) == 0)
			break;
	if (k == sizeof(cmds) / sizeof(cmds[0])) {
		log_err("unknown command '%s' (see --help)", argv[optind]);
		return VERBS_USAGE;
	}
	for (i = 0; i < sizeof(longopts) / sizeof(longopts[0]) - 1; i++) {
		c = longopts[i].val;
		if (c >= O_ALL && c <= O_FOREGROUND && (given & F(c)) &&
		    !(cmds[k].flags & F(c))) {
			log_err("%s takes no --%s", cmds[k].name,
			    longopts[i].name);
			return VERBS_USAGE;
		}
	}
	if (cmds[k].arg && optind + 1 >= argc) {
		log_err("%s needs a %s", cmds[k].name, cmds[k].arg);
		return VERBS_USAGE;
	}
	if (optind + (cmds[k].arg ? 2 : 1) < argc) {
		log_err("unexpected argument '%s'",
		    argv[optind + (cmds[k].arg ? 2 : 1)]);
		return VERBS_USAGE;
	}
	arg = argv[optind + 1];
	o.all = !!(given & F(O_ALL));
	o.json = !!(given & F(O_JSON));
	o.inactive = !!(given & F(O_INACTIVE));
	o.launch = (given & F(O_INCOMING) ? LAUNCH_INCOMING : 0) |
	    (given & F(O_PAUSED) ? LAUNCH_PAUSED : 0) |
	    (given & F(O_FOREGROUND) ? LAUNCH_FOREGROUND : 0);
	switch (k) {
	case 0: return verbs_define(&o, arg);
	case 1: return verbs_undefine(&o, arg);
	case 2: return verbs_list(&o);
	case 3: return verbs_dumpdef(&o, arg);
	case 4: return verbs_start(&o, arg);
	case 5: return verbs_create(&o, arg);
	default: return verbs_destroy(&o, arg);
	}
}
