/*
 * opt_next and opt_help: whole long names only, both value spellings,
 * short options and clusters, operands anywhere, "--", and one line for
 * every refusal, never a read past argv.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opt.h"
#include "check.h"

enum { O_ALL = 1, O_ALLX, O_URI, O_LOCAL, O_VERBOSE, O_HELP, O_NOLONG };

static const struct opt opts[] = {
	{ O_ALL, 0, "copy-storage-all", NULL, "copy the disks" },
	{ O_ALLX, 0, "copy-storage-all-and-longer", NULL, "a longer name" },
	{ O_URI, 0, "migrate-uri", "URI", "where to" },
	{ O_LOCAL, 'L', NULL, "unix:LOCAL=NAME", "listen" },
	{ O_VERBOSE, 'v', "verbose", NULL, "narrate" },
	{ O_HELP, 'h', "help", NULL, "print this" },
	{ O_NOLONG, 'x', NULL, NULL, "a short flag alone" },
	{ 0 },
};

/* What one run of the parser gave: ids and values, then the error text. */
static char got[1024], errs[1024];

/*
 * Parse words (a NULL-ended list, argv[0] first) and describe every
 * result in got as "id=value" words separated by spaces ("op=WORD" for
 * an operand, "ERR" for OPT_ERROR, after which parsing stops); whatever
 * went to stderr lands in errs.
 */
