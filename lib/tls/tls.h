#ifndef MIG_TLS_H
#define MIG_TLS_H
/*
 * Mutual TLS 1.2 over BearSSL for mig-tunnel's peer stream.
 *
 * The engine does no I/O of its own and allocates nothing: the caller owns
 * struct tls_conn (engine state and record buffers) and moves bytes:
 *  - tls_pump() reads/writes ciphertext on a nonblocking fd, as far as it can
 *    without blocking, and says which poll events it waits for;
 *  - tls_send_buf()/tls_send_ack() give direct access to the engine's
 *    plaintext output buffer (write into it, then ack), tls_flush() pushes a
 *    partial record out;
 *  - tls_recv_buf()/tls_recv_ack() give direct access to decrypted input.
 *
 * Only ECDHE suites with AES-GCM or ChaCha20-Poly1305 are offered; both
 * sides present a certificate chain and verify the peer's against the CA
 * file (and the peer's name when one is configured).
 */
#include <stddef.h>
#include <stdint.h>

struct tls_config;	/* loaded certificates and keys: see tls.c */

/*
 * Load PEM files: our chain, our private key (EC or RSA), the CA(s) we
 * trust.  peer_name: if not NULL, the peer certificate must carry it (DNS
 * name SAN or CN); if NULL, any certificate the CA signed is accepted.
 * Returns a config (allocated once at start-up, freed by tls_config_free) or
 * NULL with a reason in err.
 */
struct tls_config *tls_config_load(const char *cert_file, const char *key_file,
    const char *ca_file, const char *peer_name, char *err, size_t errlen);
void tls_config_free(struct tls_config *cfg);

/* One TLS session: allocated by the caller (tls_conn_size() bytes). */
struct tls_conn;
size_t tls_conn_size(void);

/*
 * Start a session as client (connect side) or server (listen side).
 * Returns 0 or -1 with err.
 */
int tls_conn_start(struct tls_conn *c, const struct tls_config *cfg,
    int is_server, char *err, size_t errlen);

enum {
	TLS_WANT_READ = 1,	/* poll the fd for POLLIN */
	TLS_WANT_WRITE = 2,	/* poll the fd for POLLOUT */
};

/*
 * Move ciphertext between the engine and fd (nonblocking) until it would
 * block.  Returns a mask of TLS_WANT_* (0 is allowed), or -1 when the
 * session is over: closed cleanly (tls_closed_cleanly() says so) or failed
 * (tls_error() says why: "peer certificate not trusted", ...).
 */
int tls_pump(struct tls_conn *c, int fd);

/* Nonzero once the handshake is complete (peer verified). */
int tls_ready(const struct tls_conn *c);

/* Plaintext to send: room at the returned pointer (*len bytes, may be 0). */
unsigned char *tls_send_buf(struct tls_conn *c, size_t *len);
void tls_send_ack(struct tls_conn *c, size_t n);
/* Close the current record so buffered plaintext goes out now. */
void tls_flush(struct tls_conn *c);

/* Decrypted bytes available (*len, may be 0). */
unsigned char *tls_recv_buf(struct tls_conn *c, size_t *len);
void tls_recv_ack(struct tls_conn *c, size_t n);

/* Start a clean close_notify. */
void tls_close(struct tls_conn *c);

int tls_closed_cleanly(const struct tls_conn *c);
const char *tls_error(const struct tls_conn *c);

#endif
