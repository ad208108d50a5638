#ifndef MIG_CTL_DEST_H
#define MIG_CTL_DEST_H
/*
 * mig-recv's side of the control connection (doc/control-protocol.md):
 * per migration, read the source's request, run the config directory's
 * migrate hook, launch the destination QEMU from the definition (or use
 * the one given with --qmp/--domain), create missing disks, run recv.c
 * with the recv_peer hooks, and undo what it made if Finish did not
 * succeed.  One session per process (its state is static).
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/endpoint.h"

struct ctl_dest_opts {
	const char *config_dir, *run_dir;	/* NULL: the defaults */
	const char *domain;		/* attach: --domain NAME, or NULL */
	struct endpoint qmp;		/* attach: --qmp, kind 0 if not */
	struct endpoint incoming, nbd;	/* defaults when the source names
					   none; kind 0: in the run dir */
	int paused;			/* --paused */
	int64_t timeout_s, idle_timeout_s;
	int64_t keepalive_ms;		/* 0: CTL_KEEPALIVE_MS */
	int verbose;
	FILE *json;
	const struct tls_config *tls;	/* --listen: mutual TLS, or NULL */
};

struct tls_config;

/*
 * Serve one migration on rfd/wfd.  Returns mig-recv's exit code (RECV_*);
 * with a QEMU launched here that now holds the guest, *pid is its pid and
 * qmp its QMP socket (else *pid is 0).
 */
int ctl_dest_session(const struct ctl_dest_opts *o, int rfd, int wfd,
    pid_t *pid, struct endpoint *qmp);

/*
 * --once's supervisor: wait for QEMU (pid, our child) to exit and return
 * its status as an exit code (128 + signal if killed).  A stopping signal
 * asks the guest to power down (QMP system_powerdown on qmp); a second
 * one quits QEMU.
 */
int ctl_dest_supervise(pid_t pid, const struct endpoint *qmp);

/*
 * --listen: accept sources on ep until a stopping signal, each session
 * in a process of its own (at most 16 at a time; more wait to be
 * accepted), and return 0 once those in progress, told to stop too,
 * have ended; or 2 if ep cannot be listened on.  With once, serve one
 * source here and then supervise its guest: the session's exit code, or
 * QEMU's (ctl_dest_supervise).
 */
int ctl_dest_listen(const struct ctl_dest_opts *o, const struct endpoint *ep,
    int once);

#endif
