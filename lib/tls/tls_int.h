#ifndef MIG_TLS_INT_H
#define MIG_TLS_INT_H
/*
 * Private to lib/tls: the loaded configuration, shared by tls_pem.c (which
 * builds it from PEM files) and tls.c (which runs sessions with it); the
 * record ciphers (tls_rec.c) and the failure texts (tls_alert.c) tls.c uses.
 */
#include <bearssl.h>

#include "tls/tls.h"

struct tls_config {
	/* Our chain, leaf first; the DER bytes live in chain_der. */
	br_x509_certificate *chain;
	size_t chain_len;
	unsigned char *chain_der;
	/* Our private key (key_type BR_KEYTYPE_EC or _RSA; 0 = none). */
	int key_type;
	br_skey_decoder_context key;
	/* CAs we trust; each anchor's bytes are one block at dn.data. */
	br_x509_trust_anchor *tas;
	size_t num_tas;
	char *peer_name;		/* NULL: any name the CA signed */
};

/*
 * AES-GCM on 256-bit registers (tls_gcm.c), for CPUs with AVX2, VAES and
 * VPCLMULQDQ.  tls_gcm_setup: make eng's AES-GCM records use them (call
 * after br_ssl_engine_set_default_aes_gcm; on other CPUs it does nothing).
 * tls_gcm_ghash and tls_gcm_ctr: the two, or 0 and NULL on other CPUs;
 * each computes exactly what BearSSL's br_ghash_ctmul64 and AES-CTR do.
 */
void tls_gcm_setup(br_ssl_engine_context *eng);
br_ghash tls_gcm_ghash(void);
const br_block_ctr_class *tls_gcm_ctr(void);

#define TLS_REC_APPDATA	23	/* record type: application data */

/*
 * Application data records with the engine's own ciphers (tls_rec.c, the
 * only file that touches engine internals).  tls_rec_bulk_in: the engine
 * is past the handshake, takes application data and has not received a
 * close, so its records may be opened outside it.  tls_rec_check: NULL if
 * the record header at h (5 bytes) has the engine's version and a length
 * its cipher accepts, else what is wrong.  tls_rec_open: decrypt the
 * checked record at h (header and body all there) in place; the plaintext
 * and its length *len, or NULL if it fails authentication.  tls_rec_seal:
 * seal up to *n bytes of plain as one application data record in the
 * room bytes at at; *n becomes what it took, *len the record's length,
 * and the record's start is returned (within at).
 */
int tls_rec_bulk_in(const br_ssl_engine_context *eng);
const char *tls_rec_check(br_ssl_engine_context *eng, const unsigned char *h);
unsigned char *tls_rec_open(br_ssl_engine_context *eng, unsigned char *h,
    size_t *len);
unsigned char *tls_rec_seal(br_ssl_engine_context *eng, unsigned char *at,
    size_t room, const unsigned char *plain, size_t *n, size_t *len);

/*
 * Failure texts (tls_alert.c).  tls_alert_explain: put in why (len bytes)
 * one line saying why the engine stopped with BearSSL error err: ready,
 * the handshake had completed; have_key, we have a certificate to offer;
 * peer_name, the name we required (if err says it did not match).
 * tls_alert_refusal: the alert that tells the peer why we refused its
 * certificate for err, or 0 if none applies.
 */
void tls_alert_explain(char *why, size_t len, int err, int ready,
    int have_key, const char *peer_name);
int tls_alert_refusal(int err);

#endif
