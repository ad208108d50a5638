/*
 * Fuzz target for lib/json: the input is parsed; a failure must leave an
 * empty document and a one-line reason.  A document that parses must have
 * a consistent tree (counts, siblings, keys, first-wins lookup), need
 * exactly its node count, and survive a round trip: written with jsonw,
 * parsed again, it is the same tree, and writing that gives the same
 * bytes.  Strings holding \u0000 cannot be written (jsonw takes C
 * strings), so such documents skip the round trip.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/jsonw.h"

#define FUZZ_NODES 4096
#define FUZZ_MAX 65536		/* bytes of input looked at */

static struct json_node fuzz_nodes[FUZZ_NODES], fuzz_nodes2[FUZZ_NODES];
static char fuzz_sa[FUZZ_MAX + 1], fuzz_sb[FUZZ_MAX + 1];

#define json_fuzz_assert(c) do { if (!(c)) abort(); } while (0)

static void
json_fuzz_check_err(const char *err, size_t errlen)
{
	size_t i;

	json_fuzz_assert(memchr(err, '\0', errlen) != NULL && err[0] != '\0');
	for (i = 0; err[i] != '\0'; i++)
		json_fuzz_assert((unsigned char)err[i] >= 0x20);
}

/* The number's value as strtod reads its text. */
static double
json_fuzz_num(const struct json_doc *d, int n)
{
	static char tmp[FUZZ_MAX + 1];
	size_t len = d->nodes[n].len;

	memcpy(tmp, d->text + d->nodes[n].start, len);
	tmp[len] = '\0';
	return strtod(tmp, NULL);
}

/* String node n unescaped into out; its length, which has no NUL in it. */
static int
json_fuzz_str(const struct json_doc *d, int n, char *out, size_t outlen,
    int *has_nul)
{
	int r = json_string(d, n, out, outlen);

	/* Unescaping never makes a string longer than its text. */
	json_fuzz_assert(r >= 0 && (size_t)r <= d->nodes[n].len);
	if (strlen(out) != (size_t)r)
		*has_nul = 1;
	return r;
}

/*
 * Check the subtree at n: a container's count is what json_first and
 * json_next walk, members' keys are where json_key_of says, and json_get
 * and json_path find the first member of each name.
 */
static void
json_fuzz_walk(const struct json_doc *d, int n, int *has_nul)
{
	const struct json_node *nd = &d->nodes[n];
	char num[32];
	int64_t v;
	uint32_t seen = 0;
	int c, k, t = json_type(d, n), r;

	json_fuzz_assert(nd->start <= d->textlen &&
	    nd->len <= d->textlen - nd->start);
	if (t == JSON_STRING)
		json_fuzz_str(d, n, fuzz_sa, sizeof(fuzz_sa), has_nul);
	if (t == JSON_NUMBER && json_int(d, n, &v) == 0) {
		/* An integer reads back as its own text ("-0" aside). */
		snprintf(num, sizeof(num), "%lld", (long long)v);
		json_fuzz_assert((strlen(num) == nd->len &&
		    memcmp(num, d->text + nd->start, nd->len) == 0) ||
		    (v == 0 && nd->len == 2));
	}
	if (t != JSON_ARRAY && t != JSON_OBJECT) {
		json_fuzz_assert(json_first(d, n) == -1);
		return;
	}
	for (c = json_first(d, n); c >= 0; c = json_next(d, c)) {
		json_fuzz_assert(c > n && (size_t)c < d->n);
		seen++;
		k = json_key_of(d, c);
		json_fuzz_assert(t == JSON_OBJECT ? k == c - 1 : k == -1);
		if (t == JSON_OBJECT) {
			r = json_fuzz_str(d, k, fuzz_sb, sizeof(fuzz_sb),
			    has_nul);
			/* The first member of that name is found. */
			if ((size_t)r == strlen(fuzz_sb)) {
				r = json_get(d, n, fuzz_sb);
				json_fuzz_assert(r >= 0 && r <= c &&
				    json_streq(d, r - 1, fuzz_sb));
				if (strchr(fuzz_sb, '.') == NULL &&
				    fuzz_sb[0] != '\0')
					json_fuzz_assert(json_path(d, n,
					    fuzz_sb) == r);
			}
		}
		json_fuzz_walk(d, c, has_nul);
	}
	json_fuzz_assert(seen == nd->count);
}

/* The number text "-0", which json_int reads as 0. */
static int
json_fuzz_minus0(const struct json_doc *d, int n)
{
	return d->nodes[n].len == 2 && memcmp(d->text + d->nodes[n].start, "-0",
	    2) == 0;
}

