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

#endif
