/*
 * TLS sessions: BearSSL's engine, configured for mutual TLS 1.2 with ECDHE
 * and AEAD suites only, driven by tls_pump() on a nonblocking fd.  The
 * engine itself does no I/O and this file allocates nothing: all state is
 * in the caller's struct tls_conn.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tls/tls_int.h"

/*
 * br_x509_minimal behind a wrapper that names the peer.  BearSSL's server
 * starts the client's chain with no name to match, so without this a
 * server could not check the client's name; both sides use it so the name
 * checked is always the configured one, never what the peer sent as SNI.
 */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context xm;
	const char *name;
};

/*
 * Staging: BearSSL holds one record each way.  Sealed records are copied
 * out of the engine into a ring (so it seals the next at once) and written
 * many at a time; input is read in bulk and fed to the engine a record at a
 * time.  Both are bounded: a full ring makes tls_send_buf() return no room.
 */
#define TLS_OBUF	(256u * 1024)
#define TLS_IBUF	(256u * 1024)
/*
 * Plaintext is staged too, each way, so the caller reads and writes its
 * own sockets in large pieces rather than a record at a time: what it
 * writes into pbuf is cut into records by tls_seal(), and decrypted records
 * are gathered into qbuf for tls_recv_buf().
 */
#define TLS_PBUF	(128u * 1024)
#define TLS_QBUF	(128u * 1024)

struct tls_conn {
	union {
		br_ssl_client_context cli;
		br_ssl_server_context srv;
	} u;
	br_ssl_engine_context *eng;	/* &u.cli.eng or &u.srv.eng */
	struct tls_x509 x509;
	const struct tls_config *cfg;
	int ready;		/* the handshake completed (sticky) */
	int done;		/* tls_pump returned -1 (sticky) */
	int clean;		/* ... after close_notify both ways */
	int use_write;		/* the write fd is no socket: writev(2) */
	size_t ohead, olen;	/* sealed records in obuf, not written yet */
	size_t ioff, ilen;	/* ciphertext in ibuf, not fed to the engine */
	size_t phead, plen;	/* plaintext in pbuf, not in the engine yet */
	size_t qoff, qlen;	/* decrypted bytes in qbuf, not taken yet */
	int flush_want;		/* tls_flush: once pbuf is in the engine */
	int close_want;		/* tls_close: ... likewise */
	int closing;		/* tls_close was called: no more plaintext */
	char why[192];
	/* Not cleared by tls_conn_start: pages are touched as they are used. */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	unsigned char obuf[TLS_OBUF];
	unsigned char ibuf[TLS_IBUF];
	unsigned char pbuf[TLS_PBUF];
	unsigned char qbuf[TLS_QBUF];
};

static void
tx_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	(void)server_name;
	x->xm.vtable->start_chain(&x->xm.vtable, x->name);
}

static void
tx_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	x->xm.vtable->start_cert(&x->xm.vtable, length);
}

static void
tx_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	x->xm.vtable->append(&x->xm.vtable, buf, len);
}

static void
tx_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	x->xm.vtable->end_cert(&x->xm.vtable);
}

static unsigned
tx_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	return x->xm.vtable->end_chain(&x->xm.vtable);
}

static const br_x509_pkey *
tx_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509 *x = (const struct tls_x509 *)(const void *)ctx;

	return x->xm.vtable->get_pkey(&x->xm.vtable, usages);
}

static const br_x509_class tls_x509_vtable = {
	sizeof(struct tls_x509),
	tx_start_chain, tx_start_cert, tx_append, tx_end_cert, tx_end_chain,
	tx_get_pkey,
};

/*
 * Preference order, which the server enforces.  AES-128-GCM first: BearSSL
 * runs it with AES-NI and PCLMUL; without them constant-time AES is slow
 * and ChaCha20 (SSE2) goes first instead.
 */
