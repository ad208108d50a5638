#include <stdio.h>
#include <string.h>

#include "qmp/qmp.h"

void
qmp_codec_init(struct qmp_codec *c)
{
	c->inlen = c->start = c->scan = 0;
	c->depth = c->instr = 0;
	c->off = 0;
}

char *
qmp_codec_space(struct qmp_codec *c, size_t *avail)
{
	/* Compact only here: the last message handed out is now dead. */
	if (c->start > 0) {
		memmove(c->in, c->in + c->start, c->inlen - c->start);
		c->inlen -= c->start;
		c->off += c->start;
		c->start = 0;
	}
	*avail = sizeof(c->in) - c->inlen;
	return c->in + c->inlen;
}

void
qmp_codec_wrote(struct qmp_codec *c, size_t n)
{
	c->inlen += n;
}

static int
qmp_codec_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Quote the start of what the peer sent, so users see what they reached. */
static void
qmp_codec_garbage(const char *p, size_t len, uint64_t off, char *err,
    size_t errlen)
{
	char shown[49];
	size_t i;

	for (i = 0; i < len && i < sizeof(shown) - 1; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
		shown[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	}
	shown[i] = '\0';
	snprintf(err, errlen, "expected '{' at offset %llu (got \"%s\")",
	    (unsigned long long)off, shown);
}

/*
 * Find the end of the message at in[start]: 1 with *len, 0 if incomplete,
 * -1 on garbage.  Only braces outside strings count; json_parse judges the
 * rest, so a mismatched "{]" ends a message that it then rejects.
 */
static int
qmp_codec_frame(struct qmp_codec *c, size_t *len, char *err, size_t errlen)
{
	const char *p;
	size_t i, have;

	if (c->scan == 0) {
		while (c->start < c->inlen &&
		    qmp_codec_is_space(c->in[c->start]))
			c->start++;
		if (c->start == c->inlen)
			return 0;
		if (c->in[c->start] != '{') {
			qmp_codec_garbage(c->in + c->start, c->inlen - c->start,
			    c->off + c->start, err, errlen);
			return -1;
		}
	}
	p = c->in + c->start;
	have = c->inlen - c->start;
	for (i = c->scan; i < have; i++) {
		if (c->instr == 2)
			c->instr = 1;
		else if (c->instr == 1)
			c->instr = p[i] == '\\' ? 2 : p[i] == '"' ? 0 : 1;
		else if (p[i] == '"')
			c->instr = 1;
		else if ((p[i] == '{' || p[i] == '[') &&
		    ++c->depth > JSON_MAX_DEPTH) {
			/* json_parse would refuse it: do not wait for its end. */
			snprintf(err, errlen, "message at offset %llu is nested "
			    "deeper than %d levels",
			    (unsigned long long)(c->off + c->start),
			    JSON_MAX_DEPTH);
			return -1;
		}
		else if ((p[i] == '}' || p[i] == ']') && --c->depth == 0) {
			*len = i + 1;
			c->scan = 0;
			return 1;
		}
		/* Unclosed at QMP_MSG_MAX bytes means longer than that. */
		if (i + 1 >= QMP_MSG_MAX) {
			snprintf(err, errlen, "message at offset %llu is "
			    "longer than %u bytes",
			    (unsigned long long)(c->off + c->start),
			    QMP_MSG_MAX);
			return -1;
		}
	}
	c->scan = i;
	return 0;
}

int
qmp_codec_next(struct qmp_codec *c, struct qmp_msg *m, char *err,
    size_t errlen)
{
	size_t len;
	int rc;

	rc = qmp_codec_frame(c, &len, err, errlen);
	if (rc <= 0)
		return rc;
	c->start += len;
	rc = qmp_codec_parse(m, c->in + c->start - len, len, c->nodes,
	    QMP_NODES, err, errlen);
	return rc < 0 ? -1 : 1;
}

/* Copy string node n; one too long for out is shown raw and cut. */
static void
qmp_codec_str(const struct json_doc *d, int n, char *out, size_t outlen,
    const char *dflt)
{
	size_t len;

	if (json_type(d, n) != JSON_STRING) {
		snprintf(out, outlen, "%s", dflt);
		return;
	}
	if (json_string(d, n, out, outlen) >= 0)
		return;
	len = d->nodes[n].len < outlen - 4 ? d->nodes[n].len : outlen - 4;
	memcpy(out, d->text + d->nodes[n].start, len);
	strcpy(out + len, "...");
}

int
qmp_codec_parse(struct qmp_msg *m, const char *text, size_t len,
    struct json_node *nodes, size_t cap, char *err, size_t errlen)
{
	struct json_doc *d = &m->doc;
	char why[200];
	int n;

	memset(m, 0, sizeof(*m));
	m->id = -1;
	m->value = -1;
	if (json_parse(d, text, len, nodes, cap, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid JSON: %s", why);
		return -1;
	}
	if (json_type(d, 0) != JSON_OBJECT) {
		snprintf(err, errlen, "a message is not a JSON object");
		return -1;
	}
	n = json_get(d, 0, "id");
	if (n >= 0 && json_int(d, n, &m->id) < 0)
		m->id = -2;
	if ((n = json_get(d, 0, "QMP")) >= 0) {
		m->kind = QMP_MSG_GREETING;
		m->value = n;
	} else if ((n = json_get(d, 0, "return")) >= 0) {
		m->kind = QMP_MSG_RETURN;
		m->value = n;
	} else if ((n = json_get(d, 0, "error")) >= 0) {
		if (json_type(d, n) != JSON_OBJECT) {
			snprintf(err, errlen, "\"error\" is not an object");
			return -1;
		}
		m->kind = QMP_MSG_ERROR;
		m->value = n;
		qmp_codec_str(d, json_get(d, n, "class"), m->name,
		    sizeof(m->name), "GenericError");
		qmp_codec_str(d, json_get(d, n, "desc"), m->desc,
		    sizeof(m->desc), "no description");
	} else if ((n = json_get(d, 0, "event")) >= 0) {
		if (json_string(d, n, m->name, sizeof(m->name)) <= 0) {
			snprintf(err, errlen, "an event without a proper name");
			return -1;
		}
		m->kind = QMP_MSG_EVENT;
		m->value = json_get(d, 0, "data");
	} else {
		snprintf(err, errlen, "a message with none of QMP, return, "
		    "error or event");
		return -1;
	}
	return 0;
}

int
qmp_codec_command(char *buf, size_t buflen, const char *cmd,
    const char *args, int64_t id)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	const char *p;
	int n;

	/* Names are sent unescaped: refuse any that would need escaping. */
	if (cmd == NULL || cmd[0] == '\0' ||
	    cmd[strspn(cmd, name_chars)] != '\0')
		return -1;
	if (args != NULL) {
		for (p = args; qmp_codec_is_space(*p); p++)
			;
		if (*p != '{')
			return -1;
		n = snprintf(buf, buflen, "{\"execute\":\"%s\","
		    "\"arguments\":%s,\"id\":%lld}\r\n", cmd, args,
		    (long long)id);
	} else
		n = snprintf(buf, buflen, "{\"execute\":\"%s\","
		    "\"id\":%lld}\r\n", cmd, (long long)id);
	return (n < 0 || (size_t)n >= buflen) ? -1 : n;
}
