/* mig-send: the source side of a live migration.  See mig-send(1). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/sock.h"
#include "base/version.h"
#include "tls/tls.h"
#include "config/store.h"
#include "control/ctl_source.h"
#include "control/desturi.h"
#include "migrate/send.h"

static const char usage[] =
"usage: mig-send --qmp unix:SRC_QMP | --domain NAME [--config-dir DIR] [--run-dir DIR]\n"
"                --migrate-uri unix:PATH|tcp:H:P|- [--undefinesource]\n"
"                | --desturi unix:PATH|tcp:H:P|qemu+unix:///system?socket=PATH\n"
"                  [--tls-cert F --tls-key F --tls-ca F [--tls-peer-name N] | --insecure]\n"
"                  [--migrate-uri|--migrateuri URI] [--persistent] [--undefinesource]\n"
"                  [--offline] [--definition FILE] [--dname NAME] [--p2p] [--live]\n"
"                  [--keepalive MS]\n"
"                [--copy-storage-all | --copy-storage-inc] [--disks-uri unix:PATH|tcp:H:P]\n"
"                [--migrate-disks ID,...] [--copy-storage-synchronous-writes]\n"
"                [--postcopy [--postcopy-after-precopy]] [--parallel [--parallel-connections N]]\n"
"                [--bandwidth MiB/s] [--downtime MS] [--auto-converge] [--compressed]\n"
"                [--timeout SECS [--timeout-suspend | --timeout-postcopy]]\n"
"                [--stall-timeout SECS] [--keep-source] [--dry-run] [--wait SECS]\n"
"                [--verbose] [--json] [--help] [--version]\n"
"Migrates the guest of the source QEMU to a destination prepared by mig-recv.\n"
"Exit: 0 migrated; 1 failed, guest runs on the source; 2 bad input, nothing changed;\n"
"      3 failed after the post-copy switch-over; 4 the source guest is left paused\n"
"      (rollback incomplete, or the destination's outcome unknown); 5 the source\n"
"      QEMU died with the guest; 6 migrated, but --undefinesource failed;\n"
"      7 in doubt (--desturi): the control connection was lost after the\n"
"      commit; the source guest is left paused.\n";

enum {
	O_QMP = 256, O_URI, O_ALL, O_INC, O_DISKS_URI, O_DISKS, O_SYNC,
	O_POSTCOPY, O_AFTER, O_PARALLEL, O_CONNS, O_BW, O_DOWNTIME, O_AC,
	O_COMP, O_TIMEOUT, O_STALL, O_T_SUSPEND, O_T_POSTCOPY, O_KEEP, O_DRY, O_WAIT, O_JSON, O_HELP,
	O_DOMAIN, O_CONFIG, O_RUN, O_UNDEFINE,
	O_DESTURI, O_P2P, O_LIVE, O_PERSISTENT, O_OFFLINE, O_DEFINITION,
	O_DNAME, O_TUNNELLED, O_INSECURE, O_KEEPALIVE, O_TLS_CERT, O_TLS_KEY,
	O_TLS_CA, O_TLS_PEER,
};

static const struct option longopts[] = {
	{ "qmp", required_argument, NULL, O_QMP },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "config-dir", required_argument, NULL, O_CONFIG },
	{ "run-dir", required_argument, NULL, O_RUN },
	{ "undefinesource", no_argument, NULL, O_UNDEFINE },
	{ "migrate-uri", required_argument, NULL, O_URI },
	{ "migrateuri", required_argument, NULL, O_URI },
	{ "desturi", required_argument, NULL, O_DESTURI },
	{ "p2p", no_argument, NULL, O_P2P },
	{ "live", no_argument, NULL, O_LIVE },
	{ "persistent", no_argument, NULL, O_PERSISTENT },
	{ "offline", no_argument, NULL, O_OFFLINE },
	{ "definition", required_argument, NULL, O_DEFINITION },
	{ "dname", required_argument, NULL, O_DNAME },
	{ "tunnelled", no_argument, NULL, O_TUNNELLED },
	{ "tunneled", no_argument, NULL, O_TUNNELLED },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "tls-ca", required_argument, NULL, O_TLS_CA },
	{ "tls-peer-name", required_argument, NULL, O_TLS_PEER },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
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
	{ "verbose", no_argument, NULL, 'v' },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static struct def send_def;		/* what travels, managed */
