/* mig-tunnel: every socket of a migration over one stream.  See mig-tunnel(1). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/version.h"
#include "tunnel/tunnel.h"

static const char usage_head[] =
"usage: mig-tunnel [-L unix:LOCAL=NAME]... [-R NAME=unix:TARGET]... [OPTION]...\n"
"                  [PEER]\n"
"Carries unix socket connections over one stream to another mig-tunnel.\n";
static const char usage_tail[] =
"PEER  - (stdin/stdout, the default), unix:PATH, tcp:HOST:PORT (connect),\n"
"      listen:unix:PATH, listen:tcp:HOST:PORT (serve peers, each its own\n"
"      session).  tcp: needs TLS or --insecure.\n"
"Exit: 0 peer said goodbye or stopped by a signal; 1 peer lost or runtime\n"
"      failure; 2 bad arguments or files; 3 TLS handshake or peer refused.\n";

enum {
	O_LOCAL = 1, O_ROUTE, O_CERT, O_KEY, O_CA, O_PEER_NAME, O_CLIENT,
	O_INSECURE, O_KEEPALIVE, O_HANDSHAKE, O_MAX_SESSIONS, O_PER_SOURCE,
	O_CONTEXT, O_VERBOSE, O_HELP, O_VERSION,
};

/* The one description of each option (base/opt.h); doc/mig-tunnel.1 agrees. */
static const struct opt opts[] = {
	{ O_LOCAL, 'L', NULL, "unix:LOCAL=NAME",
	    "listen on LOCAL; connections open channel NAME" },
	{ O_ROUTE, 'R', NULL, "NAME=unix:TARGET",
	    "connect the peer's channels NAME to TARGET" },
	{ O_CERT, 0, "tls-cert", "FILE", "mutual TLS: this side's certificate," },
	{ O_KEY, 0, "tls-key", "FILE", "its private key," },
	{ O_CA, 0, "tls-ca", "FILE", "and the CA the peer's must chain to" },
	{ O_PEER_NAME, 0, "tls-peer-name", "NAME",
	    "the name the peer's certificate must carry" },
	{ O_CLIENT, 0, "tls-client", NULL, "be the TLS client over a stdio PEER" },
	{ O_INSECURE, 0, "insecure", NULL, "allow tcp: without TLS" },
	{ O_KEEPALIVE, 0, "keepalive", "SECS", "ping a silent peer after SECS (default 15)" },
	{ O_HANDSHAKE, 0, "handshake-timeout", "SECS",
	    "a peer must say hello by then (default 10)" },
	{ O_MAX_SESSIONS, 0, "max-sessions", "N",
	    "listening: sessions at once (default 128)" },
	{ O_PER_SOURCE, 0, "max-per-source", "N",
	    "of those from one address or user (default 8)" },
	{ O_CONTEXT, 0, "socket-context", "CONTEXT",
	    "the SELinux label of the sockets it creates" },
	{ O_VERBOSE, 'v', "verbose", NULL, "narrate channels and sessions" },
	{ O_HELP, 'h', "help", NULL, "print this and exit" },
	{ O_VERSION, 0, "version", NULL, "print the version and exit" },
	{ 0 },
};

int
main(int argc, char **argv)
{
	static struct tunnel_opts o;
	char err[600];
	int64_t v;
	int c, verbose = 0;
	struct opt_parser p;
	const char *val, *peer = NULL;

	log_init("mig-tunnel", 0);
	tunnel_opts_init(&o);
	opt_start(&p, opts, argc, argv);
	while ((c = opt_next(&p, &val)) != OPT_END) {
		switch (c) {
		case O_LOCAL:
			if (tunnel_add_local(&o, val, err, sizeof(err)) < 0)
				goto bad;
			break;
		case O_ROUTE:
			if (tunnel_add_route(&o, val, err, sizeof(err)) < 0)
				goto bad;
			break;
		case O_CERT:
			o.tls_cert = val;
			break;
		case O_KEY:
			o.tls_key = val;
			break;
		case O_CA:
			o.tls_ca = val;
			break;
		case O_PEER_NAME:
			o.tls_peer_name = val;
			break;
		case O_CLIENT:
			o.tls_client = 1;
			break;
		case O_INSECURE:
			o.insecure = 1;
			break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", val, 0, 3600, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.keepalive_s = (int)v;
			break;
		case O_HANDSHAKE:
			if (opt_number("--handshake-timeout", val, 1, 3600,
			    &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.handshake_s = (int)v;
			break;
		case O_MAX_SESSIONS:
			if (opt_number("--max-sessions", val, 1,
			    TUNNEL_MAX_SESSIONS, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.max_sessions = (int)v;
			o.limits_set = 1;
			break;
		case O_PER_SOURCE:
			if (opt_number("--max-per-source", val, 1,
			    TUNNEL_MAX_SESSIONS, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.max_per_source = (int)v;
			o.limits_set = 1;
			break;
		case O_CONTEXT:
			if (opt_socket_context(val) < 0)
				return TUNNEL_EXIT_USAGE;
			break;
		case O_VERBOSE:
			verbose = 1;
			break;
		case O_HELP:
			fputs(usage_head, stdout);
			opt_help(stdout, opts);
			fputs(usage_tail, stdout);
			return TUNNEL_EXIT_OK;
		case O_VERSION:
			puts("mig-tunnel " MIG_VERSION);
			return TUNNEL_EXIT_OK;
		case OPT_OPERAND:
			if (peer != NULL) {
				log_err("one PEER at most (got '%s' and '%s')",
				    peer, val);
				return TUNNEL_EXIT_USAGE;
			}
			peer = val;
			break;
		default:
			return TUNNEL_EXIT_USAGE;
		}
	}
	log_init("mig-tunnel", verbose);
	if (peer != NULL && tunnel_set_peer(&o, peer, err, sizeof(err)) < 0)
		goto bad;
	if (tunnel_check(&o, err, sizeof(err)) < 0)
		goto bad;
	return tunnel_run(&o);
bad:
	log_err("%s", err);
	return TUNNEL_EXIT_USAGE;
}
