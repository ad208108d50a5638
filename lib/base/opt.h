#ifndef MIG_OPT_H
#define MIG_OPT_H
/*
 * Option values, checked with one clear line on failure.  Each returns 0,
 * or -1 after log_err() naming the option and what was wrong; the caller
 * then exits 2.
 */
#include <stdint.h>

#include "base/endpoint.h"

/* A whole decimal number in [min, max]. */
int opt_number(const char *opt, const char *val, int64_t min, int64_t max,
    int64_t *out);

/* An endpoint of one of the allowed kinds (ENDPOINT_ALLOW mask). */
int opt_endpoint(const char *opt, const char *val, unsigned allowed,
    struct endpoint *ep);

#endif
