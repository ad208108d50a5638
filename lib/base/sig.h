#ifndef MIG_SIG_H
#define MIG_SIG_H
/*
 * Signals as flags.  Handlers only set flags and are installed without
 * SA_RESTART, so a blocking poll returns EINTR and the loop looks at them.
 */
#include <signal.h>

extern volatile sig_atomic_t sig_stop;	/* SIGINT, SIGTERM or SIGHUP: the signal number */
extern volatile sig_atomic_t sig_usr1;	/* SIGUSR1 seen */

/* Install the handlers and ignore SIGPIPE (writes then fail with EPIPE). */
void sig_install(void);

#endif
