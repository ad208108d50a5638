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
 * Records.  During the handshake every record goes through BearSSL's
 * engine, which holds one record each way.  After it, application data
 * bypasses that buffer, with the engine's own record ciphers (tls_rec.c, the
 * one file that touches engine internals): tls_seal() seals 16 KiB
 * records straight into obuf, where many are written with one call, and
 * tls_open() decrypts records in place in ibuf, where many were read with
 * one call.  Bulk data is so copied once on the way out (pbuf to obuf) and
 * never on the way in.  Other records (alerts, a renegotiation attempt)
 * still go to the engine, whole and in stream order; engine output is
 * staged in obuf in the order it is made, and nothing is sealed while the
 * engine holds a record of its own.
 */
#define TLS_OBUF	(256u * 1024)
#define TLS_IBUF	(256u * 1024)
#define TLS_PBUF	(128u * 1024)	/* plaintext from the caller */
#define TLS_PLAIN_MAX	16384u		/* a record's plaintext, at most */
#define TLS_REC_MAX	(5u + 16384u + 2048u)	/* a record, at most (RFC 5246) */
#define TLS_AEAD_MAX	64u		/* AEAD overhead: GCM 24, ChaCha20 16 */

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
	int rd_eof;		/* the peer's stream ended */
	/* obuf holds whole records: [ohead, oend), then [0, owrap) if set */
	size_t ohead, oend, owrap;
	int wrapped;
	size_t ihead, ilen;	/* ciphertext in ibuf, not opened or fed */
	size_t ifeed;		/* bytes of a record still due to the engine */
	unsigned char *qptr;	/* plaintext of the record opened, in ibuf */
	size_t qlen;		/* ... not taken yet */
	int q_engine;		/* tls_recv_buf gave the engine's plaintext */
	size_t phead, plen;	/* plaintext in pbuf, not sealed yet */
	int flush_want;		/* tls_flush: seal a partial record too */
	int close_want;		/* tls_close: once pbuf is sealed */
	int closing;		/* tls_close was called: no more plaintext */
	char why[192];
	/* Not cleared by tls_conn_start: pages are touched as they are used. */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	unsigned char obuf[TLS_OBUF];
	unsigned char ibuf[TLS_IBUF];
	unsigned char pbuf[TLS_PBUF];
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
	tls_gcm_setup(eng);
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

/* The staged records as up to two iovecs; returns how many. */
static int
tls_out_iov(const struct tls_conn *c, struct iovec iov[2])
{
	int cnt = 0;

	if (c->oend > c->ohead) {
		iov[cnt].iov_base = (void *)(uintptr_t)(c->obuf + c->ohead);
		iov[cnt++].iov_len = c->oend - c->ohead;
	}
	if (c->wrapped && c->owrap > 0) {
		iov[cnt].iov_base = (void *)(uintptr_t)c->obuf;
		iov[cnt++].iov_len = c->owrap;
	}
	return cnt;
}

static int
tls_out_empty(const struct tls_conn *c)
{
	return c->oend == c->ohead && !(c->wrapped && c->owrap > 0);
}

/*
 * Room for a record of up to need bytes, contiguous (records never wrap):
 * at the end of obuf, else at its start once the head moved past need.
 * Returns where, with the contiguous room in *room, or NULL.
 */
static unsigned char *
tls_out_slot(struct tls_conn *c, size_t need, size_t *room)
{
	if (tls_out_empty(c))
		c->ohead = c->oend = c->owrap = 0, c->wrapped = 0;
	if (!c->wrapped && TLS_OBUF - c->oend >= need) {
		*room = TLS_OBUF - c->oend;
		return c->obuf + c->oend;
	}
	if (!c->wrapped && c->ohead > need) {
		*room = c->ohead - 1;
		return c->obuf;
	}
	if (c->wrapped && c->ohead - c->owrap > need) {
		*room = c->ohead - c->owrap - 1;
		return c->obuf + c->owrap;
	}
	*room = 0;
	return NULL;
}

/* A record of len bytes was put at the slot tls_out_slot gave. */
static void
tls_out_commit(struct tls_conn *c, const unsigned char *at, size_t len)
{
	if (!c->wrapped && at == c->obuf + c->oend) {
		c->oend += len;
	} else if (!c->wrapped) {
		c->wrapped = 1;
		c->owrap = len;
	} else {
		c->owrap += len;
	}
}

