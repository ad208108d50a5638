/* mig-recv: the destination side of a live migration.  See mig-recv(1). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/sig.h"
#include "base/version.h"
#include "control/ctl_dest.h"
#include "control/ctl_tls.h"
#include "control/desturi.h"
#include "tls/tls.h"
#include "migrate/recv.h"

static const char usage_head[] =
"usage: mig-recv (--qmp unix:DST_QMP | --domain NAME) [OPTION]...\n"
"       mig-recv --listen URI [--once] | --serve [OPTION]...\n"
"Prepares a destination QEMU started with -incoming defer, prints 'ready' once\n"
"its sockets listen, and starts the guest when the migration has completed.\n";
static const char usage_tail[] =
"Exit: 0 migrated; 1 failed, the guest is not here (destination QEMU quit);\n"
"      2 bad input, nothing changed; 3 failed after the post-copy switch-over;\n"
"      4 the guest is left paused here; 5 the destination QEMU died with it;\n"
"      6 migrated, but --persistent failed; 7 in doubt (managed): the control\n"
"      connection was lost after 'loaded', the destination QEMU was quit.\n"
"      --once: after the migration, QEMU's own exit status.\n";

enum {
	O_QMP = 1, O_DOMAIN, O_CONFIG, O_RUN, O_PERSISTENT, O_INCOMING, O_NBD,
	O_DISKS, O_POSTCOPY, O_PARALLEL, O_CONNS, O_PAUSED, O_TIMEOUT, O_IDLE,
	O_WAIT, O_READY, O_CONTEXT, O_VERBOSE, O_JSON, O_HELP, O_VERSION,
	O_LISTEN, O_SERVE, O_ONCE, O_INSECURE, O_KEEPALIVE, O_TLS_CERT,
	O_TLS_KEY, O_TLS_CA, O_TLS_PEER,
};

/* The one description of each option (base/opt.h); doc/mig-recv.1 agrees. */
static const struct opt opts[] = {
	{ O_QMP, 0, "qmp", "unix:PATH", "the destination QEMU's QMP socket" },
	{ O_DOMAIN, 0, "domain", "NAME", "or: the mig-config guest NAME" },
	{ O_CONFIG, 0, "config-dir", "DIR", "--domain's definitions (/etc/mig)" },
	{ O_RUN, 0, "run-dir", "DIR", "--domain's run state (/run/mig)" },
	{ O_PERSISTENT, 0, "persistent", NULL,
	    "store --domain's definition once migrated" },
	{ O_LISTEN, 0, "listen", "URI", "managed: wait for sources here" },
	{ O_SERVE, 0, "serve", NULL, "managed: one source on stdin/stdout" },
	{ O_ONCE, 0, "once", NULL, "managed: one migration, then supervise" },
	{ O_TLS_CERT, 0, "tls-cert", "FILE", "managed: our TLS certificate" },
	{ O_TLS_KEY, 0, "tls-key", "FILE", "managed: its key" },
	{ O_TLS_CA, 0, "tls-ca", "FILE", "managed: the CA of the peer's" },
	{ O_TLS_PEER, 0, "tls-peer-name", "NAME",
	    "managed: the peer's certificate name" },
	{ O_INSECURE, 0, "insecure", NULL, "managed: allow tcp: in clear" },
	{ O_KEEPALIVE, 0, "keepalive", "MS",
	    "managed: keepalive interval (5000)" },
	{ O_INCOMING, 0, "incoming", "unix:PATH|tcp:H:P|-",
	    "wait for the stream here (default -)" },
	{ O_NBD, 0, "nbd", "unix:PATH|tcp:H:P", "serve the disks to copy here" },
	{ O_DISKS, 0, "migrate-disks", "ID,...", "export only these disks" },
	{ O_POSTCOPY, 0, "postcopy", NULL, "accept a post-copy switch-over" },
	{ O_PARALLEL, 0, "parallel", NULL, "accept several connections" },
	{ O_CONNS, 0, "parallel-connections", "N", "how many (default 2)" },
	{ O_PAUSED, 0, "paused", NULL, "leave the guest paused after" },
	{ O_TIMEOUT, 0, "timeout", "SECS", "give up if not migrated by then" },
	{ O_IDLE, 0, "idle-timeout", "SECS",
	    "give up on a silent source (default 120)" },
	{ O_WAIT, 0, "wait", "SECS", "wait up to SECS for the QMP socket" },
	{ O_READY, 0, "ready-file", "PATH", "create PATH once the sockets listen" },
	{ O_CONTEXT, 0, "socket-context", "CONTEXT",
	    "the SELinux label of the sockets it creates" },
	{ O_VERBOSE, 'v', "verbose", NULL, "narrate the steps" },
	{ O_JSON, 0, "json", NULL, "JSON lines instead of 'ready'" },
	{ O_HELP, 'h', "help", NULL, "print this and exit" },
	{ O_VERSION, 0, "version", NULL, "print the version and exit" },
	{ 0 },
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
	const unsigned sockets = ENDPOINT_ALLOW(ENDPOINT_UNIX) |
	    ENDPOINT_ALLOW(ENDPOINT_TCP);
	int have_qmp = 0, have_incoming = 0, conns_given = 0, json = 0, c;
	struct endpoint listen;
	int serve = 0, have_listen = 0, once = 0, insecure = 0;
	int64_t keepalive = 0;
	struct ctl_tls_files tf = { 0 };
	struct tls_config *tls = NULL;
	struct opt_parser p;
	const char *val;
	int64_t n;
	char err[300];

	memset(&o, 0, sizeof(o));
	o.parallel_connections = 2;
	o.idle_timeout_s = 120;
	log_init("mig-recv", 0);
	opt_start(&p, opts, argc, argv);
	while ((c = opt_next(&p, &val)) != OPT_END) {
		switch (c) {
		case O_QMP:
			if (opt_endpoint("--qmp", val,
			    ENDPOINT_ALLOW(ENDPOINT_UNIX), &o.qmp) < 0)
				return RECV_USAGE;
			have_qmp = 1;
			break;
		case O_INCOMING:
			if (opt_endpoint("--incoming", val, ENDPOINT_ANY,
			    &o.incoming) < 0)
				return RECV_USAGE;
			have_incoming = 1;
			break;
		case O_NBD:
			if (opt_endpoint("--nbd", val, sockets, &o.nbd) < 0)
				return RECV_USAGE;
			break;
		case O_LISTEN:
			if (desturi_parse(val, &listen, err, sizeof(err)) < 0) {
				log_err("--listen: %s", err);
				return RECV_USAGE;
			}
			have_listen = 1;
			break;
		case O_SERVE: serve = 1; break;
		case O_ONCE: once = 1; break;
		case O_INSECURE: insecure = 1; break;
		case O_TLS_CERT: tf.cert = val; break;
		case O_TLS_KEY: tf.key = val; break;
		case O_TLS_CA: tf.ca = val; break;
		case O_TLS_PEER: tf.peer_name = val; break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", val, 100, 600000,
			    &keepalive) < 0)
				return RECV_USAGE;
			break;
		case O_DOMAIN: o.cfg.domain = val; break;
		case O_CONFIG: o.cfg.config_dir = val; break;
		case O_RUN: o.cfg.run_dir = val; break;
		case O_PERSISTENT: o.cfg.persistent = 1; break;
		case O_DISKS: o.migrate_disks = val; break;
		case O_POSTCOPY: o.postcopy = 1; break;
		case O_PARALLEL: o.parallel = 1; break;
		case O_CONNS:
			if (opt_number("--parallel-connections", val, 1, 255,
			    &n) < 0)
				return RECV_USAGE;
			o.parallel_connections = (int)n;
			conns_given = 1;
			break;
		case O_PAUSED: o.paused = 1; break;
		case O_TIMEOUT:
			if (opt_number("--timeout", val, 1, 1 << 30,
			    &o.timeout_s) < 0)
				return RECV_USAGE;
			break;
		case O_WAIT:
			if (opt_number("--wait", val, 0, 1 << 20,
			    &o.wait_s) < 0)
				return RECV_USAGE;
			break;
		case O_READY:
			if (*val == '\0') {
				log_err("--ready-file needs a path");
				return RECV_USAGE;
			}
			o.ready_file = val;
			break;
		case O_IDLE:
			if (opt_number("--idle-timeout", val, 0, 1 << 30,
			    &o.idle_timeout_s) < 0)
				return RECV_USAGE;
			break;
		case O_CONTEXT:
			if (opt_socket_context(val) < 0)
				return RECV_USAGE;
			break;
		case O_VERBOSE: o.verbose = 1; break;
		case O_JSON: json = 1; break;
		case O_HELP:
			fputs(usage_head, stdout);
			opt_help(stdout, opts);
			fputs(usage_tail, stdout);
			return 0;
		case O_VERSION:
			puts("mig-recv " MIG_VERSION);
			return 0;
		case OPT_OPERAND:
			log_err("unexpected argument '%s'", val);
			return RECV_USAGE;
		default:
			return RECV_USAGE;
		}
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
	if (ctl_tls_options("--listen", have_listen, listen.kind == ENDPOINT_TCP, insecure,
	    &tf, &tls) < 0)
		return RECV_USAGE;
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
