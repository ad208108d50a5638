#ifndef MIG_OPT_H
#define MIG_OPT_H
/*
 * Command-line options from one table per program.  Each row is the only
 * description of an option: opt_next() parses by it, opt_help() prints
 * --help from it, and test/options.sh checks the man page's SYNOPSIS and
 * OPTIONS name the same options.  A row, with the id a program's switch
 * handles it under:
 *
 *	{ O_QMP, 0, "qmp", "unix:PATH", "the source QEMU's QMP socket" },
 *	{ O_VERBOSE, 'v', "verbose", NULL, "say what is done" },
 *
 * Long options are matched whole, never by prefix (a prefix that happens
 * to be unique today would change meaning when an option is added), and
 * take their value as "--name=VALUE" or "--name VALUE"; short ones as
 * "-L VALUE" or "-LVALUE", and flags cluster ("-vh").  Operands may come
 * between options; "--" ends the options, every word after it is an
 * operand.
 */
#include <stdint.h>
#include <stdio.h>

#include "base/endpoint.h"

struct opt {
	int id;			/* > 0: what opt_next() returns for it */
	char letter;		/* its short form ('v' for -v), or 0 */
	const char *name;	/* its long form without "--", or NULL */
	const char *value;	/* its value's name in --help, or NULL: a flag */
	const char *help;	/* one line for --help */
};
/* A table ends with a row whose id is 0: { 0 }. */

/* What opt_next() returns besides an option's id. */
#define OPT_END 0		/* every word has been read */
#define OPT_ERROR (-1)		/* bad option, one line logged: exit 2 */
#define OPT_OPERAND (-2)	/* a word that is not an option, in *val */

struct opt_parser {
	const struct opt *opts;
	int argc;
	char **argv;
	int next;		/* index of the next word of argv */
	const char *cluster;	/* the rest of "-vh" after -v, or NULL */
	int operands;		/* after "--": every word is an operand */
};

/* Start reading argv[1..argc-1] by the table opts (kept, not copied). */
void opt_start(struct opt_parser *p, const struct opt *opts, int argc,
    char **argv);

/*
 * The next option's id with its value in *val (NULL for a flag), or
 * OPT_OPERAND with the word in *val, or OPT_END.  OPT_ERROR after one
 * log_err() line naming the word: an unknown option, a value missing at
 * the end of argv, or "--flag=VALUE".  Never reads past argv[argc-1].
 */
int opt_next(struct opt_parser *p, const char **val);

/* The table's row for id, or NULL. */
const struct opt *opt_row(const struct opt *opts, int id);

/*
 * Write an option as --help and messages spell it ("--qmp unix:PATH",
 * "-v, --verbose"; with_value 0: "--qmp", "-v") into buf (len > 0).
 */
void opt_format(const struct opt *o, int with_value, char *buf, size_t len);

/* Print every row of the table as an indented "--name VALUE  help" line. */
void opt_help(FILE *f, const struct opt *opts);

/* A whole decimal number in [min, max]; 0, or -1 after log_err(). */
int opt_number(const char *opt, const char *val, int64_t min, int64_t max,
    int64_t *out);

/*
 * An endpoint of one of the allowed kinds (ENDPOINT_ALLOW mask), a
 * relative unix path made absolute; 0, or -1 after log_err().
 */
int opt_endpoint(const char *opt, const char *val, unsigned allowed,
    struct endpoint *ep);

/*
 * --socket-context: label the sockets this process creates from now on
 * (base/sock.h: sock_set_context); an empty context is refused.
 */
int opt_socket_context(const char *val);

#endif
