/* mig-recv: the destination side of a live migration.  See mig-recv(1). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "tls/tls.h"
#include "base/sig.h"
#include "control/ctl_dest.h"
#include "control/desturi.h"
#include "migrate/recv.h"

static const char usage[] =
"usage: mig-recv --qmp unix:DST_QMP | --domain NAME [--config-dir DIR] [--run-dir DIR]\n"
"                [--persistent] [--incoming unix:PATH|tcp:H:P|-] [--nbd unix:PATH|tcp:H:P]\n"
"                [--migrate-disks ID,...] [--postcopy] [--parallel [--parallel-connections N]]\n"
"                [--paused] [--timeout SECS] [--idle-timeout SECS] [--wait SECS]\n"
"                [--ready-file PATH] [--verbose] [--json] [--help] [--version]\n"
"       mig-recv --listen unix:PATH|tcp:H:P [--once]\n"
"                [--tls-cert F --tls-key F --tls-ca F [--tls-peer-name N] | --insecure]\n"
"              | --serve\n"
"                [--qmp unix:DST_QMP | --domain NAME] [--config-dir DIR] [--run-dir DIR]\n"
"                [--incoming URI] [--nbd URI] [--paused] [--timeout SECS] [--keepalive MS]\n"
"                [--verbose] [--json]\n"
"Prepares a destination QEMU started with -incoming defer, prints 'ready' once\n"
"its sockets listen, and starts the guest when the migration has completed.\n"
"Exit: 0 migrated; 1 failed, the guest is not here (destination QEMU quit);\n"
"      2 bad input, nothing changed; 3 failed after the post-copy switch-over;\n"
"      4 the guest is left paused here; 5 the destination QEMU died with it;\n"
"      6 migrated, but --persistent failed; 7 in doubt (managed): the control\n"
"      connection was lost after 'loaded', the destination QEMU was quit.\n"
"      --once: after the migration, QEMU's own exit status.\n";

enum {
	O_QMP = 256, O_INCOMING, O_NBD, O_DISKS, O_POSTCOPY, O_PARALLEL,
	O_CONNS, O_PAUSED, O_TIMEOUT, O_IDLE, O_WAIT, O_READY, O_JSON,
	O_DOMAIN, O_CONFIG, O_RUN, O_PERSISTENT, O_LISTEN, O_SERVE, O_ONCE,
	O_INSECURE, O_KEEPALIVE, O_TLS_CERT, O_TLS_KEY, O_TLS_CA, O_TLS_PEER,
};

static const struct option longopts[] = {
	{ "qmp", required_argument, NULL, O_QMP },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "config-dir", required_argument, NULL, O_CONFIG },
	{ "run-dir", required_argument, NULL, O_RUN },
	{ "persistent", no_argument, NULL, O_PERSISTENT },
	{ "incoming", required_argument, NULL, O_INCOMING },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "serve", no_argument, NULL, O_SERVE },
	{ "once", no_argument, NULL, O_ONCE },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "tls-ca", required_argument, NULL, O_TLS_CA },
	{ "tls-peer-name", required_argument, NULL, O_TLS_PEER },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
	{ "nbd", required_argument, NULL, O_NBD },
	{ "migrate-disks", required_argument, NULL, O_DISKS },
	{ "postcopy", no_argument, NULL, O_POSTCOPY },
	{ "parallel", no_argument, NULL, O_PARALLEL },
	{ "parallel-connections", required_argument, NULL, O_CONNS },
	{ "paused", no_argument, NULL, O_PAUSED },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, O_IDLE },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "ready-file", required_argument, NULL, O_READY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* --listen and --serve: the destination's control side. */
