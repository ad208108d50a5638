/* mig-send: the source side of a live migration.  See mig-send(1). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "migrate/send.h"

static const char usage_head[] =
"usage: mig-send (--qmp unix:SRC_QMP | --domain NAME)\n"
"                --migrate-uri unix:PATH|tcp:H:P|- [OPTION]...\n"
"Migrates the guest of the source QEMU to a destination prepared by mig-recv.\n";
static const char usage_tail[] =
"Exit: 0 migrated; 1 failed, guest runs on the source; 2 bad input, nothing\n"
"      changed; 3 failed after the post-copy switch-over; 4 the source guest is\n"
"      left paused (rollback incomplete, or the destination's outcome unknown);\n"
"      5 the source QEMU died with the guest; 6 migrated, but --undefinesource\n"
"      failed.\n";

enum {
	O_QMP = 1, O_DOMAIN, O_CONFIG, O_RUN, O_UNDEFINE, O_URI, O_ALL, O_INC,
	O_DISKS_URI, O_DISKS, O_SYNC, O_POSTCOPY, O_AFTER, O_PARALLEL,
	O_CONNS, O_BW, O_DOWNTIME, O_AC, O_COMP, O_TIMEOUT, O_STALL,
	O_T_SUSPEND, O_T_POSTCOPY, O_KEEP, O_DRY, O_WAIT, O_CONTEXT, O_VERBOSE, O_JSON,
	O_HELP, O_VERSION,
};

/* The one description of each option (base/opt.h); doc/mig-send.1 agrees. */
static const struct opt opts[] = {
	{ O_QMP, 0, "qmp", "unix:PATH", "the source QEMU's QMP socket" },
	{ O_DOMAIN, 0, "domain", "NAME", "or: the mig-config guest NAME" },
	{ O_CONFIG, 0, "config-dir", "DIR", "--domain's definitions (/etc/mig)" },
	{ O_RUN, 0, "run-dir", "DIR", "--domain's run state (/run/mig)" },
	{ O_UNDEFINE, 0, "undefinesource", NULL,
	    "remove --domain's definition once migrated" },
	{ O_URI, 0, "migrate-uri", "unix:PATH|tcp:H:P|-",
	    "where the destination waits for the stream" },
	{ O_ALL, 0, "copy-storage-all", NULL, "copy the disks in full" },
	{ O_INC, 0, "copy-storage-inc", NULL, "copy only their top images" },
	{ O_DISKS_URI, 0, "disks-uri", "unix:PATH|tcp:H:P",
	    "the destination's NBD server (mig-recv --nbd)" },
	{ O_DISKS, 0, "migrate-disks", "ID,...", "copy only these disks" },
	{ O_SYNC, 0, "copy-storage-synchronous-writes", NULL,
	    "mirror write-blocking: the copy keeps up" },
	{ O_POSTCOPY, 0, "postcopy", NULL, "allow a switch to post-copy" },
	{ O_AFTER, 0, "postcopy-after-precopy", NULL,
	    "switch to it after the first pass" },
	{ O_PARALLEL, 0, "parallel", NULL, "memory over several connections" },
	{ O_CONNS, 0, "parallel-connections", "N", "how many (default 2)" },
	{ O_BW, 0, "bandwidth", "MiB/s", "limit the memory migration" },
	{ O_DOWNTIME, 0, "downtime", "MS", "the longest pause at the switch-over" },
	{ O_AC, 0, "auto-converge", NULL, "throttle the guest if it does not converge" },
	{ O_COMP, 0, "compressed", NULL, "send page deltas (xbzrle)" },
	{ O_TIMEOUT, 0, "timeout", "SECS", "after SECS, suspend the guest to finish" },
	{ O_STALL, 0, "stall-timeout", "SECS",
	    "fail if no progress for SECS (default 60)" },
	{ O_T_SUSPEND, 0, "timeout-suspend", NULL, "suspend at --timeout (default)" },
	{ O_T_POSTCOPY, 0, "timeout-postcopy", NULL,
	    "switch to post-copy at --timeout or a stall" },
	{ O_KEEP, 0, "keep-source", NULL, "leave the source QEMU paused after" },
	{ O_DRY, 0, "dry-run", NULL, "check; say what the destination needs" },
	{ O_WAIT, 0, "wait", "SECS", "wait up to SECS for the sockets" },
	{ O_CONTEXT, 0, "socket-context", "CONTEXT",
	    "the SELinux label of the sockets it creates" },
	{ O_VERBOSE, 'v', "verbose", NULL, "narrate, with a progress line" },
	{ O_JSON, 0, "json", NULL, "JSON lines: phases, progress, summary" },
	{ O_HELP, 'h', "help", NULL, "print this and exit" },
	{ O_VERSION, 0, "version", NULL, "print the version and exit" },
	{ 0 },
};

