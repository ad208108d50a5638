#ifndef MIG_JSONW_H
#define MIG_JSONW_H
/*
 * A JSON writer into a caller-supplied buffer.  Commas are placed by the
 * writer; strings are escaped (" and \\ with a backslash, control
 * characters as \u00XX); other bytes, UTF-8 included, are copied as they
 * are, so the caller must pass valid UTF-8.  Overflow or misuse (a value
 * where a key is due, unbalanced ends, too deep, a NULL string, a second
 * top-level value) sets a sticky error that jsonw_finish reports, so
 * callers check once at the end.  Nothing is ever written at or past
 * buf[cap]; one byte is kept for the NUL.
 */
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"

struct jsonw {
	char *buf;
	size_t cap;
	size_t len;
	int depth;
	int failed;
	uint8_t kind[JSON_MAX_DEPTH];	/* '{' or '[' per open level */
	uint8_t count[JSON_MAX_DEPTH];	/* nonzero once a value was written */
	uint8_t want_value;		/* a key was written, its value is due */
};

void jsonw_init(struct jsonw *w, char *buf, size_t cap);
void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
void jsonw_double(struct jsonw *w, double v);	/* finite only, else null */
void jsonw_bool(struct jsonw *w, int v);
void jsonw_null(struct jsonw *w);

/* Shorthands for one member: key then value. */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_kint(struct jsonw *w, const char *key, int64_t v);
void jsonw_kbool(struct jsonw *w, const char *key, int v);

/*
 * NUL-terminate and return the length, or -1 if anything overflowed, was
 * misused, a container is still open or nothing was written; buf is then
 * "" (if cap > 0) so a caller that ignores the -1 sends nothing.
 */
int jsonw_finish(struct jsonw *w);

#endif
