/*
 * splice-relay: the floor for scripts/bench-tunnel.sh's plain part, not a
 * tool.  One connection, one way, no framing, no poll: accept one on IN,
 * connect to OUT, splice(2) everything from one to the other through a
 * pipe with blocking calls, half-close, wait for the far end's EOF.  What
 * a pair of these costs per GiB is about the least any user-space relay
 * can cost on this machine (no copy through user memory, a syscall per
 * pipe-full), so the benchmark shows how far a target is from it.
 *
 *	splice-relay IN OUT	IN, OUT: a unix socket path (starts with /)
 *				or a TCP port on 127.0.0.1
 * Exit status: 0 done, 1 set-up failed, 2 a transfer failed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PIPE_SZ	(1 << 20)

/* A socket for addr (a path or a port), bound and listening, or connected. */
static int
relay_sock(const char *addr, int listening)
{
	struct sockaddr_un un;
	struct sockaddr_in in;
	struct sockaddr *sa;
	socklen_t len;
	int fd, one = 1;

	if (addr[0] == '/') {
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof(un.sun_path))
			return -1;
		strcpy(un.sun_path, addr);
		sa = (struct sockaddr *)&un;
		len = sizeof(un);
	} else {
		memset(&in, 0, sizeof(in));
		in.sin_family = AF_INET;
		in.sin_port = htons((uint16_t)atoi(addr));
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa = (struct sockaddr *)&in;
		len = sizeof(in);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (!listening)
		return connect(fd, sa, len) == 0 ? fd : -1;
	if (sa->sa_family == AF_INET)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, 1) < 0)
		return -1;
	return fd;
}

int
main(int argc, char **argv)
{
	int lfd, in, out, p[2];
	ssize_t n, m;
	char c;

	if (argc != 3) {
		fprintf(stderr, "usage: splice-relay IN OUT\n");
		return 1;
	}
	lfd = relay_sock(argv[1], 1);
	if (lfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		perror("splice-relay: listen");
		return 1;
	}
	(void)fcntl(p[0], F_SETPIPE_SZ, PIPE_SZ);
	in = accept(lfd, NULL, NULL);
	out = relay_sock(argv[2], 0);
	if (in < 0 || out < 0) {
		perror("splice-relay: accept or connect");
		return 1;
	}
	for (;;) {
		n = splice(in, NULL, p[1], NULL, PIPE_SZ, SPLICE_F_MOVE);
		if (n == 0)
			break;		/* the source is done */
		if (n < 0) {
			perror("splice-relay: splice in");
			return 2;
		}
		for (; n > 0; n -= m) {
			m = splice(p[0], NULL, out, NULL, (size_t)n,
			    SPLICE_F_MOVE);
			if (m <= 0) {
				perror("splice-relay: splice out");
				return 2;
			}
		}
	}
	shutdown(out, SHUT_WR);
	while (read(out, &c, 1) > 0)
		;			/* until the far end closes too */
	return 0;
}
