/*
 * A whole tunnel session (lib/tunnel/session.h) fed a hostile peer's bytes,
 * with no poll: mux_feed() takes each read.  Input:
 *   flags u8: bit 0 clear: a valid HELLO goes first (so mutations spend
 *     their time past it); bits 1-3: local channels open (-L connections,
 *     socketpairs; every other one already hung up at our end, so writes
 *     to it fail); bit 4: the -R target accepts and at once hangs up on
 *     every connection between reads (else not until the input ends)
 *   then reads: len u16 (big-endian), len bytes; a short last one as is.
 * Routes: "t" to a unix socket, "u" to one nobody listens on.  Whatever
 * comes, the session must not crash, leak or overflow (ASan, UBSan).
 * Run it with -close_fd_mask=2: the session logs every peer mistake.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "tunnel/frame.h"
#include "tunnel/session.h"

#define LOCALS_MAX	7

static struct mux_route routes[2];
static struct mux_config cfg;
static int target = -1, devnull = -1;
static char dir[] = "/tmp/mux-fuzz-XXXXXX";

static void
cleanup(void)
{
	unlink(routes[0].target.path);
	rmdir(dir);
}

static void
setup(void)
{
	struct sockaddr_un sun;

	log_init("mux_fuzz", 0);
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	strcpy(routes[0].name, "t");
	routes[0].target.kind = ENDPOINT_UNIX;
	snprintf(routes[0].target.path, sizeof(routes[0].target.path),
	    "%s/t", dir);
	strcpy(routes[1].name, "u");
	routes[1].target.kind = ENDPOINT_UNIX;
	snprintf(routes[1].target.path, sizeof(routes[1].target.path),
	    "%s/nobody", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, routes[0].target.path);
	target = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (target < 0 || bind(target, (struct sockaddr *)&sun,
	    sizeof(sun)) < 0 || listen(target, 4096) < 0)
		abort();
	/* Our output goes nowhere, and never blocks. */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		abort();
	cfg.routes = routes;
	cfg.nroutes = 2;
	cfg.keepalive_s = 15;
	cfg.peer = "the fuzzing peer";
}

/* The target hangs up on every connection the session made to it. */
static void
target_drain(void)
{
	int fd;

	while ((fd = accept(target, NULL, NULL)) >= 0)
		close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t hello[FRAME_HDR_LEN + FRAME_HELLO_LEN] = {
		FRAME_HELLO, 0, 0, 0, 0, 0, 0, FRAME_HELLO_LEN,
		'M', 'I', 'G', 'T', 'U', 'N', 'N', 'L',
		0, 1, 0, 1, 0, 0, 0x10, 0,
	};
	int kept[LOCALS_MAX], sp[2];
	unsigned flags, nlocal, i, nkept = 0;
	size_t len;
	struct mux *s;
	int alive = 1;

	if (target < 0)
		setup();
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	s = mux_new(&cfg, devnull, devnull);
	if (s == NULL)
		abort();
	nlocal = (flags >> 1) & 7;
	for (i = 0; i < nlocal; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			abort();
		if (i % 2 == 0)
			kept[nkept++] = sp[1];
		else
			close(sp[1]);
		if (mux_open(s, "loc", sp[0]) < 0)
			abort();
	}
	if (!(flags & 1))
		alive = mux_feed(s, hello, sizeof(hello));
	while (alive && size > 0) {
		if (size < 2) {
			len = size;
		} else {
			len = (size_t)data[0] << 8 | data[1];
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
		}
		alive = mux_feed(s, data, len);
		data += len;
		size -= len;
		if (flags & 0x10)
			target_drain();
	}
	mux_free(s);
	for (i = 0; i < nkept; i++)
		close(kept[i]);
	/* Leave the target's queue empty for the next input. */
	target_drain();
	return 0;
}