static int
managed(const struct recv_opts *o, int serve, const struct endpoint *listen,
    int once, int have_qmp, int have_incoming, int64_t keepalive_ms,
    const struct tls_config *tls)
{
	static struct ctl_dest_opts d;
	struct endpoint qmp;
	int rfd, wfd, fd, rc;
	pid_t pid;

	d.config_dir = o->cfg.config_dir;
	d.run_dir = o->cfg.run_dir;
	d.domain = o->cfg.domain;
	if (have_qmp)
		d.qmp = o->qmp;
	if (have_incoming)
		d.incoming = o->incoming;
	d.nbd = o->nbd;
	d.paused = o->paused;
	d.timeout_s = o->timeout_s;
	d.idle_timeout_s = o->idle_timeout_s;
	d.keepalive_ms = keepalive_ms;
	d.tls = tls;
	d.verbose = o->verbose;
	d.json = o->json;
	sig_install();
	if (!serve)
		return ctl_dest_listen(&d, listen, once);
	/* Standard input and output are the connection: nothing else may
	 * write there, so the tool's own output goes to standard error. */
	rfd = dup(0);
	wfd = dup(1);
	fd = open("/dev/null", O_RDONLY);
	if (rfd < 0 || wfd < 0 || fd < 0) {
		log_err("--serve: cannot take standard input and output");
		return RECV_USAGE;
	}
	dup2(fd, 0);
	close(fd);
	dup2(2, 1);
	if (d.json)
		d.json = stderr;
	rc = ctl_dest_session(&d, rfd, wfd, &pid, &qmp);
	close(rfd);
	close(wfd);
	if (once && pid > 0 && (rc == RECV_OK || rc == RECV_CONFIG))
		return ctl_dest_supervise(pid, &qmp);
	return rc;
}