static void
json_fuzz_write(const struct json_doc *d, int n, struct jsonw *w)
{
	int64_t v;
	double x;
	int c;

	switch (json_type(d, n)) {
	case JSON_NULL:
		jsonw_null(w);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		jsonw_bool(w, json_type(d, n) == JSON_TRUE);
		break;
	case JSON_STRING:
		json_string(d, n, fuzz_sa, sizeof(fuzz_sa));
		jsonw_str(w, fuzz_sa);
		break;
	case JSON_NUMBER:
		/* "-0" goes out as a double, or it would come back "0". */
		if (json_int(d, n, &v) == 0 && !json_fuzz_minus0(d, n)) {
			jsonw_int(w, v);
			break;
		}
		x = json_fuzz_num(d, n);
		jsonw_double(w, x);
		break;
	default:
		if (json_type(d, n) == JSON_ARRAY)
			jsonw_arr_begin(w);
		else
			jsonw_obj_begin(w);
		for (c = json_first(d, n); c >= 0; c = json_next(d, c)) {
			if (json_type(d, n) == JSON_OBJECT) {
				json_string(d, c - 1, fuzz_sa, sizeof(fuzz_sa));
				jsonw_key(w, fuzz_sa);
			}
			json_fuzz_write(d, c, w);
		}
		if (json_type(d, n) == JSON_ARRAY)
			jsonw_arr_end(w);
		else
			jsonw_obj_end(w);
	}
}

/*
 * Same tree, strings and values.  A number that is no int64 is written as
 * a double, so only its value is kept; too big for a double, it is null.
 */
static int
json_fuzz_same(const struct json_doc *a, int m, const struct json_doc *b,
    int n)
{
	int ta = json_type(a, m), tb = json_type(b, n), x, y, la, lb;
	int64_t va, vb;
	double xa;

	if (ta == JSON_NUMBER && json_int(a, m, &va) == 0 &&
	    !json_fuzz_minus0(a, m))
		return tb == JSON_NUMBER && json_int(b, n, &vb) == 0 &&
		    va == vb;
	if (ta == JSON_NUMBER) {
		xa = json_fuzz_num(a, m);
		if (!isfinite(xa))
			return tb == JSON_NULL;
		return tb == JSON_NUMBER && json_fuzz_num(b, n) == xa;
	}
	if (ta != tb)
		return 0;
	if (ta == JSON_STRING) {
		la = json_string(a, m, fuzz_sa, sizeof(fuzz_sa));
		lb = json_string(b, n, fuzz_sb, sizeof(fuzz_sb));
		return la == lb && memcmp(fuzz_sa, fuzz_sb, la) == 0;
	}
	if (ta != JSON_ARRAY && ta != JSON_OBJECT)
		return 1;
	if (a->nodes[m].count != b->nodes[n].count)
		return 0;
	for (x = json_first(a, m), y = json_first(b, n); x >= 0 && y >= 0;
	    x = json_next(a, x), y = json_next(b, y)) {
		if (ta == JSON_OBJECT && !json_fuzz_same(a, x - 1, b, y - 1))
			return 0;
		if (!json_fuzz_same(a, x, b, y))
			return 0;
	}
	return x < 0 && y < 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json_doc d, d2;
	struct jsonw w;
	char err[128], *out, *out2;
	size_t cap = 16 * size + 64;
	int has_nul = 0, len, len2;

	if (size > FUZZ_MAX)
		return 0;
	memset(err, 'x', sizeof(err));
	if (json_parse(&d, text, size, fuzz_nodes, FUZZ_NODES, err,
	    sizeof(err)) < 0) {
		json_fuzz_check_err(err, sizeof(err));
		json_fuzz_assert(d.n == 0 && json_type(&d, 0) == 0 &&
		    json_get(&d, 0, "") == -1 && json_first(&d, 0) == -1);
		return 0;
	}
	json_fuzz_assert(d.n > 0 && d.n <= FUZZ_NODES);
	json_fuzz_assert(json_type(&d, -1) == 0 && json_type(&d, d.n) == 0);
	json_fuzz_walk(&d, 0, &has_nul);

	/* Exactly d.n nodes are needed: one fewer is "too many values". */
	json_fuzz_assert(json_parse(&d2, text, size, fuzz_nodes2, d.n, err,
	    sizeof(err)) == 0 && d2.n == d.n);
	json_fuzz_assert(json_parse(&d2, text, size, fuzz_nodes2, d.n - 1, err,
	    sizeof(err)) < 0 && strstr(err, "too many values") != NULL);

	if (has_nul)
		return 0;
	out = malloc(cap);
	out2 = malloc(cap);
	json_fuzz_assert(out != NULL && out2 != NULL);
	jsonw_init(&w, out, cap);
	json_fuzz_write(&d, 0, &w);
	len = jsonw_finish(&w);
	json_fuzz_assert(len > 0);
	json_fuzz_assert(json_parse(&d2, out, (size_t)len, fuzz_nodes2,
	    FUZZ_NODES, err, sizeof(err)) == 0);
	json_fuzz_assert(json_fuzz_same(&d, 0, &d2, 0));
	/* Written again, the text is the same. */
	jsonw_init(&w, out2, cap);
	json_fuzz_write(&d2, 0, &w);
	len2 = jsonw_finish(&w);
	json_fuzz_assert(len2 == len && memcmp(out, out2, (size_t)len) == 0);
	/* A buffer one byte too small fails cleanly and holds "". */
	jsonw_init(&w, out2, (size_t)len);
	json_fuzz_write(&d2, 0, &w);
	json_fuzz_assert(jsonw_finish(&w) == -1 && out2[0] == '\0');
	free(out);
	free(out2);
	return 0;
}
