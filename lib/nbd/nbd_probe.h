#ifndef MIG_NBD_PROBE_H
#define MIG_NBD_PROBE_H
/*
 * Ask an NBD server (QEMU's, qemu-nbd, nbdkit) whether an export exists and
 * how large it is, without opening it for I/O: fixed newstyle handshake,
 * NBD_OPT_INFO (NBD_OPT_GO's sibling that does not enter transmission),
 * then NBD_OPT_ABORT.  mig-send uses it to check the destination before it
 * changes anything on the source.
 *
 * The handshake is a state machine (struct nbd_probe) that is fed bytes and
 * produces bytes; nbd_probe_run is the socket edge around it.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"

struct nbd_export_info {
	uint64_t size;		/* bytes */
	uint16_t flags;		/* NBD_FLAG_* transmission flags */
	int read_only;		/* NBD_FLAG_READ_ONLY set */
};

enum nbd_probe_result {
	NBD_PROBE_FOUND = 0,
	NBD_PROBE_MISSING = 1,	/* server answered NBD_REP_ERR_UNKNOWN */
	NBD_PROBE_ERROR = -1,	/* I/O, protocol or policy failure: see err */
};

/*
 * Connect to ep and look up export 'name' (at most 4096 bytes).  Returns an
 * nbd_probe_result; on NBD_PROBE_FOUND *info is filled.  err gets a
 * one-line reason for MISSING and ERROR.
 */
int nbd_probe_run(const struct endpoint *ep, const char *name,
    int64_t deadline_ms, struct nbd_export_info *info, char *err,
    size_t errlen);

#endif
