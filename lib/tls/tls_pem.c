/*
 * Building a struct tls_config from PEM files: our chain and private key,
 * and trust anchors from the CA file.  This runs once at start-up, so it
 * allocates; every size it allocates is bounded by a file of at most 1 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls/tls_int.h"

#define TLS_FILE_MAX	(1u << 20)

enum { TLS_PEM_OTHER, TLS_PEM_CERT, TLS_PEM_KEY, TLS_PEM_ENCRYPTED };

/* The objects of one PEM file; their DER bytes share one buffer. */
/* Bytes a BearSSL decoder hands out, kept in a buffer sized beforehand. */
struct tls_bytes {
	unsigned char *buf;
	size_t len, cap;
};

struct tls_pem {
	struct tls_bytes der;
	struct tls_pem_obj {
		int kind;	/* TLS_PEM_* */
		size_t off, len;
	} *obj;
	size_t n;
};

static int
tls_pem_fail(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s", path, what);
	return -1;
}

/*
 * Read a whole file with read(2).  One byte past the limit is asked for so
 * a file of exactly 1 MiB is told from a larger one, pipes included.
 */
static unsigned char *
tls_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tls_pem_fail(err, errlen, path, strerror(errno));
		return NULL;
	}
	buf = malloc(TLS_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		tls_pem_fail(err, errlen, path, "out of memory");
		return NULL;
	}
	while (got <= TLS_FILE_MAX) {
		n = read(fd, buf + got, TLS_FILE_MAX + 1 - got);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			tls_pem_fail(err, errlen, path, strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got > TLS_FILE_MAX) {
		free(buf);
		tls_pem_fail(err, errlen, path, "larger than 1 MiB, refused");
		return NULL;
	}
	*lenp = got;
	return buf;
}

/*
 * A decoder's output callback.  Buffers are sized so that nothing is cut
 * (DER is shorter than its base64 text, a DN shorter than its certificate);
 * the bound only guards against a decoder that says otherwise.
 */
static void
tls_bytes_append(void *ctx, const void *data, size_t len)
{
	struct tls_bytes *b = ctx;

	if (len > b->cap - b->len)
		len = b->cap - b->len;
	memcpy(b->buf + b->len, data, len);
	b->len += len;
}

static void
tls_pem_free(struct tls_pem *p)
{
	/* Key files pass through here too: leave no key bytes in freed memory. */
	if (p->der.buf != NULL)
		explicit_bzero(p->der.buf, p->der.cap);
	free(p->der.buf);
	free(p->obj);
	memset(p, 0, sizeof(*p));
}

static int
tls_pem_kind(const char *name)
{
	if (strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0)
		return TLS_PEM_CERT;
	/* br_skey_decoder reads PKCS#8 and both traditional forms. */
	if (strcmp(name, "PRIVATE KEY") == 0 ||
	    strcmp(name, "EC PRIVATE KEY") == 0 ||
	    strcmp(name, "RSA PRIVATE KEY") == 0)
		return TLS_PEM_KEY;
	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0)
		return TLS_PEM_ENCRYPTED;
	return TLS_PEM_OTHER;
}

static int
tls_pem_load(struct tls_pem *p, const char *path, char *err, size_t errlen)
{
	br_pem_decoder_context pc;
	const unsigned char *s;
	unsigned char *text;
	size_t len, textlen, k;
	struct tls_pem_obj *grown;
	int inobj = 0, extra_nl = 1, rc = -1;

	memset(p, 0, sizeof(*p));
	text = tls_read_file(path, &textlen, err, errlen);
	if (text == NULL)
		return -1;
	p->der.cap = textlen;
	p->der.buf = malloc(p->der.cap + 1);
	if (p->der.buf == NULL) {
		tls_pem_fail(err, errlen, path, "out of memory");
		goto out;
	}
	br_pem_decoder_init(&pc);
	s = text;
	len = textlen;
	while (len > 0) {
		k = br_pem_decoder_push(&pc, s, len);
		s += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			grown = realloc(p->obj, (p->n + 1) * sizeof(*p->obj));
			if (grown == NULL) {
				tls_pem_fail(err, errlen, path, "out of memory");
				goto out;
			}
			p->obj = grown;
			p->obj[p->n].kind =
			    tls_pem_kind(br_pem_decoder_name(&pc));
			p->obj[p->n].off = p->der.len;
			br_pem_decoder_setdest(&pc, tls_bytes_append, &p->der);
			inobj = 1;
			break;
		case BR_PEM_END_OBJ:
			if (inobj) {
				p->obj[p->n].len = p->der.len - p->obj[p->n].off;
				p->n++;
				inobj = 0;
			}
			break;
		case BR_PEM_ERROR:
			tls_pem_fail(err, errlen, path, "invalid PEM encoding");
			goto out;
		}
		/* A last line without its newline is common: accept it. */
		if (len == 0 && extra_nl) {
			extra_nl = 0;
			s = (const unsigned char *)"\n";
			len = 1;
		}
	}
	if (inobj) {
		tls_pem_fail(err, errlen, path, "unterminated PEM object");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(text, textlen);
	free(text);
	if (rc < 0)
		tls_pem_free(p);
	return rc;
}

