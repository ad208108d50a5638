#ifndef MIG_GUARD_H
#define MIG_GUARD_H
/*
 * A guard: a child process that outlives its migration tool when the tool
 * is killed without warning (SIGKILL, the OOM killer) and puts the tool's
 * QEMU right.  The tool marks each step it takes (one byte down a pipe);
 * when the pipe closes without guard_done, the child runs the rescue it
 * was given with the last mark.  The child holds no descriptor of the
 * tool's but the pipe and stderr, and ignores the stopping signals, so a
 * Ctrl-C meant for the tool (which handles it itself) leaves it waiting.
 */
#include <sys/types.h>

struct guard {
	int fd;			/* the pipe's write end, -1 when none */
	pid_t pid;
};

/* What the child runs when its tool died after marking 'mark'. */
typedef void (*guard_rescue_fn)(void *arg, int mark);

/*
 * Fork the guard.  It sees the caller's memory as it is now (arg points
 * into that copy).  Returns 0, or -1 (no guard: the caller goes on
 * without one, as before).
 */
int guard_start(struct guard *g, guard_rescue_fn rescue, void *arg);

/* Record the step the tool is about to take (a byte, not 0). */
void guard_mark(struct guard *g, int mark);

/* Nothing is left to rescue: the child exits; reap it. */
void guard_done(struct guard *g);

#endif
