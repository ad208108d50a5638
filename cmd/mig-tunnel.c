/* mig-tunnel: every socket of a migration over one stream.  See mig-tunnel(1). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/opt.h"
#include "tunnel/tunnel.h"

static const char usage[] =
"usage: mig-tunnel [-L unix:LOCAL=NAME]... [-R NAME=unix:TARGET]...\n"
"                  [--tls-cert FILE --tls-key FILE --tls-ca FILE\n"
"                   [--tls-peer-name NAME] [--tls-client]]\n"
"                  [--insecure] [--keepalive SECS] [--handshake-timeout SECS]\n"
"                  [--max-sessions N] [--max-per-source N]\n"
"                  [--socket-context CONTEXT] [--verbose] [PEER]\n"
"Carries unix socket connections over one stream to another mig-tunnel.\n"
"  -L unix:LOCAL=NAME   listen on LOCAL; each connection opens channel NAME\n"
"  -R NAME=unix:TARGET  connect channels NAME opened by the peer to TARGET\n"
"  PEER  - (stdin/stdout, the default), unix:PATH, tcp:HOST:PORT (connect),\n"
"        listen:unix:PATH, listen:tcp:HOST:PORT (serve peers, each its own\n"
"        session).  tcp: needs TLS or --insecure.\n"
"  --handshake-timeout SECS  a peer must say hello (TLS: finish the\n"
"        handshake too) within this (default 10)\n"
"  --socket-context CONTEXT  the SELinux label of the sockets it creates\n"
"  --max-sessions N, --max-per-source N  listening: sessions at once, and\n"
"        of those from one address (unix: one user) (default 128, 8)\n"
"Exit: 0 peer said goodbye or stopped by a signal; 1 peer lost or runtime\n"
"      failure; 2 bad arguments or files; 3 TLS handshake or peer refused.\n";

enum {
	O_CERT = 256, O_KEY, O_CA, O_PEER_NAME, O_CLIENT, O_INSECURE,
	O_KEEPALIVE, O_HANDSHAKE, O_MAX_SESSIONS, O_PER_SOURCE, O_HELP,
	O_CONTEXT,
};

static const struct option longopts[] = {
	{ "tls-cert", required_argument, NULL, O_CERT },
	{ "tls-key", required_argument, NULL, O_KEY },
	{ "tls-ca", required_argument, NULL, O_CA },
	{ "tls-peer-name", required_argument, NULL, O_PEER_NAME },
	{ "tls-client", no_argument, NULL, O_CLIENT },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
	{ "handshake-timeout", required_argument, NULL, O_HANDSHAKE },
	{ "max-sessions", required_argument, NULL, O_MAX_SESSIONS },
	{ "max-per-source", required_argument, NULL, O_PER_SOURCE },
	{ "socket-context", required_argument, NULL, O_CONTEXT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	static struct tunnel_opts o;
	char err[600];
	int64_t v;
	int c, verbose = 0;

	log_init("mig-tunnel", 0);
	tunnel_opts_init(&o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":L:R:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			if (tunnel_add_local(&o, optarg, err, sizeof(err)) < 0)
				goto bad;
			break;
		case 'R':
			if (tunnel_add_route(&o, optarg, err, sizeof(err)) < 0)
				goto bad;
			break;
		case O_CERT:
			o.tls_cert = optarg;
			break;
		case O_KEY:
			o.tls_key = optarg;
			break;
		case O_CA:
			o.tls_ca = optarg;
			break;
		case O_PEER_NAME:
			o.tls_peer_name = optarg;
			break;
		case O_CLIENT:
			o.tls_client = 1;
			break;
		case O_INSECURE:
			o.insecure = 1;
			break;
		case O_KEEPALIVE:
			if (opt_number("--keepalive", optarg, 0, 3600, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.keepalive_s = (int)v;
			break;
		case O_HANDSHAKE:
			if (opt_number("--handshake-timeout", optarg, 1, 3600,
			    &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.handshake_s = (int)v;
			break;
		case O_MAX_SESSIONS:
			if (opt_number("--max-sessions", optarg, 1,
			    TUNNEL_MAX_SESSIONS, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.max_sessions = (int)v;
			o.limits_set = 1;
			break;
		case O_PER_SOURCE:
			if (opt_number("--max-per-source", optarg, 1,
			    TUNNEL_MAX_SESSIONS, &v) < 0)
				return TUNNEL_EXIT_USAGE;
			o.max_per_source = (int)v;
			o.limits_set = 1;
			break;
		case O_CONTEXT:
			if (opt_socket_context(optarg) < 0)
				return TUNNEL_EXIT_USAGE;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
		case O_HELP:
			fputs(usage, stdout);
			return TUNNEL_EXIT_OK;
		default:
			opt_bad(c, argv, "LRvh");
			return TUNNEL_EXIT_USAGE;
		}
	}
	log_init("mig-tunnel", verbose);
	if (argc - optind > 1) {
		log_err("one PEER at most (got '%s' and '%s')", argv[optind],
		    argv[optind + 1]);
		return TUNNEL_EXIT_USAGE;
	}
	if (optind < argc &&
	    tunnel_set_peer(&o, argv[optind], err, sizeof(err)) < 0)
		goto bad;
	if (tunnel_check(&o, err, sizeof(err)) < 0)
		goto bad;
	return tunnel_run(&o);
bad:
	log_err("%s", err);
	return TUNNEL_EXIT_USAGE;
}