static int
tls_load_chain(struct tls_config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct tls_pem p;
	size_t i, n = 0;

	if (tls_pem_load(&p, path, err, errlen) < 0)
		return -1;
	for (i = 0; i < p.n; i++)
		n += p.obj[i].kind == TLS_PEM_CERT;
	if (n == 0) {
		tls_pem_free(&p);
		return tls_pem_fail(err, errlen, path, "no CERTIFICATE in it");
	}
	cfg->chain = calloc(n, sizeof(*cfg->chain));
	if (cfg->chain == NULL) {
		tls_pem_free(&p);
		return tls_pem_fail(err, errlen, path, "out of memory");
	}
	for (i = 0; i < p.n; i++) {
		if (p.obj[i].kind != TLS_PEM_CERT)
			continue;
		cfg->chain[cfg->chain_len].data = p.der.buf + p.obj[i].off;
		cfg->chain[cfg->chain_len].data_len = p.obj[i].len;
		cfg->chain_len++;
	}
	cfg->chain_der = p.der.buf;
	free(p.obj);
	return 0;
}

static int
tls_load_key(struct tls_config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct tls_pem p;
	const struct tls_pem_obj *o;
	const br_ec_private_key *ec;
	char why[96];
	size_t i;
	int e;

	if (tls_pem_load(&p, path, err, errlen) < 0)
		return -1;
	for (i = 0; i < p.n; i++) {
		o = &p.obj[i];
		if (o->kind == TLS_PEM_ENCRYPTED) {
			tls_pem_free(&p);
			return tls_pem_fail(err, errlen, path, "the private key "
			    "is encrypted; give it decrypted (openssl pkey)");
		}
		if (o->kind == TLS_PEM_KEY)
			break;
	}
	if (i == p.n) {
		tls_pem_free(&p);
		return tls_pem_fail(err, errlen, path, "no PRIVATE KEY in it");
	}
	br_skey_decoder_init(&cfg->key);
	br_skey_decoder_push(&cfg->key, p.der.buf + o->off, o->len);
	tls_pem_free(&p);
	e = br_skey_decoder_last_error(&cfg->key);
	if (e != 0) {
		snprintf(why, sizeof(why), "cannot decode the private key "
		    "(BearSSL error %d)", e);
		return tls_pem_fail(err, errlen, path, why);
	}
	cfg->key_type = br_skey_decoder_key_type(&cfg->key);
	if (cfg->key_type == BR_KEYTYPE_EC) {
		ec = br_skey_decoder_get_ec(&cfg->key);
		/* Curve25519 keys cannot sign: ECDSA needs a NIST curve. */
		if (ec->curve == BR_EC_curve25519 ||
		    !((br_ec_get_default()->supported_curves >> ec->curve) & 1))
			return tls_pem_fail(err, errlen, path,
			    "the EC key's curve is not supported for ECDSA");
	}
	return 0;
}

/* Skip leading zero bytes so integers compare by value. */
static const unsigned char *
tls_trim(const unsigned char *p, size_t *len)
{
	while (*len > 0 && *p == 0) {
		p++;
		(*len)--;
	}
	return p;
}

/*
 * A key that is not the certificate's would only show at the peer, as a bad
 * signature; say so at start-up instead.
 */
static int
tls_key_matches(const struct tls_config *cfg, const char *path, char *err,
    size_t errlen)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	br_ec_public_key pub;
	unsigned char kbuf[BR_EC_KBUF_PUB_MAX_SIZE], nbuf[1024];
	const unsigned char *a, *b;
	const br_rsa_private_key *rsa;
	br_rsa_compute_modulus modulus;
	size_t alen, blen;
	char why[96];

	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, cfg->chain[0].data, cfg->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL) {
		snprintf(why, sizeof(why), "cannot decode the first certificate "
		    "(BearSSL error %d)", br_x509_decoder_last_error(&dc));
		return tls_pem_fail(err, errlen, path, why);
	}
	if ((int)pk->key_type != cfg->key_type)
		goto mismatch;
	if (cfg->key_type == BR_KEYTYPE_EC) {
		alen = br_ec_compute_pub(br_ec_get_default(), &pub, kbuf,
		    br_skey_decoder_get_ec(&cfg->key));
		if (alen == 0 || pub.curve != pk->key.ec.curve ||
		    pub.qlen != pk->key.ec.qlen ||
		    memcmp(pub.q, pk->key.ec.q, pub.qlen) != 0)
			goto mismatch;
		return 0;
	}
	rsa = br_skey_decoder_get_rsa(&cfg->key);
	modulus = br_rsa_compute_modulus_get_default();
	alen = modulus(NULL, rsa);
	if (alen == 0 || alen > sizeof(nbuf) || modulus(nbuf, rsa) != alen)
		return tls_pem_fail(err, errlen, path,
		    "RSA key unusable (larger than 8192 bits?)");
	a = tls_trim(nbuf, &alen);
	blen = pk->key.rsa.nlen;
	b = tls_trim(pk->key.rsa.n, &blen);
	if (alen == blen && memcmp(a, b, alen) == 0)
		return 0;
