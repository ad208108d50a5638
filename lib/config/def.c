#include <stdio.h>
#include <string.h>

#include "config/def.h"

/* Options QEMU must not get from a definition: mig adds its own QMP
 * sockets and -incoming, and keeps QEMU in the foreground of the process
 * it starts, whose pid file it writes itself. */
static const char *const def_managed[] = {
	"qmp", "qmp-pretty", "monitor", "incoming", "daemonize", "pidfile",
};

int
def_name_ok(const char *name, char *err, size_t errlen)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > DEF_NAME_MAX) {
		snprintf(err, errlen, "a guest name has 1 to %u bytes",
		    DEF_NAME_MAX);
		return 0;
	}
	if (name[0] == '.' || name[0] == '-') {
		snprintf(err, errlen, "guest name '%s' begins with '%c'", name,
		    name[0]);
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
			snprintf(err, errlen, "guest name '%.*s': only letters, "
			    "digits, '.', '_' and '-' are allowed", DEF_NAME_MAX,
			    name);
			return 0;
		}
	}
	return 1;
}

static int
def_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The option an argument is ("-qmp" and "--qmp" alike), if managed. */
static const char *
def_managed_arg(const char *a)
{
	size_t i;

	if (a[0] != '-')
		return NULL;
	a += a[1] == '-' ? 2 : 1;
	for (i = 0; i < sizeof(def_managed) / sizeof(def_managed[0]); i++)
		if (strcmp(a, def_managed[i]) == 0)
			return def_managed[i];
	return NULL;
}

int
def_parse(struct def *d, const char *text, size_t len, char *err,
    size_t errlen)
{
	size_t pos = 0, out = 0, lineno = 0, klen, vlen;
	const char *line, *end, *key, *val, *managed;
	char why[200];

	memset(d, 0, offsetof(struct def, argv));
	if (len > DEF_MAX) {
		snprintf(err, errlen, "longer than %u bytes", DEF_MAX);
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "holds a NUL byte: not a definition");
		return -1;
	}
	memcpy(d->text, text, len);
	d->text[len] = '\0';
	d->len = len;
	while (pos < len) {
		line = text + pos;
		end = memchr(line, '\n', len - pos);
		if (end == NULL)
			end = text + len;
		pos = (size_t)(end - text) + 1;
		lineno++;
		if (memchr(line, '\r', (size_t)(end - line)) != NULL) {
			snprintf(err, errlen, "line %zu: a carriage return "
			    "(save the file with Unix line ends)", lineno);
			return -1;
		}
		while (line < end && def_is_blank(*line))
			line++;
		if (line == end || *line == '#')
			continue;
		if (def_is_blank(end[-1])) {
			snprintf(err, errlen, "line %zu: trailing blank (values "
			    "are taken literally)", lineno);
			return -1;
		}
		key = line;
		while (line < end && !def_is_blank(*line))
			line++;
		klen = (size_t)(line - key);
		while (line < end && def_is_blank(*line))
			line++;
		val = line;
		vlen = (size_t)(end - val);
		/* Values are copied out one after another, NUL-terminated:
		 * they cannot take more room than the text itself. */
		memcpy(d->vals + out, val, vlen);
		d->vals[out + vlen] = '\0';
		val = d->vals + out;
		out += vlen + 1;
		if (klen == 4 && memcmp(key, "name", 4) == 0) {
			if (d->name[0] != '\0') {
				snprintf(err, errlen, "line %zu: a second name",
				    lineno);
				return -1;
			}
			if (!def_name_ok(val, why, sizeof(why))) {
				snprintf(err, errlen, "line %zu: %s", lineno, why);
				return -1;
			}
			memcpy(d->name, val, vlen + 1);
		} else if (klen == 4 && memcmp(key, "qemu", 4) == 0) {
			if (d->qemu != NULL) {
				snprintf(err, errlen, "line %zu: a second qemu",
				    lineno);
				return -1;
			}
			if (vlen == 0 || (strchr(val, '/') && val[0] != '/')) {
				snprintf(err, errlen, "line %zu: qemu needs an "
				    "absolute path or a name found on PATH",
				    lineno);
				return -1;
			}
			d->qemu = val;
		} else if (klen == 3 && memcmp(key, "arg", 3) == 0) {
			if ((managed = def_managed_arg(val)) != NULL) {
				snprintf(err, errlen, "line %zu: argument '%s' is "
				    "managed by mig (-%s): remove it", lineno,
				    val, managed);
				return -1;
			}
			if (d->argc == DEF_ARGS_MAX) {
				snprintf(err, errlen, "line %zu: more than %u "
				    "arguments", lineno, DEF_ARGS_MAX);
				return -1;
			}
			d->argv[d->argc++] = val;
		} else {
			snprintf(err, errlen, "line %zu: unknown key '%.*s' "
			    "(name, qemu or arg)", lineno,
			    klen > 40 ? 40 : (int)klen, key);
			return -1;
		}
	}
	if (d->name[0] == '\0' || d->qemu == NULL) {
		snprintf(err, errlen, "no %s line", d->name[0] ? "qemu" : "name");
		return -1;
	}
	return 0;
}