/* n bytes of the staged records were written. */
static void
tls_out_drain(struct tls_conn *c, size_t n)
{
	size_t first = c->oend - c->ohead;

	if (n < first) {
		c->ohead += n;
		return;
	}
	n -= first;
	if (c->wrapped) {
		c->ohead = n;
		c->oend = c->owrap;
		c->owrap = 0;
		c->wrapped = 0;
	} else {
		c->ohead = c->oend;
	}
}

/*
 * Move a record the engine made (handshake, alert) into obuf, while it
 * fits: the engine can then make the next.  No I/O.  A full obuf leaves
 * it in the engine, which then takes no more: that bounds the output.
 */
static int
tls_stage(struct tls_conn *c)
{
	unsigned char *buf, *at;
	size_t len, room;
	int moved = 0;

	while (!(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)) {
		buf = br_ssl_engine_sendrec_buf(c->eng, &len);
		if (buf == NULL || (at = tls_out_slot(c, len, &room)) == NULL)
			break;
		memcpy(at, buf, len);
		tls_out_commit(c, at, len);
		/* May run the handshake on: more records, or the close. */
		br_ssl_engine_sendrec_ack(c->eng, len);
		moved = 1;
	}
	return moved;
}

/*
 * We may seal application data ourselves: the engine is in the data phase
 * with no record of its own pending (it would take application data).
 */
static int
tls_bulk_out(const struct tls_conn *c)
{
	size_t len;

	return !(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED) &&
	    br_ssl_engine_sendapp_buf(c->eng, &len) != NULL;
}

/*
 * Seal staged plaintext into obuf: full records as they fill, a partial
 * one when flushing; then a pending close.  Stops when obuf is full.
 * No I/O.
 */
static int
tls_seal(struct tls_conn *c)
{
	unsigned char *at, *rec;
	size_t n, len, room;
	int moved = tls_stage(c);

	while (c->plen > 0 && tls_bulk_out(c)) {
		n = c->plen < TLS_PLAIN_MAX ? c->plen : TLS_PLAIN_MAX;
		if (n < TLS_PLAIN_MAX && !c->flush_want && !c->close_want)
			break;
		at = tls_out_slot(c, 5 + n + TLS_AEAD_MAX, &room);
		if (at == NULL)
			break;
		rec = tls_rec_seal(c->eng, at, room, c->pbuf + c->phead, &n,
		    &len);
		tls_out_commit(c, rec, len);
		c->phead += n;
		c->plen -= n;
		moved = 1;
	}
	if (c->plen > 0)
		return moved;
	c->phead = 0;
	c->flush_want = 0;
	if (c->close_want) {
		c->close_want = 0;
		br_ssl_engine_close(c->eng);
		moved |= tls_stage(c);
	}
	return moved;
}

/*
 * We may open application data records ourselves: the engine decrypts
 * (the handshake is over) and takes application data, and no record of
 * ours is half fed to it.
 */
static int
tls_bulk_in(const struct tls_conn *c)
{
	return c->ifeed == 0 && tls_rec_bulk_in(c->eng);
}

/* The length field of the record header at h (5 bytes). */
static size_t
tls_rec_len(const unsigned char *h)
{
	return (size_t)h[3] << 8 | h[4];
}

static int
tls_rec_fail(struct tls_conn *c, const char *what)
{
	c->done = 1;
	snprintf(c->why, sizeof(c->why), "%s from the TLS peer", what);
	return 0;
}

/*
 * Open what was read: application data records in place, their plaintext
 * moved up to follow the last one's (qptr, qlen: what tls_recv_buf gives,
 * many records in one piece so that the caller writes it on in large
 * writes); any other record is fed whole to the engine, once the
 * plaintext before it was taken.  Stops at a partial record, or when the
 * engine takes no more.  No I/O.  Returns 1 if anything moved.
 */