static struct ctl_source send_cs;

/*
 * Managed: the definition that travels (--definition FILE, else the
 * domain's stored one, else its live one) and the request's fields.
 * Returns 0, or -1 after an error line.
 */
static int
managed_request(struct send_opts *o, const char *definition,
    const char *dname, int persistent, int offline)
{
	static char text[DEF_MAX + 2];
	struct store st;
	char err[600];
	long n;
	int rc = 0;

	if (definition) {
		n = store_read_file(definition, text, DEF_MAX + 1);
		if (n < 0 || n > (long)DEF_MAX) {
			log_err("--definition %s: %s", definition, n < 0 ?
			    strerror(errno) : "too long");
			return -1;
		}
		if (def_parse(&send_def, text, (size_t)n, err,
		    sizeof(err)) < 0) {
			log_err("--definition %s: %s", definition, err);
			return -1;
		}
		send_cs.def = &send_def;
	} else if (o->cfg.domain) {
		if (store_init(&st, o->cfg.config_dir, o->cfg.run_dir, err,
		    sizeof(err)) < 0) {
			log_err("%s", err);
			return -1;
		}
		rc = store_get(&st, o->cfg.domain, &send_def, err, sizeof(err));
		if (rc == 0 && !offline)
			rc = store_run_def(&st, o->cfg.domain, &send_def, err,
			    sizeof(err));
		if (rc < 0) {
			log_err("%s", err);
			return -1;
		}
		if (rc > 0)
			send_cs.def = &send_def;
	}
	if (offline && send_cs.def == NULL) {
		log_err("--offline needs a definition: --domain NAME with a "
		    "stored one, or --definition FILE");
		return -1;
	}
	send_cs.name = send_cs.def ? send_cs.def->name : o->cfg.domain ?
	    o->cfg.domain : dname ? dname : "guest";
	send_cs.dname = dname;
	send_cs.flags = (o->postcopy ? CTL_FL_POSTCOPY : 0) |
	    (o->parallel ? CTL_FL_PARALLEL : 0) |
	    (o->storage != SEND_STORAGE_NONE ? CTL_FL_STORAGE : 0) |
	    (persistent ? CTL_FL_PERSISTENT : 0) |
	    (o->cfg.undefinesource ? CTL_FL_UNDEFINESOURCE : 0);
	send_cs.conns = o->parallel ? (uint32_t)o->parallel_connections : 0;
	return 0;
}

/* --offline: the definition alone; the source's guest is not touched. */
static int
managed_offline(struct send_opts *o)
{
	struct store st;
	char err[600];

	if (ctl_source_offline(&send_cs, err, sizeof(err)) < 0) {
		log_err("offline migration failed: %s", err);
		ctl_source_close(&send_cs);
		return SEND_FAILED;
	}
	ctl_source_close(&send_cs);
	log_info("guest '%s' defined on the destination", send_cs.name);
	if (!o->cfg.undefinesource)
		return SEND_OK;
	if (store_init(&st, o->cfg.config_dir, o->cfg.run_dir, err,
	    sizeof(err)) < 0 || store_lock(&st, 0, err, sizeof(err)) < 0 ||
	    store_remove(&st, send_cs.name, err, sizeof(err)) < 0) {
		log_err("--undefinesource: %s", err);
		return SEND_CONFIG;
	}
	store_unlock(&st);
	log_info("guest '%s' undefined here (--undefinesource)", send_cs.name);
	return SEND_OK;
}

