#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/sock.h"
#include "nbd/nbd_probe.h"
#include "nbd/nbd_wire.h"

/*
 * States.  All but DONE read a field framed by need (bytes kept in in[])
 * and skip (bytes then dropped), so no length off the wire sizes a copy.
 */
enum {
	NBD_PROBE_S_GREETING = 1,	/* the server's 18-byte greeting */
	NBD_PROBE_S_REPLY,		/* a 20-byte option reply header */
	NBD_PROBE_S_PAYLOAD,		/* its payload */
	NBD_PROBE_S_ABORT,		/* the reply to NBD_OPT_ABORT, or EOF */
	NBD_PROBE_S_DONE,
};

#define NBD_PROBE_MAX_REPLY	65536u	/* refuse longer option replies */
#define NBD_PROBE_ABORT_MS	2000	/* wait for NBD_OPT_ABORT's reply */
#define NBD_PROBE_HDR		sizeof(struct nbd_wire_option_reply)

static int
nbd_probe_expect(struct nbd_probe *p, int state, size_t need, size_t skip)
{
	p->state = state;
	p->need = need;
	p->have = 0;
	p->skip = skip;
	return 0;
}

/* Stop: nothing more is sent or read.  Undecided, that is the result. */
static int __attribute__((format(printf, 2, 3)))
nbd_probe_fail(struct nbd_probe *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->decided) {
		va_start(ap, fmt);
		vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
		p->decided = 1;
	}
	p->outoff = p->outlen = 0;
	return nbd_probe_expect(p, NBD_PROBE_S_DONE, 0, 0);
}

/* Decide on a well-framed answer and end politely with NBD_OPT_ABORT. */
static int
nbd_probe_finish(struct nbd_probe *p, int result)
{
	uint8_t *o;

	p->result = result;
	p->decided = 1;
	if (p->outoff == p->outlen)
		p->outoff = p->outlen = 0;
	o = nbd_wire_put64(p->out + p->outlen, NBD_OPTS_MAGIC);
	o = nbd_wire_put32(o, NBD_OPT_ABORT);
	o = nbd_wire_put32(o, 0);
	p->outlen = (size_t)(o - p->out);
	return nbd_probe_expect(p, NBD_PROBE_S_ABORT, NBD_PROBE_HDR, 0);
}

void
nbd_probe_init(struct nbd_probe *p, const char *name)
{
	size_t namelen = strlen(name);
	uint8_t *o;

	memset(p, 0, sizeof(*p));
	p->result = NBD_PROBE_ERROR;
	snprintf(p->err, sizeof(p->err), "NBD handshake did not finish");
	nbd_probe_expect(p, NBD_PROBE_S_GREETING,
	    sizeof(struct nbd_wire_greeting), 0);
	snprintf(p->shown, sizeof(p->shown), "%.40s%s", name,
	    namelen > 40 ? "..." : "");
	if (namelen > NBD_MAX_STRING) {
		nbd_probe_fail(p, "export name is %zu bytes, more than %u",
		    namelen, NBD_MAX_STRING);
		return;
	}
	/*
	 * Client flags (set after the greeting), NBD_OPT_INFO: name, two info
	 * requests; NBD_INFO_BLOCK_SIZE spares us NBD_REP_ERR_BLOCK_SIZE_REQD.
	 */
	o = nbd_wire_put64(p->out + 4, NBD_OPTS_MAGIC);
	o = nbd_wire_put32(o, NBD_OPT_INFO);
	o = nbd_wire_put32(o, (uint32_t)(4 + namelen + 2 + 2 * 2));
	o = nbd_wire_put32(o, (uint32_t)namelen);
	memcpy(o, name, namelen);
	o = nbd_wire_put16(o + namelen, 2);
	o = nbd_wire_put16(o, NBD_INFO_EXPORT);
	o = nbd_wire_put16(o, NBD_INFO_BLOCK_SIZE);
	p->optlen = (size_t)(o - p->out);
}

static int
nbd_probe_greeting(struct nbd_probe *p)
{
	uint64_t magic = nbd_wire_get64(p->in);
	uint64_t version = nbd_wire_get64(p->in + 8);
	uint16_t hflags = nbd_wire_get16(p->in + 16);
	uint32_t cflags = NBD_FLAG_C_FIXED_NEWSTYLE;

	if (magic != NBD_MAGIC)
		return nbd_probe_fail(p, "not an NBD server (greeting starts "
		    "0x%016llx)", (unsigned long long)magic);
	if (version != NBD_OPTS_MAGIC)
		return nbd_probe_fail(p, "server does not speak newstyle NBD"
		    " (%s)", version == NBD_OLD_VERSION ? "oldstyle" :
		    "bad magic");
	if (!(hflags & NBD_FLAG_FIXED_NEWSTYLE))
		return nbd_probe_fail(p, "server lacks fixed newstyle NBD");
	if (hflags & NBD_FLAG_NO_ZEROES)
		cflags |= NBD_FLAG_C_NO_ZEROES;
	nbd_wire_put32(p->out, cflags);
	p->outoff = 0;
	p->outlen = p->optlen;
	return nbd_probe_expect(p, NBD_PROBE_S_REPLY, NBD_PROBE_HDR, 0);
}