static const uint16_t tls_suites_aesni[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};
static const uint16_t tls_suites_soft[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

size_t
tls_conn_size(void)
{
	return sizeof(struct tls_conn);
}

/* What both sides share: protocol, suites, algorithms, validator, buffer. */
static void
tls_setup(struct tls_conn *c)
{
	static const struct {
		int id;
		const br_hash_class *impl;
	} hashes[] = {
		{ br_sha224_ID, &br_sha224_vtable },
		{ br_sha256_ID, &br_sha256_vtable },
		{ br_sha384_ID, &br_sha384_vtable },
		{ br_sha512_ID, &br_sha512_vtable },
	};
	br_ssl_engine_context *eng = c->eng;
	br_x509_minimal_context *xm = &c->x509.xm;
	size_t i;

	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	if (br_aes_x86ni_ctr_get_vtable() != NULL)
		br_ssl_engine_set_suites(eng, tls_suites_aesni,
		    sizeof(tls_suites_aesni) / sizeof(tls_suites_aesni[0]));
	else
		br_ssl_engine_set_suites(eng, tls_suites_soft,
		    sizeof(tls_suites_soft) / sizeof(tls_suites_soft[0]));
	br_ssl_engine_set_ec(eng, br_ec_get_default());
	br_ssl_engine_set_ecdsa(eng, br_ecdsa_vrfy_asn1_get_default());
	br_ssl_engine_set_rsavrfy(eng, br_rsa_pkcs1_vrfy_get_default());
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	/* These pick AES-NI/PCLMUL and SSE2 code when the CPU has them. */
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);

	br_x509_minimal_init(xm, &br_sha256_vtable, c->cfg->tas,
	    c->cfg->num_tas);
	br_x509_minimal_set_rsa(xm, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xm, br_ec_get_default(),
	    br_ecdsa_vrfy_asn1_get_default());
	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].impl);
		br_x509_minimal_set_hash(xm, hashes[i].id, hashes[i].impl);
	}
	c->x509.vtable = &tls_x509_vtable;
	c->x509.name = c->cfg->peer_name;
	br_ssl_engine_set_x509(eng, &c->x509.vtable);

	br_ssl_engine_set_buffer(eng, c->iobuf, sizeof(c->iobuf), 1);
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
}

int
tls_conn_start(struct tls_conn *c, const struct tls_config *cfg,
    int is_server, char *err, size_t errlen)
{
	unsigned char seed[32];
	int ok;

	memset(c, 0, offsetof(struct tls_conn, iobuf));
	c->cfg = cfg;
	if (is_server) {
		if (cfg->key_type == 0) {
			snprintf(err, errlen, "a TLS server needs a "
			    "certificate and key");
			return -1;
		}
		br_ssl_server_zero(&c->u.srv);
		c->eng = &c->u.srv.eng;
		tls_setup(c);
		if (cfg->key_type == BR_KEYTYPE_EC)
			br_ssl_server_set_single_ec(&c->u.srv, cfg->chain,
			    cfg->chain_len, br_skey_decoder_get_ec(&cfg->key),
			    BR_KEYTYPE_SIGN, 0, br_ec_get_default(),
			    br_ecdsa_sign_asn1_get_default());
		else
			br_ssl_server_set_single_rsa(&c->u.srv, cfg->chain,
			    cfg->chain_len, br_skey_decoder_get_rsa(&cfg->key),
			    BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
			    br_rsa_pkcs1_sign_get_default());
		/* Naming our CAs is what makes BearSSL ask for, and require,
		 * a client certificate. */
		br_ssl_server_set_trust_anchor_names_alt(&c->u.srv, cfg->tas,
		    cfg->num_tas);
		br_ssl_engine_add_flags(c->eng,
		    BR_OPT_ENFORCE_SERVER_PREFERENCES);
	} else {
		br_ssl_client_zero(&c->u.cli);
		c->eng = &c->u.cli.eng;
		tls_setup(c);
		if (cfg->key_type == BR_KEYTYPE_EC)
			br_ssl_client_set_single_ec(&c->u.cli, cfg->chain,
			    cfg->chain_len, br_skey_decoder_get_ec(&cfg->key),
			    BR_KEYTYPE_SIGN, 0, br_ec_get_default(),
			    br_ecdsa_sign_asn1_get_default());
		else if (cfg->key_type == BR_KEYTYPE_RSA)
			br_ssl_client_set_single_rsa(&c->u.cli, cfg->chain,
			    cfg->chain_len, br_skey_decoder_get_rsa(&cfg->key),
			    br_rsa_pkcs1_sign_get_default());
	}
	/*
	 * getrandom(2) needs no /dev in a chroot; BearSSL still adds its own
	 * system seeder (urandom) on reset, and fails if neither worked.
	 */
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		br_ssl_engine_inject_entropy(c->eng, seed, sizeof(seed));
	explicit_bzero(seed, sizeof(seed));
	if (is_server)
		ok = br_ssl_server_reset(&c->u.srv);
	else
		ok = br_ssl_client_reset(&c->u.cli, cfg->peer_name, 0);
	if (!ok) {
		snprintf(err, errlen, "cannot start TLS (BearSSL error %d%s)",
		    br_ssl_engine_last_error(c->eng),
		    br_ssl_engine_last_error(c->eng) == BR_ERR_NO_RANDOM ?
		    ": no entropy source" : "");
		return -1;
	}
	return 0;
}

