#ifndef MIG_QMPARGS_H
#define MIG_QMPARGS_H
/*
 * Argument objects for the QMP commands both sides send, built with jsonw
 * so names and paths are always escaped.  Each returns buf, or NULL if it
 * did not fit (the caller treats that as a failed command).
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"

struct qmpargs_cap {
	const char *name;
	int on;
};

/* {"capabilities":[{"capability":name,"state":on},...]} */
const char *qmpargs_caps(char *buf, size_t len, const struct qmpargs_cap *caps,
    size_t n);

/* A SocketAddress member "key": {"type":"unix","path":..} or inet. */
struct jsonw;
void qmpargs_socket(struct jsonw *w, const char *key,
    const struct endpoint *ep, int legacy);

/*
 * A SocketAddress member "key" naming a descriptor passed with getfd:
 * {"type":"fd","str":name}; legacy (nbd-server-start's
 * SocketAddressLegacy) wraps it: {"type":"fd","data":{"str":name}}.
 */
void qmpargs_fd(struct jsonw *w, const char *key, const char *name,
    int legacy);

/* {"k1":"v1"} / {"k1":"v1","k2":"v2"}: the common one- and two-string forms. */
const char *qmpargs_str(char *buf, size_t len, const char *k1, const char *v1);
const char *qmpargs_str2(char *buf, size_t len, const char *k1, const char *v1,
    const char *k2, const char *v2);

#endif
