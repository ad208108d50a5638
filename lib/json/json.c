#include <stdio.h>
#include <string.h>

#include "json/json.h"

struct json_level {
	uint32_t node;		/* the open array or object */
	uint32_t last;		/* its last value so far, 0 if none yet */
};

struct json_parser {
	const unsigned char *s;
	size_t len;
	size_t pos;
	struct json_node *nodes;
	size_t cap;
	size_t n;
	struct json_level stack[JSON_MAX_DEPTH];
	int depth;
	char *err;
	size_t errlen;
};

static int
json_fail(struct json_parser *p, const char *what, size_t at)
{
	snprintf(p->err, p->errlen, "%s at offset %zu", what, at);
	return -1;
}

static int
json_unexpected(struct json_parser *p)
{
	int c;

	if (p->pos >= p->len)
		return json_fail(p, "unexpected end of input", p->pos);
	c = p->s[p->pos];
	if (c > ' ' && c < 0x7f)
		snprintf(p->err, p->errlen, "unexpected '%c' at offset %zu", c,
		    p->pos);
	else
		snprintf(p->err, p->errlen,
		    "unexpected byte 0x%02x at offset %zu", c, p->pos);
	return -1;
}

static int
json_peek(const struct json_parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

static void
json_skip_ws(struct json_parser *p)
{
	while (p->pos < p->len && memchr(" \t\n\r", p->s[p->pos], 4) != NULL)
		p->pos++;
}

static int
json_digit_at(const struct json_parser *p, size_t i)
{
	return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

/* Skip the digits at *i; how many there were. */
static size_t
json_digits(const struct json_parser *p, size_t *i)
{
	size_t from = *i;

	while (json_digit_at(p, *i))
		(*i)++;
	return *i - from;
}

/*
 * Append a node and link it to its container.  An object's value links to
 * the next key, as json.h says.  A key gets count 1 and next 0: the count
 * is what lets json_next and json_key_of tell a key from a string value
 * without finding the parent.
 */
static int
json_node_new(struct json_parser *p, int type, size_t start, size_t len,
    int is_key)
{
	struct json_level *lv;
	struct json_node *nd;
	uint32_t i = (uint32_t)p->n;

	if (p->n >= p->cap)
		return json_fail(p, "too many values", start);
	nd = &p->nodes[p->n++];
	memset(nd, 0, sizeof(*nd));
	nd->type = type;
	nd->start = (uint32_t)start;
	nd->len = (uint32_t)len;
	if (p->depth == 0)
		return 0;
	lv = &p->stack[p->depth - 1];
	if (lv->last != 0 && (is_key || p->nodes[lv->node].type == JSON_ARRAY))
		p->nodes[lv->last].next = i;
	if (is_key) {
		nd->count = 1;
	} else {
		lv->last = i;
		p->nodes[lv->node].count++;
	}
	return 0;
}

/* Value of four hex digits after "\u" at s, or -1. */
static long
json_hex4(const unsigned char *s, size_t avail)
{
	long v = 0;
	int i, c;

	if (avail < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (i = 2; i < 6; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | c;
	}
	return v;
}

/*
 * Length of the well-formed UTF-8 sequence at s, or 0.  The bounds on the
 * second byte are what rule out overlong forms, UTF-16 surrogates and code
 * points past U+10FFFF (RFC 3629 section 4).
 */
static size_t
json_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int
json_scan_string(struct json_parser *p, int is_key)
{
	const unsigned char *s = p->s;
	size_t i = p->pos + 1, n;
	long hi, lo;

	for (;;) {
		if (i >= p->len)
			return json_fail(p, "unterminated string", p->pos);
		if (s[i] == '"')
			break;
		if (s[i] < 0x20)
			return json_fail(p, "control character in string", i);
		if (s[i] != '\\') {
			if ((n = json_utf8_len(s + i, p->len - i)) == 0)
				return json_fail(p, "invalid UTF-8 in string",
				    i);
			i += n;
			continue;
		}
		if (i + 1 < p->len && memchr("\"\\/bfnrt", s[i + 1], 8)) {
			i += 2;
			continue;
		}
		if ((hi = json_hex4(s + i, p->len - i)) < 0)
			return json_fail(p, "invalid escape in string", i);
		i += 6;
		if (hi >= 0xdc00 && hi <= 0xdfff)
			return json_fail(p, "lone low surrogate escape", i - 6);
		if (hi < 0xd800 || hi > 0xdbff)
			continue;
		/* A high surrogate must be followed by an escaped low one. */
		lo = json_hex4(s + i, p->len - i);
		if (lo < 0xdc00 || lo > 0xdfff)
			return json_fail(p, "lone high surrogate escape",
			    i - 6);
		i += 6;
	}
	if (json_node_new(p, JSON_STRING, p->pos + 1, i - p->pos - 1,
	    is_key) < 0)
		return -1;
	p->pos = i + 1;
	return 0;
}

static int
json_scan_number(struct json_parser *p)
{
	size_t i = p->pos;

	if (p->s[i] == '-')
		i++;
	if (i < p->len && p->s[i] == '0' && json_digit_at(p, i + 1))
		return json_fail(p, "leading zero in number", i);
	if (json_digits(p, &i) == 0)
		return json_fail(p, "digit expected in number", i);
	if (i < p->len && p->s[i] == '.') {
		i++;
		if (json_digits(p, &i) == 0)
			return json_fail(p, "digit expected after '.'", i);
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (json_digits(p, &i) == 0)
			return json_fail(p, "digit expected in exponent", i);
	}
	if (json_node_new(p, JSON_NUMBER, p->pos, i - p->pos, 0) < 0)
		return -1;
	p->pos = i;
	return 0;
}

static int
json_scan_scalar(struct json_parser *p)
{
	static const char *const words[] = {
		[JSON_NULL] = "null",
		[JSON_FALSE] = "false",
		[JSON_TRUE] = "true",
	};
	int c = json_peek(p), t;
	size_t n;

	if (c == '"')
		return json_scan_string(p, 0);
	if (c == '-' || (c >= '0' && c <= '9'))
		return json_scan_number(p);
	for (t = JSON_NULL; t <= JSON_TRUE; t++) {
		if (c != words[t][0])
			continue;
		n = strlen(words[t]);
		if (p->len - p->pos < n || memcmp(p->s + p->pos, words[t], n))
			return json_fail(p, "invalid literal", p->pos);
		if (json_node_new(p, t, p->pos, n, 0) < 0)
			return -1;
		p->pos += n;
		return 0;
	}
	return json_unexpected(p);
}

/* After '{' or ',' in an object: the key and its ':'. */
static int
json_scan_key(struct json_parser *p)
{
	json_skip_ws(p);
	if (json_peek(p) != '"')
		return json_unexpected(p);
	if (json_scan_string(p, 1) < 0)
		return -1;
	json_skip_ws(p);
	if (json_peek(p) != ':')
		return json_unexpected(p);
	p->pos++;
	return 0;
}

static int
json_open(struct json_parser *p, int type)
{
	struct json_level *lv;

	if (p->depth == JSON_MAX_DEPTH)
		return json_fail(p, "too deep", p->pos);
	if (json_node_new(p, type, p->pos, 0, 0) < 0)
		return -1;
	lv = &p->stack[p->depth++];
	lv->node = (uint32_t)(p->n - 1);
	lv->last = 0;
	p->pos++;
	return 0;
}

/*
 * Iterative, so the C stack stays flat whatever the input; the explicit
 * stack of open containers is what JSON_MAX_DEPTH bounds.
 */
int
json_parse(struct json_doc *doc, const char *text, size_t len,
    struct json_node *nodes, size_t cap, char *err, size_t errlen)
{
	struct json_parser p;
	struct json_level *lv;
	struct json_node *nd;
	int c, end;

	doc->text = text;
	doc->textlen = len;
	doc->nodes = nodes;
	doc->cap = cap;
	doc->n = 0;
	if (len > JSON_MAX_TEXT) {
		snprintf(err, errlen, "text is longer than %u bytes",
		    JSON_MAX_TEXT);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)text;
	p.len = len;
	p.nodes = nodes;
	p.cap = cap;
	p.err = err;
	p.errlen = errlen;
	json_skip_ws(&p);
	if (p.pos == len) {
		snprintf(err, errlen, "empty input");
		return -1;
	}
	for (;;) {
		/* A value is due. */
		json_skip_ws(&p);
		c = json_peek(&p);
		if (c == '[' || c == '{') {
			if (json_open(&p, c == '[' ? JSON_ARRAY :
			    JSON_OBJECT) < 0)
				return -1;
			json_skip_ws(&p);
			if (json_peek(&p) != (c == '[' ? ']' : '}')) {
				if (c == '{' && json_scan_key(&p) < 0)
					return -1;
				continue;
			}
		} else if (json_scan_scalar(&p) < 0)
			return -1;

		/* A value ended: close containers until one wants another. */
		for (;;) {
			json_skip_ws(&p);
			if (p.depth == 0) {
				if (p.pos != len)
					return json_unexpected(&p);
				doc->n = p.n;
				return 0;
			}
			lv = &p.stack[p.depth - 1];
			nd = &nodes[lv->node];
			end = nd->type == JSON_ARRAY ? ']' : '}';
			c = json_peek(&p);
			if (c == end) {
				p.pos++;
				nd->len = p.pos - nd->start;
				p.depth--;
				continue;
			}
			if (c != ',')
				return json_unexpected(&p);
			p.pos++;
			if (end == '}' && json_scan_key(&p) < 0)
				return -1;
			break;
		}
	}
}

static const struct json_node *
json_at(const struct json_doc *doc, int n)
{
	if (n < 0 || (size_t)n >= doc->n)
		return NULL;
	return &doc->nodes[n];
}

int
json_type(const struct json_doc *doc, int n)
{
	const struct json_node *nd = json_at(doc, n);

	return nd != NULL ? nd->type : 0;
}

/*
 * Decode one character of string text s[*i..len) into out, advancing *i.
 * The parser validated the text, so escapes are well formed here.
 */
static size_t
json_unescape1(const unsigned char *s, size_t len, size_t *i,
    unsigned char out[4])
{
	static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
	const char *e;
	size_t n, k;
	long cp;

	if (s[*i] != '\\') {
		out[0] = s[(*i)++];
		return 1;
	}
	if (s[*i + 1] != 'u') {
		e = strchr(from, s[*i + 1]);
		out[0] = e != NULL ? to[e - from] : s[*i + 1];
		*i += 2;
		return 1;
	}
	cp = json_hex4(s + *i, len - *i);
	*i += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) +
		    (json_hex4(s + *i, len - *i) - 0xdc00);
		*i += 6;
	}
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (k = n - 1; k > 0; k--, cp >>= 6)
		out[k] = 0x80 | (cp & 0x3f);
	/* The lead byte: n one bits, a zero, then what is left of cp. */
	out[0] = (0xff00 >> n & 0xff) | cp;
	return n;
}

int
json_string(const struct json_doc *doc, int n, char *out, size_t outlen)
{
	const struct json_node *nd = json_at(doc, n);
	const unsigned char *s;
	unsigned char ch[4];
	size_t i = 0, o = 0, k;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (nd == NULL || nd->type != JSON_STRING)
		return -1;
	s = (const unsigned char *)doc->text + nd->start;
	while (i < nd->len) {
		k = json_unescape1(s, nd->len, &i, ch);
		/* Leave room for the NUL; fail with "" rather than a prefix. */
		if (k >= outlen - o) {
			out[0] = '\0';
			return -1;
		}
		memcpy(out + o, ch, k);
		o += k;
	}
	out[o] = '\0';
	return (int)o;
}

/* Compare string node n with s[0..slen) unescaping on the fly. */
static int
json_streqn(const struct json_doc *doc, int n, const char *s, size_t slen)
{
	const struct json_node *nd = json_at(doc, n);
	const unsigned char *t;
	unsigned char ch[4];
	size_t i = 0, j = 0, k;

	if (nd == NULL || nd->type != JSON_STRING)
		return 0;
	t = (const unsigned char *)doc->text + nd->start;
	while (i < nd->len) {
		k = json_unescape1(t, nd->len, &i, ch);
		if (k > slen - j || memcmp(ch, s + j, k) != 0)
			return 0;
		j += k;
	}
	return j == slen;
}

int
json_streq(const struct json_doc *doc, int n, const char *s)
{
	return json_streqn(doc, n, s, strlen(s));
}

static int
json_getn(const struct json_doc *doc, int obj, const char *key, size_t klen)
{
	const struct json_node *nd = json_at(doc, obj);
	int k;

	if (nd == NULL || nd->type != JSON_OBJECT || nd->count == 0)
		return -1;
	for (k = obj + 1;; k = doc->nodes[k + 1].next) {
		if (json_streqn(doc, k, key, klen))
			return k + 1;
		if (doc->nodes[k + 1].next == 0)
			return -1;
	}
}

int
json_get(const struct json_doc *doc, int obj, const char *key)
{
	return json_getn(doc, obj, key, strlen(key));
}

int
json_path(const struct json_doc *doc, int n, const char *path)
{
	size_t len;

	if (json_at(doc, n) == NULL)
		return -1;
	if (*path == '\0')
		return n;
	for (;;) {
		len = strcspn(path, ".");
		n = json_getn(doc, n, path, len);
		if (n < 0 || path[len] == '\0')
			return n;
		path += len + 1;
	}
}

int
json_first(const struct json_doc *doc, int n)
{
	const struct json_node *nd = json_at(doc, n);

	if (nd == NULL || nd->count == 0)
		return -1;
	if (nd->type == JSON_OBJECT)
		return n + 2;
	return nd->type == JSON_ARRAY ? n + 1 : -1;
}

/* Keys carry count 1; see json_node_new. */
static int
json_is_key(const struct json_doc *doc, int n)
{
	const struct json_node *nd = json_at(doc, n);

	return nd != NULL && nd->type == JSON_STRING && nd->count == 1;
}

int
json_next(const struct json_doc *doc, int n)
{
	const struct json_node *nd = json_at(doc, n);

	if (nd == NULL || nd->next == 0)
		return -1;
	if (json_is_key(doc, nd->next))
		return nd->next + 1;
	return nd->next;
}

int
json_key_of(const struct json_doc *doc, int n)
{
	return json_is_key(doc, n - 1) ? n - 1 : -1;
}

int
json_int(const struct json_doc *doc, int n, int64_t *out)
{
	const struct json_node *nd = json_at(doc, n);
	const char *s;
	uint64_t v = 0, limit;
	uint32_t i, neg;

	if (nd == NULL || nd->type != JSON_NUMBER)
		return -1;
	s = doc->text + nd->start;
	neg = s[0] == '-';
	limit = (uint64_t)INT64_MAX + neg;
	for (i = neg; i < nd->len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    v > (limit - (unsigned)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	/* Negated as -(v - 1) - 1 so that INT64_MIN never overflows. */
	*out = neg && v > 0 ? -(int64_t)(v - 1) - 1 : (int64_t)v;
	return 0;
}

int
json_bool(const struct json_doc *doc, int n, int *out)
{
	int t = json_type(doc, n);

	if (t != JSON_TRUE && t != JSON_FALSE)
		return -1;
	*out = t == JSON_TRUE;
	return 0;
}

int
json_path_int(const struct json_doc *doc, int n, const char *path,
    int64_t *out)
{
	return json_int(doc, json_path(doc, n, path), out);
}

int
json_path_string(const struct json_doc *doc, int n, const char *path,
    char *out, size_t outlen)
{
	return json_string(doc, json_path(doc, n, path), out, outlen);
}

int
json_path_bool(const struct json_doc *doc, int n, const char *path, int *out)
{
	return json_bool(doc, json_path(doc, n, path), out);
}
