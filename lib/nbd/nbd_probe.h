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
 * one-line reason for MISSING and ERROR.  deadline_ms is clock_ms() time
 * (0: none) and bounds everything, connecting included.
 */
int nbd_probe_run(const struct endpoint *ep, const char *name,
    int64_t deadline_ms, struct nbd_export_info *info, char *err,
    size_t errlen);

/*
 * The state machine, which does no I/O (nbd_probe_run is one user of it).
 * Drive it like this until nbd_probe_finished():
 *   - send what nbd_probe_out() gives, then report the count written with
 *     nbd_probe_sent();
 *   - read at most nbd_probe_want() bytes and pass them to nbd_probe_in(),
 *     or call nbd_probe_eof() when the peer closed the connection.
 * Once nbd_probe_decided() the answer is known; the machine then still
 * sends NBD_OPT_ABORT and waits for its reply, which a caller may cut
 * short.  Every failure is recorded in the machine: no function here
 * fails, and nbd_probe_result() reports.  The struct is plain data
 * (about 4.5 KiB) and may live on the stack; its fields are private.
 */
struct nbd_probe {
	int state;		/* NBD_PROBE_S_*, private to nbd_probe.c */
	int result;		/* enum nbd_probe_result once decided */
	int decided;
	int have_export;	/* an NBD_INFO_EXPORT arrived */
	uint32_t reply;		/* current option reply: type */
	uint32_t len;		/* current option reply: payload length */
	size_t need;		/* bytes to collect into in[] */
	size_t have;		/* bytes collected into in[] */
	size_t skip;		/* then bytes to discard */
	size_t optlen;		/* prepared client flags + NBD_OPT_INFO */
	size_t outoff, outlen;	/* pending output: out[outoff..outlen) */
	struct nbd_export_info info;
	char shown[48];		/* export name for messages, maybe cut */
	char err[256];
	uint8_t in[128];
	uint8_t out[4 + 16 + 4 + 4096 + 2 + 2 * 2 + 16];
};

/*
 * Start a probe for export 'name' (a C string of at most 4096 bytes, which
 * need not outlive the call).  A longer name makes the machine finish at
 * once with NBD_PROBE_ERROR.
 */
void nbd_probe_init(struct nbd_probe *p, const char *name);

/*
 * Bytes the machine wants sent now: returns a pointer into p and sets *len
 * (0 when there is nothing to send; the pointer is then not to be used).
 * Valid until the next call that changes p.
 */
const uint8_t *nbd_probe_out(struct nbd_probe *p, size_t *len);

/* n bytes of what nbd_probe_out() gave were written (n <= its *len). */
void nbd_probe_sent(struct nbd_probe *p, size_t n);

/*
 * How many bytes the machine can take right now without reading past the
 * message it is in (0: it is waiting for nothing).  Reading at most this
 * many keeps a caller from consuming bytes that are not the machine's.
 */
size_t nbd_probe_want(const struct nbd_probe *p);

/*
 * Feed len received bytes; any amount may be given.  Returns how many were
 * consumed: all of them, unless the machine finished (decided with an
 * error, or done) part way, in which case the rest is not its business.
 */
size_t nbd_probe_in(struct nbd_probe *p, const void *buf, size_t len);

/* The server closed its side.  Mid-handshake, that is an error. */
void nbd_probe_eof(struct nbd_probe *p);

/* Nonzero once the result is known (it does not change afterwards). */
int nbd_probe_decided(const struct nbd_probe *p);

/* Nonzero when the machine neither sends nor expects more: close now. */
int nbd_probe_finished(const struct nbd_probe *p);

/*
 * The outcome: an nbd_probe_result, NBD_PROBE_ERROR ("handshake did not
 * finish") if not yet decided.  On NBD_PROBE_FOUND *info is filled (info
 * may be NULL); otherwise err (may be NULL) gets a one-line reason
 * without the server's address.
 */
int nbd_probe_result(const struct nbd_probe *p, struct nbd_export_info *info,
    char *err, size_t errlen);

#endif
