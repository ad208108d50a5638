#ifndef MIG_DESTURI_H
#define MIG_DESTURI_H
/*
 * mig-send --desturi and mig-recv --listen: where the destination's
 * control connection is.  Accepted:
 *   unix:PATH, unix:///PATH               a unix socket
 *   tcp:HOST:PORT                         TCP
 *   qemu+unix:///system?socket=PATH       libvirt's spelling (also
 *   qemu+unix:///session?socket=PATH)     session), so the guide's
 *                                         command runs unchanged
 * No I/O.
 */
#include <stddef.h>

#include "base/endpoint.h"

/*
 * Parse text into ep (a unix or tcp endpoint).  Returns 0, or -1 with
 * one line in err naming what was wrong (another libvirt transport, no
 * socket= parameter, an unknown parameter, a bad path).
 */
int desturi_parse(const char *text, struct endpoint *ep, char *err,
    size_t errlen);

#endif