static int
nbd_probe_header(struct nbd_probe *p)
{
	uint64_t magic = nbd_wire_get64(p->in);
	uint32_t option = nbd_wire_get32(p->in + 8);
	size_t keep;

	p->reply = nbd_wire_get32(p->in + 12);
	p->len = nbd_wire_get32(p->in + 16);
	if (magic != NBD_REP_MAGIC || option != NBD_OPT_INFO)
		return nbd_probe_fail(p, "bad NBD option reply (magic "
		    "0x%016llx, option %u)", (unsigned long long)magic, option);
	if (p->len > NBD_PROBE_MAX_REPLY)
		return nbd_probe_fail(p, "NBD option reply of %u bytes is "
		    "too long", p->len);
	keep = p->len < sizeof(p->in) ? p->len : sizeof(p->in);
	return nbd_probe_expect(p, NBD_PROBE_S_PAYLOAD, keep, p->len - keep);
}

/* An error reply: its payload, if any, is a message for humans. */
static int
nbd_probe_error_reply(struct nbd_probe *p)
{
	size_t at, i, n = p->have < 100 ? p->have : 100;	/* shown */
	const char *why = p->reply == NBD_REP_ERR_UNSUP ? "server does not "
	    "support NBD_OPT_INFO" : p->reply == NBD_REP_ERR_TLS_REQD ?
	    "server requires TLS" : "server refused NBD_OPT_INFO";

	if (p->reply == NBD_REP_ERR_UNKNOWN)
		snprintf(p->err, sizeof(p->err), "no export '%s'", p->shown);
	else
		snprintf(p->err, sizeof(p->err), "%s (NBD reply 0x%08x)", why,
		    p->reply);
	at = strlen(p->err);
	if (n > 0)
		snprintf(p->err + at, sizeof(p->err) - at, " (server: %.*s)",
		    (int)n, (const char *)p->in);
	for (i = at; p->err[i] != '\0'; i++)	/* show no control bytes */
		if ((unsigned char)p->err[i] < 0x20 || p->err[i] == 0x7f)
			p->err[i] = '?';
	return nbd_probe_finish(p, p->reply == NBD_REP_ERR_UNKNOWN ?
	    NBD_PROBE_MISSING : NBD_PROBE_ERROR);
}

static int
nbd_probe_payload(struct nbd_probe *p)
{
	if (NBD_REP_IS_ERR(p->reply))
		return nbd_probe_error_reply(p);
	if (p->reply == NBD_REP_ACK) {
		if (p->len != 0 || !p->have_export)
			return nbd_probe_fail(p, "%s", p->len != 0 ?
			    "NBD_REP_ACK with a payload" : "server acknowledged"
			    " NBD_OPT_INFO without NBD_INFO_EXPORT");
		return nbd_probe_finish(p, NBD_PROBE_FOUND);
	}
	if (p->reply != NBD_REP_INFO)
		return nbd_probe_fail(p, "unexpected NBD option reply type "
		    "0x%08x", p->reply);
	if (p->len < 2)
		return nbd_probe_fail(p, "NBD_REP_INFO of %u bytes", p->len);
	if (nbd_wire_get16(p->in) == NBD_INFO_EXPORT) {
		if (p->len != sizeof(struct nbd_wire_info_export))
			return nbd_probe_fail(p, "NBD_INFO_EXPORT of %u bytes,"
			    " expected 12", p->len);
		p->info.size = nbd_wire_get64(p->in + 2);
		p->info.flags = nbd_wire_get16(p->in + 10);
		p->info.read_only = !!(p->info.flags & NBD_FLAG_READ_ONLY);
		p->have_export = 1;
	}
	/* Other information (name, block size, unknown types) is skipped. */
	return nbd_probe_expect(p, NBD_PROBE_S_REPLY, NBD_PROBE_HDR, 0);
}