int
main(int argc, char **argv)
{
	struct send_opts o;
	struct endpoint dest;
	const char *definition = NULL, *dname = NULL;
	int have_dest = 0, persistent = 0, offline = 0, insecure = 0, rc;
	int64_t keepalive = 0;
	const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL;
	const char *tls_peer = NULL;
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
		case O_DESTURI:
			if (desturi_parse(optarg, &dest, err, sizeof(err)) < 0) {
				log_err("--desturi: %s", err);
				return SEND_USAGE;
			}
			have_dest = 1;
			break;
		case O_P2P: case O_LIVE: break;	/* what mig always does */
		case O_PERSISTENT: persistent = 1; break;
		case O_OFFLINE: offline = 1; break;
		case O_DEFINITION: definition = optarg; break;
		case O_DNAME:
			if (!def_name_ok(optarg, err, sizeof(err))) {
				log_err("--dname: %s", err);
				return SEND_USAGE;
			}
			dname = optarg;
			break;
		case O_INSECURE: insecure = 1; break;
		case O_TLS_CERT: tls_cert = optarg; break;
		case O_TLS_KEY: tls_key = optarg; break;
		case O_TLS_CA: tls_ca = optarg; break;
		case O_TLS_PEER: tls_peer = optarg; break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", optarg, 100, 600000,
			    &keepalive) < 0)
				return SEND_USAGE;
			break;
		case O_TUNNELLED:
			log_err("--tunnelled is not implemented yet: run "
			    "mig-tunnel between the hosts and give --migrate-uri "
			    "and --disks-uri through it");
			return SEND_USAGE;
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
	if (!have_dest && (persistent || offline || definition || dname ||
	    insecure || keepalive)) {
		log_err("--persistent, --offline, --definition, --dname, "
		    "--insecure and --keepalive need --desturi");
		return SEND_USAGE;
	}
	if ((tls_cert || tls_key || tls_ca || tls_peer) && (!have_dest ||
	    !tls_cert || !tls_key || !tls_ca)) {
		log_err("TLS needs --desturi and all of --tls-cert, --tls-key "
		    "and --tls-ca");
		return SEND_USAGE;
	}
	if (have_dest && dest.kind == ENDPOINT_TCP && !insecure && !tls_ca) {
		log_err("--desturi tcp: needs --tls-cert, --tls-key and --tls-ca "
		    "(mutual TLS), or --insecure");
		return SEND_USAGE;
	}
	if (tls_ca && (send_cs.tls = tls_config_load(tls_cert, tls_key, tls_ca,
	    tls_peer, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return SEND_USAGE;
	}
	if (offline && !persistent) {
		log_err("--offline needs --persistent (as libvirt's)");
		return SEND_USAGE;
	}
	if (have_dest && have_uri && o.migrate_uri.kind == ENDPOINT_STDIO) {
		log_err("--desturi needs a socket --migrate-uri, not '-'");
		return SEND_USAGE;
	}
	if (offline) {
		/* The guest may be running or shut off: its QEMU is not
		 * asked anything. */
		if (!o.cfg.domain && !definition) {
			log_err("--offline needs --domain NAME or --definition "
			    "FILE");
			return SEND_USAGE;
		}
		if (managed_request(&o, definition, dname, persistent, 1) < 0)
			return SEND_USAGE;
		if (ctl_source_connect(&send_cs, &dest, clock_ms() + 10000 +
		    o.wait_s * 1000, err, sizeof(err)) < 0) {
			log_err("--desturi: %s", err);
			return SEND_FAILED;
		}
		return managed_offline(&o);
	}
	if (have_qmp == !!o.cfg.domain || (!have_uri && !have_dest)) {
		log_err("%s (see --help)", !have_uri && !have_dest ?
		    "--migrate-uri or --desturi is required" : have_qmp ?
		    "give --qmp or --domain, not both" :
		    "--qmp or --domain is required");
		return SEND_USAGE;
	}
	if (apply_prepare(&o.cfg, APPLY_SOURCE, &o.qmp, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return SEND_USAGE;
	}
	/* The hooks are set once connected; the checks need to know. */
	if (have_dest)
		o.peer = &send_cs.peer;
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
	if (!have_dest)
		return send_run(&o);
	/* Managed: Begin's checks are send_run's preflight; the control
	 * connection is made first so that Prepare follows them. */
	if (managed_request(&o, definition, dname, persistent, 0) < 0)
		return SEND_USAGE;
	if (o.dry_run) {
		log_err("--dry-run is for the two-command mode");
		return SEND_USAGE;
	}
	if (ctl_source_connect(&send_cs, &dest, clock_ms() + 10000 +
	    o.wait_s * 1000, err, sizeof(err)) < 0) {
		log_err("--desturi: %s (is mig-recv --listen running?)", err);
		return SEND_USAGE;
	}
	if (keepalive)
		send_cs.conn.interval_ms = keepalive;
	o.peer = &send_cs.peer;
	rc = send_run(&o);
	ctl_source_close(&send_cs);
	return rc;
}
