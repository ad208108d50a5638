#include <string.h>

#include "base/sig.h"

volatile sig_atomic_t sig_stop;
volatile sig_atomic_t sig_usr1;

static void
sig_on_stop(int sig)
{
	sig_stop = sig;
}

static void
sig_on_usr1(int sig)
{
	(void)sig;
	sig_usr1 = 1;
}

void
sig_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = sig_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
