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
 * GHASH for the engine's AES-GCM records (tls_ghash.c).  tls_ghash_fast:
 * ours, eight blocks a step with VPCLMULQDQ, or 0 if this CPU lacks AVX2
 * or VPCLMULQDQ.  tls_ghash_get: tls_ghash_fast, else BearSSL's fastest;
 * never 0.  Both compute exactly what br_ghash_ctmul64 does.
 */
br_ghash tls_ghash_fast(void);
br_ghash tls_ghash_get(void);

#endif