static const char *
tls_alert_name(int a)
{
	switch (a) {
	case 0:   return "close notify";
	case 10:  return "unexpected message";
	case 20:  return "bad record MAC";
	case 22:  return "record overflow";
	case 40:  return "handshake failure";
	case 42:  return "bad certificate";
	case 43:  return "unsupported certificate";
	case 44:  return "certificate revoked";
	case 45:  return "certificate expired";
	case 46:  return "certificate unknown";
	case 47:  return "illegal parameter";
	case 48:  return "unknown CA";
	case 49:  return "access denied";
	case 50:  return "decode error";
	case 51:  return "decrypt error";
	case 70:  return "protocol version";
	case 71:  return "insufficient security";
	case 80:  return "internal error";
	case 86:  return "inappropriate fallback";
	case 90:  return "user canceled";
	case 100: return "no renegotiation";
	case 110: return "unsupported extension";
	case 112: return "unrecognized name";
	case 116: return "certificate required";
	}
	return "unknown alert";
}

static const char *
tls_err_text(int err)
{
	switch (err) {
	case BR_ERR_X509_NOT_TRUSTED:
		return "peer certificate not trusted by the CA";
	case BR_ERR_X509_EXPIRED:
		return "peer certificate expired or not yet valid";
	case BR_ERR_NO_CLIENT_AUTH:
	case BR_ERR_X509_EMPTY_CHAIN:
		return "peer presented no certificate";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "no clock to check the peer certificate's dates";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "peer certificate chain has a bad signature";
	case BR_ERR_X509_NOT_CA:
		return "peer chain has an issuer that is not a CA";
	case BR_ERR_X509_DN_MISMATCH:
		return "peer chain is out of order (issuer is not the next "
		    "certificate's subject)";
	case BR_ERR_X509_WRONG_KEY_TYPE:
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
	case BR_ERR_WRONG_KEY_USAGE:
		return "peer certificate's key type or usage does not allow "
		    "this handshake";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "peer certificate's key is too weak";
	case BR_ERR_X509_UNSUPPORTED:
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "peer certificate uses an unsupported algorithm or "
		    "critical extension";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "peer chain is too long or too large";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "peer does not speak TLS 1.2 (not a TLS record, or "
		    "another version)";
	case BR_ERR_BAD_MAC:
		return "a record failed authentication (data corrupted or "
		    "tampered with)";
	case BR_ERR_BAD_LENGTH:
	case BR_ERR_TOO_LARGE:
	case BR_ERR_BAD_FRAGLEN:
	case BR_ERR_UNKNOWN_TYPE:
		return "peer sent a malformed record";
	case BR_ERR_NO_RANDOM:
		return "no entropy source (getrandom, /dev/urandom)";
	case BR_ERR_BAD_SIGNATURE:
		return "peer's handshake signature is invalid";
	case BR_ERR_BAD_FINISHED:
		return "handshake integrity check failed";
	case BR_ERR_BAD_CIPHER_SUITE:
	case BR_ERR_BAD_COMPRESSION:
	case BR_ERR_BAD_HANDSHAKE:
	case BR_ERR_UNEXPECTED:
	case BR_ERR_BAD_HELLO_DONE:
	case BR_ERR_BAD_CCS:
	case BR_ERR_BAD_ALERT:
		return "peer broke the TLS handshake protocol";
	}
	if (err > BR_ERR_X509_OK && err <= BR_ERR_X509_NOT_TRUSTED)
		return "peer certificate is malformed";
	return NULL;
}