static void
run(char **argv)
{
	struct opt_parser p;
	const char *val;
	int argc = 0, id, fds[2], saved;
	size_t used = 0;
	ssize_t n;

	while (argv[argc] != NULL)
		argc++;
	got[0] = errs[0] = '\0';
	if (pipe(fds) < 0)
		return;
	saved = dup(2);
	dup2(fds[1], 2);
	opt_start(&p, opts, argc, argv);
	while ((id = opt_next(&p, &val)) != OPT_END && used < sizeof(got)) {
		if (id == OPT_ERROR) {
			used += (size_t)snprintf(got + used, sizeof(got) - used,
			    "%sERR", used ? " " : "");
			break;
		}
		if (id == OPT_OPERAND)
			used += (size_t)snprintf(got + used, sizeof(got) - used,
			    "%sop=%s", used ? " " : "", val);
		else
			used += (size_t)snprintf(got + used, sizeof(got) - used,
			    "%s%d=%s", used ? " " : "", id, val ? val : "-");
	}
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], errs, sizeof(errs) - 1);
	errs[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

/* Parsed words as want (see run), and stderr empty. */
static int
parsed(const char *want)
{
	if (strcmp(got, want) != 0 || errs[0] != '\0') {
		printf("  got '%s' (stderr '%s'), wanted '%s'\n", got, errs, want);
		return 0;
	}
	return 1;
}

/* Refused after what came before, with exactly this one line. */
static int
refused(const char *want, const char *line)
{
	char full[300];

	snprintf(full, sizeof(full), "t: error: %s\n", line);
	if (strcmp(got, want) != 0 || strcmp(errs, full) != 0) {
		printf("  got '%s' / '%s', wanted '%s' / '%s'\n", got, errs,
		    want, full);
		return 0;
	}
	return 1;
}

#define ARGV(...) ((char *[]){ "prog", __VA_ARGS__, NULL })

static void
test_long(void)
{
	run(ARGV("--copy-storage-all"));
	CHECK(parsed("1=-"));
	run(ARGV("--copy-storage-all-and-longer", "--copy-storage-all"));
	CHECK(parsed("2=- 1=-"));
	/* A unique prefix is not the option. */
	run(ARGV("--copy-storage-al"));
	CHECK(refused("ERR", "unknown option '--copy-storage-al' (see --help)"));
	run(ARGV("--verb"));
	CHECK(refused("ERR", "unknown option '--verb' (see --help)"));
	run(ARGV("--migrate"));
	CHECK(refused("ERR", "unknown option '--migrate' (see --help)"));
	/* Nor is a longer name, nor a different case. */
	run(ARGV("--verbosely"));
	CHECK(refused("ERR", "unknown option '--verbosely' (see --help)"));
	run(ARGV("--Verbose"));
	CHECK(refused("ERR", "unknown option '--Verbose' (see --help)"));
	/* The name before '=' is what is unknown. */
	run(ARGV("--nope=1"));
	CHECK(refused("ERR", "unknown option '--nope' (see --help)"));
	run(ARGV("--=x"));
	CHECK(refused("ERR", "unknown option '--=x' (see --help)"));
	run(ARGV("---"));
	CHECK(refused("ERR", "unknown option '---' (see --help)"));
	/* A short option's letter is no long name. */
	run(ARGV("--L", "x"));
	CHECK(refused("ERR", "unknown option '--L' (see --help)"));
}

static void
test_values(void)
{
	run(ARGV("--migrate-uri", "unix:/a"));
	CHECK(parsed("3=unix:/a"));
	run(ARGV("--migrate-uri=unix:/a"));
	CHECK(parsed("3=unix:/a"));
	/* "=" splits at the first one; the value may hold more, or be empty. */
	run(ARGV("--migrate-uri=a=b"));
	CHECK(parsed("3=a=b"));
	run(ARGV("--migrate-uri="));
	CHECK(parsed("3="));
	/* The next word is the value, whatever it looks like. */
	run(ARGV("--migrate-uri", "--verbose"));
	CHECK(parsed("3=--verbose"));
	run(ARGV("--migrate-uri", "-"));
	CHECK(parsed("3=-"));
	/* Missing at the end of argv: refused, nothing read past it. */
	run(ARGV("-v", "--migrate-uri"));
	CHECK(refused("5=- ERR", "--migrate-uri needs a value (see --help)"));
	run(ARGV("--verbose=yes"));
	CHECK(refused("ERR", "--verbose=yes takes no value (see --help)"));
	run(ARGV("--verbose="));
	CHECK(refused("ERR", "--verbose= takes no value (see --help)"));
}

static void
test_short(void)
{
	run(ARGV("-L", "unix:/a=x", "-Lunix:/b=y"));
	CHECK(parsed("4=unix:/a=x 4=unix:/b=y"));
	run(ARGV("-vh"));
	CHECK(parsed("5=- 6=-"));
	run(ARGV("-vx"));
	CHECK(parsed("5=- 7=-"));
	/* A letter that takes a value ends the cluster, with the rest or
	 * with the next word. */
	run(ARGV("-vLunix:/a=x", "-vL", "unix:/b=y"));
	CHECK(parsed("5=- 4=unix:/a=x 5=- 4=unix:/b=y"));
	run(ARGV("-L"));
	CHECK(refused("ERR", "-L needs a value (see --help)"));
	run(ARGV("-vL"));
	CHECK(refused("5=- ERR", "-L needs a value (see --help)"));
	run(ARGV("-Z"));
	CHECK(refused("ERR", "unknown option '-Z' (see --help)"));
	run(ARGV("-vZ"));
	CHECK(refused("5=- ERR", "unknown option '-Z' (see --help)"));
}

static void
test_operands(void)
{
	run(ARGV("list", "--verbose", "-", "x"));
	CHECK(parsed("op=list 5=- op=- op=x"));
	/* "--" ends the options; a second "--" is an operand. */
	run(ARGV("-v", "--", "--verbose", "-L", "--"));
	CHECK(parsed("5=- op=--verbose op=-L op=--"));
	run(ARGV("--"));
	CHECK(parsed(""));
	run(ARGV("--migrate-uri", "--", "-v"));
	CHECK(parsed("3=-- 5=-"));
	run((char *[]){ "prog", NULL });
	CHECK(parsed(""));
	/* The empty word is an operand too. */
	run(ARGV(""));
	CHECK(parsed("op="));
}

static void
test_help(void)
{
	char buf[2048];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	const struct opt *o;

	if (!CHECK(f != NULL))
		return;
	opt_help(f, opts);
	fclose(f);
	CHECK(strstr(buf, "  --copy-storage-all        copy the disks\n") != NULL);
	CHECK(strstr(buf, "  --migrate-uri URI         where to\n") != NULL);
	CHECK(strstr(buf, "  -v, --verbose             narrate\n") != NULL);
	CHECK(strstr(buf, "  -x                        a short flag alone\n") != NULL);
	/* Too long for the column: the help goes on its own line. */
	CHECK(strstr(buf, "  -L unix:LOCAL=NAME        listen\n") != NULL);
	CHECK(strstr(buf, "  --copy-storage-all-and-longer\n"
	    "                            a longer name\n") != NULL);
	o = opt_row(opts, O_VERBOSE);
	if (CHECK(o != NULL)) {
		opt_format(o, 0, buf, sizeof(buf));
		CHECK(strcmp(buf, "--verbose") == 0);
	}
	o = opt_row(opts, O_LOCAL);
	if (CHECK(o != NULL)) {
		opt_format(o, 0, buf, sizeof(buf));
		CHECK(strcmp(buf, "-L") == 0);
	}
	CHECK(opt_row(opts, 99) == NULL);
}

int
main(void)
{
	log_init("t", 0);
	test_long();
	test_values();
	test_short();
	test_operands();
	test_help();
	return check_done();
}