size_t
nbd_probe_in(struct nbd_probe *p, const void *buf, size_t len)
{
	const uint8_t *d = buf;
	size_t used = 0, n;

	while (p->state != NBD_PROBE_S_DONE) {
		if (p->have < p->need || p->skip > 0) {
			if (used == len)
				break;
			n = p->have < p->need ? p->need - p->have : p->skip;
			n = n < len - used ? n : len - used;
			if (p->have < p->need) {
				memcpy(p->in + p->have, d + used, n);
				p->have += n;
			} else
				p->skip -= n;
			used += n;
		} else if (p->state == NBD_PROBE_S_GREETING)
			nbd_probe_greeting(p);
		else if (p->state == NBD_PROBE_S_REPLY)
			nbd_probe_header(p);
		else if (p->state == NBD_PROBE_S_PAYLOAD)
			nbd_probe_payload(p);
		else	/* NBD_OPT_ABORT's reply: its content is moot */
			nbd_probe_expect(p, NBD_PROBE_S_DONE, 0, 0);
	}
	return used;
}

void
nbd_probe_eof(struct nbd_probe *p)
{
	/* Once decided (waiting for NBD_OPT_ABORT's reply), this is fine. */
	nbd_probe_fail(p, "server closed the connection %s",
	    p->have > 0 || p->state == NBD_PROBE_S_PAYLOAD ?
	    "in the middle of an NBD message" :
	    p->state == NBD_PROBE_S_GREETING ? "before its greeting" :
	    "without answering NBD_OPT_INFO");
}

const uint8_t *
nbd_probe_out(struct nbd_probe *p, size_t *len)
{
	*len = p->outlen - p->outoff;
	return p->out + p->outoff;
}

void
nbd_probe_sent(struct nbd_probe *p, size_t n)
{
	p->outoff += n < p->outlen - p->outoff ? n : p->outlen - p->outoff;
}

size_t
nbd_probe_want(const struct nbd_probe *p)
{
	return p->state == NBD_PROBE_S_DONE ? 0 : p->need - p->have + p->skip;
}

int
nbd_probe_decided(const struct nbd_probe *p)
{
	return p->decided;
}

int
nbd_probe_finished(const struct nbd_probe *p)
{
	return p->state == NBD_PROBE_S_DONE && p->outoff == p->outlen;
}

int
nbd_probe_result(const struct nbd_probe *p, struct nbd_export_info *info,
    char *err, size_t errlen)
{
	if (p->result == NBD_PROBE_FOUND && info != NULL)
		*info = p->info;
	else if (p->result != NBD_PROBE_FOUND && err != NULL)
		snprintf(err, errlen, "%s", p->err);
	return p->result;
}

int
nbd_probe_run(const struct endpoint *ep, const char *name,
    int64_t deadline_ms, struct nbd_export_info *info, char *err,
    size_t errlen)
{
	struct nbd_probe p;
	struct pollfd pfd = { .fd = -1 };
	uint8_t buf[4096];
	char where[300], why[256];
	const uint8_t *out;
	int64_t left, bye = 0;
	size_t olen, want;
	ssize_t n;
	int rc, ev;

	nbd_probe_init(&p, name);
	if (!nbd_probe_decided(&p) &&
	    (pfd.fd = sock_connect(ep, deadline_ms, err, errlen)) < 0)
		return NBD_PROBE_ERROR;
	while (!nbd_probe_finished(&p)) {
		/* Once decided, the goodbye gets a short grace period. */
		if (nbd_probe_decided(&p) && bye == 0) {
			bye = clock_ms() + NBD_PROBE_ABORT_MS;
			if (deadline_ms == 0 || bye < deadline_ms)
				deadline_ms = bye;
		}
		out = nbd_probe_out(&p, &olen);
		want = nbd_probe_want(&p);
		pfd.events = (olen ? POLLOUT : 0) | (want ? POLLIN : 0);
		left = deadline_ms ? deadline_ms - clock_ms() : -1;
		if (deadline_ms && left <= 0) {
			nbd_probe_fail(&p, "timed out");
			break;
		}
		rc = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		ev = rc > 0 ? pfd.revents : 0;
		n = rc < 0 ? -1 : 0;
		if (want && (ev & (POLLIN | POLLERR | POLLHUP))) {
			n = recv(pfd.fd, buf, want < sizeof(buf) ? want :
			    sizeof(buf), MSG_DONTWAIT);
			if (n > 0)
				nbd_probe_in(&p, buf, (size_t)n);
			else if (n == 0)
				nbd_probe_eof(&p);
		} else if (olen && (ev & (POLLOUT | POLLERR | POLLHUP))) {
			n = send(pfd.fd, out, olen, MSG_NOSIGNAL|MSG_DONTWAIT);
			if (n > 0)
				nbd_probe_sent(&p, (size_t)n);
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			nbd_probe_fail(&p, "%s", strerror(errno));
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	rc = nbd_probe_result(&p, info, why, sizeof(why));
	if (rc != NBD_PROBE_FOUND) {
		endpoint_format(ep, where, sizeof(where));
		snprintf(err, errlen, "NBD server %s: %s", where, why);
	}
	return rc;
}