int
main(int argc, char **argv)
{
	struct recv_opts o;
	struct endpoint listen;
	int serve = 0, have_listen = 0, once = 0, insecure = 0;
	int64_t keepalive = 0;
	const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL;
	const char *tls_peer = NULL;
	struct tls_config *tls = NULL;
	const unsigned sockets = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	int have_qmp = 0, have_incoming = 0, conns_given = 0, json = 0, c;
	int64_t n;
	char err[300];

	memset(&o, 0, sizeof(o));
	o.parallel_connections = 2;
	o.idle_timeout_s = 120;
	log_init("mig-recv", 0);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_QMP:
			if (opt_endpoint("--qmp", optarg,
			    ENDPOINT_ALLOW(ENDPOINT_UNIX), &o.qmp) < 0)
				return RECV_USAGE;
			have_qmp = 1;
			break;
		case O_INCOMING:
			if (opt_endpoint("--incoming", optarg, ENDPOINT_ANY,
			    &o.incoming) < 0)
				return RECV_USAGE;
			have_incoming = 1;
			break;
		case O_NBD:
			if (opt_endpoint("--nbd", optarg, sockets, &o.nbd) < 0)
				return RECV_USAGE;
			break;
		case O_LISTEN:
			if (desturi_parse(optarg, &listen, err, sizeof(err)) < 0) {
				log_err("--listen: %s", err);
				return RECV_USAGE;
			}
			have_listen = 1;
			break;
		case O_SERVE: serve = 1; break;
		case O_ONCE: once = 1; break;
		case O_INSECURE: insecure = 1; break;
		case O_TLS_CERT: tls_cert = optarg; break;
		case O_TLS_KEY: tls_key = optarg; break;
		case O_TLS_CA: tls_ca = optarg; break;
		case O_TLS_PEER: tls_peer = optarg; break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", optarg, 100, 600000,
			    &keepalive) < 0)
				return RECV_USAGE;
			break;
		case O_DOMAIN: o.cfg.domain = optarg; break;
		case O_CONFIG: o.cfg.config_dir = optarg; break;
		case O_RUN: o.cfg.run_dir = optarg; break;
		case O_PERSISTENT: o.cfg.persistent = 1; break;
		case O_DISKS: o.migrate_disks = optarg; break;
		case O_POSTCOPY: o.postcopy = 1; break;
		case O_PARALLEL: o.parallel = 1; break;
		case O_CONNS:
			if (opt_number("--parallel-connections", optarg, 1, 255,
			    &n) < 0)
				return RECV_USAGE;
			o.parallel_connections = (int)n;
			conns_given = 1;
			break;
		case O_PAUSED: o.paused = 1; break;
		case O_TIMEOUT:
			if (opt_number("--timeout", optarg, 1, 1 << 30,
			    &o.timeout_s) < 0)
				return RECV_USAGE;
			break;
		case O_WAIT:
			if (opt_number("--wait", optarg, 0, 1 << 20,
			    &o.wait_s) < 0)
				return RECV_USAGE;
			break;
		case O_READY:
			if (*optarg == '\0') {
				log_err("--ready-file needs a path");
				return RECV_USAGE;
			}
			o.ready_file = optarg;
			break;
		case O_IDLE:
			if (opt_number("--idle-timeout", optarg, 0, 1 << 30,
			    &o.idle_timeout_s) < 0)
				return RECV_USAGE;
			break;
		case 'v': o.verbose = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts("mig-recv " MIG_VERSION);
			return 0;
		default:
			opt_bad(c, argv, "vh");
			return RECV_USAGE;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return RECV_USAGE;
	}
	if (serve && have_listen) {
		log_err("give --listen or --serve, not both");
		return RECV_USAGE;
	}
	if ((once || insecure || keepalive) && !serve && !have_listen) {
		log_err("--once, --insecure and --keepalive need --listen or "
		    "--serve");
		return RECV_USAGE;
	}
	if ((tls_cert || tls_key || tls_ca || tls_peer) && (!have_listen ||
	    !tls_cert || !tls_key || !tls_ca)) {
		log_err("TLS needs --listen and all of --tls-cert, --tls-key "
		    "and --tls-ca");
		return RECV_USAGE;
	}
	if (have_listen && listen.kind == ENDPOINT_TCP && !insecure && !tls_ca) {
		log_err("--listen tcp: needs --tls-cert, --tls-key and --tls-ca "
		    "(mutual TLS), or --insecure");
		return RECV_USAGE;
	}
	if (tls_ca && (tls = tls_config_load(tls_cert, tls_key, tls_ca,
	    tls_peer, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return RECV_USAGE;
	}
	if (serve || have_listen) {
		if (have_qmp && o.cfg.domain) {
			log_err("give --qmp or --domain, not both");
			return RECV_USAGE;
		}
		if (o.cfg.persistent) {
			log_err("--persistent is the source's choice: mig-send "
			    "--persistent");
			return RECV_USAGE;
		}
		if (have_incoming && o.incoming.kind == ENDPOINT_STDIO) {
			log_err("--incoming - is not possible with --listen or "
			    "--serve");
			return RECV_USAGE;
		}
		if (o.migrate_disks || o.postcopy || o.parallel || o.ready_file) {
			log_err("--migrate-disks, --postcopy, --parallel and "
			    "--ready-file come from the source with --listen or "
			    "--serve");
			return RECV_USAGE;
		}
		log_init("mig-recv", o.verbose);
		if (json)
			o.json = stdout;
		return managed(&o, serve, &listen, once, have_qmp,
		    have_incoming, keepalive, tls);
	}
	if (have_qmp == !!o.cfg.domain) {
		log_err("%s (see --help)", have_qmp ? "give --qmp or --domain, "
		    "not both" : "--qmp or --domain is required");
		return RECV_USAGE;
	}
	if (apply_prepare(&o.cfg, APPLY_DEST, &o.qmp, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return RECV_USAGE;
	}
	if (conns_given && !o.parallel) {
		log_err("--parallel-connections needs --parallel");
		return RECV_USAGE;
	}
	/* Like QEMU's -incoming defer users, default to standard input. */
	if (!have_incoming)
		o.incoming.kind = ENDPOINT_STDIO;
	log_init("mig-recv", o.verbose);
	if (recv_check_opts(&o, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return RECV_USAGE;
	}
	if (json)
		o.json = stdout;
	return recv_run(&o);
}
