#ifndef MIG_DEF_H
#define MIG_DEF_H
/*
 * A guest definition (mig-config(5)): how to start one guest, as lines of
 * text a person edits and sed rewrites.  Each line is blank, a comment
 * ('#' first), or KEY VALUE with KEY one of
 *     name NAME     the guest's name (once)
 *     qemu BINARY   the QEMU binary, a name found on PATH or absolute (once)
 *     arg VALUE     one argument, verbatim (as many as needed, in order)
 * The value is the rest of the line after the key and its blanks, taken
 * literally: no quoting, no escapes, so it cannot begin or end with a
 * blank or hold a newline.  The codec does no I/O; the text is kept byte
 * for byte, so what is stored is what is printed back.
 */
#include <stddef.h>

#define DEF_MAX (64u * 1024)	/* bytes in one definition */
#define DEF_ARGS_MAX 1024	/* arguments in one definition */
#define DEF_NAME_MAX 64		/* bytes in a guest's name */

struct def {
	char text[DEF_MAX + 1];	/* the definition as given, NUL-terminated */
	size_t len;
	char name[DEF_NAME_MAX + 1];
	const char *qemu;	/* into vals */
	int argc;
	const char *argv[DEF_ARGS_MAX];	/* into vals */
	char vals[DEF_MAX + 1];	/* the values, each NUL-terminated */
};

/*
 * Parse and check text[0..len) into d: the syntax, a safe name
 * (def_name_ok), one qemu line, and no argument mig manages itself
 * (-qmp, -qmp-pretty, -monitor, -incoming, -daemonize, -pidfile, with one
 * dash or two).  Returns 0, or -1 with one line in err ("line 7: '-qmp'
 * is mig's own: ...").  Whether the binary exists is not looked at here.
 */
int def_parse(struct def *d, const char *text, size_t len, char *err,
    size_t errlen);

/*
 * A guest name is a safe file name: 1 to DEF_NAME_MAX bytes of
 * [A-Za-z0-9._-], not beginning with '.' or '-'.  Returns 1 if name is
 * one, else 0 with the reason in err.
 */
int def_name_ok(const char *name, char *err, size_t errlen);

#endif
