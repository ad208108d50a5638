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

struct tls_config;	/* loaded certificates and keys: see tls_int.h */

/*
 * Load PEM files (each at most 1 MiB): our chain, leaf first; our private
 * key, EC (P-256, P-384, P-521) or RSA, PKCS#8 or traditional, unencrypted
 * and matching the leaf; the CA(s) we trust, one or more certificates.
 * cert_file and key_file both NULL: we present no certificate (a client
 * only; every server we talk to refuses that).  peer_name: if not NULL, the
 * peer certificate must carry it (DNS name SAN or CN, checked on both
 * sides); if NULL, any certificate the CA signed is accepted.
 * Returns a config (allocated once at start-up, freed by tls_config_free)
 * or NULL with a reason in err.
 */
struct tls_config *tls_config_load(const char *cert_file, const char *key_file,
    const char *ca_file, const char *peer_name, char *err, size_t errlen);
void tls_config_free(struct tls_config *cfg);

/*
 * One TLS session: allocated by the caller (tls_conn_size() bytes, about
 * 680 KiB: engine, validator, a 16 KiB record buffer each way for the
 * handshake, 256 KiB each way where records are sealed and opened in
 * place, many per read and write, and 128 KiB of plaintext to send, so
 * the caller moves its data in large pieces; pages are touched only as
 * they are used).  No resources are held beyond it: free it, or start it
 * again, at will.
 */
struct tls_conn;
size_t tls_conn_size(void);

/*
 * Start a session as client (connect side) or server (listen side) with
 * cfg, which must outlive it.  Returns 0 or -1 with err.
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
 * Call it again after tls_send_ack/tls_flush/tls_recv_ack/tls_close: no
 * more is read while 256 KiB of input wait to be opened and taken with
 * tls_recv_buf (the mask then lacks TLS_WANT_READ, and may be 0), and
 * sealed records wait for tls_pump to write them.  Once -1 was returned,
 * every later call returns -1.
 * Sealed records are staged (up to 256 KiB) and written with one call;
 * input is read up to 256 KiB at a time, and may be decrypted right away:
 * before waiting for the fd, take what tls_recv_buf has (poll will not
 * say it is there).  A record that fails
 * authentication ends the session.  A clean close, or a fatal alert the
 * engine sends, returns -1
 * only once everything staged (the close_notify or alert last) is written,
 * and any end (clean or not) only once the decrypted data that came before
 * it was taken with tls_recv_buf/tls_recv_ack (until then: 0).
 * A socket is written with send(MSG_NOSIGNAL), so a vanished peer is an
 * error rather than SIGPIPE; other fds (pipes) with write(2): the caller
 * ignores SIGPIPE.  A refused handshake has sent the peer an alert saying
 * why; closing a TCP socket with unread input resets it, which may lose
 * that over a real network: shutdown(SHUT_WR) and drain it first.
 */
int tls_pump(struct tls_conn *c, int fd);

/* The same over two fds, e.g. stdin and stdout of an ssh pipe. */
int tls_pump_rw(struct tls_conn *c, int rfd, int wfd);

/*
 * The same without reading rfd (input read ahead is still fed to the
 * engine): to push output out when poll did not say rfd is readable, which
 * saves a read that would only say EAGAIN.  The mask is the same.
 */
int tls_pump_write(struct tls_conn *c, int rfd, int wfd);

/* Nonzero once the handshake is complete (peer verified). */
int tls_ready(const struct tls_conn *c);

/* The suite agreed ("ECDHE-ECDSA-AES128-GCM-SHA256"); NULL before. */
const char *tls_suite(const struct tls_conn *c);

/*
 * Plaintext to send: room at the returned pointer (*len bytes, up to 128
 * KiB; 0 before the handshake, after tls_close, or while the stages are
 * full).  It is cut into 16 KiB records, each sealed when full (by
 * tls_send_buf, tls_flush or tls_pump, no I/O but in tls_pump);
 * tls_flush() seals a partial one so buffered plaintext goes out at the
 * next tls_pump().  So a caller can go on writing and call tls_pump()
 * once for many records.
 */
unsigned char *tls_send_buf(struct tls_conn *c, size_t *len);
void tls_send_ack(struct tls_conn *c, size_t n);
void tls_flush(struct tls_conn *c);

/*
 * Decrypted bytes available (*len, may be 0; many records' worth, valid
 * until tls_recv_ack or the next tls_pump).
 */
unsigned char *tls_recv_buf(struct tls_conn *c, size_t *len);
void tls_recv_ack(struct tls_conn *c, size_t n);

/*
 * Ciphertext the peer is sure to send still, beyond what was read: the
 * rest of a record begun, or of plain_left plaintext bytes the caller
 * knows are on their way (the rest of a message it is reading),
 * whichever is more.  A reader may wait for that much (SO_RCVLOWAT)
 * rather than wake for every segment.
 */
size_t tls_in_due(const struct tls_conn *c, size_t plain_left);

/*
 * Start a clean close: buffered plaintext is flushed, close_notify sent;
 * tls_pump returns -1 with tls_closed_cleanly() once the peer's came back.
 * A peer's close_notify is answered the same way without calling this.
 */
void tls_close(struct tls_conn *c);

/* After tls_pump returned -1: clean close, or the reason it failed. */
int tls_closed_cleanly(const struct tls_conn *c);
const char *tls_error(const struct tls_conn *c);

#endif
