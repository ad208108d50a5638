/* mig-send: the source side of a live migration.  See mig-send(1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/sig.h"
#include "base/sock.h"
#include "base/version.h"
#include "config/store.h"
#include "control/ctl_source.h"
#include "control/ctl_tls.h"
#include "control/desturi.h"
#include "tls/tls.h"
#include "migrate/send.h"

static const char usage_head[] =
"usage: mig-send (--qmp unix:SRC_QMP | --domain NAME)\n"
"                (--migrate-uri unix:PATH|tcp:H:P|- | --desturi URI) [OPTION]...\n"
"Migrates the guest of the source QEMU to a destination prepared by mig-recv.\n";
static const char usage_tail[] =
"Exit: 0 migrated; 1 failed, guest runs on the source; 2 bad input, nothing\n"
"      changed; 3 failed after the post-copy switch-over; 4 the source guest is\n"
"      left paused (rollback incomplete, or the destination's outcome unknown);\n"
"      5 the source QEMU died with the guest; 6 migrated, but --undefinesource\n"
"      failed; 7 in doubt (--desturi): the control connection was lost after\n"
"      the commit, the source guest is left paused.\n";

enum {
	O_QMP = 1, O_DOMAIN, O_CONFIG, O_RUN, O_UNDEFINE, O_URI, O_ALL, O_INC,
	O_DISKS_URI, O_DISKS, O_SYNC, O_POSTCOPY, O_AFTER, O_PARALLEL,
	O_CONNS, O_BW, O_DOWNTIME, O_AC, O_COMP, O_TIMEOUT, O_STALL,
	O_T_SUSPEND, O_T_POSTCOPY, O_KEEP, O_DRY, O_WAIT, O_CONTEXT, O_VERBOSE, O_JSON,
	O_HELP, O_VERSION,
	O_DESTURI, O_MIGRATEURI, O_P2P, O_LIVE, O_PERSISTENT, O_OFFLINE,
	O_DEFINITION, O_DNAME, O_TUNNELLED, O_INSECURE, O_KEEPALIVE,
	O_TLS_CERT, O_TLS_KEY, O_TLS_CA, O_TLS_PEER,
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
	{ O_DESTURI, 0, "desturi", "URI",
	    "managed: the destination's control socket" },
	{ O_MIGRATEURI, 0, "migrateuri", "URI", "libvirt's --migrate-uri" },
	{ O_P2P, 0, "p2p", NULL, "accepted (libvirt's; what mig does)" },
	{ O_LIVE, 0, "live", NULL, "accepted (libvirt's; what mig does)" },
	{ O_PERSISTENT, 0, "persistent", NULL,
	    "managed: the destination stores the definition" },
	{ O_OFFLINE, 0, "offline", NULL,
	    "managed: move the definition only" },
	{ O_DEFINITION, 0, "definition", "FILE",
	    "managed: send this definition" },
	{ O_DNAME, 0, "dname", "NAME", "managed: the guest's name there" },
	{ O_TUNNELLED, 0, "tunnelled", NULL,
	    "managed: every socket over the control connection" },
	{ O_TLS_CERT, 0, "tls-cert", "FILE", "managed: our TLS certificate" },
	{ O_TLS_KEY, 0, "tls-key", "FILE", "managed: its key" },
	{ O_TLS_CA, 0, "tls-ca", "FILE", "managed: the CA of the peer's" },
	{ O_TLS_PEER, 0, "tls-peer-name", "NAME",
	    "managed: the peer's certificate name" },
	{ O_INSECURE, 0, "insecure", NULL, "managed: allow tcp: in clear" },
	{ O_KEEPALIVE, 0, "keepalive", "MS",
	    "managed: keepalive interval (5000)" },
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
	const unsigned sockets = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	int have_qmp = 0, have_uri = 0, json = 0, conns_given = 0, c;
	struct endpoint dest;
	const char *definition = NULL, *dname = NULL;
	int have_dest = 0, persistent = 0, offline = 0, insecure = 0, rc;
	int64_t keepalive = 0;
	struct ctl_tls_files tf = { 0 };
	struct tls_config *tls = NULL;
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
		case O_MIGRATEURI:
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
		case O_DESTURI:
			if (desturi_parse(val, &dest, err, sizeof(err)) < 0) {
				log_err("--desturi: %s", err);
				return SEND_USAGE;
			}
			have_dest = 1;
			break;
		case O_P2P: case O_LIVE: break;	/* what mig always does */
		case O_PERSISTENT: persistent = 1; break;
		case O_OFFLINE: offline = 1; break;
		case O_DEFINITION: definition = val; break;
		case O_DNAME:
			if (!def_name_ok(val, err, sizeof(err))) {
				log_err("--dname: %s", err);
				return SEND_USAGE;
			}
			dname = val;
			break;
		case O_INSECURE: insecure = 1; break;
		case O_TLS_CERT: tf.cert = val; break;
		case O_TLS_KEY: tf.key = val; break;
		case O_TLS_CA: tf.ca = val; break;
		case O_TLS_PEER: tf.peer_name = val; break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", val, 100, 600000,
			    &keepalive) < 0)
				return SEND_USAGE;
			break;
		case O_TUNNELLED: send_cs.tunnelled = 1; break;
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
	if (!have_dest && (persistent || offline || definition || dname ||
	    insecure || keepalive || send_cs.tunnelled)) {
		log_err("--persistent, --offline, --definition, --dname, "
		    "--insecure, --keepalive and --tunnelled need --desturi");
		return SEND_USAGE;
	}
	/* As libvirt's: the tunnel is where the stream and disks go. */
	if (send_cs.tunnelled && (have_uri || o.disks_uri.kind)) {
		log_err("--tunnelled carries the stream and the disks itself: "
		    "give no --migrate-uri or --disks-uri");
		return SEND_USAGE;
	}
	if (ctl_tls_options("--desturi", have_dest, dest.kind == ENDPOINT_TCP, insecure,
	    &tf, &tls) < 0)
		return SEND_USAGE;
	send_cs.tls = tls;
	/* Before any connection: a peer's close is EPIPE, not SIGPIPE, and
	 * a session process (--tunnelled) inherits the handlers. */
	sig_install();
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
		    o.wait_s * 1000, o.wait_s > 0, err, sizeof(err)) < 0) {
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
	    o.wait_s * 1000, o.wait_s > 0, err, sizeof(err)) < 0) {
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