static int
tls_open(struct tls_conn *c)
{
	unsigned char *buf, *h, *p;
	const char *why;
	size_t len, rlen;
	int moved = 0;

	while (!c->done &&
	    !(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)) {
		if (br_ssl_engine_recvapp_buf(c->eng, &len) != NULL)
			return moved;	/* the engine's plaintext goes first */
		if (c->ifeed > 0) {
			buf = br_ssl_engine_recvrec_buf(c->eng, &len);
			if (buf == NULL || c->ilen == 0)
				return moved;
			if (len > c->ifeed)
				len = c->ifeed;
			if (len > c->ilen)
				len = c->ilen;
			memcpy(buf, c->ibuf + c->ihead, len);
			c->ihead += len;
			c->ilen -= len;
			c->ifeed -= len;
			br_ssl_engine_recvrec_ack(c->eng, len);
			moved = 1;
			continue;
		}
		if (c->ilen < 5)
			return moved;
		h = c->ibuf + c->ihead;
		rlen = tls_rec_len(h);
		if (h[0] != TLS_REC_APPDATA || !tls_bulk_in(c)) {
			if (c->qlen > 0)
				return moved;
			/* The engine checks the header, as always. */
			c->ifeed = 5 + rlen;
			continue;
		}
		if ((why = tls_rec_check(c->eng, h)) != NULL)
			return tls_rec_fail(c, why);
		if (c->ilen < 5 + rlen)
			return moved;
		p = tls_rec_open(c->eng, h, &len);
		if (p == NULL)
			return tls_rec_fail(c, "a record that fails "
			    "authentication (bad MAC)");
		if (c->qlen == 0)
			c->qptr = p;
		else if (len > 0)
			memmove(c->qptr + c->qlen, p, len);
		c->qlen += len;
		c->ihead += 5 + rlen;
		c->ilen -= 5 + rlen;
		moved = 1;
	}
	return moved;
}

/* Plaintext waits for the caller: ours, or the engine's. */
static int
tls_app_pending(const struct tls_conn *c)
{
	size_t len;

	return c->qlen > 0 ||
	    br_ssl_engine_recvapp_buf(c->eng, &len) != NULL;
}

static int
tls_finish(struct tls_conn *c, int wfd)
{
	static const unsigned char rec0[7] = { 21, 3, 3, 0, 2, 2, 0 };
	unsigned char *at;
	struct iovec iov[2];
	int err = br_ssl_engine_last_error(c->eng), cnt;
	size_t room;

	c->done = 1;
	if (err == BR_ERR_OK) {
		c->clean = 1;
		snprintf(c->why, sizeof(c->why), "closed cleanly");
		return -1;
	}
	at = tls_out_slot(c, 7, &room);
	if (!c->ready && tls_alert_refusal(err) != 0 && at != NULL) {
		/* After what is staged (the rest of a half written record
		 * first), so the stream stays well formed; best effort. */
		memcpy(at, rec0, sizeof(rec0));
		at[6] = (unsigned char)tls_alert_refusal(err);
		tls_out_commit(c, at, sizeof(rec0));
		cnt = tls_out_iov(c, iov);
		(void)tls_writev(c, wfd, iov, cnt);
	}
	c->ohead = c->oend = c->owrap = 0;
	c->wrapped = 0;
	tls_alert_explain(c->why, sizeof(c->why), err, c->ready,
	    c->cfg->key_type != 0, c->cfg->peer_name);
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
 * Write staged records.  Returns 1 if bytes moved, 0 if the fd would
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
	tls_out_drain(c, (size_t)n);
	return 1;
}

/*
 * Room to read into at the end of ibuf.  With compact, what is left of a
 * partial record moves to the front first when the end is short of room
 * for a whole one (never while plaintext in ibuf waits to be taken).
 */
static size_t
tls_in_room(struct tls_conn *c, int compact)
{
	if (c->qlen > 0)
		return TLS_IBUF - c->ihead - c->ilen;
	if (c->ilen == 0)
		c->ihead = 0;
	if (TLS_IBUF - c->ihead - c->ilen < TLS_REC_MAX &&
	    c->ilen < TLS_REC_MAX) {
		if (!compact)
			return TLS_IBUF - c->ilen;
		memmove(c->ibuf, c->ibuf + c->ihead, c->ilen);
		c->ihead = 0;
	}
	return TLS_IBUF - c->ihead - c->ilen;
}

