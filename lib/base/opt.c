#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opt.h"
#include "base/sock.h"

/* --help's column for the help text; longer options put it on a line of
 * its own. */
#define OPT_HELP_COLUMN 28

void
opt_start(struct opt_parser *p, const struct opt *opts, int argc,
    char **argv)
{
	p->opts = opts;
	p->argc = argc;
	p->argv = argv;
	p->next = 1;
	p->cluster = NULL;
	p->operands = 0;
}

const struct opt *
opt_row(const struct opt *opts, int id)
{
	for (; opts->id != 0; opts++)
		if (opts->id == id)
			return opts;
	return NULL;
}

/* The row whose long name is exactly name[0..len-1]: never a prefix. */
static const struct opt *
opt_long(const struct opt *o, const char *name, size_t len)
{
	for (; o->id != 0; o++)
		if (o->name != NULL && strlen(o->name) == len &&
		    memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct opt *
opt_short(const struct opt *o, char letter)
{
	for (; o->id != 0; o++)
		if (o->letter != 0 && o->letter == letter)
			return o;
	return NULL;
}

/* A short option's letter, at the start of p->cluster. */
static int
opt_next_short(struct opt_parser *p, const char **val)
{
	const struct opt *o = opt_short(p->opts, p->cluster[0]);
	char letter = p->cluster[0];

	p->cluster++;
	if (o == NULL) {
		p->cluster = NULL;
		log_err("unknown option '-%c' (see --help)", letter);
		return OPT_ERROR;
	}
	if (o->value == NULL) {
		if (p->cluster[0] == '\0')
			p->cluster = NULL;
		*val = NULL;
		return o->id;
	}
	/* "-LVALUE", else the next word. */
	if (p->cluster[0] != '\0') {
		*val = p->cluster;
	} else if (p->next < p->argc) {
		*val = p->argv[p->next++];
	} else {
		p->cluster = NULL;
		log_err("-%c needs a value (see --help)", letter);
		return OPT_ERROR;
	}
	p->cluster = NULL;
	return o->id;
}

int
opt_next(struct opt_parser *p, const char **val)
{
	const struct opt *o;
	const char *word, *eq;
	size_t len;

	*val = NULL;
	if (p->cluster != NULL)
		return opt_next_short(p, val);
	if (p->next >= p->argc)
		return OPT_END;
	word = p->argv[p->next++];
	if (p->operands || word[0] != '-' || word[1] == '\0') {
		*val = word;
		return OPT_OPERAND;
	}
	if (word[1] != '-') {
		p->cluster = word + 1;
		return opt_next_short(p, val);
	}
	if (word[2] == '\0') {
		p->operands = 1;
		return opt_next(p, val);
	}
	eq = strchr(word + 2, '=');
	len = eq != NULL ? (size_t)(eq - (word + 2)) : strlen(word + 2);
	o = opt_long(p->opts, word + 2, len);
	if (o == NULL) {
		/* The name is what is unknown; "--=x" has none: all of it. */
		log_err("unknown option '%.*s' (see --help)",
		    len > 0 ? (int)len + 2 : (int)strlen(word), word);
		return OPT_ERROR;
	}
	if (o->value == NULL) {
		if (eq != NULL) {
			log_err("%s takes no value (see --help)", word);
			return OPT_ERROR;
		}
		return o->id;
	}
	if (eq != NULL) {
		*val = eq + 1;
	} else if (p->next < p->argc) {
		*val = p->argv[p->next++];
	} else {
		log_err("%s needs a value (see --help)", word);
		return OPT_ERROR;
	}
	return o->id;
}

void
opt_format(const struct opt *o, int with_value, char *buf, size_t len)
{
	char shortform[3] = { '-', o->letter, '\0' };

	if (!with_value)
		snprintf(buf, len, "%s%s", o->name ? "--" : shortform,
		    o->name ? o->name : "");
	else
		snprintf(buf, len, "%s%s%s%s%s%s", o->letter ? shortform : "",
		    o->letter && o->name ? ", " : "", o->name ? "--" : "",
		    o->name ? o->name : "", o->value ? " " : "",
		    o->value ? o->value : "");
}

void
opt_help(FILE *f, const struct opt *opts)
{
	char left[128];

	for (; opts->id != 0; opts++) {
		opt_format(opts, 1, left, sizeof(left));
		if (strlen(left) + 3 <= OPT_HELP_COLUMN)
			fprintf(f, "  %-*s%s\n", OPT_HELP_COLUMN - 2, left,
			    opts->help);
		else
			fprintf(f, "  %s\n%*s%s\n", left, OPT_HELP_COLUMN, "",
			    opts->help);
	}
}

int
opt_number(const char *opt, const char *val, int64_t min, int64_t max,
    int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(val, &end, 10);
	if (val[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		log_err("%s: '%s' is not a whole number from %lld to %lld", opt,
		    val, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
opt_endpoint(const char *opt, const char *val, unsigned allowed,
    struct endpoint *ep)
{
	char err[400];

	char cwd[4096];
	int n;

	if (endpoint_parse(val, allowed, ep, err, sizeof(err)) < 0) {
		log_err("%s: %s", opt, err);
		return -1;
	}
	/* QEMU resolves a relative path against its own directory, not ours. */
	if (ep->kind == ENDPOINT_UNIX && ep->path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			cwd[0] = '\0';
		n = snprintf(err, sizeof(err), "%s/%s", cwd, ep->path);
		if (cwd[0] == '\0' || n < 0 || (size_t)n >= sizeof(ep->path)) {
			log_err("%s: '%s': the absolute socket path is longer "
			    "than %zu bytes", opt, val, sizeof(ep->path) - 1);
			return -1;
		}
		memcpy(ep->path, err, (size_t)n + 1);
	}
	return 0;
}

int
opt_socket_context(const char *val)
{
	char err[400];

	if (val[0] == '\0') {
		log_err("--socket-context needs a context "
		    "(user:role:type:level)");
		return -1;
	}
	if (sock_set_context(val, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}
