/*
 * Why a TLS session failed, in words: TLS alerts and BearSSL's error codes,
 * and the alert that tells a peer why we refused its certificate.  Tables
 * only, no state.
 */
#include <stdio.h>

#include "tls/tls_int.h"

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

void
tls_alert_explain(char *why, size_t len, int err, int ready, int have_key,
    const char *peer_name)
{
	const char *s;
	int a;

	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
		a = err - BR_ERR_RECV_FATAL_ALERT;
		if (ready)
			snprintf(why, len, "peer ended the "
			    "session: %s (alert %d)", tls_alert_name(a), a);
		else if (a >= 42 && a <= 49)
			snprintf(why, len, "peer refused our "
			    "certificate: %s (alert %d)", tls_alert_name(a), a);
		else
			snprintf(why, len, "peer refused the "
			    "handshake: %s (alert %d)%s", tls_alert_name(a), a,
			    a == 40 && !have_key ? "; it may "
			    "require a client certificate" : "");
		return;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT) {
		a = err - BR_ERR_SEND_FATAL_ALERT;
		snprintf(why, len, "%s (sent alert %d: %s)",
		    a == 40 ? "no cipher suite, curve or signature algorithm "
		    "in common with the peer" : a == 70 ? "peer does not speak "
		    "TLS 1.2" : "handshake refused", a, tls_alert_name(a));
		return;
	}
	if (err == BR_ERR_X509_BAD_SERVER_NAME) {
		snprintf(why, len, "peer name mismatch: its "
		    "certificate is not for '%s'", peer_name);
		return;
	}
	s = tls_err_text(err);
	if (s != NULL)
		snprintf(why, len, "%s (BearSSL error %d)", s,
		    err);
	else
		snprintf(why, len, "TLS protocol error "
		    "(BearSSL error %d)", err);
}

/*
 * The alert that tells the peer why we refused its certificate.  BearSSL
 * fails these silently, leaving the peer with a bare EOF.  They all happen
 * before our ChangeCipherSpec, so the alert goes as a plaintext record.
 */
int
tls_alert_refusal(int err)
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
