#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/jsonw.h"

void
jsonw_init(struct jsonw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (cap > 0)
		buf[0] = '\0';
}

/* The last byte of buf is never written here: it is kept for the NUL. */
static void
jsonw_put(struct jsonw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (n >= w->cap - w->len) {
		w->failed = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Check that a value may come next and write the comma it needs. */
static int
jsonw_pre(struct jsonw *w)
{
	int d = w->depth - 1;

	if (w->failed)
		return -1;
	if (d < 0) {
		/* Exactly one value at the top. */
		if (w->len > 0)
			w->failed = 1;
	} else if (w->kind[d] == '{') {
		if (!w->want_value)
			w->failed = 1;
		w->want_value = 0;
	} else {
		if (w->count[d])
			jsonw_put(w, ",", 1);
		w->count[d] = 1;
	}
	return w->failed ? -1 : 0;
}

static void
jsonw_quoted(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = "\\u00";
	size_t run;

	jsonw_put(w, "\"", 1);
	for (;;) {
		for (run = 0; (unsigned char)s[run] >= 0x20 && s[run] != '"' &&
		    s[run] != '\\'; run++)
			;
		jsonw_put(w, s, run);
		s += run;
		if (*s == '\0')
			break;
		if (*s == '"' || *s == '\\') {
			esc[1] = *s;
			jsonw_put(w, esc, 2);
			esc[1] = 'u';
		} else {
			esc[4] = hex[(unsigned char)*s >> 4];
			esc[5] = hex[*s & 0xf];
			jsonw_put(w, esc, 6);
		}
		s++;
	}
	jsonw_put(w, "\"", 1);
}

static void
jsonw_open(struct jsonw *w, char kind)
{
	if (jsonw_pre(w) < 0)
		return;
	if (w->depth == JSON_MAX_DEPTH) {
		w->failed = 1;
		return;
	}
	jsonw_put(w, &kind, 1);
	w->kind[w->depth] = kind;
	w->count[w->depth] = 0;
	w->depth++;
}

static void
jsonw_close(struct jsonw *w, char kind, char end)
{
	if (w->depth == 0 || w->kind[w->depth - 1] != kind || w->want_value)
		w->failed = 1;
	jsonw_put(w, &end, 1);
	if (!w->failed)
		w->depth--;
}

void
jsonw_obj_begin(struct jsonw *w)
{
	jsonw_open(w, '{');
}

void
jsonw_obj_end(struct jsonw *w)
{
	jsonw_close(w, '{', '}');
}

void
jsonw_arr_begin(struct jsonw *w)
{
	jsonw_open(w, '[');
}

void
jsonw_arr_end(struct jsonw *w)
{
	jsonw_close(w, '[', ']');
}

void
jsonw_key(struct jsonw *w, const char *key)
{
	int d = w->depth - 1;

	if (d < 0 || w->kind[d] != '{' || w->want_value || key == NULL) {
		w->failed = 1;
		return;
	}
	if (w->count[d])
		jsonw_put(w, ",", 1);
	w->count[d] = 1;
	jsonw_quoted(w, key);
	jsonw_put(w, ":", 1);
	w->want_value = 1;
}

void
jsonw_str(struct jsonw *w, const char *s)
{
	if (s == NULL)
		w->failed = 1;
	if (jsonw_pre(w) == 0)
		jsonw_quoted(w, s);
}

static void
jsonw_raw(struct jsonw *w, const char *s)
{
	if (jsonw_pre(w) == 0)
		jsonw_put(w, s, strlen(s));
}

void
jsonw_int(struct jsonw *w, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	jsonw_raw(w, b);
}

void
jsonw_uint(struct jsonw *w, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	jsonw_raw(w, b);
}

void
jsonw_double(struct jsonw *w, double v)
{
	char b[32];

	if (!isfinite(v)) {
		jsonw_raw(w, "null");
		return;
	}
	/* %.17g always reads back exactly; %.15g does so more prettily. */
	snprintf(b, sizeof(b), "%.15g", v);
	if (strtod(b, NULL) != v)
		snprintf(b, sizeof(b), "%.17g", v);
	jsonw_raw(w, b);
}

void
jsonw_bool(struct jsonw *w, int v)
{
	jsonw_raw(w, v ? "true" : "false");
}

void
jsonw_null(struct jsonw *w)
{
	jsonw_raw(w, "null");
}

void
jsonw_kstr(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key(w, key);
	jsonw_str(w, s);
}

void
jsonw_kint(struct jsonw *w, const char *key, int64_t v)
{
	jsonw_key(w, key);
	jsonw_int(w, v);
}

void
jsonw_kbool(struct jsonw *w, const char *key, int v)
{
	jsonw_key(w, key);
	jsonw_bool(w, v);
}

/* On failure the buffer is left empty so a careless caller sends nothing. */
int
jsonw_finish(struct jsonw *w)
{
	if (w->depth != 0 || w->len == 0 || w->len > INT_MAX)
		w->failed = 1;
	if (w->cap > 0)
		w->buf[w->failed ? 0 : w->len] = '\0';
	return w->failed ? -1 : (int)w->len;
}