/* Say why the engine stopped, once, while the session is at hand. */
static void
tls_explain(struct tls_conn *c, int err)
{
	const char *s;
	int a;

	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
		a = err - BR_ERR_RECV_FATAL_ALERT;
		if (c->ready)
			snprintf(c->why, sizeof(c->why), "peer ended the "
			    "session: %s (alert %d)", tls_alert_name(a), a);
		else if (a >= 42 && a <= 49)
			snprintf(c->why, sizeof(c->why), "peer refused our "
			    "certificate: %s (alert %d)", tls_alert_name(a), a);
		else
			snprintf(c->why, sizeof(c->why), "peer refused the "
			    "handshake: %s (alert %d)%s", tls_alert_name(a), a,
			    a == 40 && c->cfg->key_type == 0 ? "; it may "
			    "require a client certificate" : "");
		return;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT) {
		a = err - BR_ERR_SEND_FATAL_ALERT;
		snprintf(c->why, sizeof(c->why), "%s (sent alert %d: %s)",
		    a == 40 ? "no cipher suite, curve or signature algorithm "
		    "in common with the peer" : a == 70 ? "peer does not speak "
		    "TLS 1.2" : "handshake refused", a, tls_alert_name(a));
		return;
	}
	if (err == BR_ERR_X509_BAD_SERVER_NAME) {
		snprintf(c->why, sizeof(c->why), "peer name mismatch: its "
		    "certificate is not for '%s'", c->cfg->peer_name);
		return;
	}
	s = tls_err_text(err);
	if (s != NULL)
		snprintf(c->why, sizeof(c->why), "%s (BearSSL error %d)", s,
		    err);
	else
		snprintf(c->why, sizeof(c->why), "TLS protocol error "
		    "(BearSSL error %d)", err);
}

/*
 * The alert that tells the peer why we refused its certificate.  BearSSL
 * fails these silently, leaving the peer with a bare EOF.  They all happen
 * before our ChangeCipherSpec, so the alert goes as a plaintext record.
 */
static int
tls_refusal_alert(int err)
{
	switch (err) {
	case BR_ERR_NO_CLIENT_AUTH:
		return 40;	/* TLS 1.2 has no certificate_required */
	case BR_ERR_X509_NOT_TRUSTED:
		return 48;
	case BR_ERR_X509_EXPIRED:
		return 45;
	case BR_ERR_X509_BAD_SERVER_NAME:
		return 49;
	}
	return err > BR_ERR_X509_OK && err <= BR_ERR_X509_NOT_TRUSTED ? 42 : 0;
}

static ssize_t
tls_writev(struct tls_conn *c, int fd, const struct iovec *iov, int cnt)
{
	struct msghdr msg;
	ssize_t n;

	/* send(MSG_NOSIGNAL): a vanished peer is an error, not a SIGPIPE. */
	if (!c->use_write) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = (struct iovec *)(uintptr_t)iov;
		msg.msg_iovlen = (size_t)cnt;
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		c->use_write = 1;
	}
	return writev(fd, iov, cnt);
}

/* The staged output as up to two iovecs; returns how many. */
static int
tls_out_iov(const struct tls_conn *c, struct iovec iov[2])
{
	size_t first = TLS_OBUF - c->ohead;

	if (c->olen == 0)
		return 0;
	iov[0].iov_base = (void *)(uintptr_t)(c->obuf + c->ohead);
	if (c->olen <= first) {
		iov[0].iov_len = c->olen;
		return 1;
	}
	iov[0].iov_len = first;
	iov[1].iov_base = (void *)(uintptr_t)c->obuf;
	iov[1].iov_len = c->olen - first;
	return 2;
}