int
main(int argc, char **argv)
{
	struct send_opts o;
	const unsigned sockets = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	int have_qmp = 0, have_uri = 0, json = 0, conns_given = 0, c;
	struct opt_parser p;
	const char *val;
	int64_t n;
	char err[300];

	memset(&o, 0, sizeof(o));
	o.stall_timeout_s = 60;
	o.parallel_connections = 2;
	log_init("mig-send", 0);
	opt_start(&p, opts, argc, argv);
	while ((c = opt_next(&p, &val)) != OPT_END) {
		switch (c) {
		case O_QMP:
			if (opt_endpoint("--qmp", val,
			    ENDPOINT_ALLOW(ENDPOINT_UNIX), &o.qmp) < 0)
				return SEND_USAGE;
			have_qmp = 1;
			break;
		case O_URI:
			if (opt_endpoint("--migrate-uri", val, ENDPOINT_ANY,
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
			if (opt_endpoint("--disks-uri", val, sockets,
			    &o.disks_uri) < 0)
				return SEND_USAGE;
			break;
		case O_DOMAIN: o.cfg.domain = val; break;
		case O_CONFIG: o.cfg.config_dir = val; break;
		case O_RUN: o.cfg.run_dir = val; break;
		case O_UNDEFINE: o.cfg.undefinesource = 1; break;
		case O_DISKS: o.migrate_disks = val; break;
		case O_SYNC: o.sync_writes = 1; break;
		case O_POSTCOPY: o.postcopy = 1; break;
		case O_AFTER: o.postcopy_after_precopy = 1; break;
		case O_PARALLEL: o.parallel = 1; break;
		case O_CONNS:
			if (opt_number("--parallel-connections", val, 1, 255,
			    &n) < 0)
				return SEND_USAGE;
			o.parallel_connections = (int)n;
			conns_given = 1;
			break;
		case O_BW:
			if (opt_number("--bandwidth", val, 1, 1 << 30,
			    &o.bandwidth_mib) < 0)
				return SEND_USAGE;
			break;
		case O_DOWNTIME:
			if (opt_number("--downtime", val, 1, 2000000,
			    &o.downtime_ms) < 0)
				return SEND_USAGE;
			break;
		case O_AC: o.auto_converge = 1; break;
		case O_COMP: o.compressed = 1; break;
		case O_TIMEOUT:
			if (opt_number("--timeout", val, 1, 1 << 30,
			    &o.timeout_s) < 0)
				return SEND_USAGE;
			break;
		case O_STALL:
			if (opt_number("--stall-timeout", val, 0, 1 << 30,
			    &o.stall_timeout_s) < 0)
				return SEND_USAGE;
			break;
		case O_T_SUSPEND: o.timeout_action = SEND_TIMEOUT_SUSPEND; break;
		case O_T_POSTCOPY: o.timeout_action = SEND_TIMEOUT_POSTCOPY; break;
		case O_DRY: o.dry_run = 1; break;
		case O_WAIT:
			if (opt_number("--wait", val, 0, 1 << 20,
			    &o.wait_s) < 0)
				return SEND_USAGE;
			break;
		case O_KEEP: o.keep_source = o.cfg.source_kept = 1; break;
		case O_CONTEXT:
			if (opt_socket_context(val) < 0)
				return SEND_USAGE;
			break;
		case O_VERBOSE: o.verbose = 1; break;
		case O_JSON: json = 1; break;
		case O_HELP:
			fputs(usage_head, stdout);
			opt_help(stdout, opts);
			fputs(usage_tail, stdout);
			return 0;
		case O_VERSION:
			puts("mig-send " MIG_VERSION);
			return 0;
		case OPT_OPERAND:
			log_err("unexpected argument '%s'", val);
			return SEND_USAGE;
		default:
			return SEND_USAGE;
		}
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