/*
 * Read what the peer sent into ibuf.  Returns 1 if bytes moved, 2 if they
 * did and drained the fd, 0 if it would block (or ibuf is full, or the
 * stream ended), -1 when done.
 */
static int
tls_pump_in(struct tls_conn *c, int rfd)
{
	size_t room = tls_in_room(c, 1);
	ssize_t n;

	if (room == 0 || c->rd_eof)
		return 0;
	n = read(rfd, c->ibuf + c->ihead + c->ilen, room);
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return tls_io_fail(c, "read from TLS peer");
	}
	if (n == 0) {
		/* What was read before still counts (a close_notify?). */
		c->rd_eof = 1;
		return 1;
	}
	c->ilen += (size_t)n;
	/* Short: the fd is drained; poll says when there is more. */
	return (size_t)n < room ? 2 : 1;
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
			moved |= tls_open(c);
			if (c->done)
				return -1;	/* a bad record from the peer */
			moved |= tls_seal(c);
			st = br_ssl_engine_current_state(c->eng);
			if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
				c->ready = 1;
		}
		closed = st & BR_SSL_CLOSED;
		if (closed && (tls_out_empty(c) || !tls_flush_on_close(c))) {
			/*
			 * What was decrypted before the close or failure is
			 * the caller's first: the end is reported once it is
			 * taken.
			 */
			if (tls_app_pending(c))
				return 0;
			return tls_finish(c, wfd);
		}
		if (!tls_out_empty(c) && !wblocked) {
			r = tls_pump_out(c, wfd);
			/* A peer that hung up may have said why first: read
			 * its alert before reporting the write error. */
			if (r < 0)
				werr = errno;
			moved |= r > 0;
			wblocked = r <= 0;
		}
		if (!closed && !rblocked) {
			if ((r = tls_pump_in(c, rfd)) < 0)
				return -1;
			moved |= r > 0;
			rblocked = r != 1;
		}
		if (!moved)
			break;
	}
	if (werr != 0) {
		errno = werr;
		return tls_io_fail(c, "write to TLS peer");
	}
	if (!closed && c->rd_eof && !tls_app_pending(c)) {
		/* Nothing left to open, and no close_notify came. */
		c->done = 1;
		snprintf(c->why, sizeof(c->why), c->ready ? "peer closed the "
		    "connection without close_notify (stream truncated)" :
		    "peer closed the connection during the TLS handshake");
		return -1;
	}
	if (!tls_out_empty(c) || (st & BR_SSL_SENDREC))
		want |= TLS_WANT_WRITE;
	if (!closed && !c->rd_eof && tls_in_room(c, 0) > 0)
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
	/* Full records are sealed, making room for more. */
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
	unsigned char *buf;

	*len = 0;
	if (c->done)
		return NULL;
	c->q_engine = 0;
	tls_open(c);
	if ((buf = br_ssl_engine_recvapp_buf(c->eng, len)) != NULL) {
		c->q_engine = 1;
		return buf;
	}
	*len = c->qlen;
	return c->qlen > 0 ? c->qptr : NULL;
}

void
tls_recv_ack(struct tls_conn *c, size_t n)
{
	if (c->q_engine) {
		br_ssl_engine_recvapp_ack(c->eng, n);
		c->q_engine = 0;
		return;
	}
	c->qptr += n;
	c->qlen -= n;
}

size_t
tls_in_due(const struct tls_conn *c, size_t plain_left)
{
	size_t rec = 0, len;

	if (br_ssl_engine_recvapp_buf(c->eng, &len) != NULL)
		return 0;	/* plaintext we cannot count: no guess */
	if (c->ifeed > c->ilen)
		rec = c->ifeed - c->ilen;
	else if (c->ifeed == 0 && c->ilen >= 5) {
		len = 5 + tls_rec_len(c->ibuf + c->ihead);
		if (len > c->ilen)
			rec = len - c->ilen;
	}
	/* What was read holds at most as much plaintext as its length. */
	if (plain_left > c->ilen + c->qlen &&
	    plain_left - c->ilen - c->qlen > rec)
		return plain_left - c->ilen - c->qlen;
	return rec;
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
	br_ssl_session_parameters sp;

	if (!c->ready)
		return NULL;
	br_ssl_engine_get_session_parameters(c->eng, &sp);
	switch (sp.cipher_suite) {
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
