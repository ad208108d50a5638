#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/sock.h"

int
opt_number(const char *opt, const char *val, int64_t min, int64_t max,
    int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(val, &end, 10);
	if (val[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		log_err("%s: '%s' is not a whole number from %lld to %lld", opt,
		    val, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
opt_endpoint(const char *opt, const char *val, unsigned allowed,
    struct endpoint *ep)
{
	char err[400];

	char cwd[4096];
	int n;

	if (endpoint_parse(val, allowed, ep, err, sizeof(err)) < 0) {
		log_err("%s: %s", opt, err);
		return -1;
	}
	/* QEMU resolves a relative path against its own directory, not ours. */
	if (ep->kind == ENDPOINT_UNIX && ep->path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			cwd[0] = '\0';
		n = snprintf(err, sizeof(err), "%s/%s", cwd, ep->path);
		if (cwd[0] == '\0' || n < 0 || (size_t)n >= sizeof(ep->path)) {
			log_err("%s: '%s': the absolute socket path is longer "
			    "than %zu bytes", opt, val, sizeof(ep->path) - 1);
			return -1;
		}
		memcpy(ep->path, err, (size_t)n + 1);
	}
	return 0;
}

void
opt_bad(int c, char **argv, const char *shortopts)
{
	/* getopt leaves the offending word just before optind, and in optopt
	 * 0 for an unknown long option, the letter for a short one, and the
	 * option's value for a long option given a value it does not take. */
	const char *word = argv[optind - 1];

	if (c == ':' && optopt > 0 && optopt < 256)
		/* musl moves optind past argc for "-L" ending the line. */
		log_err("-%c needs a value (see --help)", optopt);
	else if (c == ':')
		log_err("%s needs a value (see --help)", word);
	else if (optopt == 0)
		log_err("unknown option '%s' (see --help)", word);
	else if (optopt < 256 && strchr(shortopts, optopt) == NULL)
		log_err("unknown option '-%c' (see --help)", optopt);
	else
		log_err("%s takes no value (see --help)", word);
}

int
opt_socket_context(const char *val)
{
	char err[400];

	if (val[0] == '\0') {
		log_err("--socket-context needs a context "
		    "(user:role:type:level)");
		return -1;
	}
	if (sock_set_context(val, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}
