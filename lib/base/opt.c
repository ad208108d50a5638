#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/opt.h"

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

	if (endpoint_parse(val, allowed, ep, err, sizeof(err)) < 0) {
		log_err("%s: %s", opt, err);
		return -1;
	}
	return 0;
}
