#ifndef MIG_JSON_H
#define MIG_JSON_H
/*
 * A strict JSON (RFC 8259) parser that allocates nothing: it indexes the
 * caller's text into the caller's node array.  Strings stay escaped in the
 * text until json_string() copies one out.  Depth, node count and text size
 * are bounded; anything else (trailing commas, comments, bad escapes,
 * invalid UTF-8, lone surrogates, leading zeros, garbage after the value)
 * is an error with a reason, never a crash.
 */
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32		/* arrays/objects open at once */
#define JSON_MAX_TEXT (16u << 20)

enum json_type {
	JSON_NULL = 1,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/*
 * One value.  Nodes are stored in document order; an object's members are
 * stored as key (a JSON_STRING node) followed by its value.  'next' is the
 * index of the following sibling (the next element, or the next key for
 * an object value), 0 for the last.  A key node has next 0 and count 1;
 * that count is what tells a key from a string value.  A container's
 * start/len span its brackets.
 */
struct json_node {
	uint8_t type;
	uint32_t start;		/* offset in text; strings: after the quote */
	uint32_t len;		/* bytes in text; strings: without quotes */
	uint32_t count;		/* arrays: elements; objects: members */
	uint32_t next;
};

struct json_doc {
	const char *text;
	size_t textlen;
	struct json_node *nodes;
	size_t cap;
	size_t n;		/* nodes used; node 0 is the root */
};

/*
 * Parse exactly one value from text[0..len) (surrounding whitespace
 * allowed) using nodes[0..cap).  Returns 0, or -1 with a reason in err
 * ("unexpected ',' at offset 17", "too deep at offset 40", "too many
 * values at offset 9") and doc->n = 0, so accessors then find nothing.
 * Duplicate member names are accepted.  err may be NULL if errlen is 0.
 * text must stay alive and unchanged while doc is used.
 */
int json_parse(struct json_doc *doc, const char *text, size_t len,
    struct json_node *nodes, size_t cap, char *err, size_t errlen);

/* Type of node n, or 0 if n is out of range (n < 0 included). */
int json_type(const struct json_doc *doc, int n);

/*
 * The value of member key in object obj, or -1 if obj is not an object or
 * has no such member.  Keys are compared after unescaping; of duplicate
 * members the first wins.
 */
int json_get(const struct json_doc *doc, int obj, const char *key);

/*
 * Follow a dotted path of member names from n: json_path(d, 0,
 * "return.ram.transferred").  -1 if any step is missing.  "" is n itself;
 * a name containing '.' cannot be reached this way (use json_get).
 */
int json_path(const struct json_doc *doc, int n, const char *path);

/* First element (arrays) or first member value (objects); -1 if empty. */
int json_first(const struct json_doc *doc, int n);

/*
 * The sibling after element n (or the value of the member after member
 * value n); -1 at the end or if n is a key.
 */
int json_next(const struct json_doc *doc, int n);

/* For a member value n in an object: its key node (n - 1); else -1. */
int json_key_of(const struct json_doc *doc, int n);

/*
 * Copy string node n, unescaped and NUL-terminated, into out.  Returns the
 * length, or -1 (out then "" if outlen > 0) if n is not a string or it
 * does not fit in outlen.  A \u0000 is copied and counted in the length.
 */
int json_string(const struct json_doc *doc, int n, char *out, size_t outlen);

/*
 * Nonzero if n is a string whose unescaped value equals s (so never if it
 * holds a \u0000).
 */
int json_streq(const struct json_doc *doc, int n, const char *s);

/*
 * Read an integer number (no fraction or exponent, so not 1.0 or 1e3) that
 * fits int64_t.  Returns 0, or -1 leaving *out alone; so do the others
 * below.
 */
int json_int(const struct json_doc *doc, int n, int64_t *out);

/* Read a true/false node into *out (1/0). */
int json_bool(const struct json_doc *doc, int n, int *out);

/* Convenience: json_int/json_string/json_bool of json_path(doc, n, path). */
int json_path_int(const struct json_doc *doc, int n, const char *path,
    int64_t *out);
int json_path_string(const struct json_doc *doc, int n, const char *path,
    char *out, size_t outlen);
int json_path_bool(const struct json_doc *doc, int n, const char *path,
    int *out);

#endif
