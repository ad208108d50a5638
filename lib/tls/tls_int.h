#ifndef MIG_TLS_INT_H
#define MIG_TLS_INT_H
/*
 * Private to lib/tls: the loaded configuration, shared by tls_pem.c (which
 * builds it from PEM files) and tls.c (which runs sessions with it).
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

#endif
