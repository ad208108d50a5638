/* mig-send: the source side of a live migration.  See mig-send(1). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "migrate/send.h"

static const char usage[] =
"usage: mig-send --qmp unix:SRC_QMP | --domain NAME [--config-dir DIR] [--run-dir DIR]\n"
"                --migrate-uri unix:PATH|tcp:H:P|- [--undefinesource]\n"
"                [--copy-storage-all | --copy-storage-inc] [--disks-uri unix:PATH|tcp:H:P]\n"
"                [--migrate-disks ID,...] [--copy-storage-synchronous-writes]\n"
"                [--postcopy [--postcopy-after-precopy]] [--parallel [--parallel-connections N]]\n"
"                [--bandwidth MiB/s] [--downtime MS] [--auto-converge] [--compressed]\n"
"                [--timeout SECS [--timeout-suspend | --timeout-postcopy]]\n"
"                [--stall-timeout SECS] [--keep-source] [--dry-run] [--wait SECS]\n"
"                [--socket-context CONTEXT] [--verbose] [--json] [--help] [--version]\n"
"Migrates the guest of the source QEMU to a destination prepared by mig-recv.\n"
"Exit: 0 migrated; 1 failed, guest runs on the source; 2 bad input, nothing changed;\n"
"      3 failed after the post-copy switch-over; 4 the source guest is left paused\n"
"      (rollback incomplete, or the destination's outcome unknown); 5 the source\n"
"      QEMU died with the guest; 6 migrated, but --undefinesource failed.\n";

enum {
	O_QMP = 256, O_URI, O_ALL, O_INC, O_DISKS_URI, O_DISKS, O_SYNC,
	O_POSTCOPY, O_AFTER, O_PARALLEL, O_CONNS, O_BW, O_DOWNTIME, O_AC,
	O_COMP, O_TIMEOUT, O_STALL, O_T_SUSPEND, O_T_POSTCOPY, O_KEEP, O_DRY, O_WAIT, O_JSON, O_HELP,
	O_DOMAIN, O_CONFIG, O_RUN, O_UNDEFINE, O_CONTEXT,
};

static const struct option longopts[] = {
	{ "qmp", required_argument, NULL, O_QMP },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "config-dir", required_argument, NULL, O_CONFIG },
	{ "run-dir", required_argument, NULL, O_RUN },
	{ "undefinesource", no_argument, NULL, O_UNDEFINE },
	{ "migrate-uri", required_argument, NULL, O_URI },
	{ "copy-storage-all", no_argument, NULL, O_ALL },
	{ "copy-storage-inc", no_argument, NULL, O_INC },
	{ "disks-uri", required_argument, NULL, O_DISKS_URI },
	{ "migrate-disks", required_argument, NULL, O_DISKS },
	{ "copy-storage-synchronous-writes", no_argument, NULL, O_SYNC },
	{ "postcopy", no_argument, NULL, O_POSTCOPY },
	{ "postcopy-after-precopy", no_argument, NULL, O_AFTER },
	{ "parallel", no_argument, NULL, O_PARALLEL },
	{ "parallel-connections", required_argument, NULL, O_CONNS },
	{ "bandwidth", required_argument, NULL, O_BW },
	{ "downtime", required_argument, NULL, O_DOWNTIME },
	{ "auto-converge", no_argument, NULL, O_AC },
	{ "compressed", no_argument, NULL, O_COMP },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "stall-timeout", required_argument, NULL, O_STALL },
	{ "timeout-suspend", no_argument, NULL, O_T_SUSPEND },
	{ "timeout-postcopy", no_argument, NULL, O_T_POSTCOPY },
	{ "keep-source", no_argument, NULL, O_KEEP },
	{ "dry-run", no_argument, NULL, O_DRY },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "socket-context", required_argument, NULL, O_CONTEXT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct send_opts o;
	const unsigned sockets = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	int have_qmp = 0, have_uri = 0, json = 0, conns_given = 0, c;
	int64_t n;
	char err[300];

	memset(&o, 0, sizeof(o));
	o.stall_timeout_s = 60;
	o.parallel_connections = 2;
	log_init("mig-send", 0);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_QMP:
			if (opt_endpoint("--qmp", optarg,
			    ENDPOINT_ALLOW(ENDPOINT_UNIX), &o.qmp) < 0)
				return SEND_USAGE;
			have_qmp = 1;
			break;
		case O_URI:
			if (opt_endpoint("--migrate-uri", optarg, ENDPOINT_ANY,
			    &o.migrate_uri) < 0)
				return SEND_USAGE;
			have_uri = 1;
			break;
		case O_ALL:
		case O_INC:
			if (o.storage != SEND_STORAGE_NONE) {
				log_err("give one of --copy-storage-all and "
				    "--copy-storage-inc");
				return SEND_USAGE;
			}
			o.storage = c == O_ALL ? SEND_STORAGE_ALL : SEND_STORAGE_INC;
			break;
		case O_DISKS_URI:
			if (opt_endpoint("--disks-uri", optarg, sockets,
			    &o.disks_uri) < 0)
				return SEND_USAGE;
			break;
		case O_DOMAIN: o.cfg.domain = optarg; break;
		case O_CONFIG: o.cfg.config_dir = optarg; break;
		case O_RUN: o.cfg.run_dir = optarg; break;
		case O_UNDEFINE: o.cfg.undefinesource = 1; break;
		case O_DISKS: o.migrate_disks = optarg; break;
		case O_SYNC: o.sync_writes = 1; break;
		case O_POSTCOPY: o.postcopy = 1; break;
		case O_AFTER: o.postcopy_after_precopy = 1; break;
		case O_PARALLEL: o.parallel = 1; break;
		case O_CONNS:
			if (opt_number("--parallel-connections", optarg, 1, 255,
			    &n) < 0)
				return SEND_USAGE;
			o.parallel_connections = (int)n;
			conns_given = 1;
			break;
		case O_BW:
			if (opt_number("--bandwidth", optarg, 1, 1 << 30,
			    &o.bandwidth_mib) < 0)
				return SEND_USAGE;
			break;
		case O_DOWNTIME:
			if (opt_number("--downtime", optarg, 1, 2000000,
			    &o.downtime_ms) < 0)
				return SEND_USAGE;
			break;
		case O_AC: o.auto_converge = 1; break;
		case O_COMP: o.compressed = 1; break;
		case O_TIMEOUT:
			if (opt_number("--timeout", optarg, 1, 1 << 30,
			    &o.timeout_s) < 0)
				return SEND_USAGE;
			break;
		case O_STALL:
			if (opt_number("--stall-timeout", optarg, 0, 1 << 30,
			    &o.stall_timeout_s) < 0)
				return SEND_USAGE;
			break;
		case O_T_SUSPEND: o.timeout_action = SEND_TIMEOUT_SUSPEND; break;
		case O_T_POSTCOPY: o.timeout_action = SEND_TIMEOUT_POSTCOPY; break;
		case O_DRY: o.dry_run = 1; break;
		case O_WAIT:
			if (opt_number("--wait", optarg, 0, 1 << 20,
			    &o.wait_s) < 0)
				return SEND_USAGE;
			break;
		case O_CONTEXT:
			if (opt_socket_context(optarg) < 0)
				return SEND_USAGE;
			break;
		case O_KEEP: o.keep_source = o.cfg.source_kept = 1; break;
		case 'v': o.verbose = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts("mig-send " MIG_VERSION);
			return 0;
		default:
			opt_bad(c, argv, "vh");
			return SEND_USAGE;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return SEND_USAGE;
	}
	if (have_qmp == !!o.cfg.domain || !have_uri) {
		log_err("%s (see --help)", !have_uri ? "--migrate-uri is "
		    "required" : have_qmp ? "give --qmp or --domain, not both" :
		    "--qmp or --domain is required");
		return SEND_USAGE;
	}
	if (apply_prepare(&o.cfg, APPLY_SOURCE, &o.qmp, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return SEND_USAGE;
	}
	if (conns_given && !o.parallel) {
		log_err("--parallel-connections needs --parallel");
		return SEND_USAGE;
	}
	log_init("mig-send", o.verbose);
	if (send_check_opts(&o, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return SEND_USAGE;
	}
	/* With the stream on stdout, the JSON lines go to stderr. */
	if (json)
		o.json = o.migrate_uri.kind == ENDPOINT_STDIO ? stderr : stdout;
	return send_run(&o);
}
