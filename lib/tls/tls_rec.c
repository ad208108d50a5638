/*
 * The only file that reaches into BearSSL's engine past its API.
 *
 * After the handshake tls.c seals and opens application data records
 * itself, in its own large buffers, with the engine's own record ciphers
 * (so that sequence numbers and keys stay the engine's): BearSSL's engine
 * buffer holds one record each way, which costs a system call per 16 KiB.
 * bearssl_ssl.h declares these fields of br_ssl_engine_context opaque
 * ("shall not be accessed directly"); they are used here and nowhere else:
 *
 *	in.vtable		the inbound record cipher: check_length, decrypt
 *	out.vtable		the outbound record cipher: max_plaintext, encrypt
 *	version_in, version_out	the record version each way
 *	incrypt			inbound records are encrypted (handshake over)
 *	application_data	bit 0: the engine takes application data
 *	shutdown_recv		the engine received a close
 *
 * The layout is checked against the headers this was written for, BearSSL
 * 0.6 as Debian 12 packages it (libbearssl-dev 0.6+dfsg.1-3): any other
 * version fails the build here, to be checked before the numbers are
 * updated.  Going back to BearSSL's own record path (br_ssl_engine_
 * sendapp_buf/recvapp_buf for all data) would remove this file at the cost
 * of the speed.
 */
#include <stddef.h>
#include <string.h>

#include "tls/tls_int.h"

#if !defined(__x86_64__)
#error "tls_rec.c: engine layout checked on x86_64 only; check it here"
#endif
#define TLS_REC_ASSERT(cond) _Static_assert(cond, "BearSSL headers are " \
	"not the 0.6 (Debian 12) ones tls_rec.c was written against: check " \
	"the engine fields it lists before changing " #cond)
TLS_REC_ASSERT(sizeof(br_ssl_engine_context) == 3616);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, in) == 112);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, out) == 696);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, version_in) == 102);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, version_out) == 104);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, incrypt) == 97);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, application_data) == 1280);
TLS_REC_ASSERT(offsetof(br_ssl_engine_context, shutdown_recv) == 98);
TLS_REC_ASSERT(BR_SSL_BUFSIZE_BIDI == 33178);
TLS_REC_ASSERT(BR_MAX_CIPHER_SUITES == 48);

int
tls_rec_bulk_in(const br_ssl_engine_context *eng)
{
	return eng->incrypt && (eng->application_data & 1) &&
	    !eng->shutdown_recv;
}

const char *
tls_rec_check(br_ssl_engine_context *eng, const unsigned char *h)
{
	const br_sslrec_in_class **in = &eng->in.vtable;
	unsigned version = (unsigned)h[1] << 8 | h[2];

	if (version != eng->version_in)
		return "a record of another version";
	if (!(*in)->check_length(in, (size_t)h[3] << 8 | h[4]))
		return "a record of a bad length";
	return NULL;
}

unsigned char *
tls_rec_open(br_ssl_engine_context *eng, unsigned char *h, size_t *len)
{
	const br_sslrec_in_class **in = &eng->in.vtable;

	*len = (size_t)h[3] << 8 | h[4];
	return (*in)->decrypt(in, TLS_REC_APPDATA, (unsigned)h[1] << 8 | h[2],
	    h + 5, len);
}

unsigned char *
tls_rec_seal(br_ssl_engine_context *eng, unsigned char *at, size_t room,
    const unsigned char *plain, size_t *n, size_t *len)
{
	const br_sslrec_out_class **out = &eng->out.vtable;
	size_t start = 5, end = room;

	/* Offsets within the slot: the header, then what the suite wants
	 * before (explicit nonce) and after (tag) the data. */
	(*out)->max_plaintext(out, &start, &end);
	if (*n > end - start)
		*n = end - start;
	memcpy(at + start, plain, *n);
	*len = *n;
	return (*out)->encrypt(out, TLS_REC_APPDATA, eng->version_out,
	    at + start, len);
}
