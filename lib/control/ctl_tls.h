#ifndef MIG_CTL_TLS_H
#define MIG_CTL_TLS_H
/*
 * Mutual TLS for a tcp: control connection (lib/tls, as mig-tunnel's):
 * the handshake on the socket, then a small relay process between the
 * socket (TLS) and one end of a socketpair (plaintext), whose other end
 * the caller's ctl_conn uses.  So ctl_conn stays plain fd I/O, and the
 * relay ends when either side closes.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_config;

/*
 * Handshake on fd (as server or client) until deadline_ms, then start
 * the relay.  On success fd belongs to the relay (closed here) and the
 * plaintext fd is returned, with *relay its pid (reap it with
 * ctl_tls_end); -1 with one line in err (the peer's certificate refused,
 * no handshake in time, ...), fd left to the caller.
 */
int ctl_tls_wrap(int fd, const struct tls_config *cfg, int is_server,
    int64_t deadline_ms, pid_t *relay, char *err, size_t errlen);

/* The TLS files of a control connection, as the options gave them. */
struct ctl_tls_files {
	const char *cert, *key, *ca, *peer_name;
};

/*
 * Check the TLS options of the control connection given by option opt
 * ("--desturi", "--listen"; given says whether it was) and load them:
 * all three files or none, and a tcp: connection needs them or insecure.
 * Returns 0 with *cfg the loaded configuration (NULL without TLS), or -1
 * after one error line (bad input).
 */
int ctl_tls_options(const char *opt, int given, int tcp, int insecure,
    const struct ctl_tls_files *f, struct tls_config **cfg);

/* Close the plaintext fd and reap the relay (it ends on that close). */
void ctl_tls_end(int plain, pid_t relay);

#endif