/* Append len bytes to the staged output; the caller checked the room. */
static void
tls_out_put(struct tls_conn *c, const unsigned char *buf, size_t len)
{
	size_t tail = (c->ohead + c->olen) % TLS_OBUF;
	size_t first = TLS_OBUF - tail;

	if (len <= first) {
		memcpy(c->obuf + tail, buf, len);
	} else {
		memcpy(c->obuf + tail, buf, first);
		memcpy(c->obuf, buf + first, len - first);
	}
	c->olen += len;
}

/*
 * Move sealed records out of the engine into the staged output, whole
 * records only, while they fit: the engine can then seal the next one.
 * No I/O.  A full stage leaves the record in the engine, which then takes
 * no more plaintext: that is what bounds the output.
 */
static int
tls_stage(struct tls_conn *c)
{
	unsigned char *buf;
	size_t len;
	int moved = 0;

	while (!(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)) {
		buf = br_ssl_engine_sendrec_buf(c->eng, &len);
		if (buf == NULL || len > TLS_OBUF - c->olen)
			break;
		tls_out_put(c, buf, len);
		/* May run the handshake on: more records, or the close. */
		br_ssl_engine_sendrec_ack(c->eng, len);
		moved = 1;
	}
	return moved;
}

/*
 * Hand staged plaintext to the engine, which seals each record as it
 * fills (tls_stage moves it out), then a pending flush or close.  Stops
 * when the stage is full.  No I/O.
 */
static int
tls_seal(struct tls_conn *c)
{
	unsigned char *buf;
	size_t len;
	int moved = 0;

	for (;;) {
		moved |= tls_stage(c);
		if (c->plen == 0)
			break;
		buf = br_ssl_engine_sendapp_buf(c->eng, &len);
		if (buf == NULL)
			return moved;
		if (len > c->plen)
			len = c->plen;
		memcpy(buf, c->pbuf + c->phead, len);
		c->phead += len;
		c->plen -= len;
		br_ssl_engine_sendapp_ack(c->eng, len);
	}
	c->phead = 0;
	if (c->flush_want) {
		c->flush_want = 0;
		br_ssl_engine_flush(c->eng, 0);
		moved |= tls_stage(c);
	}
	if (c->close_want) {
		c->close_want = 0;
		br_ssl_engine_close(c->eng);
		moved |= tls_stage(c);
	}
	return moved;
}

/*
 * Feed read-ahead ciphertext to the engine and gather what it decrypts
 * into qbuf, until qbuf is full or nothing is left.  No I/O.
 */
static int
tls_gather(struct tls_conn *c)
{
	unsigned char *buf;
	size_t len, room;
	int moved = 0;

	while (!(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)) {
		buf = br_ssl_engine_recvapp_buf(c->eng, &len);
		if (buf != NULL) {
			room = TLS_QBUF - c->qoff - c->qlen;
			if (room < len && c->qoff > 0) {
				memmove(c->qbuf, c->qbuf + c->qoff, c->qlen);
				c->qoff = 0;
				room = TLS_QBUF - c->qlen;
			}
			if (room == 0)
				return moved;
			if (len > room)
				len = room;
			memcpy(c->qbuf + c->qoff + c->qlen, buf, len);
			c->qlen += len;
			br_ssl_engine_recvapp_ack(c->eng, len);
			moved = 1;
			continue;
		}
		if (c->ilen == 0)
			return moved;
		buf = br_ssl_engine_recvrec_buf(c->eng, &len);
		if (buf == NULL)
			return moved;
		if (len > c->ilen)
			len = c->ilen;
		memcpy(buf, c->ibuf + c->ioff, len);
		c->ioff += len;
		c->ilen -= len;
		br_ssl_engine_recvrec_ack(c->eng, len);
		moved = 1;
	}
	return moved;
}

