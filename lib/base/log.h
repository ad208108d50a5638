#ifndef MIG_LOG_H
#define MIG_LOG_H
#include <stddef.h>
/*
 * Diagnostics on stderr, one line each, prefixed by the program name:
 * "mig-send: error: destination export 'vd0' is missing".
 */

/* Set the program name used as prefix and whether log_info lines print. */
void log_init(const char *prog, int verbose);

/* An error the user must read; always printed. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A warning: something odd that did not stop the program. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress narration, printed only with --verbose. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Nonzero when --verbose was given. */
int log_verbose(void);

/*
 * Called before any log line is written, e.g. to erase a progress line that
 * is being redrawn with '\r' on the same terminal.  NULL to unset.
 */
void log_set_before_hook(void (*hook)(void));

/*
 * Copy the string in to out (len bytes, at least 1) with every control
 * character, DEL and backslash escaped (\n, \r, \t, \\, \xNN), so that a
 * foreign string prints as one inert line.  Truncates to fit; always
 * NUL-terminates.  Returns the length written.
 */
size_t log_printable(const char *in, char *out, size_t len);

/* write(2) all of buf to fd, retrying on EINTR: 0, or -1 on an error. */
int log_write_all(int fd, const char *buf, size_t len);

#endif
