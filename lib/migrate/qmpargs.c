#include "json/jsonw.h"
#include "migrate/qmpargs.h"

static const char *
qmpargs_done(struct jsonw *w, char *buf)
{
	return jsonw_finish(w) < 0 ? NULL : buf;
}

const char *
qmpargs_caps(char *buf, size_t len, const struct qmpargs_cap *caps, size_t n)
{
	struct jsonw w;
	size_t i;

	jsonw_init(&w, buf, len);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "capabilities");
	jsonw_arr_begin(&w);
	for (i = 0; i < n; i++) {
		jsonw_obj_begin(&w);
		jsonw_kstr(&w, "capability", caps[i].name);
		jsonw_kbool(&w, "state", caps[i].on);
		jsonw_obj_end(&w);
	}
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	return qmpargs_done(&w, buf);
}

void
qmpargs_socket(struct jsonw *w, const char *key, const struct endpoint *ep,
    int legacy)
{
	jsonw_key(w, key);
	jsonw_obj_begin(w);
	jsonw_kstr(w, "type", ep->kind == ENDPOINT_UNIX ? "unix" : "inet");
	/* nbd-server-start still takes the legacy form, with a "data" wrapper. */
	if (legacy) {
		jsonw_key(w, "data");
		jsonw_obj_begin(w);
	}
	if (ep->kind == ENDPOINT_UNIX) {
		jsonw_kstr(w, "path", ep->path);
	} else {
		jsonw_kstr(w, "host", ep->host);
		jsonw_kstr(w, "port", ep->port);
	}
	if (legacy)
		jsonw_obj_end(w);
	jsonw_obj_end(w);
}

void
qmpargs_fd(struct jsonw *w, const char *key, const char *name, int legacy)
{
	jsonw_key(w, key);
	jsonw_obj_begin(w);
	jsonw_kstr(w, "type", "fd");
	if (legacy) {
		jsonw_key(w, "data");
		jsonw_obj_begin(w);
	}
	jsonw_kstr(w, "str", name);
	if (legacy)
		jsonw_obj_end(w);
	jsonw_obj_end(w);
}

const char *
qmpargs_str(char *buf, size_t len, const char *k1, const char *v1)
{
	struct jsonw w;

	jsonw_init(&w, buf, len);
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, k1, v1);
	jsonw_obj_end(&w);
	return qmpargs_done(&w, buf);
}

const char *
qmpargs_str2(char *buf, size_t len, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
	struct jsonw w;

	jsonw_init(&w, buf, len);
	jsonw_obj_begin(&w);
	jsonw_kstr(&w, k1, v1);
	jsonw_kstr(&w, k2, v2);
	jsonw_obj_end(&w);
	return qmpargs_done(&w, buf);
}