static int
tls_finish(struct tls_conn *c, int wfd)
{
	static const unsigned char rec0[7] = { 21, 3, 3, 0, 2, 2, 0 };
	unsigned char rec[7];
	struct iovec iov[2];
	int err = br_ssl_engine_last_error(c->eng), cnt;

	c->done = 1;
	if (err == BR_ERR_OK) {
		c->clean = 1;
		snprintf(c->why, sizeof(c->why), "closed cleanly");
		return -1;
	}
	memcpy(rec, rec0, sizeof(rec));
	rec[6] = (unsigned char)tls_refusal_alert(err);
	if (!c->ready && rec[6] != 0 && sizeof(rec) <= TLS_OBUF - c->olen) {
		/* After what is staged (the rest of a half written record
		 * first), so the stream stays well formed; best effort. */
		tls_out_put(c, rec, sizeof(rec));
		cnt = tls_out_iov(c, iov);
		(void)tls_writev(c, wfd, iov, cnt);
	}
	c->olen = 0;
	tls_explain(c, err);
	return -1;
}

static int
tls_io_fail(struct tls_conn *c, const char *what)
{
	c->done = 1;
	snprintf(c->why, sizeof(c->why), "%s%s: %s", what,
	    c->ready ? "" : " during the TLS handshake", strerror(errno));
	return -1;
}

/*
 * Write staged output.  Returns 1 if bytes moved, 0 if the fd would
 * block, -1 on error (errno).
 */
static int
tls_pump_out(struct tls_conn *c, int wfd)
{
	struct iovec iov[2];
	ssize_t n;
	int cnt;

	cnt = tls_out_iov(c, iov);
	n = tls_writev(c, wfd, iov, cnt);
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	c->olen -= (size_t)n;
	c->ohead = c->olen == 0 ? 0 : (c->ohead + (size_t)n) % TLS_OBUF;
	return 1;
}

/*
 * Feed the engine: from what was read ahead, else one read into the
 * engine's buffer and on into ibuf.  Returns 1 if bytes moved, 0 if the fd
 * would block, -1 when done.
 */
static int
tls_pump_in(struct tls_conn *c, int rfd)
{
	struct iovec iov[2];
	unsigned char *buf;
	size_t len;
	ssize_t n;

	buf = br_ssl_engine_recvrec_buf(c->eng, &len);
	if (c->ilen > 0) {
		n = len < c->ilen ? (ssize_t)len : (ssize_t)c->ilen;
		memcpy(buf, c->ibuf + c->ioff, (size_t)n);
		c->ioff += (size_t)n;
		c->ilen -= (size_t)n;
		br_ssl_engine_recvrec_ack(c->eng, (size_t)n);
		return 1;
	}
	iov[0].iov_base = buf;
	iov[0].iov_len = len;
	iov[1].iov_base = c->ibuf;
	iov[1].iov_len = TLS_IBUF;
	n = readv(rfd, iov, 2);
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return tls_io_fail(c, "read from TLS peer");
	}
	if (n == 0) {
		c->done = 1;
		snprintf(c->why, sizeof(c->why), c->ready ? "peer closed the "
		    "connection without close_notify (stream truncated)" :
		    "peer closed the connection during the TLS handshake");
		return -1;
	}
	if ((size_t)n > len) {
		c->ioff = 0;
		c->ilen = (size_t)n - len;
		n = (ssize_t)len;
	}
	br_ssl_engine_recvrec_ack(c->eng, (size_t)n);
	return 1;
}

/*
 * The engine stopped after sealing its last record (close_notify, or a
 * fatal alert it sent): that record is staged and must reach the peer
 * before the session is reported over.  Other failures drop the output,
 * as the engine does.
 */
static int
tls_flush_on_close(const struct tls_conn *c)
{
	int err = br_ssl_engine_last_error(c->eng);

	return err == BR_ERR_OK || err >= BR_ERR_SEND_FATAL_ALERT;
}