mismatch:
	return tls_pem_fail(err, errlen, path,
	    "the private key does not match the certificate");
}

/* Collects a certificate's subject DN into a buffer sized by its DER. */
/*
 * One trust anchor from one CA certificate.  Its DN and key bytes are one
 * block at ta->dn.data, each no longer than the certificate itself.
 */
static int
tls_anchor(br_x509_trust_anchor *ta, const unsigned char *der, size_t len,
    size_t idx, const char *path, char *err, size_t errlen)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct tls_bytes dn;
	unsigned char *k;
	char why[96];

	dn.buf = malloc(2 * len);
	dn.len = 0;
	dn.cap = len;
	if (dn.buf == NULL)
		return tls_pem_fail(err, errlen, path, "out of memory");
	br_x509_decoder_init(&dc, tls_bytes_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL) {
		free(dn.buf);
		snprintf(why, sizeof(why), "certificate %zu: cannot decode it "
		    "(BearSSL error %d)", idx + 1,
		    br_x509_decoder_last_error(&dc));
		return tls_pem_fail(err, errlen, path, why);
	}
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.buf;
	ta->dn.len = dn.len;
	/* A non-CA certificate is still usable: it then pins that peer key. */
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	k = dn.buf + dn.len;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		memcpy(k, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(k + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.n = k;
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = k + pk->key.rsa.nlen;
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		memcpy(k, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = k;
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	return 0;
}

static int
tls_load_cas(struct tls_config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct tls_pem p;
	size_t i, n = 0;

	if (tls_pem_load(&p, path, err, errlen) < 0)
		return -1;
	for (i = 0; i < p.n; i++)
		n += p.obj[i].kind == TLS_PEM_CERT;
	if (n == 0) {
		tls_pem_free(&p);
		return tls_pem_fail(err, errlen, path,
		    "no CA CERTIFICATE in it");
	}
	cfg->tas = calloc(n, sizeof(*cfg->tas));
	if (cfg->tas == NULL) {
		tls_pem_free(&p);
		return tls_pem_fail(err, errlen, path, "out of memory");
	}
	for (i = 0; i < p.n; i++) {
		if (p.obj[i].kind != TLS_PEM_CERT)
			continue;
		if (tls_anchor(&cfg->tas[cfg->num_tas], p.der.buf + p.obj[i].off,
		    p.obj[i].len, cfg->num_tas, path, err, errlen) < 0) {
			tls_pem_free(&p);
			return -1;
		}
		cfg->num_tas++;
	}
	tls_pem_free(&p);
	return 0;
}

struct tls_config *
tls_config_load(const char *cert_file, const char *key_file,
    const char *ca_file, const char *peer_name, char *err, size_t errlen)
{
	struct tls_config *cfg;

	if ((cert_file == NULL) != (key_file == NULL)) {
		snprintf(err, errlen, "a TLS certificate needs its key and a "
		    "key its certificate");
		return NULL;
	}
	if (ca_file == NULL) {
		snprintf(err, errlen, "a TLS CA file is required to verify "
		    "the peer");
		return NULL;
	}
	/* DNS names are at most 253 bytes; an empty one would match none. */
	if (peer_name != NULL && (*peer_name == 0 || strlen(peer_name) > 253)) {
		snprintf(err, errlen, "TLS peer name '%s' is not a valid name",
		    peer_name);
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cert_file != NULL && (tls_load_chain(cfg, cert_file, err,
	    errlen) < 0 || tls_load_key(cfg, key_file, err, errlen) < 0 ||
	    tls_key_matches(cfg, key_file, err, errlen) < 0))
		goto fail;
	if (tls_load_cas(cfg, ca_file, err, errlen) < 0)
		goto fail;
	if (peer_name != NULL && (cfg->peer_name = strdup(peer_name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return cfg;
fail:
	tls_config_free(cfg);
	return NULL;
}

void
tls_config_free(struct tls_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->num_tas; i++)
		free(cfg->tas[i].dn.data);
	free(cfg->tas);
	free(cfg->chain);
	free(cfg->chain_der);
	free(cfg->peer_name);
	explicit_bzero(&cfg->key, sizeof(cfg->key));
	free(cfg);
}
