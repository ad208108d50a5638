/*
 * Unit tests for lib/json: the parser's acceptance and rejection classes,
 * the accessors, the writer, and a deterministic mutation fuzz loop that
 * checks the parser against a small recursive reference validator.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/jsonw.h"
#include "check.h"

#define NODES 2048
static struct json_node nodes[NODES];
static struct json_doc doc;
static char err[256];

static int
parse_len(const char *text, size_t len, size_t cap)
{
	err[0] = '\0';
	return json_parse(&doc, text, len, nodes, cap, err, sizeof(err));
}

static int
parse(const char *text)
{
	return parse_len(text, strlen(text), NODES);
}

/* A printable rendering of a test input for failure messages. */
static const char *
show(const char *s, size_t len)
{
	static char buf[300];
	size_t i, o = 0;

	for (i = 0; i < len && o < sizeof(buf) - 8; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = c;
		else
			o += snprintf(buf + o, 8, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* ---- reference validator: recursive, decodes UTF-8 to code points ---- */

struct ref {
	const unsigned char *s;
	size_t len, i, nodes;
};

static void
ref_ws(struct ref *r)
{
	while (r->i < r->len && strchr(" \t\r\n", r->s[r->i]) && r->s[r->i])
		r->i++;
}

static long
ref_hex(struct ref *r, size_t at)
{
	char tmp[5];
	char *end;
	size_t k;

	if (at + 4 > r->len)
		return -1;
	for (k = 0; k < 4; k++) {
		if (!strchr("0123456789abcdefABCDEF", r->s[at + k]) ||
		    r->s[at + k] == 0)
			return -1;
		tmp[k] = r->s[at + k];
	}
	tmp[4] = 0;
	return strtol(tmp, &end, 16);
}

static int
ref_string(struct ref *r)
{
	unsigned long cp, min;
	long u, u2;
	size_t n, k;
	unsigned char c;

	r->i++;
	for (;;) {
		if (r->i >= r->len)
			return -1;
		c = r->s[r->i];
		if (c == '"') {
			r->i++;
			r->nodes++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (r->i + 1 >= r->len)
				return -1;
			c = r->s[r->i + 1];
			if (c != 'u') {
				if (c == 0 || !strchr("\"\\/bfnrt", c))
					return -1;
				r->i += 2;
				continue;
			}
			if ((u = ref_hex(r, r->i + 2)) < 0)
				return -1;
			r->i += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return -1;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (r->i + 2 > r->len || r->s[r->i] != '\\' ||
				    r->s[r->i + 1] != 'u')
					return -1;
				u2 = ref_hex(r, r->i + 2);
				if (u2 < 0xdc00 || u2 > 0xdfff)
					return -1;
				r->i += 6;
			}
			continue;
		}
		if (c < 0x80) {
			r->i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else
			return -1;
		for (k = 1; k < n; k++) {
			if (r->i + k >= r->len ||
			    (r->s[r->i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (r->s[r->i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		r->i += n;
	}
}

static int
ref_digits(struct ref *r)
{
	size_t start = r->i;

	while (r->i < r->len && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > start ? 0 : -1;
}

static int
ref_value(struct ref *r, int depth)
{
	static const char *lits[] = { "true", "false", "null" };
	size_t k, l;
	int c, isobj;

	ref_ws(r);
	if (r->i >= r->len)
		return -1;
	c = r->s[r->i];
	if (c == '"')
		return ref_string(r);
	if (c == '-' || (c >= '0' && c <= '9')) {
		if (c == '-')
			r->i++;
		if (r->i < r->len && r->s[r->i] == '0')
			r->i++;
		else if (ref_digits(r) < 0)
			return -1;
		if (r->i < r->len && r->s[r->i] == '.') {
			r->i++;
			if (ref_digits(r) < 0)
				return -1;
		}
		if (r->i < r->len && (r->s[r->i] | 0x20) == 'e') {
			r->i++;
			if (r->i < r->len && (r->s[r->i] == '+' ||
			    r->s[r->i] == '-'))
				r->i++;
			if (ref_digits(r) < 0)
				return -1;
		}
		r->nodes++;
		return 0;
	}
	for (k = 0; k < 3; k++) {
		l = strlen(lits[k]);
		if (r->len - r->i >= l && !memcmp(r->s + r->i, lits[k], l)) {
			r->i += l;
			r->nodes++;
			return 0;
		}
	}
	if (c != '[' && c != '{')
		return -1;
	if (depth >= JSON_MAX_DEPTH)
		return -1;
	isobj = c == '{';
	r->nodes++;
	r->i++;
	ref_ws(r);
	if (r->i < r->len && r->s[r->i] == (isobj ? '}' : ']')) {
		r->i++;
		return 0;
	}
	for (;;) {
		if (isobj) {
			ref_ws(r);
			if (r->i >= r->len || r->s[r->i] != '"' ||
			    ref_string(r) < 0)
				return -1;
			ref_ws(r);
			if (r->i >= r->len || r->s[r->i++] != ':')
				return -1;
		}
		if (ref_value(r, depth + 1) < 0)
			return -1;
		ref_ws(r);
		if (r->i >= r->len)
			return -1;
		c = r->s[r->i++];
		if (c == (isobj ? '}' : ']'))
			return 0;
		if (c != ',')
			return -1;
	}
}

/* Returns the node count of a valid document, or -1. */
static long
ref_check(const char *s, size_t len)
{
	struct ref r = { (const unsigned char *)s, len, 0, 0 };

	if (ref_value(&r, 0) < 0)
		return -1;
	ref_ws(&r);
	return r.i == len ? (long)r.nodes : -1;
}

/* ---- structural checks of an accepted document ---- */

static int tree_ok;

static void
tree_fail(const char *why, int n)
{
	if (tree_ok)
		printf("tree: %s at node %d\n", why, n);
	tree_ok = 0;
}

/* Check subtree n lies within [lo, hi); returns its node count. */
static int
tree_walk(const struct json_doc *d, int n, size_t lo, size_t hi)
{
	const struct json_node *nd = &d->nodes[n];
	static char sbuf[4096];
	size_t end = nd->start + nd->len, prev;
	int size = 1, c, k, expect, cnt = 0, r, t;

	t = json_type(d, n);
	if (t < JSON_NULL || t > JSON_OBJECT) {
		tree_fail("bad type", n);
		return 1;
	}
	if (nd->start < lo || end > hi || end > d->textlen) {
		tree_fail("span outside parent", n);
		return 1;
	}
	if (t == JSON_STRING) {
		if (nd->start < 1 || d->text[nd->start - 1] != '"' ||
		    end >= d->textlen || d->text[end] != '"')
			tree_fail("string not quoted", n);
		if (nd->len < sizeof(sbuf)) {
			r = json_string(d, n, sbuf, nd->len + 1);
			if (r < 0 || (size_t)r > nd->len)
				tree_fail("json_string", n);
			else if (strlen(sbuf) == (size_t)r &&
			    !json_streq(d, n, sbuf))
				tree_fail("json_streq", n);
		}
	}
	if (t == JSON_NUMBER) {
		int64_t v;
		char tmp[64];

		if (nd->len < sizeof(tmp) && json_int(d, n, &v) == 0) {
			memcpy(tmp, d->text + nd->start, nd->len);
			tmp[nd->len] = 0;
			errno = 0;
			if (strtoll(tmp, NULL, 10) != v || errno != 0)
				tree_fail("json_int", n);
		}
	}
	if (t != JSON_ARRAY && t != JSON_OBJECT) {
		if (nd->next != 0 && (nd->next <= (uint32_t)n ||
		    nd->next >= d->n))
			tree_fail("next out of range", n);
		return 1;
	}
	if (d->text[nd->start] != (t == JSON_ARRAY ? '[' : '{') ||
	    d->text[end - 1] != (t == JSON_ARRAY ? ']' : '}'))
		tree_fail("container not bracketed", n);
	prev = nd->start + 1;
	expect = n + (t == JSON_OBJECT ? 2 : 1);
	for (c = json_first(d, n); c >= 0; c = json_next(d, c)) {
		if (c != expect) {
			tree_fail("child not contiguous", c);
			return size;
		}
		if (t == JSON_OBJECT) {
			k = json_key_of(d, c);
			if (k != c - 1 || json_type(d, k) != JSON_STRING ||
			    d->nodes[k].start < prev)
				tree_fail("bad key", c);
			else
				prev = d->nodes[k].start + d->nodes[k].len;
			size++;
		} else if (json_key_of(d, c) >= 0)
			tree_fail("array element with a key", c);
		if (d->nodes[c].start < prev)
			tree_fail("children out of order", c);
		r = tree_walk(d, c, nd->start + 1, end - 1);
		prev = d->nodes[c].start + d->nodes[c].len;
		size += r;
		expect = c + r + (t == JSON_OBJECT ? 1 : 0);
		if (++cnt > (int)d->n)
			break;
	}
	if ((uint32_t)cnt != nd->count)
		tree_fail("count", n);
	return size;
}

static int
tree_check(const struct json_doc *d)
{
	tree_ok = 1;
	if (d->n == 0 || d->n > d->cap)
		tree_fail("node count", 0);
	else if (tree_walk(d, 0, 0, d->textlen) != (int)d->n)
		tree_fail("nodes not all reachable", 0);
	return tree_ok;
}

/* ---- rewriting a parsed document with jsonw, for round trips ---- */

static int rewrite_ok;

static void
rewrite(const struct json_doc *d, int n, struct jsonw *w)
{
	static char sbuf[4096];
	char tmp[512];
	const struct json_node *nd = &d->nodes[n];
	int64_t v;
	double x;
	int c, r;

	switch (json_type(d, n)) {
	case JSON_NULL:
		jsonw_null(w);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		jsonw_bool(w, json_type(d, n) == JSON_TRUE);
		break;
	case JSON_STRING:
		r = json_string(d, n, sbuf, sizeof(sbuf));
		if (r < 0 || strlen(sbuf) != (size_t)r)
			rewrite_ok = 0;
		jsonw_str(w, sbuf);
		break;
	case JSON_NUMBER:
		if (json_int(d, n, &v) == 0) {
			jsonw_int(w, v);
			break;
		}
		if (nd->len >= sizeof(tmp)) {
			rewrite_ok = 0;
			break;
		}
		memcpy(tmp, d->text + nd->start, nd->len);
		tmp[nd->len] = 0;
		x = strtod(tmp, NULL);
		if (!isfinite(x))
			rewrite_ok = 0;
		jsonw_double(w, x);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (json_type(d, n) == JSON_ARRAY)
			jsonw_arr_begin(w);
		else
			jsonw_obj_begin(w);
		for (c = json_first(d, n); c >= 0; c = json_next(d, c)) {
			if (json_type(d, n) == JSON_OBJECT) {
				r = json_string(d, c - 1, sbuf, sizeof(sbuf));
				if (r < 0 || strlen(sbuf) != (size_t)r)
					rewrite_ok = 0;
				jsonw_key(w, sbuf);
			}
			rewrite(d, c, w);
		}
		if (json_type(d, n) == JSON_ARRAY)
			jsonw_arr_end(w);
		else
			jsonw_obj_end(w);
		break;
	}
}

static double
num_of(const struct json_doc *d, int n)
{
	char tmp[512];
	size_t len = d->nodes[n].len;

	if (len >= sizeof(tmp))
		return NAN;
	memcpy(tmp, d->text + d->nodes[n].start, len);
	tmp[len] = 0;
	return strtod(tmp, NULL);
}

/* See test_writer. */
static int exact_strtod;

/* Same tree, same strings, same numeric values. */
static int
same_tree(const struct json_doc *a, int m, const struct json_doc *b, int n)
{
	static char sa[4096], sb[4096];
	int t = json_type(a, m), x, y, ia, ib;
	int64_t va, vb;

	if (t != json_type(b, n))
		return 0;
	if (t == JSON_STRING)
		return json_string(a, m, sa, sizeof(sa)) ==
		    json_string(b, n, sb, sizeof(sb)) && strcmp(sa, sb) == 0;
	if (t == JSON_NUMBER) {
		ia = json_int(a, m, &va);
		ib = json_int(b, n, &vb);
		if (ia == 0 && ib == 0)
			return va == vb;
		return !exact_strtod || num_of(a, m) == num_of(b, n);
	}
	if (t != JSON_ARRAY && t != JSON_OBJECT)
		return 1;
	if (a->nodes[m].count != b->nodes[n].count)
		return 0;
	for (x = json_first(a, m), y = json_first(b, n); x >= 0 && y >= 0;
	    x = json_next(a, x), y = json_next(b, y)) {
		if (t == JSON_OBJECT && !same_tree(a, x - 1, b, y - 1))
			return 0;
		if (!same_tree(a, x, b, y))
			return 0;
	}
	return x < 0 && y < 0;
}

/* ---- parser: acceptance ---- */

static const char *valid_docs[] = {
	"0", "-0", "1", "-1", "0.5", "-0.5e-5", "1E10", "1e+10", "1e-0",
	"123.456e789", "1.0E+0", "9223372036854775807",
	"-9223372036854775808", "99999999999999999999999999999",
	"true", "false", "null", "\"\"", "[]", "{}", " [ ] ",
	"\t\r\n{ \"a\" : [ ] }\n", "[[]]", "[{}]", "{\"\":0}",
	"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\x7f\"", "\"\xc2\x80\"",
	"\"\xdf\xbf\"", "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\"",
	"\"\xee\x80\x80\"", "\"\xef\xbf\xbf\"", "\"\xf0\x90\x80\x80\"",
	"\"\xf4\x8f\xbf\xbf\"", "\"\\ud800\\udc00\"", "\"\\udbff\\udfff\"",
	"\"\\uD83D\\uDE00\"", "\"\\u0000\"", "{\"a\":1,\"a\":2}",
	"[1,\"a\",true,false,null,{},[],-1.5e3]",
	"{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}},\"e\":\"f\"}",
	"\"\xe2\x82\xac \xf0\x9f\x98\x80 caf\xc3\xa9\"",
};

static void
test_valid(void)
{
	size_t i;

	for (i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		CHECKM(parse(valid_docs[i]) == 0, valid_docs[i]);
		CHECKM(tree_check(&doc), valid_docs[i]);
		CHECKM(ref_check(valid_docs[i], strlen(valid_docs[i])) ==
		    (long)doc.n, valid_docs[i]);
	}
}

/* ---- parser: rejection, with a piece of the expected reason ---- */

static const struct {
	const char *text;
	const char *why;
} invalid_docs[] = {
	{ "", "empty input" },
	{ " \t\r\n", "empty input" },
	{ "[1,]", "unexpected ']' at offset 3" },
	{ "[1,2,]", "at offset 5" },
	{ "{\"a\":1,}", "unexpected '}' at offset 7" },
	{ "[1,,2]", "unexpected ','" },
	{ "[,1]", "unexpected ','" },
	{ "{,}", "unexpected ','" },
	{ "/* c */ 1", "unexpected '/' at offset 0" },
	{ "1 // c", "unexpected '/' at offset 2" },
	{ "[1]/**/", "unexpected '/'" },
	{ "# c\n1", "unexpected '#'" },
	{ "\"\\x\"", "invalid escape in string at offset 1" },
	{ "\"abc\\q\"", "invalid escape in string at offset 4" },
	{ "\"\\u12\"", "invalid escape" },
	{ "\"\\u12G4\"", "invalid escape" },
	{ "\"\\U0041\"", "invalid escape" },
	{ "\"\\'\"", "invalid escape" },
	{ "\"\\", "invalid escape in string at offset 1" },
	{ "\"\\u004", "invalid escape" },
	{ "\"abc", "unterminated string at offset 0" },
	{ "\"a\x01\"", "control character in string at offset 2" },
	{ "\"\t\"", "control character" },
	{ "\"\n\"", "control character" },
	{ "\"\x1f\"", "control character" },
	{ "\"\xc0\x80\"", "invalid UTF-8 in string at offset 1" },
	{ "\"\xc1\xbf\"", "invalid UTF-8" },
	{ "\"\xe0\x80\x80\"", "invalid UTF-8" },
	{ "\"\xe0\x9f\xbf\"", "invalid UTF-8" },
	{ "\"\xed\xa0\x80\"", "invalid UTF-8" },
	{ "\"\xed\xbf\xbf\"", "invalid UTF-8" },
	{ "\"\xf0\x80\x80\x80\"", "invalid UTF-8" },
	{ "\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8" },
	{ "\"\xf4\x90\x80\x80\"", "invalid UTF-8" },
	{ "\"\xf5\x80\x80\x80\"", "invalid UTF-8" },
	{ "\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8" },
	{ "\"\xff\"", "invalid UTF-8" },
	{ "\"\xfe\"", "invalid UTF-8" },
	{ "\"\x80\"", "invalid UTF-8" },
	{ "\"\xbf\"", "invalid UTF-8" },
	{ "\"\xc3\"", "invalid UTF-8" },
	{ "\"\xc3", "invalid UTF-8" },
	{ "\"\xe2\x82\"", "invalid UTF-8" },
	{ "\"\xf0\x9f\x98\"", "invalid UTF-8" },
	{ "\"\xf0\x9f\x98", "invalid UTF-8" },
	{ "\"a\xc3\xa9\xe9\"", "invalid UTF-8 in string at offset 4" },
	{ "\xc3\xa9", "unexpected byte 0xc3 at offset 0" },
	{ "\"\\ud800\"", "lone high surrogate escape at offset 1" },
	{ "\"\\ud800x\"", "lone high surrogate" },
	{ "\"\\ud800\\u0041\"", "lone high surrogate" },
	{ "\"\\ud800\\ud800\"", "lone high surrogate" },
	{ "\"\\udbff\"", "lone high surrogate" },
	{ "\"\\ud800\\", "lone high surrogate" },
	{ "\"\\ud800\\udc0\"", "lone high surrogate" },
	{ "\"\\udc00\"", "lone low surrogate escape at offset 1" },
	{ "\"x\\udfff\\ud800\"", "lone low surrogate escape at offset 2" },
	{ "01", "leading zero in number at offset 0" },
	{ "-01", "leading zero in number at offset 1" },
	{ "00", "leading zero" },
	{ "[0123]", "leading zero" },
	{ "-", "digit expected in number at offset 1" },
	{ "[-]", "digit expected in number" },
	{ "1.", "digit expected after '.' at offset 2" },
	{ "1.e5", "digit expected after '.'" },
	{ ".5", "unexpected '.' at offset 0" },
	{ "-.5", "digit expected in number" },
	{ "1e", "digit expected in exponent at offset 2" },
	{ "1e+", "digit expected in exponent" },
	{ "1E-", "digit expected in exponent" },
	{ "1ee5", "digit expected in exponent" },
	{ "+1", "unexpected '+'" },
	{ "--1", "digit expected" },
	{ "0x10", "unexpected 'x' at offset 1" },
	{ "1.5.", "unexpected '.' at offset 3" },
	{ "NaN", "unexpected 'N'" },
	{ "nan", "invalid literal" },
	{ "Infinity", "unexpected 'I'" },
	{ "-Infinity", "digit expected" },
	{ "[1e400, NaN]", "unexpected 'N'" },
	{ "tru", "invalid literal at offset 0" },
	{ "[nul]", "invalid literal at offset 1" },
	{ "True", "unexpected 'T'" },
	{ "nulll", "unexpected 'l' at offset 4" },
	{ "falsey", "unexpected 'y'" },
	{ "1 2", "unexpected '2' at offset 2" },
	{ "{}x", "unexpected 'x' at offset 2" },
	{ "[]]", "unexpected ']' at offset 2" },
	{ "{} {}", "unexpected '{' at offset 3" },
	{ "\"a\"\"b\"", "unexpected '\"' at offset 3" },
	{ "[", "unexpected end of input at offset 1" },
	{ "[1", "unexpected end of input at offset 2" },
	{ "[1,", "unexpected end of input at offset 3" },
	{ "{", "unexpected end of input" },
	{ "{\"a\"", "unexpected end of input" },
	{ "{\"a\":", "unexpected end of input" },
	{ "]", "unexpected ']'" },
	{ "}", "unexpected '}'" },
	{ "{\"a\"}", "unexpected '}' at offset 4" },
	{ "{\"a\":}", "unexpected '}'" },
	{ "{1:2}", "unexpected '1' at offset 1" },
	{ "{a:1}", "unexpected 'a'" },
	{ "{'a':1}", "unexpected '''" },
	{ "{\"a\" 1}", "unexpected '1'" },
	{ "{\"a\"::1}", "unexpected ':'" },
	{ "[1 2]", "unexpected '2'" },
	{ "{\"a\":1 \"b\":2}", "unexpected '\"'" },
	{ "[\"a\":1]", "unexpected ':'" },
	{ "{\"a\":1:2}", "unexpected ':'" },
	{ "[1}", "unexpected '}'" },
	{ "{\"a\":1]", "unexpected ']'" },
	{ ",", "unexpected ','" },
	{ "\f1", "unexpected byte 0x0c at offset 0" },
	{ "\v1", "unexpected byte 0x0b" },
	{ "\xc2\xa0" "1", "unexpected byte 0xc2" },
	{ "\xef\xbb\xbf" "1", "unexpected byte 0xef" },
};

static void
test_invalid(void)
{
	size_t i;
	const char *t;

	for (i = 0; i < sizeof(invalid_docs) / sizeof(invalid_docs[0]); i++) {
		t = invalid_docs[i].text;
		if (!CHECKM(parse(t) == -1, show(t, strlen(t))))
			continue;
		if (!CHECKM(strstr(err, invalid_docs[i].why) != NULL, err))
			printf("  input %s, wanted \"%s\"\n",
			    show(t, strlen(t)), invalid_docs[i].why);
		CHECK(strchr(err, '\n') == NULL);
		CHECK(doc.n == 0 && json_type(&doc, 0) == 0);
		CHECKM(ref_check(t, strlen(t)) == -1, show(t, strlen(t)));
	}
	/* Embedded NULs, given explicit lengths. */
	CHECK(parse_len("[1,\0 2]", 7, NODES) == -1 &&
	    strstr(err, "unexpected byte 0x00 at offset 3"));
	CHECK(parse_len("\"a\0b\"", 5, NODES) == -1 &&
	    strstr(err, "control character in string at offset 2"));
	CHECK(parse_len("null\0", 5, NODES) == -1 &&
	    strstr(err, "byte 0x00 at offset 4"));
	CHECK(parse_len("", 0, NODES) == -1);
	/* err may be absent. */
	CHECK(json_parse(&doc, "[", 1, nodes, NODES, NULL, 0) == -1);
	CHECK(json_parse(&doc, "[", 1, nodes, NODES, err, 8) == -1 &&
	    strlen(err) == 7);
}

static void
test_limits(void)
{
	char deep[2 * (JSON_MAX_DEPTH + 2) * 6 + 16], *big;
	size_t o, i;

	/* Arrays nested exactly JSON_MAX_DEPTH deep, then one more. */
	for (o = 0; o < JSON_MAX_DEPTH; o++)
		deep[o] = '[';
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		deep[o++] = ']';
	CHECK(parse_len(deep, o, NODES) == 0 && doc.n == JSON_MAX_DEPTH);
	CHECK(tree_check(&doc));
	CHECK(doc.nodes[JSON_MAX_DEPTH - 1].count == 0 &&
	    doc.nodes[0].len == o);
	memmove(deep + 1, deep, o);
	deep[o + 1] = ']';
	CHECK(parse_len(deep, o + 2, NODES) == -1 &&
	    strcmp(err, "too deep at offset 32") == 0);

	/* Objects: {"a":{"a":...1...}} */
	o = 0;
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		o += sprintf(deep + o, "{\"a\":");
	deep[o++] = '1';
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		deep[o++] = '}';
	CHECK(parse_len(deep, o, NODES) == 0 && tree_check(&doc));
	{
		char path[JSON_MAX_DEPTH * 2];
		int64_t v = 0;

		for (i = 0; i < JSON_MAX_DEPTH; i++)
			memcpy(path + 2 * i, "a.", 2);
		path[2 * JSON_MAX_DEPTH - 1] = '\0';
		CHECK(json_path_int(&doc, 0, path, &v) == 0 && v == 1);
	}
	memmove(deep + 5, deep, o);
	memcpy(deep, "{\"a\":", 5);
	deep[o + 5] = '}';
	CHECK(parse_len(deep, o + 6, NODES) == -1 &&
	    strstr(err, "too deep at offset 160"));

	/* Node capacity. */
	CHECK(parse_len("[1,2,3]", 7, 4) == 0 && doc.n == 4);
	CHECK(parse_len("[1,2,3]", 7, 3) == -1 &&
	    strcmp(err, "too many values at offset 5") == 0);
	CHECK(parse_len("{\"a\":1}", 7, 2) == -1 &&
	    strstr(err, "too many values at offset 5"));
	CHECK(parse_len("{\"a\":1}", 7, 1) == -1 &&
	    strstr(err, "too many values at offset 2"));
	CHECK(parse_len("1", 1, 0) == -1 && strstr(err, "too many values"));
	CHECK(parse_len("[]", 2, 1) == 0 && doc.n == 1);
	/* The first problem in text order is the one reported. */
	CHECK(parse_len("[1,2,x]", 7, 2) == -1 && strstr(err, "too many"));

	/* Text size: the length is refused before any byte is read. */
	CHECK(parse_len("1", (size_t)JSON_MAX_TEXT + 1, NODES) == -1 &&
	    strstr(err, "longer than"));
	big = malloc(JSON_MAX_TEXT);
	if (CHECK(big != NULL)) {
		memset(big, ' ', JSON_MAX_TEXT);
		big[JSON_MAX_TEXT - 1] = '7';
		CHECK(parse_len(big, JSON_MAX_TEXT, NODES) == 0 &&
		    doc.nodes[0].start == JSON_MAX_TEXT - 1);
		big[0] = '"';
		big[JSON_MAX_TEXT - 1] = '"';
		CHECK(parse_len(big, JSON_MAX_TEXT, NODES) == 0 &&
		    doc.nodes[0].len == JSON_MAX_TEXT - 2);
		CHECK(json_streq(&doc, 0, "x") == 0);
		free(big);
	}
}

static void
test_structure(void)
{
	const char *t = "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}";
	int v;

	CHECK(parse(t) == 0 && doc.n == 10);
	CHECK(doc.text == t && doc.textlen == strlen(t));
	CHECK(json_type(&doc, 0) == JSON_OBJECT && nodes[0].count == 2);
	CHECK(nodes[0].start == 0 && nodes[0].len == strlen(t));
	CHECK(json_type(&doc, 1) == JSON_STRING && nodes[1].start == 2 &&
	    nodes[1].len == 1);
	CHECK(json_type(&doc, 2) == JSON_ARRAY && nodes[2].count == 3 &&
	    nodes[2].start == 5 && nodes[2].len == 16);
	CHECK(json_type(&doc, 3) == JSON_NUMBER && nodes[3].next == 4);
	CHECK(nodes[4].next == 5 && nodes[5].next == 0);
	CHECK(json_type(&doc, 5) == JSON_OBJECT && nodes[5].count == 1);
	CHECK(json_type(&doc, 6) == JSON_STRING && json_type(&doc, 7) ==
	    JSON_NULL && nodes[7].next == 0);
	CHECK(nodes[2].next == 8 && json_type(&doc, 8) == JSON_STRING);
	CHECK(json_type(&doc, 9) == JSON_STRING && nodes[9].next == 0 &&
	    nodes[9].start == 27 && nodes[9].len == 1);
	CHECK(json_first(&doc, 0) == 2 && json_next(&doc, 2) == 9 &&
	    json_next(&doc, 9) == -1);
	CHECK(json_first(&doc, 2) == 3 && json_next(&doc, 3) == 4 &&
	    json_next(&doc, 4) == 5 && json_next(&doc, 5) == -1);
	CHECK(json_key_of(&doc, 2) == 1 && json_key_of(&doc, 9) == 8 &&
	    json_key_of(&doc, 7) == 6);
	CHECK(json_key_of(&doc, 3) == -1 && json_key_of(&doc, 0) == -1 &&
	    json_key_of(&doc, 1) == -1 && json_key_of(&doc, 99) == -1);
	CHECK(json_first(&doc, 1) == -1 && json_first(&doc, 3) == -1 &&
	    json_next(&doc, 1) == -1 && json_next(&doc, 0) == -1);
	CHECK(json_get(&doc, 0, "a") == 2 && json_get(&doc, 0, "c") == 9);
	CHECK(json_get(&doc, 0, "b") == -1 && json_get(&doc, 2, "a") == -1);
	CHECK(json_path(&doc, 0, "a") == 2 && json_path(&doc, 5, "b") == 7);
	v = json_get(&doc, 0, "a");
	CHECK(json_type(&doc, json_first(&doc, v)) == JSON_NUMBER);

	/* A string value followed by a sibling is not mistaken for a key. */
	CHECK(parse("[\"a\",\"b\",{\"k\":\"v\",\"l\":[\"w\"]}]") == 0);
	CHECK(json_key_of(&doc, 2) == -1 && json_next(&doc, 1) == 2 &&
	    json_next(&doc, 2) == 3 && json_first(&doc, 3) == 5);
	CHECK(json_next(&doc, 5) == 7 && json_key_of(&doc, 7) == 6 &&
	    json_key_of(&doc, 8) == -1 && json_next(&doc, 7) == -1);
	CHECK(json_first(&doc, 7) == 8 && json_next(&doc, 8) == -1);

	/* An empty object and array. */
	CHECK(parse("{\"e\":{},\"f\":[]}") == 0 && json_first(&doc, 2) == -1 &&
	    json_first(&doc, 4) == -1 && json_get(&doc, 2, "x") == -1);
	CHECK(json_next(&doc, 2) == 4);
}

static int
str_is(int n, const char *want, size_t wantlen)
{
	char out[64];

	return json_string(&doc, n, out, sizeof(out)) == (int)wantlen &&
	    memcmp(out, want, wantlen + 1) == 0;
}

static void
test_strings(void)
{
	char out[16];

	CHECK(parse("\"\\u00e9\"") == 0 && str_is(0, "\xc3\xa9", 2));
	CHECK(parse("\"\\u20AC\"") == 0 && str_is(0, "\xe2\x82\xac", 3));
	CHECK(parse("\"\\ud83d\\ude00\"") == 0 &&
	    str_is(0, "\xf0\x9f\x98\x80", 4));
	CHECK(parse("\"\\udbff\\udfff\"") == 0 &&
	    str_is(0, "\xf4\x8f\xbf\xbf", 4));
	CHECK(parse("\"\\ud800\\udc00\"") == 0 &&
	    str_is(0, "\xf0\x90\x80\x80", 4));
	CHECK(parse("\"\\u0041\\u007f\\u0080\\u07ff\\u0800\\uffff\"") == 0 &&
	    str_is(0, "A\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 12));
	CHECK(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"") == 0 &&
	    str_is(0, "\"\\/\b\f\n\r\t", 8));
	CHECK(parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"") == 0 &&
	    str_is(0, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	CHECK(json_streq(&doc, 0, "caf\xc3\xa9 \xf0\x9f\x98\x80"));
	CHECK(parse("\"caf\\u00e9\"") == 0 &&
	    json_streq(&doc, 0, "caf\xc3\xa9"));
	CHECK(!json_streq(&doc, 0, "caf") && !json_streq(&doc, 0, "cafe") &&
	    !json_streq(&doc, 0, "caf\xc3\xa9!") && !json_streq(&doc, 0, ""));
	CHECK(!json_streq(&doc, 1, "") && !json_streq(&doc, -1, ""));

	/* Embedded NUL: returned with its length, never equal to a C string. */
	CHECK(parse("\"a\\u0000b\"") == 0 && str_is(0, "a\0b", 3));
	CHECK(!json_streq(&doc, 0, "a") && !json_streq(&doc, 0, "ab"));

	/* Output sizes: the NUL must fit too. */
	CHECK(parse("\"abcd\"") == 0);
	CHECK(json_string(&doc, 0, out, 5) == 4 && strcmp(out, "abcd") == 0);
	CHECK(json_string(&doc, 0, out, 4) == -1 && out[0] == '\0');
	CHECK(json_string(&doc, 0, out, 0) == -1);
	CHECK(json_string(&doc, 0, NULL, 0) == -1);
	CHECK(parse("\"\\u20ac\"") == 0);
	CHECK(json_string(&doc, 0, out, 4) == 3);
	CHECK(json_string(&doc, 0, out, 3) == -1);
	CHECK(parse("\"\"") == 0 && json_string(&doc, 0, out, 1) == 0 &&
	    out[0] == '\0' && json_streq(&doc, 0, ""));
	CHECK(json_string(&doc, 0, NULL, 0) == -1);
	CHECK(parse("1") == 0 && json_string(&doc, 0, out, sizeof(out)) == -1);
	CHECK(json_string(&doc, 1, out, sizeof(out)) == -1);
	CHECK(!json_streq(&doc, 0, "1"));
}

static void
test_numbers(void)
{
	static const struct {
		const char *text;
		int ok;
		int64_t v;
	} cases[] = {
		{ "0", 1, 0 }, { "-0", 1, 0 }, { "7", 1, 7 }, { "-7", 1, -7 },
		{ "1234567890", 1, 1234567890 },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN },
		{ "9223372036854775806", 1, INT64_MAX - 1 },
		{ "-9223372036854775807", 1, INT64_MIN + 1 },
		{ "9223372036854775808", 0, 0 },
		{ "-9223372036854775809", 0, 0 },
		{ "9223372036854775810", 0, 0 },
		{ "18446744073709551615", 0, 0 },
		{ "18446744073709551616", 0, 0 },
		{ "99999999999999999999999", 0, 0 },
		{ "1.0", 0, 0 }, { "1e2", 0, 0 }, { "1E2", 0, 0 },
		{ "-0.0", 0, 0 }, { "0e0", 0, 0 },
	};
	int64_t v;
	size_t i;
	int b;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 42;
		CHECKM(parse(cases[i].text) == 0, cases[i].text);
		if (cases[i].ok)
			CHECKM(json_int(&doc, 0, &v) == 0 && v == cases[i].v,
			    cases[i].text);
		else
			CHECKM(json_int(&doc, 0, &v) == -1 && v == 42,
			    cases[i].text);
	}
	CHECK(parse("\"1\"") == 0 && json_int(&doc, 0, &v) == -1);
	CHECK(parse("true") == 0 && json_int(&doc, 0, &v) == -1);
	CHECK(json_bool(&doc, 0, &b) == 0 && b == 1);
	CHECK(parse("false") == 0 && json_bool(&doc, 0, &b) == 0 && b == 0);
	CHECK(parse("null") == 0 && json_bool(&doc, 0, &b) == -1);
	CHECK(json_int(&doc, 5, &v) == -1 && json_bool(&doc, -1, &b) == -1);
	CHECK(parse("[-12.5e-1]") == 0 && nodes[1].start == 1 &&
	    nodes[1].len == 8);
}

static void
test_access(void)
{
	const char *t = "{\"return\":{\"ram\":{\"transferred\":12345,"
	    "\"total\":-1},\"status\":\"active\",\"flag\":true,"
	    "\"k\\u0065y\":\"v\\u00e9\",\"a.b\":1,\"\":{\"\":2},"
	    "\"arr\":[1,\"two\",null,false,1.5]}}";
	char out[16];
	int64_t v;
	int b, r, e, n;

	CHECK(parse(t) == 0 && tree_check(&doc));
	CHECK(json_path_int(&doc, 0, "return.ram.transferred", &v) == 0 &&
	    v == 12345);
	CHECK(json_path_int(&doc, 0, "return.ram.total", &v) == 0 && v == -1);
	CHECK(json_path(&doc, 0, "return.ram.missing") == -1);
	CHECK(json_path(&doc, 0, "return.status.x") == -1);
	CHECK(json_path(&doc, 0, "return.ram.transferred.x") == -1);
	CHECK(json_path(&doc, 0, "") == 0);
	CHECK(json_path(&doc, 0, "return.ram.") == -1);
	CHECK(json_path(&doc, 0, ".return") == -1);
	CHECK(json_path(&doc, 0, "return.a.b") == -1);
	CHECK(json_path_int(&doc, 0, "return..", &v) == 0 && v == 2);
	CHECK(json_path(&doc, -1, "return") == -1);
	CHECK(json_path(&doc, 9999, "") == -1);
	CHECK(json_path(&doc, 0, "retur") == -1 &&
	    json_path(&doc, 0, "returnx") == -1);
	CHECK(json_path_string(&doc, 0, "return.status", out, sizeof(out)) ==
	    6 && strcmp(out, "active") == 0);
	CHECK(json_path_string(&doc, 0, "return.status", out, 7) == 6);
	CHECK(json_path_string(&doc, 0, "return.status", out, 6) == -1);
	CHECK(json_path_string(&doc, 0, "return.nope", out, 6) == -1);
	CHECK(json_path_bool(&doc, 0, "return.flag", &b) == 0 && b == 1);
	CHECK(json_path_bool(&doc, 0, "return.status", &b) == -1);
	CHECK(json_path_int(&doc, 0, "return.status", &v) == -1);
	r = json_get(&doc, 0, "return");
	CHECK(json_type(&doc, r) == JSON_OBJECT);
	CHECK(json_get(&doc, r, "key") >= 0);
	CHECK(json_get(&doc, r, "k\\u0065y") == -1);
	CHECK(json_streq(&doc, json_get(&doc, r, "key"), "v\xc3\xa9"));
	CHECK(json_get(&doc, r, "ke") == -1 && json_get(&doc, r, "keyy") == -1);
	e = json_path(&doc, 0, "return.arr");
	CHECK(json_type(&doc, e) == JSON_ARRAY && nodes[e].count == 5);
	n = 0;
	for (r = json_first(&doc, e); r >= 0; r = json_next(&doc, r))
		n++;
	CHECK(n == 5);
	CHECK(json_type(&doc, -1) == 0 && json_type(&doc, (int)doc.n) == 0);
	CHECK(json_get(&doc, -5, "x") == -1 && json_get(&doc, e, "x") == -1);
	CHECK(json_first(&doc, -1) == -1 && json_next(&doc, -1) == -1 &&
	    json_key_of(&doc, -1) == -1);

	/* Duplicate names: the first wins. */
	CHECK(parse("{\"a\":1,\"a\":2}") == 0 &&
	    json_path_int(&doc, 0, "a", &v) == 0 && v == 1);

	/* A failed parse leaves an empty document. */
	CHECK(parse("[1,") == -1 && doc.n == 0 && json_type(&doc, 0) == 0 &&
	    json_path(&doc, 0, "") == -1);
}

/* ---- writer ---- */

static void
write_sample(struct jsonw *w)
{
	jsonw_obj_begin(w);
	jsonw_kstr(w, "execute", "migrate");
	jsonw_key(w, "arguments");
	jsonw_obj_begin(w);
	jsonw_kstr(w, "uri", "unix:/tmp/x\"y\\z");
	jsonw_kint(w, "n", -42);
	jsonw_kbool(w, "detach", 1);
	jsonw_key(w, "list");
	jsonw_arr_begin(w);
	jsonw_int(w, INT64_MIN);
	jsonw_uint(w, UINT64_MAX);
	jsonw_double(w, 0.25);
	jsonw_null(w);
	jsonw_bool(w, 0);
	jsonw_str(w, "\x01\n\xc3\xa9");
	jsonw_arr_begin(w);
	jsonw_arr_end(w);
	jsonw_obj_begin(w);
	jsonw_obj_end(w);
	jsonw_arr_end(w);
	jsonw_obj_end(w);
	jsonw_kint(w, "id", 7);
	jsonw_obj_end(w);
}

static const char sample_text[] = "{\"execute\":\"migrate\",\"arguments\":"
    "{\"uri\":\"unix:/tmp/x\\\"y\\\\z\",\"n\":-42,\"detach\":true,\"list\":"
    "[-9223372036854775808,18446744073709551615,0.25,null,false,"
    "\"\\u0001\\u000a\xc3\xa9\",[],{}]},\"id\":7}";

static int
w_result(void (*fn)(struct jsonw *), char *buf, size_t cap)
{
	struct jsonw w;

	jsonw_init(&w, buf, cap);
	fn(&w);
	return jsonw_finish(&w);
}

static void m_val_for_key(struct jsonw *w) { jsonw_obj_begin(w);
    jsonw_int(w, 1); jsonw_obj_end(w); }
static void m_key_in_arr(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_key(w, "a"); jsonw_int(w, 1); jsonw_arr_end(w); }
static void m_key_top(struct jsonw *w) { jsonw_key(w, "a"); jsonw_int(w, 1); }
static void m_mismatch(struct jsonw *w) { jsonw_obj_begin(w);
    jsonw_arr_end(w); }
static void m_mismatch2(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_obj_end(w); }
static void m_unclosed(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_int(w, 1); }
static void m_two_top(struct jsonw *w) { jsonw_int(w, 1); jsonw_int(w, 2); }
static void m_two_top2(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_arr_end(w); jsonw_arr_begin(w); jsonw_arr_end(w); }
static void m_key_end(struct jsonw *w) { jsonw_obj_begin(w);
    jsonw_key(w, "a"); jsonw_obj_end(w); }
static void m_key_key(struct jsonw *w) { jsonw_obj_begin(w);
    jsonw_key(w, "a"); jsonw_key(w, "b"); jsonw_int(w, 1);
    jsonw_obj_end(w); }
static void m_extra_end(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_arr_end(w); jsonw_arr_end(w); }
static void m_end_only(struct jsonw *w) { jsonw_obj_end(w); }
static void m_nothing(struct jsonw *w) { (void)w; }
static void m_null_str(struct jsonw *w) { jsonw_arr_begin(w);
    jsonw_str(w, NULL); jsonw_arr_end(w); }
static void m_null_key(struct jsonw *w) { jsonw_obj_begin(w);
    jsonw_kint(w, NULL, 1); jsonw_obj_end(w); }

static void
m_deep(struct jsonw *w, int levels)
{
	int i;

	for (i = 0; i < levels; i++)
		jsonw_arr_begin(w);
	for (i = 0; i < levels; i++)
		jsonw_arr_end(w);
}
static void m_deep_ok(struct jsonw *w) { m_deep(w, JSON_MAX_DEPTH); }
static void m_deep_bad(struct jsonw *w) { m_deep(w, JSON_MAX_DEPTH + 1); }

static void
m_many(struct jsonw *w)
{
	int i;

	jsonw_arr_begin(w);
	for (i = 0; i < 300; i++)
		jsonw_int(w, i);
	jsonw_obj_begin(w);
	for (i = 0; i < 300; i++)
		jsonw_kint(w, "k", i);
	jsonw_obj_end(w);
	jsonw_arr_end(w);
}

static void
test_writer(void)
{
	static void (*misuse[])(struct jsonw *) = {
		m_val_for_key, m_key_in_arr, m_key_top, m_mismatch,
		m_mismatch2, m_unclosed, m_two_top, m_two_top2, m_key_end,
		m_key_key, m_extra_end, m_end_only, m_nothing, m_null_str,
		m_null_key, m_deep_bad,
	};
	static char buf[8192];
	struct jsonw w;
	int64_t v;
	size_t i;
	int r, e;
	double x;

	r = w_result(write_sample, buf, sizeof(buf));
	CHECK(r == (int)strlen(sample_text) && strcmp(buf, sample_text) == 0);
	if (r < 0 || strcmp(buf, sample_text) != 0)
		printf("  got %s\n", show(buf, strlen(buf)));
	CHECK(parse(buf) == 0 && tree_check(&doc));
	CHECK(json_path_int(&doc, 0, "arguments.n", &v) == 0 && v == -42);
	CHECK(json_path_int(&doc, 0, "id", &v) == 0 && v == 7);
	CHECK(json_streq(&doc, json_path(&doc, 0, "arguments.uri"),
	    "unix:/tmp/x\"y\\z"));
	e = json_path(&doc, 0, "arguments.list");
	CHECK(json_int(&doc, json_first(&doc, e), &v) == 0 && v == INT64_MIN);
	CHECK(json_streq(&doc, e + 6, "\x01\n\xc3\xa9"));

	for (i = 0; i < sizeof(misuse) / sizeof(misuse[0]); i++) {
		memset(buf, 'x', 64);
		r = w_result(misuse[i], buf, sizeof(buf));
		CHECKM(r == -1 && buf[0] == '\0', show(buf, 16));
	}
	CHECK(w_result(m_deep_ok, buf, sizeof(buf)) == 2 * JSON_MAX_DEPTH);
	CHECK(parse(buf) == 0 && doc.n == JSON_MAX_DEPTH);
	CHECK(w_result(m_many, buf, sizeof(buf)) > 0);
	CHECK(parse(buf) == 0 && nodes[0].count == 301 &&
	    nodes[301].count == 300 && tree_check(&doc));
	CHECK(json_path_int(&doc, 301, "k", &v) == 0 && v == 0);

	/* Escaping, exactly. */
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_str(&w, "q\"b\\s/\x01\x1f\x7f\t\r\n\xf0\x9f\x98\x80");
	CHECK(jsonw_finish(&w) > 0 && strcmp(buf, "\"q\\\"b\\\\s/\\u0001"
	    "\\u001f\x7f\\u0009\\u000d\\u000a\xf0\x9f\x98\x80\"") == 0);
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_str(&w, "");
	CHECK(jsonw_finish(&w) == 2 && strcmp(buf, "\"\"") == 0);

	/* Scalars at the top, and doubles. */
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_int(&w, INT64_MAX);
	CHECK(jsonw_finish(&w) == 19 && strcmp(buf, "9223372036854775807") ==
	    0);
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_arr_begin(&w);
	jsonw_double(&w, 0.1);
	jsonw_double(&w, -0.0);
	jsonw_double(&w, 1e300);
	jsonw_double(&w, NAN);
	jsonw_double(&w, INFINITY);
	jsonw_double(&w, -INFINITY);
	jsonw_double(&w, 5e-324);
	jsonw_double(&w, 1.0 / 3);
	jsonw_double(&w, 1e15);
	jsonw_double(&w, 123456789.0);
	jsonw_arr_end(&w);
	CHECK(jsonw_finish(&w) > 0);
	CHECK(strncmp(buf, "[0.1,-0,1e+300,null,null,null,", 30) == 0);
	/*
	 * valgrind runs musl's long double arithmetic at double precision,
	 * so strtod itself is inexact there; exactness is only checked where
	 * the C library can read back what the compiler wrote.
	 */
	if (!exact_strtod)
		printf("strtod is inexact here (valgrind?): skipping exact "
		    "double round trips\n");
	else if (CHECK(parse(buf) == 0 && nodes[0].count == 10)) {
		CHECK(num_of(&doc, 7) == 5e-324 && num_of(&doc, 8) == 1.0 / 3 &&
		    num_of(&doc, 9) == 1e15 && num_of(&doc, 10) == 123456789.0);
		x = num_of(&doc, 2);
		CHECK(x == 0 && signbit(x));
	}

	/* Too little room: fails, and the buffer holds an empty string. */
	jsonw_init(&w, buf, 3);
	jsonw_str(&w, "ab");
	CHECK(jsonw_finish(&w) == -1 && buf[0] == '\0');
	jsonw_init(&w, buf, 5);
	jsonw_str(&w, "ab");
	CHECK(jsonw_finish(&w) == 4);
	jsonw_init(&w, NULL, 0);
	jsonw_null(&w);
	CHECK(jsonw_finish(&w) == -1);
}

/* Every buffer size from 0 up: clean failure and nothing past cap. */
static void
test_writer_overflow(void)
{
	static char buf[sizeof(sample_text) + 64];
	size_t cap, want = strlen(sample_text), i;
	int r, bad, guard_ok;

	bad = 0;
	for (cap = 0; cap <= want + 4; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		r = w_result(write_sample, buf, cap);
		guard_ok = 1;
		for (i = cap; i < sizeof(buf); i++)
			if ((unsigned char)buf[i] != 0xa5)
				guard_ok = 0;
		if (cap > want) {
			if (r != (int)want || strcmp(buf, sample_text) != 0)
				bad++;
		} else if (r != -1 || (cap > 0 && buf[0] != '\0')) {
			bad++;
		}
		if (!guard_ok)
			bad++;
	}
	CHECK(bad == 0);
}

/* ---- fuzz ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static const char *seeds[] = {
	"{\"return\":{\"status\":\"active\",\"ram\":{\"transferred\":123,"
	    "\"remaining\":0,\"total\":1073741824,\"mbps\":941.5}}}",
	"{\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":2,"
	    "\"major\":8}},\"capabilities\":[\"oob\"]}}",
	"{\"event\":\"STOP\",\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
	"{\"error\":{\"class\":\"GenericError\",\"desc\":\"x \\\"y\\\"\"}}",
	"[1,-0,0.5,-1.5e-10,1E+3,9223372036854775807,-9223372036854775808]",
	"[true,false,null,[],{},[[]],[{}],{\"\":\"\"}]",
	"\"\\u00e9\\ud83d\\ude00\\n\\t\\\\\\\"\\/\\b\\f\\r\"",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"",
	"{\"a\":{\"b\":{\"c\":{\"d\":[1,[2,[3,[4]]]]}}}}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	" { \"k\" : [ 1 , 2 ] , \"l\" : \"m\" } ",
	"0", "-1", "\"\"", "null", "1e5", "\"\\u0000\"",
	"{\"id\":-1,\"return\":[]}",
	"[\"\\ud800\\udc00\",\"\\uDBFF\\uDFFF\",\"\\u0041\"]",
	"{\"x\":123456789012345678901234567890,\"y\":1e400,\"z\":-1e-400}",
};

static const char interesting[] = "\"\\[]{},:0123456789-+.eEuntrfalsx \t\n"
    "dDcCbB\x80\xbf\xc2\xc3\xe0\xed\xef\xf0\xf4\xff\x01\x1f";

#define FUZZ_MAX 1024
#define POOL 64

static void
mutate(char *buf, size_t *len, const char *other, size_t olen)
{
	size_t pos, k, n;

	pos = *len ? rnd((uint32_t)*len + 1) : 0;
	switch (rnd(8)) {
	case 0:		/* replace with an interesting byte */
	case 1:
		if (*len == 0 || pos >= *len)
			break;
		buf[pos] = interesting[rnd(sizeof(interesting) - 1)];
		break;
	case 2:		/* replace with any byte */
		if (pos < *len)
			buf[pos] = (char)rnd(256);
		break;
	case 3:		/* insert */
		if (*len >= FUZZ_MAX)
			break;
		memmove(buf + pos + 1, buf + pos, *len - pos);
		buf[pos] = interesting[rnd(sizeof(interesting) - 1)];
		(*len)++;
		break;
	case 4:		/* delete a run */
		if (pos >= *len)
			break;
		n = 1 + rnd(4);
		if (n > *len - pos)
			n = *len - pos;
		memmove(buf + pos, buf + pos + n, *len - pos - n);
		*len -= n;
		break;
	case 5:		/* splice in a piece of another input */
		if (olen == 0)
			break;
		k = rnd((uint32_t)olen);
		n = 1 + rnd((uint32_t)(olen - k));
		if (*len + n > FUZZ_MAX)
			break;
		memmove(buf + pos + n, buf + pos, *len - pos);
		memcpy(buf + pos, other + k, n);
		*len += n;
		break;
	case 6:		/* truncate */
		*len = pos;
		break;
	case 7:		/* duplicate a run of itself */
		if (pos >= *len)
			break;
		n = 1 + rnd((uint32_t)(*len - pos));
		if (*len + n > FUZZ_MAX)
			break;
		memmove(buf + pos + n, buf + pos, *len - pos);
		(*len) += n;
		break;
	}
}

static void
test_fuzz(int iters)
{
	static char pool[POOL][FUZZ_MAX];
	static size_t poollen[POOL];
	static char buf[FUZZ_MAX + 1], out[16 * FUZZ_MAX + 64];
	static struct json_node fn[NODES], fn2[4 * NODES];
	static const size_t caps[] = { 1, 2, 3, 8, 64, NODES, NODES, NODES };
	struct json_doc d, d2;
	struct jsonw w;
	size_t nseeds = sizeof(seeds) / sizeof(seeds[0]), len, olen, cap, i;
	const char *other;
	long want;
	int it, m, r, accepted = 0, mismatch = 0, bad_tree = 0, bad_err = 0;
	int bad_trip = 0, trips = 0;

	for (i = 0; i < POOL; i++) {
		poollen[i] = strlen(seeds[i % nseeds]);
		memcpy(pool[i], seeds[i % nseeds], poollen[i]);
	}
	for (it = 0; it < iters; it++) {
		i = rnd(POOL);
		len = poollen[i];
		memcpy(buf, pool[i], len);
		other = seeds[rnd((uint32_t)nseeds)];
		olen = strlen(other);
		for (m = 1 + rnd(4); m > 0; m--)
			mutate(buf, &len, other, olen);
		cap = caps[rnd(sizeof(caps) / sizeof(caps[0]))];
		err[0] = '\0';
		r = json_parse(&d, buf, len, fn, cap, err, sizeof(err));
		want = ref_check(buf, len);
		if ((r == 0) != (want >= 0 && (size_t)want <= cap)) {
			if (mismatch++ < 5)
				printf("fuzz: parser %d, reference %ld, "
				    "cap %zu: %s (%s)\n", r, want, cap,
				    show(buf, len), err);
			continue;
		}
		if (r != 0) {
			if (err[0] == '\0' || (strstr(err, " at offset ") ==
			    NULL && strcmp(err, "empty input") != 0) ||
			    (want >= 0 && strstr(err, "too many") == NULL))
				bad_err++;
			continue;
		}
		accepted++;
		if (d.n != (size_t)want || !tree_check(&d)) {
			if (bad_tree++ < 5)
				printf("fuzz: bad tree for %s\n",
				    show(buf, len));
			continue;
		}
		rewrite_ok = 1;
		jsonw_init(&w, out, sizeof(out));
		rewrite(&d, 0, &w);
		r = jsonw_finish(&w);
		if (!rewrite_ok)
			continue;
		trips++;
		/*
		 * Keep some accepted inputs to mutate further, but not those
		 * that cannot round trip, or they crowd out the rest.
		 */
		if (rnd(4) == 0) {
			i = rnd(POOL);
			memcpy(pool[i], buf, len);
			poollen[i] = len;
		}
		if (r < 0 || json_parse(&d2, out, (size_t)r, fn2,
		    sizeof(fn2) / sizeof(fn2[0]), err, sizeof(err)) != 0 ||
		    !same_tree(&d, 0, &d2, 0)) {
			if (bad_trip++ < 5)
				printf("fuzz: round trip of %s gave %s (%s)\n",
				    show(buf, len), out, err);
		}
	}
	CHECK(mismatch == 0);
	CHECK(bad_tree == 0);
	CHECK(bad_err == 0);
	CHECK(bad_trip == 0);
	/* The loop must actually exercise both outcomes. */
	CHECK(accepted > iters / 20 && accepted < iters - iters / 20);
	CHECK(trips > iters / 10);
	printf("fuzz: %d inputs, %d accepted, %d round trips\n", iters,
	    accepted, trips);
}

int
main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 200000;

	exact_strtod = strtod("0.1", NULL) == 0.1;

	test_valid();
	test_invalid();
	test_limits();
	test_structure();
	test_strings();
	test_numbers();
	test_access();
	test_writer();
	test_writer_overflow();
	test_fuzz(iters);
	return check_done();
}