static int
tls_pump_io(struct tls_conn *c, int rfd, int wfd, int rblocked)
{
	unsigned st, closed;
	int r, moved, wblocked = 0, werr = 0, want = 0;

	if (c->done)
		return -1;
	/*
	 * Until neither direction moves: a direction that would block is not
	 * tried again in this call (poll will say when it can go on).
	 */
	for (;;) {
		st = br_ssl_engine_current_state(c->eng);
		moved = 0;
		if (!(st & BR_SSL_CLOSED)) {
			if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
				c->ready = 1;
			/* No I/O: what the engine can take in and seal now. */
			moved |= tls_gather(c);
			moved |= tls_seal(c);
			st = br_ssl_engine_current_state(c->eng);
			if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
				c->ready = 1;
		}
		closed = st & BR_SSL_CLOSED;
		if (closed && (c->olen == 0 || !tls_flush_on_close(c))) {
			/*
			 * What was decrypted before the close or failure is
			 * the caller's first, as when the engine held one
			 * record: the end is reported once it is taken.
			 */
			if (c->qlen > 0)
				return 0;
			return tls_finish(c, wfd);
		}
		if (c->olen > 0 && !wblocked) {
			r = tls_pump_out(c, wfd);
			/* A peer that hung up may have said why first: read
			 * its alert before reporting the write error. */
			if (r < 0)
				werr = errno;
			moved |= r > 0;
			wblocked = r <= 0;
		}
		if (!closed && (st & BR_SSL_RECVREC) && !rblocked) {
			if ((r = tls_pump_in(c, rfd)) < 0)
				return -1;
			moved |= r;
			rblocked = !r;
		}
		if (!moved)
			break;
	}
	if (werr != 0) {
		errno = werr;
		return tls_io_fail(c, "write to TLS peer");
	}
	if (c->olen > 0 || (st & BR_SSL_SENDREC))
		want |= TLS_WANT_WRITE;
	if (!closed && (st & BR_SSL_RECVREC))
		want |= TLS_WANT_READ;
	return want;
}

int
tls_pump_rw(struct tls_conn *c, int rfd, int wfd)
{
	return tls_pump_io(c, rfd, wfd, 0);
}

int
tls_pump_write(struct tls_conn *c, int rfd, int wfd)
{
	return tls_pump_io(c, rfd, wfd, 1);
}

int
tls_pump(struct tls_conn *c, int fd)
{
	return tls_pump_rw(c, fd, fd);
}

int
tls_ready(const struct tls_conn *c)
{
	return c->ready || (br_ssl_engine_current_state(c->eng) &
	    (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

unsigned char *
tls_send_buf(struct tls_conn *c, size_t *len)
{
	size_t room;

	*len = 0;
	if (c->done || c->closing || !tls_ready(c) ||
	    (br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED))
		return NULL;
	/* Staged plaintext goes into records, making room for more. */
	tls_seal(c);
	room = TLS_PBUF - c->phead - c->plen;
	if (room < TLS_PBUF / 4 && c->phead > 0) {
		memmove(c->pbuf, c->pbuf + c->phead, c->plen);
		c->phead = 0;
		room = TLS_PBUF - c->plen;
	}
	*len = room;
	return c->pbuf + c->phead + c->plen;
}

void
tls_send_ack(struct tls_conn *c, size_t n)
{
	/* Sealed by tls_send_buf, tls_flush or tls_pump, as records fill. */
	c->plen += n;
}

void
tls_flush(struct tls_conn *c)
{
	c->flush_want = 1;
	tls_seal(c);
}

unsigned char *
tls_recv_buf(struct tls_conn *c, size_t *len)
{
	*len = 0;
	if (c->done)
		return NULL;
	tls_gather(c);
	if (c->qlen == 0)
		return NULL;
	*len = c->qlen;
	return c->qbuf + c->qoff;
}

void
tls_recv_ack(struct tls_conn *c, size_t n)
{
	c->qoff += n;
	c->qlen -= n;
	if (c->qlen == 0)
		c->qoff = 0;
}

void
tls_close(struct tls_conn *c)
{
	/* After the staged plaintext: tls_seal closes once it is sealed. */
	c->closing = 1;
	c->close_want = 1;
	tls_seal(c);
}

int
tls_closed_cleanly(const struct tls_conn *c)
{
	return c->clean;
}

const char *
tls_error(const struct tls_conn *c)
{
	return c->why[0] != 0 ? c->why : "no error";
}

const char *
tls_suite(const struct tls_conn *c)
{
	if (!c->ready)
		return NULL;
	switch (c->eng->session.cipher_suite) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-RSA-CHACHA20-POLY1305";
	}
	return "unknown";
}
