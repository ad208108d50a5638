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

/*
 * --socket-context: label the sockets this process creates from now on
 * (base/sock.h: sock_set_context); an empty context is refused.
 */
int opt_socket_context(const char *val);

/*
 * Report getopt_long's complaint as one line: call it for any return of
 * getopt_long (run with opterr = 0 and an optstring starting with ':')
 * that the caller does not handle.  shortopts: the valid short letters.
 */
void opt_bad(int c, char **argv, const char *shortopts);

#endif
